/**
 * Encryption of everything Lifeboat stores in Temporal: an AES-256-GCM
 * {@link PayloadCodec}. With it, workflow inputs (cluster topology, node
 * names, parameters), results, update arguments (approver, reason), query
 * results, heartbeat details, user metadata (summaries) and, through the
 * failure converter of `./failure-converter`, failure messages and stack
 * traces reach the Temporal server only as ciphertext; the server, its
 * database and its backups never see them in clear.
 *
 * Keys come from secret references (`LIFEBOAT_CODEC_KEY_REF=env:NAME` or
 * `file:/path`), 32 random bytes written as base64 or hex
 * (`openssl rand -base64 32`). Each encrypted payload names its key by a key
 * id (a fingerprint of the key, never the key) in its metadata, so keys can
 * rotate: encrypt with the current key, decrypt with any known one
 * (`LIFEBOAT_CODEC_PREVIOUS_KEY_REFS`).
 *
 * Encrypted payload:
 *
 * - `metadata.encoding` = `binary/encrypted`
 * - `metadata.encryption-cipher` = `AES256GCM`
 * - `metadata.encryption-key-id` = the key id
 * - `data` = 12-byte IV ‖ ciphertext ‖ 16-byte tag, of the original payload
 *   (its metadata and data, as JSON); the key id is authenticated data, so
 *   relabelling a payload with another key id fails too.
 *
 * Payloads that are not encrypted pass through `decode` unchanged: histories
 * written before the codec was switched on stay readable.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';

export const ENCODING_ENCRYPTED = 'binary/encrypted';
export const CIPHER = 'AES256GCM';
export const METADATA_ENCODING = 'encoding';
export const METADATA_CIPHER = 'encryption-cipher';
export const METADATA_KEY_ID = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A codec key could not be used or a payload could not be decrypted. The message never contains key material. */
export class CodecError extends Error {
  override readonly name = 'CodecError';
  constructor(
    message: string,
    /** What the operator should do next. */
    readonly fix: string,
  ) {
    super(`${message}; fix: ${fix}`);
  }
}

/** One AES-256 key and its id. */
export interface CodecKey {
  id: string;
  key: Buffer;
}

/**
 * Parses a key as configured: 32 bytes as base64 (44 characters) or hex (64
 * characters), surrounding whitespace ignored.
 *
 * @param text the secret's value
 * @param source where it came from (for the error, e.g. `LIFEBOAT_CODEC_KEY_REF=env:LIFEBOAT_CODEC_KEY`)
 * @throws {@link CodecError} naming the source, never echoing the value
 */
export function parseKey(text: string, source: string): CodecKey {
  const t = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(t)) {
    const b = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (b.length === 32) key = b;
  }
  if (!key) {
    throw new CodecError(
      `the payload codec key of ${source} is not 32 bytes written as base64 (44 characters) or hex (64 characters)`,
      'generate one with `openssl rand -base64 32` and store it where the reference points',
    );
  }
  return { id: keyId(key), key };
}

/** The public id of a key: a truncated SHA-256 fingerprint (reveals nothing usable about the key). */
export function keyId(key: Buffer): string {
  return `lb-${createHash('sha256').update('lifeboat payload codec key id\0').update(key).digest('hex').slice(0, 16)}`;
}

/**
 * AES-256-GCM payload codec with key rotation.
 *
 * @example
 * ```ts
 * const codec = new AesGcmCodec(parseKey(current, 'env:K'), [parseKey(old, 'env:K_OLD')]);
 * const [encrypted] = await codec.encode([payload]);
 * ```
 */
export class AesGcmCodec implements PayloadCodec {
  private readonly keys = new Map<string, Buffer>();

  /**
   * @param current the key new payloads are encrypted with
   * @param previous keys still accepted for decryption (rotation)
   */
  constructor(
    readonly current: CodecKey,
    previous: CodecKey[] = [],
  ) {
    for (const k of [current, ...previous]) this.keys.set(k.id, k.key);
  }

  /** The ids of every key this codec can decrypt with, the current one first. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.encrypt(p));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.decrypt(p));
  }

  /** Encrypts one payload with the current key. */
  encrypt(payload: Payload): Payload {
    const plain = enc.encode(JSON.stringify(serialize(payload)));
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(aad(this.current.id));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return {
      metadata: {
        [METADATA_ENCODING]: enc.encode(ENCODING_ENCRYPTED),
        [METADATA_CIPHER]: enc.encode(CIPHER),
        [METADATA_KEY_ID]: enc.encode(this.current.id),
      },
      data: new Uint8Array(Buffer.concat([iv, body, cipher.getAuthTag()])),
    };
  }

  /** Decrypts one payload; a payload that is not encrypted is returned as is. */
  decrypt(payload: Payload): Payload {
    const meta = payload.metadata ?? {};
    const encoding = meta[METADATA_ENCODING];
    if (!encoding || dec.decode(encoding) !== ENCODING_ENCRYPTED) return payload;
    const idBytes = meta[METADATA_KEY_ID];
    const id = idBytes ? dec.decode(idBytes) : '';
    const key = this.keys.get(id);
    if (!key) {
      throw new CodecError(
        `payload encrypted with codec key id "${id || '(none)'}", which this process does not have (it has ${this.keyIds.join(', ')})`,
        'add the key with that id to LIFEBOAT_CODEC_PREVIOUS_KEY_REFS (or LIFEBOAT_CODEC_KEY_REF) of every worker, CLI and codec server; `lifeboat codec-server --key-ids` prints the ids of the configured keys',
      );
    }
    const cipherText = meta[METADATA_CIPHER] ? dec.decode(meta[METADATA_CIPHER]) : CIPHER;
    const data = payload.data ?? new Uint8Array();
    if (cipherText !== CIPHER || data.length < IV_BYTES + TAG_BYTES) {
      throw new CodecError(`payload encrypted with key id "${id}" is malformed (cipher ${cipherText}, ${data.length} bytes)`, 'the payload was altered or written by another codec; restore it from a backup');
    }
    const buf = Buffer.from(data);
    const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, IV_BYTES));
    decipher.setAAD(aad(id));
    decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(buf.subarray(IV_BYTES, buf.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new CodecError(
        `payload encrypted with key id "${id}" failed authentication: it was altered after encryption (or its key id was relabelled)`,
        'do not trust this payload; compare the Temporal database with a backup',
      );
    }
    return deserialize(JSON.parse(dec.decode(plain)) as SerializedPayload);
  }
}

interface SerializedPayload {
  m: Record<string, string>;
  d: string;
}

function serialize(p: Payload): SerializedPayload {
  const m: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) m[k] = Buffer.from(v).toString('base64');
  return { m, d: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

function deserialize(s: SerializedPayload): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(s.m)) metadata[k] = new Uint8Array(Buffer.from(v, 'base64'));
  return { metadata, data: new Uint8Array(Buffer.from(s.d, 'base64')) };
}

function aad(id: string): Buffer {
  return Buffer.from(`lifeboat-codec/v1/${CIPHER}/${id}`, 'utf8');
}
