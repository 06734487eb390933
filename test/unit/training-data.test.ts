/**
 * training-cluster.node-data-loss, .multi-node-data-loss and .model-corruption
 * (seed 000 §3, §4, §6) on the time-skipping server with stateful stub
 * activities: the safe option first, the escalation to each dangerous gate,
 * what a rejection leaves untouched, and what an approval timeout escalates to.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { LifeboatActivities } from '../../src/activities/types';
import { approveUpdate, decideUpdate, progressQuery, rejectUpdate, type Progress, type RecoveryInput } from '../../src/workflows/kit/defs';
import { TC_NODES } from '../helpers/fakes-training-cluster';
import { models, multiLoss, nodeLoss } from '../helpers/fakes-training-data';
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

const CLUSTER = 'tc';

function input(scenario: string, params: Record<string, unknown> = {}): RecoveryInput {
  return { scenario, cluster: { name: CLUSTER, system: 'training-cluster', nodes: TC_NODES }, params, startedBy: 'bob' };
}

let seq = 0;
async function withWorker<T>(workflow: string, acts: LifeboatActivities, inp: RecoveryInput, fn: (h: WorkflowHandle) => Promise<T>): Promise<T> {
  const tq = taskQueue('training-data');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: tq, workflowBundle: await bundle(WORKFLOWS_PATH), activities: acts });
  return worker.runUntil(async () => {
    seq += 1;
    return fn(await env.client.workflow.start(workflow, { taskQueue: tq, workflowId: `td-${process.pid}-${seq}`, args: [inp] }));
  });
}

async function until(h: WorkflowHandle, pred: (p: Progress) => boolean): Promise<Progress> {
  for (let i = 0; i < 300; i++) {
    const p = await h.query(progressQuery);
    if (pred(p)) return p;
    // Time skips only while something awaits it: move the clock through the workflow's durable waits.
    await env.sleep('5 seconds');
  }
  throw new Error(`condition not reached: ${JSON.stringify(await h.query(progressQuery)).slice(0, 2000)}`);
}

const waiting = (gate: string) => (p: Progress) => p.gates.some((g) => g.gate === gate && g.status === 'waiting');
const names = (s: ReturnType<typeof stubActivities>) => s.effects().map((c) => `${c.name}:${String(c.arg.node)}`);
const failed = (h: WorkflowHandle) => h.result().then(() => undefined, (e: unknown) => e);

/** Approval timeout (default 30 min) passes, the escalation asks the operator, who skips the gate. */
async function timeoutThenSkip(h: WorkflowHandle, gate: string, notes: string[]): Promise<void> {
  await until(h, waiting(gate));
  await env.sleep('31 minutes');
  await until(h, (p) => p.pendingDecision !== undefined);
  assert.ok(notes.some((s) => s.startsWith('ESCALATION')), notes.join(' | '));
  await h.executeUpdate(decideUpdate, { args: [{ decision: 'skip', by: 'carol', reason: 'nobody reachable' }] });
}

// -------------------------------------------------------- node-data-loss ----

