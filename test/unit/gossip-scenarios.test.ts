/**
 * The six gossip scenarios (seed 003) as they run today, on memberlist-plumtree
 * 0.1.6 through the control API (the v2 code behind `patched('gossip/plumtree-control-api')`),
 * on the time-skipping server, with stub activities acting on a fake cluster
 * that behaves as the real nodes do (test/helpers/stubs-gossip.ts): for each
 * scenario the safe path, the escalation that reaches its gate, a rejected
 * gate (a clear outcome, no further effect), an approval timeout that
 * escalates, and the quorum-aware guard refusing a disruptive step.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { RecoveryResult } from '../../src/workflows/kit';
import { approveUpdate, decideUpdate, progressQuery, rejectUpdate, type Progress, type RecoveryInput, type RecoveryOptions } from '../../src/workflows/kit/defs';
import { stubActivities } from '../helpers/stubs';
import { fakeGossip, type Fake, type FakeOptions } from '../helpers/stubs-gossip';
import { bundle, taskQueue, timeSkippingEnv, WORKFLOWS_PATH } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await timeSkippingEnv();
  await bundle(WORKFLOWS_PATH);
});
after(async () => {
  await env?.teardown();
});

const CLUSTER = 'g1';
type Stubs = ReturnType<typeof stubActivities>;

function setup(opts: FakeOptions = {}, mutate?: (f: Fake) => void): { fake: Fake; stubs: Stubs } {
  const fake = fakeGossip(opts);
  mutate?.(fake);
  return { fake, stubs: stubActivities(fake.activities) };
}

function input(fake: Fake, scenario: string, params: Record<string, unknown> = {}, options?: RecoveryOptions, dryRun?: boolean): RecoveryInput {
  return {
    scenario,
    cluster: { name: CLUSTER, system: 'gossip', nodes: fake.nodes.map((n) => ({ name: n.name, roles: [n.seed ? 'seed' : 'member'] })) },
    params,
    startedBy: 'bob',
    ...(options ? { options } : {}),
    ...(dryRun ? { dryRun } : {}),
  };
}

let seq = 0;
async function run<T>(workflowType: string, stubs: Stubs, inp: RecoveryInput, fn: (h: WorkflowHandle) => Promise<T>): Promise<T> {
  const tq = taskQueue('gossip');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: tq, workflowBundle: await bundle(WORKFLOWS_PATH), activities: stubs.activities });
  return worker.runUntil(async () => {
    seq += 1;
    const h = await env.client.workflow.start(workflowType, { taskQueue: tq, workflowId: `gossip-${process.pid}-${seq}`, args: [inp] });
    try {
      return await fn(h);
    } catch (err) {
      // A failed assertion must not leave the recovery parked on a decision (the worker would never stop).
      await h.terminate('test assertion failed').catch(() => undefined);
      throw err;
    }
  });
}

const result = (h: WorkflowHandle): Promise<RecoveryResult> => h.result() as Promise<RecoveryResult>;
const failure = (h: WorkflowHandle): Promise<unknown> => h.result().then(() => assert.fail('the recovery should have failed'), (e: unknown) => e);

/** Polls the progress, skipping `stepMs` of workflow time between polls (durable waits pass). */
async function until(h: WorkflowHandle, pred: (p: Progress) => boolean, stepMs = 0): Promise<Progress> {
  for (let i = 0; i < 300; i++) {
    const p = await h.query(progressQuery);
    if (pred(p)) return p;
    if (stepMs) await env.sleep(stepMs);
    else await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not reached: ${JSON.stringify(await h.query(progressQuery)).slice(0, 2000)}`);
}

const waiting = (gate: string) => (p: Progress) => p.gates.some((g) => g.gate === gate && g.status === 'waiting');
const effects = (stubs: Stubs): string[] => stubs.effects().map((c) => `${c.name}${c.arg.action ? `.${String(c.arg.action)}` : ''}${c.arg.dir ? `.${String(c.arg.dir)}` : ''}:${String(c.arg.node)}`);
const failureType = (err: unknown): string | undefined => {
  assert.ok(err instanceof WorkflowFailedError, String(err));
  return (err.cause as { type?: string }).type;
};
const ALL = ['gossip1', 'gossip2', 'gossip3', 'gossip4', 'gossip5'];

describe('gossip.isolated-node', () => {
  const isolate = (f: Fake) => f.isolate('gossip3');

  test('safe path: seeds reachable, no leave (final in memberlist), a join via the seeds; nothing restarted', async () => {
    const { stubs } = setup({}, isolate);
    const r = await run('gossipIsolatedNode', stubs, input(fakeGossip(), 'gossip.isolated-node'), result);
    assert.match(r.outcome, /gossip3 rejoined the cluster by a rejoin via the seeds: 3 eager, 1 lazy/);
    assert.deepEqual(effects(stubs), ['gossipJoin:gossip3']);
    assert.equal(r.facts['nodes affected'], 'gossip3');
    assert.match(r.facts.network ?? '', /gossip1:7946 open/);
    assert.match(r.facts['root cause'] ?? '', /memberlist sees only itself/);
    assert.ok(stubs.calls.some((c) => c.name === 'gossipSeedCheck' && c.arg.node === 'gossip3'));
    assert.ok(!stubs.calls.some((c) => c.name === 'gossipLeave'), 'no leave: memberlist would refuse the join after it');
  });

  test('the rejoin fails: quorum guard, then systemctl restart plumtree, verified', async () => {
    const { stubs } = setup({ joinWorks: false }, isolate);
    const r = await run('gossipIsolatedNode', stubs, input(fakeGossip(), 'gossip.isolated-node'), result);
    assert.match(r.outcome, /by a restart of plumtree \(the rejoin had failed\)/);
    assert.deepEqual(effects(stubs), ['gossipJoin:gossip3', 'gossipService.restart:gossip3']);
  });

  test('a node that left the cluster cannot join in-process: restarted straight away', async () => {
    const { stubs } = setup({}, (f) => {
      f.nodes[2]!.left = true;
      f.nodes[2]!.frozen = { eager: ['gossip1', 'gossip2', 'gossip4'], lazy: ['gossip5'] };
      f.nodes.filter((n) => n.name !== 'gossip3').forEach((n) => n.view.delete('gossip3'));
    });
    const r = await run('gossipIsolatedNode', stubs, input(fakeGossip(), 'gossip.isolated-node'), result);
    assert.match(r.outcome, /gossip3 rejoined the cluster by a restart of plumtree \(it had left the cluster\)/);
    assert.deepEqual(effects(stubs), ['gossipService.restart:gossip3']);
    assert.match(r.facts.impact ?? '', /left the cluster/);
  });

  test('no seed reachable: asks the operator to fix the network; abort ends it before any effect', async () => {
    const { stubs } = setup({ seedsOpen: false }, isolate);
    const err = await run('gossipIsolatedNode', stubs, input(fakeGossip(), 'gossip.isolated-node'), async (h) => {
      const p = await until(h, (x) => x.pendingDecision !== undefined);
      assert.match(p.pendingDecision!.error, /no seed is reachable from gossip3 .*fix the network/);
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'abort', by: 'alice', reason: 'switch down' }] });
      return failure(h);
    });
    assert.equal(failureType(err), 'RecoveryAborted');
    assert.deepEqual(effects(stubs), []);
  });

  test('no isolated node: reported, nothing done', async () => {
    const { stubs } = setup();
    const r = await run('gossipIsolatedNode', stubs, input(fakeGossip(), 'gossip.isolated-node'), result);
    assert.match(r.outcome, /No isolated node/);
    assert.deepEqual(effects(stubs), []);
  });
});

describe('gossip.partition', () => {
  const partition = (f: Fake) => f.splitViews([['gossip1', 'gossip2', 'gossip3'], ['gossip4', 'gossip5']]);

  test('safe path: the sides merge on their own within the wait; no gate, no join', async () => {
    const { stubs } = setup({ autoHealAfterReads: 15 }, partition);
    const r = await run('gossipPartition', stubs, input(fakeGossip(), 'gossip.partition'), result);
    assert.match(r.outcome, /Partition healed by automatic recovery/);
    assert.equal(r.facts.partition, '{gossip1, gossip2, gossip3} | {gossip4, gossip5}');
    assert.deepEqual(effects(stubs), []);
  });

  test('no automatic recovery in 5 min: the dangerous gate, the other side joins through the seeds, a rebalance on every node', async () => {
    const { stubs } = setup({}, partition);
    const r = await run('gossipPartition', stubs, input(fakeGossip(), 'gossip.partition'), async (h) => {
      const p = await until(h, waiting('forced-rebalance'), 20_000);
      const g = p.gates.find((x) => x.gate === 'forced-rebalance')!;
      assert.equal(g.dangerous, true);
      assert.equal(g.evidence.components, '{gossip1, gossip2, gossip3} | {gossip4, gossip5}');
      assert.deepEqual(effects(stubs), [], 'nothing joined or rebalanced before the approval');
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'forced-rebalance', by: 'alice', reason: 'firewall rule reverted', confirm: CLUSTER }] });
      return result(h);
    });
    assert.match(r.outcome, /a forced rejoin and rebalance on 5 nodes, approved by alice: one component of 5/);
    const e = effects(stubs);
    assert.ok(e.slice(0, 2).every((x) => x === 'gossipJoin:gossip4' || x === 'gossipJoin:gossip5'), e.join(', '));
    assert.ok(e.includes('gossipJoin:gossip4'), 'the first of the other side joins; the second may find the sides merged already');
    assert.deepEqual(e.filter((x) => x.startsWith('gossipRebalance')).sort(), ALL.map((n) => `gossipRebalance:${n}`));
    assert.ok(stubs.calls.some((c) => c.name === 'gossipMetrics'), 'the symptom step reads the peer counts');
  });

  test('a rejected rebalance gate ends the recovery: no join, no rebalance anywhere', async () => {
    const { stubs } = setup({}, partition);
    const err = await run('gossipPartition', stubs, input(fakeGossip(), 'gossip.partition'), async (h) => {
      await until(h, waiting('forced-rebalance'), 20_000);
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'forced-rebalance', by: 'alice', reason: 'the switch is still down' }] });
      return failure(h);
    });
    assert.equal(failureType(err), 'GateRejected');
    assert.match(String((err as WorkflowFailedError).cause?.message), /alice rejected "forced-rebalance"/);
    assert.deepEqual(effects(stubs), []);
  });

  test('the link is still down after the approval: the join fails and the operator is asked', async () => {
    const { stubs } = setup({}, (f) => {
      partition(f);
      f.nodes[3]!.group = 1;
      f.nodes[4]!.group = 1;
    });
    const err = await run('gossipPartition', stubs, input(fakeGossip(), 'gossip.partition'), async (h) => {
      await until(h, waiting('forced-rebalance'), 20_000);
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'forced-rebalance', by: 'alice', reason: 'fixed, I think', confirm: CLUSTER }] });
      const p = await until(h, (x) => x.pendingDecision !== undefined);
      // Both joins run at once: the decision names both, in whichever order they failed.
      assert.match(p.pendingDecision!.error, /gossip4: gossip4 could not join through the seeds/);
      assert.match(p.pendingDecision!.error, /gossip5: gossip5 could not join through the seeds/);
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'abort', by: 'alice', reason: 'the uplink is still down' }] });
      return failure(h);
    });
    assert.equal(failureType(err), 'RecoveryAborted');
    assert.ok(!effects(stubs).some((e) => e.startsWith('gossipRebalance')));
  });

  test('nobody approves: the gate escalates and (approvalEscalation fail) the recovery fails without a join', async () => {
    const { stubs } = setup({}, partition);
    const err = await run('gossipPartition', stubs, input(fakeGossip(), 'gossip.partition', {}, { approvalTimeout: '10m', approvalEscalation: 'fail' }), failure);
    assert.equal(failureType(err), 'ApprovalTimedOut');
    assert.deepEqual(effects(stubs), []);
    assert.ok(stubs.calls.some((c) => c.name === 'notify' && /ESCALATION/.test(String(c.arg.subject))));
  });
});

describe('gossip.multi-node-failure', () => {
  const twoDown = (f: Fake) => ['gossip4', 'gossip5'].forEach((n) => f.crash(n));

  test('majority survives: monitored until stable, then the failed nodes are started again; no gate', async () => {
    const { stubs } = setup({}, twoDown);
    const r = await run('gossipMultiNodeFailure', stubs, input(fakeGossip(), 'gossip.multi-node-failure'), result);
    assert.match(r.outcome, /Majority survived \(3\/5\) and the mesh is stable; started again: gossip4, gossip5/);
    assert.deepEqual(effects(stubs).sort(), ['gossipService.start:gossip4', 'gossipService.start:gossip5']);
  });

  test('the failed hosts refuse the SSH key: the decision names every refused host; after the fix, retry carries on', async () => {
    const { fake } = setup({}, twoDown);
    let refused = true;
    const real = fake.activities.gossipServiceState!;
    const stubs = stubActivities({
      ...fake.activities,
      gossipServiceState: async (a) => {
        if (refused) throw ApplicationFailure.nonRetryable(`SSH authentication on ${a.node} was refused`, 'AuthFailed');
        return real(a);
      },
    });
    const r = await run('gossipMultiNodeFailure', stubs, input(fakeGossip(), 'gossip.multi-node-failure'), async (h) => {
      const p = await until(h, (x) => x.pendingDecision !== undefined);
      assert.match(p.pendingDecision!.step, /^Failed nodes: does the host answer\?/);
      // Both failed hosts are checked at once, and both are named, whichever failed first.
      assert.match(p.pendingDecision!.error, /2 of 2 targets failed/);
      assert.match(p.pendingDecision!.error, /SSH authentication on gossip4 was refused/);
      assert.match(p.pendingDecision!.error, /SSH authentication on gossip5 was refused/);
      assert.deepEqual(effects(stubs), [], 'nothing started while the check failed');
      refused = false;
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'retry', by: 'alice', reason: 'key redeployed' }] });
      return h.result();
    });
    assert.match(r.outcome, /started again: gossip4, gossip5/);
    assert.deepEqual(effects(stubs).sort(), ['gossipService.start:gossip4', 'gossipService.start:gossip5']);
  });

  test('majority survives, one host gone: it is reported for replacement, not touched', async () => {
    const { stubs } = setup({}, (f) => {
      twoDown(f);
      f.nodes[4]!.sshDown = true;
    });
    const r = await run('gossipMultiNodeFailure', stubs, input(fakeGossip(), 'gossip.multi-node-failure'), result);
    assert.match(r.outcome, /started again: gossip4; replace when ready: gossip5/);
    assert.equal(r.facts['nodes to replace'], 'gossip5 (host does not answer)');
    assert.deepEqual(effects(stubs), ['gossipService.start:gossip4']);
  });

  test('the symptoms are read with the library\'s metric names', async () => {
    const p = await run('gossipMultiNodeFailure', setup({}, twoDown).stubs, input(fakeGossip(), 'gossip.multi-node-failure'), async (h) => {
      await h.result();
      return h.query(progressQuery);
    });
    const s = p.steps.find((x) => x.title.startsWith('Symptoms:'))!;
    assert.match(s.title, /plumtree_peer_count and plumtree_graft_failed_total/);
    assert.match(s.detail ?? '', /gossip1: peers 2, graft failed 3/);
  });

  test('minority survives: the coordinated-restart gate, then stop all, 10 s, start all', async () => {
    const { stubs } = setup({}, (f) => ['gossip3', 'gossip4', 'gossip5'].forEach((n) => f.crash(n)));
    const r = await run('gossipMultiNodeFailure', stubs, input(fakeGossip(), 'gossip.multi-node-failure'), async (h) => {
      const p = await until(h, waiting('coordinated-restart'));
      assert.equal(p.gates[0]!.dangerous, true);
      assert.match(p.gates[0]!.evidence.quorum ?? '', /2 of 5 healthy, 3 needed/);
      assert.deepEqual(effects(stubs), []);
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'coordinated-restart', by: 'alice', reason: 'zone b lost', confirm: CLUSTER }] });
      return result(h);
    });
    assert.match(r.outcome, /coordinated restart of all 5 nodes/);
    const e = effects(stubs);
    assert.deepEqual(e.slice(0, 5).sort(), ALL.map((n) => `gossipService.stop:${n}`));
    assert.deepEqual(e.slice(5).sort(), ALL.map((n) => `gossipService.start:${n}`));
  });

  test('a rejected coordinated restart stops nothing', async () => {
    const { stubs } = setup({}, (f) => ['gossip3', 'gossip4', 'gossip5'].forEach((n) => f.crash(n)));
    const err = await run('gossipMultiNodeFailure', stubs, input(fakeGossip(), 'gossip.multi-node-failure'), async (h) => {
      await until(h, waiting('coordinated-restart'));
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'coordinated-restart', by: 'alice', reason: 'zone coming back' }] });
      return failure(h);
    });
    assert.equal(failureType(err), 'GateRejected');
    assert.deepEqual(effects(stubs), []);
  });

  test('approval timeout (escalation ask): the operator is asked; abort stops nothing', async () => {
    const { stubs } = setup({}, (f) => ['gossip3', 'gossip4', 'gossip5'].forEach((n) => f.crash(n)));
    const err = await run('gossipMultiNodeFailure', stubs, input(fakeGossip(), 'gossip.multi-node-failure', {}, { approvalTimeout: '10m', approvalEscalation: 'ask' }), async (h) => {
      await until(h, waiting('coordinated-restart'));
      await env.sleep('11 minutes');
      const p = await until(h, (x) => x.pendingDecision !== undefined);
      assert.match(p.pendingDecision!.step, /approval of "coordinated-restart" timed out/);
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'abort', by: 'carol' }] });
      return failure(h);
    });
    assert.equal(failureType(err), 'RecoveryAborted');
    assert.deepEqual(effects(stubs), []);
  });
});

describe('gossip.total-loss', () => {
  const lose = (f: Fake) => f.nodes.forEach((n) => (f.crash(n.name), (n.storeCorrupt = true)));

  test('stop all, gate, clear state, seeds first, 10 s, the rest staggered; plumtree_peer_count on every node', async () => {
    const { stubs } = setup({}, lose);
    const r = await run('gossipTotalLoss', stubs, input(fakeGossip(), 'gossip.total-loss'), async (h) => {
      const p = await until(h, waiting('clear-persistent-state'));
      assert.equal(p.gates[0]!.dangerous, true);
      assert.deepEqual(effects(stubs).sort(), ALL.map((n) => `gossipService.stop:${n}`), 'only the stops before the gate');
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'clear-persistent-state', by: 'alice', reason: 'state corrupted everywhere', confirm: CLUSTER }] });
      return result(h);
    });
    assert.match(r.outcome, /Cluster re-formed from scratch: seeds first, then 3 node\(s\) staggered; plumtree_peer_count gossip1: 4, gossip2: 4, gossip3: 4, gossip4: 4, gossip5: 4/);
    const e = effects(stubs);
    assert.deepEqual(e.slice(5, 10).sort(), ALL.map((n) => `gossipClearDir.data:${n}`));
    assert.deepEqual(e.slice(10, 12).sort(), ['gossipService.start:gossip1', 'gossipService.start:gossip2']);
    assert.deepEqual(e.slice(12), ['gossipService.start:gossip3', 'gossipService.start:gossip4', 'gossipService.start:gossip5']);
  });

  test('a rejected clear leaves the state: nothing cleared, nothing started', async () => {
    const { stubs } = setup({}, lose);
    const err = await run('gossipTotalLoss', stubs, input(fakeGossip(), 'gossip.total-loss'), async (h) => {
      await until(h, waiting('clear-persistent-state'));
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'clear-persistent-state', by: 'alice', reason: 'take a copy first' }] });
      return failure(h);
    });
    assert.equal(failureType(err), 'GateRejected');
    assert.ok(effects(stubs).every((e) => e.startsWith('gossipService.stop:')), effects(stubs).join(','));
  });

  test('approval timeout (escalation fail): fails, nothing cleared', async () => {
    const { stubs } = setup({}, lose);
    const err = await run('gossipTotalLoss', stubs, input(fakeGossip(), 'gossip.total-loss', {}, { approvalTimeout: '5m', approvalEscalation: 'fail' }), failure);
    assert.equal(failureType(err), 'ApprovalTimedOut');
    assert.ok(!effects(stubs).some((e) => e.startsWith('gossipClearDir') || e.startsWith('gossipService.start')));
  });

  test('a working majority is no total loss: refused before stopping anything', async () => {
    const { stubs } = setup({}, (f) => f.crash('gossip5'));
    const err = await run('gossipTotalLoss', stubs, input(fakeGossip(), 'gossip.total-loss'), failure);
    assert.equal(failureType(err), 'ScenarioMismatch');
    assert.match(String((err as WorkflowFailedError).cause?.message), /not a total loss.*gossip\.multi-node-failure/);
    assert.deepEqual(effects(stubs), []);
  });

  test('dry run: every effect planned, none performed, the gate recorded', async () => {
    const { fake, stubs } = setup({}, lose);
    const r = await run('gossipTotalLoss', stubs, input(fakeGossip(), 'gossip.total-loss', {}, undefined, true), result);
    assert.equal(r.dryRun, true);
    assert.deepEqual(effects(stubs), []);
    assert.ok(fake.nodes.every((n) => !n.up && n.storeCorrupt), 'the fake cluster is untouched');
  });
});

describe('gossip.cache-corruption', () => {
  /** gossip3 crashed and its store is damaged: a restart fails, clearing the store is needed. */
  const corrupt = (f: Fake) => (f.crash('gossip3'), (f.nodes[2]!.storeCorrupt = true));
  /** gossip3 runs, unhealthy, on a bad in-memory cache: a restart heals it. */
  const inMemory = (f: Fake) => (f.nodes[2]!.cacheBad = true);

  test('an in-memory cache: the unhealthy node is found, no clear_cache() exists, a guarded restart heals it', async () => {
    const { stubs } = setup({}, inMemory);
    const r = await run('gossipCacheCorruption', stubs, input(fakeGossip(), 'gossip.cache-corruption'), result);
    assert.match(r.outcome, /resolved on gossip3 by restarting the affected nodes \(the in-memory cache does not survive a restart\)/);
    assert.deepEqual(effects(stubs), ['gossipService.restart:gossip3']);
    assert.ok(!stubs.calls.some((c) => c.name === 'gossipClearCache'), 'the library has no clear_cache()');
  });

  test('persistent store: the crashed node fails to restart; the clear-storage gate, then stop, clear the cache directory, start', async () => {
    const { stubs } = setup({}, corrupt);
    const r = await run('gossipCacheCorruption', stubs, input(fakeGossip(), 'gossip.cache-corruption'), async (h) => {
      const p = await until(h, waiting('clear-storage'));
      assert.equal(p.gates[0]!.dangerous, true);
      assert.equal(p.gates[0]!.evidence.nodes, 'gossip3');
      assert.deepEqual(effects(stubs), ['gossipService.restart:gossip3']);
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'clear-storage', by: 'alice', reason: 'store damaged', confirm: CLUSTER }] });
      return result(h);
    });
    assert.match(r.outcome, /clearing the persistent message store of gossip3 \(approved by alice\)/);
    assert.equal(r.facts['nodes affected'], 'gossip3');
    assert.deepEqual(effects(stubs), ['gossipService.restart:gossip3', 'gossipService.stop:gossip3', 'gossipClearDir.cache:gossip3', 'gossipService.start:gossip3']);
  });

  test('a rejected clear-storage gate: the node is neither stopped nor cleared', async () => {
    const { stubs } = setup({}, corrupt);
    const err = await run('gossipCacheCorruption', stubs, input(fakeGossip(), 'gossip.cache-corruption'), async (h) => {
      await until(h, waiting('clear-storage'));
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'clear-storage', by: 'alice', reason: 'collect the store for the vendor first' }] });
      return failure(h);
    });
    assert.equal(failureType(err), 'GateRejected');
    assert.deepEqual(effects(stubs), ['gossipService.restart:gossip3']);
  });

  test('approval timeout (escalation fail): the cache directory is not touched', async () => {
    const { stubs } = setup({}, corrupt);
    const err = await run('gossipCacheCorruption', stubs, input(fakeGossip(), 'gossip.cache-corruption', {}, { approvalTimeout: '5m', approvalEscalation: 'fail' }), failure);
    assert.equal(failureType(err), 'ApprovalTimedOut');
    assert.deepEqual(effects(stubs), ['gossipService.restart:gossip3']);
  });

  test('quorum guard: with two nodes down, restarting the affected one is refused and the operator asked', async () => {
    const { stubs } = setup({}, (f) => {
      inMemory(f);
      f.crash('gossip4');
      f.crash('gossip5');
      f.nodes[3]!.sshDown = true;
      f.nodes[4]!.sshDown = true;
    });
    const err = await run('gossipCacheCorruption', stubs, input(fakeGossip(), 'gossip.cache-corruption', { node: 'gossip3' }), async (h) => {
      const p = await until(h, (x) => x.pendingDecision !== undefined);
      assert.match(p.pendingDecision!.error, /quorum guard: restarting gossip3 would leave 2 of 5 nodes healthy \(gossip1, gossip2\), fewer than the 3/);
      assert.deepEqual(effects(stubs), [], 'nothing restarted');
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'abort', by: 'alice' }] });
      return failure(h);
    });
    assert.equal(failureType(err), 'RecoveryAborted');
    assert.deepEqual(effects(stubs), []);
  });

  test('nothing crashed and nothing unhealthy: reported, with how to name a node', async () => {
    const { stubs } = setup();
    const r = await run('gossipCacheCorruption', stubs, input(fakeGossip(), 'gossip.cache-corruption'), result);
    assert.match(r.outcome, /No cache corruption found: .*--set node=<name>/);
    assert.deepEqual(effects(stubs), []);
  });
});

describe('gossip.split-brain', () => {
  const split = (f: Fake) => {
    f.splitViews([['gossip1', 'gossip2', 'gossip3'], ['gossip4', 'gossip5']]);
    f.nodes.forEach((n, i) => n.messages.add(i < 3 ? 'a' : 'b'));
  };

  test('safe path: anti-entropy configured everywhere, the other side joins through the seeds, one root hash, one component', async () => {
    const { stubs } = setup({}, split);
    const r = await run('gossipSplitBrain', stubs, input(fakeGossip(), 'gossip.split-brain'), result);
    assert.match(r.outcome, /Split brain reconciled by anti-entropy sync: converged: 5 node\(s\) at root hash a\+b\+m0…/);
    const e = effects(stubs);
    assert.ok(e.includes('gossipJoin:gossip4') && e.every((x) => x === 'gossipJoin:gossip4' || x === 'gossipJoin:gossip5'), e.join(', '));
    assert.ok(!stubs.calls.some((c) => c.name === 'gossipEnableSync'), 'no runtime switch exists');
  });

  test('sync not configured on a node: ReconciliationNeeded naming it, before any join', async () => {
    const { stubs } = setup({}, (f) => (split(f), (f.nodes[4]!.sync = false)));
    const err = await run('gossipSplitBrain', stubs, input(fakeGossip(), 'gossip.split-brain'), failure);
    assert.equal(failureType(err), 'ReconciliationNeeded');
    assert.match(String((err as WorkflowFailedError).cause?.message), /anti-entropy sync is not configured on gossip5 .*with_sync.*application-level reconciliation is needed/);
    assert.deepEqual(effects(stubs), []);
  });

  test('sync never converges within 10 min: ReconciliationNeeded, not a silent success', async () => {
    const { stubs } = setup({ syncConverges: false }, split);
    const err = await run('gossipSplitBrain', stubs, input(fakeGossip(), 'gossip.split-brain'), failure);
    assert.equal(failureType(err), 'ReconciliationNeeded');
    assert.match(String((err as WorkflowFailedError).cause?.message), /did not converge within 10 minutes/);
  });

  test('a node restarting at the verification (its unit restarts it after a panic) is waited for, not left out', async () => {
    let missed = 0;
    const { stubs } = setup({}, (f) => {
      split(f);
      const peers = f.activities.gossipPeers!;
      // After the joins, gossip5's API does not answer for the verification's first two probes.
      f.activities.gossipPeers = async (a: { cluster: string; node: string }) => {
        if (a.node === 'gossip5' && f.nodes.every((n) => n.view.size === 5) && missed < 2) {
          missed += 1;
          return { node: a.node, reachable: false, error: 'connection refused', eager: [], lazy: [], members: [] };
        }
        return peers(a as never);
      };
    });
    const { r, p } = await run('gossipSplitBrain', stubs, input(fakeGossip(), 'gossip.split-brain'), async (h) => ({ r: await result(h), p: await h.query(progressQuery) }));
    assert.equal(missed, 2);
    assert.match(r.outcome, /; one component of 5$/);
    const verify = p.steps.find((x) => x.title.startsWith('Verify'));
    assert.equal(verify?.title, 'Verify: one component in which every node sees every other, and one root hash');
    assert.equal(verify?.status, 'succeeded');
  });

  test('no divergence: reported, nothing joined', async () => {
    const { stubs } = setup();
    const r = await run('gossipSplitBrain', stubs, input(fakeGossip(), 'gossip.split-brain'), result);
    assert.match(r.outcome, /No data divergence/);
    assert.deepEqual(effects(stubs), []);
  });
});
