/**
 * Where the project-local tools live: the Temporal CLI (dev server) and the
 * time-skipping test server, installed by scripts/setup.sh under `.tools/`.
 * Environment overrides let an operator point at binaries of their own.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** The repository root (this file compiles to dist/src/tools.js). */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

function toolPath(envVar: string, candidates: string[], what: string): string {
  const override = process.env[envVar];
  if (override) {
    if (!existsSync(override)) throw new Error(`${envVar}=${override} does not exist; unset it or point it at ${what}`);
    return override;
  }
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`${what} is not installed (looked in ${candidates.join(', ')}); run \`npm run setup\` or set ${envVar}`);
}

/** Path of the `temporal` CLI (dev server). */
export function temporalCliPath(): string {
  return toolPath(
    'LIFEBOAT_TEMPORAL_CLI',
    [path.join(PROJECT_ROOT, '.tools/venv/bin/temporal'), path.join(PROJECT_ROOT, '.tools/go/bin/temporal')],
    'the Temporal CLI',
  );
}

/** Path of the time-skipping test server. */
export function testServerPath(): string {
  return toolPath(
    'LIFEBOAT_TEST_SERVER',
    [path.join(PROJECT_ROOT, '.tools/venv/bin/temporal-test-server')],
    'the Temporal time-skipping test server',
  );
}

/**
 * Path of the pinned restic (>= 0.16, for `restore --json` progress), built by
 * scripts/setup.sh into `.tools/go/bin`; `LIFEBOAT_RESTIC` overrides it.
 */
export function resticPath(): string {
  return toolPath('LIFEBOAT_RESTIC', [path.join(PROJECT_ROOT, '.tools/go/bin/restic')], 'restic (>= 0.16)');
}

/**
 * Dynamic config Lifeboat gives the dev server (`lifeboat dev`, the test and
 * bench stacks), as `--dynamic-config-value KEY=JSON` pairs.
 *
 * `history.transferProcessorMaxPollRPS` (server default 20): every history
 * shard reads its transfer queue (the tasks that push workflow and activity
 * tasks to matching) through a token bucket of that rate with a burst of the
 * same size (server v1.32.0: common/dynamicconfig/constants.go:2233,
 * service/history/queues/reader_quotas.go:46, burst ratio 1 in
 * common/quotas/dynamic_rate_limiter_impl.go:11, waited on before each load in
 * service/history/queues/reader.go:428). Eager activity dispatch (on by
 * default) hands the activity to the worker in the workflow task's response,
 * but the workflow task that follows each completed activity goes through
 * that queue: one read per step. The dev server has one shard, so after the
 * burst (~20-30 steps) a workflow's back-to-back steps ran at 20/s, ~50 ms each.
 * At 100 a step costs ~12 ms, what the server and the worker take (bench/README.md).
 * Reads happen only when new tasks are written, so an idle server reads no
 * more often; a busy one reads in smaller batches.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, number | boolean | string>> = {
  'history.transferProcessorMaxPollRPS': 100,
};

/** {@link DEV_SERVER_DYNAMIC_CONFIG} as `temporal server start-dev` arguments. */
export function devServerDynamicConfigArgs(): string[] {
  return Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([k, v]) => ['--dynamic-config-value', `${k}=${JSON.stringify(v)}`]);
}
