/**
 * Signed approvals in the workflow (the kit on a dev server, on the wall clock),
 * with signatures made by the real `ssh-keygen -Y sign`: a signed start and
 * signed answers are verified and recorded with their keys; every refusal the
 * issue names is made by the update validator with its reason (unsigned, an
 * unknown key, a key not allowed for the principal, another gate / run /
 * attempt, changed evidence, a stale statement, a replayed one, the starter's
 * key under another name on a dangerous gate, one approver where two are
 * required); a start that is not signed as required ends the recovery before
 * its first step.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import {
  canonicalStatement,
  digestOf,
  parseAllowedSigners,
  publicKeyOf,
  STATEMENT_FORMAT,
  type ApprovalPolicy,
  type SignedStatement,
  type Statement,
} from '../../src/approvals';
import type { LifeboatActivities } from '../../src/activities/types';
import { approveUpdate, decideUpdate, progressQuery, rejectUpdate, type Progress, type RecoveryInput } from '../../src/workflows/kit/defs';
import { hardFailure, stubActivities } from '../helpers/stubs';
import { bundle, devServerEnv, taskQueue } from '../helpers/temporal';

const KIT_PATH = path.resolve(__dirname, '../fixtures/kit-workflows.js');
const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-signed-'));
let env: TestWorkflowEnvironment;

/** Operators' keys, made by ssh-keygen: alice and bob (Ed25519), carol (ECDSA P-256), mallory (not allowed). */
const KEYS = { alice: 'ed25519', bob: 'ed25519', carol: 'ecdsa', mallory: 'ed25519' } as const;
type Who = keyof typeof KEYS;
const keyPath = (who: Who): string => path.join(dir, who);
const fingerprint = (who: Who): string => publicKeyOf(...(readFileSync(`${keyPath(who)}.pub`, 'utf8').trim().split(/\s+/) as [string, string])).fingerprint;
let policy: ApprovalPolicy;

before(async () => {
  for (const [who, type] of Object.entries(KEYS)) execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', who, '-f', path.join(dir, who)]);
  const pub = (who: Who): string => readFileSync(`${keyPath(who)}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  // bob's key is also listed as "robert": one person, two names.
  const text = `alice ${pub('alice')}\nbob,robert namespaces="lifeboat" ${pub('bob')}\ncarol ${pub('carol')}\n`;
  writeFileSync(path.join(dir, 'allowed_signers'), text);
  policy = { mode: 'signed', signers: parseAllowedSigners(text, 'allowed_signers'), source: path.join(dir, 'allowed_signers'), sourceDigest: digestOf(text) };
  // A dev server on the wall clock: statements are signed now and checked for freshness against workflow time.
  env = await devServerEnv();
  await bundle(KIT_PATH);
});
after(async () => {
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

/** Signs a statement's canonical text with ssh-keygen, as the CLI does, but without the CLI's own checks. */
function sign(who: Who, s: Statement): SignedStatement {
  const statement = canonicalStatement(s);
  const signature = execFileSync('ssh-keygen', ['-Y', 'sign', '-n', 'lifeboat', '-f', keyPath(who)], { input: statement, stdio: ['pipe', 'pipe', 'ignore'] }).toString().trim();
  return { statement, signature };
}

const statement = (fields: Partial<Statement> & Pick<Statement, 'kind' | 'workflowId' | 'principal'>): Statement => ({
  format: STATEMENT_FORMAT,
  namespace: 'default',
  cluster: 'c1',
  signedAt: new Date().toISOString(),
  nonce: randomBytes(8).toString('hex'),
  ...fields,
});

const params = (p: Record<string, unknown>): Record<string, unknown> => p;

let idSeq = 0;
/** Starts a kit workflow whose start is signed by `starter` (or carries `startSigned` as given). */
async function start(tq: string, wf: string, p: Record<string, unknown>, o: { starter?: Who; pol?: ApprovalPolicy; startSigned?: SignedStatement | null } = {}): Promise<WorkflowHandle> {
  idSeq += 1;
  const workflowId = `signed-${wf}-${process.pid}-${idSeq}`;
  const starter = o.starter ?? 'bob';
  const startSigned =
    o.startSigned === null ? undefined : (o.startSigned ?? sign(starter, statement({ kind: 'start', workflowId, scenario: 'test.kit', evidence: digestOf(params(p)), principal: starter })));
  const inp: RecoveryInput = {
    scenario: 'test.kit',
    cluster: { name: 'c1', system: 'ledger', nodes: ['node1', 'node2'].map((name) => ({ name, roles: ['voter'] })) },
    params: p,
    startedBy: starter,
    approvals: o.pol ?? policy,
    ...(startSigned ? { startSigned } : {}),
  };
  return env.client.workflow.start(wf, { taskQueue: tq, workflowId, args: [inp] });
}

async function run<T>(acts: LifeboatActivities, fn: (tq: string) => Promise<T>): Promise<T> {
  const tq = taskQueue('signed');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: tq, workflowBundle: await bundle(KIT_PATH), activities: acts });
  return worker.runUntil(fn(tq));
}

async function until(h: WorkflowHandle, pred: (p: Progress) => boolean): Promise<Progress> {
  for (let i = 0; i < 200; i++) {
    const p = await h.query(progressQuery);
    if (pred(p)) return p;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not reached; last progress: ${JSON.stringify(await h.query(progressQuery)).slice(0, 2000)}`);
}

async function refused(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: Error) => {
    assert.match(`${err.message} ${String((err as { cause?: Error }).cause?.message ?? '')}`, re);
    return true;
  });
}

