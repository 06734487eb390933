/**
 * v1 (before Lifeboat spoke its control API on the real memberlist-plumtree
 * 0.1.6; kept for the histories that recorded it, see ../index.ts). Seed 003, "Split Brain with Data Divergence": during a split, different
 * partitions processed different messages; after the heal the state may be
 * inconsistent.
 *
 * 1. enable anti-entropy sync on every node (`SyncConfig::enabled()`);
 * 2. wait for the sync to complete: the `plumtree_sync_*` metrics converge
 *    (`plumtree_sync_pending` 0, `plumtree_sync_converged` 1) and every node
 *    holds the same `plumtree_state_version` (a bounded durable wait);
 * 3. if sync is unavailable or does not converge: the recovery ends as failed
 *    with `ReconciliationNeeded`, saying that application-level
 *    reconciliation is needed (never a silent success).
 * RTO 30 / 60 min (Lifeboat's targets).
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { GossipSplitBrainParams } from './params';
import type { GossipMetrics, GossipPeers } from '../../../activities/gossip/types';
import { activities, fact, fanOut, isDryRun, note, recoveryInput, runRecovery, step, waitFor, type RecoveryInput, type RecoveryResult } from '../../kit';
import { GOSSIP_SPLIT_BRAIN } from './meta';
import { components, describeComponents, metric, notePlans, readMetrics, readPeers } from './cluster';

export type SplitBrainInput = RecoveryInput<Partial<GossipSplitBrainParams>>;

/** The v1 scenario, replayed by histories recorded before the control API. */
export async function legacyGossipSplitBrain(input: SplitBrainInput): Promise<RecoveryResult> {
  return runRecovery(GOSSIP_SPLIT_BRAIN, input, splitBrain);
}

/** Whether the answering nodes agree: no pending sync, converged, one state version. */
function convergence(m: GossipMetrics[]): { done: boolean; detail: string } {
  const up = m.filter((x) => x.reachable);
  const versions = [...new Set(up.map((x) => metric(x, 'plumtree_state_version')))];
  const pending = up.filter((x) => (metric(x, 'plumtree_sync_pending') ?? 1) > 0).map((x) => x.node);
  const notConverged = up.filter((x) => metric(x, 'plumtree_sync_converged') !== 1).map((x) => x.node);
  const done = up.length > 0 && versions.length === 1 && versions[0] !== undefined && pending.length === 0 && notConverged.length === 0;
  const detail = done
    ? `converged: ${up.length} node(s) at state version ${versions[0]}`
    : `state versions ${up.map((x) => `${x.node}=${metric(x, 'plumtree_state_version') ?? '?'}`).join(', ')}; sync pending on ${pending.join(', ') || 'none'}; not converged: ${notConverged.join(', ') || 'none'}`;
  return { done, detail };
}

async function splitBrain(): Promise<string> {
  const input = recoveryInput<Partial<GossipSplitBrainParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const { gossipEnableSync } = activities();

  const before = await step('Assess divergence: plumtree_sync_* and plumtree_state_version on every node', () => readMetrics(cluster, nodes), {
    describe: ((m: GossipMetrics[]) => convergence(m).detail) as never,
  });
  const view = await step('Membership: /debug/peers on every node', () => readPeers(cluster, nodes), {
    describe: ((v: GossipPeers[]) => `components ${describeComponents(components(v))}`) as never,
  });
  const start = convergence(before);
  if (start.done) {
    fact('root cause', 'no divergence: anti-entropy reports every node converged on one state version');
    return `No data divergence: ${start.detail}; nothing to reconcile.`;
  }
  const up = before.filter((m) => m.reachable).map((m) => m.node);
  const down = nodes.filter((n) => !up.includes(n));
  if (down.length) note(`not answering, left out: ${down.join(', ')}`);
  fact('impact', `partitions processed different messages: ${start.detail}`);
  fact('root cause', `split brain: ${describeComponents(components(view))} diverged while they could not communicate`);

  // 1. Enable anti-entropy sync.
  const enabled = notePlans(await fanOut('Enable anti-entropy sync on every node (SyncConfig::enabled())', up, (node) => gossipEnableSync({ cluster, node }), {
    concurrency: up.length,
    onFailure: 'ask',
  }));
  const unsupported = Object.entries(enabled.succeeded)
    .filter(([, r]) => !r.supported)
    .map(([n]) => n);

  // 2. Wait for sync to complete.
  const synced = unsupported.length
    ? undefined
    : await step(
        'Wait for anti-entropy to reconcile (plumtree_sync_pending 0, plumtree_sync_converged 1, one state version)',
        () => waitFor('the sync metrics converge', async () => convergence(await readMetrics(cluster, nodes)), { every: '15s', within: '10m' }),
        { onFailure: 'continue', describe: ((r: { detail: string }) => r.detail) as never },
      );

  if (synced && !synced.done && isDryRun()) {
    return `Dry run: anti-entropy would be enabled on ${up.length} node(s), then Lifeboat waits up to 10 min for convergence (now: ${synced.detail})`;
  }
  if (!synced) {
    // 3. Sync unavailable or not converging: application-level reconciliation.
    const why = unsupported.length ? `anti-entropy sync is not available on ${unsupported.join(', ')}` : 'anti-entropy did not converge within 10 minutes';
    const last = convergence(await readMetrics(cluster, nodes));
    fact('resolution', `NOT reconciled: ${why}; application-level reconciliation needed`);
    throw ApplicationFailure.nonRetryable(
      `${why} (${last.detail}): application-level reconciliation is needed. The application must reconcile the diverged messages itself ` +
        '(eventual consistency; idempotent message design lets it replay both sides safely)',
      'ReconciliationNeeded',
    );
  }

  const final = await step(
    'Verify: one component and one state version',
    () =>
      waitFor(
        'one component',
        async () => {
          const c = components(await readPeers(cluster, nodes));
          return { done: c.length === 1, detail: describeComponents(c) };
        },
        { every: '10s', within: '2m' },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );
  fact('resolution', `anti-entropy sync enabled on ${up.length} node(s) reconciled the divergence: ${synced.detail}`);
  return `Split brain reconciled by anti-entropy sync: ${synced.detail}${final ? `; ${final.detail}` : ''}`;
}
