/**
 * Local commands on the worker (kubectl, aws, rsync, restic...): an argv
 * array run without a shell, so no argument is ever interpreted (`;`, `$()`,
 * globs and newlines reach the program literally).
 *
 * The child runs in its own process group, so a timeout or a cancelled
 * activity stops everything it started: SIGTERM to the group, then SIGKILL
 * after a 2 s grace. Output is kept as bounded tails and can be streamed to
 * heartbeats through a throttled callback. A non-zero exit is a result, not
 * an error: the caller knows which exit codes mean what.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { TransportError } from './errors';
import { Tail } from './tail';

/** How long the group gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 2_000;
/**
 * After the direct child exits, how long to wait for its output pipes to
 * close. A background process it left behind (`nohup x &`) may hold them
 * open forever; we then stop reading rather than wait for it.
 */
const PIPE_DRAIN_MS = 500;
/** After SIGKILL, give up waiting for an exit (a process stuck in the kernel). */
const KILL_WAIT_MS = 5_000;
/** onOutput is called at most this often. */
const OUTPUT_THROTTLE_MS = 1_000;

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  /** Working directory; must exist. Default: the worker's. */
  cwd?: string;
  /** Variables added to (and overriding) the worker's environment. Never logged. */
  env?: Record<string, string>;
  /** Kill the process group and fail with `Timeout` after this long. */
  timeoutMs: number;
  /** The activity's cancellation signal: kills the group, fails with `Cancelled`. */
  signal?: AbortSignal;
  /** Receives the combined stdout+stderr tail, at most once a second (for heartbeats). */
  onOutput?: (tail: string) => void;
  /** Bytes kept of each of stdout and stderr (default 16 KiB). */
  tailBytes?: number;
  /** Written to the child's stdin, which is then closed. Without it stdin is /dev/null. */
  stdin?: string;
}

/** How a command ended. */
export interface RunCommandResult {
  /** Exit code, or null when killed by a signal. */
  exitCode: number | null;
  /** The signal that ended it, if any (e.g. `SIGSEGV`). */
  signal?: string;
  /** Bounded tail of stdout. */
  stdout: string;
  /** Bounded tail of stderr. */
  stderr: string;
  durationMs: number;
}

/**
 * Runs `argv` as a child process, without a shell, and waits for it.
 *
 * `argv[0]` is looked up on `PATH` (the merged environment's). Failures that
 * are not the command's own exit status throw a {@link TransportError}:
 * `CommandNotFound` (not installed / not on PATH), `PermissionDenied` (not
 * executable), `InvalidArgument` (empty argv, missing cwd), `Timeout`
 * (retryable) and `Cancelled`. Messages name only the program, never its
 * arguments or environment, which may carry secrets.
 *
 * @param argv - program and arguments, e.g. `['kubectl', 'get', 'pods', '-o', 'json']`
 * @param opts - deadline, cancellation, environment, stdin, output callback
 * @returns exit status and output tails; a non-zero exit is returned, not thrown
 * @example
 * const r = await runCommand(['restic', 'snapshots', '--json'], {
 *   env: { RESTIC_PASSWORD: await resolveSecret('env:RESTIC_PASSWORD') },
 *   timeoutMs: 60_000,
 *   signal: Context.current().cancellationSignal,
 *   onOutput: (tail) => Context.current().heartbeat({ tail }),
 * });
 */