/** An approval of the waiting gate as the CLI would sign it, with fields overridden to make it wrong. */
async function approval(h: WorkflowHandle, who: Who, o: { as?: string; over?: Partial<Statement>; reason?: string; gate?: string } = {}) {
  const p = await h.query(progressQuery);
  const g = p.gates.find((x) => x.status === 'waiting')!;
  const desc = await h.describe();
  const by = o.as ?? who;
  const reason = o.reason ?? `checked by ${by}`;
  const s = statement({
    kind: 'approve',
    workflowId: h.workflowId,
    runId: desc.runId,
    target: g.gate,
    attempt: g.attempt,
    decision: 'approve',
    reason,
    evidence: g.evidenceDigest,
    principal: by,
    ...o.over,
  });
  return { gate: o.gate ?? g.gate, by, reason, confirm: 'c1', signed: sign(who, s) };
}

describe('signed approvals: accepted when they check out, recorded with their keys', () => {
  test('a signed start, then a dangerous gate approved by another person\'s key: verified, recorded, the recovery completes', async () => {
    const stubs = stubActivities();
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', {});
      const p = await until(h, (x) => x.gates.some((g) => g.status === 'waiting'));
      assert.equal(p.approvalMode, 'signed');
      assert.equal(p.startedByKey, fingerprint('bob'));
      const g = p.gates[0]!;
      assert.equal(g.attempt, 1);
      assert.match(g.evidenceDigest ?? '', /^sha256:[0-9a-f]{64}$/);
      const rec = await h.executeUpdate(approveUpdate, { args: [await approval(h, 'carol')] });
      assert.equal(rec.gate, 'wipe');
      const result = await h.result();
      assert.equal(result.outcome, 'done by carol');
      const done = await h.query(progressQuery);
      assert.deepEqual(
        done.gates[0]!.approvals!.map((a) => [a.by, a.keyFingerprint, a.keyType]),
        [['carol', fingerprint('carol'), 'ecdsa-sha2-nistp256']],
      );
      assert.ok(done.timeline.some((t) => t.kind === 'gate-approved' && t.text.includes(`carol (key ${fingerprint('carol')}) approved "wipe"`)));
      assert.deepEqual(done.signatures?.map((s) => [s.kind, s.by, s.keyFingerprint]), [
        ['start', 'bob', fingerprint('bob')],
        ['approve', 'carol', fingerprint('carol')],
      ]);
    });
  });
});

