/**
 * The runbook kit on the time-skipping test server: gates (validator rules,
 * timeout and escalation), step failure policies (retry/skip/abort),
 * fanOut's error budget and retry-only-failed, dry run, waitFor, RTO
 * crossing, and the per-cluster recovery refusal.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { LifeboatActivities } from '../../src/activities/types';
import { approveUpdate, decideUpdate, progressQuery, rejectUpdate, type Progress, type RecoveryInput } from '../../src/workflows/kit/defs';
import { planBatches } from '../../src/workflows/kit/fanout';
import { bundle, taskQueue, timeSkippingEnv } from '../helpers/temporal';
import { hardFailure, stubActivities } from '../helpers/stubs';

const KIT_PATH = path.resolve(__dirname, '../fixtures/kit-workflows.js');
let env: TestWorkflowEnvironment;

before(async () => {
  env = await timeSkippingEnv();
  await bundle(KIT_PATH);
});
after(async () => {
  await env?.teardown();
});

function input(params: Record<string, unknown> = {}, extra: Partial<RecoveryInput> = {}): RecoveryInput {
  return {
    scenario: 'test.kit',
    cluster: { name: 'c1', system: 'ledger', nodes: ['node1', 'node2', 'node3'].map((name) => ({ name, roles: ['voter'] })) },
    params,
    startedBy: 'bob',
    ...extra,
  };
}

async function run<T>(acts: LifeboatActivities, fn: (tq: string) => Promise<T>): Promise<T> {
  const tq = taskQueue('kit');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: tq,
    workflowBundle: await bundle(KIT_PATH),
    activities: acts,
  });
  return worker.runUntil(fn(tq));
}

let idSeq = 0;
function start(tq: string, wf: string, inp: RecoveryInput): Promise<WorkflowHandle> {
  idSeq += 1;
  return env.client.workflow.start(wf, { taskQueue: tq, workflowId: `kit-${wf}-${process.pid}-${idSeq}`, args: [inp] });
}

/** Polls the progress query until `pred` holds (bounded: 10 s). */
async function until(h: WorkflowHandle, pred: (p: Progress) => boolean): Promise<Progress> {
  for (let i = 0; i < 200; i++) {
    const p = await h.query(progressQuery);
    if (pred(p)) return p;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not reached; last progress: ${JSON.stringify(await h.query(progressQuery)).slice(0, 2000)}`);
}

async function rejectsWith(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: Error) => {
    const msg = `${err.message} ${String((err as { cause?: Error }).cause?.message ?? '')}`;
    assert.match(msg, re);
    return true;
  });
}

function failureType(err: unknown): string | undefined {
  return ((err as WorkflowFailedError).cause as { type?: string } | undefined)?.type;
}

describe('approve: the validator refuses bad approvals', () => {
  test('unknown gate, empty identity, starter on a dangerous gate, missing confirmation, missing reason', async () => {
    const stubs = stubActivities();
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', input());
      await until(h, (p) => p.gates.some((g) => g.status === 'waiting'));
      await rejectsWith(h.executeUpdate(approveUpdate, { args: [{ gate: 'nope', by: 'alice', reason: 'x', confirm: 'c1' }] }), /unknown gate "nope"; waiting: wipe/);
      await rejectsWith(h.executeUpdate(approveUpdate, { args: [{ gate: 'wipe', by: '  ', reason: 'x', confirm: 'c1' }] }), /identity is required/);
      await rejectsWith(h.executeUpdate(approveUpdate, { args: [{ gate: 'wipe', by: 'bob', reason: 'x', confirm: 'c1' }] }), /bob started this recovery and cannot also approve/);
      await rejectsWith(h.executeUpdate(approveUpdate, { args: [{ gate: 'wipe', by: 'alice', reason: 'x' }] }), /--confirm c1/);
      await rejectsWith(h.executeUpdate(approveUpdate, { args: [{ gate: 'wipe', by: 'alice', reason: 'x', confirm: 'wrong' }] }), /--confirm c1/);
      await rejectsWith(h.executeUpdate(approveUpdate, { args: [{ gate: 'wipe', by: 'alice', reason: ' ', confirm: 'c1' }] }), /reason is required/);
      // Nothing happened while the refusals came in.
      assert.equal(stubs.effects().length, 0);
      const rec = await h.executeUpdate(approveUpdate, { args: [{ gate: 'wipe', by: 'alice', reason: 'old cluster is gone', confirm: 'c1' }] });
      assert.equal(rec.gate, 'wipe');
      const result = await h.result();
      assert.equal(result.outcome, 'done by alice');
      // A late, duplicate approval is refused, naming who decided.
      const p = await h.query(progressQuery);
      const gate = p.gates[0]!;
      assert.equal(gate.status, 'approved');
      assert.equal(gate.by, 'alice');
      assert.equal(gate.reason, 'old cluster is gone');
      assert.ok(gate.decidedAt);
      assert.equal(stubs.effects().length, 1);
    });
  });

  test('a duplicate approval after the decision is refused with who decided', async () => {
    const stubs = stubActivities({
      // Keep the workflow open after the gate so the late update reaches a running workflow.
      ledgerClearData: async () => {
        await new Promise((r) => setTimeout(r, 1500));
        return { plan: 'rm' };
      },
    });
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', input({ gate: 'soft' }));
      await until(h, (p) => p.gates.some((g) => g.status === 'waiting'));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'soft', by: 'bob', reason: 'ok' }] });
      await rejectsWith(h.executeUpdate(approveUpdate, { args: [{ gate: 'soft', by: 'carol', reason: 'me too' }] }), /no longer waiting: it was approved by bob/);
      await h.result();
    });
  });

  test('a gate with choices needs a valid choice, and the choice is used', async () => {
    const stubs = stubActivities();
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', input({ gate: 'pick', choices: ['node2', 'node3'] }));
      await until(h, (p) => p.gates.some((g) => g.status === 'waiting'));
      await rejectsWith(h.executeUpdate(approveUpdate, { args: [{ gate: 'pick', by: 'alice', reason: 'x' }] }), /needs a choice: one of node2, node3/);
      await rejectsWith(h.executeUpdate(approveUpdate, { args: [{ gate: 'pick', by: 'alice', reason: 'x', choice: 'node9' }] }), /one of node2, node3/);
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'pick', by: 'alice', reason: 'most recent data', choice: 'node3' }] });
      const r = await h.result();
      assert.equal(r.outcome, 'done by alice choosing node3');
      assert.equal(stubs.effects()[0]?.arg.node, 'node3');
    });
  });

  test('a rejection ends the recovery with GateRejected and nothing after the gate runs', async () => {
    const stubs = stubActivities();
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', input());
      await until(h, (p) => p.gates.some((g) => g.status === 'waiting'));
      await rejectsWith(h.executeUpdate(rejectUpdate, { args: [{ gate: 'wipe', by: 'alice', reason: '' }] }), /reason is required/);
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'wipe', by: 'alice', reason: 'node2 may come back' }] });
      const err = await h.result().then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof WorkflowFailedError);
      assert.equal(failureType(err), 'GateRejected');
      assert.match(String((err.cause as Error).message), /alice rejected "wipe" \(node2 may come back\)/);
      assert.equal(stubs.effects().length, 0);
      const p = await h.query(progressQuery);
      assert.equal(p.status, 'aborted');
      assert.equal(p.gates[0]?.status, 'rejected');
    });
  });
});

describe('approve: timeout and escalation', () => {
  test('escalation "fail": notifies, then fails with ApprovalTimedOut; a late approval is refused', async () => {
    const notes: string[] = [];
    const stubs = stubActivities({ notify: async (n) => void notes.push(n.subject) });
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', input({}, { options: { approvalTimeout: '20m', approvalEscalation: 'fail' } }));
      const err = await h.result().then(() => undefined, (e: unknown) => e);
      assert.equal(failureType(err), 'ApprovalTimedOut');
      assert.ok(notes.some((s) => s.startsWith('Approval needed')), notes.join('|'));
      assert.ok(notes.some((s) => s.startsWith('ESCALATION')), notes.join('|'));
      assert.equal(stubs.effects().length, 0);
      const p = await h.query(progressQuery);
      assert.equal(p.gates[0]?.status, 'timed-out');
      assert.equal(p.gates[0]?.escalations, 1);
    });
  });

  test('escalation "ask": the operator retries the wait, then the gate is approved', async () => {
    const notes: string[] = [];
    const stubs = stubActivities({ notify: async (n) => void notes.push(n.subject) });
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', input({ gate: 'soft' }, { options: { approvalTimeout: '20m', approvalEscalation: 'ask' } }));
      // Advance past the deadline by hand: awaiting result() would let the
      // server skip through every later deadline too.
      await until(h, (p) => p.gates[0]?.status === 'waiting');
      await env.sleep('21 minutes');
      await until(h, (p) => p.pendingDecision !== undefined);
      assert.ok(notes.some((s) => s.startsWith('ESCALATION')));
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'retry', by: 'carol' }] });
      await until(h, (p) => p.gates[0]?.status === 'waiting' && p.pendingDecision === undefined);
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'soft', by: 'carol', reason: 'back online' }] });
      const r = await h.result();
      assert.equal(r.outcome, 'done by carol');
    });
  });
  test('a timed-out gate cannot be skipped unless the scenario says what skipping means', async () => {
    const stubs = stubActivities();
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', input({ gate: 'soft' }, { options: { approvalTimeout: '20m', approvalEscalation: 'ask' } }));
      await until(h, (p) => p.gates[0]?.status === 'waiting');
      await env.sleep('21 minutes');
      await until(h, (p) => p.pendingDecision !== undefined);
      const p = await h.query(progressQuery);
      assert.deepEqual(p.pendingDecision?.choices, ['retry', 'abort']);
      await rejectsWith(h.executeUpdate(decideUpdate, { args: [{ decision: 'skip', by: 'carol' }] }), /"skip" is not possible .*answer retry or abort.*without an approval/);
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'abort', by: 'carol' }] });
      const err = await h.result().then(() => undefined, (e: unknown) => e);
      assert.equal(failureType(err), 'RecoveryAborted');
      assert.equal(stubs.effects().length, 0, 'nothing behind the gate ran');
    });
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', input({ gate: 'soft', skippable: true }, { options: { approvalTimeout: '20m', approvalEscalation: 'ask' } }));
      await until(h, (p) => p.gates[0]?.status === 'waiting');
      await env.sleep('21 minutes');
      await until(h, (p) => p.pendingDecision !== undefined);
      assert.equal((await h.query(progressQuery)).pendingDecision?.choices, undefined);
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'skip', by: 'carol' }] });
      const r = await h.result();
      assert.equal(r.outcome, 'gate skipped by carol: nothing wiped');
      assert.equal(stubs.effects().length, 0);
    });
  });
});

describe('step: failure policies', () => {
  test('fail: the recovery fails with the step named and the cause', async () => {
    const stubs = stubActivities({ ledgerStop: async () => { throw hardFailure('systemctl: permission denied'); } });
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitStep', input({ policy: 'fail' }));
      const err = await h.result().then(() => undefined, (e: unknown) => e);
      assert.equal(failureType(err), 'StepFailed');
      assert.match(String(((err as WorkflowFailedError).cause as Error).message), /Step "Stop node1" failed: systemctl: permission denied/);
    });
  });

  test('continue: the failure is recorded and the next step runs', async () => {
    let n = 0;
    const stubs = stubActivities({
      ledgerStop: async (a) => {
        n += 1;
        if (a.node === 'node1') throw hardFailure('unit not found');
        return { plan: 'stop' };
      },
    });
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitStep', input({ policy: 'continue' }));
      const r = await h.result();
      assert.equal(r.outcome, 'node1 skipped');
      const p = await h.query(progressQuery);
      assert.deepEqual(p.steps.map((s) => s.status), ['continued', 'succeeded']);
      assert.equal(p.steps[0]?.error, 'unit not found');
      assert.equal(n, 2);
    });
  });

  test('ask: retry re-runs the step, skip moves on, abort ends the recovery; decide with nothing waiting is refused', async () => {
    let fails = 1;
    const stubs = stubActivities({
      ledgerStop: async (a) => {
        if (a.node === 'node1' && fails-- > 0) throw hardFailure('connection refused by node1');
        return { plan: `stop ${a.node}` };
      },
    });
    await run(stubs.activities, async (tq) => {
      // retry
      // Nothing waits for a decision while a recovery sits at a gate.
      const gated = await start(tq, 'kitGate', input({ gate: 'soft' }));
      await until(gated, (x) => x.gates.some((g) => g.status === 'waiting'));
      await rejectsWith(gated.executeUpdate(decideUpdate, { args: [{ decision: 'retry', by: 'alice' }] }), /nothing is waiting for a decision/);
      await gated.executeUpdate(approveUpdate, { args: [{ gate: 'soft', by: 'alice', reason: 'ok' }] });
      await gated.result();

      let h = await start(tq, 'kitStep', input({ policy: 'ask' }));
      let p = await until(h, (x) => x.pendingDecision !== undefined);
      assert.match(p.pendingDecision!.error, /connection refused by node1/);
      assert.equal(p.status, 'waiting-decision');
      await rejectsWith(h.executeUpdate(decideUpdate, { args: [{ decision: 'later' as never, by: 'alice' }] }), /retry, skip or abort/);
      await rejectsWith(h.executeUpdate(decideUpdate, { args: [{ decision: 'retry', by: '' }] }), /identity is required/);
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'retry', by: 'alice', reason: 'node1 is back' }] });
      let r = await h.result();
      assert.equal(r.outcome, 'stopped');
      p = await h.query(progressQuery);
      assert.equal(p.steps[0]?.attempts, 2);
      assert.ok(p.timeline.some((t) => t.kind === 'decision' && /alice decided retry/.test(t.text)));

      // skip
      fails = 1;
      h = await start(tq, 'kitStep', input({ policy: 'ask' }));
      await until(h, (x) => x.pendingDecision !== undefined);
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'skip', by: 'alice' }] });
      r = await h.result();
      assert.equal(r.outcome, 'node1 skipped');
      p = await h.query(progressQuery);
      assert.equal(p.steps[0]?.status, 'skipped');

      // abort
      fails = 1;
      h = await start(tq, 'kitStep', input({ policy: 'ask' }));
      await until(h, (x) => x.pendingDecision !== undefined);
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'abort', by: 'alice' }] });
      const err = await h.result().then(() => undefined, (e: unknown) => e);
      assert.equal(failureType(err), 'RecoveryAborted');
      p = await h.query(progressQuery);
      assert.equal(p.status, 'aborted');
      assert.equal(stubs.calls.at(-1)?.name, 'notify', 'nothing ran after the abort but the failure notice');
    });
  });
});

/** `ledgerStop` refusing the `broken` nodes until `heal()`, which also clears the log of nodes it was called for. */
function refusingStops(broken: string[]): { stubs: ReturnType<typeof stubActivities>; seen: string[]; heal: () => void } {
  const seen: string[] = [];
  let refused = new Set(broken);
  const stubs = stubActivities({
    ledgerStop: async (a) => {
      seen.push(a.node);
      if (refused.has(a.node)) throw hardFailure(`${a.node} refused`);
      return { plan: 'x' };
    },
  });
  return {
    stubs,
    seen,
    heal: () => {
      refused = new Set();
      seen.length = 0;
    },
  };
}

describe('fanOut', () => {
  test('within the error budget the step succeeds and names the failures', async () => {
    const stubs = stubActivities({ ledgerStop: async (a) => { if (a.node === 'n2') throw hardFailure('n2 down'); return { plan: 'x' }; } });
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitFanOut', input({ nodes: ['n1', 'n2', 'n3'], maxFailures: 1 }));
      const r = await h.result();
      assert.equal(r.outcome, 'ok: n1,n3; failed: n2');
      const p = await h.query(progressQuery);
      assert.deepEqual(p.steps[0]?.targets, { n1: 'succeeded', n2: 'failed', n3: 'succeeded' });
    });
  });

  test('over the budget with ask: retry re-runs only the failed targets', async () => {
    const { stubs, seen, heal } = refusingStops(['n2', 'n4']);
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitFanOut', input({ nodes: ['n1', 'n2', 'n3', 'n4'], maxFailures: 1, policy: 'ask', concurrency: 2 }));
      const p = await until(h, (x) => x.pendingDecision !== undefined);
      assert.match(p.pendingDecision!.error, /2 of 4 targets failed \(error budget 1\)/);
      assert.deepEqual([...seen].sort(), ['n1', 'n2', 'n3', 'n4']);
      heal();
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'retry', by: 'alice' }] });
      const r = await h.result();
      assert.deepEqual([...seen].sort(), ['n2', 'n4']);
      assert.equal(r.outcome, 'ok: n1,n2,n3,n4; failed: ');
    });
  });

  test('concurrency is bounded', async () => {
    let running = 0;
    let peak = 0;
    const stubs = stubActivities({
      ledgerStop: async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 100));
        running -= 1;
        return { plan: 'x' };
      },
    });
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitFanOut', input({ nodes: ['a', 'b', 'c', 'd', 'e', 'f'], concurrency: 2 }));
      await h.result();
      assert.ok(peak <= 2, `peak concurrency ${peak}`);
      assert.equal(stubs.effects().length, 6);
    });
  });
});

/** The child workflows a recovery started, from its history, with each one's history length. */
async function childrenOf(h: WorkflowHandle): Promise<Array<{ id: string; events: number }>> {
  const events = (await h.fetchHistory()).events ?? [];
  const ids = events.map((e) => e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId).filter((x): x is string => !!x);
  return Promise.all(ids.map(async (id) => ({ id, events: ((await env.client.workflow.getHandle(id).fetchHistory()).events ?? []).length })));
}

describe('fanOut past its threshold: child workflows of bounded batches', () => {
  const nodes = Array.from({ length: 30 }, (_, i) => `n${String(i + 1).padStart(2, '0')}`);
  const batching = { threshold: 10, batchSize: 8, childConcurrency: 3 };

  test('planBatches: even batches of at most the batch size; the concurrency split over the children at once, never exceeded', () => {
    const hosts = Array.from({ length: 1000 }, (_, i) => `h${i}`);
    const wide = planBatches(hosts, 50);
    assert.equal(wide.batches.length, 10);
    assert.ok(wide.batches.every((b) => b.length === 100));
    assert.deepEqual(wide.batches.flat(), hosts, 'every target once, in order');
    assert.deepEqual([wide.parallel, wide.perChild], [2, [25, 25]]);
    const odd = planBatches(hosts.slice(0, 250), 7);
    assert.deepEqual(odd.batches.map((b) => b.length), [84, 84, 82]);
    assert.deepEqual([odd.parallel, odd.perChild], [1, [7]]);
    const many = planBatches(hosts.slice(0, 150), 60);
    assert.deepEqual([many.parallel, many.perChild], [2, [30, 30]], 'no more children at once than batches');
    assert.deepEqual(planBatches(hosts.slice(0, 3), 1).perChild, [1]);
  });

  test('every target runs once, in children of at most batchSize, the concurrency bound held, the recovery history small', async () => {
    let running = 0;
    let peak = 0;
    const stubs = stubActivities({
      ledgerStop: async (a) => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 20));
        running -= 1;
        return { plan: `stop ${a.node}` };
      },
    });
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitFanOut', input({ nodes, concurrency: 5, activityCall: true, batching }));
      const r = await h.result();
      assert.equal(r.outcome, `ok: ${nodes.join(',')}; failed: `);
      assert.deepEqual(stubs.effects().map((c) => c.arg.node).sort(), nodes, 'each target once');
      assert.ok(peak <= 5, `at most the fan-out's concurrency at once: peak ${peak}`);
      const kids = await childrenOf(h);
      assert.equal(kids.length, 4, `30 targets in batches of at most 8: ${JSON.stringify(kids)}`);
      assert.ok(kids.every((k) => k.id.startsWith(`${h.workflowId}/fanout-`)), 'children named after the recovery and the step');
      const parentEvents = ((await h.fetchHistory()).events ?? []).length;
      const activitiesInParent = ((await h.fetchHistory()).events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'ledgerStop').length;
      assert.equal(activitiesInParent, 0, 'no per-target activity in the recovery history');
      assert.ok(parentEvents < 80, `the recovery history holds a few events per child, not per target: ${parentEvents}`);
      const p = await h.query(progressQuery);
      assert.deepEqual(new Set(Object.values(p.steps[0]!.targets!)), new Set(['succeeded']));
      assert.match(p.steps[0]!.detail ?? '', /^30\/30 succeeded: stop n01; .*; and 10 more$/, 'the detail names 20 plans, then counts');
    });
  });

  test('over the budget with ask: the error names each failed target; retry re-runs only those', async () => {
    const { stubs, seen, heal } = refusingStops(['n03', 'n17', 'n29']);
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitFanOut', input({ nodes, concurrency: 6, maxFailures: 1, policy: 'ask', activityCall: true, batching }));
      const p = await until(h, (x) => x.pendingDecision !== undefined);
      assert.match(p.pendingDecision!.error, /3 of 30 targets failed \(error budget 1\): n03: n03 refused; n17: n17 refused; n29: n29 refused/);
      assert.deepEqual(p.steps[0]!.targets!.n17, 'failed');
      assert.equal(seen.length, 30);
      heal();
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'retry', by: 'alice' }] });
      const r = await h.result();
      assert.deepEqual([...seen].sort(), ['n03', 'n17', 'n29'], 'only the failed targets ran again');
      assert.equal(r.outcome, `ok: ${nodes.join(',')}; failed: `);
    });
  });

  test('a closure fan-out stays inline whatever its size; a dry run sends the flag into the children', async () => {
    const stubs = stubActivities();
    await run(stubs.activities, async (tq) => {
      // The same targets with a closure: inline, whatever their number.
      const inline = await start(tq, 'kitFanOut', input({ nodes, concurrency: 5, batching }));
      await inline.result();
      assert.equal((await childrenOf(inline)).length, 0);
      // Dry run: every call carries dryRun, nothing is done.
      const dry = await start(tq, 'kitFanOut', input({ nodes, concurrency: 5, activityCall: true, batching }, { dryRun: true }));
      await dry.result();
      assert.equal((await childrenOf(dry)).length, 4);
      const dryCalls = stubs.calls.filter((c) => c.name === 'ledgerStop' && c.arg.dryRun === true);
      assert.equal(dryCalls.length, 30);
    });
  });
});

