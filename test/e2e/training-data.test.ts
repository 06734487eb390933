/**
 * The training cluster's data scenarios end to end (seed 000 §3, §4, §6), as
 * an operator drives them: `lab break`, `lifeboat run`, the dangerous gate
 * approved from the CLI by a second person who types the cluster's name back,
 * then the lab healthy and its effect log showing exactly the runbook's effects.
 *
 * With LIFEBOAT_RECORD_HISTORIES=1 the histories are written to
 * test/replay/histories/ for the replay test (CI never writes them).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Progress } from '../../src/workflows/kit/defs';
import { finishedOf, progressOf, recordHistory } from '../helpers/recovery';
import { eventually, startStack, type Stack } from '../helpers/stack';

const CLUSTER = 'lab-training';
const ID = 'recovery-lab-training';
let stack: Stack;

before(async () => {
  stack = await startStack({ families: ['training-cluster'] });
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

/** Effects of the training cluster from index `from` on, as "effect:node". */
const effectsSince = (from: number) => stack.lab.effects.list({ cluster: CLUSTER }).slice(from).map((e) => `${e.effect}:${e.node}`);
const workdir = (node: string) => path.join(stack.lab.host(CLUSTER, node).root, 'ai-service');

async function approveFromCli(gate: string, reason: string): Promise<void> {
  const { cli } = stack;
  await eventually(`the ${gate} gate to wait`, async () => (await progress(ID)).gates.some((g) => g.gate === gate && g.status === 'waiting'), 120_000);
  const approvals = await cli(['approvals']);
  assert.equal(approvals.code, 0, approvals.stderr);
  assert.match(approvals.stdout, new RegExp(`DANGEROUS gate ${gate}`));
  const own = await cli(['approve', ID, gate, '--as', 'bob', '--reason', reason, '--confirm', CLUSTER]);
  assert.equal(own.code, 2, own.stdout + own.stderr);
  assert.match(own.stderr, /bob started this recovery/i);
  const unconfirmed = await cli(['approve', ID, gate, '--as', 'alice', '--reason', reason]);
  assert.equal(unconfirmed.code, 2, unconfirmed.stdout + unconfirmed.stderr);
  const ok = await cli(['approve', ID, gate, '--as', 'alice', '--reason', reason, '--confirm', CLUSTER]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
}

async function labHealthy(): Promise<void> {
  const h = await eventually('the training cluster to be healthy', async () => {
    const x = (await stack.lab.health()).find((c) => c.cluster === CLUSTER);
    return x?.healthy ? x : undefined;
  }, 30_000);
  assert.ok(h.healthy, JSON.stringify(h));
}

describe('training-cluster data scenarios end to end through the CLI', () => {
  test('training-cluster.node-data-loss, rejected: the backup gate is refused from the CLI, the database is not overwritten', async () => {
    const { lab, cli } = stack;
    await lab.break('training-cluster.node-data-loss');
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    // v2's 5 min wait for the cluster's own auto-sync runs at 15 s.
    const run = await cli(['run', 'training-cluster.node-data-loss', '--cluster', CLUSTER, '--as', 'bob', '--time-scale', '0.05']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    await eventually('the backup gate to wait', async () => (await progress(ID)).gates.some((g) => g.gate === 'overwrite-db-from-backup' && g.status === 'waiting'), 120_000);
    const no = await cli(['reject', ID, 'overwrite-db-from-backup', '--as', 'alice', '--reason', 'keep the node as it is for the post-mortem']);
    assert.equal(no.code, 0, no.stdout + no.stderr);
    const p = await finished(ID, 60_000);
    assert.equal(p.status, 'aborted');
    assert.match(p.outcome ?? '', /alice rejected "overwrite-db-from-backup"/);
    // Only the safe option ran (the wait for the cluster's own auto-sync: nothing sent to the node): no restore, selfplay not restarted.
    assert.deepEqual(effectsSince(from), []);
    const h = (await lab.health()).find((c) => c.cluster === CLUSTER);
    assert.match(h?.summary ?? '', /tc-node5 games db missing, selfplay not running/);
  });

  test('training-cluster.node-data-loss: moved aside, not refilled by the auto-sync, backup restored after a second person approves, selfplay back', async () => {
    const { lab, cli } = stack;
    await lab.break('training-cluster.node-data-loss'); // again: the database corrupted, selfplay crashed
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    // v2's 5 min wait for the cluster's own auto-sync runs at 15 s.
    const run = await cli(['run', 'training-cluster.node-data-loss', '--cluster', CLUSTER, '--as', 'bob', '--time-scale', '0.05']);
    assert.equal(run.code, 0, run.stdout + run.stderr);

    await approveFromCli('overwrite-db-from-backup', 'the backup is 6 h old, the cluster has 100 games of it');
    const p = await finished(ID, 180_000);
    assert.equal(p.status, 'completed', JSON.stringify(p.steps.filter((s) => s.status !== 'succeeded')));
    assert.match(p.outcome ?? '', /Data on tc-node5 recovered: restored from the backup taken 6 h \d+ min before \(1,260 games\), approved by alice; now tc-node5: [\d,]+ games, integrity ok/);
    const gate = p.gates.find((g) => g.gate === 'overwrite-db-from-backup');
    assert.equal(gate?.by, 'alice');
    assert.equal(gate?.evidence['games in the backup'], '1,260');
    // The cluster's own auto-sync did not refill the moved-aside database within its wait (the lab's does not).
    assert.match(gate?.evidence['games on the node now'] ?? '', /^0 \(missing\)/);

    assert.deepEqual(effectsSince(from), ['games.restore:tc-node5', 'selfplay.start:tc-node5']);
    assert.ok(readdirSync(path.join(workdir('tc-node5'), 'data', 'games')).some((f) => f.startsWith('selfplay.db.corrupt-')), 'the corrupted database is kept');
    await labHealthy();
    const report = await cli(['report', ID]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /overwrite-db-from-backup/);
    assert.match(report.stdout, /alice/);
    // Its happy path is recorded by test/e2e/training-scenarios.test.ts (the shared case).
  });

  test('training-cluster.model-corruption: the backup is stale, the copy from tc-node2 is verified, swapped in after approval', async () => {
    const { lab, cli } = stack;
    await lab.break('training-cluster.model-corruption');
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    const run = await cli(['run', 'training-cluster.model-corruption', '--cluster', CLUSTER, '--as', 'bob']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    await approveFromCli('replace-canonical-model', 'checksum of the tc-node2 copy matches the manifest');
    const p = await finished(ID, 180_000);
    assert.equal(p.status, 'completed', JSON.stringify(p.steps.filter((s) => s.status !== 'succeeded')));
    assert.match(p.outcome ?? '', /Model on tc-node1 recovered: pulled the verified copy from tc-node2 \(approved by alice\); models\/canonical_hex8_2p\.pth loads, sha256 [0-9a-f]{12} matches the manifest/);
    assert.deepEqual(effectsSince(from), ['model.pull:tc-node1']);
    const sha = (node: string) => createHash('sha256').update(readFileSync(path.join(workdir(node), 'models', 'canonical_hex8_2p.pth'))).digest('hex');
    assert.equal(sha('tc-node1'), sha('tc-node2'));
    assert.ok(!existsSync(path.join(workdir('tc-node1'), 'models', 'canonical_hex8_2p.pth.incoming')), 'the staged copy was moved into place');
    await labHealthy();
    record(ID, 'training-cluster.model-corruption');
  });

  test('training-cluster.multi-node-data-loss: stop writes (approved), aggregate on the coordinator, dated backup, relaunch, count grows', async () => {
    const { lab, cli } = stack;
    await lab.break('training-cluster.multi-node-data-loss');
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    const run = await cli(['run', 'training-cluster.multi-node-data-loss', '--cluster', CLUSTER, '--as', 'bob', '--time-scale', '0.02']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    await eventually('the stop-writes gate', async () => (await progress(ID)).gates.some((g) => g.status === 'waiting'), 120_000);
    assert.deepEqual(effectsSince(from), [], 'nothing before the gate');
    await approveFromCli('stop-writes', 'protect what survived before aggregating');
    const p = await finished(ID, 240_000);
    assert.equal(p.status, 'completed', JSON.stringify(p.steps.filter((s) => s.status !== 'succeeded')));
    assert.match(p.outcome ?? '', /Surviving data aggregated on tc-node1 \(\d{1,3}(,\d{3})* games\) and backed up to \/.*\/games_\d{8}; selfplay regenerating: total/);

    const effects = effectsSince(from);
    assert.deepEqual(effects.slice(0, 3).sort(), ['selfplay.stop:tc-node1', 'selfplay.stop:tc-node4', 'selfplay.stop:tc-node5']);
    assert.equal(effects[3], 'games.aggregate:tc-node1');
    assert.deepEqual(effects.slice(4).sort(), ['selfplay.start:tc-node1', 'selfplay.start:tc-node2', 'selfplay.start:tc-node3', 'selfplay.start:tc-node4', 'selfplay.start:tc-node5']);
    assert.equal(effects.length, 9);
    const backup = /backed up to (\S+);/.exec(p.outcome ?? '')?.[1];
    assert.ok(backup && existsSync(path.join(backup, 'selfplay.db')), `backup ${backup}`);
    await labHealthy();
    record(ID, 'training-cluster.multi-node-data-loss');
  });
});
