/**
 * Recoveries end to end, as an operator drives them: the `lifeboat` CLI
 * against a real Temporal dev server, a worker process, and the lab's real
 * SSH / gRPC / HTTP targets. The split-brain gate is approved from the CLI,
 * after the refusals an operator can run into; the incident record is
 * produced; the lab's effect log shows exactly the runbook's effects. (The
 * other ledger scenarios: test/e2e/ledger.test.ts.)
 *
 * With LIFEBOAT_RECORD_HISTORIES=1 the two histories are written to
 * test/replay/histories/ for the replay test (CI never writes them).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Progress } from '../../src/workflows/kit/defs';
import { OPEN, finishedOf, progressOf, recordHistory } from '../helpers/recovery';
import { eventually, startStack, type Stack } from '../helpers/stack';

let stack: Stack;

before(async () => {
  stack = await startStack();
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

describe('recoveries end to end through the CLI', () => {
  test('ledger.quorum-loss: refusals, CLI approval of the split-brain gate, exact effects, healthy cluster, report', async () => {
    const { lab, cli } = stack;
    const id = 'recovery-lab-ledger';
    await lab.break('ledger.quorum-loss');
    const before = lab.effects.list({ cluster: 'lab-ledger' }).length;

    const run = await cli(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`as ${id} \\(run `));
    assert.match(run.stdout, new RegExp(`Web UI: +http://127\\.0\\.0\\.1:8233/namespaces/default/workflows/${id}/`));

    // One recovery per cluster.
    const again = await cli(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--as', 'carol']);
    assert.equal(again.code, 3, again.stdout + again.stderr);
    assert.match(again.stderr, new RegExp(`lab-ledger already has a recovery running: ledger\\.quorum-loss \\(workflow ${id}`));

    await eventually('the split-brain gate to wait', async () => (await progress(id)).gates.some((g) => g.gate === 'single-node-bootstrap' && g.status === 'waiting'));
    const approvals = await cli(['approvals']);
    assert.equal(approvals.code, 0, approvals.stderr);
    assert.match(approvals.stdout, /DANGEROUS gate single-node-bootstrap/);
    assert.match(approvals.stdout, /SPLIT BRAIN/);
    assert.match(approvals.stdout, /--confirm lab-ledger/);

    // Nothing changed before the gate: the survivor's data was only read (exported); no unit stopped or started, no init.
    const early = lab.effects.list({ cluster: 'lab-ledger' }).slice(before).map((e) => e.effect);
    assert.deepEqual(early.filter((e) => ['ledger.service.stop', 'ledger.service.start', 'ledger.init'].includes(e)), []);
    const waitingGate = (await progress(id)).gates.find((g) => g.gate === 'single-node-bootstrap')!;
    assert.match(waitingGate.evidence['exported from it'] ?? '', /20 entities/);

    const own = await cli(['approve', id, 'single-node-bootstrap', '--as', 'bob', '--reason', 'gone', '--confirm', 'lab-ledger']);
    assert.equal(own.code, 2, own.stdout + own.stderr);
    assert.match(own.stderr, /bob started this recovery/i);
    const unconfirmed = await cli(['approve', id, 'single-node-bootstrap', '--as', 'alice', '--reason', 'gone']);
    assert.equal(unconfirmed.code, 2, unconfirmed.stdout + unconfirmed.stderr);
    assert.match(unconfirmed.stderr, /confirm/i);
    const unknown = await cli(['approve', id, 'no-such-gate', '--as', 'alice', '--reason', 'x']);
    assert.equal(unknown.code, 2, unknown.stdout + unknown.stderr);

    const ok = await cli(['approve', id, 'single-node-bootstrap', '--as', 'alice', '--reason', 'old nodes destroyed in the fire', '--confirm', 'lab-ledger']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);

    const p = await finished(id, 180_000);
    assert.equal(p.status, 'completed', JSON.stringify(p.steps.filter((s) => s.status !== 'succeeded')));
    const survivor = /re-created from (node\d)'s data/.exec(p.outcome ?? '')?.[1];
    assert.ok(survivor, p.outcome);
    assert.match(p.outcome ?? '', /^Quorum restored: new cluster \d+ on node\d, node\d, node\d/);
    const gate = p.gates.find((g) => g.gate === 'single-node-bootstrap');
    assert.equal(gate?.status, 'approved');
    assert.equal(gate?.by, 'alice');

    // Exactly the procedure's effects: the survivor stopped, every node started once (empty), one new cluster formed on the survivor.
    const effects = lab.effects.list({ cluster: 'lab-ledger' }).slice(before);
    const of = (name: string) => effects.filter((e) => e.effect === name).map((e) => e.node).sort();
    assert.deepEqual(of('ledger.service.stop'), [survivor]);
    assert.deepEqual(of('ledger.service.start'), ['node1', 'node2', 'node3']);
    assert.deepEqual(of('ledger.init'), [survivor]);
    const health = (await lab.health()).find((h) => h.cluster === 'lab-ledger');
    assert.ok(health?.healthy, JSON.stringify(health));

    const report = await cli(['report', id]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /single-node-bootstrap/);
    assert.match(report.stdout, /alice/);
    assert.match(report.stdout, /old nodes destroyed in the fire/);
    assert.match(report.stdout, /### RTO/);
    assert.match(report.stdout, /Form the new cluster on node\d/);
    assert.match(report.stdout, /Re-create the data in it/);

    const list = await cli(['list', '--all', '--json']);
    const rows = JSON.parse(list.stdout) as Array<{ workflowId: string; status: string }>;
    assert.ok(rows.some((r) => r.workflowId === id && /completed/i.test(r.status)), list.stdout);
  });

  test('training-cluster.mesh-collapse: every orchestrator killed; the coordinator started first, one start per node, mesh re-formed, report', async () => {
    const { lab, cli } = stack;
    const id = 'recovery-lab-training';
    await lab.break('training-cluster.mesh-collapse');
    const before = lab.effects.list({ cluster: 'lab-training' }).length;
    const run = await cli(['run', 'training-cluster.mesh-collapse', '--cluster', 'lab-training', '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);

    const p = await finished(id, 300_000);
    assert.equal(p.status, 'completed', JSON.stringify(p.steps));
    assert.match(p.outcome ?? '', /Mesh re-formed: leader tc-node1, alive 5\/5/);

    // The fault killed them (RingRift 2aa9f89b5 as the real lab makes it): each restart is a start, nothing to stop.
    const restarts = lab.effects.list({ cluster: 'lab-training', effect: 'orchestrator.start' }).filter((e) => lab.effects.list({ cluster: 'lab-training' }).indexOf(e) >= before);
    assert.equal(lab.effects.list({ cluster: 'lab-training', effect: 'orchestrator.stop' }).filter((e) => lab.effects.list({ cluster: 'lab-training' }).indexOf(e) >= before).length, 0);
    assert.deepEqual(restarts.map((e) => e.node).sort(), ['tc-node1', 'tc-node2', 'tc-node3', 'tc-node4', 'tc-node5']);
    assert.equal(restarts[0]?.node, 'tc-node1', 'the coordinator is restarted first');
    // The 30 s stabilization separates the coordinator from the other voters.
    const t1 = Date.parse(restarts[0]!.at);
    const voters = restarts.filter((e) => e.node === 'tc-node2' || e.node === 'tc-node3').map((e) => Date.parse(e.at));
    for (const t of voters) assert.ok(t - t1 >= 29_000, `voters restarted ${t - t1} ms after the coordinator`);
    const health = (await lab.health()).find((h) => h.cluster === 'lab-training');
    assert.ok(health?.healthy, JSON.stringify(health));

    const report = await cli(['report', id]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /Restart P2P on the coordinator tc-node1 first/);
    assert.match(report.stdout, /Stabilize|stabiliz/i);
    await record(id, 'training-cluster.mesh-collapse');
  });

  test('training-cluster.leader-failure: the coordinator (the only node ever elected) dies; no election within 60 s, its P2P restarted, it leads and stays, jobs answer', async () => {
    const { lab, cli } = stack;
    const id = 'recovery-lab-training';
    await lab.break('training-cluster.leader-failure');
    const before = lab.effects.list({ cluster: 'lab-training' }).length;
    const run = await cli(['run', 'training-cluster.leader-failure', '--cluster', 'lab-training', '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);
    const p = await finished(id, 240_000);
    assert.equal(p.status, 'completed', JSON.stringify(p.steps.filter((s) => s.status !== 'succeeded')));
    assert.match(p.outcome ?? '', /^Leader restored by P2P restarted on tc-node1: tc-node1 leads \(agreed by 5\/5\) .*\/api\/jobs on tc-node1: \d+ active of \d+$/);
    const effects = lab.effects.list({ cluster: 'lab-training' }).slice(before);
    assert.deepEqual(
      effects.map((e) => `${e.effect}:${e.node}`),
      ['orchestrator.start:tc-node1'],
      'the crashed coordinator started once; no reset, no manual designation',
    );
    assert.deepEqual(p.gates, []);
    assert.ok(!Object.keys(p.facts).some((k) => k.endsWith('follow-up')), JSON.stringify(p.facts));
    // The cluster is whole again, not only led: every node alive in the mesh.
    const health = (await lab.health()).find((h) => h.cluster === 'lab-training');
    assert.ok(health?.healthy, JSON.stringify(health));
    assert.match(health?.summary ?? '', /^leader tc-node1, 5\/5 alive in the mesh/);
    const report = await cli(['report', id]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /Option 1: wait for the automatic leader election/);
    assert.match(report.stdout, /Restart P2P on the voter\(s\) that are down \(tc-node1; only the coordinator is ever elected\)/);
    await record(id, 'training-cluster.leader-failure');
  });

  test('no secret of the lab (SSH private key, API token) appears in any recovery history', async () => {
    // The API token (secrets/) and the SSH client key (keys/id_ed25519) the inventory references.
    const secretsDir = path.join(stack.lab.dir, 'secrets');
    const secrets = [
      ...readdirSync(secretsDir).map((f) => path.join(secretsDir, f)),
      path.join(stack.lab.dir, 'keys', 'id_ed25519'),
    ]
      .map((f) => readFileSync(f, 'utf8').trim())
      .filter((v) => v.length >= 16);
    assert.ok(secrets.length >= 2, `the lab has its SSH key and API token (${secrets.length} found)`);
    // The key's body lines are what would leak; check each one, not only the whole file.
    const needles = secrets.flatMap((v) => v.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----')));
    let histories = 0;
    for await (const wf of stack.client.workflow.list()) {
      const h = JSON.stringify(await stack.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory());
      histories += 1;
      for (const n of needles) assert.ok(!h.includes(n), `a secret line appears in the history of ${wf.workflowId}/${wf.runId}`);
    }
    assert.ok(histories >= 3, `histories checked: ${histories}`);
  });

  test('dry run: every effect planned, none performed (the lab effect log does not move)', async () => {
    const { lab, cli } = stack;
    await lab.break('ledger.quorum-loss');
    const before = lab.effects.list().length;
    const run = await cli(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--as', 'bob', '--dry-run', '--watch']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const p = await progress('recovery-lab-ledger');
    assert.equal(p.dryRun, true);
    assert.equal(p.status, 'completed');
    assert.equal(lab.effects.list().length, before, JSON.stringify(lab.effects.list().slice(before)));
    const plans = p.steps.map((s) => s.detail ?? '').join('\n');
    assert.match(plans, /inferadb-ledger' 'init' '--host'/);
    assert.match(plans, /systemctl' 'stop' 'ledger'/);
    assert.match(plans, /'mv' '--' 'data' 'data\.lifeboat-/);
    assert.ok(p.gates.some((g) => g.gate === 'single-node-bootstrap'), 'the gate is recorded in the plan');
    assert.match(p.outcome ?? '', /^Dry run, nothing was changed\..*a real run would end: Quorum restored/);
  });
});