describe('waitFor for hours: a child workflow that continues-as-new', () => {
  function withProbe(doneAt: number): { acts: LifeboatActivities; probes: () => number } {
    let n = 0;
    const stubs = stubActivities();
    const resyncProbe = async (): Promise<{ done: boolean; detail: string }> => {
      n += 1;
      return { done: n >= doneAt, detail: `${Math.min(100, Math.round((n / doneAt) * 100))}% resynced` };
    };
    return { acts: { ...stubs.activities, resyncProbe } as unknown as LifeboatActivities, probes: () => n };
  }

  test('130 probes a minute apart: three runs of the child, nothing per probe in the recovery history, every history small', async () => {
    const { acts, probes } = withProbe(130);
    await run(acts, async (tq) => {
      const h = await start(tq, 'kitLongWait', input());
      const r = await h.result();
      assert.equal(r.outcome, '100% resynced');
      assert.equal(probes(), 130);
      const events = (await h.fetchHistory()).events ?? [];
      assert.equal(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'resyncProbe').length, 0);
      assert.ok(events.length < 60, `the recovery history: ${events.length} events`);
      const p = await h.query(progressQuery);
      assert.ok(p.timeline.some((t) => t.kind === 'wait' && /130 probes, 3 run\(s\)/.test(t.text)), JSON.stringify(p.timeline));
      const [kid] = await childrenOf(h);
      assert.ok(kid, 'the wait ran in a child workflow');
      assert.ok(kid.events < 400, `the child's last run: ${kid.events} events`);
      const desc = await env.client.workflow.getHandle(kid.id).describe();
      assert.notEqual(desc.runId, events.find((e) => e.childWorkflowExecutionStartedEventAttributes)?.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.runId, 'the child continued as new');
    });
  });

  test('never done within 2 h: WaitTimedOut names the wait, the probes and the last answer', async () => {
    const { acts, probes } = withProbe(10_000);
    await run(acts, async (tq) => {
      const h = await start(tq, 'kitLongWait', input({ wait: '2h' }));
      await rejectsWith(h.result(), /Gave up waiting until the resync finished after 121 probes: last seen 1% resynced/);
      assert.equal(probes(), 121);
    });
  });
});

