/**
 * Seed 003, "Message Cache Corruption", on the real memberlist-plumtree
 * 0.1.6 through the control API: the cache holds corrupted or invalid
 * messages (the delegate receives malformed messages, crashes during
 * message processing).
 *
 * What the library has: its message cache is in memory (no
 * `clear_cache()`, no malformed-message counter); an application that
 * persists messages (the library's `SledStore`) keeps them on disk, and a
 * node whose store is damaged cannot start on it.
 * 1. identify the affected nodes: `/health` (the library's `health()`) on
 *    every node; a node whose API does not answer while its host does, with
 *    plumtree failed or inactive (crashed in message processing), or that
 *    reports itself unhealthy, is affected; `--set node=` names one the
 *    application saw receive malformed messages;
 * 2. clear the cache through the API: there is none in the library; the
 *    recovery says so and goes on;
 * 3. restart the affected nodes (the in-memory cache does not survive a
 *    restart), a few at a time behind the quorum guard;
 * 4. still failing (persistent storage): gate `clear-storage` (dangerous),
 *    then per node, one at a time behind the quorum guard: stop,
 *    `rm -rf <cacheDir>/*`, start. The gate comes before the stop, so a
 *    rejection leaves every node as it was.
 * Verification: every affected node answers `/health`, not unhealthy, with
 * eager peers. RTO 15 / 30 min (Lifeboat's targets).
 *
 * @module
 */
import { ApplicationFailure, isCancellation, patched } from '@temporalio/workflow';
import type { GossipCacheCorruptionParams } from '../../catalog';
import type { GossipHealth, GossipServiceState } from '../../activities/gossip/types';
import { activities, approve, errorMessage, fact, fanOut, note, recoveryInput, runRecovery, skipped, step, waitFor, type RecoveryInput, type RecoveryResult } from '../kit';
import { GOSSIP_CACHE_CORRUPTION } from '../scenarios';
import { describeHealth, disruptConcurrency, notePlans, quorumGuard, readHealth } from './cluster';
import { legacyGossipCacheCorruption } from './legacy/cache-corruption';
import { PLUMTREE_CONTROL_API } from './versions';

export type CacheCorruptionInput = RecoveryInput<Partial<GossipCacheCorruptionParams>>;

export async function gossipCacheCorruption(input: CacheCorruptionInput): Promise<RecoveryResult> {
  if (!patched(PLUMTREE_CONTROL_API)) return legacyGossipCacheCorruption(input as never);
  return runRecovery(GOSSIP_CACHE_CORRUPTION, input, cacheCorruption);
}

/** A node back in service: its API answers, not unhealthy, with eager peers. */
const serving = (h: GossipHealth): boolean => h.reachable && h.status !== 'unhealthy' && h.eager > 0;