describe('training-cluster.node-data-loss', () => {
  const start = (stubs: ReturnType<typeof nodeLoss>, fn: (h: WorkflowHandle) => Promise<unknown>, params = {}) =>
    withWorker('trainingClusterNodeDataLoss', stubs.activities, input('training-cluster.node-data-loss', params), fn);

  test('option 1: the corrupted database is moved aside, the cluster\'s own auto-sync refills it while we wait; no gate, no sync call', async () => {
    const stubs = nodeLoss({ sync: 1150 });
    const r = (await start(stubs, (h) => h.result())) as { outcome: string; facts: Record<string, string> };
    assert.match(r.outcome, /Data on tc-node4 recovered: re-synced from the cluster \(1,150 games\); now tc-node4: 1,150 games, integrity ok/);
    assert.match(r.facts['root cause'] ?? '', /tc-node4: database file is not a database/);
    assert.deepEqual(names(stubs), ['gamesQuarantine:tc-node4', 'selfplayStart:tc-node4'], 'no call re-syncs one host at RingRift 2aa9f89b5: only the wait');
    assert.ok(!stubs.calls.some((c) => c.name === 'gamesSyncToHost'));
  });

  test('option 2: the re-sync is not enough, the dangerous backup gate shows counts and age; approved by a second person, the backup is restored', async () => {
    const stubs = nodeLoss({ sync: 100 });
    const r = (await start(stubs, async (h) => {
      const p = await until(h, waiting('overwrite-db-from-backup'));
      const gate = p.gates.find((g) => g.gate === 'overwrite-db-from-backup')!;
      assert.equal(gate.dangerous, true);
      assert.equal(gate.evidence['games in the backup'], '1,100');
      assert.match(gate.evidence['games on the node now'] ?? '', /^100 \(ok\)/);
      // The age is the workflow clock minus the backup's time (the time-skipping clock runs ahead of the stub's).
      assert.match(gate.evidence['backup taken'] ?? '', /^\d{4}-\d\d-\d\dT.* \(\d+ h \d+ min ago\)$/);
      assert.equal(gate.evidence['expected (peers)'], '~1,200');
      assert.deepEqual(names(stubs), ['gamesQuarantine:tc-node4'], 'nothing overwritten before the approval');
      await assert.rejects(h.executeUpdate(approveUpdate, { args: [{ gate: 'overwrite-db-from-backup', by: 'bob', reason: 'x', confirm: CLUSTER }] }));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'overwrite-db-from-backup', by: 'alice', reason: 'backup is recent enough', confirm: CLUSTER }] });
      return h.result();
    })) as { outcome: string };
    assert.match(r.outcome, /restored from the backup taken \d+ h \d+ min before \(1,100 games\), approved by alice; now tc-node4: 1,100 games/);
    assert.deepEqual(names(stubs), ['gamesQuarantine:tc-node4', 'gamesRestoreBackup:tc-node4', 'selfplayStart:tc-node4']);
  });

  test('a rejected backup gate ends the recovery: the database is not overwritten, selfplay not restarted', async () => {
    const stubs = nodeLoss({ sync: 100 });
    const err = await start(stubs, async (h) => {
      await until(h, waiting('overwrite-db-from-backup'));
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'overwrite-db-from-backup', by: 'alice', reason: 'the backup predates the new config' }] });
      return failed(h);
    });
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as { type?: string }).type, 'GateRejected');
    assert.match(String(err.cause?.message), /alice rejected "overwrite-db-from-backup"/);
    assert.deepEqual(names(stubs), ['gamesQuarantine:tc-node4']);
  });

  test('an approval timeout escalates; the operator skips the gate: the loss is accepted and selfplay restarts', async () => {
    const stubs = nodeLoss({ sync: 100 });
    const r = (await start(stubs, async (h) => {
      await timeoutThenSkip(h, 'overwrite-db-from-backup', stubs.notes);
      return h.result();
    })) as { outcome: string; facts: Record<string, string> };
    assert.match(r.outcome, /loss accepted \(100 of ~1,200 games kept\)/);
    assert.equal(r.facts['data lost'], 'tc-node4: about 1,100 games');
    assert.deepEqual(names(stubs), ['gamesQuarantine:tc-node4', 'selfplayStart:tc-node4']);
  });

  test('no usable backup: option 3 without a gate, the loss accepted', async () => {
    const stubs = nodeLoss({ sync: 0, backup: false });
    const r = (await start(stubs, async (h) => {
      const res = await h.result();
      assert.deepEqual((await h.query(progressQuery)).gates, []);
      return res;
    })) as { outcome: string };
    assert.match(r.outcome, /loss accepted \(0 of ~1,200 games kept\)/);
    assert.deepEqual(names(stubs), ['gamesQuarantine:tc-node4', 'selfplayStart:tc-node4']);
  });

  test('two nodes lost data: refused with a pointer to multi-node-data-loss, nothing done', async () => {
    const stubs = nodeLoss({ sync: 1150, alsoLost: true });
    const err = await start(stubs, failed);
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as { type?: string }).type, 'ScenarioMismatch');
    assert.match(String(err.cause?.message), /multi-node-data-loss/);
    assert.deepEqual(names(stubs), []);
  });

  test('a healthy node named explicitly: nothing to recover', async () => {
    const stubs = nodeLoss({ sync: 0 });
    const r = (await start(stubs, (h) => h.result(), { node: 'tc-node2' })) as { outcome: string };
    assert.match(r.outcome, /No data loss on tc-node2/);
    assert.deepEqual(names(stubs), []);
  });

  test('dry run: the whole plan, gate included, and no effect', async () => {
    const stubs = nodeLoss({ sync: 100 });
    const inp = { ...input('training-cluster.node-data-loss'), dryRun: true };
    const r = await withWorker('trainingClusterNodeDataLoss', stubs.activities, inp, (h) => h.result());
    assert.equal(r.dryRun, true);
    assert.deepEqual(names(stubs), []);
    assert.ok(stubs.calls.some((c) => c.name === 'gamesRestoreBackup' && c.arg.dryRun === true));
  });
});

// --------------------------------------------------- multi-node-data-loss ----

