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

  test('a node the coordinator counts alive but that does not answer itself is not back: no daemons launched without it', async () => {
    const stubs = outage({ silent: ['tc-node5'] });
    const detail = await withWorker('trainingClusterClusterOutage', stubs.activities, input('training-cluster.cluster-outage'), async (h) => {
      for (let i = 0; i < 400; i++) {
        const p = await h.query(progressQuery);
        const d = p.steps.find((x) => x.title.startsWith('Reconnect the nodes'))?.detail ?? p.wait?.title ?? '';
        if (/tc-node5 alive in tc-node1's view but not answering itself/.test(d)) {
          await h.terminate('seen');
          return d;
        }
        await env.sleep('30 seconds');
      }
      throw new Error(`never waited on tc-node5: ${JSON.stringify(await h.query(progressQuery)).slice(0, 1500)}`);
    });
    assert.match(detail, /4\/5 nodes back \(tc-node5 alive in tc-node1's view but not answering itself\)/);
    assert.deepEqual(names(stubs), ['p2pRestart:tc-node1'], 'no sync, no daemons while a node is not back');
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
// v2 (the real sync surface of RingRift 2aa9f89b5, behind patched('training-cluster/real-p2p-api')): the
// gauges, the critical hosts from the coordinator's P2P peers, the full sync, the orchestrator restart,
// rsync + import, unretire, and the retirement as a human step after the seed's gate.

const SHC = 'trainingClusterSyncHostCritical';
const shc = (extra: Partial<RecoveryInput> = {}) => input('training-cluster.sync-host-critical', extra);
const LOST = () => ({ 'tc-node5': { critical: true, alive: false, reachable: false } });

/** Like `until`, skipping workflow time meanwhile: the verifications before the gate are durable polls. */
async function untilGate(h: WorkflowHandle, gate: string): Promise<Progress> {
  for (let i = 0; i < 120; i++) {
    const p = await h.query(progressQuery);
    if (p.gates.some((g) => g.gate === gate && g.status === 'waiting')) return p;
    if (!['running', 'waiting-approval', 'waiting-decision'].includes(p.status)) throw new Error(`ended early: ${p.status} ${p.outcome ?? ''}`);
    await env.sleep('10 seconds');
  }
  throw new Error(`gate ${gate} not reached: ${JSON.stringify(await h.query(progressQuery)).slice(0, 1500)}`);
}

describe('training-cluster.sync-host-critical', () => {
  test('no critical host (gauges 0, every peer fresh): nothing to recover, no effect', async () => {
    const stubs = syncHosts({});
    const r = await withWorker(SHC, stubs.activities, shc(), (h) => h.result());
    assert.match(r.outcome, /No critical sync host: nothing to recover/);
    assert.match(r.facts['sync gauges'] ?? '', /total=4 healthy=4 stale=0 critical=0/);
    assert.deepEqual(names(stubs), []);
  });

  test('the gauges count a critical host the peers do not name: a failure that says to name it, nothing done', async () => {
    const stubs = syncHosts({ 'tc-node5': { critical: true, healedBy: 'trigger' } });
    const err = await withWorker(SHC, stubs.activities, shc(), failed);
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as { type?: string }).type, 'HostNotNamed');
    assert.match(String(err.cause?.message), /--set host=NODE/);
    assert.deepEqual(names(stubs), []);
  });

  test('option 1: the operator names the host; the full sync drops the gauge and its heartbeat is fresh', async () => {
    const stubs = syncHosts({ 'tc-node5': { critical: true, healedBy: 'trigger' } });
    const r = await withWorker(SHC, stubs.activities, shc({ params: { host: 'tc-node5' } }), (h) => h.result());
    assert.match(r.outcome, /^Sync hosts recovered: tc-node5: full sync triggered \(3 file\(s\)\)$/);
    assert.deepEqual(names(stubs), ['syncTrigger:tc-node1']);
    const reads = stubs.calls.map((c) => c.name);
    for (const n of ['syncGauges', 'syncAppStatus', 'syncCriticalHosts', 'sshCheck', 'p2pDaemonStatus', 'gamesDbStatus']) assert.ok(reads.includes(n), `diagnosis ${n} ran`);
    assert.equal(stubs.calls.find((c) => c.name === 'syncCriticalHosts')?.arg.host, 'tc-node5');
    assert.match(r.facts.impact ?? '', /tc-node5 \(named by the operator/);
  });

  test('option 2: its orchestrator is dead; the full sync brings its data in, the restart brings its heartbeat back', async () => {
    const stubs = syncHosts({ 'tc-node5': { critical: true, alive: false, healedBy: 'restart' } });
    const r = await withWorker(SHC, stubs.activities, shc(), (h) => h.result());
    assert.match(r.outcome, /tc-node5: full sync triggered, orchestrator restarted/);
    assert.deepEqual(names(stubs), ['syncTrigger:tc-node1', 'p2pRestart:tc-node5']);
    assert.match(r.facts['tc-node5: diagnosis'] ?? '', /not alive, no heartbeat; 35 game\(s\) on the host/);
    assert.match(r.facts.impact ?? '', /tc-node5 \(not alive, no heartbeat\)/);
  });

  test('option 3: its data cannot be pulled; rsync of data/games to the coordinator and the import recover it', async () => {
    const stubs = syncHosts({ 'tc-node5': { critical: true, unpullable: true, healedBy: 'import' } });
    const r = await withWorker(SHC, stubs.activities, shc({ params: { host: 'tc-node5' } }), (h) => h.result());
    assert.match(r.outcome, /tc-node5: data recovered by rsync and imported \(2 database/);
    assert.deepEqual(names(stubs), ['syncTrigger:tc-node1', 'p2pRestart:tc-node5', 'syncRecoverData:tc-node5', 'syncImport:tc-node5']);
    const copy = stubs.calls.find((c) => c.name === 'syncRecoverData')!.arg;
    assert.equal(copy.dir, 'data/games');
    const imp = stubs.calls.find((c) => c.name === 'syncImport')!.arg;
    assert.equal(imp.dataDir, '/data/recovered/tc-node5/');
    assert.equal(imp.json, true);
    assert.equal(imp.node, 'tc-node1', 'the import runs on the coordinator');
  });

  test('option 4: a retired host that answers again is unretired first (POST /admin/unretire?node_id= on the coordinator)', async () => {
    const stubs = syncHosts({ 'tc-node5': { retired: true, healedBy: 'unretire' } });
    const r = await withWorker(SHC, stubs.activities, shc(), (h) => h.result());
    assert.match(r.outcome, /tc-node5: unretired, back in the mesh/);
    assert.deepEqual(names(stubs), ['p2pUnretire:tc-node1'], 'on the coordinator');
    assert.equal(stubs.calls.find((c) => c.name === 'p2pUnretire')?.arg.peer, 'tc-node5');
  });

  test('every option fails: the dangerous retire-host gate, then the retirement by hand (no route retires a host), confirmed; the loss recorded', async () => {
    const stubs = syncHosts(LOST());
    const r = await withWorker(SHC, stubs.activities, shc(), async (h) => {
      const p = await untilGate(h, 'retire-host');
      const g = p.gates.find((x) => x.gate === 'retire-host')!;
      assert.equal(g.dangerous, true);
      assert.equal(g.evidence['data lost (game count)'], 'unknown');
      assert.match(g.evidence['why critical'] ?? '', /not alive/);
      assert.equal(g.evidence['reachable over SSH'], 'no');
      assert.equal(g.evidence.tried, 'full sync');
      assert.deepEqual(names(stubs), ['syncTrigger:tc-node1'], 'options 2 and 3 need SSH; nothing done to the host before the approval');
      await assert.rejects(h.executeUpdate(approveUpdate, { args: [{ gate: 'retire-host', by: 'bob', reason: 'gone', confirm: 'lab-training' }] }));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'retire-host', by: 'alice', reason: 'instance destroyed by the provider', confirm: 'lab-training' }] });
      const p2 = await untilGate(h, 'retire-host-by-hand');
      assert.match(p2.gates.find((x) => x.gate === 'retire-host-by-hand')?.evidence.why ?? '', /no route that retires a host/);
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'retire-host-by-hand', by: 'carol', reason: 'removed from distributed_hosts.yaml' }] });
      return h.result();
    });
    assert.match(r.outcome, /tc-node5: retired by hand, data loss acknowledged by alice/);
    assert.deepEqual(names(stubs), ['syncTrigger:tc-node1'], 'Lifeboat itself retired nothing');
    assert.match(r.facts['tc-node5: data loss'] ?? '', /acknowledged by alice \(instance destroyed by the provider\); retired by hand, confirmed by carol/);
    assert.match(r.facts['for humans: training logs'] ?? '', /tc-node5/);
  });

  test('a rejected retire-host gate ends the recovery with a clear outcome; no human step asked', async () => {
    const stubs = syncHosts(LOST());
    const err = await withWorker(SHC, stubs.activities, shc(), async (h) => {
      await untilGate(h, 'retire-host');
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'retire-host', by: 'alice', reason: 'the provider may bring it back' }] });
      const e = await failed(h);
      const p = await h.query(progressQuery);
      assert.equal(p.status, 'aborted');
      assert.match(p.outcome ?? '', /alice rejected "retire-host" \(the provider may bring it back\)/);
      assert.ok(!p.gates.some((g) => g.gate === 'retire-host-by-hand'));
      return e;
    });
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as { type?: string }).type, 'GateRejected');
  });

  test('nobody answers the gate: it escalates, and an operator skip leaves the host critical, not retired', async () => {
    const stubs = syncHosts(LOST());
    const r = await withWorker(SHC, stubs.activities, shc({ options: { approvalTimeout: '10 minutes' } }), async (h) => {
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
    assert.deepEqual(names(stubs), ['syncTrigger:tc-node1']);
  });

  test('several hosts critical: the Escalation (network check on every node, page) comes before per-host recovery', async () => {
    const stubs = syncHosts({ 'tc-node4': { critical: true, alive: false, healedBy: 'restart' }, 'tc-node5': { critical: true, alive: false, healedBy: 'restart' } });
    const r = await withWorker(SHC, stubs.activities, shc(), (h) => h.result());
    assert.match(r.outcome, /tc-node4: full sync triggered, orchestrator restarted; tc-node5: .*orchestrator restarted/);
    const checks = stubs.calls.filter((c) => c.name === 'sshCheck').map((c) => String(c.arg.node));
    for (const n of ALL) assert.ok(checks.includes(n), `network check on ${n}`);
    const page = stubs.calls.findIndex((c) => c.name === 'notify' && c.arg.severity === 'critical' && /2 sync hosts critical/.test(String(c.arg.subject)));
    assert.ok(page >= 0, 'on-call paged');
    assert.ok(page < stubs.calls.findIndex((c) => c.name === 'syncTrigger'), 'paged before any recovery');
    assert.deepEqual(names(stubs).filter((n) => n.startsWith('p2pRestart')), ['p2pRestart:tc-node4', 'p2pRestart:tc-node5']);
    assert.match(r.facts['for humans: escalation'] ?? '', /pausing selfplay on tc-node4, tc-node5/);
  });

  test('dry run: every option up to the retirement is planned, nothing applied', async () => {
    const stubs = syncHosts({ 'tc-node5': { critical: true, alive: false } });
    const r = await withWorker(SHC, stubs.activities, shc({ dryRun: true }), (h) => h.result());
    assert.equal(r.dryRun, true);
    assert.deepEqual(names(stubs), []);
    const planned = stubs.calls.filter((c) => c.arg.dryRun === true && [...TRAINING_OPS_EFFECTS, 'p2pRestart', 'p2pUnretire'].includes(c.name)).map((c) => c.name);
    assert.deepEqual(planned, ['syncTrigger', 'p2pRestart', 'syncRecoverData', 'syncImport']);
    assert.match(r.outcome, /tc-node5: would be retired by hand after the gate/);
  });

  test('--set host=tc-node4: only that host is recovered, no escalation', async () => {
    const stubs = syncHosts({ 'tc-node4': { critical: true, alive: false, healedBy: 'restart' }, 'tc-node5': { critical: true, alive: false, healedBy: 'restart' } });
    const r = await withWorker(SHC, stubs.activities, shc({ params: { host: 'tc-node4' } }), (h) => h.result());
    assert.match(r.outcome, /^Sync hosts recovered: tc-node4: full sync triggered, orchestrator restarted$/);
    assert.deepEqual(names(stubs), ['syncTrigger:tc-node1', 'p2pRestart:tc-node4']);
    assert.equal(r.facts.escalation, undefined);
  });

  test('the coordinator\'s orchestrator does not answer /status: a clear failure, nothing done', async () => {
    const stubs = syncHosts({}, (o) => (o.syncCriticalHosts = async (a) => ({ node: a.node, reachable: false, staleSeconds: 300, hosts: [], error: 'ECONNREFUSED' })));
    const err = await withWorker(SHC, stubs.activities, shc(), failed);
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as { type?: string }).type, 'CoordinatorUnreachable');
    assert.match(String(err.cause?.message), /mesh-collapse/);
    assert.deepEqual(names(stubs), []);
  });

  test('several hosts critical and no node answers: a cluster outage, nothing done', async () => {
    const stubs = syncHosts({ 'tc-node4': { critical: true, alive: false }, 'tc-node5': { critical: true, alive: false } });
    const acts = { ...stubs.activities, sshCheck: async (a: { node: string }) => ({ node: a.node, reachable: false }) } as LifeboatActivities;
    const err = await withWorker(SHC, acts, shc(), failed);
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String(err.cause?.message), /training-cluster\.cluster-outage/);
    assert.deepEqual(names(stubs), []);
  });
});
