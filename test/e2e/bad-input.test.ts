/**
 * The bad-input catalogue (docs/bad-input.md), rows that need a running
 * recovery: one stack (dev server, ledger lab, worker), a ledger.quorum-loss
 * recovery in flight, and every wrong thing an operator or a target can do to
 * it. After each: a clear error with a fix and its exit code, the recovery
 * unharmed (its status unchanged), and in the end it completes with exactly
 * the runbook's effects (nothing done twice, nothing lost). Row ids (B7...)
 * are those of the table.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { progressQuery, type Progress } from '../../src/workflows/kit/defs';
import { eventually, startStack, type CliResult, type Stack } from '../helpers/stack';

const ID = 'recovery-lab-ledger';
let stack: Stack;
let inventoryText = '';

before(async () => {
  stack = await startStack({ families: ['ledger'] });
  inventoryText = readFileSync(stack.lab.inventoryPath, 'utf8');
});
after(async () => {
  await stack?.stop();
});

function progress(): Promise<Progress> {
  return stack.client.workflow.getHandle(ID).query(progressQuery);
}

/** Exit code, `error:` naming the problem, `fix:` naming the next step, no stack trace. */
function refused(r: CliResult, code: number, problem: RegExp, fix: RegExp): void {
  assert.equal(r.code, code, `exit ${r.code}\n${r.stdout}${r.stderr}`);
  const [err, fixText] = r.stderr.split('\nfix: ');
  assert.match(err ?? '', problem);
  assert.match(fixText ?? '', fix);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

/** Another valid-looking ed25519 host key (OpenSSH format), as a re-installed host would present. */
function otherHostKey(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from((publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url');
  const part = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([part(Buffer.from('ssh-ed25519')), part(raw)]).toString('base64')}`;
}

async function waitingDecision(what: string): Promise<Progress> {
  return eventually(what, async () => {
    const p = await progress();
    assert.ok(!['completed', 'failed', 'aborted'].includes(p.status), `ended early: ${p.status} ${p.outcome ?? ''}`);
    return p.status === 'waiting-decision' ? p : undefined;
  }, 120_000);
}

describe('bad input against a running recovery', () => {
  test('every refusal leaves the recovery unharmed; it completes with exactly the runbook effects', async (t) => {
    const { lab, cli } = stack;
    t.after(async () => {
      // Whatever happened, leave the next test a clean lab and no recovery in flight.
      writeFileSync(lab.inventoryPath, inventoryText);
      await lab.break('host.heal:lab-ledger/node1').catch(() => undefined);
      await stack.client.workflow.getHandle(ID).terminate('test cleanup').catch(() => undefined);
    });
    await lab.break('ledger.quorum-loss');
    const start = lab.effects.list({ cluster: 'lab-ledger' }).length;

    // B9 a host key that changed: node1 (the survivor, whose host the export is written to) presents another key than the pinned one.
    const inv = parse(inventoryText) as { clusters: Record<string, { nodes: Array<{ name: string; ssh?: { hostKeys: string[] } }> }> };
    const node1 = inv.clusters['lab-ledger']!.nodes.find((n) => n.name === 'node1')!;
    node1.ssh!.hostKeys = [otherHostKey()];
    writeFileSync(lab.inventoryPath, `# node1's pinned key replaced by the test\n${stringify(inv)}`);

    const run = await cli(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--as', 'bob', '--approval-timeout', '30m']);
    assert.equal(run.code, 0, run.stderr);

    // B14 a second recovery on the same cluster: exit 3, names the running one.
    refused(
      await cli(['run', 'ledger.node-failure', '--cluster', 'lab-ledger', '--as', 'carol']),
      3,
      /cluster lab-ledger already has a recovery running: ledger\.quorum-loss \(workflow recovery-lab-ledger, run [0-9a-f-]+\) started by bob/,
      /one recovery per cluster at a time/,
    );

    const hk = await waitingDecision('the host key mismatch to ask for a decision');
    assert.match(hk.pendingDecision?.error ?? '', /host key/i);
    assert.match(hk.pendingDecision?.error ?? '', /node1/);
    const watch = await cli(['watch', ID, '--once']);
    assert.equal(watch.code, 0, watch.stderr);
    assert.match(watch.stdout, /host key/i);
    assert.deepEqual(lab.effects.list({ cluster: 'lab-ledger' }).slice(start).filter((e) => e.effect === 'ledger.service.stop'), [], 'nothing was stopped through an unverified host');

    // B8 an approval while no gate waits (the recovery is not there yet): exit 4, says no gate is waiting.
    refused(await cli(['approve', ID, 'single-node-bootstrap', '--as', 'alice', '--reason', 'x', '--confirm', 'lab-ledger']), 4, /unknown gate "single-node-bootstrap"; no gate is waiting/, /lifeboat watch .* --once/);

    // B10 wrong credentials: the pinned key is restored, but node1 now refuses the worker's key: AuthFailed at once, no retry storm.
    writeFileSync(lab.inventoryPath, inventoryText);
    await lab.break('host.refuse-auth:lab-ledger/node1');
    const t0 = Date.now();
    assert.equal((await cli(['decide', ID, 'retry', '--as', 'alice', '--reason', 'host key re-pinned'])).code, 0);
    const auth = await eventually('the auth failure to ask again', async () => {
      const p = await progress();
      return p.status === 'waiting-decision' && /auth/i.test(p.pendingDecision?.error ?? '') ? p : undefined;
    }, 60_000);
    assert.ok(Date.now() - t0 < 20_000, `AuthFailed is not retried: asked again after ${Date.now() - t0} ms`);
    assert.match(auth.pendingDecision?.error ?? '', /node1/);
    await lab.break('host.heal:lab-ledger/node1');
    assert.equal((await cli(['decide', ID, 'retry', '--as', 'alice', '--reason', 'key authorized again'])).code, 0);

    await eventually('the split-brain gate', async () => (await progress()).gates.some((g) => g.gate === 'single-node-bootstrap' && g.status === 'waiting'), 120_000);

    // B13 a decision when nothing waits for one: exit 4.
    refused(await cli(['decide', ID, 'retry', '--as', 'alice']), 4, /nothing is waiting for a decision/, /lifeboat watch .* --once|lifeboat approvals/);
    // B8 from the starter on a dangerous gate: exit 2.
    refused(await cli(['approve', ID, 'single-node-bootstrap', '--as', 'bob', '--reason', 'mine', '--confirm', 'lab-ledger']), 2, /bob started this recovery and cannot also approve it; ask a second person/, /lifeboat watch/);
    // B8 without the typed confirmation, or with a wrong one: exit 2, says what to type.
    refused(await cli(['approve', ID, 'single-node-bootstrap', '--as', 'alice', '--reason', 'gone']), 2, /type the cluster's name back to confirm \(--confirm lab-ledger\)/, /lifeboat watch/);
    refused(await cli(['approve', ID, 'single-node-bootstrap', '--as', 'alice', '--reason', 'gone', '--confirm', 'lab-ledgr']), 2, /--confirm lab-ledger/, /lifeboat watch/);
    // B8 for an unknown gate while another waits: names the waiting one.
    refused(await cli(['approve', ID, 'wipe-everything', '--as', 'alice', '--reason', 'x']), 2, /unknown gate "wipe-everything"; waiting: single-node-bootstrap/, /lifeboat watch/);
    // B8 a choice on a gate without choices.
    refused(await cli(['approve', ID, 'single-node-bootstrap', '--as', 'alice', '--reason', 'gone', '--confirm', 'lab-ledger', '--choice', 'node2']), 2, /offers no choices; drop --choice/, /lifeboat watch/);
    // Unknown recovery id: exit 3.
    refused(await cli(['approve', 'recovery-nope', 'single-node-bootstrap', '--as', 'alice', '--reason', 'x']), 3, /no recovery recovery-nope/, /lifeboat list --all/);

    // Unharmed: still parked on its gate, nothing irreversible happened.
    const mid = await progress();
    assert.equal(mid.status, 'waiting-approval');
    assert.equal(mid.gates.find((g) => g.gate === 'single-node-bootstrap')?.status, 'waiting');
    assert.deepEqual(lab.effects.list({ cluster: 'lab-ledger' }).slice(start).filter((e) => ['ledger.service.stop', 'ledger.service.start', 'ledger.init'].includes(e.effect)), []);

    const ok = await cli(['approve', ID, 'single-node-bootstrap', '--as', 'alice', '--reason', 'old nodes destroyed', '--confirm', 'lab-ledger']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    // B8 duplicated approval: exit 4, says who approved it and when.
    refused(await cli(['approve', ID, 'single-node-bootstrap', '--as', 'carol', '--reason', 'me too', '--confirm', 'lab-ledger']), 4, /gate "single-node-bootstrap" is no longer waiting: it was approved by alice at /, /lifeboat watch/);

    const done = await cli(['watch', ID]);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    const p = await progress();
    assert.equal(p.status, 'completed');
    const gate = p.gates.find((g) => g.gate === 'single-node-bootstrap');
    assert.equal(gate?.by, 'alice', 'the duplicate did not overwrite the approver');
    // Nothing done twice: one new cluster on node1, every node started once (empty).
    const after = lab.effects.list({ cluster: 'lab-ledger' }).slice(start);
    assert.deepEqual(after.filter((e) => e.effect === 'ledger.init').map((e) => e.node), ['node1'], JSON.stringify(after));
    assert.deepEqual(after.filter((e) => e.effect === 'ledger.service.start').map((e) => e.node).sort(), ['node1', 'node2', 'node3']);
    const health = (await lab.health()).find((h) => h.cluster === 'lab-ledger');
    assert.ok(health?.healthy, JSON.stringify(health));
    // The report keeps every decision taken on the way.
    const report = await cli(['report', ID]);
    assert.match(report.stdout, /host key re-pinned/);
    assert.match(report.stdout, /key authorized again/);
    // B18 a report written where it cannot be: the path and the fix, no stack; written again where it can.
    refused(await cli(['report', ID, '--out', 'no/such/dir/incident.md']), 2, /--out no\/such\/dir\/incident\.md: cannot write .*no\/such\/dir\/incident\.md \(ENOENT\)/, /mkdir -p .*no\/such\/dir/);
    assert.equal((await cli(['report', ID, '--out', 'incident.md'])).code, 0);

    // B13 answers to a recovery that has ended: exit 4, says it ended and where to read what happened.
    refused(await cli(['approve', ID, 'single-node-bootstrap', '--as', 'carol', '--reason', 'late', '--confirm', 'lab-ledger']), 4, /recovery recovery-lab-ledger has ended \(completed at .*\): nothing waits/, /lifeboat report recovery-lab-ledger/);
    refused(await cli(['decide', ID, 'retry', '--as', 'carol']), 4, /has ended \(completed/, /lifeboat report/);
    refused(await cli(['cancel', ID, '--reason', 'too late']), 4, /is not running \(it is completed\)/, /lifeboat list --all/);
  });

  test('B11 an approval after the gate timed out is refused with the decision to take; retry reopens the gate and nothing is lost', async () => {
    const { lab, cli } = stack;
    await lab.break('ledger.quorum-loss');
    const start = lab.effects.list({ cluster: 'lab-ledger' }).length;
    const run = await cli(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--as', 'bob', '--approval-timeout', '10s']);
    assert.equal(run.code, 0, run.stderr);
    const p = await waitingDecision('the gate to time out and escalate');
    assert.equal(p.pendingDecision?.step, 'approval of "single-node-bootstrap" timed out');

    refused(
      await cli(['approve', ID, 'single-node-bootstrap', '--as', 'alice', '--reason', 'late but sure', '--confirm', 'lab-ledger']),
      4,
      /gate "single-node-bootstrap" of recovery-lab-ledger timed out at .* and escalated: the recovery now waits for an operator's decision, not for an approval/,
      /lifeboat decide recovery-lab-ledger retry --as NAME/,
    );
    assert.equal((await progress()).status, 'waiting-decision', 'unharmed: still asking');
    assert.deepEqual(lab.effects.list({ cluster: 'lab-ledger' }).slice(start).filter((e) => ['ledger.service.start', 'ledger.init'].includes(e.effect)), [], 'nothing started behind the timed-out gate');

    assert.equal((await cli(['decide', ID, 'retry', '--as', 'alice', '--reason', 'approver is here now'])).code, 0);
    await eventually('the gate to wait again', async () => (await progress()).status === 'waiting-approval', 30_000, 200);
    const ok = await cli(['approve', ID, 'single-node-bootstrap', '--as', 'alice', '--reason', 'late but sure', '--confirm', 'lab-ledger']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const done = await cli(['watch', ID]);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    const after = lab.effects.list({ cluster: 'lab-ledger' }).slice(start);
    assert.deepEqual(after.filter((e) => e.effect === 'ledger.init').map((e) => e.node), ['node1']);
    const health = (await lab.health()).find((h) => h.cluster === 'lab-ledger');
    assert.ok(health?.healthy, JSON.stringify(health));
  });
});
