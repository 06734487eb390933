/**
 * Fake training clusters for the cluster-outage and sync-host-critical
 * (v2: the real sync surface) scenarios, shared by test/unit/training-ops.test.ts and the recorded branch
 * histories (test/replay/branches.ts): stateful overrides of the stub
 * activities (see ./stubs).
 */
import type { LifeboatActivities } from '../../src/activities/types';
import { OPS_NODES, type Tweak } from './fakes-training-cluster';
import { stubActivities } from './stubs';

const ALL = OPS_NODES.map((n) => n.name);

/** All nodes down; the coordinator answers after `coordinatorAfter` SSH probes (3 by default); one more node rejoins per status probe of the coordinator (and then answers its own, unless `silent`: the coordinator counts it alive, it does not answer); `answering`: nodes that answer all along. */
export function outage(opts: { answering?: string[]; coordinatorAfter?: number; silent?: string[] } = {}): ReturnType<typeof stubActivities> {
  let coordinatorProbes = 0;
  let started = false;
  let alive = 0;
  let launched = false;
  return stubActivities({
    sshCheck: async (a) => {
      if (opts.answering?.includes(a.node)) return { node: a.node, reachable: true };
      if (a.node === 'tc-node1' && ++coordinatorProbes > (opts.coordinatorAfter ?? 3)) return { node: a.node, reachable: true };
      return { node: a.node, reachable: false, error: 'ECONNREFUSED' };
    },
    p2pStatus: async (a) => {
      if (opts.answering?.includes(a.node)) return { node: a.node, reachable: true, leaderId: null, alivePeers: [a.node] };
      if (!started) return { node: a.node, reachable: false, error: 'ECONNREFUSED' };
      // A node in the coordinator's view answers /status itself too (the coordinator's own probe moves the rejoin on).
      if (a.node !== 'tc-node1') return ALL.slice(0, alive).includes(a.node) && !opts.silent?.includes(a.node) ? { node: a.node, reachable: true, leaderId: 'tc-node1', alivePeers: ALL.slice(0, alive) } : { node: a.node, reachable: false, error: 'ECONNREFUSED' };
      alive = Math.min(ALL.length, alive + 1);
      return { node: a.node, reachable: true, leaderId: alive >= 2 ? 'tc-node1' : null, alivePeers: ALL.slice(0, alive), electionState: 'stable', voters: ['tc-node1', 'tc-node2', 'tc-node3'] };
    },
    p2pRestart: async (a) => {
      if (!a.dryRun) started = true;
      return { plan: `p2pRestart ${a.node}`, dryRun: a.dryRun || undefined };
    },
    clusterLaunchDaemons: async (a) => {
      if (!a.dryRun) launched = true;
      return { plan: 'launch_daemons.py --all', dryRun: a.dryRun || undefined };
    },
    selfplayRunning: async (a) => ({ node: a.node, reachable: true, running: launched, processes: launched ? 1 : 0 }),
  });
}

/** One sync host on the real surface (RingRift 2aa9f89b5): the coordinator's peer view of it, the gauge, SSH. */
export interface HostSim {
  /** Counted by the critical gauge (its data unsynced). */
  critical?: boolean;
  /** Its orchestrator runs and heartbeats (false: not alive, no heartbeat, its own /status does not answer). */
  alive?: boolean;
  retired?: boolean;
  /** Over SSH (default true). */
  reachable?: boolean;
  /** The full sync cannot pull its data (default: it can). */
  unpullable?: boolean;
  /** What brings it back when its data is in: the full sync, the orchestrator restart, the import, the unretire. */
  healedBy?: 'trigger' | 'restart' | 'import' | 'unretire';
}

/**
 * The ai-service app's gauges and the coordinator's (tc-node1) P2P peers over `hosts`. The full sync collects every
 * pullable host's data; the named remedy brings its host back (alive, fresh, not retired, data in).
 */
export function syncHosts(hosts: Record<string, HostSim>, tweak: Tweak = () => undefined): ReturnType<typeof stubActivities> {
  const named = (h: HostSim) => h.alive === false || h.retired === true;
  const heal = (host: string, by: HostSim['healedBy'], dry?: boolean) => {
    const h = hosts[host];
    if (h && !dry && h.healedBy === by) Object.assign(h, { alive: true, retired: false, critical: false });
  };
  const o: Partial<LifeboatActivities> = {
    syncGauges: async () => {
      const n = Object.values(hosts).filter((h) => h.critical).length;
      return { reachable: true, total: 4, healthy: 4 - n, stale: 0, critical: n };
    },
    syncCriticalHosts: async (a) => ({
      node: a.node,
      reachable: true,
      staleSeconds: 300,
      hosts: Object.entries(hosts)
        .filter(([name, h]) => named(h) || name === a.host)
        .map(([host, h]) => ({
          host,
          retired: h.retired === true,
          alive: h.alive !== false,
          fresh: !named(h),
          ...(h.alive === false ? {} : { lastHeartbeat: '2026-12-01T10:00:00.000Z', heartbeatAgeSeconds: 5 }),
          why: named(h) ? [...(h.retired ? ['retired'] : []), ...(h.alive === false ? ['not alive', 'no heartbeat'] : [])] : ['named by the operator'],
        })),
    }),
    p2pStatus: async (a) => (hosts[a.node]?.alive === false ? { node: a.node, reachable: false, error: 'ECONNREFUSED' } : { node: a.node, reachable: true, leaderId: 'tc-node1', alivePeers: ALL }),
    sshCheck: async (a) => ({ node: a.node, reachable: hosts[a.node]?.reachable ?? true }),
    syncTrigger: async (a) => {
      if (a.dryRun) return { dryRun: true, plan: 'POST /admin/sync/trigger', synced: false, totalFiles: 0, detail: 'dry run' };
      let files = 0;
      for (const [name, h] of Object.entries(hosts)) {
        if (h.reachable === false || h.retired || h.unpullable) continue;
        if (h.critical) files += 3;
        h.critical = false;
        heal(name, 'trigger');
      }
      return { plan: 'POST /admin/sync/trigger', synced: true, totalFiles: files, detail: `full sync: ${files} file(s)` };
    },
    p2pRestart: async (a) => {
      heal(a.node, 'restart', a.dryRun);
      return { plan: `p2pRestart ${a.node}`, ...(a.dryRun ? { dryRun: true } : {}) };
    },
    p2pUnretire: async (a) => {
      heal(a.peer, 'unretire', a.dryRun);
      return { plan: `POST /admin/unretire?node_id=${a.peer}`, ...(a.dryRun ? { dryRun: true } : {}) };
    },
    syncImport: async (a) => {
      heal(a.host, 'import', a.dryRun);
      return { plan: `import ${a.dataDir}`, imported: 2, games: 35 };
    },
    gamesDbStatus: async (a) => ({ node: a.node, reachable: true, databases: [{ path: 'data/games/selfplay.db', size: '1M' }], exists: true, count: 35, integrity: 'ok', byConfig: { hex8_2p: 35 }, selfplayRunning: true }),
  };
  tweak(o);
  return stubActivities(o);
}
