/**
 * training-cluster.leader-failure (seed 000 §1) on the time-skipping server
 * with stub activities: wait for the automatic election, else reset it, else
 * a human designates the leader among the live voters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { LifeboatActivities, P2pStatus } from '../../src/activities/types';
import { approveUpdate, progressQuery, type Progress, type RecoveryInput } from '../../src/workflows/kit/defs';
import { stubActivities } from '../helpers/stubs';
import { bundle, taskQueue, timeSkippingEnv, WORKFLOWS_PATH } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await timeSkippingEnv();
  await bundle(WORKFLOWS_PATH);
});
after(async () => {
  await env?.teardown();
});

const NODES = [
  { name: 'tc-node1', roles: ['coordinator', 'voter'] },
  { name: 'tc-node2', roles: ['voter'] },
  { name: 'tc-node3', roles: ['voter'] },
  { name: 'tc-node4', roles: ['worker'] },
];

/** tc-node1 (the old leader) is down; `electsAfter` says what brings a leader back. */
function cluster(electsAfter: 'polls' | 'reset' | 'set-leader' | 'present', polls = 3) {
  let leader: string | null = electsAfter === 'present' ? 'tc-node1' : null;
  let n = 0;
  const overrides: Partial<LifeboatActivities> = {
    p2pStatus: async (a): Promise<P2pStatus> => {
      if (a.node === 'tc-node1' && electsAfter !== 'present') return { node: a.node, reachable: false, error: 'ECONNREFUSED' };
      n += 1;
      if (electsAfter === 'polls' && n > polls) leader = 'tc-node2';
      return { node: a.node, reachable: true, leaderId: leader, electionState: leader ? 'stable' : 'stalled', voters: ['tc-node1', 'tc-node2', 'tc-node3'], alivePeers: [] };
    },
    p2pElectionReset: async (a) => {
      if (electsAfter === 'reset' && !a.dryRun) leader = 'tc-node3';
      return { plan: `reset on ${a.node}` };
    },
    p2pSetLeader: async (a) => {
      if (!a.dryRun) leader = a.leader;
      return { plan: `set-leader ${a.leader} on ${a.node}` };
    },
  };
  return stubActivities(overrides);
}

function input(): RecoveryInput {
  return { scenario: 'training-cluster.leader-failure', cluster: { name: 'tc', system: 'training-cluster', nodes: NODES }, params: {}, startedBy: 'bob' };
}

let seq = 0;
async function withWorker<T>(acts: LifeboatActivities, fn: (h: WorkflowHandle) => Promise<T>): Promise<T> {
  const tq = taskQueue('leader');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: tq, workflowBundle: await bundle(WORKFLOWS_PATH), activities: acts });
  return worker.runUntil(async () => {
    seq += 1;
    return fn(await env.client.workflow.start('trainingClusterLeaderFailure', { taskQueue: tq, workflowId: `lf-${process.pid}-${seq}`, args: [input()] }));
  });
}

const effects = (s: ReturnType<typeof stubActivities>) => s.effects().map((c) => `${c.name}:${String(c.arg.node)}`);

describe('training-cluster.leader-failure', () => {
  test('option 1: the automatic election converges while we wait; nothing is forced', async () => {
    const stubs = cluster('polls');
    const r = await withWorker(stubs.activities, (h) => h.result());
    assert.match(r.outcome, /Leader restored by automatic election: leader tc-node2, 2 active job/);
    assert.deepEqual(effects(stubs), []);
  });

  test('option 2: no election within 60 s, an election reset on a live voter elects one', async () => {
    const stubs = cluster('reset');
    const r = await withWorker(stubs.activities, (h) => h.result());
    assert.match(r.outcome, /election reset on tc-node2: leader tc-node3/);
    assert.deepEqual(effects(stubs), ['p2pElectionReset:tc-node2']);
  });

  test('option 3: the approver designates a live voter (an invalid choice is refused), set-leader makes it lead', async () => {
    const stubs = cluster('set-leader');
    const r = await withWorker(stubs.activities, async (h) => {
      let p: Progress | undefined;
      for (let i = 0; i < 200 && !p?.gates.some((g) => g.status === 'waiting'); i++) {
        p = await h.query(progressQuery);
        // Time skips only while something awaits it: advance through the two 60 s waits by hand.
        await env.sleep('5 seconds');
      }
      assert.deepEqual(p?.gates[0]?.choices, ['tc-node2', 'tc-node3'], 'only live voters are offered');
      await assert.rejects(h.executeUpdate(approveUpdate, { args: [{ gate: 'set-leader', by: 'alice', reason: 'x', choice: 'tc-node1' }] }), (err: Error) => {
        assert.match(String((err.cause as Error | undefined)?.message), /needs a choice: one of tc-node2, tc-node3/);
        return true;
      });
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'set-leader', by: 'alice', reason: 'tc-node3 has the freshest state', choice: 'tc-node3' }] });
      return h.result();
    });
    assert.match(r.outcome, /manual designation of tc-node3 by alice/);
    assert.deepEqual(effects(stubs), ['p2pElectionReset:tc-node2', 'p2pSetLeader:tc-node3']);
  });

  test('a leader is present: nothing to recover, no effect', async () => {
    const stubs = cluster('present');
    const r = await withWorker(stubs.activities, (h) => h.result());
    assert.match(r.outcome, /Leader present \(tc-node1\)/);
    assert.deepEqual(effects(stubs), []);
  });
});
