/**
 * The SSH transport: runs {@link RemoteCommand}s on inventory hosts over
 * pooled ssh2 connections, with pinned host keys, keepalives, bounded output
 * and cancellation that really stops the remote process.
 *
 * Guarantees an activity can build on:
 * - The host must present one of the keys pinned in the inventory; any other
 *   key fails at once (`HostKeyMismatch`, non-retryable). There is no
 *   trust-on-first-use.
 * - Commands are argv arrays rendered by {@link renderScript}; nothing is
 *   string-concatenated into the remote shell.
 * - A non-zero exit status is a result ({@link ExecResult.exitCode}), not an
 *   exception; the caller decides what it means.
 * - Every failure is a {@link TransportError} whose `retryable` flag says
 *   whether trying again can help. Private keys and passphrases never appear
 *   in messages or details.
 * - On cancellation or timeout the remote command's whole process group gets
 *   SIGTERM, then SIGKILL after a short grace, before the promise settles.
 *
 * @example
 * ```ts
 * const pool = new SshPool();
 * const res = await pool.exec(
 *   { target: node.ssh, privateKey: await readSecret(node.ssh.privateKey) },
 *   { argv: ['systemctl', 'is-active', 'ledger'], ignoreExit: true },
 *   { timeoutMs: 30_000, signal: Context.current().cancellationSignal,
 *     onOutput: (tail) => Context.current().heartbeat({ tail }) },
 * );
 * if (res.exitCode !== 0) ...
 * await pool.closeAll();
 * ```
 * The pool is {@link ./pool}; host-key pinning {@link ./host-keys}, error
 * mapping {@link ./failures}, and the remote process wrapper {@link ./remote}
 * are beside it.
 *
 * @module
 */
import { createHash } from 'node:crypto';
export { SshPool } from './pool';
export { sha256Fingerprint } from './host-keys';
export { killScript } from './remote';
export type { ExecOptions, ExecResult, SshConnectOptions } from './types';
export type { RemoteCommand } from '../shell';
