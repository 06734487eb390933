/**
 * The plumbing every system's activities share: the inventory (re-read when
 * the file changes, so an operator can fix an address without restarting the
 * worker), per-cluster settings with their defaults, SSH execution with
 * heartbeats and secret redaction, cancellation-aware sleeps, pooled
 * resources closed with the worker, and {@link ActivityContext.run}, which
 * turns whatever an activity body throws into an `ApplicationFailure` that is
 * non-retryable when retrying cannot help.
 *
 * One context per worker, built by {@link createContext}. Each system narrows
 * it with {@link systemContext} (its settings and their defaults, plus what
 * the system adds, such as the ledger's gRPC calls), and its activities are
 * small named functions `(ctx, input)` that {@link bindActivities} turns into
 * the worker's `(input)` activities.
 *
 * @module
 */
import { statSync } from 'node:fs';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { clusterOf, InventoryError, loadInventory, nodeOf, type Inventory } from '../inventory/load';
import type { ClusterSpec, NodeSpec } from '../inventory/schema';
import type { NodeRef } from './common/types';
import { toFailure, TransportError } from './transport/errors';
import { redact, resolveSecret } from './transport/secrets';
import type { RemoteCommand } from './transport/shell';
import { SshPool, type ExecResult, type SshConnectOptions } from './transport/ssh';

/** What the activities need from their worker. */
export interface ActivityDeps {
  /** The clusters file. */
  inventoryPath: string;
  /** Optional webhook that receives every notification as JSON (`LIFEBOAT_NOTIFY_URL`). */
  notifyUrl?: string;
  /** The SSH pool (tests pass their own to count connections). */
  ssh?: SshPool;
}

/** What an {@link ActivityContext.exec} may add to its commands. */
export interface ExecExtras {
  /** Written to the commands' standard input (a file's content), which is then closed. */
  stdin?: string;
  /** Room for the output, when the output is the point (a file read back); default 16 KiB of tail. */
  tailBytes?: number;
}

/** How often a long activity heartbeats when its transport is silent. */
export const HEARTBEAT_EVERY_MS = 5_000;
/** Deadline of an HTTP read (status, metrics). */
export const HTTP_READ_MS = 5_000;

/** The shared plumbing of one worker's activities. */
export interface ActivityContext {
  deps: ActivityDeps;
  ssh: SshPool;
  /**
   * A per-worker resource made once by `make` under `key` (a connection pool of a
   * system's transport) and closed when the worker's activities close.
   */
  resource<T extends { close(): void | Promise<void> }>(key: string, make: () => T): T;
  inventory(): Inventory;
  /** The cluster and node of a call; an unknown one fails as BadInventory. */
  lookup(ref: NodeRef): { cluster: ClusterSpec; node: NodeSpec };
  /** A per-cluster setting (`settings.<key>` in the inventory), type-checked against its default. */
  setting<T extends string | number | boolean>(cluster: ClusterSpec, key: string, fallback: T): T;
  /** A non-retryable BadInventory error naming the missing field and an example. */
  missing(ref: NodeRef, what: string, example: string): TransportError;
  sshOptions(ref: NodeRef, readyTimeoutMs?: number): Promise<{ conn: SshConnectOptions; secrets: string[]; workdir?: string; sudo: boolean }>;
  /** Runs commands on a node over SSH, heartbeating with the output tail; a non-zero exit is returned. */
  exec(ref: NodeRef, cmds: RemoteCommand[], timeoutMs: number, readyTimeoutMs?: number, extra?: ExecExtras): Promise<ExecResult>;
  /** A command that must succeed: a non-zero exit fails non-retryably with the output and the next step. */
  check(ref: NodeRef, res: ExecResult, what: string, next: string): string;
  /** `sudo -n --` before argv when the cluster's `settings.sudo` is set. */
  root(argv: string[], sudo: boolean): string[];
  /** Heartbeats every few seconds while `p` runs (transports that do not stream). */
  beating<T>(p: Promise<T>, details?: unknown): Promise<T>;
  /**
   * Runs `body`, heartbeating its latest progress every few seconds even while
   * one call inside it is slow (a write waiting out an election); `report`
   * sets the progress and heartbeats at once.
   */
  progress<T>(body: (report: (details: Record<string, unknown>) => void) => Promise<T>, initial?: Record<string, unknown>): Promise<T>;
  /** Sleeps, failing early with the cancellation reason. */
  sleep(ms: number): Promise<void>;
  /** Runs an activity body and converts what it throws. Cancellation passes through untouched. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  /** Unreachable-type failures: a node that is down is a finding, not an activity failure. */
  isUnreachable(err: unknown): boolean;
  /** A key stable across retries of one activity (workflow id, run id, activity id). */
  stableKey(prefix: string): string;
  /** Closes the SSH pool and every {@link resource} (worker shutdown). */
  close(): Promise<void>;
}

