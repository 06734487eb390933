/**
 * `lifeboat audit` against the recorded histories: it agrees with the
 * workflow on every one of them (each start and accepted answer is OK when the
 * recovery was signed, UNSIGNED when it predates signed approvals; never a
 * FAIL), and it fails a history whose events were changed after the fact: a
 * reason rewritten, a statement rewritten, a signature dropped, a signature
 * checked against a team file that does not list the key. The CLI prints one
 * line per decision and exits 1 on a failure.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { auditHistory, auditPassed, renderAudit } from '../../src/audit';
import type { Io } from '../../src/cli/context';
import { main } from '../../src/cli/main';
import { HISTORIES_DIR, readHistories } from '../helpers/history';

const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-audit-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SIGNED = 'ledger.quorum-loss.json';
const ANSWERS = new Set(['approve', 'reject', 'decide']);

interface JsonEvent {
  eventType: string;
  workflowExecutionUpdateAcceptedEventAttributes?: { acceptedRequest: { input: { name: string; args: { payloads: Array<{ data: string }> } } } };
}

/** The accepted answers of a history in its JSON form, to count and to tamper with. */
function answers(h: { events: JsonEvent[] }): Array<{ name: string; payload: { data: string } }> {
  return h.events
    .map((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest.input)
    .filter((i): i is NonNullable<typeof i> => !!i && ANSWERS.has(i.name))
    .map((i) => ({ name: i.name, payload: i.args.payloads[0]! }));
}

const readJson = (file: string): { events: JsonEvent[] } => JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8')) as { events: JsonEvent[] };
const decodeArgs = (p: { data: string }): Record<string, unknown> => JSON.parse(Buffer.from(p.data, 'base64').toString('utf8')) as Record<string, unknown>;
const encodeArgs = (p: { data: string }, v: unknown): void => void (p.data = Buffer.from(JSON.stringify(v)).toString('base64'));

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false, env: { LIFEBOAT_INVENTORY: path.join(dir, 'none.yaml'), PATH: process.env.PATH }, cwd: dir };
  const code = await main(argv, io);
  return { code, out, err };
}

describe('lifeboat audit agrees with the workflow on every recorded history', () => {
  test('each start and each accepted answer: OK when signed, UNSIGNED before signed approvals, never FAIL', async () => {
    let signed = 0;
    for (const h of readHistories()) {
      const r = await auditHistory(historyFromJSON(h.history));
      const fails = r.lines.filter((l) => l.verdict === 'FAIL');
      assert.deepEqual(fails, [], `${h.file}: ${renderAudit(r)}`);
      assert.equal(r.lines.length, 1 + answers(h.history as { events: JsonEvent[] }).length, `${h.file}: one line for the start and one per accepted answer`);
      if (r.mode === 'signed') {
        signed += 1;
        assert.ok(r.lines.every((l) => l.verdict === 'OK' && /^SHA256:/.test(l.keyFingerprint ?? '')), `${h.file}: ${renderAudit(r)}`);
      } else {
        assert.ok(r.lines.every((l) => l.verdict === 'UNSIGNED'), h.file);
      }
    }
    assert.ok(signed >= 3, `at least the signed e2e happy paths are audited (found ${signed}): re-record them with LIFEBOAT_RECORD_HISTORIES=1`);
  });
});

describe('a history changed after the fact fails the audit', () => {
  test('the reason of an accepted approval rewritten: the event is not what was signed', async () => {
    const h = readJson(SIGNED);
    const a = answers(h).find((x) => x.name === 'approve')!;
    const args = decodeArgs(a.payload);
    encodeArgs(a.payload, { ...args, reason: 'nobody checked anything' });
    const r = await auditHistory(historyFromJSON(h));
    assert.equal(auditPassed(r), false);
    const bad = r.lines.find((l) => l.verdict === 'FAIL')!;
    assert.equal(bad.kind, 'approve');
    assert.match(bad.note ?? '', /the statement's reason is ".*", the event's is "nobody checked anything": the event is not what was signed/);
  });

  test('the signed statement itself rewritten to match: ssh-keygen -Y verify refuses the signature', async () => {
    const h = readJson(SIGNED);
    const a = answers(h).find((x) => x.name === 'approve')!;
    const args = decodeArgs(a.payload) as { reason: string; signed: { statement: string; signature: string } };
    const statement = JSON.parse(args.signed.statement) as Record<string, unknown>;
    statement.reason = 'nobody checked anything';
    encodeArgs(a.payload, { ...args, reason: 'nobody checked anything', signed: { ...args.signed, statement: JSON.stringify(statement) } });
    const r = await auditHistory(historyFromJSON(h));
    const bad = r.lines.find((l) => l.verdict === 'FAIL')!;
    assert.match(bad.note ?? '', /ssh-keygen -Y verify refuses it: .*(Signature verification failed|incorrect signature)/i);
  });

  test('the signature dropped from an answer of a signed recovery', async () => {
    const h = readJson(SIGNED);
    const a = answers(h).find((x) => x.name === 'approve')!;
    const { signed: _dropped, ...args } = decodeArgs(a.payload);
    encodeArgs(a.payload, args);
    const r = await auditHistory(historyFromJSON(h));
    assert.match(r.lines.find((l) => l.verdict === 'FAIL')?.note ?? '', /not signed, but the recovery requires signed approvals/);
  });

  test("checked against the team's file, a key it does not list fails (the recovery's own keys are not trusted blindly)", async () => {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'other', '-f', path.join(dir, 'other')]);
    const other = readFileSync(path.join(dir, 'other.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    const team = path.join(dir, 'team_signers');
    writeFileSync(team, `alice ${other}\nbob ${other}\n`);
    const ok = await cli(['audit', 'recovery-lab-ledger', '--history', path.join(HISTORIES_DIR, SIGNED)]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^OK {7}\S+ {2}start {3}ledger\.quorum-loss on lab-ledger, by bob \(key SHA256:\S+\)/m);
    assert.match(ok.out, /^OK {7}\S+ {2}approve gate single-node-bootstrap, by alice \(key SHA256:\S+\)/m);
    assert.match(ok.out, /2 decision\(s\): 2 verified, 0 failed, 0 unsigned/);
    const r = await cli(['audit', 'recovery-lab-ledger', '--history', path.join(HISTORIES_DIR, SIGNED), '--allowed-signers', team]);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /Note: .*team_signers is not the file this recovery was started with/);
    assert.match(r.out, /^FAIL {5}.*start .*ssh-keygen -Y verify refuses it/m);
    assert.match(r.out, /2 decision\(s\): 0 verified, 2 failed, 0 unsigned/);
  });

  test('a history file that cannot be read or is not a history: a usage error naming --history', async () => {
    const missing = await cli(['audit', 'x', '--history', path.join(dir, 'nope.json')]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--history .*nope\.json: cannot read .* \(ENOENT\)\nfix: name a history file/);
    writeFileSync(path.join(dir, 'junk.json'), '{');
    const junk = await cli(['audit', 'x', '--history', path.join(dir, 'junk.json')]);
    assert.equal(junk.code, 2);
    assert.match(junk.err, /not a workflow history in JSON/);
  });
});
