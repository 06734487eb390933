/**
 * Default stubs of the gossip activities for workflow-logic tests (see ./stubs),
 * and {@link fakeGossip}: a small in-memory plumtree cluster whose stubbed
 * activities change its state the way real memberlist-plumtree 0.1.6 nodes
 * behind the control API do (and the lab's simulation, lab/gossip/sim):
 * membership views that a healed network does not merge back, joins through
 * reachable seeds, leaves that are final until a restart, the library's
 * health rules, anti-entropy between members, stores that refuse a start
 * when damaged. So every branch of every gossip scenario can be driven on
 * the time-skipping server.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { GossipActivities } from '../../src/activities/types';
import type { GossipMetrics } from '../../src/activities/gossip/types';
import type { PlanOf } from './stubs';

/** Names of the gossip activities that have an effect on the target. */
export const GOSSIP_EFFECTS: string[] = ['gossipLeave', 'gossipJoin', 'gossipRebalance', 'gossipClearCache', 'gossipEnableSync', 'gossipService', 'gossipClearDir'];

export function gossipStubs(plan: PlanOf): GossipActivities {
  return {
    gossipPeers: async (a) => ({ node: a.node, reachable: true, eager: ['peer'], lazy: [], members: [a.node, 'peer'], left: false }),
    gossipMetrics: async (a) => ({ node: a.node, reachable: true, values: { plumtree_eager_peers: 1, plumtree_lazy_peers: 0, plumtree_peer_count: 1 } }),
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
  /** Members it sees, itself included (empty while down). */
  view: Set<string>;
  /** The peers it keeps after a leave. */
  frozen?: { eager: string[]; lazy: string[] };
  /** Its link is cut (nothing reaches it). */
  cut: boolean;
  /** The switch is split: nodes of different groups cannot reach each other. */
  group: number;
  /** Its message store is damaged: it cannot start until the store is cleared. */
  storeCorrupt: boolean;
  /** It crashed processing a bad cached message; a restart clears an in-memory cache. */
  cacheBad: boolean;
  /** Anti-entropy configured. */
  sync: boolean;
  messages: Set<string>;
}

export interface FakeOptions {
  nodes?: number;
  seeds?: number;
  /** `POST /admin/join` through a reachable seed works (default true; a node's start-up join always does). */
  joinWorks?: boolean;
  /** Seeds answer on their TCP port from every node (default true). */
  seedsOpen?: boolean;
  /** Anti-entropy is configured on every node (default true). */
  syncConfigured?: boolean;
  /** Members that reach each other reconcile their messages (default true). */
  syncConverges?: boolean;
  /** The split views merge on their own after this many /debug/peers reads (within memberlist's gossip-to-the-dead time; default never). */
  autoHealAfterReads?: number;
}

export interface Fake {
  nodes: FakeNode[];
  names: string[];
  activities: Partial<GossipActivities>;
  /** Each group sees only its own members (a partition or split brain after the network came back). */
  splitViews(groups: string[][]): void;
  /** One node sees only itself, the others no longer list it. */
  isolate(name: string): void;
  /** The node's process dies (a crash). */
  crash(name: string): void;
}

/** A fake gossip cluster `gossip1..N` (first `seeds` are seeds) and the stub activities acting on it. */
export function fakeGossip(opts: FakeOptions = {}): Fake {
  const n = opts.nodes ?? 5;
  const seeds = opts.seeds ?? 2;
  const names = Array.from({ length: n }, (_, i) => `gossip${i + 1}`);
  const nodes: FakeNode[] = names.map((name, i) => ({
    name,
    seed: i < seeds,
    up: true,
    sshDown: false,
    left: false,
    view: new Set(names),
    cut: false,
    group: 0,
    storeCorrupt: false,
    cacheBad: false,
    sync: opts.syncConfigured ?? true,
    messages: new Set(['m0']),
  }));
  let peerReads = 0;
  const get = (name: string): FakeNode => {
    const x = nodes.find((y) => y.name === name);
    if (!x) throw ApplicationFailure.nonRetryable(`no node ${name}`, 'BadInventory');
    return x;
  };
  const reach = (a: FakeNode, b: FakeNode) => a.up && b.up && !a.cut && !b.cut && a.group === b.group;
  const drop = (name: string) => nodes.forEach((x) => x.view.delete(name));
  const peersOf = (x: FakeNode) => {
    if (x.left && x.frozen) return x.frozen;
    const others = [...x.view].filter((y) => y !== x.name).sort();
    return { eager: others.slice(0, 3), lazy: others.slice(3) };
  };
  const merge = (a: FakeNode, b: FakeNode) => {
    const all = new Set([...a.view, ...b.view, a.name, b.name]);
    for (const m of all) {
      const x = get(m);
      if (x.up && !x.left) all.forEach((y) => x.view.add(y));
    }
  };
  const join = (x: FakeNode): boolean => {
    let joined = false;
    for (const s of nodes) {
      if (s !== x && s.seed && !s.left && reach(x, s)) {
        merge(x, s);
        joined = true;
      }
    }
    return joined;
  };
  const components = (): FakeNode[][] => {
    const seen = new Set<string>();
    const out: FakeNode[][] = [];
    for (const x of nodes.filter((y) => y.up && !y.left)) {
      if (seen.has(x.name)) continue;
      const c = [...x.view].map(get).filter((y) => y.up && !y.left);
      c.forEach((y) => seen.add(y.name));
      out.push(c);
    }
    return out;
  };
  const reconcile = () => {
    if ((opts.syncConverges ?? true) === false) return;
    for (const c of components()) {
      if (!c.every((y) => y.sync)) continue;
      const all = new Set(c.flatMap((y) => [...y.messages]));
      c.forEach((y) => (y.messages = new Set(all)));
    }
  };
  const plan = (what: string, a: { node: string; dryRun?: boolean }) => ({ plan: `${what} ${a.node}`, ...(a.dryRun ? { dryRun: true } : {}) });
  const health = (x: FakeNode) => {
    const p = peersOf(x);
    const total = p.eager.length + p.lazy.length;
    if (x.cacheBad) return { status: 'unhealthy' as const, message: 'High Graft failure rate: 90.0%' };
    if (total === 0) return { status: 'unhealthy' as const, message: 'No peers connected' };
    if (p.eager.length === 0) return { status: 'degraded' as const, message: 'No eager peers - tree may not be formed' };
    if (total < 3) return { status: 'degraded' as const, message: `Low peer count: ${total} peers` };
    return { status: 'healthy' as const, message: 'Operating normally' };
  };
  const start = (x: FakeNode) => {
    if (x.storeCorrupt) throw ApplicationFailure.nonRetryable(`plumtree on ${x.name} is failed after \`systemctl start\`: message store cannot be opened: it is corrupted`, 'StartFailed');
    x.up = true;
    x.left = false;
    x.frozen = undefined;
    x.cut = false;
    x.cacheBad = false;
    x.view = new Set([x.name]);
    join(x);
    // A node that started alone keeps retrying its start-up join: a seed coming up later takes it in.
    nodes.filter((y) => y.up && !y.left && y.view.size === 1).forEach((y) => join(y));
  };

  const activities: Partial<GossipActivities> = {
    gossipPeers: async (a) => {
      peerReads += 1;
      if (opts.autoHealAfterReads !== undefined && peerReads > opts.autoHealAfterReads) {
        const up = nodes.filter((y) => y.up && !y.left);
        up.forEach((y) => up.forEach((z) => y.view.add(z.name)));
      }
      const x = get(a.node);
      if (!x.up) return { node: a.node, reachable: false, error: 'connection refused', eager: [], lazy: [], members: [] };
      return { node: a.node, reachable: true, ...peersOf(x), members: [...x.view].filter((y) => !(x.left && y === x.name)).sort(), left: x.left };
    },
    gossipMetrics: async (a): Promise<GossipMetrics> => {
      const x = get(a.node);
      if (!x.up) return { node: a.node, reachable: false, error: 'connection refused', values: {} };
      const p = peersOf(x);
      return {
        node: a.node,
        reachable: true,
        values: {
          plumtree_eager_peers: p.eager.length,
          plumtree_lazy_peers: p.lazy.length,
          plumtree_peer_count: p.eager.length + p.lazy.length,
          ...(nodes.some((y) => !y.up) ? { plumtree_graft_failed_total: 3 } : {}),
        },
      };
    },
    gossipHealth: async (a) => {
      const x = get(a.node);
      if (!x.up) return { node: a.node, reachable: false, error: 'connection refused', status: 'down', message: 'the API does not answer', eager: 0, lazy: 0 };
      const p = peersOf(x);
      return { node: a.node, reachable: true, ...health(x), eager: p.eager.length, lazy: p.lazy.length };
    },
    gossipSync: async (a) => {
      reconcile();
      const x = get(a.node);
      if (!x.up) return { node: a.node, reachable: false, error: 'connection refused', enabled: false, rootHash: '', messages: 0 };
      return { node: a.node, reachable: true, enabled: x.sync, rootHash: [...x.messages].sort().join('+'), messages: x.messages.size };
    },
    gossipSeedCheck: async (a) => {
      const x = get(a.node);
      if (x.sshDown) return { node: a.node, sshReachable: false, error: 'ssh: connect timed out', seeds: [] };
      const open = (opts.seedsOpen ?? true) && !x.cut;
      return { node: a.node, sshReachable: true, seeds: nodes.filter((s) => s.seed).map((s) => ({ seed: `${s.name}:7946`, open: open && s.up, detail: open && s.up ? 'open' : 'no answer within 5 s' })) };
    },
    gossipServiceState: async (a) => {
      const x = get(a.node);
      if (x.sshDown) return { node: a.node, sshReachable: false, error: 'ssh: connect timed out', active: false, state: 'unknown (no SSH)' };
      return { node: a.node, sshReachable: true, active: x.up, state: x.up ? 'active' : 'failed' };
    },
    gossipLeave: async (a) => {
      const x = get(a.node);
      if (a.dryRun) return plan('leave', a);
      if (x.left) return { ...plan('leave', a), alreadyDone: true };
      x.frozen = peersOf(x);
      x.left = true;
      nodes.filter((y) => y !== x).forEach((y) => y.view.delete(x.name));
      return plan('leave', a);
    },
    gossipJoin: async (a) => {
      const x = get(a.node);
      if (a.dryRun) return plan('join', a);
      if (x.left) throw ApplicationFailure.nonRetryable(`${a.node} has left the cluster and memberlist joins again only after a restart`, 'NodeLeft');
      if (names.every((y) => x.view.has(y) || !get(y).up)) return { ...plan('join', a), alreadyDone: true, eager: peersOf(x).eager.length };
      if ((opts.joinWorks ?? true) === false || !join(x)) throw ApplicationFailure.nonRetryable(`${a.node} could not join through the seeds: no seed reachable`, 'JoinFailed');
      return { ...plan('join', a), eager: peersOf(x).eager.length };
    },
    gossipRebalance: async (a) => plan('rebalance', a),
    gossipClearCache: async (a) => plan('cache-clear', a),
    gossipEnableSync: async (a) => ({ ...plan('sync-enable', a), supported: false }),
    gossipService: async (a) => {
      const x = get(a.node);
      if (a.dryRun) return plan(a.action, a);
      if (x.sshDown) throw ApplicationFailure.nonRetryable(`${a.node} does not answer over SSH`, 'CommandFailed');
      if (a.action === 'stop') {
        const was = x.up;
        x.up = false;
        drop(x.name);
        x.view = new Set();
        return { ...plan('stop', a), ...(was ? {} : { alreadyDone: true }) };
      }
      if (a.action === 'start' && x.up) return { ...plan('start', a), alreadyDone: true };
      if (a.action === 'restart' && x.up) {
        x.up = false;
        drop(x.name);
      }
      start(x);
      return plan(a.action, a);
    },
    gossipClearDir: async (a) => {
      const x = get(a.node);
      if (a.dryRun) return plan(`clear-${a.dir}`, a);
      if (x.up) throw ApplicationFailure.nonRetryable(`plumtree still runs on ${a.node}: stop it first`, 'FailedPrecondition');
      x.storeCorrupt = false;
      x.messages = new Set();
      return plan(`clear-${a.dir}`, a);
    },
  };
  return {
    nodes,
    names,
    activities,
    splitViews(groups) {
      for (const g of groups) for (const name of g) get(name).view = new Set(g.filter((y) => get(y).up));
    },
    isolate(name) {
      get(name).view = new Set([name]);
      nodes.filter((y) => y.name !== name).forEach((y) => y.view.delete(name));
    },
    crash(name) {
      const x = get(name);
      x.up = false;
      x.view = new Set();
      drop(name);
    },
  };
}