describe('training-cluster.multi-node-data-loss', () => {
  const start = (stubs: ReturnType<typeof multiLoss>, fn: (h: WorkflowHandle) => Promise<unknown>) =>
    withWorker('trainingClusterMultiNodeDataLoss', stubs.activities, input('training-cluster.multi-node-data-loss'), fn);

  test('diagnosis, then the dangerous stop-writes gate before any effect; approved: stop, aggregate, dated backup, relaunch, monitored growth', async () => {
    const stubs = multiLoss();
    const r = (await start(stubs, async (h) => {
      const p = await until(h, waiting('stop-writes'));
      const gate = p.gates.find((g) => g.gate === 'stop-writes')!;
      assert.equal(gate.dangerous, true);
      assert.equal(gate.evidence['per host'], 'tc-node1: 1,500 (OK), tc-node2: 0 (EMPTY, missing), tc-node3: 0 (EMPTY, file is not a database), tc-node4: 150 (LOW)');
      assert.equal(gate.evidence['writes stopped on'], 'tc-node1, tc-node4');
      assert.equal(gate.evidence['cluster total'], 'total 1,650 games (hex8_2p: 1,650)');
      assert.deepEqual(names(stubs), []);
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'stop-writes', by: 'alice', reason: 'protect the survivors', confirm: CLUSTER }] });
      const res = await h.result();
      return { ...res, started: (await h.query(progressQuery)).startedAt };
    })) as { outcome: string; facts: Record<string, string>; started: string };
    assert.match(r.outcome, /Surviving data aggregated on tc-node1 \(1,650 games\) and backed up to \/nfs\/backups\/games_\d{8}; selfplay regenerating: total/);
    const got = names(stubs);
    // The stops and the starts run in parallel (their order is not fixed); everything else in the runbook's order.
    assert.deepEqual([...got.slice(0, 2).sort(), ...got.slice(2, 5), ...got.slice(5).sort()], [
      'selfplayStop:tc-node1',
      'selfplayStop:tc-node4',
      'gamesAggregate:tc-node1',
      'gamesBackupAggregate:tc-node1',
      'gamesQuarantine:tc-node3',
      'selfplayStart:tc-node1',
      'selfplayStart:tc-node2',
      'selfplayStart:tc-node3',
      'selfplayStart:tc-node4',
    ]);
    // The survivors are aggregated by the real script on the coordinator, under the workflow's date.
    const agg = stubs.calls.find((c) => c.name === 'gamesAggregate')?.arg;
    assert.deepEqual(agg?.from, ['tc-node1', 'tc-node4']);
    assert.equal(agg?.date, stubs.calls.find((c) => c.name === 'gamesBackupAggregate')?.arg.date);
    // The backup's date is the workflow's clock, passed to the activity.
    const date = String(stubs.calls.find((c) => c.name === 'gamesBackupAggregate')?.arg.date);
    assert.match(date, /^\d{8}$/);
    const started = Date.parse(r.started);
    const days = [started, started + 86_400_000].map((t) => new Date(t).toISOString().slice(0, 10).replace(/-/g, ''));
    assert.ok(days.includes(date), `${date} vs ${days.join('/')}`);
    assert.match(r.facts['root cause'] ?? '', /data lost on 3 nodes/);
  });

  test('a rejected stop-writes gate: nothing stopped, aggregated or backed up', async () => {
    const stubs = multiLoss();
    const err = await start(stubs, async (h) => {
      await until(h, waiting('stop-writes'));
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'stop-writes', by: 'alice', reason: 'training deadline' }] });
      return failed(h);
    });
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as { type?: string }).type, 'GateRejected');
    assert.deepEqual(names(stubs), []);
  });

  test('an approval timeout escalates; skipped, the recovery ends with a clear outcome and no effect', async () => {
    const stubs = multiLoss();
    const r = (await start(stubs, async (h) => {
      await timeoutThenSkip(h, 'stop-writes', stubs.notes);
      return h.result();
    })) as { outcome: string };
    assert.match(r.outcome, /Stopped before any change: writes on tc-node1, tc-node4 were not stopped \(gate skipped\)/);
    assert.deepEqual(names(stubs), []);
  });

  test('dry run: the plan through the gate to the relaunch, and no effect', async () => {
    const stubs = multiLoss();
    const inp = { ...input('training-cluster.multi-node-data-loss'), dryRun: true };
    const r = await withWorker('trainingClusterMultiNodeDataLoss', stubs.activities, inp, (h) => h.result());
    assert.equal(r.dryRun, true);
    assert.deepEqual(names(stubs), []);
    const planned = stubs.calls.filter((c) => c.arg.dryRun === true).map((c) => c.name);
    for (const n of ['selfplayStop', 'gamesAggregate', 'gamesBackupAggregate', 'selfplayStart']) assert.ok(planned.includes(n), planned.join(','));
    assert.ok(!planned.includes('selfplayLaunchCluster'), 'the seed\'s launcher does not exist at RingRift 2aa9f89b5');
  });

  test('only one node lost data: refused with a pointer to node-data-loss', async () => {
    const stubs = multiLoss({ oneOnly: true });
    const err = await start(stubs, failed);
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String(err.cause?.message), /training-cluster\.node-data-loss --set node=tc-node4/);
    assert.deepEqual(names(stubs), []);
  });
});

