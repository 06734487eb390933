/**
 * Seed 000 §5, "Complete Cluster Failure": all nodes unreachable, no P2P
 * status, training halted.
 *
 * 1. Verify the failure scope: SSH (`echo OK`) and `/status` on every node.
 *    If any node answers, this is not a complete failure: the workflow stops
 *    and names the scenario to run (mesh-collapse or leader-failure).
 * 2. Bring up the coordinator first: wait until it is reachable again, then
 *    (re)start its orchestrator (`python -m app.p2p.orchestrator &`).
 * 3. Reconnect the nodes as they come online: a long, bounded durable wait,
 *    "3/5 nodes back" in its title, until every node is alive in the mesh.
 * 4. `python scripts/sync_cluster_data.py --full`, then
 *    `python scripts/launch_daemons.py --all` on the coordinator.
 * 5. The seed's Recovery Checklist: mesh healthy (alive_peers), leader
 *    elected, selfplay running, models accessible; the items no API answers
 *    (cluster_monitor, training dry-run, data quality, incident document) are
 *    listed for humans in the report.
 * RTO: the seed's 2-8 hours.
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { ClusterOutageParams } from '../../catalog';
import type { P2pStatus, SshCheckResult } from '../../activities/types';
import { activities, fact, note, recoveryInput, runRecovery, step, waitFor, type RecoveryInput, type RecoveryResult } from '../kit';
import { TRAINING_CLUSTER_CLUSTER_OUTAGE } from '../scenarios';
import { NODES_ANSWER_THEMSELVES } from './versions';

export type ClusterOutageInput = RecoveryInput<Partial<ClusterOutageParams>>;

export async function trainingClusterClusterOutage(input: ClusterOutageInput): Promise<RecoveryResult> {
  return runRecovery(TRAINING_CLUSTER_CLUSTER_OUTAGE, input, clusterOutage);
}

/** Checklist items of seed 000 that no API of the cluster answers: a human runs them. */
const FOR_HUMANS = [
  'game data is aggregating: `python -m app.distributed.cluster_monitor`',
  'training pipeline works: `python -m app.training.train --dry-run`',
  'data quality: `python -m app.training.data_quality --all`',
  'document the incident in /docs/incidents/YYYY-MM-DD_description.md',
];

