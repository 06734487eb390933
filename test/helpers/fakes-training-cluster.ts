/**
 * Fake training clusters for workflow-logic tests, shared by the unit tests
 * and the recorded branch histories (test/replay/branches.ts): stateful
 * overrides of the stub activities (see ./stubs) that steer a scenario into
 * one of its branches.
 */
import type { LifeboatActivities, P2pStatus } from '../../src/activities/types';
import { hardFailure, stubActivities } from './stubs';

/** The lab's training cluster: a coordinator, three voters in all, one worker. */
export const TC_NODES = [
  { name: 'tc-node1', roles: ['coordinator', 'voter'] },
  { name: 'tc-node2', roles: ['voter'] },
  { name: 'tc-node3', roles: ['voter'] },
  { name: 'tc-node4', roles: ['worker'] },
];

/** {@link TC_NODES} and a second worker: the cluster of the outage and sync-host scenarios. */
export const OPS_NODES = [...TC_NODES, { name: 'tc-node5', roles: ['worker'] }];

/** Changes the overrides before they are stubbed (e.g. to make one activity fail once). */
export type Tweak = (o: Partial<LifeboatActivities>) => void;

/** What the crashed old leader tc-node1 does when its P2P is restarted after the election. */
export type OldLeader = 'rejoins' | 'restart-fails' | 'stays-out' | 'back-on-its-own';

/**
 * tc-node1 (the old leader) is down; `electsAfter` says what brings a leader
 * back (`polls`: the automatic election after `opts.polls` status probes, 3 by
 * default), `opts.oldLeader` what a P2P restart does to tc-node1 (by default
 * it boots and is alive in the mesh two probes later).
 */
export function leaderFailure(electsAfter: 'polls' | 'reset' | 'set-leader' | 'present', opts: { polls?: number; oldLeader?: OldLeader; tweak?: Tweak } = {}): ReturnType<typeof stubActivities> {
  const polls = opts.polls ?? 3;
  const oldLeader = opts.oldLeader ?? 'rejoins';
  let leader: string | null = electsAfter === 'present' ? 'tc-node1' : null;
  const down = new Set(electsAfter === 'present' ? [] : ['tc-node1']);
  /** Probes of the leader's view left before a restarted tc-node1 is alive in the mesh. */
  let booting = -1;
  let n = 0;
  const overrides: Partial<LifeboatActivities> = {
    p2pStatus: async (a): Promise<P2pStatus> => {
      if (oldLeader === 'back-on-its-own' && leader) down.delete('tc-node1');
      if (booting >= 0 && a.node === leader && booting-- === 0) down.delete('tc-node1');
      if (down.has(a.node)) return { node: a.node, reachable: false, error: 'ECONNREFUSED' };
      n += 1;
      if (electsAfter === 'polls' && n > polls) leader = 'tc-node2';
      const alivePeers = TC_NODES.map((x) => x.name).filter((x) => !down.has(x));
      return { node: a.node, reachable: true, leaderId: leader, electionState: leader ? 'stable' : 'stalled', voters: ['tc-node1', 'tc-node2', 'tc-node3'], alivePeers };
    },
    p2pElectionReset: async (a) => {
      if (electsAfter === 'reset' && !a.dryRun) leader = 'tc-node3';
      return { plan: `reset on ${a.node}` };
    },
    p2pSetLeader: async (a) => {
      if (!a.dryRun) leader = a.leader;
      return { plan: `set-leader ${a.leader} on ${a.node}` };
    },
    p2pRestart: async (a) => {
      if (a.dryRun) return { dryRun: true, plan: `restart p2p on ${a.node}` };
      if (oldLeader === 'restart-fails') throw hardFailure(`the P2P orchestrator on ${a.node} is not running after the restart; fix the cause on the node, then retry the step`);
      if (oldLeader === 'rejoins') booting = 2;
      return { plan: `restart p2p on ${a.node}`, output: 'running (pid 4242); /health ok' };
    },
  };
  opts.tweak?.(overrides);
  return stubActivities(overrides);
}

