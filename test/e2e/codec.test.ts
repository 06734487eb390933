/**
 * The payload codec end to end: a real dev server, the lab and a worker
 * process, all with LIFEBOAT_CODEC_KEY_REF set. One ledger.quorum-loss
 * recovery goes through a failure (node1 refuses SSH auth: AuthFailed, the
 * step asks), an operator decision (retry, after the host heals), the
 * split-brain gate (approved from the CLI) and completes. Then:
 *
 * - the raw history (`temporal workflow show --output json`, no codec) holds
 *   only encrypted payloads: no cluster topology, node names, approver,
 *   reason or failure message in clear (search attributes excepted: they
 *   are indexed by design);
 * - the CLI with the key reads it (`watch --once`, `report`); without the key
 *   it says the payloads are encrypted and how to fix it;
 * - `lifeboat codec-server` decodes it for `temporal workflow show
 *   --codec-endpoint` (what the Web UI does with TEMPORAL_CODEC_ENDPOINT).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '@temporalio/client';
import { AesGcmCodec, parseKey } from '../../src/codec';
import { FAILURE_CONVERTER_PATH } from '../../src/codec';
import { PROJECT_ROOT, temporalCliPath } from '../../src/tools';
import { progressQuery, type Progress } from '../../src/workflows/kit/defs';
import { eventually, freePort, startStack, type Stack } from '../helpers/stack';

const ID = 'recovery-lab-ledger';
const REASON = 'old racks destroyed in the flood, ticket OPS-4711-zq';
const keyDir = mkdtempSync(path.join(tmpdir(), 'lifeboat-codec-e2e-'));
const keyText = randomBytes(32).toString('base64');
const keyFile = path.join(keyDir, 'codec.key');
writeFileSync(keyFile, `${keyText}\n`, { mode: 0o400 });
let stack: Stack;
let codecClient: Client;

before(async () => {
  // The stack's worker and CLI inherit this environment: the codec is on for them.
  process.env.LIFEBOAT_CODEC_KEY_REF = `file:${keyFile}`;
  stack = await startStack({ families: ['ledger'] });
  codecClient = new Client({
    connection: stack.client.connection,
    namespace: 'default',
    dataConverter: { payloadCodecs: [new AesGcmCodec(parseKey(keyText, 'test'))], failureConverterPath: FAILURE_CONVERTER_PATH },
  });
});
after(async () => {
  delete process.env.LIFEBOAT_CODEC_KEY_REF;
  await stack?.stop();
  rmSync(keyDir, { recursive: true, force: true });
});

function progress(): Promise<Progress> {
  return codecClient.workflow.getHandle(ID).query(progressQuery);
}

function show(extra: string[] = []): string {
  const r = spawnSync(temporalCliPath(), ['workflow', 'show', '--workflow-id', ID, '--address', stack.address, '--output', 'json', ...extra], {
    encoding: 'utf8',
    timeout: 30_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

interface Found {
  encrypted: number;
  clear: Array<{ where: string; text: string }>;
  failureTexts: string[];
}

/** Every payload and failure message of a history JSON, outside search attributes. */
function scan(node: unknown, where: string, out: Found): Found {
  if (Array.isArray(node)) {
    node.forEach((x, i) => scan(x, `${where}[${i}]`, out));
    return out;
  }
  if (!node || typeof node !== 'object') return out;
  const o = node as Record<string, unknown>;
  if (o.metadata && typeof o.metadata === 'object' && 'data' in o) {
    const enc = Buffer.from(String((o.metadata as Record<string, unknown>).encoding ?? ''), 'base64').toString();
    if (enc === 'binary/encrypted') out.encrypted += 1;
    else out.clear.push({ where, text: `${enc}: ${Buffer.from(String(o.data ?? ''), 'base64').toString()}` });
    return out;
  }
  for (const [k, v] of Object.entries(o)) {
    // Search attributes are indexed for `lifeboat list` and the UI: plaintext by design (scenario, cluster, step).
    if (k === 'searchAttributes') continue;
    // A `patched()` marker's details are the SDK's own (the patch id, e.g. "ledger/real-server-api"): it writes
    // them without the data converter, and they hold nothing of the recovery.
    if (k === 'patch-data' && where.endsWith('markerRecordedEventAttributes.details')) continue;
    if ((k === 'message' || k === 'stackTrace') && typeof v === 'string' && where.includes('ailure')) out.failureTexts.push(v);
    // The CLI prints json/plain payloads as bare values under "payloads": those are clear text too.
    if (k === 'payloads' && Array.isArray(v)) {
      v.forEach((p, i) => {
        if (!p || typeof p !== 'object' || !('metadata' in (p as object))) out.clear.push({ where: `${where}.payloads[${i}]`, text: JSON.stringify(p) });
      });
    }
    scan(v, `${where}.${k}`, out);
  }
  return out;
}

