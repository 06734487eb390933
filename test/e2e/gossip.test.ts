/**
 * The six gossip scenarios (seed 003) end to end, as an operator drives them,
 * on the lab's simulation of memberlist-plumtree 0.1.6 nodes behind the
 * control API: on one stack (a real Temporal dev server, the lab's gossip
 * family, a worker process) the cases shared with the conformance suite
 * (test/helpers/gossip-scenarios.ts: the same cases on real nodes), then
 * what only needs the simulation: the starter cannot approve his own
 * dangerous gate, a dry run moves nothing, and no secret reaches a history.
 *
 * With LIFEBOAT_RECORD_HISTORIES=1 the happy paths are written to
 * test/replay/histories/ for the replay test (CI never writes them).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { progressOf } from '../helpers/recovery';
import { CLUSTER, FAST, gateWaiting, GOSSIP_CASES, ID, runCase } from '../helpers/gossip-scenarios';
import { startStack, type Stack } from '../helpers/stack';

const T = { timeout: 120_000 };

let stack: Stack;
before(async () => {
  stack = await startStack({ families: ['gossip'], bootMs: 300 });
});
after(async () => {
  await stack?.stop();
});

describe('gossip recoveries end to end through the CLI (the simulation)', () => {
  for (const c of GOSSIP_CASES) {
    test(c.name, T, async () => {
      await runCase(stack, c, { timeoutMs: 90_000 });
    });
  }

  test('the starter of a recovery cannot approve its dangerous gate', T, async () => {
    await stack.lab.break('gossip.partition');
    const r = await stack.cli(['run', 'gossip.partition', '--cluster', CLUSTER, '--as', 'bob', ...FAST]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await gateWaiting(stack, 'forced-rebalance', 60_000);
    const own = await stack.cli(['approve', ID, 'forced-rebalance', '--as', 'bob', '--reason', 'mine', '--confirm', CLUSTER]);
    assert.equal(own.code, 2, 'the starter cannot approve a dangerous gate');
    const ok = await stack.cli(['reject', ID, 'forced-rebalance', '--as', 'alice', '--reason', 'not today']);
    assert.equal(ok.code, 0, ok.stderr);
  });
});

describe('gossip dry run and secrets (the simulation)', () => {
  let dry: Stack;
  before(async () => {
    dry = await startStack({ families: ['gossip'], bootMs: 300 });
  });
  after(async () => {
    await dry?.stop();
  });

  test('gossip.total-loss dry run: every effect planned (the store cleared, the seeds started first), nothing moves', T, async () => {
    await dry.lab.break('gossip.total-loss');
    const from = dry.lab.effects.list().length;
    const r = await dry.cli(['run', 'gossip.total-loss', '--cluster', CLUSTER, '--as', 'bob', ...FAST, '--dry-run', '--watch']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const planned = await progressOf(dry, ID);
    assert.equal(planned.dryRun, true);
    assert.equal(dry.lab.effects.list().length, from, 'a dry run changes nothing');
    const plans = [...planned.steps.map((s) => s.detail ?? ''), ...planned.timeline.map((t) => t.text)].join('\n');
    assert.match(plans, /gossip3: rm -rf var\/lib\/plumtree\/data\/\* \('find' 'var\/lib\/plumtree\/data' '-mindepth' '1' '-delete'\)/);
    assert.match(plans, /gossip5: 'systemctl' 'start' 'plumtree'/);
    assert.ok(planned.gates.some((x) => x.gate === 'clear-persistent-state'), 'the gate is recorded in the plan');
    const h = (await dry.lab.health()).find((c) => c.cluster === CLUSTER);
    assert.equal(h?.healthy, false, 'still lost');
  });

  test('no secret of the lab (API token, SSH key) appears in any gossip recovery history', T, async () => {
    const all = [stack, dry];
    let histories = 0;
    for (const s of all) {
      const secretsDir = path.join(s.lab.dir, 'secrets');
      const values = [...readdirSync(secretsDir).map((f) => path.join(secretsDir, f)), path.join(s.lab.dir, 'keys', 'id_ed25519')].map((f) => readFileSync(f, 'utf8').trim());
      const needles = values.flatMap((v) => v.split('\n')).filter((l) => l.length >= 16 && !l.startsWith('-----'));
      assert.ok(needles.length >= 2, 'the lab has its token and key');
      for await (const wf of s.client.workflow.list()) {
        const h = JSON.stringify(await s.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory());
        histories += 1;
        for (const n of needles) assert.ok(!h.includes(n), `a secret line appears in the history of ${wf.workflowId}/${wf.runId}`);
      }
    }
    assert.ok(histories >= 9, `histories checked: ${histories}`);
  });
});
