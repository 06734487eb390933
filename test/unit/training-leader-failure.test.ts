/**
 * training-cluster.leader-failure (seed 000 §1), v2 on the real P2P API
 * (RingRift 2aa9f89b5), on the time-skipping server with a fake cluster that
 * answers as the real orchestrator does (test/helpers/fakes-training-cluster.ts
 * realLeaderFailure): wait for the automatic election, else restart the down
 * voters (only the coordinator is ever elected), else reset the election on
 * the voters and the claimants of a split brain, else a human forces a
 * leader; every wait ends only when one leader stays; then the down workers
 * are restarted. (v1 runs only when replaying histories recorded before.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { LifeboatActivities } from '../../src/activities/types';
import { approveUpdate, progressQuery, type Progress, type RecoveryInput } from '../../src/workflows/kit/defs';
import { realLeaderFailure, TC_NODES } from '../helpers/fakes-training-cluster';
import type { stubActivities } from '../helpers/stubs';
import { bundle, taskQueue, timeSkippingEnv, WORKFLOWS_PATH } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await timeSkippingEnv();
  await bundle(WORKFLOWS_PATH);
});
after(async () => {
  await env?.teardown();
});

function input(dryRun = false): RecoveryInput {
  return { scenario: 'training-cluster.leader-failure', cluster: { name: 'tc', system: 'training-cluster', nodes: TC_NODES }, params: {}, startedBy: 'bob', ...(dryRun ? { dryRun: true } : {}) };
}

let seq = 0;
async function withWorker<T>(acts: LifeboatActivities, fn: (h: WorkflowHandle) => Promise<T>, dryRun = false): Promise<T> {
  const tq = taskQueue('leader');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: tq, workflowBundle: await bundle(WORKFLOWS_PATH), activities: acts });
  return worker.runUntil(async () => {
    seq += 1;
    return fn(await env.client.workflow.start('trainingClusterLeaderFailure', { taskQueue: tq, workflowId: `lf-${process.pid}-${seq}`, args: [input(dryRun)] }));
  });
}

const effects = (s: ReturnType<typeof stubActivities>) => s.effects().map((c) => `${c.name}:${String(c.arg.node)}`);

describe('training-cluster.leader-failure (v2, real P2P API)', () => {
  test('the crashed leader is brought back by its unit while we wait: a stale leader named, nothing forced', async () => {
    const stubs = realLeaderFailure('unit-restarts');
    const r = await withWorker(stubs.activities, (h) => h.result());
    assert.match(r.outcome, /^Leader restored by automatic election: tc-node1 leads \(agreed by 4\/4\)/);
    assert.match(r.facts['root cause'] ?? '', /^stale leader tc-node1: the followers still report it, it does not lead \(down\); down: tc-node1$/);
    assert.match(r.outcome, /\/api\/jobs on tc-node1: 2 active of/);
    assert.deepEqual(effects(stubs), []);
  });

  test('the leader (the pinned coordinator) stays down: its P2P is restarted, then it leads and stays', async () => {
    const stubs = realLeaderFailure('restart');
    const { r, p } = await withWorker(stubs.activities, async (h) => ({ r: await h.result(), p: (await h.query(progressQuery)) as Progress }));
    assert.match(r.outcome, /^Leader restored by P2P restarted on tc-node1: tc-node1 leads \(agreed by 4\/4\)/);
    assert.deepEqual(effects(stubs), ['p2pRestart:tc-node1']);
    const wait = p.steps.find((s) => s.title.startsWith('Wait for the election after the restart'));
    assert.match(wait?.detail ?? '', /tc-node1 leads/);
    const first = p.steps.find((s) => s.title.startsWith('Option 1'));
    assert.equal(first?.status, 'continued');
    // Only the coordinator is ever elected: with it down, the wait is the short one before its restart.
    assert.match(first?.title ?? '', /^Option 1: wait for the automatic leader election \(30 s: the coordinator tc-node1 is down/);
  });

  test('a follower loses the leader once it is back (as a real one can): the election is reset on the voters once, then it stays', async () => {
    let restarted = false;
    let reset = false;
    let verifyProbes = 0;
    const stubs = realLeaderFailure('restart', {
      tweak: (o) => {
        const status = o.p2pStatus!;
        const restart = o.p2pRestart!;
        const electionReset = o.p2pElectionReset!;
        o.p2pRestart = async (a) => {
          restarted = true;
          return restart(a);
        };
        o.p2pElectionReset = async (a) => {
          reset = true;
          return electionReset(a);
        };
        o.p2pStatus = async (a) => {
          const s = await status(a);
          // After the restart and its wait (4 probes of 4 nodes agree), tc-node4 drops the leader until a reset.
          if (restarted && a.node === 'tc-node4' && ++verifyProbes > 4 && !reset) return { ...s, leaderId: null };
          return s;
        };
      },
    });
    const { r, p } = await withWorker(stubs.activities, async (h) => ({ r: await h.result(), p: (await h.query(progressQuery)) as Progress }));
    assert.equal(p.pendingDecision, undefined);
    assert.match(r.outcome, /^Leader restored by P2P restarted on tc-node1, then election reset on tc-node1, tc-node2, tc-node3: tc-node1 leads \(agreed by 4\/4\)/);
    assert.deepEqual(effects(stubs).sort(), ['p2pElectionReset:tc-node1', 'p2pElectionReset:tc-node2', 'p2pElectionReset:tc-node3', 'p2pRestart:tc-node1']);
    const verifies = p.steps.filter((s) => s.title.startsWith('Verify: one leader that stays'));
    assert.deepEqual(verifies.map((s) => s.status), ['continued', 'succeeded']);
    assert.ok(p.timeline.some((t) => /tc-node4 lost the leader/.test(t.text)), 'the note names the node that lost it');
  });

  test('a split brain is named and the claimants are reset; one leader stays', async () => {
    const stubs = realLeaderFailure('split-brain');
    const r = await withWorker(stubs.activities, (h) => h.result());
    assert.match(r.facts['split brain'] ?? '', /^2 nodes lead at once: tc-node2, tc-node3$/);
    assert.match(r.facts['root cause'] ?? '', /^SPLIT BRAIN: tc-node2, tc-node3 each lead/);
    assert.match(r.outcome, /^Leader restored by election reset on tc-node1, tc-node2, tc-node3: tc-node1 leads/);
    assert.deepEqual(effects(stubs).sort(), ['p2pElectionReset:tc-node1', 'p2pElectionReset:tc-node2', 'p2pElectionReset:tc-node3']);
  });

  test('nothing else works: the approver forces a voter (an invalid choice is refused), it is told to every node and stays', async () => {
    const stubs = realLeaderFailure('force');
    const r = await withWorker(stubs.activities, async (h) => {
      let p: Progress | undefined;
      for (let i = 0; i < 400 && !p?.gates.some((g) => g.status === 'waiting'); i++) {
        p = await h.query(progressQuery);
        await env.sleep('5 seconds');
      }
      assert.deepEqual(p?.gates[0]?.choices, ['tc-node1', 'tc-node2', 'tc-node3'], 'the voters are offered');
      await assert.rejects(h.executeUpdate(approveUpdate, { args: [{ gate: 'set-leader', by: 'alice', reason: 'x', choice: 'tc-node4' }] }), (err: Error) => {
        assert.match(String((err.cause as Error | undefined)?.message), /needs a choice: one of tc-node1, tc-node2, tc-node3/);
        return true;
      });
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'set-leader', by: 'alice', reason: 'the coordinator is the only one that stays', choice: 'tc-node1' }] });
      return h.result();
    });
    assert.match(r.outcome, /^Leader restored by leader forced to tc-node1 by alice: tc-node1 leads/);
    const e = effects(stubs);
    assert.equal(e[0], 'p2pRestart:tc-node1');
    assert.deepEqual(e.filter((x) => x.startsWith('p2pElectionReset')).sort(), ['p2pElectionReset:tc-node2', 'p2pElectionReset:tc-node3']);
    assert.deepEqual(e.filter((x) => x.startsWith('p2pSetLeader')).sort(), ['p2pSetLeader:tc-node1', 'p2pSetLeader:tc-node2', 'p2pSetLeader:tc-node3', 'p2pSetLeader:tc-node4']);
  });

  test('a leader is present and stays: nothing to recover, no effect', async () => {
    const stubs = realLeaderFailure('present');
    const r = await withWorker(stubs.activities, (h) => h.result());
    assert.match(r.outcome, /Leader present \(tc-node1\)/);
    assert.deepEqual(effects(stubs), []);
  });

  test('a worker down at diagnosis is restarted after the leader is back and waited for in the mesh', async () => {
    const stubs = realLeaderFailure('restart', { workerDown: true });
    const r = await withWorker(stubs.activities, (h) => h.result());
    assert.match(r.outcome, /; tc-node4 restarted and back in the mesh$/);
    assert.deepEqual(effects(stubs), ['p2pRestart:tc-node1', 'p2pRestart:tc-node4']);
  });

  test('dry run: the outcome is a plan, no effect performed', async () => {
    const stubs = realLeaderFailure('restart', { workerDown: true });
    const r = await withWorker(stubs.activities, (h) => h.result(), true);
    assert.equal(r.dryRun, true);
    assert.match(r.outcome, /^Dry run, nothing changed: would wait up to 30 s for the automatic election, else restart P2P on tc-node1, else reset the election on tc-node2, tc-node3, else ask an approver \(gate set-leader\) to force one of tc-node1, tc-node2, tc-node3; then verify one leader that stays .*; then restart P2P on tc-node4$/);
    assert.deepEqual(effects(stubs), []);
    assert.equal(r.facts.resolution, undefined);
  });
});
