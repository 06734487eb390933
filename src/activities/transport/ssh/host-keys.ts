/**
 * Host-key pinning: the inventory's pinned keys parsed, their SHA-256
 * fingerprints, and the algorithms to offer so the server presents a pinned
 * key. There is no trust-on-first-use.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { ServerHostKeyAlgorithm } from 'ssh2';
import type { SshTarget } from '../../../inventory/schema';
import { TransportError } from '../errors';

export interface PinnedKey {
  type: string;
  blob: Buffer;
}

/** "SHA256:..." as printed by `ssh-keygen -l` and by sshd's logs. */
export function sha256Fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type written inside an SSH public key blob (its first string). */
export function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len > 64 || blob.length < 4 + len) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

export function parsePinned(target: SshTarget): PinnedKey[] {
  const where = `${target.host}:${target.port}`;
  if (!Array.isArray(target.hostKeys) || target.hostKeys.length === 0) {
    throw new TransportError(
      'BadInventory',
      `no host key is pinned for ${where}; add its key to hostKeys in the inventory (ssh-keyscan -t ed25519 -p ${target.port} ${target.host}, verified out of band)`,
      false,
    );
  }
  return target.hostKeys.map((line, i) => {
    const [type, b64] = line.trim().split(/\s+/);
    const blob = b64 && /^[A-Za-z0-9+/]+=*$/.test(b64) ? Buffer.from(b64, 'base64') : undefined;
    if (!type || !blob || blobType(blob) !== type) {
      throw new TransportError(
        'BadInventory',
        `hostKeys[${i}] for ${where} is not an OpenSSH public key line like "ssh-ed25519 AAAAC3..." (as printed by ssh-keyscan)`,
        false,
      );
    }
    return { type, blob };
  });
}

/** Host key algorithms to offer so the server presents a key of a pinned type. */
export function hostKeyAlgorithms(pinned: PinnedKey[]): ServerHostKeyAlgorithm[] {
  const algos = new Set<ServerHostKeyAlgorithm>();
  for (const k of pinned) {
    if (k.type === 'ssh-rsa') (['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] as const).forEach((a) => algos.add(a));
    else algos.add(k.type as ServerHostKeyAlgorithm);
  }
  return [...algos];
}

// -------------------------------------------------------------- errors ----
