/**
 * OpenSSH signatures (`ssh-keygen -Y sign`, the SSHSIG format of OpenSSH's
 * PROTOCOL.sshsig) verified in pure JavaScript, deterministically, so that a
 * workflow's update validator can check an operator's signature inside the
 * workflow sandbox. Keys: Ed25519 and ECDSA on NIST P-256/384/521, and their
 * FIDO hardware-token forms (`sk-ssh-ed25519@openssh.com`,
 * `sk-ecdsa-sha2-nistp256@openssh.com`), whose user-presence flag is required
 * unless the signer's entry says `no-touch-required`. RSA keys are refused
 * with the way out (an Ed25519 key).
 *
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519';
import { p256, p384, p521 } from '@noble/curves/nist';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2';
import { concat, fromBase64, sshString, SshReader, toBase64, utf8 } from './bytes';

/** Key types whose signatures Lifeboat verifies. */
export const SUPPORTED_KEY_TYPES = [
  'ssh-ed25519',
  'sk-ssh-ed25519@openssh.com',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ecdsa-sha2-nistp256@openssh.com',
  'ssh-rsa',
] as const;

/** A public key as OpenSSH writes it: its type and the base64 of its wire blob. */
export interface SshPublicKey {
  type: string;
  /** Base64 of the key's wire blob (the second word of an `authorized_keys` line). */
  base64: string;
  /** `SHA256:<base64, unpadded>` of the blob, as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

/** A verified signature: who signed (the key embedded in the signature) and, for hardware keys, the authenticator's flags. */
export interface VerifiedSignature {
  key: SshPublicKey;
  /** FIDO keys: whether the user touched the token (user presence). */
  userPresent?: boolean;
}

/** A signature that does not verify, with the reason in an operator's words. */
export class SignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignatureError';
  }
}

const ARMOR = /-----BEGIN SSH SIGNATURE-----([\s\S]*?)-----END SSH SIGNATURE-----/;
const MAX_ARMORED = 8192;

/** `SHA256:...` of a key blob. */
export function fingerprintOf(blob: Uint8Array): string {
  return `SHA256:${toBase64(sha256(blob), false)}`;
}

/** The key of an `authorized_keys` / `.pub` line's type and base64, checked to be well formed. */
export function publicKeyOf(type: string, base64: string): SshPublicKey {
  let blob: Uint8Array;
  try {
    blob = fromBase64(base64);
  } catch {
    throw new SignatureError(`the ${type} key is not valid base64`);
  }
  const inner = new SshReader(blob, `the ${type} key`).text();
  if (inner !== type) throw new SignatureError(`the key says it is ${inner}, not ${type}`);
  return { type, base64: toBase64(blob), fingerprint: fingerprintOf(blob) };
}

/**
 * Verifies an armored SSHSIG signature of `message` under `namespace`.
 *
 * @param armored the text `ssh-keygen -Y sign` wrote (`-----BEGIN SSH SIGNATURE-----` ...)
 * @param message the exact bytes that were signed
 * @param namespace the `-n` namespace the signer used; another namespace is refused
 * @returns the signing key and, for hardware keys, whether the user was present
 * @throws {@link SignatureError} saying what is wrong (malformed, another namespace, unsupported key type, bad signature)
 */
export function verifySshSignature(armored: string, message: Uint8Array | string, namespace: string): VerifiedSignature {
  if (typeof armored !== 'string' || armored.length > MAX_ARMORED) throw new SignatureError('the signature is missing or too long');
  const m = ARMOR.exec(armored);
  if (!m) throw new SignatureError('the signature is not an SSH signature (-----BEGIN SSH SIGNATURE----- ... from `ssh-keygen -Y sign`)');
  let blob: Uint8Array;
  try {
    blob = fromBase64(m[1]!);
  } catch {
    throw new SignatureError('the SSH signature is not valid base64');
  }
  try {
    return verifyBlob(blob, typeof message === 'string' ? utf8(message) : message, namespace);
  } catch (err) {
    if (err instanceof SignatureError) throw err;
    throw new SignatureError(`the SSH signature is malformed: ${(err as Error).message}`);
  }
}

