/**
 * training-cluster.cluster-outage (seed 000 §5) and
 * training-cluster.sync-host-critical (seed 001) on the time-skipping server
 * with stub activities: every branch of both runbooks.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { LifeboatActivities } from '../../src/activities/types';
import { approveUpdate, decideUpdate, progressQuery, rejectUpdate, type Progress, type RecoveryInput } from '../../src/workflows/kit/defs';
import { OPS_NODES } from '../helpers/fakes-training-cluster';
import { outage, syncHosts } from '../helpers/fakes-training-ops';
import type { stubActivities } from '../helpers/stubs';
import { TRAINING_OPS_EFFECTS } from '../helpers/stubs-training-ops';
import { bundle, taskQueue, timeSkippingEnv, WORKFLOWS_PATH } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await timeSkippingEnv();
  await bundle(WORKFLOWS_PATH);
});
after(async () => {
  await env?.teardown();
});

const ALL = OPS_NODES.map((n) => n.name);

function input(scenario: string, extra: Partial<RecoveryInput> = {}): RecoveryInput {
  return { scenario, cluster: { name: 'lab-training', system: 'training-cluster', nodes: OPS_NODES }, params: {}, startedBy: 'bob', ...extra };
}

let seq = 0;
async function withWorker<T>(workflowType: string, acts: LifeboatActivities, inp: RecoveryInput, fn: (h: WorkflowHandle) => Promise<T>): Promise<T> {
  const tq = taskQueue('training-ops');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: tq, workflowBundle: await bundle(WORKFLOWS_PATH), activities: acts });
  return worker.runUntil(async () => {
    seq += 1;
    return fn(await env.client.workflow.start(workflowType, { taskQueue: tq, workflowId: `ops-${process.pid}-${seq}`, args: [inp] }));
  });
}

async function until(h: WorkflowHandle, pred: (p: Progress) => boolean): Promise<Progress> {
  for (let i = 0; i < 300; i++) {
    const p = await h.query(progressQuery);
    if (pred(p)) return p;
    if (!['running', 'waiting-approval', 'waiting-decision'].includes(p.status)) throw new Error(`ended early: ${p.status} ${p.outcome ?? ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not reached: ${JSON.stringify(await h.query(progressQuery)).slice(0, 1500)}`);
}

const failed = (h: WorkflowHandle) => h.result().then(() => undefined, (e: unknown) => e);
const names = (s: ReturnType<typeof stubActivities>) => s.effects().map((c) => `${c.name}:${String(c.arg.host ?? c.arg.node)}`);

// ------------------------------------------------------- cluster outage --

describe('training-cluster.cluster-outage', () => {
  test('coordinator first, a durable wait shows "n/5 nodes back", then full sync, daemons and the checklist', async () => {
    const stubs = outage();
    const titles = new Set<string>();
    const r = await withWorker('trainingClusterClusterOutage', stubs.activities, input('training-cluster.cluster-outage'), async (h) => {
      for (let i = 0; i < 400; i++) {
        const p = await h.query(progressQuery);
        if (p.wait?.title) titles.add(p.wait.title);
        if (p.status !== 'running') break;
        await env.sleep('20 seconds');
      }
      return h.result();
    });
    assert.match(r.outcome, /Cluster back: 5\/5 nodes back, leader tc-node1, alive 5\/5; selfplay running on 5\/5 nodes; 1 canonical model\(s\) on tc-node1/);
    assert.ok([...titles].some((t) => /nodes back in the mesh \(probe \d+: 3\/5 nodes back\)/.test(t)), [...titles].join('\n'));
    assert.ok([...titles].some((t) => /tc-node1 reachable over SSH/.test(t)));
    assert.deepEqual(names(stubs), ['p2pRestart:tc-node1', 'clusterFullSync:tc-node1', 'clusterLaunchDaemons:tc-node1']);
    assert.match(r.facts['for humans: checklist'] ?? '', /cluster_monitor.*--dry-run.*data_quality.*incidents/);
    assert.match(r.facts['root cause'] ?? '', /all 5 nodes unreachable/);
  });

  test('some nodes answer: not this scenario, the failure names the one to run, nothing done', async () => {
    const stubs = outage({ answering: ['tc-node2', 'tc-node3'] });
    const err = await withWorker('trainingClusterClusterOutage', stubs.activities, input('training-cluster.cluster-outage'), failed);
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as { type?: string }).type, 'ScenarioMismatch');
    assert.match(String(err.cause?.message), /2 of 5 nodes answer \(tc-node2, tc-node3\).*training-cluster\.mesh-collapse/);
    assert.deepEqual(names(stubs), []);
  });

  test('dry run: every effect planned, none applied', async () => {
    const stubs = outage();
    const r = await withWorker('trainingClusterClusterOutage', stubs.activities, input('training-cluster.cluster-outage', { dryRun: true }), (h) => h.result());
    assert.equal(r.dryRun, true);
    assert.deepEqual(names(stubs), []);
    const planned = stubs.calls.filter((c) => c.arg.dryRun === true).map((c) => c.name);
    for (const n of ['p2pRestart', 'clusterFullSync', 'clusterLaunchDaemons']) assert.ok(planned.includes(n), `${n} planned: ${planned.join(',')}`);
  });
});

// --------------------------------------------------- sync host critical --

const SHC = 'trainingClusterSyncHostCritical';
const shc = (extra: Partial<RecoveryInput> = {}) => input('training-cluster.sync-host-critical', extra);

describe('training-cluster.sync-host-critical', () => {
  test('no critical host: nothing to recover, no effect', async () => {
    const stubs = syncHosts({ 'tc-node4': { state: 'healthy' } });
    const r = await withWorker(SHC, stubs.activities, shc(), (h) => h.result());
    assert.match(r.outcome, /No critical sync host: nothing to recover/);
    assert.deepEqual(names(stubs), []);
  });

  test('option 1: the forced sync works and ends it', async () => {
    const stubs = syncHosts({ 'tc-node5': { state: 'critical', healedBy: 'force' } });
    const r = await withWorker(SHC, stubs.activities, shc(), (h) => h.result());
    assert.match(r.outcome, /tc-node5: manual sync forced/);
    assert.deepEqual(names(stubs), ['syncForce:tc-node5']);
    const reads = stubs.calls.map((c) => c.name);
    for (const n of ['syncHostStorage', 'syncProcess', 'syncLogTail']) assert.ok(reads.includes(n), `diagnosis ${n} ran`);
  });

  test('option 2: the forced sync is refused, the agent restart heals the host', async () => {
    const stubs = syncHosts({ 'tc-node5': { state: 'critical', healedBy: 'restart' } });
    const r = await withWorker(SHC, stubs.activities, shc(), (h) => h.result());
    assert.match(r.outcome, /tc-node5: sync agent restarted/);
    assert.deepEqual(names(stubs), ['syncForce:tc-node5', 'syncAgentRestart:tc-node5']);
  });

  test('option 3: the agent will not start; rsync to the coordinator and the import recover the data', async () => {
    const stubs = syncHosts({ 'tc-node5': { state: 'critical', healedBy: 'import' } });
    const r = await withWorker(SHC, stubs.activities, shc(), (h) => h.result());
    assert.match(r.outcome, /tc-node5: data recovered by rsync and imported \(2 database/);
    assert.deepEqual(names(stubs), ['syncForce:tc-node5', 'syncAgentRestart:tc-node5', 'syncRecoverData:tc-node5', 'syncImport:tc-node5']);
    const imp = stubs.calls.find((c) => c.name === 'syncImport')!.arg;
    assert.equal(imp.dataDir, '/data/recovered/tc-node5/');
    assert.equal(imp.node, 'tc-node1', 'the import runs on the coordinator');
    assert.match(r.facts['tc-node5: follow-up'] ?? '', /still failing/);
  });

  test('option 4: a retired host that is available again is unretired first', async () => {
    const stubs = syncHosts({ 'tc-node5': { state: 'critical', retired: true, healedBy: 'unretire' } });
    const r = await withWorker(SHC, stubs.activities, shc(), (h) => h.result());
    assert.match(r.outcome, /tc-node5: unretired and re-synced/);
    assert.deepEqual(names(stubs), ['syncUnretire:tc-node5']);
  });

  test('every option fails: the dangerous retire-host gate records the loss; only a second person can approve', async () => {
    const stubs = syncHosts({ 'tc-node5': { state: 'critical', reachable: false } });
    const r = await withWorker(SHC, stubs.activities, shc(), async (h) => {
      const p = await until(h, (x) => x.gates.some((g) => g.gate === 'retire-host' && g.status === 'waiting'));
      const g = p.gates.find((x) => x.gate === 'retire-host')!;
      assert.equal(g.dangerous, true);
      assert.equal(g.evidence['data lost (game count)'], '35');
      assert.match(g.evidence['data lost (time range)'] ?? '', /since last sync 2026-12-01T08:00:00.000Z, agent last seen 2026-12-01T09:30/);
      assert.equal(g.evidence['reachable over SSH'], 'no');
      assert.deepEqual(names(stubs), ['syncForce:tc-node5'], 'options 2 and 3 need SSH; nothing retired before the approval');
      await assert.rejects(h.executeUpdate(approveUpdate, { args: [{ gate: 'retire-host', by: 'bob', reason: 'gone', confirm: 'lab-training' }] }));
      await assert.rejects(h.executeUpdate(approveUpdate, { args: [{ gate: 'retire-host', by: 'alice', reason: 'gone' }] }));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'retire-host', by: 'alice', reason: 'instance destroyed by the provider', confirm: 'lab-training' }] });
      return h.result();
    });
    assert.match(r.outcome, /tc-node5: retired, data loss acknowledged by alice \(35 game\(s\)/);
    assert.deepEqual(names(stubs), ['syncForce:tc-node5', 'syncRetireHost:tc-node5']);
    assert.match(r.facts['tc-node5: data loss'] ?? '', /35 game\(s\).*approved by alice/);
  });

  test('a rejected retire-host gate ends the recovery with a clear outcome; nothing is retired', async () => {
    const stubs = syncHosts({ 'tc-node5': { state: 'critical', reachable: false } });
    const err = await withWorker(SHC, stubs.activities, shc(), async (h) => {
      await until(h, (x) => x.gates.some((g) => g.status === 'waiting'));
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'retire-host', by: 'alice', reason: 'the provider may bring it back' }] });
      const e = await failed(h);
      const p = await h.query(progressQuery);
      assert.equal(p.status, 'aborted');
      assert.match(p.outcome ?? '', /alice rejected "retire-host" \(the provider may bring it back\)/);
      return e;
    });
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as { type?: string }).type, 'GateRejected');
    assert.deepEqual(names(stubs), ['syncForce:tc-node5']);
  });

  test('nobody answers the gate: it escalates, and an operator skip leaves the host critical, not retired', async () => {
    const stubs = syncHosts({ 'tc-node5': { state: 'critical', reachable: false } });
    const r = await withWorker(SHC, stubs.activities, shc({ options: { approvalTimeout: '10 minutes' } }), async (h) => {
      // Advance time by hand (not by awaiting the result): the test server may skip past an in-flight update otherwise.
      let p = await h.query(progressQuery);
      for (let i = 0; i < 60 && !p.pendingDecision; i++) {
        await env.sleep('1 minute');
        p = await h.query(progressQuery);
      }
      assert.equal(p.gates[0]?.escalations, 1);
      assert.match(p.pendingDecision?.step ?? '', /approval of "retire-host" timed out/);
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'skip', by: 'carol', reason: 'wait for the provider' }] });
      return h.result();
    });
    assert.match(r.outcome, /tc-node5: still critical, NOT retired/);
    assert.deepEqual(names(stubs), ['syncForce:tc-node5']);
    const notes = stubs.calls.filter((c) => c.name === 'notify').map((c) => String(c.arg.subject));
    assert.ok(notes.some((s) => /ESCALATION: approval of retire-host/.test(s)), notes.join('\n'));
  });

  test('several hosts critical: the Escalation (network check on every node, page) comes before per-host recovery', async () => {
    const stubs = syncHosts({ 'tc-node4': { state: 'critical', healedBy: 'restart' }, 'tc-node5': { state: 'critical', healedBy: 'restart' } });
    const r = await withWorker(SHC, stubs.activities, shc(), (h) => h.result());
    assert.match(r.outcome, /tc-node4: sync agent restarted; tc-node5: sync agent restarted/);
    const order = stubs.calls.map((c) => `${c.name}:${String(c.arg.node)}`);
    const checks = order.filter((c) => c.startsWith('sshCheck:'));
    for (const n of ALL) assert.ok(checks.includes(`sshCheck:${n}`), `network check on ${n}`);
    const page = stubs.calls.findIndex((c) => c.name === 'notify' && c.arg.severity === 'critical' && /2 sync hosts critical/.test(String(c.arg.subject)));
    assert.ok(page >= 0, 'on-call paged');
    assert.ok(page < stubs.calls.findIndex((c) => c.name === 'syncForce'), 'paged before any recovery');
    assert.deepEqual(names(stubs), ['syncForce:tc-node4', 'syncAgentRestart:tc-node4', 'syncForce:tc-node5', 'syncAgentRestart:tc-node5']);
    assert.match(r.facts['for humans: escalation'] ?? '', /pausing selfplay on tc-node4, tc-node5/);
  });

  test('dry run: every option up to the retirement is planned, nothing applied', async () => {
    const stubs = syncHosts({ 'tc-node5': { state: 'critical' } });
    const r = await withWorker(SHC, stubs.activities, shc({ dryRun: true }), (h) => h.result());
    assert.equal(r.dryRun, true);
    assert.deepEqual(names(stubs), []);
    const planned = stubs.calls.filter((c) => c.arg.dryRun === true && TRAINING_OPS_EFFECTS.includes(c.name)).map((c) => c.name);
    assert.deepEqual(planned, ['syncForce', 'syncAgentRestart', 'syncRecoverData', 'syncImport', 'syncRetireHost']);
  });

  test('--set host=tc-node4: only that host is recovered, no escalation', async () => {
    const stubs = syncHosts({ 'tc-node4': { state: 'critical', healedBy: 'force' }, 'tc-node5': { state: 'critical', healedBy: 'force' } });
    const r = await withWorker(SHC, stubs.activities, shc({ params: { host: 'tc-node4' } }), (h) => h.result());
    assert.match(r.outcome, /^Sync hosts recovered: tc-node4: manual sync forced$/);
    assert.deepEqual(names(stubs), ['syncForce:tc-node4']);
    assert.equal(r.facts.escalation, undefined);
  });

  test('the sync coordinator does not answer: a clear failure, nothing done', async () => {
    const stubs = syncHosts({});
    const acts = { ...stubs.activities, syncHosts: async () => ({ reachable: false, error: 'ECONNREFUSED', counts: {}, hosts: [] }) } as LifeboatActivities;
    const err = await withWorker(SHC, acts, shc(), failed);
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as { type?: string }).type, 'CoordinatorUnreachable');
    assert.deepEqual(names(stubs), []);
  });

  test('several hosts critical and no node answers: a cluster outage, nothing done', async () => {
    const stubs = syncHosts({ 'tc-node4': { state: 'critical' }, 'tc-node5': { state: 'critical' } });
    const acts = { ...stubs.activities, sshCheck: async (a: { node: string }) => ({ node: a.node, reachable: false }) } as LifeboatActivities;
    const err = await withWorker(SHC, acts, shc(), failed);
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String(err.cause?.message), /training-cluster\.cluster-outage/);
    assert.deepEqual(names(stubs), []);
  });
});
