/**
 * Seed 000 §4, "Data Loss (Multi-Node)": several nodes report corrupted or
 * missing databases, the cluster-wide game count is far lower than expected.
 *
 * Diagnosis: the cluster-wide game counts per config and per host, each host
 * classed OK (> 1000 games), LOW (> 0) or EMPTY. Recovery, in the runbook's
 * priority order:
 * 1. protect the remaining data: stop writes (selfplay) on the nodes that
 *    still hold data, behind the dangerous gate `stop-writes`;
 * 2. aggregate the surviving data to the coordinator
 *    (`scripts/aggregate_cluster_data.py --target-host`), then back the
 *    aggregate up under a dated name (`cp -r data/games <backups>/games_YYYYMMDD`,
 *    the date from the workflow's clock);
 * 3. restart selfplay across the cluster (`launch_selfplay_cluster.py --all-nodes`),
 *    unreadable databases moved aside first;
 * 4. monitor the recovering count (durable polling, bounded) until every node writes again.
 * RTO 1 h target, 4 h max.
 *
 * Frozen v1 (before Lifeboat spoke RingRift 2aa9f89b5's real scripts): recoveries
 * recorded before `patched('training-cluster/real-p2p-api')` replay this code.
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { MultiNodeDataLossParams } from '../../../catalog';
import type { GamesDbStatus } from '../../../activities/training-cluster/types';
import { activities, approve, fact, fanOut, note, recoveryInput, runRecovery, skipped, step, waitFor, type RecoveryInput, type RecoveryResult } from '../../kit';
import { TRAINING_CLUSTER_MULTI_NODE_DATA_LOSS } from '../../scenarios';
import { fmt } from '../data-format';

export type MultiNodeDataLossInput = RecoveryInput<Partial<MultiNodeDataLossParams>>;

type Health = 'OK' | 'LOW' | 'EMPTY' | 'UNREACHABLE';

/** The seed's classification: OK above 1000 games, LOW above 0, else EMPTY (unreadable counts as EMPTY). */
function classify(s: GamesDbStatus): Health {
  if (!s.reachable) return 'UNREACHABLE';
  const total = s.integrity === 'ok' ? (s.count ?? 0) : 0;
  return total > 1000 ? 'OK' : total > 0 ? 'LOW' : 'EMPTY';
}

export async function legacyMultiNodeDataLoss(input: MultiNodeDataLossInput): Promise<RecoveryResult> {
  return runRecovery(TRAINING_CLUSTER_MULTI_NODE_DATA_LOSS, input, multiNodeDataLoss);
}

