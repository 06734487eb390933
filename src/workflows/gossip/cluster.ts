/**
 * What every gossip scenario reads the cluster with: the peer view of every
 * node, its connected components, who is healthy, the library's metrics and
 * health, anti-entropy state, and the quorum-aware guard that every
 * disruptive node step passes first (never take down more nodes than the
 * cluster can lose).
 *
 * The metric names are memberlist-plumtree 0.1.6's own (src/activities/gossip/wire.ts
 * lists them; docs/gossip.md maps the runbook's names to them).
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { GossipHealth, GossipMetrics, GossipPeers, GossipSync } from '../../activities/gossip/types';
import { activities, isDryRun, note, type FanOutResult } from '../kit';

/** The library's total peer gauge (the runbook's `plumtree_total_peers`). */
export const PEER_COUNT = 'plumtree_peer_count';
/** The library's failed-graft counter. */
export const GRAFT_FAILED = 'plumtree_graft_failed_total';

/** Nodes a cluster of `n` can lose while a majority stays connected. */
export function tolerance(n: number): number {
  return Math.max(0, Math.floor((n - 1) / 2));
}

/** The smallest majority of `n` nodes. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * How many nodes a fan-out may disrupt at once: what the cluster can lose,
 * minus what it has already lost; at least one (each step still passes the guard).
 */
export function disruptConcurrency(n: number, alreadyDown: number): number {
  return Math.max(1, tolerance(n) - alreadyDown);
}

/** `GET /debug/peers` on every node, in inventory order. */
export function readPeers(cluster: string, nodes: string[]): Promise<GossipPeers[]> {
  const { gossipPeers } = activities();
  return Promise.all(nodes.map((node) => gossipPeers({ cluster, node })));
}

/** `GET /metrics` on every node, in inventory order. */
export function readMetrics(cluster: string, nodes: string[]): Promise<GossipMetrics[]> {
  const { gossipMetrics } = activities();
  return Promise.all(nodes.map((node) => gossipMetrics({ cluster, node })));
}

/** `GET /health` on every node, in inventory order. */
export function readHealth(cluster: string, nodes: string[]): Promise<GossipHealth[]> {
  const { gossipHealth } = activities();
  return Promise.all(nodes.map((node) => gossipHealth({ cluster, node })));
}

/** `GET /debug/sync` on every node, in inventory order. */
export function readSync(cluster: string, nodes: string[]): Promise<GossipSync[]> {
  const { gossipSync } = activities();
  return Promise.all(nodes.map((node) => gossipSync({ cluster, node })));
}

/** Nodes that answer, are members and have eager peers: the ones delivering messages. */
export function healthy(view: GossipPeers[]): string[] {
  return view.filter((p) => p.reachable && !p.left && p.eager.length > 0).map((p) => p.node);
}

/** A node that answers but is cut off: no eager and no lazy peer, or it left the cluster. */
export function isIsolated(p: GossipPeers): boolean {
  return p.reachable && (p.left === true || (p.eager.length === 0 && p.lazy.length === 0));
}

/** Nodes whose API does not answer. */
export function unreachable(view: GossipPeers[]): string[] {
  return view.filter((p) => !p.reachable).map((p) => p.node);
}

/**
 * The connected components of the answering nodes: two nodes are connected
 * when either lists the other as a member or peer. Sorted, largest first.
 */
export function components(view: GossipPeers[]): string[][] {
  const up = view.filter((p) => p.reachable).map((p) => p.node);
  const parent: Record<string, string> = Object.fromEntries(up.map((n) => [n, n]));
  const find = (x: string): string => {
    let r = x;
    while (parent[r] !== r) r = parent[r]!;
    return r;
  };
  for (const p of view) {
    if (!p.reachable) continue;
    for (const other of [...p.members, ...p.eager, ...p.lazy]) {
      if (other === p.node || parent[other] === undefined) continue;
      parent[find(other)] = find(p.node);
    }
  }
  const groups: Record<string, string[]> = {};
  for (const n of up) (groups[find(n)] ??= []).push(n);
  return Object.values(groups).sort((a, b) => b.length - a.length || a[0]!.localeCompare(b[0]!));
}

/**
 * Whether the membership is whole again: one component, every answering
 * node lists every other, and every node of `expected` (those that answered
 * when the recovery assessed the cluster) answers. The detail keeps the
 * shape `one component of N` that outcomes quote.
 */