describe('signed approvals: the validator refuses, with the reason, and nothing happens', () => {
  test('unsigned, unknown key, another principal, another gate, run or attempt, changed evidence, stale, wrong kind', async () => {
    const stubs = stubActivities();
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', {});
      await until(h, (x) => x.gates.some((g) => g.status === 'waiting'));
      const ok = await approval(h, 'alice');
      const send = (args: object) => h.executeUpdate(approveUpdate, { args: [args as never] });
      await refused(send({ gate: 'wipe', by: 'alice', reason: 'x', confirm: 'c1' }), /the approve is not signed, and cluster c1 requires signed approvals/);
      await refused(send(await approval(h, 'mallory', { as: 'alice' })), new RegExp(`key ${fingerprint('mallory').replace(/[+/]/g, '\\$&')} \\(ssh-ed25519\\) is not an allowed signer of cluster c1`));
      await refused(send(await approval(h, 'alice', { as: 'carol' })), /may sign as alice .*not as carol/);
      await refused(send(await approval(h, 'alice', { over: { target: 'other-gate' } })), /signed for "other-gate", not for "wipe"/);
      await refused(send(await approval(h, 'alice', { over: { runId: 'another-run' } })), /signed for run "another-run" of .*not for its current run/);
      await refused(send(await approval(h, 'alice', { over: { attempt: 2 } })), /signed for attempt 2 of "wipe", which is now at attempt 1/);
      await refused(send(await approval(h, 'alice', { over: { evidence: digestOf({ node: 'node2' }) } })), /the evidence of "wipe" changed since it was signed/);
      await refused(send(await approval(h, 'alice', { over: { signedAt: new Date(Date.now() - 20 * 60_000).toISOString() } })), /signed requests are valid for 600 s: sign again/);
      await refused(send(await approval(h, 'alice', { over: { signedAt: new Date(Date.now() + 20 * 60_000).toISOString() } })), /ahead of the recovery's clock/);
      await refused(send(await approval(h, 'alice', { over: { kind: 'reject', decision: 'reject' } })), /the statement says "reject", but the request is "approve"/);
      await refused(send({ ...ok, reason: 'another reason than the one signed' }), /the statement's reason is "checked by alice", not "another reason than the one signed"/);
      await refused(send({ ...ok, signed: { ...ok.signed, statement: ok.signed.statement.replace('"alice"', '"alice" ') } }), /not in canonical form/);
      await refused(send({ ...ok, signed: { statement: ok.signed.statement.replace('checked by alice', 'checked by alicE'), signature: ok.signed.signature } }), /the signature does not verify/);
      assert.equal(stubs.effects().length, 0, 'nothing behind the gate ran');
      // The right one goes through.
      await send(ok);
      assert.equal((await h.result()).outcome, 'done by alice');
    });
  });

  test("the starter's key under another name cannot approve a dangerous gate; a reused statement is refused", async () => {
    const stubs = stubActivities();
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', {}, { starter: 'bob' });
      await until(h, (x) => x.gates.some((g) => g.status === 'waiting'));
      await refused(h.executeUpdate(approveUpdate, { args: [await approval(h, 'bob', { as: 'robert' })] }), /key SHA256:\S+ started this recovery \(as bob\) and cannot also approve it under any name/);
      await h.executeUpdate(approveUpdate, { args: [await approval(h, 'alice')] });
      await h.result();
    });
    // A soft gate needing two approvers: alice's accepted statement sent again is refused as used.
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', { gate: 'soft' }, { pol: { ...policy, required: { soft: 2 } } });
      await until(h, (x) => x.gates.some((g) => g.status === 'waiting'));
      const a = await approval(h, 'alice');
      await h.executeUpdate(approveUpdate, { args: [a] });
      await refused(h.executeUpdate(approveUpdate, { args: [a] }), /this signed statement was already used once/);
      await h.executeUpdate(approveUpdate, { args: [await approval(h, 'bob')] });
      await h.result();
    });
  });

  test('two approvers required: one is not enough, the same key twice is refused, a second person completes it', async () => {
    const stubs = stubActivities();
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', {}, { starter: 'bob', pol: { ...policy, required: { wipe: 2 } } });
      let p = await until(h, (x) => x.gates.some((g) => g.status === 'waiting'));
      assert.equal(p.gates[0]!.required, 2);
      const first = await h.executeUpdate(approveUpdate, { args: [await approval(h, 'alice')] });
      assert.equal(first.status, 'waiting', 'one approval of two: the gate still waits');
      p = await h.query(progressQuery);
      assert.equal(p.gates[0]!.status, 'waiting');
      assert.equal(stubs.effects().length, 0, 'nothing ran on one approval');
      await refused(h.executeUpdate(approveUpdate, { args: [await approval(h, 'alice')] }), /key SHA256:\S+ already approved "wipe" \(as alice\); it needs 1 more approval/);
      await h.executeUpdate(approveUpdate, { args: [await approval(h, 'carol')] });
      const r = await h.result();
      assert.equal(r.outcome, 'done by alice and carol');
      p = await h.query(progressQuery);
      assert.deepEqual(p.gates[0]!.approvals!.map((a) => a.keyFingerprint), [fingerprint('alice'), fingerprint('carol')]);
    });
  });

  test('a signed rejection and a signed decision: verified, attempt and evidence bound', async () => {
    let fails = 1;
    const stubs = stubActivities({
      ledgerStop: async (a) => {
        if (a.node === 'node1' && fails-- > 0) throw hardFailure('connection refused by node1');
        return { plan: `stop ${a.node}` };
      },
    });
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitStep', { policy: 'ask' });
      const p = await until(h, (x) => x.pendingDecision !== undefined && x.status === 'waiting-decision');
      const d = p.pendingDecision!;
      assert.equal(d.attempt, 1);
      const runId = (await h.describe()).runId;
      const decide = (over: Partial<Statement> = {}) => ({
        decision: 'retry' as const,
        by: 'alice',
        reason: 'node1 is back',
        signed: sign('alice', statement({ kind: 'decide', workflowId: h.workflowId, runId, target: d.step, attempt: d.attempt, decision: 'retry', reason: 'node1 is back', evidence: d.evidenceDigest, principal: 'alice', ...over })),
      });
      await refused(h.executeUpdate(decideUpdate, { args: [decide({ decision: 'skip' })] }), /the statement says "skip", but the request is "retry"/);
      await refused(h.executeUpdate(decideUpdate, { args: [decide({ evidence: digestOf('another failure') })] }), /evidence of "Stop node1" changed/);
      await h.executeUpdate(decideUpdate, { args: [decide()] });
      assert.equal((await h.result()).outcome, 'stopped');
      const done = await h.query(progressQuery);
      assert.ok(done.timeline.some((t) => t.kind === 'decision' && t.text.includes(`alice (key ${fingerprint('alice')}) decided retry`)));
    });
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', { gate: 'soft' });
      await until(h, (x) => x.gates.some((g) => g.status === 'waiting'));
      const a = await approval(h, 'carol', { over: { kind: 'reject', decision: 'reject' }, reason: 'not today' });
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'soft', by: 'carol', reason: 'not today', signed: a.signed }] });
      await assert.rejects(h.result(), (err: unknown) => ((err as WorkflowFailedError).cause as { type?: string })?.type === 'GateRejected');
      const p = await h.query(progressQuery);
      assert.equal(p.gates[0]!.rejection?.keyFingerprint, fingerprint('carol'));
    });
  });
});

