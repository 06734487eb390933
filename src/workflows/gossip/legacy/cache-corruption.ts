/**
 * v1 (before Lifeboat spoke its control API on the real memberlist-plumtree
 * 0.1.6; kept for the histories that recorded it, see ../index.ts). Seed 003, "Message Cache Corruption": the cache holds corrupted or invalid
 * messages (the delegate receives malformed messages, crashes during message
 * processing).
 *
 * 1. identify the affected nodes: `plumtree_malformed_messages_total` rising
 *    (two reads a moment apart) and `/health`;
 * 2. clear the cache on the affected nodes through the API (`clear_cache()`);
 * 3. or restart the affected nodes (an in-memory cache is cleared by a
 *    restart), a few at a time behind the quorum guard;
 * 4. with persistent storage: gate `clear-storage` (dangerous), then per node,
 *    one at a time behind the quorum guard: stop, `rm -rf <cacheDir>/*`, start.
 *    The gate comes before the stop, so a rejection leaves every node running
 *    as it was.
 * Verification: no node reads malformed messages, `/health` ok.
 * RTO 15 / 30 min (Lifeboat's targets).
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { GossipCacheCorruptionParams } from './params';
import type { GossipMalformed } from '../../../activities/gossip/types';
import { activities, approve, fact, fanOut, note, recoveryInput, runRecovery, skipped, step, waitFor, type RecoveryInput, type RecoveryResult } from '../../kit';
import { GOSSIP_CACHE_CORRUPTION } from './meta';
import { disruptConcurrency, notePlans, quorumGuard } from './cluster';

export type CacheCorruptionInput = RecoveryInput<Partial<GossipCacheCorruptionParams>>;

/** The v1 scenario, replayed by histories recorded before the control API. */
export async function legacyGossipCacheCorruption(input: CacheCorruptionInput): Promise<RecoveryResult> {
  return runRecovery(GOSSIP_CACHE_CORRUPTION, input, cacheCorruption);
}

function scanText(m: GossipMalformed[]): string {
  return m.map((x) => `${x.node}: ${x.reachable ? `malformed ${x.before}→${x.after}${x.rising ? ' RISING' : ''}, health ${x.healthy ? 'ok' : 'degraded'}` : 'down'}`).join(', ');
}
const describeScan = scanText as never;

async function cacheCorruption(): Promise<string> {
  const input = recoveryInput<Partial<GossipCacheCorruptionParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const { gossipMalformed, gossipClearCache, gossipService, gossipClearDir } = activities();
  const scan = (targets: string[]) => Promise.all(targets.map((node) => gossipMalformed({ cluster, node })));

  // 1. Identify affected nodes.
  const first = await step('Identify affected nodes: plumtree_malformed_messages_total rising, /health', () => scan(nodes), { describe: describeScan });
  const down = first.filter((m) => !m.reachable).map((m) => m.node);
  const only = input.params.node;
  if (only && !nodes.includes(only)) throw ApplicationFailure.nonRetryable(`${only} is not a node of ${cluster}; pick one of ${nodes.join(', ')}`, 'InvalidArgument');
  const affected = first.filter((m) => m.rising && (!only || m.node === only)).map((m) => m.node);
  if (down.length) note(`not answering, left out: ${down.join(', ')}`);
  if (affected.length === 0) {
    fact('root cause', 'no cache corruption: no node reads malformed messages');
    return `No cache corruption: plumtree_malformed_messages_total is steady on every answering node${only ? ` (${only} included)` : ''}; nothing to recover.`;
  }
  fact('nodes affected', affected.join(', '));
  fact('impact', `the delegate on ${affected.join(', ')} receives malformed messages from the cache (crashes during message processing possible)`);
  fact('root cause', `corrupted message cache on ${affected.join(', ')}`);

  /** The affected nodes that still read malformed messages (or do not answer). */
  const stillCorrupt = async (title: string, targets: string[]): Promise<string[]> => {
    const r = await step(title, () => scan(targets), { describe: describeScan });
    return r.filter((m) => !m.reachable || m.rising).map((m) => m.node);
  };

  // 2. Clear the cache through the API.
  notePlans(await fanOut('Clear the message cache via the API on the affected nodes (clear_cache())', affected, (node) => gossipClearCache({ cluster, node }), {
    concurrency: affected.length,
    maxFailures: affected.length, // a node whose API refuses goes on to the next option
  }));
  let remaining = await stillCorrupt('Check: is the malformed counter still rising after the API clear?', affected);
  let how = 'clearing the message cache through the API';

  if (remaining.length) {
    // 3. Restart the affected nodes: an in-memory cache does not survive it.
    note(`the API clear did not heal ${remaining.join(', ')}: restarting them (an in-memory cache is cleared by a restart)`);
    const toRestart = remaining;
    notePlans(await fanOut(
      'Restart the affected nodes (systemctl restart plumtree), never more than the cluster can lose at once',
      toRestart,
      async (node) => {
        await quorumGuard(cluster, nodes, node, `restarting ${node}`);
        return gossipService({ cluster, node, action: 'restart' });
      },
      { concurrency: disruptConcurrency(nodes.length, down.length), onFailure: 'ask' },
    ));
    remaining = await stillCorrupt('Check: is the malformed counter still rising after the restart?', toRestart);
    how = 'restarting the affected nodes';
  }

  if (remaining.length) {
    // 4. Persistent storage: clear the cache directory.
    note(`${remaining.join(', ')} still read malformed messages after a restart: the cache is persistent`);
    const a = await approve('clear-storage', {
      title: `Clear the persistent message cache of ${remaining.join(', ')}: stop plumtree, rm -rf <cacheDir>/*, start it`,
      evidence: {
        nodes: remaining.join(', '),
        tried: 'clear_cache() through the API, then a restart: the malformed counter still rises',
        'one at a time': 'each node is stopped only if the others keep a healthy majority (quorum guard)',
        risk: 'cached messages on these nodes are deleted; peers re-send what is still needed',
      },
    });
    for (const node of remaining) {
      await step(`Quorum guard before stopping ${node}`, () => quorumGuard(cluster, nodes, node, `stopping ${node}`), { onFailure: 'ask' });
      await step(`Stop plumtree on ${node}`, () => gossipService({ cluster, node, action: 'stop' }), { onFailure: 'ask' });
      await step(`Clear the cache storage on ${node} (rm -rf <cacheDir>/*)`, () => gossipClearDir({ cluster, node, dir: 'cache' }), { onFailure: 'ask' });
      await step(`Start plumtree on ${node}`, () => gossipService({ cluster, node, action: 'start' }), { onFailure: 'ask' });
    }
    how = `clearing the persistent cache of ${remaining.join(', ')} (approved by ${a.by})`;
  }

  const final = await step(
    'Verify: no malformed messages on the affected nodes, /health ok',
    () =>
      waitFor(
        'the malformed counter is steady and /health ok',
        async () => {
          const r = await scan(affected);
          const bad = r.filter((m) => !m.reachable || m.rising || !m.healthy);
          return { done: bad.length === 0, detail: bad.length ? `not yet: ${scanText(bad)}` : `${affected.length} node(s) clean and healthy` };
        },
        { every: '5s', within: '2m' },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );
  fact('resolution', `message cache of ${affected.join(', ')} cleared by ${how}`);
  return `Message cache corruption resolved on ${affected.join(', ')} by ${how}: ${final?.detail ?? skipped('verification')}`;
}
