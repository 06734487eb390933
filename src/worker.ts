/**
 * The Lifeboat worker: runs every recovery workflow and the activities that
 * reach the clusters. One process polls one task queue per distinct
 * `taskQueue` of the inventory (or the ones given), sharing one connection,
 * one workflow bundle and one set of SSH/gRPC pools.
 *
 * Run it with `lifeboat worker`, or `node dist/src/worker.js` (what
 * `lifeboat dev` and the container image do). SIGINT/SIGTERM drain it:
 * running activities are cancelled and reported, workflows stay durable and
 * continue on whichever worker polls next.
 *
 * @module
 */
import { hostname } from 'node:os';
import * as path from 'node:path';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from './activities';
import { dataConverterFor, FAILURE_CONVERTER_PATH } from './codec';
import { ConfigError, connectionOptions, loadConfig, TemporalUnavailableError, type LifeboatConfig } from './config';
import { InventoryError, loadInventory } from './inventory/load';

/** Where the workflows are, seen from the compiled `dist/src/worker.js`. */
export const WORKFLOWS_PATH = path.resolve(__dirname, 'workflows', 'index.js');

export interface RunWorkerOptions {
  /** Only these task queues (default: every cluster's `taskQueue` in the inventory). */
  taskQueues?: string[];
  /** Stop when this signal aborts (tests); SIGINT/SIGTERM always stop it. */
  signal?: AbortSignal;
  /** Called once every worker polls. */
  onReady?: (taskQueues: string[]) => void;
  /** Recoveries kept in memory per task queue (default `$LIFEBOAT_MAX_CACHED_WORKFLOWS`, else {@link DEFAULT_MAX_CACHED_WORKFLOWS}). */
  maxCachedWorkflows?: number;
}

/**
 * Recoveries a worker keeps in memory per task queue. Measured (bench/parked,
 * bench/README.md): about 0.9 MiB of worker RSS per cached recovery over a
 * bare worker's ~275 MiB, so 500 parked recoveries all cached take ~710 MiB,
 * and every one answers its progress query (`watch`, `report`, what `approve`
 * signs) from memory; with 200, a burst of queries to the other 300 timed out
 * while they were replayed. A recovery out of the cache is replayed from its
 * history when it next moves; `lifeboat approvals` and `list` read visibility
 * and need no cached recovery. Lower it on a worker with less memory.
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 500;

/**
 * The worker's cache size from `LIFEBOAT_MAX_CACHED_WORKFLOWS`.
 *
 * @throws {@link ConfigError} naming the variable when it is not a positive integer
 */
export function maxCachedWorkflowsFrom(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.LIFEBOAT_MAX_CACHED_WORKFLOWS?.trim();
  if (!raw) return DEFAULT_MAX_CACHED_WORKFLOWS;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) {
    throw new ConfigError(
      `LIFEBOAT_MAX_CACHED_WORKFLOWS=${raw.slice(0, 40)} is not a positive whole number`,
      `set it to how many recoveries each worker keeps in memory (e.g. ${DEFAULT_MAX_CACHED_WORKFLOWS}), or unset it for the default`,
    );
  }
  return n;
}

const bundlePromises = new Map<boolean, Promise<WorkflowBundleWithSourceMap>>();

/**
 * Bundles the workflows once per process (a few seconds; reused by every task queue).
 *
 * @param encodeFailures when the payload codec is on: the bundle's failure
 * converter moves workflow failure messages and stack traces into encoded
 * attributes, so the codec encrypts them (workflow code is the same; replay unaffected)
 */
export function workflowBundle(encodeFailures = false): Promise<WorkflowBundleWithSourceMap> {
  let b = bundlePromises.get(encodeFailures);
  if (!b) {
    b = bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      logger: quietBundlerLogger(),
      ...(encodeFailures ? { failureConverterPath: FAILURE_CONVERTER_PATH } : {}),
    });
    bundlePromises.set(encodeFailures, b);
  }
  return b;
}

/** The task queues to poll: explicit ones, else every cluster's in the inventory. */
export function taskQueuesFor(config: LifeboatConfig, explicit?: string[]): string[] {
  if (explicit?.length) return [...new Set(explicit)];
  const inv = loadInventory(config.inventoryPath);
  return [...new Set(Object.values(inv.clusters).map((c) => c.taskQueue))].sort();
}

