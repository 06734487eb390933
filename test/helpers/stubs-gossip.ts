/**
 * Default stubs of the gossip activities for workflow-logic tests (see ./stubs),
 * and {@link fakeGossip}: a small in-memory plumtree cluster whose stubbed
 * activities change its state the way the real cluster (and the lab) would,
 * so every branch of every gossip scenario can be driven on the time-skipping
 * server.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { GossipActivities } from '../../src/activities/types';
import type { GossipMetrics } from '../../src/activities/gossip/types';
import type { PlanOf } from './stubs';

/** Names of the gossip activities that have an effect on the target. */
export const GOSSIP_EFFECTS: string[] = ['gossipLeave', 'gossipJoin', 'gossipRebalance', 'gossipClearCache', 'gossipEnableSync', 'gossipService', 'gossipClearDir'];

export function gossipStubs(plan: PlanOf): GossipActivities {
  return {
    gossipPeers: async (a) => ({ node: a.node, reachable: true, eager: ['peer'], lazy: [], members: [a.node, 'peer'] }),
    gossipMetrics: async (a) => ({ node: a.node, reachable: true, values: { plumtree_eager_peers: 1, plumtree_total_peers: 1, plumtree_sync_converged: 1, plumtree_sync_pending: 0, plumtree_state_version: 1 } }),
    gossipMalformed: async (a) => ({ node: a.node, reachable: true, before: 0, after: 0, rising: false, healthy: true }),
    gossipSeedCheck: async (a) => ({ node: a.node, sshReachable: true, seeds: [{ seed: 'seed1:7946', open: true, detail: 'open' }] }),
    gossipServiceState: async (a) => ({ node: a.node, sshReachable: true, active: true, state: 'active' }),
    gossipHealth: async (a) => ({ node: a.node, reachable: true, status: 'healthy', message: 'Operating normally', eager: 3, lazy: 1 }),
    gossipSync: async (a) => ({ node: a.node, reachable: true, enabled: true, rootHash: 'aa'.repeat(32), messages: 1 }),
    gossipLeave: async (a) => plan('gossipLeave', a as never),
    gossipJoin: async (a) => ({ ...plan('gossipJoin', a as never), eager: 1 }),
    gossipRebalance: async (a) => plan('gossipRebalance', a as never),
    gossipClearCache: async (a) => plan('gossipClearCache', a as never),
    gossipEnableSync: async (a) => ({ ...plan('gossipEnableSync', a as never), supported: true }),
    gossipService: async (a) => plan(`gossipService ${a.action}`, a as never),
    gossipClearDir: async (a) => plan(`gossipClearDir ${a.dir}`, a as never),
  };
}

/** One node of the fake cluster. */
export interface FakeNode {
  name: string;
  seed: boolean;
  up: boolean;
  sshDown: boolean;
  left: boolean;
  isolated: boolean;
  group: number | null;
  rebalanced: boolean;
  cacheCorrupt: boolean;
  stateCorrupt: boolean;
  syncEnabled: boolean;
  version: number;
}

export interface FakeOptions {
  nodes?: number;
  seeds?: number;
  /** A join through the seeds works (default true). */
  joinWorks?: boolean;
  /** Seeds answer on their TCP port from every node (default true). */
  seedsOpen?: boolean;
  /** clear_cache() through the API heals a corrupted cache (default true). */
  apiClearHeals?: boolean;
  /** The cache lives in memory: a restart heals it (default false: persistent). */
  cacheInMemory?: boolean;
  /** The sync API exists (default true). */
  syncSupported?: boolean;
  /** Sync converges once every node has it enabled (default true). */
  syncConverges?: boolean;
  /** A partition heals on its own after this many /debug/peers reads (default never). */
  autoHealAfterReads?: number;
}