describe('dry run, waits and RTO', () => {
  test('dry run: every effect is described, none performed; gates and timers recorded, not awaited', async () => {
    const stubs = stubActivities();
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', input({}, { dryRun: true }));
      const r = await h.result();
      assert.equal(r.dryRun, true);
      assert.equal(stubs.effects().length, 0, 'no effect without dryRun');
      const cleared = stubs.calls.filter((c) => c.name === 'ledgerClearData');
      assert.equal(cleared.length, 1);
      assert.equal(cleared[0]?.arg.dryRun, true);
      const p = await h.query(progressQuery);
      assert.equal(p.steps[0]?.status, 'dry-run');
      assert.equal(p.gates[0]?.by, 'dry-run');
      // The outcome states the plan's end, never that the recovery happened.
      assert.match(r.outcome, /^Dry run, nothing was changed\. .*a real run would end: /);
      assert.equal(p.outcome, r.outcome);
    });
  });

  test('waitFor polls with durable sleeps until the probe passes; stabilize records its reason', async () => {
    let probes = 0;
    const stubs = stubActivities({ p2pStatus: async (a) => ({ node: a.node, reachable: true, leaderId: ++probes >= 3 ? 'node2' : null }) });
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitWait', input());
      const r = await h.result();
      assert.equal(r.outcome, 'leader node2');
      assert.equal(probes, 3);
      const p = await h.query(progressQuery);
      assert.ok(p.timeline.some((t) => t.kind === 'stabilize' && /let it settle/.test(t.text)));
    });
  });

  test('waitFor gives up at its bound with the last observation', async () => {
    let probes = 0;
    const stubs = stubActivities({ p2pStatus: async (a) => (probes++, { node: a.node, reachable: true, leaderId: null }) });
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitWait', input());
      const err = await h.result().then(() => undefined, (e: unknown) => e);
      assert.match(String(((err as WorkflowFailedError).cause as Error).message), /Gave up waiting until a leader is elected after \d+ s: last seen leader none/);
      assert.ok(probes >= 10 && probes <= 14, `probes=${probes}`);
    });
  });

  test('crossing the RTO target and maximum is recorded and notified', async () => {
    const notes: string[] = [];
    const stubs = stubActivities({ notify: async (n) => void notes.push(n.subject), p2pStatus: async (a) => ({ node: a.node, reachable: true, leaderId: 'node1' }) });
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitWait', input({ wait: '20m' }));
      const r = await h.result();
      assert.equal(r.rtoTargetMet, false);
      const p = await h.query(progressQuery);
      assert.ok(p.rto.targetCrossedAt, 'target crossing recorded');
      assert.ok(p.rto.maxCrossedAt, 'max crossing recorded');
      assert.ok(p.timeline.some((t) => t.kind === 'rto-target-crossed'));
      assert.ok(notes.some((s) => /RTO target crossed/.test(s)), notes.join('|'));
      assert.ok(notes.some((s) => /RTO MAXIMUM crossed/.test(s)), notes.join('|'));
    });
  });
});
