/**
 * ledger.regional-failover end to end, as an operator drives it: the
 * `lifeboat` CLI against a real Temporal dev server, a worker process, and
 * the lab's primary ledger and DR region (real SSH, gRPC, the `aws` and
 * `kubectl` shims). The whole primary region is broken; both dangerous
 * gates are approved from the CLI by someone other than the starter with the
 * cluster name typed back; the lab's effect log shows exactly the runbook's
 * effects and the DR side is healthy afterwards.
 *
 * (Its happy-path history is recorded by test/e2e/ledger.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import { type Progress } from '../../src/workflows/kit/defs';
import { OPEN, finishedOf, progressOf } from '../helpers/recovery';
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

async function gateWaiting(gate: string): Promise<Progress> {
  return eventually(`gate ${gate} to wait`, async () => {
    const p = await progress(ID);
    if (!OPEN.includes(p.status)) throw new Error(`the recovery ended: ${p.status}: ${p.outcome ?? ''}`);
    return p.gates.some((g) => g.gate === gate && g.status === 'waiting') ? p : undefined;
  }, 120_000);
}

/** The effects these tests count, as `node effect` (the simulation's own writes and reads are not). */
function counted(effects: Array<{ node: string; effect: string }>): string[] {
  return effects.filter((e) => ['ledger.service.start', 'ledger.service.stop', 'ledger.init', 'k8s.configmap-patched', 'k8s.rollout-restarted'].includes(e.effect)).map((e) => `${e.node} ${e.effect}`);
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
    assert.match(plans, /'aws' 's3' 'cp' 's3:\/\/ledger-primary-backups\/latest\/ledger-export\.jsonl'/);
    assert.match(plans, /dr-node1: 'inferadb-ledger' 'init' '--host'/);
    assert.match(plans, /'systemctl' 'start' 'ledger'/);
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
    assert.match(detect.detail ?? '', /no primary node answers .*down 3\/3 probes in a row/);
    assert.match(p1.gates[0]!.evidence['RPO gap (writes lost)'] ?? '', /^\d+ min$/);
    assert.match(p1.gates[0]!.evidence['replicated export'] ?? '', /ledger-export\.jsonl/);
    assert.deepEqual(counted(lab.effects.list().slice(before)), [], 'nothing is done before the RPO gap is accepted');
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
    // The DR cluster was formed from the export and serves; the engine has not been touched yet.
    const midway = counted(lab.effects.list({ cluster: DR }));
    assert.deepEqual(midway.filter((l) => l.endsWith('ledger.init')), ['dr-node1 ledger.init']);
    assert.deepEqual(midway.filter((l) => l.endsWith('ledger.service.start')).sort(), ['dr-node1 ledger.service.start', 'dr-node2 ledger.service.start', 'dr-node3 ledger.service.start']);
    assert.deepEqual(midway.filter((l) => l.startsWith('bastion')), []);
    const unconfirmed = await cli(['approve', ID, 'dns-switch', '--as', 'alice', '--reason', 'DR serves']);
    assert.equal(unconfirmed.code, 2, unconfirmed.stdout + unconfirmed.stderr);
    assert.match(unconfirmed.stderr, /confirm/i);
    const ok2 = await cli(['approve', ID, 'dns-switch', '--as', 'alice', '--reason', 'DR serves with a leader', '--confirm', 'lab-ledger']);
    assert.equal(ok2.code, 0, ok2.stdout + ok2.stderr);

    const p = await finished(ID, 180_000);
    assert.equal(p.status, 'completed', JSON.stringify(p.steps.filter((s) => s.status !== 'succeeded')));
    assert.match(p.outcome ?? '', /Failed over to the DR region: lab-ledger-dr serves, the engine points at ledger\.dr-region\.internal:50051; RPO gap \d+ min/);
    assert.deepEqual(p.gates.map((g) => [g.gate, g.status, g.by]), [
      ['accept-rpo-gap', 'approved', 'alice'],
      ['dns-switch', 'approved', 'alice'],
    ]);

    // Exactly the procedure's effects, in its order; none on the (down) primary.
    const effects = lab.effects.list().slice(before);
    assert.deepEqual(counted(effects.filter((e) => e.cluster !== DR)), []);
    const lines = counted(effects);
    assert.deepEqual(lines[0], 'dr-node1 ledger.service.start', 'the first DR voter starts, empty');
    assert.deepEqual(lines[1], 'dr-node1 ledger.init', 'and forms the DR cluster');
    assert.deepEqual(lines.slice(2, 4).sort(), ['dr-node2 ledger.service.start', 'dr-node3 ledger.service.start']);
    assert.deepEqual(lines.slice(4), ['bastion k8s.configmap-patched', 'bastion k8s.rollout-restarted']);
    const patch = effects.find((e) => e.effect === 'k8s.configmap-patched')!;
    assert.deepEqual(patch.detail, { configmap: 'ledger-config', key: 'LEDGER_ENDPOINT', from: 'ledger.primary-region.internal:50051', to: 'ledger.dr-region.internal:50051' });
    assert.equal(effects.find((e) => e.effect === 'k8s.rollout-restarted')?.detail?.endpoint, 'ledger.dr-region.internal:50051');

    const health = (await lab.health()).find((h) => h.cluster === DR);
    assert.ok(health?.healthy, JSON.stringify(health));
    assert.match(health!.summary, /DR cluster serving; engine on the DR ledger, 3\/3 pods ready/);

    const report = await cli(['report', ID]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /RPO gap/);
    assert.match(report.stdout, /\d+ min: data committed in the primary region after the export/);
    assert.match(report.stdout, /accept-rpo-gap/);
    assert.match(report.stdout, /dns-switch/);
    assert.match(report.stdout, /eu-west is down/);
    assert.match(report.stdout, /failed over to lab-ledger-dr/);
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
    assert.deepEqual([topo.drCluster, topo.voters, topo.bastion, topo.endpoint, topo.replicaSource], [DR, ['dr-node1', 'dr-node2', 'dr-node3'], 'bastion', 'ledger.dr-region.internal:50051', 's3://ledger-primary-backups/latest/ledger-export.jsonl']);
    await assert.rejects(run(a.ledgerDrTopology, { cluster: DR }, 'topology-2'), /names no DR region: add settings\.drCluster/);
    const replica = await run(a.ledgerArchiveInfo, { cluster: DR, node: 'dr-node1', source: topo.replicaSource }, 'replica');
    assert.equal(replica.exists, true);
    // The DR voters run: a retried start finds them running, a retried init finds the cluster formed.
    const start = await run(a.ledgerServiceStart, { cluster: DR, node: 'dr-node2' }, 'start');
    assert.equal(start.alreadyDone, true);
    const init = await run(a.ledgerInit, { cluster: DR, node: 'dr-node1' }, 'init');
    assert.equal(init.alreadyDone, true);
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
