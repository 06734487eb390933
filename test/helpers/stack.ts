/**
 * The whole product on loopback for end-to-end and crash tests: a real
 * Temporal dev server (persistent SQLite file), the lab, worker processes
 * (`node dist/src/worker.js`, killable), and the `lifeboat` CLI as a
 * subprocess. Everything a stack starts, {@link Stack.stop} stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startLab, type Lab, type LabFamilyName } from '../../lab/index';
import type { GossipBackendKind } from '../../lab/gossip';
import type { LedgerBackendKind } from '../../lab/ledger';
import type { TrainingBackendKind } from '../../lab/index';
import type { TrainBackendKind } from '../../lab/train-server';
import { PROJECT_ROOT } from '../../src/tools';
import { restartablePort } from '../../lab/ports';
import { devServerEnv } from './temporal';

const BIN = path.join(PROJECT_ROOT, 'bin', 'lifeboat.js');
const WORKER_MAIN = path.join(PROJECT_ROOT, 'dist', 'src', 'worker.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A worker running as its own process. */
export interface WorkerProcess {
  proc: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves once it polls its task queues (bounded: 60 s). */
  ready: Promise<void>;
  /** SIGKILL, as a machine dying would. Resolves when it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

export interface Stack {
  dir: string;
  lab: Lab;
  /** `127.0.0.1:<port>` of the dev server (or of the caller's server: `temporalAddress`). */
  address: string;
  dbFile: string;
  client: Client;
  /** Environment for the CLI and workers: TEMPORAL_ADDRESS, LIFEBOAT_INVENTORY, LIFEBOAT_UI_URL. */
  env: NodeJS.ProcessEnv;
  /** Runs `lifeboat ...args` (bounded: 120 s). */
  cli(args: string[], opts?: { env?: NodeJS.ProcessEnv }): Promise<CliResult>;
  /** Starts a worker process; `env` is added to the stack's (e.g. another LIFEBOAT_INVENTORY, LIFEBOAT_MAX_CACHED_WORKFLOWS). */
  startWorker(opts?: { env?: NodeJS.ProcessEnv }): WorkerProcess;
  /** Stops the dev server (SIGTERM through the test environment), keeping its database file. */
  stopServer(): Promise<void>;
  /** Starts the dev server again on the same port and database file. */
  startServer(): Promise<void>;
  /** Stops every worker, the lab and the server, and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** Removes a test's directory, or with LIFEBOAT_KEEP_TEST_DIRS=1 keeps it (the lab's logs, the server's database) and says where, for a post-mortem. */
export function removeTestDir(dir: string): void {
  if (process.env.LIFEBOAT_KEEP_TEST_DIRS === '1') process.stderr.write(`kept ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}

export { freePort } from './temporal';

/** Runs one part of a stack's start; a failure says which part, so that a CI log of a failed start names it. */
async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Error(`test stack: ${what} did not start: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

/**
 * Starts a dev server, the lab and (unless `worker: false`) one worker.
 *
 * @param opts.families lab families to run (default all)
 * @param opts.bootMs the lab's settle time (default 500 ms, to keep tests quick)
 * @param opts.ledgerBackend the lab ledger's backend: the simulation (default) or real inferadb-ledger processes
 * @param opts.trainBackend the lab train server's storage: simulated (default) or real BTRFS on loop devices
 * @param opts.trainingBackend the lab training cluster's backend: the simulation (default) or real RingRift orchestrators
 * @param opts.gossipBackend the lab gossip cluster's backend: the simulation (default) or real plumtree-node processes
 * @param opts.temporalAddress a Temporal frontend the caller runs (the real server on PostgreSQL,
 *   test/helpers/temporal-server.ts): no dev server is started, and stopServer/startServer refuse
 */
export async function startStack(opts: { families?: LabFamilyName[]; bootMs?: number; worker?: boolean; ledgerBackend?: LedgerBackendKind; trainBackend?: TrainBackendKind; gossipBackend?: GossipBackendKind; trainingBackend?: TrainingBackendKind; temporalAddress?: string } = {}): Promise<Stack & { worker?: WorkerProcess }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-e2e-'));
  const dbFile = path.join(dir, 'temporal.db');
  const external = opts.temporalAddress;
  // Below the ephemeral range (lab/ports): nothing takes it between the probe and the
  // server's bind, nor while a test restarts the server on it.
  const port = external ? 0 : await restartablePort();
  const address = external ?? `127.0.0.1:${port}`;
  const workers: WorkerProcess[] = [];
  let server: TestWorkflowEnvironment | undefined;
  let lab: Lab | undefined;
  let connection: Connection | undefined;
  let stopped = false;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
    await connection?.close().catch(() => undefined);
    await lab?.stop().catch(() => undefined);
    await server?.teardown().catch(() => undefined);
    removeTestDir(dir);
  };

  try {
    if (!external) server = await step(`the dev server on ${address}`, () => devServerEnv({ dbFilename: dbFile, port }));
    lab = await step('the lab', () => startLab({ dir: path.join(dir, 'lab'), families: opts.families, bootMs: opts.bootMs ?? 500, ...(opts.ledgerBackend ? { ledgerBackend: opts.ledgerBackend } : {}), ...(opts.trainBackend ? { trainBackend: opts.trainBackend } : {}), ...(opts.gossipBackend ? { gossipBackend: opts.gossipBackend } : {}), ...(opts.trainingBackend ? { trainingBackend: opts.trainingBackend } : {}) }));
    connection = await step(`a client connection to ${address}`, () => Connection.connect({ address }));
    const client = new Client({ connection, namespace: 'default' });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: 'default',
      LIFEBOAT_INVENTORY: lab.inventoryPath,
      LIFEBOAT_UI_URL: 'http://127.0.0.1:8233',
      NO_COLOR: '1',
    };

    const startWorker = (o: { env?: NodeJS.ProcessEnv } = {}): WorkerProcess => {
      const proc = spawn(process.execPath, [WORKER_MAIN], { cwd: dir, env: { ...env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      const ready = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker not ready within 60 s:\n${out.slice(-3000)}`)), 60_000);
        const onData = (b: Buffer) => {
          out += b.toString('utf8');
          if (/state: 'RUNNING'/.test(out)) {
            clearTimeout(timer);
            resolve();
          }
        };
        proc.stdout!.on('data', onData);
        proc.stderr!.on('data', onData);
        proc.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`worker exited (${code}) before it was ready:\n${out.slice(-3000)}`));
        });
      });
      ready.catch(() => undefined);
      const w: WorkerProcess = {
        proc,
        output: () => out,
        ready,
        async kill() {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
          await gone;
        },
        async stop() {
          if (proc.exitCode !== null || proc.signalCode !== null) return;
          proc.kill('SIGTERM');
          const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
          await gone;
          clearTimeout(t);
        },
      };
      workers.push(w);
      return w;
    };

    const cli = (args: string[], o: { env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> =>
      new Promise((resolve, reject) => {
        const p = spawn(process.execPath, [BIN, ...withOperatorKey(args, lab?.operatorKeys)], { cwd: dir, env: { ...env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
        p.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
        const t = setTimeout(() => p.kill('SIGKILL'), 120_000);
        p.once('error', reject);
        p.once('close', (code) => {
          clearTimeout(t);
          resolve({ code, stdout, stderr });
        });
      });

    const stack: Stack & { worker?: WorkerProcess } = {
      dir,
      lab,
      address,
      dbFile,
      client,
      env,
      cli,
      startWorker,
      async stopServer() {
        if (external) throw new Error(`the Temporal server at ${external} is not this stack's: stop it where it was started`);
        await server?.teardown();
        server = undefined;
      },
      async startServer() {
        if (external) throw new Error(`the Temporal server at ${external} is not this stack's: start it where it was started`);
        server = await devServerEnv({ dbFilename: dbFile, port });
      },
      stop,
    };
    if (opts.worker !== false) {
      const worker = startWorker();
      stack.worker = worker;
      await step('the worker', () => worker.ready);
    }
    return stack;
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Polls `fn` until it returns a truthy value (bounded by `timeoutMs`, default 60 s). */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `; last error: ${(last as Error).message}` : ''}`);
}

/**
 * The lab's approvals are signed: an operator who acts `--as alice` signs with
 * alice's key, as she would with hers (`--key`). A command that names its own
 * `--key`, or a name the lab has no key for, is left as written.
 */
export function withOperatorKey(args: string[], keys: Record<string, string> | undefined): string[] {
  if (!keys || !['run', 'approve', 'reject', 'decide'].includes(args[0] ?? '') || args.includes('--key')) return args;
  const i = args.indexOf('--as');
  const who = i >= 0 ? args[i + 1] : undefined;
  const key = who !== undefined ? keys[who] : undefined;
  return key ? [...args, '--key', key] : args;
}
