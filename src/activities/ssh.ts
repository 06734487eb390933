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
 * @module
 */
import { createHash } from 'node:crypto';
import { Client, type ClientChannel, type ConnectConfig, type ServerHostKeyAlgorithm } from 'ssh2';
import type { SshTarget } from '../inventory/schema';
import { TransportError } from './errors';
import { quoteShellArg, renderScript, type RemoteCommand } from './shell';
import { Tail } from './tail';

export type { RemoteCommand } from './shell';

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

/** The first line the wrapper prints on stderr: the remote shell's pid, which is also its process group. */
const PID_MARKER = '__LB_PID=';
const PID_MARKER_RE = /(^|\n)__LB_PID=(\d+)\n/;
/** Stop looking for the marker after this many bytes of stderr (a chatty login script ran first). */
const PID_MARKER_SEARCH_BYTES = 64 * 1024;
/** How long a cancel waits for the channel to open and report its pid before giving up on the group kill. */
const PID_WAIT_MS = 3_000;
/** Grace between TERM and KILL for the remote process group. */
const KILL_GRACE_STEPS = 20; // × 0.1 s
/** Upper bound for the kill command's own round trip. */
const KILL_EXEC_TIMEOUT_MS = 5_000;
/** Room for the "[…N earlier bytes dropped]" marker and partial UTF-8 characters, so tails stay under tailBytes. */
const TAIL_MARKER_RESERVE = 64;
const MIN_TAIL_BYTES = 1024;

/**
 * Wraps the script so the remote side reports its pid before anything else.
 * sshd runs each session's command in a new session (setsid), so that pid is
 * also the process group of everything the script starts; `exec` keeps it.
 */
function wrap(script: string): string {
  return `echo "${PID_MARKER}$$" >&2; exec sh -c ${quoteShellArg(script)}`;
}

/**
 * TERM the process group, wait up to 2 s for it to go, then KILL. Written as
 * `kill -SIG -PGID` (no `--`): dash, Debian's and Ubuntu's /bin/sh (and so the
 * shell of many service accounts), rejects `kill -TERM -- -PGID` ("Illegal
 * number"), and the fallback would then signal the leader alone, leaving its
 * children running; bash, ash and zsh accept both forms.
 */
export function killScript(pid: number): string {
  const p = String(pid);
  return [
    `kill -TERM -${p} 2>/dev/null || kill -TERM ${p} 2>/dev/null`,
    `i=0; while [ "$i" -lt ${KILL_GRACE_STEPS} ] && kill -0 -${p} 2>/dev/null; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done`,
    `kill -KILL -${p} 2>/dev/null; kill -KILL ${p} 2>/dev/null; exit 0`,
  ].join('; ');
}

// ----------------------------------------------------------- host keys ----

interface PinnedKey {
  type: string;
  blob: Buffer;
}

/** "SHA256:..." as printed by `ssh-keygen -l` and by sshd's logs. */
export function sha256Fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type written inside an SSH public key blob (its first string). */
function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len > 64 || blob.length < 4 + len) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