export function wholeMembership(view: GossipPeers[], expected: string[]): { done: boolean; detail: string } {
  const c = components(view);
  const up = view.filter((p) => p.reachable).map((p) => p.node);
  const full = view.filter((p) => p.reachable).every((p) => up.every((n) => n === p.node || p.members.includes(n)));
  const missing = expected.filter((n) => !up.includes(n));
  const done = c.length === 1 && full && missing.length === 0;
  const detail = c.length === 1 ? `one component of ${up.length}${full ? '' : ' (views still incomplete)'}` : describeComponents(c);
  return { done, detail: missing.length ? `${detail}; not answering: ${missing.join(', ')}` : detail };
}

/**
 * The answering nodes outside the component that holds a seed (the first
 * component when none does): the ones a join through the seeds brings back.
 */
export function outsideSeeds(view: GossipPeers[], seedNodes: string[]): string[] {
  const parts = components(view);
  const main = parts.find((c) => c.some((n) => seedNodes.includes(n))) ?? parts[0] ?? [];
  return parts.filter((c) => c !== main).flat();
}

/** `{a, b, c} | {d, e}` */
export function describeComponents(parts: string[][]): string {
  return parts.map((c) => `{${c.join(', ')}}`).join(' | ');
}

/** One line per node: `gossip1: 3 eager/1 lazy, gossip4: down`. */
export function describePeers(view: GossipPeers[]): string {
  return view.map((p) => `${p.node}: ${p.reachable ? `${p.eager.length} eager/${p.lazy.length} lazy${p.left ? ' (left)' : ''}` : 'down'}`).join(', ');
}

/** One line per node: `gossip1: healthy, gossip3: down`. */
export function describeHealth(h: GossipHealth[]): string {
  return h.map((x) => `${x.node}: ${x.status}${x.status === 'degraded' || x.status === 'unhealthy' ? ` (${x.message})` : ''}`).join(', ');
}

/** The distinct root hashes of the answering nodes, each with its nodes: `3f2a…: gossip1, gossip2 | 9c01…: gossip4`. */
export function describeSync(s: GossipSync[]): string {
  const up = s.filter((x) => x.reachable);
  const by: Record<string, string[]> = {};
  for (const x of up) (by[x.rootHash] ??= []).push(`${x.node}${x.enabled ? '' : ' (sync off)'}`);
  const down = s.filter((x) => !x.reachable).map((x) => x.node);
  return `${Object.entries(by).map(([h, n]) => `${h.slice(0, 8)}…: ${n.join(', ')} (${up.find((x) => x.rootHash === h)?.messages ?? 0} msgs)`).join(' | ') || 'no node answers'}${down.length ? `; down: ${down.join(', ')}` : ''}`;
}

/** A metric of one node, or undefined when it did not answer or lacks it. */
export function metric(m: GossipMetrics, name: string): number | undefined {
  return m.reachable ? m.values[name] : undefined;
}

/**
 * The quorum-aware guard: re-reads every node's peers just before a
 * disruptive step on `target` and refuses (QuorumGuard, non-retryable) when
 * taking `target` down would leave fewer healthy nodes than a majority. A
 * target that is not healthy anyway costs the cluster nothing.
 *
 * Call it inside a step with `onFailure: 'ask'`: retry re-reads health,
 * skip proceeds anyway, abort stops.
 */
export async function quorumGuard(cluster: string, nodes: string[], target: string, action: string): Promise<string> {
  const view = await readPeers(cluster, nodes);
  const ok = healthy(view);
  const others = ok.filter((n) => n !== target);
  const need = majority(nodes.length);
  if (ok.includes(target) && others.length < need) {
    throw ApplicationFailure.nonRetryable(
      `quorum guard: ${action} would leave ${others.length} of ${nodes.length} nodes healthy (${others.join(', ') || 'none'}), ` +
        `fewer than the ${need} the cluster needs; retry once more nodes are healthy, skip to proceed anyway, or abort`,
      'QuorumGuard',
    );
  }
  return `${action}: ${others.length} other node(s) healthy, ${need} needed`;
}

/**
 * In a dry run, puts each target's planned command or request of a fan-out
 * into the timeline (the fan-out's own step line only counts targets).
 */
export function notePlans<R extends { plan: string }>(res: FanOutResult<R>): FanOutResult<R> {
  if (isDryRun()) for (const [target, r] of Object.entries(res.succeeded)) note(`dry run, ${target}: ${r.plan}`);
  return res;
}
