/**
 * ledger.regional-failover end to end, as an operator drives it: the
 * `lifeboat` CLI against a real Temporal dev server, a worker process, and
 * the lab's primary ledger and DR region (real SSH, gRPC, the `aws` and
 * `kubectl` shims). The whole primary region is broken; both dangerous
 * gates are approved from the CLI by someone other than the starter with the
 * cluster name typed back; the lab's effect log shows exactly the runbook's
 * effects and the DR side is healthy afterwards.
 *
 * With LIFEBOAT_RECORD_HISTORIES=1 the history is written to
 * test/replay/histories/ for the replay test (CI never writes it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import { type Progress } from '../../src/workflows/kit/defs';
import { OPEN, finishedOf, progressOf, recordHistory } from '../helpers/recovery';
import { eventually, startStack, type Stack } from '../helpers/stack';

let stack: Stack;
const ID = 'recovery-lab-ledger';
const DR = 'lab-ledger-dr';
/** Probes 20 s apart become 1 s: the detection still takes several probes. */
const FAST = ['--time-scale', '0.05'];

before(async () => {
  stack = await startStack({ families: ['ledger', 'ledger-dr'] });
});
after(async () => {
  await stack?.stop();
});

async function progress(workflowId: string): Promise<Progress> {
  return progressOf(stack, workflowId);
}

async function finished(workflowId: string, timeoutMs: number): Promise<Progress> {
  return finishedOf(stack, workflowId, timeoutMs);
}

function record(workflowId: string, scenario: string): void {
  recordHistory(stack, workflowId, scenario);
}

async function gateWaiting(gate: string): Promise<Progress> {
  return eventually(`gate ${gate} to wait`, async () => {
    const p = await progress(ID);
    if (!OPEN.includes(p.status)) throw new Error(`the recovery ended: ${p.status}: ${p.outcome ?? ''}`);
    return p.gates.some((g) => g.gate === gate && g.status === 'waiting') ? p : undefined;
  }, 120_000);
}

