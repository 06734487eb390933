/**
 * Seed 000 §3, "Data Loss (Single Node)", on the real RingRift code
 * (2aa9f89b5): a node shows far fewer games than expected, its database is
 * corrupted or missing.
 *
 * Diagnosis: on every node, `sqlite3 data/games/selfplay.db 'SELECT COUNT(*) FROM games'`,
 * `PRAGMA integrity_check` and `find data/games -name '*.db'`; the peers'
 * counts say what the affected node should hold. Recovery, safest first:
 * 1. re-sync from the cluster: the seed's `AutoSyncDaemon().sync_to_host(host)`
 *    does not exist at 2aa9f89b5 (the daemon has `sync_now()`, which syncs only
 *    inside the running daemon): Lifeboat gives the cluster's own auto-sync a
 *    bounded time (5 min) to refill the node, reading its count;
 * 2. restore the node's backup from the NFS backup directory, behind the
 *    dangerous gate `overwrite-db-from-backup` (evidence: counts, backup age);
 * 3. accept the loss: the training pipeline tolerates partial data loss.
 * Then selfplay is restarted on the node (`scripts/selfplay.py --board hex8
 * --num-players 2 --engine-mode gumbel-mcts`); verification: the count and
 * `PRAGMA integrity_check` on the node, selfplay running. An unreadable
 * database is moved aside first (kept for the post-mortem), never deleted.
 * RTO 30 min target, 60 min max.
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { NodeDataLossParams } from '../../catalog';
import type { GamesDbStatus } from '../../activities/training-cluster/types';
import { activities, approve, fact, note, recoveryInput, runRecovery, skipped, step, waitFor, type RecoveryInput, type RecoveryResult } from '../kit';
import { TRAINING_CLUSTER_NODE_DATA_LOSS } from '../scenarios';
import { ageText, describeDb, fmt, median } from './data-format';
import { legacyNodeDataLoss } from './legacy/node-data-loss';
import { REAL_P2P_API } from './versions';

export type NodeDataLossInput = RecoveryInput<Partial<NodeDataLossParams>>;

/** Below this share of the expected games, a node has lost data ("significantly fewer games"). */
const LOSS_RATIO = 0.5;

export async function trainingClusterNodeDataLoss(input: NodeDataLossInput): Promise<RecoveryResult> {
  if (!patched(REAL_P2P_API)) return legacyNodeDataLoss(input);
  return runRecovery(TRAINING_CLUSTER_NODE_DATA_LOSS, input, nodeDataLoss);
}