function parsePinned(target: SshTarget): PinnedKey[] {
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
function hostKeyAlgorithms(pinned: PinnedKey[]): ServerHostKeyAlgorithm[] {
  const algos = new Set<ServerHostKeyAlgorithm>();
  for (const k of pinned) {
    if (k.type === 'ssh-rsa') (['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] as const).forEach((a) => algos.add(a));
    else algos.add(k.type as ServerHostKeyAlgorithm);
  }
  return [...algos];
}

// -------------------------------------------------------------- errors ----

/** Removes anything that could be key material or the passphrase from a library message. */
function redact(message: string, passphrase?: string): string {
  let m = message.replace(/[A-Za-z0-9+/=]{40,}/g, '[redacted]');
  if (passphrase) m = m.split(passphrase).join('[redacted]');
  return m.replace(/-----BEGIN[\s\S]*?-----END[^-]*-----/g, '[redacted]');
}

interface ConnContext {
  target: SshTarget;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  readyTimeoutMs: number;
  passphrase?: string;
  /** The key the server presented when it did not match the pins. */
  rejectedKey?: Buffer;
  pinned: PinnedKey[];
}

type SshError = Error & { level?: string; code?: string };

/** Maps an ssh2 / socket error to a TransportError an operator can act on. */
function classify(err: SshError, ctx: ConnContext): TransportError {
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
function abortReason(signal: AbortSignal): Error {
  if (signal.reason instanceof Error) return signal.reason;
  const err = new Error(`SSH command cancelled${signal.reason !== undefined ? `: ${String(signal.reason)}` : ''}`);
  err.name = 'AbortError';
  return err;
}

// ---------------------------------------------------------------- pool ----

interface Conn {
  key: string;
  client: Client;
  ctx: ConnContext;
  ready: Promise<void>;
  isReady: boolean;
  active: number;
  idleTimer?: NodeJS.Timeout;
  closed: boolean;
  /** The client emitted 'close' (its socket is gone). */
  ended: boolean;
  /** Running execs to fail when the connection dies under them. */
  onLost: Set<(err: TransportError) => void>;
}

function connKey(opts: SshConnectOptions): string {
  const t = opts.target;
  const keys = [...t.hostKeys].map((k) => k.trim().split(/\s+/).slice(0, 2).join(' ')).sort();
  // A digest, so a rotated key in the inventory gets a new connection; the key itself is never kept in the map.
  const secret = createHash('sha256')
    .update(typeof opts.privateKey === 'string' ? opts.privateKey : opts.privateKey.toString('utf8'))
    .update('\0')
    .update(opts.passphrase ?? '')
    .digest('hex');
  return JSON.stringify([t.host, t.port, t.user, keys, secret]);
}

/**
 * A pool of SSH connections for one worker: one ssh2 connection per
 * (host, port, user, pinned keys, credentials), shared by concurrent and
 * successive {@link SshPool.exec} calls, closed after `idleMs` without use
 * and dropped as soon as it fails (the next exec reconnects).
 */
export class SshPool {
  private readonly conns = new Map<string, Conn>();
  private readonly idleMs: number;
  private connectsTotal = 0;

  /** @param opts.idleMs - close a connection unused for this long (default 60 000 ms). */
  constructor(opts: { idleMs?: number } = {}) {
    this.idleMs = opts.idleMs ?? 60_000;
  }

  /** Number of connections opened so far (including failed attempts). For tests and metrics. */
  get connects(): number {
    return this.connectsTotal;
  }

  /** Number of connections currently in the pool. */
  get size(): number {
    return this.conns.size;
  }

  /**
   * Runs commands on a host as one POSIX `sh` script.
   *
   * @param conn - the host and credentials.
   * @param cmds - one command or a sequence (see {@link renderScript}).
   * @param opts - timeout, cancellation, output streaming.
   * @returns exit status and bounded output tails; a non-zero exit is returned, not thrown.
   * @throws TransportError `InvalidArgument`, `BadInventory`, `SecretUnavailable`,
   *   `HostKeyMismatch`, `AuthFailed`, `HandshakeFailed` (non-retryable);
   *   `ConnectTimeout`, `ConnectionRefused`, `Unreachable`, `ConnectionLost`,
   *   `KeepaliveTimeout`, `ChannelOpenFailed`, `Timeout` (retryable);
   *   or the abort reason when `opts.signal` aborts.
   */
  async exec(conn: SshConnectOptions, cmds: RemoteCommand | RemoteCommand[], opts: ExecOptions): Promise<ExecResult> {
    const started = Date.now();
    if (!(typeof opts.timeoutMs === 'number' && opts.timeoutMs > 0 && Number.isFinite(opts.timeoutMs))) {
      throw new TransportError('InvalidArgument', `timeoutMs must be a positive number of milliseconds, got ${String(opts.timeoutMs)}`, false);
    }
    const command = wrap(renderScript(cmds));
    if (opts.signal?.aborted) throw abortReason(opts.signal);

    const entry = this.acquire(conn);
    try {
      await raceAbort(entry.ready, opts.signal);
      return await this.run(entry, command, opts, started);
    } finally {
      this.release(entry);
    }
  }

  /** Closes every connection (running commands fail with `ConnectionLost`). Resolves when all are closed, within ~2 s. */
  async closeAll(): Promise<void> {
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map((c) => this.close(c)));
  }

  private close(c: Conn): Promise<void> {
    if (c.idleTimer) clearTimeout(c.idleTimer);
    this.drop(c);
    return new Promise<void>((resolve) => {
      if (c.ended || !c.isReady) {
        c.client.destroy();
        resolve();
        return;
      }
      const t = setTimeout(() => {
        c.client.destroy();
        resolve();
      }, 2_000);
      t.unref();
      c.client.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      c.client.end();
    });
  }

  /** Removes a connection from the pool (without closing it). */
  private drop(c: Conn): void {
    c.closed = true;
    if (this.conns.get(c.key) === c) this.conns.delete(c.key);
  }

  private acquire(opts: SshConnectOptions): Conn {
    const key = connKey(opts);
    let c = this.conns.get(key);
    if (!c || c.closed) {
      c = this.connect(opts, key);
      this.conns.set(key, c);
    }
    if (c.idleTimer) {
      clearTimeout(c.idleTimer);
      c.idleTimer = undefined;
    }
    c.active += 1;
    return c;
  }

  private release(c: Conn): void {
    c.active -= 1;
    if (c.active > 0 || c.closed) return;
    c.idleTimer = setTimeout(() => {
      if (c.active === 0) void this.close(c);
    }, this.idleMs);
    c.idleTimer.unref();
  }

  private connect(opts: SshConnectOptions, key: string): Conn {
    const target = opts.target;
    const pinned = parsePinned(target);
    const ctx: ConnContext = {
      target,
      pinned,
      passphrase: opts.passphrase,
      readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
      keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 5_000,
      keepaliveCountMax: opts.keepaliveCountMax ?? 3,
    };
    const pinnedB64 = new Set(pinned.map((k) => k.blob.toString('base64')));
    const client = new Client();
    this.connectsTotal += 1;

    const c: Conn = {
      key,
      client,
      ctx,
      ready: Promise.resolve(),
      isReady: false,
      active: 0,
      closed: false,
      ended: false,
      onLost: new Set(),
    };

    c.ready = new Promise<void>((resolve, reject) => {
      let failure: TransportError | undefined;
      const fail = (err: TransportError): void => {
        if (failure) return;
        failure = err;
        this.drop(c);
        if (!c.isReady) reject(err);
        for (const f of [...c.onLost]) f(err);
      };
      client.on('ready', () => {
        c.isReady = true;
        resolve();
      });
      // Always listening: an unhandled 'error' (e.g. a keepalive failure while idle) would crash the worker.
      client.on('error', (err: SshError) => fail(classify(err, ctx)));
      client.on('close', () => {
        c.ended = true;
        fail(
          new TransportError(
            'ConnectionLost',
            `the SSH connection to ${target.host}:${target.port} was closed. A command that was running may still be running on the host; it will be retried.`,
            true,
            { host: target.host, port: target.port, user: target.user },
          ),
        );
      });

      const config: ConnectConfig = {
        host: target.host,
        port: target.port,
        username: target.user,
        privateKey: opts.privateKey,
        passphrase: opts.passphrase,
        readyTimeout: ctx.readyTimeoutMs,
        keepaliveInterval: ctx.keepaliveIntervalMs,
        keepaliveCountMax: ctx.keepaliveCountMax,
        algorithms: { serverHostKey: hostKeyAlgorithms(pinned) },
        hostVerifier: (presented: Buffer): boolean => {
          if (pinnedB64.has(presented.toString('base64'))) return true;
          ctx.rejectedKey = Buffer.from(presented);
          return false;
        },
        // Never fall back to an agent or to interactive methods: the inventory's key is the only credential.
        agent: undefined,
        tryKeyboard: false,
      };
      try {
        client.connect(config);
      } catch (err) {
        // ssh2 parses the key synchronously; its messages name the problem, not the key.
        fail(
          new TransportError(
            'SecretUnavailable',
            `the private key for ${target.user}@${target.host}:${target.port} cannot be used: ${redact((err as Error).message, opts.passphrase)}. ` +
              `Check that the inventory's privateKey reference holds an OpenSSH or PEM private key and that the passphrase is right.`,
            false,
            { host: target.host, port: target.port, user: target.user },
          ),
        );
        client.destroy();
      }
    });
    // The exec that opened this connection may have been aborted and stopped listening.
    c.ready.catch(() => undefined);
    return c;
  }

  /** Runs one wrapped script on a ready connection. */
  private run(c: Conn, command: string, opts: ExecOptions, started: number): Promise<ExecResult> {
    const { host, port, user } = c.ctx.target;
    const where = `${user}@${host}:${port}`;
    const tailBytes = Math.max(opts.tailBytes ?? 16 * 1024, MIN_TAIL_BYTES) - TAIL_MARKER_RESERVE;
    const stdout = new Tail(tailBytes);
    const stderr = new Tail(tailBytes);
    const combined = new Tail(tailBytes);

    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let stopping = false; // a cancel or timeout is killing the remote side
      let channel: ClientChannel | undefined;
      let exitCode: number | null = null;
      let exitSignal: string | undefined;
      let gotExit = false;
      let timer: NodeJS.Timeout | undefined;
      let emitTimer: NodeJS.Timeout | undefined;
      let lastEmit = 0;

      let pid: number | undefined;
      let resolvePid: (p: number | undefined) => void = () => undefined;
      const pidKnown = new Promise<number | undefined>((r) => (resolvePid = r));
      let preMarker: Buffer | null = Buffer.alloc(0);

      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        if (emitTimer) clearTimeout(emitTimer);
        opts.signal?.removeEventListener('abort', onAbort);
        c.onLost.delete(onLost);
        resolvePid(pid);
        if (err) {
          reject(err);
          return;
        }
        const result: ExecResult = { exitCode, stdout: stdout.toString(), stderr: stderr.toString(), durationMs: Date.now() - started };
        if (exitSignal !== undefined) result.signal = exitSignal;
        resolve(result);
      };

      const emit = (): void => {
        emitTimer = undefined;
        lastEmit = Date.now();
        try {
          opts.onOutput?.(combined.toString());
        } catch {
          // A failing progress callback must not break the command.
        }
      };
      const outputArrived = (): void => {
        if (!opts.onOutput || emitTimer || settled) return;
        const wait = 1000 - (Date.now() - lastEmit);
        if (wait <= 0) emit();
        else emitTimer = setTimeout(emit, wait);
      };
      const pushErr = (b: Buffer): void => {
        if (b.length === 0) return;
        stderr.push(b);
        combined.push(b);
        outputArrived();
      };
      const onStderr = (d: Buffer): void => {
        if (preMarker === null) {
          pushErr(d);
          return;
        }
        preMarker = Buffer.concat([preMarker, d]);
        // latin1 keeps string offsets equal to byte offsets.
        const m = PID_MARKER_RE.exec(preMarker.toString('latin1'));
        if (m) {
          pid = Number(m[2]);
          const before = preMarker.subarray(0, m.index + m[1]!.length);
          const after = preMarker.subarray(m.index + m[0].length);
          preMarker = null;
          resolvePid(pid);
          pushErr(before);
          pushErr(after);
        } else if (preMarker.length > PID_MARKER_SEARCH_BYTES) {
          const all = preMarker;
          preMarker = null;
          resolvePid(undefined);
          pushErr(all);
        }
      };

      /** Kills the remote process group (if we learnt it), then the channel; bounded in time. */
      const killRemote = async (): Promise<void> => {
        const p = await withTimeout(pidKnown, PID_WAIT_MS);
        if (p !== undefined && !gotExit && !c.closed) {
          await this.execQuiet(c, killScript(p), KILL_EXEC_TIMEOUT_MS).catch(() => undefined);
        }
        try {
          channel?.signal('KILL');
        } catch {
          // Channel already gone.
        }
        try {
          channel?.close();
        } catch {
          // Channel already gone.
        }
      };
      let stopError: Error | undefined;
      const stop = (err: Error): void => {
        if (settled || stopping) return;
        stopping = true;
        stopError = err;
        if (timer) clearTimeout(timer);
        void killRemote().finally(() => finish(err));
      };

      const onAbort = (): void => stop(abortReason(opts.signal!));
      // A cancel or timeout already under way keeps its own error: the caller asked for (or hit) that.
      const onLost = (err: TransportError): void => finish(stopError ?? err);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      c.onLost.add(onLost);
      if (opts.signal?.aborted) {
        onAbort();
        return;
      }

      try {
        c.client.exec(command, (err, ch) => {
          if (err) {
            resolvePid(undefined);
            finish(
              c.closed
                ? new TransportError('ConnectionLost', `the SSH connection to ${host}:${port} closed before the command started; it will be retried.`, true, { host, port, user })
                : new TransportError(
                    'ChannelOpenFailed',
                    `${host}:${port} refused to open an SSH session (${redact(err.message)}); too many concurrent sessions (sshd MaxSessions) is the usual cause. It will be retried.`,
                    true,
                    { host, port, user },
                  ),
            );
            return;
          }
          channel = ch;
          if (settled) {
            ch.close();
            return;
          }
          if (!stopping) {
            timer = setTimeout(
              () =>
                stop(
                  new TransportError(
                    'Timeout',
                    `the command on ${where} did not finish within ${opts.timeoutMs} ms and was stopped (TERM, then KILL to its process group). ` +
                      `It may have done part of its work: check the host before the retry runs it again.`,
                    true,
                    { host, port, user, timeoutMs: opts.timeoutMs, stdoutTail: stdout.toString().slice(-2048), stderrTail: stderr.toString().slice(-2048) },
                  ),
                ),
              opts.timeoutMs,
            );
          }
          ch.on('data', (d: Buffer) => {
            stdout.push(d);
            combined.push(d);
            outputArrived();
          });
          ch.stderr.on('data', onStderr);
          ch.on('exit', (code: number | null, sig?: string) => {
            gotExit = true;
            exitCode = typeof code === 'number' ? code : null;
            if (sig) exitSignal = sig.replace(/^SIG/, '');
          });
          ch.on('close', () => {
            if (preMarker !== null && preMarker.length > 0) {
              const rest = preMarker;
              preMarker = null;
              pushErr(rest);
            }
            resolvePid(pid);
            if (stopping) return; // the cancel/timeout path settles
            if (gotExit) finish();
            else
              finish(
                new TransportError(
                  'ConnectionLost',
                  `the session on ${where} ended without an exit status (sshd or the connection went away). The command may or may not have completed; check before re-running it.`,
                  true,
                  { host, port, user },
                ),
              );
          });
          ch.on('error', () => undefined);
          if (opts.stdin !== undefined) ch.end(opts.stdin);
          else ch.end();
        });
      } catch (err) {
        finish(classify(err as SshError, c.ctx));
      }
    });
  }

  /** Runs a short helper command on the connection, discarding its output; resolves when it ends or after `timeoutMs`. */
  private execQuiet(c: Conn, command: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('helper command timed out')), timeoutMs);
      t.unref();
      try {
        c.client.exec(command, (err, ch) => {
          if (err) {
            clearTimeout(t);
            reject(err);
            return;
          }
          ch.on('close', () => {
            clearTimeout(t);
            resolve();
          });
          ch.on('error', () => undefined);
          ch.resume();
          ch.stderr.resume();
          ch.end();
        });
      } catch (err) {
        clearTimeout(t);
        reject(err as Error);
      }
    });
  }
}

/** Resolves with `p`, or rejects with the abort reason as soon as `signal` aborts. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

/** `p`'s value, or undefined after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      () => {
        clearTimeout(t);
        resolve(undefined);
      },
    );
  });
}