describe('payload codec end to end', () => {
  test('a recovery with a failure, a decision and a dangerous gate: encrypted at rest, readable with the key', async () => {
    const { lab, cli } = stack;
    await lab.break('ledger.quorum-loss');
    await lab.break('host.refuse-auth:lab-ledger/node1');
    const run = await cli(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);

    // node1 refuses the worker's key: the stop step fails with AuthFailed and asks the operator.
    const waiting = await eventually('the failed stop to ask for a decision', async () => {
      const p = await progress();
      assert.ok(!['completed', 'failed', 'aborted'].includes(p.status), `ended early: ${p.status} ${p.outcome ?? ''}`);
      return p.status === 'waiting-decision' ? p : undefined;
    }, 120_000);
    assert.match(JSON.stringify(waiting.pendingDecision ?? waiting), /auth/i);
    const watchOnce = await cli(['watch', ID, '--once']);
    assert.equal(watchOnce.code, 0, watchOnce.stderr);
    assert.match(watchOnce.stdout, /retry \| skip \| abort|retry|decide/i);

    await lab.break('host.heal:lab-ledger/node1');
    const retry = await cli(['decide', ID, 'retry', '--as', 'alice', '--reason', 'key re-authorized on node1']);
    assert.equal(retry.code, 0, retry.stdout + retry.stderr);

    await eventually('the split-brain gate', async () => (await progress()).gates.some((g) => g.gate === 'single-node-bootstrap' && g.status === 'waiting'), 120_000);
    // `approvals` reads the gate from the recovery's memo (encrypted like every payload) through the codec, asking no worker.
    const listed = await eventually('the gate in the memo', async () => {
      const a = await cli(['approvals', '--json']);
      assert.equal(a.code, 0, a.stderr);
      return (JSON.parse(a.stdout) as { approvals: Array<{ gate: string; source: string; approveCommand: string }> }).approvals.find((g) => g.gate === 'single-node-bootstrap');
    }, 30_000);
    assert.equal(listed.source, 'memo');
    assert.equal(listed.approveCommand, `lifeboat approve ${ID} single-node-bootstrap --as NAME --reason "TEXT" --confirm lab-ledger`);
    // Without the key the gate is not shown in clear: it is reported as unreadable, with the reason.
    const approvalsNoKey = await cli(['approvals', '--json'], { env: { LIFEBOAT_CODEC_KEY_REF: '' } });
    const unreadable = (JSON.parse(approvalsNoKey.stdout || '{"approvals":[],"unreadable":[]}') as { approvals: unknown[]; unreadable: Array<{ workflowId: string }> });
    assert.deepEqual(unreadable.approvals, [], approvalsNoKey.stdout + approvalsNoKey.stderr);
    assert.deepEqual(unreadable.unreadable.map((u) => u.workflowId), [ID], approvalsNoKey.stdout + approvalsNoKey.stderr);
    const ok = await cli(['approve', ID, 'single-node-bootstrap', '--as', 'alice', '--reason', REASON, '--confirm', 'lab-ledger']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const done = await cli(['watch', ID]);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    const p = await progress();
    assert.equal(p.status, 'completed', JSON.stringify(p.steps.filter((s) => s.status !== 'succeeded')));
    const health = (await lab.health()).find((h) => h.cluster === 'lab-ledger');
    assert.ok(health?.healthy, JSON.stringify(health));

    // The CLI with the key reads everything: the report shows the approver, the reason, the decision.
    const report = await cli(['report', ID]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, new RegExp(REASON));
    assert.match(report.stdout, /alice/);
    assert.match(report.stdout, /node1/);

    // The raw history, as the Temporal server stores it.
    const raw = show();
    const found = scan(JSON.parse(raw), 'history', { encrypted: 0, clear: [], failureTexts: [] });
    assert.ok(found.encrypted >= 20, `encrypted payloads: ${found.encrypted}`);
    assert.deepEqual(found.clear, [], 'every payload outside search attributes is encrypted');
    assert.match(raw, /workflowPropertiesModifiedEventAttributes/, 'the memo was written (and scanned: encrypted)');
    assert.ok(found.failureTexts.length >= 1, 'the AuthFailed failure is in the history');
    for (const t of found.failureTexts) assert.ok(t === 'Encoded failure' || t === '', `failure text in clear: ${t}`);
    for (const needle of [REASON, 'key re-authorized', 'alice', '127.0.0.1', 'AuthFailed: ', 'split brain', 'SPLIT BRAIN', 'inferadb-ledger']) {
      assert.ok(!raw.includes(needle), `"${needle}" appears in clear in the raw history`);
    }

    // Without the key the CLI says what is wrong and how to fix it (no stack trace, no garbage).
    const noKey = await cli(['report', ID], { env: { LIFEBOAT_CODEC_KEY_REF: '' } });
    assert.equal(noKey.code, 2, noKey.stdout + noKey.stderr);
    assert.match(noKey.stderr, /encrypted/);
    assert.match(noKey.stderr, /fix: set LIFEBOAT_CODEC_KEY_REF/);
    assert.doesNotMatch(noKey.stderr, /\n\s+at /);
    // With another key: the key id it needs is named.
    const otherFile = path.join(keyDir, 'other.key');
    writeFileSync(otherFile, randomBytes(32).toString('hex'));
    const wrongKey = await cli(['report', ID], { env: { LIFEBOAT_CODEC_KEY_REF: `file:${otherFile}` } });
    assert.equal(wrongKey.code, 2, wrongKey.stdout + wrongKey.stderr);
    assert.match(wrongKey.stderr, new RegExp(`key id "${parseKey(keyText, 'x').id}"`));
    assert.match(wrongKey.stderr, /LIFEBOAT_CODEC_PREVIOUS_KEY_REFS/);
  });

  test('the codec server decodes the history for `temporal workflow show --codec-endpoint` (the Web UI path)', async (t) => {
    const port = await freePort();
    const token = randomBytes(16).toString('hex');
    const proc = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'lifeboat.js'), 'codec-server', '--port', String(port), '--cors-origin', 'http://127.0.0.1:8080'], {
      env: { ...stack.env, LIFEBOAT_CODEC_AUTH_REF: 'env:LIFEBOAT_TEST_CODEC_TOKEN', LIFEBOAT_TEST_CODEC_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
    proc.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const gone = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    t.after(async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await gone;
    });
    await eventually('the codec server to listen', async () => /codec server on http/.test(out), 30_000, 100);

    const decoded = show(['--codec-endpoint', `http://127.0.0.1:${port}`, '--codec-auth', `Bearer ${token}`]);
    // The CLI prints the decoded payloads in their JSON form (data in base64): read them back.
    const clear = scan(JSON.parse(decoded), 'history', { encrypted: 0, clear: [], failureTexts: [] });
    assert.equal(clear.encrypted, 0, `payloads left encrypted:\n${out}`);
    const texts = clear.clear.map((c) => c.text).join('\n');
    assert.ok(texts.includes(REASON), 'the approval reason is readable through the codec server');
    assert.match(texts, /"by":"alice"/);
    assert.match(texts, /"name":"lab-ledger"/);
    // The AuthFailed failure's message, encoded in its attributes, is readable too.
    assert.match(texts, /auth/i);
    // The wrong token is refused.
    const r = spawnSync(temporalCliPath(), ['workflow', 'show', '--workflow-id', ID, '--address', stack.address, '--output', 'json', '--codec-endpoint', `http://127.0.0.1:${port}`, '--codec-auth', 'Bearer nope'], { encoding: 'utf8', timeout: 30_000, maxBuffer: 64 * 1024 * 1024 });
    assert.ok(r.status !== 0 || scan(JSON.parse(r.stdout), 'history', { encrypted: 0, clear: [], failureTexts: [] }).clear.every((c) => !c.text.includes(REASON)), 'a wrong bearer token decodes nothing');

    // SIGTERM stops it cleanly.
    proc.kill('SIGTERM');
    assert.equal(await gone, 0, out);
  });
});
