/**
 * The six gossip scenarios (seed 003) on the time-skipping server, with stub
 * activities acting on a fake plumtree cluster (test/helpers/stubs-gossip.ts):
 * for each scenario the safe path, the escalation that reaches its gate, a
 * rejected gate (a clear outcome, no further effect), an approval timeout
 * that escalates, and the quorum-aware guard refusing a disruptive step.
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
import { fakeGossip, type FakeOptions } from '../helpers/stubs-gossip';
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
type Fake = ReturnType<typeof fakeGossip>;
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
  const isolate = (f: Fake) => (f.nodes[2]!.isolated = true);

  test('safe path: seeds reachable, graceful leave, 5 s, rejoin via the seeds; nothing restarted', async () => {
    const { stubs } = setup({}, isolate);
    const r = await run('gossipIsolatedNode', stubs, input(fakeGossip(), 'gossip.isolated-node'), result);
    assert.match(r.outcome, /gossip3 rejoined the cluster by a graceful leave and a rejoin via the seeds: 3 eager, 1 lazy/);
    assert.deepEqual(effects(stubs), ['gossipLeave:gossip3', 'gossipJoin:gossip3']);
    assert.equal(r.facts['nodes affected'], 'gossip3');
    assert.match(r.facts.network ?? '', /gossip1:7946 open/);
    assert.ok(stubs.calls.some((c) => c.name === 'gossipSeedCheck' && c.arg.node === 'gossip3'));
  });

  test('the rejoin fails: quorum guard, then systemctl restart plumtree, verified', async () => {
    const { stubs } = setup({ joinWorks: false }, isolate);
    const r = await run('gossipIsolatedNode', stubs, input(fakeGossip(), 'gossip.isolated-node'), result);
    assert.match(r.outcome, /by a restart of plumtree \(the rejoin had failed\)/);
    assert.deepEqual(effects(stubs), ['gossipLeave:gossip3', 'gossipJoin:gossip3', 'gossipService.restart:gossip3']);
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
  const partition = (f: Fake) => f.nodes.forEach((n, i) => (n.group = i < 3 ? 0 : 1));

  test('safe path: the partition heals on its own within the wait; no gate, no rebalance', async () => {
    const { stubs } = setup({ autoHealAfterReads: 15 }, partition);
    const r = await run('gossipPartition', stubs, input(fakeGossip(), 'gossip.partition'), result);
    assert.match(r.outcome, /Partition healed by automatic recovery/);
    assert.equal(r.facts.partition, '{gossip1, gossip2, gossip3} | {gossip4, gossip5}');
    assert.deepEqual(effects(stubs), []);
  });

  test('no automatic recovery in 5 min: the dangerous forced-rebalance gate, then a rebalance on every node', async () => {
    const { stubs } = setup({}, partition);
    const r = await run('gossipPartition', stubs, input(fakeGossip(), 'gossip.partition'), async (h) => {
      const p = await until(h, waiting('forced-rebalance'), 20_000);
      const g = p.gates.find((x) => x.gate === 'forced-rebalance')!;
      assert.equal(g.dangerous, true);
      assert.equal(g.evidence.components, '{gossip1, gossip2, gossip3} | {gossip4, gossip5}');
      assert.deepEqual(effects(stubs), [], 'nothing rebalanced before the approval');
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'forced-rebalance', by: 'alice', reason: 'firewall rule reverted', confirm: CLUSTER }] });
      return result(h);
    });
    assert.match(r.outcome, /a forced rebalance on 5 nodes, approved by alice: one component of 5/);
    assert.deepEqual(effects(stubs).sort(), ALL.map((n) => `gossipRebalance:${n}`));
  });

  test('a rejected rebalance gate ends the recovery: no rebalance anywhere', async () => {
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

  test('nobody approves: the gate escalates and (approvalEscalation fail) the recovery fails without a rebalance', async () => {
    const { stubs } = setup({}, partition);
    const err = await run('gossipPartition', stubs, input(fakeGossip(), 'gossip.partition', {}, { approvalTimeout: '10m', approvalEscalation: 'fail' }), failure);
    assert.equal(failureType(err), 'ApprovalTimedOut');
    assert.deepEqual(effects(stubs), []);
    assert.ok(stubs.calls.some((c) => c.name === 'notify' && /ESCALATION/.test(String(c.arg.subject))));
  });
});

describe('gossip.multi-node-failure', () => {
  test('majority survives: monitored until stable, then the failed nodes are started again; no gate', async () => {
    const { stubs } = setup({}, (f) => [3, 4].forEach((i) => (f.nodes[i]!.up = false)));
    const r = await run('gossipMultiNodeFailure', stubs, input(fakeGossip(), 'gossip.multi-node-failure'), result);
    assert.match(r.outcome, /Majority survived \(3\/5\) and the mesh is stable; started again: gossip4, gossip5/);
    assert.deepEqual(effects(stubs).sort(), ['gossipService.start:gossip4', 'gossipService.start:gossip5']);
  });

  test('the failed hosts refuse the SSH key: the check asks the operator; after the fix, retry carries on', async () => {
    const { fake } = setup({}, (f) => [3, 4].forEach((i) => (f.nodes[i]!.up = false)));
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
      // Both failed hosts are checked at once: either refusal may be the one reported.
      assert.match(p.pendingDecision!.error, /SSH authentication on gossip[45] was refused/);
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
      f.nodes[3]!.up = false;
      f.nodes[4]!.up = false;
      f.nodes[4]!.sshDown = true;
    });
    const r = await run('gossipMultiNodeFailure', stubs, input(fakeGossip(), 'gossip.multi-node-failure'), result);
    assert.match(r.outcome, /started again: gossip4; replace when ready: gossip5/);
    assert.equal(r.facts['nodes to replace'], 'gossip5 (host does not answer)');
    assert.deepEqual(effects(stubs), ['gossipService.start:gossip4']);
  });

  test('minority survives: the coordinated-restart gate, then stop all, 10 s, start all', async () => {
    const { stubs } = setup({}, (f) => [2, 3, 4].forEach((i) => (f.nodes[i]!.up = false)));
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
    const { stubs } = setup({}, (f) => [2, 3, 4].forEach((i) => (f.nodes[i]!.up = false)));
    const err = await run('gossipMultiNodeFailure', stubs, input(fakeGossip(), 'gossip.multi-node-failure'), async (h) => {
      await until(h, waiting('coordinated-restart'));
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'coordinated-restart', by: 'alice', reason: 'zone coming back' }] });
      return failure(h);
    });
    assert.equal(failureType(err), 'GateRejected');
    assert.deepEqual(effects(stubs), []);
  });

  test('approval timeout (escalation ask): the operator is asked; abort stops nothing', async () => {
    const { stubs } = setup({}, (f) => [2, 3, 4].forEach((i) => (f.nodes[i]!.up = false)));
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
  const lose = (f: Fake) => f.nodes.forEach((n) => ((n.up = false), (n.stateCorrupt = true)));

  test('stop all, gate, clear state, seeds first, 10 s, the rest staggered; every node sees the cluster', async () => {
    const { stubs } = setup({}, lose);
    const r = await run('gossipTotalLoss', stubs, input(fakeGossip(), 'gossip.total-loss'), async (h) => {
      const p = await until(h, waiting('clear-persistent-state'));
      assert.equal(p.gates[0]!.dangerous, true);
      assert.deepEqual(effects(stubs).sort(), ALL.map((n) => `gossipService.stop:${n}`), 'only the stops before the gate');
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'clear-persistent-state', by: 'alice', reason: 'state corrupted everywhere', confirm: CLUSTER }] });
      return result(h);
    });
    assert.match(r.outcome, /Cluster re-formed from scratch: seeds first, then 3 node\(s\) staggered; plumtree_total_peers gossip1: 4/);
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
    const { stubs } = setup({}, (f) => (f.nodes[4]!.up = false));
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
    assert.ok(fake.nodes.every((n) => !n.up && n.stateCorrupt), 'the fake cluster is untouched');
  });
});

describe('gossip.cache-corruption', () => {
  const corrupt = (f: Fake) => (f.nodes[2]!.cacheCorrupt = true);

  test('safe path: the API clear heals the affected node; nothing restarted', async () => {
    const { stubs } = setup({}, corrupt);
    const r = await run('gossipCacheCorruption', stubs, input(fakeGossip(), 'gossip.cache-corruption'), result);
    assert.match(r.outcome, /resolved on gossip3 by clearing the message cache through the API/);
    assert.deepEqual(effects(stubs), ['gossipClearCache:gossip3']);
  });

  test('the API clear does not heal an in-memory cache: a guarded restart does', async () => {
    const { stubs } = setup({ apiClearHeals: false, cacheInMemory: true }, corrupt);
    const r = await run('gossipCacheCorruption', stubs, input(fakeGossip(), 'gossip.cache-corruption'), result);
    assert.match(r.outcome, /by restarting the affected nodes/);
    assert.deepEqual(effects(stubs), ['gossipClearCache:gossip3', 'gossipService.restart:gossip3']);
  });

  test('persistent cache: the clear-storage gate, then stop, clear the cache directory, start', async () => {
    const { stubs } = setup({ apiClearHeals: false }, corrupt);
    const r = await run('gossipCacheCorruption', stubs, input(fakeGossip(), 'gossip.cache-corruption'), async (h) => {
      const p = await until(h, waiting('clear-storage'));
      assert.equal(p.gates[0]!.dangerous, true);
      assert.equal(p.gates[0]!.evidence.nodes, 'gossip3');
      assert.deepEqual(effects(stubs), ['gossipClearCache:gossip3', 'gossipService.restart:gossip3']);
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'clear-storage', by: 'alice', reason: 'cache file corrupt', confirm: CLUSTER }] });
      return result(h);
    });
    assert.match(r.outcome, /clearing the persistent cache of gossip3 \(approved by alice\)/);
    assert.deepEqual(effects(stubs), [
      'gossipClearCache:gossip3',
      'gossipService.restart:gossip3',
      'gossipService.stop:gossip3',
      'gossipClearDir.cache:gossip3',
      'gossipService.start:gossip3',
    ]);
  });

  test('a rejected clear-storage gate: the node is neither stopped nor cleared', async () => {
    const { stubs } = setup({ apiClearHeals: false }, corrupt);
    const err = await run('gossipCacheCorruption', stubs, input(fakeGossip(), 'gossip.cache-corruption'), async (h) => {
      await until(h, waiting('clear-storage'));
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'clear-storage', by: 'alice', reason: 'collect the file for the vendor first' }] });
      return failure(h);
    });
    assert.equal(failureType(err), 'GateRejected');
    assert.deepEqual(effects(stubs), ['gossipClearCache:gossip3', 'gossipService.restart:gossip3']);
  });

  test('approval timeout (escalation fail): the cache directory is not touched', async () => {
    const { stubs } = setup({ apiClearHeals: false }, corrupt);
    const err = await run('gossipCacheCorruption', stubs, input(fakeGossip(), 'gossip.cache-corruption', {}, { approvalTimeout: '5m', approvalEscalation: 'fail' }), failure);
    assert.equal(failureType(err), 'ApprovalTimedOut');
    assert.deepEqual(effects(stubs), ['gossipClearCache:gossip3', 'gossipService.restart:gossip3']);
  });

  test('quorum guard: with two nodes down, restarting the corrupted one is refused and the operator asked', async () => {
    const { stubs } = setup({ apiClearHeals: false, cacheInMemory: true }, (f) => {
      corrupt(f);
      f.nodes[3]!.up = false;
      f.nodes[4]!.up = false;
    });
    const err = await run('gossipCacheCorruption', stubs, input(fakeGossip(), 'gossip.cache-corruption'), async (h) => {
      const p = await until(h, (x) => x.pendingDecision !== undefined);
      assert.match(p.pendingDecision!.error, /quorum guard: restarting gossip3 would leave 2 of 5 nodes healthy \(gossip1, gossip2\), fewer than the 3/);
      assert.deepEqual(effects(stubs), ['gossipClearCache:gossip3'], 'nothing restarted');
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'abort', by: 'alice' }] });
      return failure(h);
    });
    assert.equal(failureType(err), 'RecoveryAborted');
    assert.deepEqual(effects(stubs), ['gossipClearCache:gossip3']);
  });
});

describe('gossip.split-brain', () => {
  const split = (f: Fake) => f.nodes.forEach((n, i) => ((n.group = i < 3 ? 0 : 1), (n.version = i < 3 ? 2 : 3)));

  test('safe path: anti-entropy enabled everywhere, the sync metrics converge, one component', async () => {
    const { stubs } = setup({}, split);
    const r = await run('gossipSplitBrain', stubs, input(fakeGossip(), 'gossip.split-brain'), result);
    assert.match(r.outcome, /Split brain reconciled by anti-entropy sync: converged: 5 node\(s\) at state version 3/);
    assert.deepEqual(effects(stubs).sort(), ALL.map((n) => `gossipEnableSync:${n}`));
  });

  test('sync unavailable: fails with ReconciliationNeeded, saying application-level reconciliation is needed', async () => {
    const { stubs } = setup({ syncSupported: false }, split);
    const err = await run('gossipSplitBrain', stubs, input(fakeGossip(), 'gossip.split-brain'), failure);
    assert.equal(failureType(err), 'ReconciliationNeeded');
    assert.match(String((err as WorkflowFailedError).cause?.message), /anti-entropy sync is not available .*application-level reconciliation is needed/);
  });

  test('sync never converges within 10 min: ReconciliationNeeded, not a silent success', async () => {
    const { stubs } = setup({ syncConverges: false }, split);
    const err = await run('gossipSplitBrain', stubs, input(fakeGossip(), 'gossip.split-brain'), failure);
    assert.equal(failureType(err), 'ReconciliationNeeded');
    assert.match(String((err as WorkflowFailedError).cause?.message), /did not converge within 10 minutes/);
  });

  test('no divergence: reported, nothing enabled', async () => {
    const { stubs } = setup();
    const r = await run('gossipSplitBrain', stubs, input(fakeGossip(), 'gossip.split-brain'), result);
    assert.match(r.outcome, /No data divergence/);
    assert.deepEqual(effects(stubs), []);
  });
});
