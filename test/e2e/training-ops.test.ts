/**
 * training-cluster.cluster-outage and training-cluster.sync-host-critical end
 * to end, as an operator drives them: the `lifeboat` CLI against a real
 * Temporal dev server, a worker process and the lab's training cluster (real
 * SSH, real HTTP). Durable waits are scaled down with `--time-scale`; the
 * retire-host gate is approved from the CLI by a second person; the lab's
 * effect log shows exactly the runbooks' effects; the lab is healthy after.
 *
 * With LIFEBOAT_RECORD_HISTORIES=1 the histories are written to
 * test/replay/histories/ for the replay test (CI never writes them).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Progress } from '../../src/workflows/kit/defs';
import { OPEN, finishedOf, progressOf, recordHistory } from '../helpers/recovery';
import { eventually, startStack, type Stack } from '../helpers/stack';

let stack: Stack;
const ID = 'recovery-lab-training';
const CLUSTER = 'lab-training';

before(async () => {
  stack = await startStack({ families: ['training-cluster'] });
});
after(async () => {
  await stack?.stop();
});

async function progress(workflowId: string): Promise<Progress> {
  return progressOf(stack, workflowId);
}

/** A step waiting for an operator's decision is a failure here: it returns so the assertions show it. */
async function finished(workflowId: string, timeoutMs: number): Promise<Progress> {
  return finishedOf(stack, workflowId, timeoutMs, { stopOnDecision: true });
}

function record(workflowId: string, scenario: string): void {
  recordHistory(stack, workflowId, scenario);
}

/** The effects since `from`, as `effect:node[/host][:failed]`. */
function effectsSince(from: number): string[] {
  return stack.lab.effects
    .list({ cluster: CLUSTER })
    .slice(from)
    .map((e) => `${e.effect}:${e.node}${e.detail?.host ? `/${String(e.detail.host)}` : ''}${e.detail?.ok === false ? ':failed' : ''}`);
}

async function healthy(): Promise<void> {
  const h = await eventually('the lab training cluster to be healthy', async () => {
    const x = (await stack.lab.health()).find((c) => c.cluster === CLUSTER);
    return x?.healthy ? x : undefined;
  }, 20_000);
  assert.ok(h.healthy, h.summary);
}

async function runScenario(scenario: string, extra: string[] = []): Promise<void> {
  const run = await stack.cli(['run', scenario, '--cluster', CLUSTER, '--as', 'bob', '--time-scale', '0.01', ...extra]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, new RegExp(`as ${ID} \\(run `));
}

