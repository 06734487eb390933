/**
 * Fake training clusters for the cluster-outage and sync-host-critical
 * scenarios, shared by test/unit/training-ops.test.ts and the recorded branch
 * histories (test/replay/branches.ts): stateful overrides of the stub
 * activities (see ./stubs).
 */
import type { LifeboatActivities } from '../../src/activities/types';
import type { SyncHostStatus } from '../../src/activities/training-cluster/types';
import { OPS_NODES, type Tweak } from './fakes-training-cluster';
import { stubActivities } from './stubs';

const ALL = OPS_NODES.map((n) => n.name);

/** All nodes down; the coordinator answers after `coordinatorAfter` SSH probes (3 by default); one more node rejoins per status probe. `answering`: nodes that answer all along. */
export function outage(opts: { answering?: string[]; coordinatorAfter?: number } = {}): ReturnType<typeof stubActivities> {
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
      if (a.node !== 'tc-node1' || !started) return { node: a.node, reachable: false, error: 'ECONNREFUSED' };
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

/** One host as the sync coordinator sees it. */
export interface HostSim {
  state: string;
  retired?: boolean;
  reachable?: boolean;
  /** What heals it: the forced sync, the agent restart, the import, the unretire; nothing by default. */
  healedBy?: 'force' | 'restart' | 'import' | 'unretire';
}

/** The sync coordinator's view of `hosts`; each remedy heals a host whose `healedBy` names it. */
export function syncHosts(hosts: Record<string, HostSim>, tweak: Tweak = () => undefined): ReturnType<typeof stubActivities> {
  const status = (): SyncHostStatus[] =>
    Object.entries(hosts).map(([host, h]) => ({ host, state: h.state, retired: h.retired ?? false, lastSync: '2026-12-01T08:00:00.000Z', lastSeen: '2026-12-01T09:30:00.000Z', pendingGames: h.state === 'critical' ? 35 : 0 }));
  const heal = (host: string, by: HostSim['healedBy'], dry?: boolean) => {
    const h = hosts[host];
    if (h && !dry && h.healedBy === by) {
      h.state = 'healthy';
      h.retired = false;
    }
  };
  const o: Partial<LifeboatActivities> = {
    syncHosts: async () => ({ reachable: true, counts: {}, hosts: status() }),
    sshCheck: async (a) => ({ node: a.node, reachable: hosts[a.node]?.reachable ?? true }),
    syncForce: async (a) => {
      const ok = hosts[a.host]?.healedBy === 'force';
      heal(a.host, 'force', a.dryRun);
      return { plan: `force ${a.host}`, synced: ok, detail: ok ? 'synced' : 'coordinator refused (409): agent not responding' };
    },
    syncAgentRestart: async (a) => {
      const ok = hosts[a.node]?.healedBy === 'restart';
      heal(a.node, 'restart', a.dryRun);
      return { plan: `restart ${a.node}`, active: ok, reachable: true, detail: ok ? 'active' : 'not active after the restart' };
    },
    syncImport: async (a) => {
      heal(a.host, 'import', a.dryRun);
      return { plan: `import ${a.dataDir}`, imported: 2 };
    },
    syncUnretire: async (a) => {
      heal(a.host, 'unretire', a.dryRun);
      return { plan: `unretire ${a.host}` };
    },
    syncRetireHost: async (a) => {
      const h = hosts[a.host];
      if (h && !a.dryRun) {
        h.state = 'retired';
        h.retired = true;
      }
      return { plan: `retire ${a.host}` };
    },
  };
  tweak(o);
  return stubActivities(o);
}