function verifyBlob(blob: Uint8Array, message: Uint8Array, namespace: string): VerifiedSignature {
  const r = new SshReader(blob, 'the SSH signature');
  const magic = r.bytes(6);
  if (String.fromCharCode(...magic) !== 'SSHSIG') throw new SignatureError('the signature does not start with SSHSIG');
  const version = r.uint32();
  if (version !== 1) throw new SignatureError(`SSHSIG version ${version} is not supported (1 is)`);
  const keyBlob = r.string();
  const ns = decodeAscii(r.string());
  const reserved = r.string();
  const hashAlg = decodeAscii(r.string());
  const sigBlob = r.string();
  if (!r.done) throw new SignatureError('the SSH signature has trailing bytes');
  if (ns !== namespace) throw new SignatureError(`the signature was made for namespace "${ns}", not "${namespace}" (sign with -n ${namespace})`);
  const h = hashAlg === 'sha512' ? sha512 : hashAlg === 'sha256' ? sha256 : undefined;
  if (!h) throw new SignatureError(`the signature's hash algorithm "${hashAlg}" is not sha256 or sha512`);
  const signed = concat(utf8('SSHSIG'), sshString(ns), sshString(reserved), sshString(hashAlg), sshString(h(message)));

  const kr = new SshReader(keyBlob, 'the signing key');
  const keyType = kr.text();
  const key: SshPublicKey = { type: keyType, base64: toBase64(keyBlob), fingerprint: fingerprintOf(keyBlob) };
  const sr = new SshReader(sigBlob, 'the signature value');
  const sigType = sr.text();

  if (keyType === 'ssh-ed25519' || keyType === 'sk-ssh-ed25519@openssh.com') {
    const pk = kr.string();
    const application = keyType.startsWith('sk-') ? kr.string() : undefined;
    if (sigType !== keyType) throw new SignatureError(`a ${keyType} key made a ${sigType} signature`);
    const sig = sr.string();
    if (pk.length !== 32 || sig.length !== 64) throw new SignatureError('the Ed25519 key or signature has the wrong length');
    let data = signed;
    let userPresent: boolean | undefined;
    if (application) {
      const flags = sr.byte();
      const counter = sr.bytes(4);
      userPresent = (flags & 0x01) !== 0;
      data = concat(sha256(application), Uint8Array.of(flags), counter, sha256(signed));
    }
    if (!sr.done || !kr.done) throw new SignatureError('the key or signature has trailing bytes');
    if (!ed25519.verify(sig, data, pk)) throw new SignatureError(`the signature does not match the statement (key ${key.fingerprint})`);
    return { key, ...(userPresent === undefined ? {} : { userPresent }) };
  }

  const ecdsa = /^(sk-)?ecdsa-sha2-(nistp256|nistp384|nistp521)(@openssh\.com)?$/.exec(keyType);
  if (ecdsa && (!ecdsa[1] || ecdsa[2] === 'nistp256')) {
    const curveName = decodeAscii(kr.string());
    const q = kr.string();
    const application = ecdsa[1] ? kr.string() : undefined;
    if (curveName !== ecdsa[2]) throw new SignatureError(`the ${keyType} key names curve ${curveName}`);
    if (sigType !== keyType) throw new SignatureError(`a ${keyType} key made a ${sigType} signature`);
    const inner = new SshReader(sr.string(), 'the ECDSA signature');
    const rr = mpint(inner.string());
    const ss = mpint(inner.string());
    const [curve, hash] = curveName === 'nistp256' ? [p256, sha256] : curveName === 'nistp384' ? [p384, sha384] : [p521, sha512];
    let data = signed;
    let userPresent: boolean | undefined;
    if (application) {
      const flags = sr.byte();
      const counter = sr.bytes(4);
      userPresent = (flags & 0x01) !== 0;
      data = concat(sha256(application), Uint8Array.of(flags), counter, sha256(signed));
    }
    if (!sr.done || !kr.done || !inner.done) throw new SignatureError('the key or signature has trailing bytes');
    let ok = false;
    try {
      ok = curve.verify(new curve.Signature(rr, ss).toBytes('compact'), hash(data), q, { lowS: false, prehash: false });
    } catch {
      ok = false;
    }
    if (!ok) throw new SignatureError(`the signature does not match the statement (key ${key.fingerprint})`);
    return { key, ...(userPresent === undefined ? {} : { userPresent }) };
  }
  if (keyType === 'ssh-rsa') {
    const e = mpint(kr.string());
    const nBytes = kr.string();
    const n = mpint(nBytes);
    if (!kr.done) throw new SignatureError('the RSA key has trailing bytes');
    const bits = n.toString(2).length;
    if (bits < 2048) throw new SignatureError(`the RSA key has ${bits} bits; Lifeboat accepts 2048 or more: use an Ed25519 key (ssh-keygen -t ed25519)`);
    if (sigType !== 'rsa-sha2-512' && sigType !== 'rsa-sha2-256') {
      throw new SignatureError(`RSA signatures with ${sigType} (SHA-1) are refused: sign with a current ssh-keygen (rsa-sha2-512)`);
    }
    const sig = sr.string();
    if (!sr.done) throw new SignatureError('the RSA signature has trailing bytes');
    const [hash, info] = sigType === 'rsa-sha2-512' ? [sha512, SHA512_INFO] : [sha256, SHA256_INFO];
    if (!rsaPkcs1Verify(n, e, sig, concat(info, hash(signed)))) throw new SignatureError(`the signature does not match the statement (key ${key.fingerprint})`);
    return { key };
  }
  throw new SignatureError(
    `keys of type ${keyType} are not supported (Lifeboat verifies ${SUPPORTED_KEY_TYPES.join(', ')}): sign with an Ed25519 key (ssh-keygen -t ed25519, or -t ed25519-sk on a hardware token)`,
  );
}

