/**
 * What went wrong on an SSH connection, in an operator's words: ssh2 and
 * socket errors mapped to {@link TransportError}s (retryable or not), with
 * anything that could be key material removed from the library's messages.
 *
 * @module
 */
import type { SshTarget } from '../../../inventory/schema';
import { TransportError } from '../errors';
import { blobType, sha256Fingerprint, type PinnedKey } from './host-keys';

/** Removes anything that could be key material or the passphrase from a library message. */
export function redact(message: string, passphrase?: string): string {
  let m = message.replace(/[A-Za-z0-9+/=]{40,}/g, '[redacted]');
  if (passphrase) m = m.split(passphrase).join('[redacted]');
  return m.replace(/-----BEGIN[\s\S]*?-----END[^-]*-----/g, '[redacted]');
}

export interface ConnContext {
  target: SshTarget;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  readyTimeoutMs: number;
  passphrase?: string;
  /** The key the server presented when it did not match the pins. */
  rejectedKey?: Buffer;
  pinned: PinnedKey[];
}

export type SshError = Error & { level?: string; code?: string };

/** Maps an ssh2 / socket error to a TransportError an operator can act on. */
export function classify(err: SshError, ctx: ConnContext): TransportError {
  const { host, port, user } = ctx.target;
  const where = `${host}:${port}`;
  const details = { host, port, user };

  if (ctx.rejectedKey) {
    const fp = sha256Fingerprint(ctx.rejectedKey);
    const type = blobType(ctx.rejectedKey) ?? 'unknown';
    const pinned = ctx.pinned.map((k) => `${k.type} ${sha256Fingerprint(k.blob)}`).join(', ');
    return new TransportError(
      'HostKeyMismatch',
      `the host key of ${where} is not the one pinned in the inventory: it presented ${type} ${fp}, pinned: ${pinned}. ` +
        `The host may have been reinstalled, or someone may be intercepting the connection. ` +
        `Verify the host out of band, then update hostKeys in the inventory (ssh-keyscan -t ${type} -p ${port} ${host}).`,
      false,
      { ...details, presentedFingerprint: fp, presentedType: type },
    );
  }
  const msg = err.message ?? String(err);
  if (err.level === 'client-authentication') {
    return new TransportError(
      'AuthFailed',
      `SSH authentication as "${user}" on ${where} was refused: the server did not accept the configured private key. ` +
        `Check that the key's public half is in ${user}'s authorized_keys on the host and that the inventory's privateKey reference names the right key.`,
      false,
      details,
    );
  }
  if (msg === 'Timed out while waiting for handshake') {
    return new TransportError(
      'ConnectTimeout',
      `no SSH session with ${where} within ${ctx.readyTimeoutMs} ms (TCP connect, handshake and authentication): the host is down, overloaded, or packets are dropped. It will be retried; check the host and its sshd if this persists.`,
      true,
      details,
    );
  }
  if (msg === 'Keepalive timeout') {
    return new TransportError(
      'KeepaliveTimeout',
      `the SSH connection to ${where} stopped answering (${ctx.keepaliveCountMax} keepalives, one every ${ctx.keepaliveIntervalMs} ms, unanswered). ` +
        `A command that was running may still be running on the host: check before re-running a step that is not idempotent.`,
      true,
      details,
    );
  }
  if (err.level === 'handshake' && /host key/i.test(msg)) {
    const types = ctx.pinned.map((k) => k.type).join(', ');
    return new TransportError(
      'HostKeyMismatch',
      `${where} offers no host key of the pinned type(s) ${types} (${redact(msg)}). Verify the host out of band, then update hostKeys in the inventory (ssh-keyscan -p ${port} ${host}).`,
      false,
      details,
    );
  }
  switch (err.code) {
    case 'ECONNREFUSED':
      return new TransportError(
        'ConnectionRefused',
        `${where} refused the SSH connection: sshd is not listening there (host rebooting, sshd stopped, or wrong port in the inventory). It will be retried.`,
        true,
        details,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return new TransportError(
        'Unreachable',
        `${where} is unreachable (${err.code}): check DNS, routing and that the host is up. It will be retried.`,
        true,
        details,
      );
    default:
      break;
  }
  if (err.level === 'client-dns') {
    return new TransportError('Unreachable', `cannot resolve ${host}: ${redact(msg)}. Check the inventory and DNS.`, true, details);
  }
  if (err.level === 'handshake' || err.level === 'protocol') {
    if (/Connection lost before handshake/.test(msg)) {
      return new TransportError(
        'ConnectionLost',
        `${where} closed the connection before the SSH handshake (sshd overloaded — MaxStartups — or a firewall). It will be retried.`,
        true,
        details,
      );
    }
    return new TransportError(
      'HandshakeFailed',
      `the SSH handshake with ${where} failed: ${redact(msg, ctx.passphrase)}. The server and Lifeboat share no algorithm or the server misbehaved; check its sshd configuration.`,
      false,
      details,
    );
  }
  return new TransportError(
    'ConnectionLost',
    `the SSH connection to ${where} was lost (${err.code ?? redact(msg, ctx.passphrase)}). A command that was running may still be running on the host; it will be retried.`,
    true,
    details,
  );
}

/** The error an aborted call rejects with (see {@link ExecOptions.signal}). */
export function abortReason(signal: AbortSignal): Error {
  if (signal.reason instanceof Error) return signal.reason;
  const err = new Error(`SSH command cancelled${signal.reason !== undefined ? `: ${String(signal.reason)}` : ''}`);
  err.name = 'AbortError';
  return err;
}