describe('ledger.regional-failover end to end through the CLI', () => {
  test('a dry run with the primary region down plans the failover and changes nothing', async () => {
    const { lab, cli } = stack;
    await lab.break('ledger.regional-failover');
    const before = lab.effects.list().length;
    const run = await cli(['run', 'ledger.regional-failover', '--cluster', 'lab-ledger', '--as', 'bob', '--dry-run', ...FAST]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const p = await finished(ID, 180_000);
    assert.equal(p.dryRun, true);
    assert.equal(p.status, 'completed', p.outcome);
    assert.equal(lab.effects.list().length, before, JSON.stringify(lab.effects.list().slice(before)));
    const plans = p.steps.map((s) => s.detail ?? '').join('\n');
    assert.match(plans, /'aws' 's3' 'sync' 's3:\/\/ledger-primary-backups\/latest\/' '\.\/data\/'/);
    assert.match(plans, /INFERADB__LEDGER__CLUSTER='3'/);
    assert.match(plans, /'kubectl' 'patch' 'configmap' 'ledger-config' '-p' '\{"data":\{"LEDGER_ENDPOINT":"ledger\.dr-region\.internal:50051"\}\}'/);
    assert.match(plans, /'kubectl' 'rollout' 'restart' 'deployment\/engine'/);
    assert.deepEqual(p.gates.map((g) => g.gate), ['accept-rpo-gap', 'dns-switch']);
  });

  test('the primary region is down: both gates approved from the CLI, the DR region serves, the engine follows', async () => {
    const { lab, cli } = stack;
    const before = lab.effects.list().length;
    const run = await cli(['run', 'ledger.regional-failover', '--cluster', 'lab-ledger', '--as', 'bob', ...FAST]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`as ${ID} \\(run `));

    const p1 = await gateWaiting('accept-rpo-gap');
    // Several probes of every primary node before anyone is asked.
    const detect = p1.steps.find((s) => s.title.startsWith('Detect failure'))!;
    assert.match(detect.detail ?? '', /0\/3 primary nodes answer .*down 3\/3 probes in a row/);
    assert.match(p1.gates[0]!.evidence['RPO gap (writes lost)'] ?? '', /^[67] min$/);
    assert.equal(lab.effects.list().length, before, 'nothing is done before the RPO gap is accepted');
    const approvals = await cli(['approvals']);
    assert.equal(approvals.code, 0, approvals.stderr);
    assert.match(approvals.stdout, /DANGEROUS gate accept-rpo-gap/);
    assert.match(approvals.stdout, /--confirm lab-ledger/);
    const own = await cli(['approve', ID, 'accept-rpo-gap', '--as', 'bob', '--reason', 'region gone', '--confirm', 'lab-ledger']);
    assert.equal(own.code, 2, own.stdout + own.stderr);
    assert.match(own.stderr, /bob started this recovery/i);
    const ok1 = await cli(['approve', ID, 'accept-rpo-gap', '--as', 'alice', '--reason', 'eu-west is down, 7 min of writes accepted as lost', '--confirm', 'lab-ledger']);
    assert.equal(ok1.code, 0, ok1.stdout + ok1.stderr);

    const p2 = await gateWaiting('dns-switch');
    const dnsGate = p2.gates.find((g) => g.gate === 'dns-switch')!;
    assert.equal(dnsGate.evidence.from, 'ledger.primary-region.internal:50051');
    assert.equal(dnsGate.evidence.to, 'ledger.dr-region.internal:50051');
    // The DR cluster runs; the engine has not been touched yet.
    const midway = lab.effects.list({ cluster: DR }).map((e) => `${e.node} ${e.effect}`);
    assert.deepEqual(midway.slice(0, 3).sort(), ['dr-node1 ledger.dr-sync', 'dr-node2 ledger.dr-sync', 'dr-node3 ledger.dr-sync']);
    assert.deepEqual(midway.slice(3).sort(), ['dr-node1 ledger.start', 'dr-node2 ledger.start', 'dr-node3 ledger.start']);
    const unconfirmed = await cli(['approve', ID, 'dns-switch', '--as', 'alice', '--reason', 'DR serves']);
    assert.equal(unconfirmed.code, 2, unconfirmed.stdout + unconfirmed.stderr);
    assert.match(unconfirmed.stderr, /confirm/i);
    const ok2 = await cli(['approve', ID, 'dns-switch', '--as', 'alice', '--reason', 'DR serves with a leader', '--confirm', 'lab-ledger']);
    assert.equal(ok2.code, 0, ok2.stdout + ok2.stderr);

    const p = await finished(ID, 180_000);
    assert.equal(p.status, 'completed', JSON.stringify(p.steps.filter((s) => s.status !== 'succeeded')));
    assert.match(p.outcome ?? '', /Failed over to the DR region: lab-ledger-dr serves \(3\/3 serving, leader dr-node1\), the engine points at ledger\.dr-region\.internal:50051; RPO gap [67] min/);
    assert.deepEqual(p.gates.map((g) => [g.gate, g.status, g.by]), [
      ['accept-rpo-gap', 'approved', 'alice'],
      ['dns-switch', 'approved', 'alice'],
    ]);

    // Exactly the runbook's effects, in its order; none on the (down) primary.
    const effects = lab.effects.list().slice(before);
    assert.deepEqual(effects.filter((e) => e.cluster !== DR), []);
    const lines = effects.map((e) => `${e.node} ${e.effect}`);
    assert.deepEqual([...lines.slice(0, 3).sort(), ...lines.slice(3, 6).sort(), ...lines.slice(6)], [
      'dr-node1 ledger.dr-sync',
      'dr-node2 ledger.dr-sync',
      'dr-node3 ledger.dr-sync',
      'dr-node1 ledger.start',
      'dr-node2 ledger.start',
      'dr-node3 ledger.start',
      'bastion k8s.configmap-patched',
      'bastion k8s.rollout-restarted',
      'dr-node1 ledger.write', // the checklist's write
    ]);
    for (const s of effects.filter((e) => e.effect === 'ledger.start')) assert.equal(s.detail?.mode, 'cluster');
    const patch = effects.find((e) => e.effect === 'k8s.configmap-patched')!;
    assert.deepEqual(patch.detail, { configmap: 'ledger-config', key: 'LEDGER_ENDPOINT', from: 'ledger.primary-region.internal:50051', to: 'ledger.dr-region.internal:50051' });
    assert.equal(effects.find((e) => e.effect === 'k8s.rollout-restarted')?.detail?.endpoint, 'ledger.dr-region.internal:50051');

    const health = (await lab.health()).find((h) => h.cluster === DR);
    assert.ok(health?.healthy, JSON.stringify(health));
    assert.match(health!.summary, /DR cluster serving; engine on the DR ledger, 3\/3 pods ready/);

    const report = await cli(['report', ID]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /RPO gap/);
    assert.match(report.stdout, /[67] min: data committed in the primary region after the last replication/);
    assert.match(report.stdout, /accept-rpo-gap/);
    assert.match(report.stdout, /dns-switch/);
    assert.match(report.stdout, /eu-west is down/);
    assert.match(report.stdout, /failed over to lab-ledger-dr/);
    await record(ID, 'ledger.regional-failover');
  });

  test('after the failover, retried effects find their work done: no second sync, patch or restart', async (t) => {
    const { lab } = stack;
    const { activities: a, close } = createActivities({ inventoryPath: lab.inventoryPath });
    t.after(close);
    const wf = { workflowId: 'recovery-lab-ledger', runId: 'retry-check' };
    const run = <I, O>(fn: (i: I) => Promise<O>, input: I, activityId: string): Promise<O> =>
      new MockActivityEnvironment({ activityId, workflowExecution: wf }).run(fn, input) as Promise<O>;
    const before = lab.effects.list().length;

    const topo = await run(a.ledgerDrTopology, { cluster: 'lab-ledger' }, 'topology');
    assert.deepEqual([topo.drCluster, topo.voters, topo.bastion, topo.endpoint, topo.dataDir], [DR, ['dr-node1', 'dr-node2', 'dr-node3'], 'bastion', 'ledger.dr-region.internal:50051', './data']);
    await assert.rejects(run(a.ledgerDrTopology, { cluster: DR }, 'topology-2'), /names no DR region: add settings\.drCluster/);
    const replica = await run(a.ledgerReplicaInfo, { cluster: DR, node: 'dr-node1', source: topo.replicaSource }, 'replica');
    assert.equal(replica.exists, true);

    const sync = await run(a.ledgerDrSync, { cluster: DR, node: 'dr-node1', source: topo.replicaSource }, 'sync');
    assert.equal(sync.alreadyDone, true, 'never synced under a running ledger');
    const patch = await run(a.ledgerSwitchEndpoint, { cluster: DR, node: 'bastion', endpoint: topo.endpoint }, 'patch');
    assert.equal(patch.alreadyDone, true);
    assert.equal((await run(a.ledgerEngineEndpoint, { cluster: DR, node: 'bastion' }, 'endpoint')).endpoint, topo.endpoint);
    const r1 = await run(a.ledgerRestartEngine, { cluster: DR, node: 'bastion' }, 'restart-a');
    assert.ok(!r1.alreadyDone);
    const r2 = await run(a.ledgerRestartEngine, { cluster: DR, node: 'bastion' }, 'restart-a');
    assert.equal(r2.alreadyDone, true, 'a retry of the same step does not restart again');
    const rollout = await run(a.ledgerEngineRollout, { cluster: DR, node: 'bastion', timeoutSeconds: 30 }, 'rollout');
    assert.equal(rollout.complete, true, rollout.detail);
    assert.deepEqual(lab.effects.list().slice(before).map((e) => `${e.node} ${e.effect}`), ['bastion k8s.rollout-restarted']);
  });
});