function decodeAscii(b: Uint8Array): string {
  let s = '';
  for (const c of b) {
    if (c < 0x20 || c > 0x7e) throw new SignatureError('the SSH signature holds a name that is not printable ASCII');
    s += String.fromCharCode(c);
  }
  return s;
}

/** DER DigestInfo prefixes of EMSA-PKCS1-v1_5 (RFC 8017 §9.2). */
const SHA256_INFO = Uint8Array.from([0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20]);
const SHA512_INFO = Uint8Array.from([0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40]);

/** RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2): s^e mod n must be exactly 00 01 FF..FF 00 || DigestInfo || H. */
function rsaPkcs1Verify(n: bigint, e: bigint, sig: Uint8Array, digestInfo: Uint8Array): boolean {
  const k = Math.ceil(n.toString(16).length / 2);
  if (sig.length !== k) return false;
  const s = mpintUnsigned(sig);
  if (s >= n) return false;
  let m = 1n;
  let base = s % n;
  for (let x = e; x > 0n; x >>= 1n) {
    if (x & 1n) m = (m * base) % n;
    base = (base * base) % n;
  }
  const em = new Uint8Array(k);
  for (let i = k - 1, v = m; i >= 0; i--, v >>= 8n) em[i] = Number(v & 0xffn);
  const padLen = k - 3 - digestInfo.length;
  if (padLen < 8 || em[0] !== 0 || em[1] !== 1 || em[2 + padLen] !== 0) return false;
  for (let i = 2; i < 2 + padLen; i++) if (em[i] !== 0xff) return false;
  let diff = 0;
  for (let i = 0; i < digestInfo.length; i++) diff |= em[3 + padLen + i]! ^ digestInfo[i]!;
  return diff === 0;
}

function mpintUnsigned(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

/** An SSH mpint (two's complement, big-endian) that must be positive. */
function mpint(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  if (b[0]! & 0x80) throw new SignatureError('the ECDSA signature holds a negative number');
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}
