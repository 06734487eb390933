/**
 * What the SSH transport takes and gives: how to reach one host, the options
 * of one call, and what a remote command did.
 *
 * @module
 */
import type { SshTarget } from '../../../inventory/schema';

/** How to reach and authenticate to one host. */
export interface SshConnectOptions {
  target: SshTarget;
  /** The resolved private key (OpenSSH or PEM). Never logged, never in an error. */
  privateKey: string | Buffer;
  /** The resolved passphrase of an encrypted key. */
  passphrase?: string;
  /** TCP connect + SSH handshake + auth must finish within this. Default 10 000 ms. */
  readyTimeoutMs?: number;
  /** Interval between SSH-level keepalives. Default 5 000 ms. */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives tolerated before the connection is declared dead. Default 3. */
  keepaliveCountMax?: number;
}

/** Per-call options of {@link SshPool.exec}. */
export interface ExecOptions {
  /**
   * Limit for the command itself, counted from the moment its channel opens
   * (connecting is bounded separately by `readyTimeoutMs`). When it expires
   * the remote process group is killed and the call fails with a retryable
   * `Timeout`.
   */
  timeoutMs: number;
  /**
   * Aborting kills the remote process group, then rejects with
   * `signal.reason` when that is an Error (Temporal's `CancelledFailure` for an
   * activity's `cancellationSignal`, the `AbortError` DOMException of a plain
   * `AbortController.abort()`), otherwise with an Error named `AbortError`.
   */
  signal?: AbortSignal;
  /** Called at most once a second with the bounded tail of stdout and stderr interleaved (for heartbeats). */
  onOutput?: (tail: string) => void;
  /** Upper bound, in bytes, of each returned tail (and of the `onOutput` tail). Default 16 384, minimum 1 024. */
  tailBytes?: number;
  /** Written to the command's standard input, which is then closed. Without it stdin is closed at once. */
  stdin?: string;
}

/** What a remote command did. */
export interface ExecResult {
  /**
   * Exit status of the script. A command killed by a signal usually shows as
   * 128 + the signal number (143 for TERM), as in any shell, because it runs
   * in a subshell; null only when the remote shell itself was killed.
   */
  exitCode: number | null;
  /** Signal name (e.g. "KILL") when the remote shell itself was ended by a signal. */
  signal?: string;
  /** Bounded tail of standard output (at most `tailBytes` bytes). */
  stdout: string;
  /** Bounded tail of standard error (at most `tailBytes` bytes). */
  stderr: string;
  /** Wall time of the call, connection set-up included. */
  durationMs: number;
}
