/**
 * Temporal test environments on the project-local binaries (never the SDK's
 * download), and workflow bundles built once per test process.
 */
import * as path from 'node:path';
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
 */
export function devServerEnv(opts: { dbFilename?: string; port?: number; serverDefaults?: boolean; extraArgs?: string[] } = {}): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      ip: '127.0.0.1',
      port: opts.port,
      dbFilename: opts.dbFilename,
      searchAttributes: [SA_SCENARIO, SA_CLUSTER, SA_STEP, SA_AWAITING_APPROVAL],
      extraArgs: ['--headless', '--log-level', 'error', ...(opts.serverDefaults ? [] : devServerDynamicConfigArgs()), ...(opts.extraArgs ?? [])],
    },
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
