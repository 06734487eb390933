/**
 * The six gossip scenarios (seed 003) end to end, as an operator drives them:
 * on one stack (a real Temporal dev server, the lab's gossip family, a worker
 * process) each test breaks the lab with the scenario's fault, runs the
 * recovery through the `lifeboat` CLI with durable waits scaled down
 * (`--time-scale`), approves dangerous gates through the CLI as a second
 * person typing the cluster name back, and asserts completion, the lab's
 * health after, and the exact effects the targets received. A rejected
 * forced-rebalance leaves no rebalance anywhere; a dry run moves nothing.
 *
 * With LIFEBOAT_RECORD_HISTORIES=1 the histories are written to
 * test/replay/histories/ for the replay test (CI never writes them).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Progress } from '../../src/workflows/kit/defs';
import { OPEN, finishedOf, progressOf, recordHistory } from '../helpers/recovery';
import { eventually, startStack, type Stack } from '../helpers/stack';

const CLUSTER = 'lab-gossip';
const ID = `recovery-${CLUSTER}`;
/** Durable waits at 1/100: the partition's 5 min wait takes 3 s, total loss's 10 s stabilize 0.1 s. */
const FAST = ['--time-scale', '0.01'];
const T = { timeout: 120_000 };

let stack: Stack;
before(async () => {
  stack = await startStack({ families: ['gossip'], bootMs: 300 });
});
after(async () => {
  await stack?.stop();
});

async function progress(): Promise<Progress> {
  return progressOf(stack, ID);
}
async function finished(timeoutMs = 90_000): Promise<Progress> {
  return finishedOf(stack, ID, timeoutMs, { everyMs: 300 });
}
function record(scenario: string): void {
  recordHistory(stack, ID, scenario);
}

async function gateWaiting(gate: string): Promise<Progress> {
  return eventually(
    `gate ${gate}`,
    async () => {
      const p = await progress();
      if (!OPEN.includes(p.status)) throw new Error(`recovery ended before the gate: ${p.status} ${p.outcome ?? ''}`);
      return p.gates.some((g) => g.gate === gate && g.status === 'waiting') ? p : undefined;
    },
    60_000,
    300,
  );
}

