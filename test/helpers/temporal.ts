/**
 * Temporal test environments on the project-local binaries (never the SDK's
 * download), and workflow bundles built once per test process.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { TypedSearchAttributes } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { SA_AWAITING_APPROVAL, SA_CLUSTER, SA_SCENARIO, SA_STEP } from '../../src/workflows/kit/defs';
import { devServerDynamicConfigArgs, temporalCliPath, testServerPath } from '../../src/tools';

/** The time-skipping test server (timers skip when the workflow waits). */
export function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: testServerPath() } },
  });
}

/**
 * A real dev server (SQLite in memory unless dbFilename), with Lifeboat's search
 * attributes and the dynamic config `lifeboat dev` gives it (src/tools.ts), unless
 * `serverDefaults` (the benchmark's "before"); `extraArgs` are appended (experiments).
 *
 * The CLI is started here rather than by the SDK's `createLocal`, which gives a
 * dev server 5 s to answer and then fails: on a loaded 2-core CI machine a server
 * creating its SQLite schema can take longer (a CI run lost a whole e2e file to
 * it). Here it has {@link DEV_SERVER_START_MS}, and a server that exits says why.
 * `teardown()` closes the connections and stops the server: SIGTERM, SIGKILL after 15 s.
 */
export async function devServerEnv(opts: { dbFilename?: string; port?: number; serverDefaults?: boolean; extraArgs?: string[] } = {}): Promise<TestWorkflowEnvironment> {
  const port = opts.port ?? (await freePort());
  const address = `127.0.0.1:${port}`;
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless', '--log-level', 'error'];
  if (opts.dbFilename) args.push('--db-filename', opts.dbFilename);
  for (const sa of [SA_SCENARIO, SA_CLUSTER, SA_STEP, SA_AWAITING_APPROVAL]) args.push('--search-attribute', `${sa.name}=${TypedSearchAttributes.toMetadataType(sa.type)}`);
  args.push(...(opts.serverDefaults ? [] : devServerDynamicConfigArgs()), ...(opts.extraArgs ?? []));
  const proc = spawn(temporalCliPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer): void => {
    out = (out + b.toString('utf8')).slice(-4000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  const running = (): boolean => proc.exitCode === null && proc.signalCode === null;
  const stop = async (): Promise<void> => {
    if (running()) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    }
  };

  const deadline = Date.now() + DEV_SERVER_START_MS;
  let env: TestWorkflowEnvironment | undefined;
  let last: unknown;
  while (!env) {
    if (!running()) throw new Error(`the Temporal dev server on ${address} exited (${proc.exitCode ?? proc.signalCode}) before it answered: ${out.trim() || 'no output'}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the Temporal dev server on ${address} did not answer within ${DEV_SERVER_START_MS / 1000} s (last: ${(last as Error)?.message ?? 'nothing'}); its output: ${out.trim() || 'none'}`);
    }
    try {
      env = await TestWorkflowEnvironment.createFromExistingServer({ address });
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const close = env.teardown.bind(env);
  env.teardown = async () => {
    try {
      await close();
    } finally {
      await stop();
    }
  };
  return env;
}

/** How long a dev server may take to answer before {@link devServerEnv} gives up. */
export const DEV_SERVER_START_MS = 60_000;

/** A loopback port that was free a moment ago (the kernel's pick). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const bundles = new Map<string, Promise<WorkflowBundleWithSourceMap>>();

/** Bundles a workflows module once per process (bundling takes seconds). */
export function bundle(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  const key = path.resolve(workflowsPath);
  let b = bundles.get(key);
  if (!b) {
    b = bundleWorkflowCode({ workflowsPath: key, logger: quietLogger });
    bundles.set(key, b);
  }
  return b;
}

/** The production workflows (compiled). */
export const WORKFLOWS_PATH = path.resolve(__dirname, '../../src/workflows/index.js');

const noop = (): void => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: (m: string) => console.error(m), log: noop };

/** Unique task queue per test, so tests never steal each other's tasks. */
let seq = 0;
export function taskQueue(name: string): string {
  seq += 1;
  return `test-${name}-${process.pid}-${seq}`;
}
