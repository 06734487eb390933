/**
 * Both scenarios end to end, as an operator drives them: the `lifeboat` CLI
 * against a real Temporal dev server, a worker process, and the lab's real
 * SSH / gRPC / HTTP targets. The split-brain gate is approved from the CLI,
 * after the refusals an operator can run into; the incident record is
 * produced; the lab's effect log shows exactly the runbook's effects.
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

    // Nothing irreversible happened before the gate: survivors stopped, nobody started or wiped.
    assert.equal(lab.effects.list({ cluster: 'lab-ledger', effect: 'ledger.start' }).length, 0);
    assert.equal(lab.effects.list({ cluster: 'lab-ledger', effect: 'ledger.data-cleared' }).length, 0);

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
    assert.match(p.outcome ?? '', /Quorum restored: 3-node cluster rebuilt from node1/);
    const gate = p.gates.find((g) => g.gate === 'single-node-bootstrap');
    assert.equal(gate?.status, 'approved');
    assert.equal(gate?.by, 'alice');

    // Exactly the runbook's effects: the survivor (node1) started --single once, the others wiped once and joined.
    const effects = lab.effects.list({ cluster: 'lab-ledger' }).slice(before);
    const starts = effects.filter((e) => e.effect === 'ledger.start');
    const singles = starts.filter((e) => e.detail?.mode === 'single');
    assert.deepEqual(singles.map((e) => e.node), ['node1'], JSON.stringify(starts));
    // node2 and node3 lost their machines (and data) in the fault: the wipe finds nothing, and they join empty.
    assert.deepEqual(starts.filter((e) => e.detail?.mode === 'join').map((e) => e.node).sort(), ['node2', 'node3'], JSON.stringify(starts));
    assert.equal(effects.filter((e) => e.effect === 'ledger.data-cleared').length, 0);
    assert.equal(effects.filter((e) => e.effect === 'ledger.split-brain-refused').length, 0);
    const health = (await lab.health()).find((h) => h.cluster === 'lab-ledger');
    assert.ok(health?.healthy, JSON.stringify(health));

    const report = await cli(['report', id]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /single-node-bootstrap/);
    assert.match(report.stdout, /alice/);
    assert.match(report.stdout, /old nodes destroyed in the fire/);
    assert.match(report.stdout, /### RTO/);
    assert.match(report.stdout, /Force a new cluster from node1/);

    const list = await cli(['list', '--all', '--json']);
    const rows = JSON.parse(list.stdout) as Array<{ workflowId: string; status: string }>;
    assert.ok(rows.some((r) => r.workflowId === id && /completed/i.test(r.status)), list.stdout);
    await record(id, 'ledger.quorum-loss');
  });

  test('ledger.node-failure: LeaveCluster via the leader, the replacement joins, quorum never lost', async () => {
    const { lab, cli } = stack;
    const id = 'recovery-lab-ledger';
    await lab.break('ledger.node-failure');
    const before = lab.effects.list({ cluster: 'lab-ledger' }).length;
    const run = await cli(['run', 'ledger.node-failure', '--cluster', 'lab-ledger', '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);
    const p = await finished(id, 180_000);
    assert.equal(p.status, 'completed', JSON.stringify(p.steps.filter((s) => s.status !== 'succeeded')));
    assert.match(p.outcome ?? '', /Node replaced: node3 rejoined the 3-node cluster as a voter/);
    const effects = lab.effects.list({ cluster: 'lab-ledger' }).slice(before);
    assert.deepEqual(
      effects.filter((e) => e.effect === 'ledger.leave').map((e) => [e.node, e.detail?.via]),
      [['node3', 'node1']],
    );
    assert.deepEqual(
      effects.filter((e) => e.effect === 'ledger.start').map((e) => [e.node, e.detail?.mode]),
      [['node3', 'join']],
    );
    // Nothing else was disrupted: no stop, no --single, no wipe.
    assert.deepEqual(effects.filter((e) => ['ledger.stop', 'ledger.data-cleared'].includes(e.effect)), []);
    const health = (await lab.health()).find((h) => h.cluster === 'lab-ledger');
    assert.ok(health?.healthy, JSON.stringify(health));
    const report = await cli(['report', id]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /Remove node3 from the cluster \(LeaveCluster via node1\)/);
    assert.match(report.stdout, /automatic/);
    await record(id, 'ledger.node-failure');
  });

  test('ledger.vault-divergence: the determinism bug found in metrics, GetVault DIVERGED, RecoverVault repairs it', async () => {
    const { lab, cli } = stack;
    const id = 'recovery-lab-ledger';
    await lab.break('ledger.vault-divergence');
    const before = lab.effects.list({ cluster: 'lab-ledger' }).length;
    const run = await cli(['run', 'ledger.vault-divergence', '--cluster', 'lab-ledger', '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);
    const p = await finished(id, 180_000);
    assert.equal(p.status, 'completed', JSON.stringify(p.steps.filter((s) => s.status !== 'succeeded')));
    assert.match(p.outcome ?? '', /Vault divergence resolved: 1\/payments on node\d: RecoverVault/);
    const effects = lab.effects.list({ cluster: 'lab-ledger' }).slice(before);
    const recovered = effects.filter((e) => e.effect === 'ledger.recover-vault');
    assert.equal(recovered.length, 1, JSON.stringify(effects));
    assert.equal(recovered[0]!.detail?.changed, true);
    assert.equal(recovered[0]!.detail?.vault, 'payments');
    // The safe path: no node was removed, stopped or wiped, and no gate was needed.
    assert.deepEqual(effects.filter((e) => ['ledger.leave', 'ledger.stop', 'ledger.data-cleared', 'ledger.snapshot'].includes(e.effect)), []);
    assert.deepEqual(p.gates, []);
    const health = (await lab.health()).find((h) => h.cluster === 'lab-ledger');
    assert.ok(health?.healthy, JSON.stringify(health));
    const report = await cli(['report', id]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /Attempt automatic recovery: RecoverVault 1\/payments/);
    assert.match(report.stdout, /non-deterministic apply/);
    await record(id, 'ledger.vault-divergence');
  });

  test('ledger.full-restore: backup fetched, two CLI-approved gates, restored as a new cluster and expanded, RPO in the report', async () => {
    const { lab, cli } = stack;
    const id = 'recovery-lab-ledger';
    await lab.break('ledger.full-restore');
    const before = lab.effects.list({ cluster: 'lab-ledger' }).length;
    const run = await cli(['run', 'ledger.full-restore', '--cluster', 'lab-ledger', '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);
    for (const gate of ['new-cluster-identity', 'clear-new-nodes']) {
      const p = await eventually(`gate ${gate}`, async () => {
        const x = await progress(id);
        if (!OPEN.includes(x.status)) throw new Error(`recovery ended early: ${x.status} ${x.outcome ?? ''} ${JSON.stringify(x.steps.filter((s) => s.status === 'failed'))}`);
        return x.gates.some((g) => g.gate === gate && g.status === 'waiting') ? x : undefined;
      }, 120_000);
      if (gate === 'new-cluster-identity') {
        const g = p.gates.find((x) => x.gate === gate)!;
        assert.match(g.evidence['RPO gap (writes lost)'] ?? '', /min/);
        // Nothing started before the first gate.
        assert.equal(lab.effects.list({ cluster: 'lab-ledger', effect: 'ledger.start' }).length, lab.effects.list({ cluster: 'lab-ledger', effect: 'ledger.start' }).slice(0, before).length);
      }
      const ok = await cli(['approve', id, gate, '--as', 'alice', '--reason', 'total loss confirmed by the DC', '--confirm', 'lab-ledger']);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    }
    const p = await finished(id, 180_000);
    assert.equal(p.status, 'completed', JSON.stringify(p.steps.filter((s) => s.status !== 'succeeded')));
    assert.match(p.outcome ?? '', /Cluster restored from backup .*RPO gap/);
    const starts = lab.effects.list({ cluster: 'lab-ledger', effect: 'ledger.start' }).filter((e) => lab.effects.list({ cluster: 'lab-ledger' }).indexOf(e) >= before);
    assert.deepEqual(starts.map((e) => [e.node, e.detail?.mode]), [
      ['node1', 'single'],
      ['node1', 'cluster'],
      ['node2', 'join'],
      ['node3', 'join'],
    ]);
    assert.match(String(starts[0]!.detail?.dataDir), /restore$/);
    const health = (await lab.health()).find((h) => h.cluster === 'lab-ledger');
    assert.ok(health?.healthy, JSON.stringify(health));
    const report = await cli(['report', id]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /RPO gap/);
    assert.match(report.stdout, /new-cluster-identity/);
    assert.match(report.stdout, /clear-new-nodes/);
    await record(id, 'ledger.full-restore');
  });

  test('training-cluster.mesh-collapse: coordinator first, one restart per node, mesh re-formed, report', async () => {
    const { lab, cli } = stack;
    const id = 'recovery-lab-training';
    await lab.break('training-cluster.mesh-collapse');
    const before = lab.effects.list({ cluster: 'lab-training' }).length;
    const run = await cli(['run', 'training-cluster.mesh-collapse', '--cluster', 'lab-training', '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);

    const p = await finished(id, 300_000);
    assert.equal(p.status, 'completed', JSON.stringify(p.steps));
    assert.match(p.outcome ?? '', /Mesh re-formed: leader tc-node1, alive 5\/5/);

    const restarts = lab.effects.list({ cluster: 'lab-training', effect: 'orchestrator.restart' }).filter((e) => lab.effects.list({ cluster: 'lab-training' }).indexOf(e) >= before);
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

  test('training-cluster.leader-failure: no election within 60 s, an election reset elects a live voter, jobs flow again, the old leader rejoins', async () => {
    const { lab, cli } = stack;
    const id = 'recovery-lab-training';
    await lab.break('training-cluster.leader-failure');
    const before = lab.effects.list({ cluster: 'lab-training' }).length;
    const run = await cli(['run', 'training-cluster.leader-failure', '--cluster', 'lab-training', '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);
    const p = await finished(id, 240_000);
    assert.equal(p.status, 'completed', JSON.stringify(p.steps.filter((s) => s.status !== 'succeeded')));
    assert.match(p.outcome ?? '', /^Leader restored by election reset on tc-node2: leader tc-node[23], [1-9]\d* active job\(s\); P2P restarted on tc-node1, back in the mesh \(5\/5 alive\)$/);
    const effects = lab.effects.list({ cluster: 'lab-training' }).slice(before);
    assert.deepEqual(
      effects.map((e) => `${e.effect}:${e.node}`),
      ['election.reset:tc-node2', 'orchestrator.start:tc-node1'],
      'one reset, no manual designation, the crashed old leader started once after the election',
    );
    assert.deepEqual(p.gates, []);
    assert.ok(!Object.keys(p.facts).some((k) => k.endsWith('follow-up')), JSON.stringify(p.facts));
    // The cluster is whole again, not only led: every node alive in the mesh.
    const health = (await lab.health()).find((h) => h.cluster === 'lab-training');
    assert.ok(health?.healthy, JSON.stringify(health));
    assert.match(health?.summary ?? '', /^leader tc-node[23], 5\/5 alive in the mesh/);
    const report = await cli(['report', id]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /Option 2: force an election restart/);
    assert.match(report.stdout, /Restart P2P on the node\(s\) still out of the mesh: tc-node1/);
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
    assert.ok(histories >= 5, `histories checked: ${histories}`);
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
    assert.match(plans, /inferadb-ledger' '--single'/);
    assert.match(plans, /systemctl' 'stop' 'ledger'/);
    assert.ok(p.gates.some((g) => g.gate === 'single-node-bootstrap'), 'the gate is recorded in the plan');
    assert.match(p.outcome ?? '', /^Dry run, nothing was changed\..*a real run would end: Quorum restored/);
  });
});
