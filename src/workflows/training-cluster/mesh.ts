/**
 * Reading the real P2P mesh's leadership (RingRift 2aa9f89b5), shared by the
 * training cluster's v2 scenarios: plain deterministic helpers over
 * {@link P2pStatus} and one bounded wait.
 *
 * @module
 */
import type { P2pStatus } from '../../activities/types';
import { activities, waitFor, type ProbeResult } from '../kit';

/** What the answering nodes say about their leader. */
export interface Leadership {
  /** The one leader: it answers, says it leads, and every answering node follows it. */
  leader?: string;
  /** Nodes that each say they lead, when more than one does (a split brain). */
  split: string[];
  /** A leader the followers report that does not lead (dead, or answering as a follower). */
  stale?: string;
}

/** The leadership the statuses show. */
export function leadership(statuses: P2pStatus[]): Leadership {
  const live = statuses.filter((s) => s.reachable);
  const claimants = live.filter((s) => s.isLeader === true || (s.isLeader === undefined && s.leaderId === s.node)).map((s) => s.node);
  const followed = [...new Set(live.map((s) => s.leaderId ?? ''))];
  if (claimants.length > 1) return { split: claimants };
  const one = claimants[0];
  if (one && followed.length === 1 && followed[0] === one) return { leader: one, split: [] };
  const reported = followed.filter((x) => x && x !== one);
  const stale = reported.find((x) => !claimants.includes(x));
  return { split: [], ...(stale ? { stale } : {}) };
}

/** "tc-node1 leads (agreed by 5/5)", "SPLIT BRAIN: a, b lead", "no leader; stale tc-node1"... */
export function describeLeaders(statuses: P2pStatus[]): string {
  const live = statuses.filter((s) => s.reachable);
  const l = leadership(statuses);
  const nodes = statuses.map((s) => `${s.node}: ${s.reachable ? `${s.role ?? s.electionState ?? '?'}, leader ${s.leaderId ?? 'none'}` : 'down'}`).join('; ');
  const head = l.leader
    ? `${l.leader} leads (agreed by ${live.length}/${statuses.length})`
    : l.split.length > 1
      ? `SPLIT BRAIN: ${l.split.join(', ')} lead`
      : l.stale
        ? `no leader; the followers report ${l.stale}, which does not lead`
        : 'no leader';
  return `${head} | ${nodes}`;
}

/** How many probes in a row must show the same leader before it counts as staying. */
export const STABLE_PROBES = 4;

/**
 * Waits (durable, bounded) until one leader stays: the same leader, agreed by
 * every answering node, on {@link STABLE_PROBES} probes 5 s apart. With
 * `only`, that leader must be the given node. Fails with `WaitTimedOut`.
 *
 * @returns the last probe; `value` is the leader
 */
export async function waitForStableLeader(cluster: string, nodes: string[], opts: { within: string; only?: string }): Promise<ProbeResult<string>> {
  const { p2pStatus } = activities();
  let streak = 0;
  let last: string | undefined;
  return waitFor(
    opts.only ? `${opts.only} leads and stays` : 'one leader that stays',
    async () => {
      const statuses = await Promise.all(nodes.map((node) => p2pStatus({ cluster, node })));
      const l = leadership(statuses).leader;
      const ok = !!l && (!opts.only || l === opts.only);
      streak = ok && l === last ? streak + 1 : ok ? 1 : 0;
      last = ok ? l : undefined;
      const done = streak >= STABLE_PROBES;
      return { done, detail: `${describeLeaders(statuses)}${ok && !done ? ` (${streak}/${STABLE_PROBES} probes)` : ''}`, value: l };
    },
    { every: '5s', within: opts.within },
  );
}
