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
    assert.equal(p.status, 'completed', JSON.stringify([p.pendingDecision, p.steps.filter((s) => s.status !== 'succeeded')]));
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

  test('training-cluster.sync-host-critical: the forced sync is refused, the agent restart heals tc-node5', async () => {
    const { lab } = stack;
    await lab.break('training-cluster.sync-host-critical');
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    await runScenario('training-cluster.sync-host-critical');
    const p = await finished(ID, 120_000);
    assert.equal(p.status, 'completed', JSON.stringify([p.pendingDecision, p.steps.filter((s) => s.status !== 'succeeded')]));
    assert.match(p.outcome ?? '', /tc-node5: sync agent restarted/);
    assert.deepEqual(effectsSince(from), ['sync.forced:tc-node1/tc-node5:failed', 'sync-agent.restart:tc-node5']);
    assert.deepEqual(p.gates, []);
    await healthy();
  });

  test('training-cluster.sync-host-critical (agent broken): rsync to the coordinator and import', async () => {
    const { lab } = stack;
    await lab.break('training-cluster.sync-host-critical.agent-broken');
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    await runScenario('training-cluster.sync-host-critical');
    const p = await finished(ID, 120_000);
    assert.equal(p.status, 'completed', JSON.stringify([p.pendingDecision, p.steps.filter((s) => s.status !== 'succeeded')]));
    assert.match(p.outcome ?? '', /tc-node5: data recovered by rsync and imported/);
    assert.deepEqual(effectsSince(from), ['sync.forced:tc-node1/tc-node5:failed', 'sync-agent.restart:tc-node5:failed', 'rsync.recovered:tc-node1/tc-node5', 'import:tc-node1/tc-node5']);
    assert.match(p.facts['tc-node5: follow-up'] ?? '', /still failing/);
    await healthy();
  });

  test('training-cluster.sync-host-critical (two hosts): the Escalation first, then each host recovered', async () => {
    const { lab } = stack;
    await lab.break('training-cluster.sync-host-critical.multi');
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    await runScenario('training-cluster.sync-host-critical');
    const p = await finished(ID, 120_000);
    assert.equal(p.status, 'completed', JSON.stringify([p.pendingDecision, p.steps.filter((s) => s.status !== 'succeeded')]));
    assert.match(p.outcome ?? '', /tc-node4: sync agent restarted; tc-node5: sync agent restarted/);
    assert.ok(p.steps.some((s) => /Escalation: check for cluster-wide network issues/.test(s.title) && s.status === 'succeeded'));
    assert.deepEqual(effectsSince(from), ['sync.forced:tc-node1/tc-node4:failed', 'sync-agent.restart:tc-node4', 'sync.forced:tc-node1/tc-node5:failed', 'sync-agent.restart:tc-node5']);
    await healthy();
  });

  test('training-cluster.sync-host-critical (host lost): the retire-host gate, approved from the CLI by a second person, records the loss', async () => {
    const { lab, cli } = stack;
    await lab.break('training-cluster.sync-host-critical.host-lost');
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    await runScenario('training-cluster.sync-host-critical');
    const p0 = await eventually('the retire-host gate to wait', async () => {
      const x = await progress(ID);
      if (!OPEN.includes(x.status)) throw new Error(`ended early: ${x.status} ${x.outcome ?? ''}`);
      return x.gates.some((g) => g.gate === 'retire-host' && g.status === 'waiting') ? x : undefined;
    }, 120_000);
    const gate = p0.gates.find((g) => g.gate === 'retire-host')!;
    assert.equal(gate.dangerous, true);
    assert.equal(gate.evidence['data lost (game count)'], '35');
    assert.match(gate.evidence['data lost (time range)'] ?? '', /since last sync .*agent last seen/);
    assert.deepEqual(effectsSince(from), ['sync.forced:tc-node1/tc-node5:failed'], 'nothing retired before the approval');

    const approvals = await cli(['approvals']);
    assert.equal(approvals.code, 0, approvals.stderr);
    assert.match(approvals.stdout, /DANGEROUS gate retire-host/);
    const own = await cli(['approve', ID, 'retire-host', '--as', 'bob', '--reason', 'gone', '--confirm', CLUSTER]);
    assert.equal(own.code, 2, own.stdout + own.stderr);
    assert.match(own.stderr, /bob started this recovery/i);
    const ok = await cli(['approve', ID, 'retire-host', '--as', 'alice', '--reason', 'instance destroyed by the provider', '--confirm', CLUSTER]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);

    const p = await finished(ID, 120_000);
    assert.equal(p.status, 'completed', JSON.stringify([p.pendingDecision, p.steps.filter((s) => s.status !== 'succeeded')]));
    assert.match(p.outcome ?? '', /tc-node5: retired, data loss acknowledged by alice \(35 game\(s\)/);
    assert.deepEqual(effectsSince(from), ['sync.forced:tc-node1/tc-node5:failed', 'host.retired:tc-node1/tc-node5']);
    const retired = lab.effects.list({ cluster: CLUSTER, effect: 'host.retired' }).at(-1);
    assert.equal(retired?.detail?.lostGames, 35);
    await healthy();
    const report = await cli(['report', ID]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /retire-host/);
    assert.match(report.stdout, /instance destroyed by the provider/);
    assert.match(report.stdout, /35 game\(s\)/);
    await record(ID, 'training-cluster.sync-host-critical');
  });
});