describe('training-ops recoveries end to end through the CLI', () => {
  test('training-cluster.cluster-outage: scope confirmed, coordinator first, nodes rejoin, full sync, daemons, checklist', async () => {
    const { lab, cli } = stack;
    await lab.break('training-cluster.cluster-outage');
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    await runScenario('training-cluster.cluster-outage');
    const titles = new Set<string>();
    const p = await eventually(
      'the outage recovery to finish',
      async () => {
        const x = await progress(ID);
        if (x.wait?.title) titles.add(x.wait.title);
        return OPEN.includes(x.status) && !x.pendingDecision ? undefined : x;
      },
      180_000,
      100,
    );
    assert.equal(p.status, 'completed', JSON.stringify([p.outcome, p.pendingDecision, p.steps.filter((s) => s.status !== 'succeeded')]));
    assert.match(p.outcome ?? '', /Cluster back: 5\/5 nodes back, leader tc-node1, alive 5\/5; selfplay running on 5\/5 nodes; 1 canonical model\(s\) on tc-node1: canonical_hex8_2p\.pth/);
    assert.ok([...titles].some((t) => /nodes back in the mesh \(probe \d+: [1-4]\/5 nodes back\)/.test(t)), [...titles].join('\n'));
    assert.deepEqual(effectsSince(from), ['orchestrator.start:tc-node1', 'sync.full:tc-node1', 'daemons.launched:tc-node1']);
    await healthy();
    const report = await cli(['report', ID]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /Bring up the coordinator first/);
    assert.match(report.stdout, /cluster_monitor/);
    assert.match(report.stdout, /status\.vast\.ai/);
    await record(ID, 'training-cluster.cluster-outage');
  });

  test('training-cluster.sync-host-critical (data cannot be pulled, host named by the operator): full sync, orchestrator restart, then rsync to the coordinator and import', async () => {
    const { lab } = stack;
    await lab.break('training-cluster.sync-host-critical.agent-broken');
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    // Its orchestrator runs and its heartbeats are fresh: only the gauges (no names) count it; the operator names it.
    await runScenario('training-cluster.sync-host-critical', ['--set', 'host=tc-node5']);
    const p = await finished(ID, 120_000);
    assert.equal(p.status, 'completed', JSON.stringify([p.outcome, p.pendingDecision, p.steps.filter((s) => s.status !== 'succeeded')]));
    assert.match(p.outcome ?? '', /tc-node5: data recovered by rsync and imported \(\d+ database\(s\)\)/);
    assert.match(p.facts['sync gauges'] ?? '', /critical=1/);
    assert.deepEqual(effectsSince(from), ['sync.trigger:tc-node1', 'orchestrator.stop:tc-node5', 'orchestrator.start:tc-node5', 'orchestrator.restart:tc-node5', 'rsync.recovered:tc-node1/tc-node5', 'import:tc-node1/tc-node5']);
    await healthy();
  });

  test('training-cluster.sync-host-critical (two hosts): the Escalation first, then each host recovered', async () => {
    const { lab } = stack;
    await lab.break('training-cluster.sync-host-critical.multi');
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    await runScenario('training-cluster.sync-host-critical');
    const p = await finished(ID, 120_000);
    assert.equal(p.status, 'completed', JSON.stringify([p.outcome, p.pendingDecision, p.steps.filter((s) => s.status !== 'succeeded')]));
    assert.match(p.outcome ?? '', /tc-node4: full sync triggered \(\d+ file\(s\)\)|tc-node4: full sync triggered, orchestrator restarted/);
    assert.match(p.outcome ?? '', /tc-node5: full sync triggered, orchestrator restarted/);
    assert.ok(p.steps.some((s) => /Escalation: check for cluster-wide network issues/.test(s.title) && s.status === 'succeeded'));
    assert.match(p.facts.impact ?? '', /2 host\(s\) critical \(tc-node4 \(not alive.*tc-node5 \(not alive/);
    const fx = effectsSince(from);
    assert.deepEqual(fx.filter((e) => e.startsWith('orchestrator.start')), ['orchestrator.start:tc-node4', 'orchestrator.start:tc-node5']);
    assert.ok(fx.filter((e) => e === 'sync.trigger:tc-node1').length >= 1, fx.join(', '));
    await healthy();
  });

  test('training-cluster.sync-host-critical (host lost): the retire-host gate, approved by a second person, then the retirement by hand, confirmed; the loss recorded', async () => {
    const { lab, cli } = stack;
    await lab.break('training-cluster.sync-host-critical.host-lost');
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    await runScenario('training-cluster.sync-host-critical');
    const waitGate = (name: string) =>
      eventually(`the ${name} gate to wait`, async () => {
        const x = await progress(ID);
        if (!OPEN.includes(x.status)) throw new Error(`ended early: ${x.status} ${x.outcome ?? ''}`);
        return x.gates.some((g) => g.gate === name && g.status === 'waiting') ? x : undefined;
      }, 120_000);
    const p0 = await waitGate('retire-host');
    const gate = p0.gates.find((g) => g.gate === 'retire-host')!;
    assert.equal(gate.dangerous, true);
    assert.match(gate.evidence['why critical'] ?? '', /not alive/);
    assert.equal(gate.evidence['reachable over SSH'], 'no');
    assert.equal(gate.evidence.tried, 'full sync');
    assert.deepEqual(effectsSince(from), ['sync.trigger:tc-node1'], 'nothing done to the host before the approval');

    const approvals = await cli(['approvals']);
    assert.equal(approvals.code, 0, approvals.stderr);
    assert.match(approvals.stdout, /DANGEROUS gate retire-host/);
    const own = await cli(['approve', ID, 'retire-host', '--as', 'bob', '--reason', 'gone', '--confirm', CLUSTER]);
    assert.equal(own.code, 2, own.stdout + own.stderr);
    assert.match(own.stderr, /bob started this recovery/i);
    const ok = await cli(['approve', ID, 'retire-host', '--as', 'alice', '--reason', 'instance destroyed by the provider', '--confirm', CLUSTER]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);

    // No route retires a host: a person does it and confirms.
    const p1 = await waitGate('retire-host-by-hand');
    assert.match(p1.gates.find((g) => g.gate === 'retire-host-by-hand')?.evidence.why ?? '', /no route that retires a host/);
    await lab.break('training-cluster.by-hand.retire-host'); // the person's hands
    const done = await cli(['approve', ID, 'retire-host-by-hand', '--as', 'carol', '--reason', 'removed from distributed_hosts.yaml', '--confirm', CLUSTER]);
    assert.equal(done.code, 0, done.stdout + done.stderr);

    const p = await finished(ID, 120_000);
    assert.equal(p.status, 'completed', JSON.stringify([p.outcome, p.pendingDecision, p.steps.filter((s) => s.status !== 'succeeded')]));
    assert.match(p.outcome ?? '', /tc-node5: retired by hand, data loss acknowledged by alice/);
    assert.match(p.facts['tc-node5: data loss'] ?? '', /acknowledged by alice \(instance destroyed by the provider\); retired by hand, confirmed by carol/);
    assert.deepEqual(effectsSince(from), ['sync.trigger:tc-node1'], 'Lifeboat retired nothing itself');
    await healthy();
    const report = await cli(['report', ID]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /retire-host-by-hand/);
    assert.match(report.stdout, /instance destroyed by the provider/);
  });
});