export async function runCommand(argv: string[], opts: RunCommandOptions): Promise<RunCommandResult> {
  const program = argv[0];
  if (!program) {
    throw new TransportError('InvalidArgument', 'runCommand needs a program: argv is empty', false);
  }
  const name = path.basename(program);
  if (!(opts.timeoutMs > 0)) {
    throw new TransportError('InvalidArgument', `${name}: timeoutMs must be a positive number of milliseconds`, false);
  }
  if (opts.cwd !== undefined) {
    // spawn reports a missing cwd as ENOENT, indistinguishable from a missing
    // program; check it first so the message points at the right thing.
    const dir = await stat(opts.cwd).catch(() => undefined);
    if (!dir?.isDirectory()) {
      throw new TransportError('InvalidArgument', `${name}: working directory ${opts.cwd} does not exist on this worker`, false);
    }
  }
  if (opts.signal?.aborted) {
    throw new TransportError('Cancelled', `${name} was cancelled before it started`, false);
  }

  const tailBytes = opts.tailBytes ?? 16 * 1024;
  const stdout = new Tail(tailBytes);
  const stderr = new Tail(tailBytes);
  const combined = new Tail(tailBytes);
  const started = performance.now();

  return new Promise<RunCommandResult>((resolve, reject) => {
    const child = spawn(program, argv.slice(1), {
      shell: false,
      detached: true, // own process group, so we can signal all of it
      cwd: opts.cwd,
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      stdio: [opts.stdin !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });

    let ending: 'timeout' | 'cancelled' | undefined;
    let settled = false;
    let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const timers: NodeJS.Timeout[] = [];
    let sigkillTimer: NodeJS.Timeout | undefined;

    // ---- output, with a throttled progress callback
    let lastReport = 0;
    let pendingReport: NodeJS.Timeout | undefined;
    let unreported = false;
    const report = (): void => {
      pendingReport = undefined;
      unreported = false;
      lastReport = Date.now();
      try {
        opts.onOutput?.(combined.toString());
      } catch {
        // A failing progress callback must not break the command.
      }
    };
    const onData = (tail: Tail) => (chunk: Buffer) => {
      tail.push(chunk);
      combined.push(chunk);
      if (!opts.onOutput) return;
      unreported = true;
      const wait = lastReport + OUTPUT_THROTTLE_MS - Date.now();
      if (wait <= 0) report();
      else pendingReport ??= setTimeout(report, wait);
    };
    child.stdout?.on('data', onData(stdout));
    child.stderr?.on('data', onData(stderr));

    if (child.stdin) {
      // The child may exit without reading its input: EPIPE is not our failure.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.stdin);
    }

    // ---- stopping the process group
    const killGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // ESRCH: the whole group is already gone.
      }
    };
    const stop = (why: 'timeout' | 'cancelled'): void => {
      if (ending || settled) return;
      ending = why;
      killGroup('SIGTERM');
      // SIGKILL the group even if the leader died of SIGTERM: children that
      // ignore SIGTERM must not outlive the step. Not unref'd, so the kill
      // happens even if nothing else keeps the event loop busy.
      sigkillTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
      // If even SIGKILL does not produce an exit, report anyway.
      timers.push(setTimeout(() => finish(), KILL_GRACE_MS + KILL_WAIT_MS));
    };
    const deadline = setTimeout(() => stop('timeout'), opts.timeoutMs);
    const onAbort = (): void => stop('cancelled');
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    // ---- settling
    const cleanup = (): void => {
      clearTimeout(deadline);
      opts.signal?.removeEventListener('abort', onAbort);
      if (pendingReport) clearTimeout(pendingReport);
      // The SIGKILL follow-up (sigkillTimer) must still run after a
      // timeout/cancel, for group members that ignore SIGTERM; the drain and
      // give-up timers are moot once settled.
      for (const t of timers) clearTimeout(t);
    };
    const finish = (): void => {
      if (settled) return;
      settled = true;
      cleanup();
      child.stdout?.destroy();
      child.stderr?.destroy();
      if (unreported && opts.onOutput) report();
      const durationMs = Math.round(performance.now() - started);
      if (ending === 'timeout') {
        reject(
          new TransportError(
            'Timeout',
            `${name} did not finish within ${opts.timeoutMs} ms and was stopped (its whole process group was sent SIGTERM, then SIGKILL); it will be retried`,
            true,
            { program: name, durationMs },
          ),
        );
        return;
      }
      if (ending === 'cancelled') {
        reject(new TransportError('Cancelled', `${name} was cancelled and its process group stopped`, false, { program: name, durationMs }));
        return;
      }
      resolve({
        exitCode: exitInfo?.code ?? null,
        ...(exitInfo?.signal ? { signal: exitInfo.signal } : {}),
        stdout: stdout.toString(),
        stderr: stderr.toString(),
        durationMs,
      });
    };

    child.on('error', (err: NodeJS.ErrnoException) => {
      // With a pid the process exists and this is a later, harmless error
      // (e.g. signalling it); 'exit' still follows. Without one, spawn failed.
      if (settled || child.pid !== undefined) return;
      settled = true;
      cleanup();
      if (sigkillTimer) clearTimeout(sigkillTimer);
      if (err.code === 'ENOENT') {
        reject(
          new TransportError(
            'CommandNotFound',
            `${name} was not found on this worker; install ${name} on the worker or fix PATH in the worker's environment`,
            false,
            { program: name },
          ),
        );
      } else if (err.code === 'EACCES') {
        reject(new TransportError('PermissionDenied', `${name} cannot be executed (EACCES); make it executable by the worker's user`, false, { program: name }));
      } else {
        reject(new TransportError('CommandFailed', `${name} could not be started (${err.code ?? err.message})`, false, { program: name }));
      }
    });
    child.once('exit', (code, sig) => {
      exitInfo = { code, signal: sig };
      // Wait briefly for the pipes to drain; 'close' normally follows at once.
      timers.push(setTimeout(() => finish(), PIPE_DRAIN_MS));
    });
    child.once('close', () => {
      if (exitInfo === undefined) return; // 'close' without 'exit' only after a spawn error
      finish();
    });
  });
}
