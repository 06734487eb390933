/**
 * The workflow's SSHSIG verifier against OpenSSH itself: signatures made by
 * the real `ssh-keygen -Y sign` with every supported key type verify, with the
 * fingerprint `ssh-keygen -l` prints; a changed message, another namespace, a
 * short RSA key and a DSA key are refused. Security-key signatures (no token
 * here) are built by hand as a token would make them, and cross-checked with
 * `ssh-keygen -Y verify`, so the two implementations agree on the same bytes;
 * one made without a touch is refused as an answer. The allowed-signers parser reads
 * OpenSSH's format (patterns, negation, namespaces, validity) and names the
 * line of any problem.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519';
import { p256 } from '@noble/curves/nist';
import {
  canonicalStatement,
  parseAllowedSigners,
  principalsOf,
  publicKeyOf,
  signersFor,
  SignatureError,
  SignersFileError,
  STATEMENT_FORMAT,
  verifySignedRequest,
  verifySshSignature,
} from '../../src/approvals';

const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-sshsig-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const MESSAGE = '{"format":"lifeboat-signed-statement-v1","kind":"approve"}';

function keygen(name: string, args: string[]): { priv: string; pub: string; line: string } {
  const priv = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', ...args, '-N', '', '-C', name, '-f', priv]);
  return { priv, pub: `${priv}.pub`, line: readFileSync(`${priv}.pub`, 'utf8').trim() };
}

function sshSign(priv: string, message: string, ns = 'lifeboat'): string {
  return execFileSync('ssh-keygen', ['-Y', 'sign', '-n', ns, '-f', priv], { input: message, stdio: ['pipe', 'pipe', 'ignore'] }).toString();
}

function sshFingerprint(pub: string): string {
  return execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pub]).toString().split(/\s+/)[1]!;
}

/** `ssh-keygen -Y verify` of a signature by `principal` listed with `keyLine`. */
function opensshVerifies(keyLine: string, signature: string, message: string, principal = 'op'): { ok: boolean; said: string } {
  const signers = path.join(dir, `signers-${Math.random().toString(16).slice(2)}`);
  const sig = `${signers}.sig`;
  writeFileSync(signers, `${principal} ${keyLine}\n`);
  writeFileSync(sig, signature);
  const r = spawnSync('ssh-keygen', ['-Y', 'verify', '-f', signers, '-I', principal, '-n', 'lifeboat', '-s', sig], { input: message, encoding: 'utf8' });
  return { ok: r.status === 0, said: `${r.stdout}${r.stderr}`.trim() };
}

describe('SSHSIG from ssh-keygen -Y sign', () => {
  const types: Array<[string, string[]]> = [
    ['ed25519', ['-t', 'ed25519']],
    ['ecdsa-256', ['-t', 'ecdsa', '-b', '256']],
    ['ecdsa-384', ['-t', 'ecdsa', '-b', '384']],
    ['ecdsa-521', ['-t', 'ecdsa', '-b', '521']],
    ['rsa-3072', ['-t', 'rsa', '-b', '3072']],
  ];
  for (const [name, args] of types) {
    test(`${name}: verifies, with ssh-keygen's fingerprint; a changed message or another namespace is refused`, () => {
      const k = keygen(name, args);
      const sig = sshSign(k.priv, MESSAGE);
      const v = verifySshSignature(sig, MESSAGE, 'lifeboat');
      assert.equal(v.key.fingerprint, sshFingerprint(k.pub));
      assert.equal(`${v.key.type} ${v.key.base64}`, k.line.split(' ').slice(0, 2).join(' '));
      assert.throws(() => verifySshSignature(sig, `${MESSAGE} `, 'lifeboat'), (e: Error) => e instanceof SignatureError && /does not match the statement/.test(e.message));
      assert.throws(() => verifySshSignature(sshSign(k.priv, MESSAGE, 'git'), MESSAGE, 'lifeboat'), /made for namespace "git", not "lifeboat"/);
    });
  }

  test('an RSA key under 2048 bits and a DSA-style unknown type are refused with what to use instead', () => {
    const small = keygen('rsa-1024', ['-t', 'rsa', '-b', '1024']);
    assert.throws(() => verifySshSignature(sshSign(small.priv, MESSAGE), MESSAGE, 'lifeboat'), /has 1024 bits; Lifeboat accepts 2048 or more/);
    assert.throws(() => verifySshSignature('not a signature', MESSAGE, 'lifeboat'), /not an SSH signature/);
  });

  test('a tampered signature byte is refused', () => {
    const k = keygen('ed25519-tamper', ['-t', 'ed25519']);
    const sig = sshSign(k.priv, MESSAGE);
    const lines = sig.trim().split('\n');
    const body = Buffer.from(lines.slice(1, -1).join(''), 'base64');
    body[body.length - 5] = body[body.length - 5]! ^ 0x01;
    const tampered = `${lines[0]}\n${body.toString('base64')}\n${lines.at(-1)}\n`;
    assert.throws(() => verifySshSignature(tampered, MESSAGE, 'lifeboat'), SignatureError);
  });
});