async function clusterOutage(): Promise<string> {
  const input = recoveryInput<Partial<ClusterOutageParams>>();
  const cluster = input.cluster.name;
  const all = input.cluster.nodes.map((n) => n.name);
  const { sshCheck, p2pStatus, p2pRestart, clusterFullSync, clusterLaunchDaemons, selfplayRunning, modelsAccessible } = activities();

  const coordinator = input.params.coordinator ?? input.cluster.nodes.find((n) => n.roles.includes('coordinator'))?.name;
  if (!coordinator || !all.includes(coordinator)) {
    throw ApplicationFailure.nonRetryable('no coordinator: give the inventory node the "coordinator" role or pass --set coordinator=NODE', 'InvalidArgument');
  }

  // Step 1: the failure scope.
  const scope = await step(
    'Verify the failure scope: SSH and P2P /status on every node',
    async () => {
      const [ssh, status] = await Promise.all([Promise.all(all.map((node) => sshCheck({ cluster, node }))), Promise.all(all.map((node) => p2pStatus({ cluster, node })))]);
      return { ssh, status };
    },
    { describe: ((r: { ssh: SshCheckResult[]; status: P2pStatus[] }) => all.map((n, i) => `${n}: ssh ${r.ssh[i]?.reachable ? 'OK' : 'unreachable'}, /status ${r.status[i]?.reachable ? 'answers' : 'none'}`).join('; ')) as never },
  );
  const sshUp = scope.ssh.filter((r) => r.reachable).map((r) => r.node);
  const statusUp = scope.status.filter((s) => s.reachable);
  if (sshUp.length > 0 || statusUp.length > 0) {
    const answering = [...new Set([...sshUp, ...statusUp.map((s) => s.node)])];
    const leader = statusUp.find((s) => s.leaderId)?.leaderId;
    const next =
      statusUp.length > 0 && !leader && statusUp.some((s) => (s.alivePeers?.length ?? 0) > 1)
        ? 'training-cluster.leader-failure (the mesh answers but has no leader)'
        : 'training-cluster.mesh-collapse (nodes answer, the mesh is down or partial)';
    fact('root cause', `not a complete cluster failure: ${answering.length}/${all.length} node(s) answer (${answering.join(', ')})`);
    throw ApplicationFailure.nonRetryable(
      `${answering.length} of ${all.length} nodes answer (${answering.join(', ')}${leader ? `; leader ${leader}` : ''}): this is not a complete cluster failure. Run ${next}`,
      'ScenarioMismatch',
    );
  }
  fact('root cause', `complete cluster failure: all ${all.length} nodes unreachable over SSH, no P2P status anywhere`);
  fact('impact', 'training completely halted: no coordination, no selfplay, no data collection');
  fact('for humans: provider status', 'check the cloud providers: https://status.vast.ai, https://status.lambdalabs.com, https://status.runpod.io');

  // Steps 2-3: the coordinator first.
  await step(
    `Wait until the coordinator ${coordinator} is reachable again`,
    () =>
      waitFor(
        `${coordinator} reachable over SSH`,
        async () => {
          const r = await sshCheck({ cluster, node: coordinator });
          return { done: r.reachable, detail: r.reachable ? `${coordinator} answers` : `${coordinator} still unreachable` };
        },
        { every: '30s', within: '2h', maxProbes: 240 },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );
  await step(`Bring up the coordinator first: start the P2P orchestrator on ${coordinator}`, () => p2pRestart({ cluster, node: coordinator }), { onFailure: 'ask' });

  // Step 4: the nodes auto-rejoin the mesh as they come online. A node counts as back once the coordinator sees it
  // alive AND it answers /status itself: a real coordinator just started can count a peer of its --peers list
  // alive before that host is even up (seen on RingRift 2aa9f89b5: the daemons were launched without it).
  const ownAnswer = patched(NODES_ANSWER_THEMSELVES);
  const back = await step(
    'Reconnect the nodes as they come online (they auto-rejoin the P2P mesh)',
    () =>
      waitFor(
        'nodes back in the mesh',
        async () => {
          const s = await p2pStatus({ cluster, node: coordinator });
          let alive = (s.alivePeers ?? []).filter((n) => all.includes(n));
          if (ownAnswer) {
            const own = await Promise.all(all.map((node) => (node === coordinator ? Promise.resolve(s) : p2pStatus({ cluster, node }))));
            const answering = own.filter((x) => x.reachable).map((x) => x.node);
            const unsure = alive.filter((n) => !answering.includes(n));
            alive = alive.filter((n) => answering.includes(n));
            return { done: alive.length === all.length, detail: `${alive.length}/${all.length} nodes back${unsure.length ? ` (${unsure.join(', ')} alive in ${coordinator}'s view but not answering itself)` : ''}`, value: alive };
          }
          return { done: alive.length === all.length, detail: `${alive.length}/${all.length} nodes back`, value: alive };
        },
        { every: '1m', within: '6h', maxProbes: 400 },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );
  const rejoined = back?.value ?? [];
  const missing = all.filter((n) => !rejoined.includes(n));
  if (missing.length) note(`proceeding without ${missing.join(', ')} (the operator skipped the wait)`);

  // Steps 5-6: full sync and daemons, from the coordinator.
  await step('Trigger the full cluster sync (python scripts/sync_cluster_data.py --full)', () => clusterFullSync({ cluster, node: coordinator }), { onFailure: 'ask' });
  await step('Restart all daemons (python scripts/launch_daemons.py --all)', () => clusterLaunchDaemons({ cluster, node: coordinator }), { onFailure: 'ask' });

  // The Recovery Checklist.
  const mesh = await step(
    'Checklist: P2P mesh healthy (alive_peers) and a leader elected',
    () =>
      waitFor(
        'mesh healthy with a leader',
        async () => {
          const s = await p2pStatus({ cluster, node: coordinator });
          const alive = (s.alivePeers ?? []).filter((n) => rejoined.includes(n));
          return { done: !!s.leaderId && alive.length === rejoined.length, detail: `leader ${s.leaderId ?? 'none'}, alive ${alive.length}/${all.length}` };
        },
        { every: '10s', within: '5m' },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );
  const selfplay = await step(
    'Checklist: selfplay running (ps aux | grep selfplay)',
    async () => {
      const r = await Promise.all(rejoined.map((node) => selfplayRunning({ cluster, node })));
      const idle = r.filter((x) => !x.running).map((x) => x.node);
      if (idle.length) throw ApplicationFailure.retryable(`selfplay not running on ${idle.join(', ')}`, 'CheckFailed');
      return `selfplay running on ${r.length}/${all.length} nodes`;
    },
    { onFailure: 'ask', describe: ((d: string) => d) as never },
  );
  const models = await step(
    'Checklist: models accessible (ls -la models/canonical_*.pth)',
    async () => {
      const r = await modelsAccessible({ cluster, node: coordinator });
      if (!r.models.length) throw ApplicationFailure.retryable(`no canonical_*.pth model on ${coordinator}${r.error ? `: ${r.error}` : ''}`, 'CheckFailed');
      return `${r.models.length} canonical model(s) on ${coordinator}: ${r.models.map((m) => m.name).join(', ')}`;
    },
    { onFailure: 'ask', describe: ((d: string) => d) as never },
  );
  fact('for humans: checklist', FOR_HUMANS.join('; '));
  for (const item of FOR_HUMANS) note(`for humans (not checked by Lifeboat): ${item}`);
  fact('resolution', `coordinator ${coordinator} first, ${rejoined.length}/${all.length} nodes rejoined, full sync, daemons relaunched; ${mesh?.detail ?? 'mesh check skipped'}`);
  return `Cluster back: ${back?.detail ?? `${rejoined.length}/${all.length} nodes back`}, ${mesh?.detail ?? 'mesh check skipped'}; ${selfplay ?? 'selfplay check skipped'}; ${models ?? 'models check skipped'}`;
}