async function cacheCorruption(): Promise<string> {
  const input = recoveryInput<Partial<GossipCacheCorruptionParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const { gossipServiceState, gossipService, gossipClearDir } = activities();
  const only = input.params.node;
  if (only && !nodes.includes(only)) throw ApplicationFailure.nonRetryable(`${only} is not a node of ${cluster}; pick one of ${nodes.join(', ')}`, 'InvalidArgument');

  // 1. Identify affected nodes.
  const first = await step('Identify affected nodes: /health (the library\'s health()) on every node', () => readHealth(cluster, nodes), { describe: describeHealth as never });
  const silent = first.filter((h) => !h.reachable).map((h) => h.node);
  const states: Record<string, GossipServiceState> = {};
  if (silent.length) {
    const checked = await fanOut('Nodes whose API does not answer: is plumtree failed on them? (systemctl is-active over SSH)', silent, (node) => gossipServiceState({ cluster, node }), {
      concurrency: silent.length,
      onFailure: 'ask',
    });
    Object.assign(states, checked.succeeded);
  }
  const crashed = silent.filter((n) => states[n]?.sshReachable && !states[n]?.active);
  const unhealthy = first.filter((h) => h.status === 'unhealthy').map((h) => h.node);
  const hostDown = silent.filter((n) => states[n] && !states[n]!.sshReachable);
  if (hostDown.length) note(`host not answering over SSH, left out: ${hostDown.join(', ')} (see gossip.multi-node-failure)`);
  const affected = only ? [only] : [...crashed, ...unhealthy].filter((n, i, a) => a.indexOf(n) === i);
  if (affected.length === 0) {
    fact('root cause', 'no sign of cache corruption: every node answers /health and none crashed');
    return `No cache corruption found: ${describeHealth(first)}; if the application sees malformed messages on a node, run again with --set node=<name>.`;
  }
  fact('nodes affected', affected.join(', '));
  fact('impact', `${affected.join(', ')} ${crashed.length ? 'crashed processing messages (plumtree ' + crashed.map((n) => `${n}: ${states[n]!.state}`).join(', ') + ')' : 'cannot be trusted with the messages they cache'}`);
  fact('root cause', `corrupted message cache on ${affected.join(', ')}`);

  // 2. Clear the cache through the API: memberlist-plumtree 0.1.6 has none.
  note('memberlist-plumtree 0.1.6 has no clear_cache(): the message cache is in memory and a restart clears it (next step)');

  const stillBroken = async (title: string, within: string): Promise<string[]> => {
    const r = await step(
      title,
      () =>
        waitFor(
          'the affected nodes answer /health with peers',
          async () => {
            const h = await readHealth(cluster, affected);
            const bad = h.filter((x) => !serving(x));
            return { done: bad.length === 0, detail: bad.length ? `not yet: ${describeHealth(bad)}` : `${affected.length} node(s) serving`, value: bad.map((x) => x.node) };
          },
          { every: '5s', within },
        ),
      { onFailure: 'continue', describe: ((x: { detail: string }) => x.detail) as never },
    );
    if (r) return [];
    const now = await readHealth(cluster, affected);
    return now.filter((x) => !serving(x)).map((x) => x.node);
  };

  // 3. Restart the affected nodes: an in-memory cache does not survive it. A node that cannot
  //    start on its store is what the next option is for (recorded, not asked); a refused quorum guard asks.
  const restarted = notePlans(await fanOut(
    'Restart the affected nodes (systemctl restart plumtree), never more than the cluster can lose at once',
    affected,
    async (node): Promise<{ plan: string; startError?: string }> => {
      await quorumGuard(cluster, nodes, node, `restarting ${node}`);
      try {
        return await gossipService({ cluster, node, action: 'restart' });
      } catch (err) {
        if (isCancellation(err)) throw err;
        return { plan: `${node}: systemctl restart plumtree`, startError: errorMessage(err) };
      }
    },
    { concurrency: disruptConcurrency(nodes.length, silent.length), onFailure: 'ask' },
  ));
  const failedStart = affected.filter((n) => restarted.succeeded[n]?.startError !== undefined);
  let remaining = failedStart.length === affected.length ? failedStart : await stillBroken('Check: do the restarted nodes serve again? (/health, eager peers)', '1m');
  let how = 'restarting the affected nodes (the in-memory cache does not survive a restart)';

  if (remaining.length) {
    // 4. Persistent storage: clear the cache directory.
    note(`${remaining.join(', ')} still fail after a restart${failedStart.length ? ` (${failedStart.map((n) => `${n}: ${restarted.succeeded[n]!.startError}`).join('; ')})` : ''}: the cache is persistent`);
    const a = await approve('clear-storage', {
      title: `Clear the persistent message store of ${remaining.join(', ')}: stop plumtree, rm -rf <cacheDir>/*, start it`,
      evidence: {
        nodes: remaining.join(', '),
        tried: 'a restart (the library has no clear_cache()): the node still cannot serve',
        'one at a time': 'each node is stopped only if the others keep a healthy majority (quorum guard)',
        risk: 'the messages stored on these nodes are deleted; peers re-send what is still needed (anti-entropy, when configured)',
      },
    });
    for (const node of remaining) {
      await step(`Quorum guard before stopping ${node}`, () => quorumGuard(cluster, nodes, node, `stopping ${node}`), { onFailure: 'ask' });
      await step(`Stop plumtree on ${node}`, () => gossipService({ cluster, node, action: 'stop' }), { onFailure: 'ask' });
      await step(`Clear the cache storage on ${node} (rm -rf <cacheDir>/*)`, () => gossipClearDir({ cluster, node, dir: 'cache' }), { onFailure: 'ask' });
      await step(`Start plumtree on ${node}`, () => gossipService({ cluster, node, action: 'start' }), { onFailure: 'ask' });
    }
    how = `clearing the persistent message store of ${remaining.join(', ')} (approved by ${a.by})`;
    remaining = [];
  }

  const final = await step(
    'Verify: the affected nodes answer /health, not unhealthy, with eager peers',
    () =>
      waitFor(
        'the affected nodes serve',
        async () => {
          const h = await readHealth(cluster, affected);
          const bad = h.filter((x) => !serving(x));
          return { done: bad.length === 0, detail: bad.length ? `not yet: ${describeHealth(bad)}` : `${affected.length} node(s) healthy: ${describeHealth(h)}` };
        },
        { every: '5s', within: '2m' },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );
  fact('resolution', `message cache of ${affected.join(', ')} cleared by ${how}`);
  return `Message cache corruption resolved on ${affected.join(', ')} by ${how}: ${final?.detail ?? skipped('verification')}`;
}