/** How the v2 leader failure's fake cluster gets a leader back (the real orchestrator's behaviour, RingRift 2aa9f89b5). */
export type RealLeaderMode =
  /** A leader leads and stays. */
  | 'present'
  /** The crashed leader tc-node1 is brought back by its unit (Restart=always) after a few probes. */
  | 'unit-restarts'
  /** tc-node1 stays down until Lifeboat restarts it; then it leads again (the pinned coordinator). */
  | 'restart'
  /** A split brain: tc-node2 and tc-node3 both lead; a reset on the claimants lets tc-node1 lead alone. */
  | 'split-brain'
  /** Nothing elects a leader but a forced one (the coordinator forced back). */
  | 'force';

/**
 * A training cluster answering as the real orchestrator does: `role`,
 * `isLeader`, the followers' `leaderId` (a dead leader stays reported: a
 * stale leader), `alivePeers` from the peers it sees. tc-node4 (a worker)
 * is down too with `opts.workerDown`, and comes back when restarted.
 */
export function realLeaderFailure(mode: RealLeaderMode, opts: { workerDown?: boolean; polls?: number; tweak?: Tweak } = {}): ReturnType<typeof stubActivities> {
  const polls = opts.polls ?? 3;
  const down = new Set(mode === 'restart' || mode === 'unit-restarts' || mode === 'force' ? ['tc-node1'] : []);
  if (opts.workerDown) down.add('tc-node4');
  let leaders: string[] = mode === 'split-brain' ? ['tc-node2', 'tc-node3'] : mode === 'present' ? ['tc-node1'] : [];
  /** The leader the followers report: the dead tc-node1 until something changes it. */
  let reported: string | null = mode === 'split-brain' ? 'tc-node2' : 'tc-node1';
  let probes = 0;
  const all = TC_NODES.map((x) => x.name);
  const overrides: Partial<LifeboatActivities> = {
    p2pStatus: async (a): Promise<P2pStatus> => {
      probes += 1;
      if (mode === 'unit-restarts' && probes > polls * all.length && down.has('tc-node1')) {
        down.delete('tc-node1');
        leaders = ['tc-node1'];
        reported = 'tc-node1';
      }
      if (down.has(a.node)) return { node: a.node, reachable: false, error: 'ECONNREFUSED' };
      const leads = leaders.includes(a.node);
      const alivePeers = all.filter((x) => !down.has(x));
      return {
        node: a.node,
        reachable: true,
        role: leads ? 'leader' : 'follower',
        isLeader: leads,
        leaderId: leads ? a.node : reported,
        electionState: leads ? 'leader' : 'follower',
        voters: ['tc-node1', 'tc-node2', 'tc-node3'],
        alivePeers,
        alivePeerCount: alivePeers.length - 1,
      };
    },
    p2pRestart: async (a) => {
      if (a.dryRun) return { dryRun: true, plan: `restart p2p on ${a.node}` };
      down.delete(a.node);
      if (a.node === 'tc-node1' && mode === 'restart') {
        leaders = ['tc-node1'];
        reported = 'tc-node1';
      }
      return { plan: `restart p2p on ${a.node}`, output: 'script: running (pid 4242); /health ok' };
    },
    p2pElectionReset: async (a) => {
      if (a.dryRun) return { dryRun: true, plan: `reset on ${a.node}` };
      if (mode === 'split-brain') {
        leaders = leaders.filter((x) => x !== a.node);
        if (leaders.length === 0) {
          leaders = ['tc-node1'];
          reported = 'tc-node1';
        }
      }
      return { plan: `reset on ${a.node}` };
    },
    p2pSetLeader: async (a) => {
      if (a.dryRun) return { dryRun: true, plan: `force ${a.leader} on ${a.node}` };
      if (mode === 'force' && a.node === a.leader) {
        down.delete(a.leader);
        leaders = [a.leader];
        reported = a.leader;
      }
      return { plan: `force ${a.leader} on ${a.node}` };
    },
  };
  opts.tweak?.(overrides);
  return stubActivities(overrides);
}