/** SSH wire helpers for hand-made security-key signatures. */
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const str = (b: Buffer | string): Buffer => {
  const v = typeof b === 'string' ? Buffer.from(b) : b;
  return Buffer.concat([u32(v.length), v]);
};
const sha = (alg: string, b: Buffer): Buffer => createHash(alg).update(b).digest();
const mpint = (b: Uint8Array): Buffer => {
  let v = Buffer.from(b);
  while (v.length > 1 && v[0] === 0 && !(v[1]! & 0x80)) v = v.subarray(1);
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.of(0), v]);
  return str(v);
};

/** An SSHSIG as a FIDO token signs it: the authenticator signs sha256(app) || flags || counter || sha256(SSHSIG data). */
function skSignature(kind: 'ed25519' | 'ecdsa', flags: number, message: string): { keyLine: string; armored: string } {
  const app = 'ssh:';
  const priv = kind === 'ed25519' ? ed25519.utils.randomPrivateKey() : p256.utils.randomPrivateKey();
  const type = kind === 'ed25519' ? 'sk-ssh-ed25519@openssh.com' : 'sk-ecdsa-sha2-nistp256@openssh.com';
  const keyBlob =
    kind === 'ed25519'
      ? Buffer.concat([str(type), str(Buffer.from(ed25519.getPublicKey(priv))), str(app)])
      : Buffer.concat([str(type), str('nistp256'), str(Buffer.from(p256.getPublicKey(priv, false))), str(app)]);
  const signedData = Buffer.concat([Buffer.from('SSHSIG'), str('lifeboat'), str(''), str('sha512'), str(sha('sha512', Buffer.from(message)))]);
  const counter = u32(7);
  const tbs = Buffer.concat([sha('sha256', Buffer.from(app)), Buffer.of(flags), counter, sha('sha256', signedData)]);
  let sigValue: Buffer;
  if (kind === 'ed25519') {
    sigValue = str(Buffer.from(ed25519.sign(tbs, priv)));
  } else {
    const s = p256.sign(sha('sha256', tbs), priv, { prehash: false });
    const rs = s.toBytes('compact');
    sigValue = str(Buffer.concat([mpint(rs.slice(0, 32)), mpint(rs.slice(32))]));
  }
  const sigBlob = Buffer.concat([str(type), sigValue, Buffer.of(flags), counter]);
  const blob = Buffer.concat([Buffer.from('SSHSIG'), u32(1), str(keyBlob), str('lifeboat'), str(''), str('sha512'), str(sigBlob)]);
  const b64 = blob.toString('base64').replace(/(.{70})/g, '$1\n');
  return { keyLine: `${type} ${keyBlob.toString('base64')}`, armored: `-----BEGIN SSH SIGNATURE-----\n${b64}\n-----END SSH SIGNATURE-----\n` };
}