// ------------------------------------------------------- model-corruption ----

describe('training-cluster.model-corruption', () => {
  const start = (stubs: ReturnType<typeof models>, fn: (h: WorkflowHandle) => Promise<unknown>) =>
    withWorker('trainingClusterModelCorruption', stubs.activities, input('training-cluster.model-corruption'), fn);

  test('option 1: the backup copy matches the manifest and is restored; no gate, nothing pulled', async () => {
    const stubs = models({ backup: true, healthyOn: ['tc-node2'] });
    const r = (await start(stubs, (h) => h.result())) as { outcome: string };
    assert.match(r.outcome, /Model on tc-node1 recovered: restored from models\/backup\/; models\/canonical_hex8_2p\.pth loads, sha256 aaaaaaaaaaaa matches the manifest/);
    assert.deepEqual(names(stubs), ['modelRestoreBackup:tc-node1']);
  });

  test('option 2: the backup is stale; the first healthy node\'s copy is staged and verified, swapped in after the dangerous gate', async () => {
    const stubs = models({ backup: false, healthyOn: ['tc-node3', 'tc-node4'] });
    const r = (await start(stubs, async (h) => {
      const p = await until(h, waiting('replace-canonical-model'));
      const gate = p.gates.find((g) => g.gate === 'replace-canonical-model')!;
      assert.equal(gate.dangerous, true);
      assert.match(gate.evidence['copy from'] ?? '', /^tc-node3: .* matches the manifest/);
      assert.match(gate.evidence['staged copy'] ?? '', /\.incoming loads, sha256 aaaaaaaaaaaa matches the manifest/);
      assert.deepEqual(names(stubs), ['modelFetch:tc-node1'], 'staged, not swapped');
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'replace-canonical-model', by: 'alice', reason: 'checksum verified', confirm: CLUSTER }] });
      return h.result();
    })) as { outcome: string };
    assert.match(r.outcome, /pulled the verified copy from tc-node3 \(approved by alice\)/);
    assert.deepEqual(names(stubs), ['modelFetch:tc-node1', 'modelSwap:tc-node1']);
    assert.equal(stubs.calls.find((c) => c.name === 'modelFetch')?.arg.from, 'tc-node3');
  });

  test('a rejected swap ends the recovery: the canonical model is not replaced, no training', async () => {
    const stubs = models({ backup: false, healthyOn: ['tc-node2'] });
    const err = await start(stubs, async (h) => {
      await until(h, waiting('replace-canonical-model'));
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'replace-canonical-model', by: 'alice', reason: 'investigate first' }] });
      return failed(h);
    });
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as { type?: string }).type, 'GateRejected');
    assert.deepEqual(names(stubs), ['modelFetch:tc-node1']);
  });

  test('an approval timeout escalates; skipped, training resumes from the latest valid checkpoint instead', async () => {
    const stubs = models({ backup: false, healthyOn: ['tc-node2'] });
    const r = (await start(stubs, async (h) => {
      await timeoutThenSkip(h, 'replace-canonical-model', stubs.notes);
      return h.result();
    })) as { outcome: string };
    assert.match(r.outcome, /retrained from models\/checkpoints\/hex8_2p_epoch_45\.pth/);
    assert.deepEqual(names(stubs), ['modelFetch:tc-node1', 'modelResumeTraining:tc-node1']);
  });

  test('option 3: no healthy copy anywhere, training resumes without a gate', async () => {
    const stubs = models({ backup: false, healthyOn: [] });
    const r = (await start(stubs, async (h) => {
      const res = await h.result();
      assert.deepEqual((await h.query(progressQuery)).gates, []);
      return res;
    })) as { outcome: string };
    assert.match(r.outcome, /retrained from models\/checkpoints\/hex8_2p_epoch_45\.pth/);
    assert.deepEqual(names(stubs), ['modelResumeTraining:tc-node1']);
  });

  test('dry run: the staged copy and the swap are planned, nothing is replaced', async () => {
    const stubs = models({ backup: false, healthyOn: ['tc-node2'] });
    const inp = { ...input('training-cluster.model-corruption'), dryRun: true };
    const r = await withWorker('trainingClusterModelCorruption', stubs.activities, inp, (h) => h.result());
    assert.equal(r.dryRun, true);
    assert.deepEqual(names(stubs), []);
    assert.ok(stubs.calls.some((c) => c.name === 'modelSwap' && c.arg.dryRun === true));
  });

  test('an intact model: nothing to recover', async () => {
    const stubs = stubActivities();
    const r = await withWorker('trainingClusterModelCorruption', stubs.activities, input('training-cluster.model-corruption'), (h) => h.result());
    assert.match(r.outcome, /Model intact on tc-node1/);
    assert.deepEqual(stubs.effects(), []);
  });
});