/** Builds the shared plumbing of one worker's activities. */
export function createContext(deps: ActivityDeps): ActivityContext {
  const ssh = deps.ssh ?? new SshPool();
  const resources = new Map<string, { close(): void | Promise<void> }>();
  let cached: { mtimeMs: number; size: number; inv: Inventory } | undefined;

  function inventory(): Inventory {
    let st;
    try {
      st = statSync(deps.inventoryPath);
    } catch {
      st = undefined;
    }
    if (cached && st && st.mtimeMs === cached.mtimeMs && st.size === cached.size) return cached.inv;
    const inv = loadInventory(deps.inventoryPath);
    if (st) cached = { mtimeMs: st.mtimeMs, size: st.size, inv };
    return inv;
  }

  function lookup(ref: NodeRef): { cluster: ClusterSpec; node: NodeSpec } {
    const inv = inventory();
    return { cluster: clusterOf(inv, ref.cluster), node: nodeOf(inv, ref.cluster, ref.node) };
  }

  function setting<T extends string | number | boolean>(cluster: ClusterSpec, key: string, fallback: T): T {
    const v = cluster.settings[key];
    if (v === undefined) return fallback;
    const want = typeof fallback;
    if (typeof v !== want) {
      throw new TransportError(
        'BadInventory',
        `inventory setting ${key} must be a ${want}, got ${JSON.stringify(v)}; fix it under the cluster's settings`,
        false,
      );
    }
    return v as T;
  }

  function missing(ref: NodeRef, what: string, example: string): TransportError {
    return new TransportError(
      'BadInventory',
      `node ${ref.node} of cluster ${ref.cluster} has no ${what} in the inventory; add ${example} and run \`lifeboat inventory check\``,
      false,
    );
  }

  async function sshOptions(ref: NodeRef, readyTimeoutMs?: number): Promise<{ conn: SshConnectOptions; secrets: string[]; workdir?: string; sudo: boolean }> {
    const { cluster, node } = lookup(ref);
    if (!node.ssh) throw missing(ref, 'ssh block', 'ssh: {host, user, privateKey: "file:/path", hostKeys: [...]}');
    const privateKey = await resolveSecret(node.ssh.privateKey);
    const passphrase = node.ssh.passphrase ? await resolveSecret(node.ssh.passphrase) : undefined;
    return {
      conn: { target: node.ssh, privateKey, passphrase, readyTimeoutMs },
      secrets: [privateKey, ...(passphrase ? [passphrase] : [])],
      workdir: node.ssh.workdir,
      sudo: setting(cluster, 'sudo', false),
    };
  }

  /** Runs commands on a node over SSH, heartbeating with the output tail; a non-zero exit is returned. */
  async function exec(ref: NodeRef, cmds: RemoteCommand[], timeoutMs: number, readyTimeoutMs?: number, extra: ExecExtras = {}): Promise<ExecResult> {
    const { conn, secrets } = await sshOptions(ref, readyTimeoutMs);
    const ctx = Context.current();
    try {
      return await execOn(ref, conn, secrets, cmds, timeoutMs, extra, ctx);
    } catch (err) {
      // The transport names the address; the operator thinks in nodes.
      if (err instanceof TransportError && !err.message.startsWith(`${ref.node}: `)) {
        throw new TransportError(err.type, `${ref.node}: ${err.message}`, err.retryable, { ...err.details, node: ref.node }, err.trailer);
      }
      throw err;
    }
  }

  async function execOn(
    ref: NodeRef,
    conn: SshConnectOptions,
    secrets: string[],
    cmds: RemoteCommand[],
    timeoutMs: number,
    extra: ExecExtras,
    ctx: ReturnType<typeof Context.current>,
  ): Promise<ExecResult> {
    // Heartbeat with the output tail as it streams, and every few seconds
    // anyway: a command that prints nothing must not look like a dead worker.
    const res = await beating(
      ssh.exec(conn, cmds, {
        timeoutMs,
        signal: ctx.cancellationSignal,
        ...(extra.stdin !== undefined ? { stdin: extra.stdin } : {}),
        ...(extra.tailBytes !== undefined ? { tailBytes: extra.tailBytes } : {}),
        // A command whose output is data (a file read back) heartbeats without it.
        onOutput: (tail) => ctx.heartbeat({ node: ref.node, ...(extra.tailBytes ? { bytes: tail.length } : { tail: redact(tail, secrets) }) }),
      }),
      { node: ref.node, running: 'remote command' },
    );
    return { ...res, stdout: redact(res.stdout, secrets), stderr: redact(res.stderr, secrets) };
  }

  /** A command that must succeed: a non-zero exit fails non-retryably with the output and the next step. */
  function check(ref: NodeRef, res: ExecResult, what: string, next: string): string {
    const out = `${res.stdout}${res.stderr}`.trim();
    if (res.exitCode !== 0) {
      throw new TransportError(
        'CommandFailed',
        `${what} on ${ref.node} exited with ${res.exitCode ?? `signal ${res.signal ?? '?'}`}${out ? `: ${lastLines(out, 8)}` : ''}; ${next}`,
        false,
        { node: ref.node, exitCode: res.exitCode },
      );
    }
    return lastLines(out, 20);
  }

  function root(argv: string[], sudo: boolean): string[] {
    return sudo ? ['sudo', '-n', '--', ...argv] : argv;
  }

  /** Heartbeats every few seconds while `p` runs (transports that do not stream). */
  async function beating<T>(p: Promise<T>, details?: unknown): Promise<T> {
    const ctx = Context.current();
    const t = setInterval(() => ctx.heartbeat(details), HEARTBEAT_EVERY_MS);
    try {
      return await p;
    } finally {
      clearInterval(t);
    }
  }

  async function progress<T>(body: (report: (details: Record<string, unknown>) => void) => Promise<T>, initial: Record<string, unknown> = {}): Promise<T> {
    const ctx = Context.current();
    let latest = initial;
    const report = (details: Record<string, unknown>): void => {
      latest = details;
      ctx.heartbeat(latest);
    };
    const t = setInterval(() => ctx.heartbeat(latest), HEARTBEAT_EVERY_MS);
    try {
      return await body(report);
    } finally {
      clearInterval(t);
    }
  }

  /** Sleeps, failing early with the cancellation reason. */
  function sleep(ms: number): Promise<void> {
    return Context.current().sleep(ms);
  }

  /** Runs an activity body and converts what it throws. Cancellation passes through untouched. */
  async function run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof CancelledFailure) throw err;
      // Transports report an aborted call as their own `Cancelled` error; the worker must see a
      // CancelledFailure, or a cancelled activity is reported as failed (and may be retried).
      const signal = Context.current().cancellationSignal;
      if (signal.aborted) throw signal.reason instanceof CancelledFailure ? signal.reason : new CancelledFailure('activity cancelled', [], err as Error);
      if (err instanceof InventoryError) {
        throw ApplicationFailure.create({ type: 'BadInventory', message: `${err.message}; ${err.fix}`, nonRetryable: true });
      }
      throw toFailure(err);
    }
  }

  function resource<T extends { close(): void | Promise<void> }>(key: string, make: () => T): T {
    let r = resources.get(key) as T | undefined;
    if (!r) {
      r = make();
      resources.set(key, r);
    }
    return r;
  }

  async function close(): Promise<void> {
    await ssh.closeAll();
    for (const r of resources.values()) await r.close();
    resources.clear();
  }

  /** Unreachable-type failures: a node that is down is a finding, not an activity failure. */
  function isUnreachable(err: unknown): boolean {
    return err instanceof TransportError && err.retryable;
  }

  function stableKey(prefix: string): string {
    const info = Context.current().info;
    return `${prefix}-${info.workflowExecution?.workflowId ?? 'standalone'}-${info.workflowExecution?.runId ?? ''}-${info.activityId}`.replace(/[^A-Za-z0-9._-]/g, '_');
  }

  return { deps, ssh, resource, close, inventory, lookup, setting, missing, sshOptions, exec, check, root, beating, progress, sleep, run, isUnreachable, stableKey };
}