describe('security keys (sk-ssh-ed25519, sk-ecdsa-sha2-nistp256)', () => {
  for (const kind of ['ed25519', 'ecdsa'] as const) {
    test(`${kind}: a touched signature verifies here and in ssh-keygen -Y verify; without a touch it is flagged`, () => {
      const touched = skSignature(kind, 0x01, MESSAGE);
      const v = verifySshSignature(touched.armored, MESSAGE, 'lifeboat');
      assert.equal(v.userPresent, true);
      const o = opensshVerifies(touched.keyLine, touched.armored, MESSAGE);
      assert.ok(o.ok, `ssh-keygen refused what Lifeboat accepts: ${o.said}`);
      assert.match(o.said, new RegExp(v.key.fingerprint.replace(/[+/]/g, (c) => `\\${c}`)));
      assert.throws(() => verifySshSignature(touched.armored, `${MESSAGE}x`, 'lifeboat'), /does not match/);
      assert.equal(opensshVerifies(touched.keyLine, touched.armored, `${MESSAGE}x`).ok, false);

      // Without a touch: the signature itself is sound (OpenSSH 9.2's -Y verify accepts it), Lifeboat
      // sees that nobody touched the token and refuses it as an answer (verifySignedRequest).
      const untouched = skSignature(kind, 0x00, MESSAGE);
      assert.equal(verifySshSignature(untouched.armored, MESSAGE, 'lifeboat').userPresent, false);
      const signers = parseAllowedSigners(`op ${untouched.keyLine}\n`, 'allowed_signers');
      const statement = canonicalStatement({ format: STATEMENT_FORMAT, kind: 'approve', namespace: 'default', workflowId: 'w', cluster: 'c', principal: 'op', signedAt: '2026-12-06T00:00:00.000Z', nonce: 'n' });
      const signedUntouched = skSignature(kind, 0x00, statement);
      const policy = { mode: 'signed' as const, signers: parseAllowedSigners(`op ${signedUntouched.keyLine}\n`, 'allowed_signers') };
      assert.ok(signers.length === 1);
      assert.throws(
        () => verifySignedRequest(policy, { statement, signature: signedUntouched.armored }, { kind: 'approve', namespace: 'default', workflowId: 'w', cluster: 'c', principal: 'op' }, '2026-12-06T00:00:01.000Z'),
        /signed without being touched \(no user presence\): sign again and touch the key/,
      );
    });
  }
});

describe('allowed signers', () => {
  const k1 = keygen('as-1', ['-t', 'ed25519']).line.split(' ').slice(0, 2).join(' ');
  const k2 = keygen('as-2', ['-t', 'ed25519']).line.split(' ').slice(0, 2).join(' ');
  const key1 = publicKeyOf(...(k1.split(' ') as [string, string]));
  const key2 = publicKeyOf(...(k2.split(' ') as [string, string]));

  test('principal patterns, negation, namespaces and validity, as OpenSSH reads them', () => {
    const signers = parseAllowedSigners(
      [
        '# the on-call team',
        '',
        `"*@ops.example,!intern@ops.example" namespaces="lifeboat,git" ${k1} comment here`,
        `bob valid-after=20260101Z,valid-before=20270101Z ${k2}`,
      ].join('\n'),
      'allowed_signers',
    );
    assert.equal(signers.length, 2);
    assert.equal(signersFor(signers, key1, 'alice@ops.example', 'lifeboat', '2026-12-06T00:00:00Z').length, 1);
    assert.equal(signersFor(signers, key1, 'intern@ops.example', 'lifeboat', '2026-12-06T00:00:00Z').length, 0, 'negated');
    assert.equal(signersFor(signers, key1, 'alice@ops.example', 'ssh', '2026-12-06T00:00:00Z').length, 0, 'another namespace');
    assert.equal(signersFor(signers, key2, 'bob', 'lifeboat', '2026-12-06T00:00:00Z').length, 1);
    assert.equal(signersFor(signers, key2, 'bob', 'lifeboat', '2027-02-01T00:00:00Z').length, 0, 'expired');
    assert.equal(signersFor(signers, key2, 'alice@ops.example', 'lifeboat', '2026-12-06T00:00:00Z').length, 0, 'not his name');
    assert.deepEqual(principalsOf(signers, key2), ['bob']);
  });

  test('a bad line is named by its number; a certificate authority is refused', () => {
    assert.throws(() => parseAllowedSigners(`alice ${k1}\nbob ssh-ed25519\n`, 'allowed_signers'), (e: Error) => e instanceof SignersFileError && e.line === 2);
    assert.throws(() => parseAllowedSigners(`*@example cert-authority ${k1}\n`, 'allowed_signers'), /cert-authority/);
    // OpenSSH reads a time without Z as the verifier's local time; a recovery's record needs one meaning.
    assert.throws(() => parseAllowedSigners(`bob valid-after=20260101 ${k2}\n`, 'allowed_signers'), /is not YYYYMMDD\[HHMM\[SS\]\]Z \(Lifeboat needs the Z: UTC\)/);
  });
});
