/**
 * training-cluster.leader-failure (seed 000 §1) on the time-skipping server
 * with stub activities: wait for the automatic election, else reset it, else
 * a human designates the leader among the live voters; then the crashed old
 * leader is restarted and waited for until it rejoins the mesh, or named in a
 * follow-up when it does not.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { LifeboatActivities } from '../../src/activities/types';
import { approveUpdate, progressQuery, type Progress, type RecoveryInput } from '../../src/workflows/kit/defs';
import { leaderFailure, TC_NODES } from '../helpers/fakes-training-cluster';
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

describe('training-cluster.leader-failure', () => {
  test('option 1: the automatic election converges while we wait; nothing is forced', async () => {
    const stubs = leaderFailure('polls');
    const r = await withWorker(stubs.activities, (h) => h.result());
    assert.match(r.outcome, /Leader restored by automatic election: leader tc-node2, 2 active job/);
    assert.deepEqual(effects(stubs), ['p2pRestart:tc-node1'], 'no election forced; only the crashed old leader restarted');
  });

  test('option 2: no election within 60 s, an election reset on a live voter elects one', async () => {
    const stubs = leaderFailure('reset');
    const r = await withWorker(stubs.activities, (h) => h.result());
    assert.match(r.outcome, /election reset on tc-node2: leader tc-node3/);
    assert.deepEqual(effects(stubs), ['p2pElectionReset:tc-node2', 'p2pRestart:tc-node1']);
  });

  test('option 3: the approver designates a live voter (an invalid choice is refused), set-leader makes it lead', async () => {
    const stubs = leaderFailure('set-leader');
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
    assert.deepEqual(effects(stubs), ['p2pElectionReset:tc-node2', 'p2pSetLeader:tc-node3', 'p2pRestart:tc-node1']);
  });

  test('a leader is present: nothing to recover, no effect', async () => {
    const stubs = leaderFailure('present');
    const r = await withWorker(stubs.activities, (h) => h.result());
    assert.match(r.outcome, /Leader present \(tc-node1\)/);
    assert.deepEqual(effects(stubs), []);
  });
  test('after the election the crashed old leader gets its P2P restarted once and is waited for until it is alive in the mesh', async () => {
    const stubs = leaderFailure('polls');
    const { r, p } = await withWorker(stubs.activities, async (h) => ({ r: await h.result(), p: (await h.query(progressQuery)) as Progress }));
    assert.match(r.outcome, /^Leader restored by automatic election: leader tc-node2, 2 active job\(s\); P2P restarted on tc-node1, back in the mesh \(4\/4 alive\)$/);
    assert.deepEqual(effects(stubs), ['p2pRestart:tc-node1']);
    const titles = p.steps.map((s) => `${s.title}: ${s.status}`);
    const verify = titles.findIndex((t) => t.startsWith('Verify:'));
    const restart = titles.findIndex((t) => t.startsWith('Restart P2P on the node(s) still out of the mesh: tc-node1'));
    assert.ok(verify >= 0 && restart > verify, `restart after the verification: ${titles.join(' | ')}`);
    assert.match(titles.at(-1) ?? '', /^Wait until tc-node1 is alive in the mesh again \(2 min\): succeeded$/);
    assert.match(p.steps.at(-1)?.detail ?? '', /tc-node1 alive in the mesh \(4\/4 alive\)/);
    // Booting: the first probes saw it out of the mesh, so the wait polled (durably) before it was done.
    const polls = stubs.calls.filter((c) => c.name === 'p2pStatus' && c.arg.node === 'tc-node2').length;
    assert.ok(polls >= 3, `${polls} probes of the leader`);
    assert.ok(!Object.keys(r.facts).some((k) => k.endsWith('follow-up')), JSON.stringify(r.facts));
  });

  test('the old leader cannot be restarted: the recovery still completes, names tc-node1 and records its follow-up', async () => {
    const stubs = leaderFailure('polls', { oldLeader: 'restart-fails' });
    const { r, p } = await withWorker(stubs.activities, async (h) => ({ r: await h.result(), p: (await h.query(progressQuery)) as Progress }));
    assert.equal(r.status, 'completed');
    assert.match(r.outcome, /^Leader restored by automatic election: leader tc-node2, 2 active job\(s\); NOT whole: P2P restart failed on tc-node1 \(follow-up recorded for tc-node1\)$/);
    assert.match(r.facts['tc-node1: follow-up'] ?? '', /P2P restart failed \(.*not running after the restart.*\): check the host .*then run training-cluster\.mesh-collapse/);
    assert.equal(p.steps.find((s) => s.title.startsWith('Restart P2P'))?.status, 'continued');
    assert.ok(!p.steps.some((s) => s.title.startsWith('Wait until tc-node1')), 'nothing restarted: nothing to wait for');
    assert.ok(p.timeline.some((e) => e.kind === 'note' && /still out of the mesh after the recovery: tc-node1/.test(e.text)));
    assert.equal(p.pendingDecision, undefined, 'nobody was asked');
  });

  test('the old leader is restarted but does not rejoin within 2 min: completed, named, follow-up recorded', async () => {
    const stubs = leaderFailure('reset', { oldLeader: 'stays-out' });
    const { r, p } = await withWorker(stubs.activities, async (h) => ({ r: await h.result(), p: (await h.query(progressQuery)) as Progress }));
    assert.equal(r.status, 'completed');
    assert.match(r.outcome, /election reset on tc-node2: leader tc-node3, 2 active job\(s\); NOT whole: tc-node1 restarted but not alive in the mesh after 2 min \(follow-up recorded for tc-node1\)$/);
    assert.match(r.facts['tc-node1: follow-up'] ?? '', /not alive in the mesh after 2 min: .*training-cluster\.mesh-collapse/);
    const wait = p.steps.find((s) => s.title.startsWith('Wait until tc-node1'));
    assert.equal(wait?.status, 'continued');
    assert.match(wait?.error ?? '', /Gave up waiting until tc-node1 alive in the mesh after 1[12]\d s: last seen not yet in the mesh: tc-node1 \(3\/4 alive\)/);
    assert.deepEqual(effects(stubs), ['p2pElectionReset:tc-node2', 'p2pRestart:tc-node1'], 'restarted once, not again at every probe');
  });

  test('the old leader came back on its own during the election: checked, nothing restarted', async () => {
    const stubs = leaderFailure('polls', { oldLeader: 'back-on-its-own' });
    const r = await withWorker(stubs.activities, (h) => h.result());
    assert.match(r.outcome, /; tc-node1 back in the mesh on its own$/);
    assert.deepEqual(effects(stubs), []);
  });

  test('dry run: the outcome is a plan (the restart of tc-node1 included), no effect performed', async () => {
    const stubs = leaderFailure('reset');
    const r = await withWorker(stubs.activities, (h) => h.result(), true);
    assert.equal(r.dryRun, true);
    assert.match(r.outcome, /^Dry run, nothing changed: would wait up to 60 s for the automatic election, else reset the election on tc-node2, else ask an approver \(gate set-leader\) to designate one of tc-node2, tc-node3; then verify .*; then restart P2P on tc-node1 \(still out of the mesh\) and wait up to 2 min until it is alive in the mesh again$/);
    assert.doesNotMatch(r.outcome, /restored|restarted on/);
    assert.deepEqual(effects(stubs), []);
    assert.ok(stubs.calls.some((c) => c.name === 'p2pRestart' && c.arg.dryRun === true), 'the restart is planned (dry-run call)');
    assert.equal(r.facts.resolution, undefined);
    assert.match(r.facts.plan ?? '', /restart P2P on tc-node1/);
  });
});
