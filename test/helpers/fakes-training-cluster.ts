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