async function nodeDataLoss(): Promise<string> {
  const input = recoveryInput<Partial<NodeDataLossParams>>();
  const cluster = input.cluster.name;
  const all = input.cluster.nodes.map((n) => n.name);
  const coordinator = input.params.coordinator ?? input.cluster.nodes.find((n) => n.roles.includes('coordinator'))?.name ?? all[0]!;
  const { gamesDbStatus, gamesBackupInfo, gamesQuarantine, gamesRestoreBackup, selfplayStart } = activities();
  for (const n of [input.params.node, coordinator]) {
    if (n !== undefined && !all.includes(n)) throw ApplicationFailure.nonRetryable(`${n} is not a node of ${cluster} (nodes: ${all.join(', ')})`, 'InvalidArgument');
  }

  // Diagnosis: the runbook's three commands, on every node (the peers give the expected count).
  const statuses = await step(
    "Diagnose: game count, PRAGMA integrity_check and find data/games -name '*.db' on every node",
    () => Promise.all(all.map((node) => gamesDbStatus({ cluster, node }))),
    { describe: ((s: GamesDbStatus[]) => s.map(describeDb).join('; ')) as never },
  );
  const readable = (s: GamesDbStatus) => s.reachable && s.integrity === 'ok' && s.count !== undefined;
  const expectedFor = (node: string) => input.params.expectedGames ?? median(statuses.filter((s) => s.node !== node && readable(s)).map((s) => s.count!));
  const lost = (s: GamesDbStatus) => s.reachable && (!readable(s) || s.count! < expectedFor(s.node) * LOSS_RATIO);

  let affected = input.params.node;
  if (!affected) {
    const candidates = statuses.filter(lost).map((s) => s.node);
    if (candidates.length > 1) {
      throw ApplicationFailure.nonRetryable(
        `${candidates.length} nodes lost data (${candidates.join(', ')}): this is a multi-node data loss; run training-cluster.multi-node-data-loss`,
        'ScenarioMismatch',
      );
    }
    affected = candidates[0];
    if (!affected) {
      fact('root cause', 'none found: every node holds about as many games as its peers and its database is intact');
      return `No data loss found: ${statuses.map(describeDb).join('; ')}. Nothing changed.`;
    }
  }
  const target = affected;
  const before = statuses.find((s) => s.node === target)!;
  if (!before.reachable) {
    throw ApplicationFailure.nonRetryable(`${target} does not answer over SSH (${before.error ?? 'unreachable'}): bring the node back first (training-cluster.cluster-outage)`, 'NodeUnreachable');
  }
  const expected = expectedFor(target);
  const enough = (s: GamesDbStatus | undefined) => !!s && readable(s) && s.count! >= expected * LOSS_RATIO;
  if (!lost(before)) {
    fact('root cause', `none found: ${describeDb(before)}, peers suggest ~${fmt(expected)}`);
    return `No data loss on ${target}: ${describeDb(before)} (expected ~${fmt(expected)}). Nothing changed.`;
  }
  fact('root cause', `${target}: ${before.integrity !== 'ok' ? `database ${before.integrity}` : `${fmt(before.count ?? 0)} games where its peers suggest ~${fmt(expected)}`}`);
  fact('impact', `games lost from ${target} (expected ~${fmt(expected)})${before.selfplayRunning ? '' : '; selfplay stopped on the node'}`);

  // An unreadable database cannot be synced into or written to: keep it aside, never delete it.
  const stamp = new Date(Date.now()).toISOString().replace(/[-:]/g, '').slice(0, 15);
  if (before.exists && before.integrity !== 'ok') {
    await step(`Move the unreadable database on ${target} aside (kept for the post-mortem)`, () => gamesQuarantine({ cluster, node: target, suffix: stamp }));
  }

  // Option 1: the cluster's own auto-sync (no call re-syncs one host on the real code): a bounded wait on the count.
  let how = '';
  const resynced = await step(
    `Option 1: re-sync from the cluster: wait for its auto-sync to refill ${target} (5 min)`,
    () =>
      waitFor(
        `${target} refilled by the cluster's auto-sync`,
        async () => {
          const s = await gamesDbStatus({ cluster, node: target });
          return { done: enough(s), detail: describeDb(s), value: s };
        },
        { every: '30s', within: '5m', maxProbes: 12 },
      ),
    { onFailure: 'continue', describe: ((r: { detail: string }) => r.detail) as never },
  );
  const afterSync = resynced?.value ?? (await step(`Count the games on ${target} after the wait`, () => gamesDbStatus({ cluster, node: target }), { describe: ((x: GamesDbStatus) => describeDb(x)) as never }));
  if (enough(afterSync)) {
    how = `re-synced from the cluster (${fmt(afterSync.count!)} games)`;
  } else {
    note(`the cluster holds too few of ${target}'s games (${fmt(afterSync.count ?? 0)} of ~${fmt(expected)}): trying the backup`);
    // Option 2: the NFS backup, behind a dangerous gate.
    const backup = await step(`Check the backup of ${target} on the backup directory (from ${coordinator})`, () => gamesBackupInfo({ cluster, node: target, via: coordinator }), {
      describe: ((b: { exists: boolean; path: string; count?: number; integrity: string; takenAt?: string }) => (b.exists ? `${b.path}: ${fmt(b.count ?? 0)} games, integrity ${b.integrity}, taken ${b.takenAt ?? '?'}` : `${b.path}: missing`)) as never,
    });
    const usable = backup.exists && backup.integrity === 'ok' && (backup.count ?? 0) > (afterSync.count ?? 0);
    if (usable) {
      const age = backup.takenAt ? ageText(Date.now() - Date.parse(backup.takenAt)) : 'unknown';
      const a = await approve('overwrite-db-from-backup', {
        skippable: true, // a skip after a timeout is handled below (approved: false)
        title: `Overwrite ${target}'s game database with the backup ${backup.path} (taken ${age} ago): games written since then on ${target} are lost`,
        evidence: {
          'games on the node now': `${fmt(afterSync.count ?? 0)} (${afterSync.integrity})`,
          'games in the backup': fmt(backup.count ?? 0),
          'expected (peers)': `~${fmt(expected)}`,
          'backup taken': `${backup.takenAt ?? '?'} (${age} ago)`,
          'before the loss': describeDb(before),
        },
      });
      if (a.approved) {
        await step(`Option 2: restore ${target}'s database from the backup (scp from ${coordinator})`, () => gamesRestoreBackup({ cluster, node: target, via: coordinator }), { onFailure: 'ask' });
        how = `restored from the backup taken ${age} before (${fmt(backup.count ?? 0)} games), approved by ${a.by}`;
      } else {
        note('the backup restore was not approved in time and the operator skipped it: accepting the loss');
      }
    } else {
      note(`no usable backup for ${target} (${backup.exists ? `${fmt(backup.count ?? 0)} games, integrity ${backup.integrity}` : 'missing'}): accepting the loss`);
    }
    if (!how) {
      // Option 3: accept the loss; the pipeline is resilient to partial data loss.
      how = `loss accepted (${fmt(afterSync.count ?? 0)} of ~${fmt(expected)} games kept), selfplay regenerates`;
      fact('data lost', `${target}: about ${fmt(Math.max(0, expected - (afterSync.count ?? 0)))} games`);
    }
  }

  await step(`Restart selfplay on ${target} (python scripts/selfplay.py --board hex8 --num-players 2 --engine-mode gumbel-mcts)`, () => selfplayStart({ cluster, node: target }), { onFailure: 'ask' });

  const acceptLoss = how.startsWith('loss accepted');
  const final = await step(
    `Verify: game count and PRAGMA integrity_check on ${target}, selfplay running`,
    async () => {
      const s = await gamesDbStatus({ cluster, node: target });
      const ok = s.integrity === 'ok' && s.count !== undefined && s.selfplayRunning && (acceptLoss || s.count >= expected * LOSS_RATIO);
      if (!ok) throw ApplicationFailure.retryable(`${target} is not recovered yet: ${describeDb(s)}`, 'NotRecovered');
      return s;
    },
    { onFailure: 'ask', describe: ((s: GamesDbStatus) => describeDb(s)) as never },
  );
  fact('resolution', `${target}: ${how}; ${final ? describeDb(final) : skipped('verification')}`);
  return `Data on ${target} recovered: ${how}; now ${final ? describeDb(final) : `not verified (${skipped('verification')})`}.`;
}