/** Starts a recovery through the CLI; returns the index of the effect log at the start. */
async function start(scenario: string, extra: string[] = []): Promise<number> {
  const before = stack.lab.effects.list({ cluster: CLUSTER }).length;
  const r = await stack.cli(['run', scenario, '--cluster', CLUSTER, '--as', 'bob', ...FAST, ...extra]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return before;
}

/** The effects since `from`, as `effect:node`. */
function effectsSince(from: number): string[] {
  return stack.lab.effects
    .list({ cluster: CLUSTER })
    .slice(from)
    .map((e) => `${e.effect}:${e.node}`);
}

async function approveByCli(gate: string): Promise<void> {
  const r = await stack.cli(['approve', ID, gate, '--as', 'alice', '--reason', 'checked by the second on-call', '--confirm', CLUSTER]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
}

async function assertHealthy(): Promise<void> {
  const h = (await stack.lab.health()).find((c) => c.cluster === CLUSTER);
  assert.ok(h?.healthy, JSON.stringify(h));
}

function assertCompleted(p: Progress, outcome: RegExp): void {
  assert.equal(p.status, 'completed', `${p.outcome ?? ''} ${JSON.stringify(p.steps.filter((s) => s.status !== 'succeeded'))}`);
  assert.match(p.outcome ?? '', outcome);
}

describe('gossip recoveries end to end through the CLI', () => {
  test('gossip.isolated-node: seeds checked from the node, leave + rejoin via the seeds, nothing restarted', T, async () => {
    await stack.lab.break('gossip.isolated-node');
    const from = await start('gossip.isolated-node');
    const p = await finished();
    assertCompleted(p, /gossip3 rejoined the cluster by a graceful leave and a rejoin via the seeds: 3 eager, 1 lazy/);
    assert.deepEqual(effectsSince(from), ['gossip.leave:gossip3', 'gossip.join:gossip3']);
    assert.match(p.facts.network ?? '', /127\.0\.0\.1:\d+ open, 127\.0\.0\.1:\d+ open/);
    assert.deepEqual(p.gates, []);
    await assertHealthy();
    record('gossip.isolated-node');
  });

  test('gossip.partition rejected: the forced-rebalance gate is refused and no node is rebalanced', T, async () => {
    await stack.lab.break('gossip.partition');
    const from = await start('gossip.partition');
    const p = await gateWaiting('forced-rebalance');
    assert.equal(p.facts.partition, '{gossip1, gossip2, gossip3} | {gossip4, gossip5}');
    const own = await stack.cli(['approve', ID, 'forced-rebalance', '--as', 'bob', '--reason', 'mine', '--confirm', CLUSTER]);
    assert.equal(own.code, 2, 'the starter cannot approve a dangerous gate');
    const r = await stack.cli(['reject', ID, 'forced-rebalance', '--as', 'alice', '--reason', 'the uplink is still down']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const end = await finished();
    assert.equal(end.status, 'aborted');
    assert.match(end.outcome ?? '', /alice rejected "forced-rebalance" \(the uplink is still down\)/);
    assert.deepEqual(effectsSince(from), [], 'a rejected gate leaves no rebalance');
    const h = (await stack.lab.health()).find((c) => c.cluster === CLUSTER);
    assert.equal(h?.healthy, false, 'still partitioned');
  });

  test('gossip.partition approved: no automatic recovery, forced rebalance on every node, one component', T, async () => {
    const from = await start('gossip.partition');
    await gateWaiting('forced-rebalance');
    await approveByCli('forced-rebalance');
    const p = await finished();
    assertCompleted(p, /Partition healed by a forced rebalance on 5 nodes, approved by alice: one component of 5/);
    assert.deepEqual(effectsSince(from).sort(), ['gossip1', 'gossip2', 'gossip3', 'gossip4', 'gossip5'].map((n) => `gossip.rebalance:${n}`));
    await assertHealthy();
    const report = await stack.cli(['report', ID]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /forced-rebalance/);
    assert.match(report.stdout, /\{gossip1, gossip2, gossip3\} \| \{gossip4, gossip5\}/);
    record('gossip.partition');
  });

  test('gossip.multi-node-failure: a majority survives; the failed nodes are started again, nothing stopped', T, async () => {
    await stack.lab.break('gossip.multi-node-failure');
    const from = await start('gossip.multi-node-failure');
    const p = await finished();
    assertCompleted(p, /Majority survived \(3\/5\) and the mesh is stable; started again: gossip4, gossip5/);
    assert.deepEqual(effectsSince(from).sort(), ['gossip.start:gossip4', 'gossip.start:gossip5']);
    assert.deepEqual(p.gates, []);
    await assertHealthy();
    record('gossip.multi-node-failure');
  });

  test('gossip.cache-corruption: the rising malformed counter finds gossip3; the API clear heals it', T, async () => {
    await stack.lab.break('gossip.cache-corruption');
    const from = await start('gossip.cache-corruption');
    const p = await finished();
    assertCompleted(p, /Message cache corruption resolved on gossip3 by clearing the message cache through the API/);
    assert.deepEqual(effectsSince(from), ['gossip.cache-clear:gossip3']);
    assert.deepEqual(p.gates, []);
    await assertHealthy();
    record('gossip.cache-corruption');
  });

  test('gossip.split-brain: anti-entropy enabled on every node, the sync metrics converge', T, async () => {
    await stack.lab.break('gossip.split-brain');
    const from = await start('gossip.split-brain');
    const p = await finished();
    assertCompleted(p, /Split brain reconciled by anti-entropy sync: converged: 5 node\(s\) at state version \d+/);
    assert.deepEqual(effectsSince(from).sort(), ['gossip1', 'gossip2', 'gossip3', 'gossip4', 'gossip5'].map((n) => `gossip.sync-enable:${n}`));
    await assertHealthy();
    record('gossip.split-brain');
  });

  test('gossip.total-loss: a dry run moves nothing; then stop, CLI-approved clear, seeds first, the rest staggered', T, async () => {
    await stack.lab.break('gossip.total-loss');
    const dryFrom = stack.lab.effects.list().length;
    const dry = await stack.cli(['run', 'gossip.total-loss', '--cluster', CLUSTER, '--as', 'bob', ...FAST, '--dry-run', '--watch']);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    const planned = await progress();
    assert.equal(planned.dryRun, true);
    assert.equal(stack.lab.effects.list().length, dryFrom, 'a dry run changes nothing');
    const plans = [...planned.steps.map((s) => s.detail ?? ''), ...planned.timeline.map((t) => t.text)].join('\n');
    assert.match(plans, /gossip3: rm -rf var\/lib\/plumtree\/data\/\* \('find' 'var\/lib\/plumtree\/data' '-mindepth' '1' '-delete'\)/);
    assert.match(plans, /gossip5: 'systemctl' 'start' 'plumtree'/);
    assert.ok(planned.gates.some((x) => x.gate === 'clear-persistent-state'), 'the gate is recorded in the plan');

    const from = await start('gossip.total-loss');
    const g = await gateWaiting('clear-persistent-state');
    assert.equal(g.gates.at(-1)!.dangerous, true);
    assert.deepEqual(effectsSince(from), [], 'the nodes had crashed: nothing to stop, nothing cleared before the gate');
    await approveByCli('clear-persistent-state');
    const p = await finished();
    assertCompleted(p, /Cluster re-formed from scratch: seeds first, then 3 node\(s\) staggered; plumtree_total_peers gossip1: 4, gossip2: 4, gossip3: 4, gossip4: 4, gossip5: 4/);
    const e = effectsSince(from);
    assert.deepEqual(e.filter((x) => x.startsWith('gossip.state-cleared')).sort(), ['gossip1', 'gossip2', 'gossip3', 'gossip4', 'gossip5'].map((n) => `gossip.state-cleared:${n}`));
    const starts = e.filter((x) => x.startsWith('gossip.start'));
    assert.deepEqual(starts.slice(0, 2).sort(), ['gossip.start:gossip1', 'gossip.start:gossip2'], 'seeds first');
    assert.deepEqual(starts.slice(2), ['gossip.start:gossip3', 'gossip.start:gossip4', 'gossip.start:gossip5']);
    assert.equal(e.length, 10, e.join(', '));
    await assertHealthy();
    record('gossip.total-loss');
  });

  test('no secret of the lab (API token, SSH key) appears in any gossip recovery history', T, async () => {
    const secretsDir = path.join(stack.lab.dir, 'secrets');
    const values = [...readdirSync(secretsDir).map((f) => path.join(secretsDir, f)), path.join(stack.lab.dir, 'keys', 'id_ed25519')].map((f) => readFileSync(f, 'utf8').trim());
    const needles = values.flatMap((v) => v.split('\n')).filter((l) => l.length >= 16 && !l.startsWith('-----'));
    assert.ok(needles.length >= 2, 'the lab has its token and key');
    let histories = 0;
    for await (const wf of stack.client.workflow.list()) {
      const h = JSON.stringify(await stack.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory());
      histories += 1;
      for (const n of needles) assert.ok(!h.includes(n), `a secret line appears in the history of ${wf.workflowId}/${wf.runId}`);
    }
    assert.ok(histories >= 8, `histories checked: ${histories}`);
  });
});
