/**
 * The AES-256-GCM payload codec (src/codec): round trip, tamper detection,
 * unknown key ids, rotation, key parsing without echoing the key, the
 * failure converter that encodes messages and stack traces, the
 * configuration, and the codec server's HTTP protocol (decode, encode, CORS,
 * bearer auth, limits).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { AesGcmCodec, CodecError, keyId, loadCodec, parseKey } from '../../src/codec';
import { failureConverter } from '../../src/codec/failure-converter';
import { createCodecServer, fromJson, MAX_BODY_BYTES, toJson } from '../../src/codec/server';
import { ConfigError, loadConfig } from '../../src/config';
import { main } from '../../src/cli/main';

const SECRET_TEXT = 'cluster ledger-prod-eu, survivor node1, token hunter2-very-secret';

function newKey(): { text: string; key: ReturnType<typeof parseKey> } {
  const text = randomBytes(32).toString('base64');
  return { text, key: parseKey(text, 'test') };
}

function payloadOf(value: unknown): Payload {
  return defaultPayloadConverter.toPayload(value);
}

function valueOf(p: Payload): unknown {
  return defaultPayloadConverter.fromPayload(p);
}

function text(p: Payload): string {
  return Buffer.concat([...Object.values(p.metadata ?? {}).map((v) => Buffer.from(v)), Buffer.from(p.data ?? new Uint8Array())]).toString('latin1');
}

describe('AesGcmCodec', () => {
  test('round trip: every payload encrypted with the current key id, and decrypted back exactly', async () => {
    const { key } = newKey();
    const codec = new AesGcmCodec(key);
    const inputs = [payloadOf({ cluster: 'ledger-prod-eu', note: SECRET_TEXT }), payloadOf('plain string'), payloadOf(undefined), payloadOf(null), { metadata: { encoding: new TextEncoder().encode('binary/plain') }, data: new Uint8Array([0, 1, 2, 255]) }];
    const encrypted = await codec.encode(inputs);
    assert.equal(encrypted.length, inputs.length);
    for (const e of encrypted) {
      assert.equal(new TextDecoder().decode(e.metadata!.encoding), 'binary/encrypted');
      assert.equal(new TextDecoder().decode(e.metadata!['encryption-key-id']), key.id);
      assert.equal(new TextDecoder().decode(e.metadata!['encryption-cipher']), 'AES256GCM');
      assert.ok(!text(e).includes('ledger-prod-eu'), 'no plaintext in the encrypted payload');
      assert.ok(!text(e).includes('json/plain'), 'the original encoding is encrypted too');
    }
    const decoded = await codec.decode(encrypted);
    assert.deepEqual(decoded.map((p) => Buffer.from(p.data ?? new Uint8Array()).toString('hex')), inputs.map((p) => Buffer.from(p.data ?? new Uint8Array()).toString('hex')));
    assert.deepEqual(valueOf(decoded[0]!), { cluster: 'ledger-prod-eu', note: SECRET_TEXT });
    assert.equal(valueOf(decoded[1]!), 'plain string');
    // Fresh IV each time: the same value never encrypts to the same bytes.
    const [a, b] = await codec.encode([payloadOf('x'), payloadOf('x')]);
    assert.notDeepEqual(Buffer.from(a!.data!), Buffer.from(b!.data!));
  });

  test('tamper detection: a flipped bit in the ciphertext, IV or tag, or a truncated payload, is refused', async () => {
    const { key } = newKey();
    const codec = new AesGcmCodec(key);
    const [e] = await codec.encode([payloadOf({ approve: 'single-node-bootstrap', by: 'alice' })]);
    for (const at of [0, 12, e!.data!.length - 20, e!.data!.length - 1]) {
      const data = new Uint8Array(e!.data!);
      data[at] = data[at]! ^ 0x01;
      await assert.rejects(codec.decode([{ ...e!, data }]), (err: Error) => {
        assert.ok(err instanceof CodecError);
        assert.match(err.message, new RegExp(`key id "${key.id}" failed authentication: it was altered`));
        return true;
      });
    }
    await assert.rejects(codec.decode([{ ...e!, data: e!.data!.slice(0, 10) }]), /malformed/);
  });

  test('relabelling a payload with another known key id fails authentication (the key id is authenticated)', async () => {
    const k1 = newKey().key;
    const k2 = newKey().key;
    const codec = new AesGcmCodec(k1, [k2]);
    const [e] = await codec.encode([payloadOf('x')]);
    const relabelled = { ...e!, metadata: { ...e!.metadata, 'encryption-key-id': new TextEncoder().encode(k2.id) } };
    await assert.rejects(codec.decode([relabelled]), /failed authentication/);
  });

  test('unknown key id: the error names the id, the ids this process has, and the fix', async () => {
    const old = newKey().key;
    const [e] = await new AesGcmCodec(old).encode([payloadOf('from before the rotation')]);
    const current = newKey().key;
    await assert.rejects(new AesGcmCodec(current).decode([e!]), (err: Error) => {
      assert.ok(err instanceof CodecError);
      assert.match(err.message, new RegExp(`codec key id "${old.id}", which this process does not have \\(it has ${current.id}\\)`));
      assert.match(err.message, /fix: add the key with that id to LIFEBOAT_CODEC_PREVIOUS_KEY_REFS/);
      return true;
    });
  });

  test('rotation: encrypt with the current key, decrypt what older keys wrote', async () => {
    const old = newKey().key;
    const current = newKey().key;
    const [before] = await new AesGcmCodec(old).encode([payloadOf({ written: 'before' })]);
    const rotated = new AesGcmCodec(current, [old]);
    assert.deepEqual(rotated.keyIds, [current.id, old.id]);
    assert.deepEqual(valueOf((await rotated.decode([before!]))[0]!), { written: 'before' });
    const [after] = await rotated.encode([payloadOf({ written: 'after' })]);
    assert.equal(new TextDecoder().decode(after!.metadata!['encryption-key-id']), current.id);
    // The old key alone can no longer read the new payloads.
    await assert.rejects(new AesGcmCodec(old).decode([after!]), /does not have/);
  });

  test('unencrypted payloads (histories from before the codec) pass through decode unchanged', async () => {
    const codec = new AesGcmCodec(newKey().key);
    const p = payloadOf({ old: true });
    const [d] = await codec.decode([p]);
    assert.deepEqual(valueOf(d!), { old: true });
  });

  test('keys: 32 bytes as base64, base64url or hex; anything else refused without echoing it; ids are stable fingerprints', () => {
    const raw = randomBytes(32);
    const a = parseKey(raw.toString('base64'), 'x');
    const b = parseKey(`  ${raw.toString('hex')}\n`, 'x');
    const c = parseKey(raw.toString('base64url'), 'x');
    assert.equal(a.id, b.id);
    assert.equal(a.id, c.id);
    assert.equal(a.id, keyId(raw));
    assert.match(a.id, /^lb-[0-9a-f]{16}$/);
    assert.ok(!a.id.includes(raw.toString('hex').slice(0, 8)));
    for (const bad of ['hunter2-not-a-key', randomBytes(16).toString('base64'), randomBytes(31).toString('hex'), '']) {
      assert.throws(() => parseKey(bad, 'LIFEBOAT_CODEC_KEY_REF=env:K'), (err: Error) => {
        assert.ok(err instanceof CodecError);
        assert.match(err.message, /LIFEBOAT_CODEC_KEY_REF=env:K is not 32 bytes/);
        assert.match(err.message, /openssl rand -base64 32/);
        if (bad) assert.ok(!err.message.includes(bad), 'the key text is never echoed');
        return true;
      });
    }
  });
});

describe('failure converter (encodeCommonAttributes)', () => {
  test('failure messages and stack traces leave the plain fields and are encrypted with the payloads', async () => {
    const codec = new AesGcmCodec(newKey().key);
    const err = ApplicationFailure.nonRetryable(`ssh to node1 of ${SECRET_TEXT} refused`, 'AuthFailed');
    const failure = failureConverter.errorToFailure(err, defaultPayloadConverter);
    assert.equal(failure.message, 'Encoded failure');
    assert.equal(failure.stackTrace, '');
    assert.ok(failure.encodedAttributes);
    const [encrypted] = await codec.encode([failure.encodedAttributes!]);
    assert.ok(!text(encrypted!).includes('node1'));
    const [decrypted] = await codec.decode([encrypted!]);
    const back = failureConverter.failureToError({ ...failure, encodedAttributes: decrypted }, defaultPayloadConverter);
    assert.match(back.message, /ssh to node1 of cluster ledger-prod-eu/);
    assert.equal((back as ApplicationFailure).type, 'AuthFailed');
  });
});

describe('configuration', () => {
  test('off by default; on with a reference; the key itself in the variable is refused without echoing it', () => {
    assert.equal(loadConfig({}, '/tmp').codec, undefined);
    assert.deepEqual(loadConfig({ LIFEBOAT_CODEC_KEY_REF: 'env:K', LIFEBOAT_CODEC_PREVIOUS_KEY_REFS: 'file:/k/old1, env:OLD2' }, '/tmp').codec, {
      keyRef: 'env:K',
      previousKeyRefs: ['file:/k/old1', 'env:OLD2'],
    });
    const pasted = randomBytes(32).toString('base64');
    assert.throws(() => loadConfig({ LIFEBOAT_CODEC_KEY_REF: pasted }, '/tmp'), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /LIFEBOAT_CODEC_KEY_REF must hold references/);
      assert.ok(!err.message.includes(pasted) && !err.fix.includes(pasted));
      return true;
    });
    assert.throws(() => loadConfig({ LIFEBOAT_CODEC_PREVIOUS_KEY_REFS: 'env:OLD' }, '/tmp'), /LIFEBOAT_CODEC_KEY_REF is not/);
  });

  test('loadCodec resolves env: and file: references; a missing or malformed key is a ConfigError naming the variable', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-codec-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const cur = newKey();
    const old = newKey();
    writeFileSync(path.join(dir, 'old.key'), `${old.text}\n`);
    const name = `LIFEBOAT_TEST_CODEC_${process.pid}`;
    process.env[name] = cur.text;
    t.after(() => delete process.env[name]);
    const codec = await loadCodec({ codec: { keyRef: `env:${name}`, previousKeyRefs: [`file:${path.join(dir, 'old.key')}`] } });
    assert.deepEqual(codec?.keyIds, [cur.key.id, old.key.id]);
    assert.equal(await loadCodec({}), undefined);
    await assert.rejects(loadCodec({ codec: { keyRef: `env:${name}_MISSING`, previousKeyRefs: [] } }), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /cannot resolve LIFEBOAT_CODEC_KEY_REF/);
      return true;
    });
    writeFileSync(path.join(dir, 'bad.key'), 'not-a-key-at-all');
    await assert.rejects(loadCodec({ codec: { keyRef: `env:${name}`, previousKeyRefs: [`file:${path.join(dir, 'bad.key')}`] } }), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /LIFEBOAT_CODEC_PREVIOUS_KEY_REFS=file:.*bad\.key is not 32 bytes/);
      assert.ok(!err.message.includes('not-a-key-at-all'));
      return true;
    });
  });

  test('`lifeboat codec-server` without a key exits 2 naming the variable; --key-ids prints the ids', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = (env: NodeJS.ProcessEnv) => ({ out: (s: string) => void out.push(s), err: (s: string) => void err.push(s), isTTY: false, env, cwd: tmpdir() });
    assert.equal(await main(['codec-server'], io({})), 2);
    assert.match(err.join(''), /LIFEBOAT_CODEC_KEY_REF is not set/);
    const k = newKey();
    const name = `LIFEBOAT_TEST_CODEC_IDS_${process.pid}`;
    process.env[name] = k.text;
    try {
      assert.equal(await main(['codec-server', '--key-ids'], io({ LIFEBOAT_CODEC_KEY_REF: `env:${name}` })), 0);
    } finally {
      delete process.env[name];
    }
    assert.match(out.join(''), new RegExp(`current key: ${k.key.id}`));
    assert.ok(!out.join('').includes(k.text));
  });
});

describe('codec server', () => {
  async function serve(t: { after(fn: () => unknown): void }, opts: { authToken?: string; corsOrigins?: string[] } = {}) {
    const codec = new AesGcmCodec(newKey().key);
    const server = createCodecServer({ codec, corsOrigins: opts.corsOrigins ?? ['http://127.0.0.1:8080'], authToken: opts.authToken });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    t.after(() => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { codec, base };
  }

  test('POST /decode returns the clear payloads in the proto JSON form; POST /encode encrypts', async (t) => {
    const { codec, base } = await serve(t);
    const encrypted = await codec.encode([payloadOf({ cluster: 'ledger-prod-eu' })]);
    const res = await fetch(`${base}/decode`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default' }, body: JSON.stringify({ payloads: encrypted.map(toJson) }) });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    assert.equal(Buffer.from(body.payloads[0]!.metadata.encoding!, 'base64').toString(), 'json/plain');
    assert.deepEqual(JSON.parse(Buffer.from(body.payloads[0]!.data, 'base64').toString()), { cluster: 'ledger-prod-eu' });

    const enc = await fetch(`${base}/encode`, { method: 'POST', body: JSON.stringify({ payloads: [toJson(payloadOf('hello'))] }) });
    assert.equal(enc.status, 200);
    const encBody = (await enc.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
    const back = await codec.decode(encBody.payloads.map(fromJson));
    assert.equal(valueOf(back[0]!), 'hello');
  });

  test('CORS: the Web UI origin is allowed (preflight and response), other origins get no CORS headers', async (t) => {
    const { base } = await serve(t);
    const pre = await fetch(`${base}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://127.0.0.1:8080', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' } });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://127.0.0.1:8080');
    assert.equal(pre.headers.get('access-control-allow-credentials'), 'true');
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /X-Namespace/);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    const other = await fetch(`${base}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://evil.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  test('bearer auth: missing 401, wrong 403, right 200', async (t) => {
    const { base } = await serve(t, { authToken: 'codec-token-123' });
    const body = JSON.stringify({ payloads: [] });
    assert.equal((await fetch(`${base}/decode`, { method: 'POST', body })).status, 401);
    assert.equal((await fetch(`${base}/decode`, { method: 'POST', body, headers: { Authorization: 'Bearer nope' } })).status, 403);
    const ok = await fetch(`${base}/decode`, { method: 'POST', body, headers: { Authorization: 'Bearer codec-token-123' } });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { payloads: [] });
  });

  test('bad requests: unknown path 404, GET 405, not JSON 400, no payloads 400, foreign key 400 with the key id, oversized 413', async (t) => {
    const { base } = await serve(t);
    assert.equal((await fetch(`${base}/nope`, { method: 'POST', body: '{}' })).status, 404);
    assert.equal((await fetch(`${base}/decode`)).status, 405);
    const notJson = await fetch(`${base}/decode`, { method: 'POST', body: 'payloads please' });
    assert.equal(notJson.status, 400);
    assert.match(((await notJson.json()) as { error: string }).error, /not JSON/);
    assert.equal((await fetch(`${base}/decode`, { method: 'POST', body: '{"x":1}' })).status, 400);
    const foreign = await new AesGcmCodec(newKey().key).encode([payloadOf('x')]);
    const res = await fetch(`${base}/decode`, { method: 'POST', body: JSON.stringify({ payloads: foreign.map(toJson) }) });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /does not have/);
    const big = await fetch(`${base}/decode`, { method: 'POST', body: 'x'.repeat(MAX_BODY_BYTES + 10) });
    assert.equal(big.status, 413);
  });
});
