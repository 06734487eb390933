import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TransportError } from '../../src/activities/transport/errors';
import { redact, resolveSecret } from '../../src/activities/transport/secrets';

/** Asserts a SecretUnavailable, non-retryable error and returns its message. */
async function secretFailure(ref: string): Promise<string> {
  try {
    await resolveSecret(ref);
  } catch (err) {
    assert.ok(err instanceof TransportError, `expected TransportError, got ${String(err)}`);
    assert.equal(err.type, 'SecretUnavailable');
    assert.equal(err.retryable, false);
    return err.message;
  }
  assert.fail(`resolveSecret(${ref}) should have failed`);
}

test('env: reference reads the worker environment', async (t) => {
  const name = `LIFEBOAT_TEST_SECRET_${process.pid}`;
  process.env[name] = 's3cr3t-env-value';
  t.after(() => delete process.env[name]);
  assert.equal(await resolveSecret(`env:${name}`), 's3cr3t-env-value');
});

test('missing or empty env: reference names the variable and the fix, never a value', async (t) => {
  const name = `LIFEBOAT_TEST_MISSING_${process.pid}`;
  delete process.env[name];
  const message = await secretFailure(`env:${name}`);
  assert.match(message, new RegExp(`env:${name} is not set on this worker`));
  assert.match(message, /export it/);

  process.env[name] = '';
  t.after(() => delete process.env[name]);
  assert.match(await secretFailure(`env:${name}`), /is not set/);
});

test('file: reference reads the file and trims exactly one trailing newline', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeboat-secrets-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const one = path.join(dir, 'one');
  fs.writeFileSync(one, 'file-secret-value\n');
  assert.equal(await resolveSecret(`file:${one}`), 'file-secret-value');

  const two = path.join(dir, 'two');
  fs.writeFileSync(two, 'ends-with-blank-line\n\n');
  assert.equal(await resolveSecret(`file:${two}`), 'ends-with-blank-line\n');

  const crlf = path.join(dir, 'crlf');
  fs.writeFileSync(crlf, 'windows-secret\r\n');
  assert.equal(await resolveSecret(`file:${crlf}`), 'windows-secret');

  const bare = path.join(dir, 'bare');
  fs.writeFileSync(bare, 'no-newline');
  assert.equal(await resolveSecret(`file:${bare}`), 'no-newline');
});

test('unreadable file: reference names the path and the fix, never the content', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeboat-secrets-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const missing = path.join(dir, 'absent');
  const m1 = await secretFailure(`file:${missing}`);
  assert.ok(m1.includes(missing), m1);
  assert.match(m1, /ENOENT/);
  assert.match(m1, /create it on this worker or fix the path/);

  assert.match(await secretFailure(`file:${dir}`), /not a directory/);
  assert.match(await secretFailure('file:relative/path'), /absolute path/);

  const empty = path.join(dir, 'empty');
  fs.writeFileSync(empty, '\n');
  assert.match(await secretFailure(`file:${empty}`), /is empty/);

  // Permission bits do not bind root; only check EACCES when they do.
  if (process.getuid?.() !== 0) {
    const locked = path.join(dir, 'locked');
    fs.writeFileSync(locked, 'locked-secret-content\n', { mode: 0o000 });
    const m2 = await secretFailure(`file:${locked}`);
    assert.match(m2, /EACCES/);
    assert.ok(!m2.includes('locked-secret-content'));
  }
});

test('a value that is not a reference is refused without being echoed', async () => {
  const pasted = 'ghp_PastedTokenInsteadOfReference123';
  const message = await secretFailure(pasted);
  assert.match(message, /not a secret reference/);
  assert.ok(!message.includes(pasted));

  const badEnv = await secretFailure('env:has spaces-and-token-ish-stuff');
  assert.ok(!badEnv.includes('token-ish-stuff'), badEnv);
  assert.match(badEnv, /not a valid environment variable name/);
});

test('redact replaces every occurrence of each secret, longest first, skipping short ones', () => {
  assert.equal(
    redact('token=abcd1234 again abcd1234 end', ['abcd1234']),
    'token=[redacted] again [redacted] end',
  );
  // A secret that contains another is removed whole.
  assert.equal(redact('x supersecret-long y', ['secret', 'supersecret-long']), 'x [redacted] y');
  // Empty and very short values would shred ordinary text: ignored.
  assert.equal(redact('a b c', ['', 'a', 'b c']), 'a b c');
  assert.equal(redact('nothing here', []), 'nothing here');
  // Regex metacharacters are literal.
  assert.equal(redact('p=a.b*c+d? q=aXbbc', ['a.b*c+d?']), 'p=[redacted] q=aXbbc');
});