/**
 * Runs workers until a shutdown signal.
 *
 * @throws {@link InventoryError} when the inventory is missing or invalid
 * @throws {@link TemporalUnavailableError} when Temporal does not answer
 */
export async function runWorker(config: LifeboatConfig, opts: RunWorkerOptions = {}): Promise<void> {
  const taskQueues = taskQueuesFor(config, opts.taskQueues ?? envQueues());
  const maxCachedWorkflows = opts.maxCachedWorkflows ?? maxCachedWorkflowsFrom();
  const conn = await connectionOptions(config);
  // Payload encryption (LIFEBOAT_CODEC_KEY_REF): keys resolved before connecting, so a bad key stops the worker at once.
  const dataConverter = await dataConverterFor(config);
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect(conn);
  } catch (err) {
    throw new TemporalUnavailableError(config.temporal.address, err, conn.tls !== undefined);
  }
  const acts = createActivities({ inventoryPath: config.inventoryPath, notifyUrl: process.env.LIFEBOAT_NOTIFY_URL || undefined });
  try {
    const bundle = await workflowBundle(dataConverter !== undefined);
    const identity = `lifeboat-worker@${hostname()}:${process.pid}`;
    const workers = await Promise.all(
      taskQueues.map((taskQueue) =>
        Worker.create({
          connection,
          namespace: config.temporal.namespace,
          taskQueue,
          identity,
          workflowBundle: bundle,
          activities: acts.activities,
          ...(dataConverter ? { dataConverter } : {}),
          // Recoveries are long and mostly parked: keep them cached, but cap memory (README, "Many recoveries at once").
          maxCachedWorkflows,
          // A workflow task for a recovery cached on a worker that died (a timer that fired, a signal)
          // waits this long on that worker's sticky queue before any worker may take it (SDK default
          // 10 s): the crash matrix's timer lateness after a SIGKILL is about this bound.
          stickyQueueScheduleToStartTimeout: '3s',
          // Give running activities time to report their cancellation on shutdown.
          shutdownGraceTime: '10s',
          // Heartbeats reach the server at least every 5 s (the SDK would hold them for 0.8 × the
          // heartbeat timeout, 24 s): a cancellation (`lifeboat cancel`) rides on the answer to a
          // heartbeat, so this bounds how long a remote command outlives its cancelled recovery.
          maxHeartbeatThrottleInterval: '5s',
          defaultHeartbeatThrottleInterval: '5s',
        }),
      ),
    );
    const stop = () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
    opts.signal?.addEventListener('abort', stop, { once: true });
    process.stderr.write(
      `lifeboat worker ${identity}: namespace ${config.temporal.namespace} at ${config.temporal.address}, task queue${taskQueues.length > 1 ? 's' : ''} ${taskQueues.join(', ')}, inventory ${config.inventoryPath}, cache ${maxCachedWorkflows} recoveries, payload codec ${dataConverter ? 'on (AES-256-GCM)' : 'off'}\n`,
    );
    const running = Promise.all(workers.map((w) => w.run()));
    opts.onReady?.(taskQueues);
    await running;
  } finally {
    await acts.close();
    await connection.close();
  }
}

function envQueues(): string[] | undefined {
  const raw = process.env.LIFEBOAT_TASK_QUEUES;
  return raw ? raw.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}

function quietBundlerLogger() {
  const noop = () => undefined;
  return { trace: noop, debug: noop, info: noop, log: noop, warn: (m: string) => process.stderr.write(`bundler: ${m}\n`), error: (m: string) => process.stderr.write(`bundler: ${m}\n`) };
}

/** `node dist/src/worker.js`: exit 0 on a clean shutdown, 2 on bad configuration, 69 when Temporal is unreachable. */
async function main(): Promise<number> {
  try {
    await runWorker(loadConfig());
    return 0;
  } catch (err) {
    if (err instanceof InventoryError || err instanceof ConfigError) {
      process.stderr.write(`lifeboat worker: ${err.message}\n  fix: ${err.fix}\n`);
      return 2;
    }
    if (err instanceof TemporalUnavailableError) {
      process.stderr.write(`lifeboat worker: ${err.message}\n  fix: ${err.fix}\n`);
      return 69;
    }
    process.stderr.write(`lifeboat worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 70;
  }
}

if (require.main === module) {
  void main().then((code) => process.exit(code));
}
