/**
 * Seed 003, "Split Brain with Data Divergence", on the real
 * memberlist-plumtree 0.1.6 through the control API: during a split,
 * different partitions processed different messages; after the heal the
 * state may be inconsistent.
 *
 * What the library has: anti-entropy is configuration
 * (`PlumtreeConfig::with_sync(SyncConfig::enabled())`), not a runtime
 * switch, and it emits no `plumtree_sync_*` metric; each node's sync handler
 * keeps a root hash over the messages it holds (`GET /debug/sync`), equal on
 * nodes that hold the same messages. Sync runs between members only.
 * 1. "enable anti-entropy sync (if not already)": read whether every node
 *    runs it; a node without it cannot be switched on from outside, so the
 *    recovery ends as `ReconciliationNeeded` naming those nodes (the
 *    application enables it and restarts, or reconciles itself);
 * 2. the heal the runbook assumes: a membership still split after the
 *    network came back is merged by joining the other sides through the
 *    seeds (memberlist does not merge sides it declared dead by itself);
 * 3. wait for sync to complete: every answering node at one root hash (a
 *    bounded durable wait of 10 min);
 * 4. not converged: `ReconciliationNeeded` (application-level
 *    reconciliation; never a silent success).
 * Verification: one component in which every node that answered at the
 * assessment sees every other, one root hash. RTO 30 / 60 min (Lifeboat's targets).
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { GossipSplitBrainParams } from '../../catalog';
import type { GossipPeers, GossipSync } from '../../activities/gossip/types';
import { activities, fact, fanOut, isDryRun, note, recoveryInput, runRecovery, step, waitFor, type RecoveryInput, type RecoveryResult } from '../kit';
import { GOSSIP_SPLIT_BRAIN } from '../scenarios';
import { components, describeComponents, describeSync, notePlans, outsideSeeds, readPeers, readSync, wholeMembership } from './cluster';
import { legacyGossipSplitBrain } from './legacy/split-brain';
import { PLUMTREE_CONTROL_API, VERIFY_EVERY_NODE_BACK } from './versions';

export type SplitBrainInput = RecoveryInput<Partial<GossipSplitBrainParams>>;

export async function gossipSplitBrain(input: SplitBrainInput): Promise<RecoveryResult> {
  if (!patched(PLUMTREE_CONTROL_API)) return legacyGossipSplitBrain(input as never);
  return runRecovery(GOSSIP_SPLIT_BRAIN, input, splitBrain);
}

/** Whether the answering nodes hold the same messages: one root hash. */
function convergence(s: GossipSync[]): { done: boolean; detail: string } {
  const up = s.filter((x) => x.reachable);
  const hashes = new Set(up.map((x) => x.rootHash));
  const done = up.length > 0 && hashes.size === 1;
  return { done, detail: done ? `converged: ${up.length} node(s) at root hash ${up[0]!.rootHash.slice(0, 12)}… (${up[0]!.messages} messages)` : `diverged: ${describeSync(s)}` };
}

const reconciliationNeeded = (why: string, detail: string): ApplicationFailure =>
  ApplicationFailure.nonRetryable(
    `${why} (${detail}): application-level reconciliation is needed. The application must reconcile the diverged messages itself ` +
      '(eventual consistency; idempotent message design lets it replay both sides safely)',
    'ReconciliationNeeded',
  );

async function splitBrain(): Promise<string> {
  const input = recoveryInput<Partial<GossipSplitBrainParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const seedNodes = input.cluster.nodes.filter((n) => n.roles.includes('seed')).map((n) => n.name);
  const { gossipJoin } = activities();

  const before = await step('Assess divergence: anti-entropy state and root hash on every node (/debug/sync)', () => readSync(cluster, nodes), {
    describe: ((s: GossipSync[]) => convergence(s).detail) as never,
  });
  const view = await step('Membership: /debug/peers on every node', () => readPeers(cluster, nodes), {
    describe: ((v: GossipPeers[]) => `components ${describeComponents(components(v))}`) as never,
  });
  const start = convergence(before);
  const parts = components(view);
  if (start.done && parts.length <= 1) {
    fact('root cause', 'no divergence: every answering node holds the same messages (one root hash) in one component');
    return `No data divergence: ${start.detail}; nothing to reconcile.`;
  }
  const up = before.filter((s) => s.reachable).map((s) => s.node);
  const down = nodes.filter((n) => !up.includes(n));
  if (down.length) note(`not answering, left out: ${down.join(', ')}`);
  fact('impact', start.done ? `one state but the membership is split: ${describeComponents(parts)}` : `partitions processed different messages: ${start.detail}`);
  fact('root cause', `split brain: ${describeComponents(parts)} diverged while they could not communicate`);

  // 1. Anti-entropy runs where the application configured it; Lifeboat cannot switch it on.
  const off = before.filter((s) => s.reachable && !s.enabled).map((s) => s.node);
  if (off.length) {
    fact('resolution', `NOT reconciled: anti-entropy sync is not configured on ${off.join(', ')}; application-level reconciliation needed`);
    throw reconciliationNeeded(
      `anti-entropy sync is not configured on ${off.join(', ')} (memberlist-plumtree 0.1.6 enables it in the application's PlumtreeConfig::with_sync, then a restart; there is no runtime switch)`,
      start.detail,
    );
  }
  note(`anti-entropy sync is configured on every answering node (${up.length})`);

  // 2. The heal: sides still apart join through the seeds, so that sync can run between them.
  if (parts.length > 1) {
    const others = outsideSeeds(view, seedNodes);
    notePlans(await fanOut(`Heal the membership: ${others.join(', ')} join through the seeds (memberlist join)`, others, (node) => gossipJoin({ cluster, node }), {
      concurrency: others.length,
      onFailure: 'ask',
    }));
  }

  // 3. Wait for sync to complete.
  const synced = await step(
    'Wait for anti-entropy to reconcile (one root hash on every node)',
    () => waitFor('the root hashes converge', async () => convergence(await readSync(cluster, nodes)), { every: '15s', within: '10m' }),
    { onFailure: 'continue', describe: ((r: { detail: string }) => r.detail) as never },
  );
  if (!synced) {
    if (isDryRun()) return `Dry run: the sides would join through the seeds, then Lifeboat waits up to 10 min for anti-entropy (now: ${start.detail})`;
    // 4. Not converging: application-level reconciliation.
    const last = convergence(await readSync(cluster, nodes));
    fact('resolution', 'NOT reconciled: anti-entropy did not converge within 10 minutes; application-level reconciliation needed');
    throw reconciliationNeeded('anti-entropy did not converge within 10 minutes', last.detail);
  }

  // Every node that answered at the assessment, back and seeing every other (not one that is restarting left out).
  const everyNodeBack = patched(VERIFY_EVERY_NODE_BACK);
  const final = await step(
    everyNodeBack ? 'Verify: one component in which every node sees every other, and one root hash' : 'Verify: one component and one root hash',
    () =>
      waitFor(
        'one component',
        async () => {
          const view = await readPeers(cluster, nodes);
          if (everyNodeBack) return wholeMembership(view, up);
          const c = components(view);
          return { done: c.length === 1, detail: c.length === 1 ? `one component of ${c[0]!.length}` : describeComponents(c) };
        },
        { every: '10s', within: '2m' },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );
  fact('resolution', `anti-entropy reconciled the divergence after the membership healed: ${synced.detail}`);
  return `Split brain reconciled by anti-entropy sync: ${synced.detail}${final ? `; ${final.detail}` : ''}`;
}