/** The last `n` lines of a text, joined with " | " (for one-line messages). */
export function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

/** Per-cluster settings of one system: their names and defaults (the runbook's values). */
export type SettingDefaults = Record<string, string | number | boolean>;

/**
 * The context of one system's activities: the shared plumbing, with
 * `setting` typed by the system's own defaults.
 */
export type SystemContext<D extends SettingDefaults> = Omit<ActivityContext, 'setting'> & {
  /** The cluster's `settings.<key>`, or the system's default; a value of the wrong type fails as BadInventory. */
  setting<K extends keyof D & string>(cluster: ClusterSpec, key: K): D[K];
};

/**
 * Narrows the shared context to one system.
 *
 * @param base - the worker's context
 * @param defaults - the system's settings with their defaults
 * @returns the system's context
 */
export function systemContext<D extends SettingDefaults>(base: ActivityContext, defaults: D): SystemContext<D> {
  return { ...base, setting: (cluster, key) => base.setting(cluster, key, defaults[key]!) as D[typeof key] };
}

/** An activity written as a named function over its system's context. */
type ActivityFn<C> = (ctx: C, input: never) => Promise<unknown>;

/** The worker-facing form of activities written over a context: the context argument bound. */
export type Bound<M> = { [K in keyof M]: M[K] extends (ctx: never, input: infer I) => infer R ? (input: I) => R : never };

/**
 * Binds a system's activity functions (`(ctx, input) => ...`) to its context,
 * giving the `(input) => ...` functions the worker registers under the same
 * names. The names are the activity types recorded in every history: renaming
 * a function here is a breaking change.
 *
 * @example
 * import * as membership from './membership';
 * const activities = bindActivities(ledgerContext(base), { ...membership });
 */
export function bindActivities<C, M extends Record<string, ActivityFn<C>>>(ctx: C, fns: M): Bound<M> {
  const out: Record<string, (input: never) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(fns)) {
    if (typeof fn !== 'function') throw new Error(`activity ${name} is not a function`);
    out[name] = (input: never) => fn(ctx, input);
  }
  return out as Bound<M>;
}