describe('signed approvals: the start', () => {
  test('a start not signed, or signed by a key not allowed, ends the recovery before its first step', async () => {
    const stubs = stubActivities();
    await run(stubs.activities, async (tq) => {
      for (const [o, re] of [
        [{ startSigned: null }, /the start is not signed, and cluster c1 requires signed approvals/],
        [{ starter: 'mallory' as Who }, /is not an allowed signer of cluster c1/],
      ] as const) {
        const h = await start(tq, 'kitGate', {}, o);
        await assert.rejects(h.result(), (err: unknown) => {
          const cause = (err as WorkflowFailedError).cause as { type?: string; message?: string };
          assert.equal(cause?.type, 'StartNotVerified');
          assert.match(cause?.message ?? '', re);
          assert.match(cause?.message ?? '', /nothing was done/);
          return true;
        });
        const p = await h.query(progressQuery);
        assert.equal(p.gates.length, 0);
        assert.equal(p.steps.length, 0);
      }
      assert.equal(stubs.effects().length, 0);
    });
  });

  test('declared unsigned: names as given, recorded as identity not verified', async () => {
    const stubs = stubActivities();
    await run(stubs.activities, async (tq) => {
      const h = await start(tq, 'kitGate', { gate: 'soft' }, { pol: { mode: 'unsigned' }, startSigned: null });
      await until(h, (x) => x.gates.some((g) => g.status === 'waiting'));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'soft', by: 'alice', reason: 'ok' }] });
      await h.result();
      const p = await h.query(progressQuery);
      assert.equal(p.approvalMode, 'unsigned');
      assert.ok(p.timeline.some((t) => /identity not verified/.test(t.text)));
      assert.equal(p.gates[0]!.approvals![0]!.keyFingerprint, undefined);
    });
  });
});