async function multiNodeDataLoss(): Promise<string> {
  const input = recoveryInput<Partial<MultiNodeDataLossParams>>();
  const cluster = input.cluster.name;
  const all = input.cluster.nodes.map((n) => n.name);
  const coordinator = input.params.coordinator ?? input.cluster.nodes.find((n) => n.roles.includes('coordinator'))?.name;
  if (!coordinator || !all.includes(coordinator)) {
    throw ApplicationFailure.nonRetryable('no coordinator: give the inventory node the "coordinator" role or pass --set coordinator=NODE', 'InvalidArgument');
  }
  const { gamesDbStatus, selfplayStop, gamesAggregate, gamesBackupAggregate, gamesQuarantine, selfplayLaunchCluster } = activities();
  const countAll = () => Promise.all(all.map((node) => gamesDbStatus({ cluster, node })));
  const line = (s: GamesDbStatus) => `${s.node}: ${s.reachable ? fmt(s.integrity === 'ok' ? (s.count ?? 0) : 0) : '?'} (${classify(s)}${s.reachable && s.integrity !== 'ok' ? `, ${s.integrity}` : ''})`;

  // Diagnosis: cluster-wide totals per config, then which hosts have data and which lost it.
  const before = await step('Diagnose: cluster-wide game counts per config and per host (OK > 1000, LOW > 0, EMPTY)', countAll, {
    describe: ((s: GamesDbStatus[]) => `${s.map(line).join(', ')}; ${totalsText(s)}`) as never,
  });
  const lost = before.filter((s) => ['LOW', 'EMPTY'].includes(classify(s)));
  const survivors = before.filter((s) => s.reachable && s.integrity === 'ok' && (s.count ?? 0) > 0);
  const unreachable = before.filter((s) => !s.reachable).map((s) => s.node);
  if (lost.length === 0) {
    fact('root cause', `none found: ${before.map(line).join(', ')}`);
    return `No data loss found: ${before.map(line).join(', ')}. Nothing changed.`;
  }
  if (lost.length === 1) {
    throw ApplicationFailure.nonRetryable(`only ${lost[0]!.node} lost data (${line(lost[0]!)}): run training-cluster.node-data-loss --set node=${lost[0]!.node}`, 'ScenarioMismatch');
  }
  const coord = before.find((s) => s.node === coordinator)!;
  if (!coord.reachable || (coord.exists && coord.integrity !== 'ok')) {
    const best = [...survivors].sort((a, b) => (b.count ?? 0) - (a.count ?? 0))[0]?.node;
    throw ApplicationFailure.nonRetryable(
      `the coordinator ${coordinator} cannot receive the aggregate (${line(coord)})${best ? `; choose a surviving node, e.g. --set coordinator=${best}` : ''}`,
      'InvalidArgument',
    );
  }
  if (survivors.length === 0) {
    throw ApplicationFailure.nonRetryable(`no node holds readable games (${before.map(line).join(', ')}): nothing survives to aggregate; restore from the NFS backups by hand`, 'NoSurvivingData');
  }
  fact('root cause', `data lost on ${lost.length} nodes: ${lost.map(line).join(', ')}`);
  fact('impact', `cluster-wide ${totalsText(before)}; surviving data on ${survivors.map((s) => s.node).join(', ')}${unreachable.length ? `; unreachable: ${unreachable.join(', ')}` : ''}`);

  // 1. Protect the remaining data.
  const writers = survivors.filter((s) => s.selfplayRunning).map((s) => s.node);
  const a = await approve('stop-writes', {
    skippable: true, // a skip after a timeout is handled below (approved: false)
    title: `Stop writes (selfplay) on the ${writers.length} node(s) that still hold data, so the aggregation reads a still copy; game generation pauses cluster-wide until the restart`,
    evidence: {
      'per host': before.map(line).join(', '),
      'writes stopped on': writers.join(', ') || 'none (no selfplay running on a surviving node)',
      'cluster total': totalsText(before),
    },
  });
  if (!a.approved) {
    note('stop-writes was not approved in time and the operator skipped it: nothing aggregated');
    fact('resolution', 'none: writes were not stopped, so the surviving data was neither aggregated nor backed up');
    return `Stopped before any change: writes on ${writers.join(', ')} were not stopped (gate skipped), so nothing was aggregated. Run the recovery again with an approver.`;
  }
  await fanOut(`Stop writes on the nodes that hold data (pkill -f scripts/selfplay.py)`, writers, (node) => selfplayStop({ cluster, node }), {
    concurrency: writers.length,
    onFailure: 'ask',
  });

  // 2. Aggregate the surviving data to the coordinator, then back it up under a dated name.
  const agg = await step(`Aggregate surviving data from the healthy nodes to ${coordinator} (aggregate_cluster_data.py --target-host ${coordinator})`, () => gamesAggregate({ cluster, node: coordinator }), {
    onFailure: 'ask',
    describe: ((r: { total?: number; output?: string }) => (r.total !== undefined ? `${fmt(r.total)} games on ${coordinator}` : (r.output ?? 'aggregated'))) as never,
  });
  const date = new Date(Date.now()).toISOString().slice(0, 10).replace(/-/g, '');
  const backup = await step(`Back up the aggregated data on ${coordinator} (cp -r data/games <backups>/games_${date})`, () => gamesBackupAggregate({ cluster, node: coordinator, date }), { onFailure: 'ask' });

  // 3. Restart selfplay across the cluster; databases that cannot be written are moved aside first.
  const unreadable = before.filter((s) => s.reachable && s.exists && s.integrity !== 'ok').map((s) => s.node);
  if (unreadable.length > 0) {
    const stamp = new Date(Date.now()).toISOString().replace(/[-:]/g, '').slice(0, 15);
    await fanOut('Move the unreadable databases aside (kept for the post-mortem)', unreadable, (node) => gamesQuarantine({ cluster, node, suffix: stamp }), { concurrency: unreadable.length, onFailure: 'ask' });
  }
  await step('Restart selfplay across the cluster (launch_selfplay_cluster.py --all-nodes)', () => selfplayLaunchCluster({ cluster, node: coordinator }), { onFailure: 'ask' });

  // 4. Monitor the recovering count: every reachable node writing games again.
  const reachable = before.filter((s) => s.reachable).map((s) => s.node);
  const start = await step('Count the games after the restart', countAll, { describe: ((s: GamesDbStatus[]) => totalsText(s)) as never });
  const baseline = new Map(start.map((s) => [s.node, s.integrity === 'ok' ? (s.count ?? 0) : 0]));
  const final = await step(
    'Monitor recovery progress: the cluster-wide game count grows on every node',
    () =>
      waitFor(
        'every node writes games again',
        async () => {
          const now = await countAll();
          const behind = now.filter((s) => reachable.includes(s.node) && !(s.integrity === 'ok' && s.selfplayRunning && (s.count ?? 0) > (baseline.get(s.node) ?? 0)));
          return { done: behind.length === 0, detail: `${totalsText(now)}${behind.length ? `; not writing yet: ${behind.map((s) => s.node).join(', ')}` : ''}`, value: now };
        },
        { every: '60s', within: input.params.monitorFor ?? '30m', maxProbes: 40 },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );
  const total = agg?.total !== undefined ? ` (${fmt(agg.total)} games)` : agg ? '' : ` (${skipped('aggregation')})`;
  const where = backup ? backup.path : `nowhere (${skipped('backup')})`;
  fact('resolution', `writes stopped on ${writers.join(', ') || 'no node'} (approved by ${a.by}); surviving data aggregated on ${coordinator}${total}, backed up to ${where}; selfplay restarted everywhere`);
  return `Surviving data aggregated on ${coordinator}${total} and backed up to ${where}; selfplay regenerating: ${final?.detail ?? skipped('monitoring')}.`;
}

/** "total 5,260 games (hex8_2p: 5,260)". */
function totalsText(statuses: GamesDbStatus[]): string {
  const byConfig: Record<string, number> = {};
  for (const s of statuses) {
    if (s.integrity !== 'ok') continue;
    for (const [k, v] of Object.entries(s.byConfig)) byConfig[k] = (byConfig[k] ?? 0) + v;
  }
  const total = Object.values(byConfig).reduce((a, b) => a + b, 0);
  const parts = Object.keys(byConfig)
    .sort()
    .map((k) => `${k}: ${fmt(byConfig[k]!)}`);
  return `total ${fmt(total)} games${parts.length ? ` (${parts.join(', ')})` : ''}`;
}