/** A fake gossip cluster `gossip1..N` (first `seeds` are seeds) and the stub activities acting on it. */
export function fakeGossip(opts: FakeOptions = {}): { nodes: FakeNode[]; names: string[]; activities: Partial<GossipActivities>; heal: () => void } {
  const n = opts.nodes ?? 5;
  const seeds = opts.seeds ?? 2;
  const nodes: FakeNode[] = Array.from({ length: n }, (_, i) => ({
    name: `gossip${i + 1}`,
    seed: i < seeds,
    up: true,
    sshDown: false,
    left: false,
    isolated: false,
    group: null,
    rebalanced: false,
    cacheCorrupt: false,
    stateCorrupt: false,
    syncEnabled: false,
    version: 1,
  }));
  let peerReads = 0;
  const get = (name: string): FakeNode => {
    const x = nodes.find((y) => y.name === name);
    if (!x) throw ApplicationFailure.nonRetryable(`no node ${name}`, 'BadInventory');
    return x;
  };
  const linked = (a: FakeNode, b: FakeNode) => a !== b && a.up && b.up && !a.left && !b.left && !a.isolated && !b.isolated && a.group === b.group;
  const peersOf = (x: FakeNode) => {
    const p = nodes.filter((y) => linked(x, y)).map((y) => y.name);
    return { eager: p.slice(0, 3), lazy: p.slice(3), members: p.length ? [x.name, ...p] : x.left ? [] : [x.name] };
  };
  const heal = () => {
    const v = Math.max(...nodes.map((x) => x.version));
    for (const x of nodes) {
      x.group = null;
      x.rebalanced = false;
      x.version = v;
    }
  };
  const split = () => nodes.some((x) => x.group !== null);
  const plan = (what: string, a: { node: string; dryRun?: boolean }) => ({ plan: `${what} ${a.node}`, ...(a.dryRun ? { dryRun: true } : {}) });

  const activities: Partial<GossipActivities> = {
    gossipPeers: async (a) => {
      peerReads += 1;
      if (opts.autoHealAfterReads !== undefined && peerReads > opts.autoHealAfterReads && split()) heal();
      const x = get(a.node);
      if (!x.up) return { node: a.node, reachable: false, error: 'connection refused', eager: [], lazy: [], members: [] };
      return { node: a.node, reachable: true, ...peersOf(x) };
    },
    gossipMetrics: async (a): Promise<GossipMetrics> => {
      const x = get(a.node);
      if (!x.up) return { node: a.node, reachable: false, error: 'connection refused', values: {} };
      const p = peersOf(x);
      const diverged = new Set(nodes.filter((y) => y.up).map((y) => y.version)).size > 1;
      return {
        node: a.node,
        reachable: true,
        values: {
          plumtree_eager_peers: p.eager.length,
          plumtree_lazy_peers: p.lazy.length,
          plumtree_total_peers: p.eager.length + p.lazy.length,
          plumtree_messages_partitioned_total: split() ? 5 : 0,
          plumtree_graft_failed_total: nodes.some((y) => !y.up) ? 3 : 0,
          plumtree_sync_enabled: x.syncEnabled ? 1 : 0,
          plumtree_sync_pending: diverged ? 1 : 0,
          plumtree_sync_converged: diverged ? 0 : 1,
          plumtree_state_version: x.version,
        },
      };
    },
    gossipMalformed: async (a) => {
      const x = get(a.node);
      if (!x.up) return { node: a.node, reachable: false, error: 'connection refused', before: 0, after: 0, rising: false, healthy: false };
      return { node: a.node, reachable: true, before: 4, after: x.cacheCorrupt ? 9 : 4, rising: x.cacheCorrupt, healthy: !x.cacheCorrupt && peersOf(x).eager.length > 0 };
    },
    gossipSeedCheck: async (a) => {
      const x = get(a.node);
      if (x.sshDown) return { node: a.node, sshReachable: false, error: 'ssh: connect timed out', seeds: [] };
      const open = opts.seedsOpen ?? true;
      return { node: a.node, sshReachable: true, seeds: nodes.filter((s) => s.seed).map((s) => ({ seed: `${s.name}:7946`, open: open && s.up, detail: open && s.up ? 'open' : 'no answer within 5 s' })) };
    },
    gossipServiceState: async (a) => {
      const x = get(a.node);
      if (x.sshDown) return { node: a.node, sshReachable: false, error: 'ssh: connect timed out', active: false, state: 'unknown (no SSH)' };
      return { node: a.node, sshReachable: true, active: x.up, state: x.up ? 'active' : x.stateCorrupt ? 'failed' : 'inactive' };
    },
    gossipLeave: async (a) => {
      const x = get(a.node);
      if (a.dryRun) return plan('leave', a);
      if (x.left) return { ...plan('leave', a), alreadyDone: true };
      x.left = true;
      x.isolated = false;
      return plan('leave', a);
    },
    gossipJoin: async (a) => {
      const x = get(a.node);
      if (a.dryRun) return plan('join', a);
      if ((opts.joinWorks ?? true) === false || !nodes.some((s) => s.seed && s.up && s !== x)) {
        throw ApplicationFailure.nonRetryable(`${a.node} could not join through the seeds: no seed reachable`, 'JoinFailed');
      }
      x.left = false;
      return { ...plan('join', a), eager: peersOf(x).eager.length };
    },
    gossipRebalance: async (a) => {
      const x = get(a.node);
      if (a.dryRun) return plan('rebalance', a);
      if (split()) {
        x.rebalanced = true;
        if (nodes.every((y) => y.rebalanced || !y.up)) heal();
      }
      return plan('rebalance', a);
    },
    gossipClearCache: async (a) => {
      const x = get(a.node);
      if (!a.dryRun && (opts.apiClearHeals ?? true)) x.cacheCorrupt = false;
      return plan('cache-clear', a);
    },
    gossipEnableSync: async (a) => {
      const x = get(a.node);
      if ((opts.syncSupported ?? true) === false) return { ...plan('sync-enable', a), supported: false };
      if (!a.dryRun) {
        x.syncEnabled = true;
        if ((opts.syncConverges ?? true) && nodes.every((y) => y.syncEnabled || !y.up)) heal();
      }
      return { ...plan('sync-enable', a), supported: true };
    },
    gossipService: async (a) => {
      const x = get(a.node);
      if (a.dryRun) return plan(a.action, a);
      if (x.sshDown) throw ApplicationFailure.nonRetryable(`${a.node} does not answer over SSH`, 'CommandFailed');
      if (a.action === 'stop') {
        const was = x.up;
        x.up = false;
        return { ...plan('stop', a), ...(was ? {} : { alreadyDone: true }) };
      }
      if (a.action === 'start' && x.up) return { ...plan('start', a), alreadyDone: true };
      if (x.stateCorrupt) throw ApplicationFailure.nonRetryable(`plumtree on ${a.node} failed to start: persistent state corrupted`, 'StartFailed');
      x.up = true;
      x.left = false;
      x.isolated = false;
      if (opts.cacheInMemory) x.cacheCorrupt = false;
      return plan(a.action, a);
    },
    gossipClearDir: async (a) => {
      const x = get(a.node);
      if (a.dryRun) return plan(`clear-${a.dir}`, a);
      if (x.up) throw ApplicationFailure.nonRetryable(`plumtree still runs on ${a.node}: stop it first`, 'FailedPrecondition');
      x.cacheCorrupt = false;
      if (a.dir === 'data') x.stateCorrupt = false;
      return plan(`clear-${a.dir}`, a);
    },
  };
  return { nodes, names: nodes.map((x) => x.name), activities, heal };
}
