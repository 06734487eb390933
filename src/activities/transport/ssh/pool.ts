/**
 * The SSH connection pool: one ssh2 connection per host and credentials,
 * shared by concurrent calls, closed when idle, dropped when it fails; each
 * call runs a wrapped command whose process group can be killed, with
 * bounded output tails streamed to a callback.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { TransportError } from '../errors';
import { renderScript, type RemoteCommand } from '../shell';
import { Tail } from '../tail';
import { abortReason, classify, redact, type ConnContext, type SshError } from './failures';
import { hostKeyAlgorithms, parsePinned } from './host-keys';
import { KILL_EXEC_TIMEOUT_MS, killScript, PID_MARKER_RE, PID_MARKER_SEARCH_BYTES, PID_WAIT_MS, raceAbort, withTimeout, wrap } from './remote';
import type { ExecOptions, ExecResult, SshConnectOptions } from './types';

/** Room for the "[…N earlier bytes dropped]" marker and partial UTF-8 characters, so tails stay under tailBytes. */
const TAIL_MARKER_RESERVE = 64;
const MIN_TAIL_BYTES = 1024;

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
