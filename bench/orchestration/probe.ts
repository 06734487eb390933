/**
 * Experiment helper (not the benchmark): runs one bare workflow of N activity
 * calls on a fresh dev server with the server's defaults plus the given
 * --dynamic-config-value flags, and the given worker options, and prints the
 * per-step times (the first 40, the median, the median after the first 40).
 * How the cause of the 50 ms per step was found (bench/README.md).
 *
 *   node dist/bench/orchestration/probe.js [--steps 150] [--dc key=json ...] [--worker '{"maxConcurrentActivityTaskPolls":1}']
 */
import * as path from 'node:path';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { devServerEnv } from '../../test/helpers/temporal';
import { stubActivities } from '../../test/helpers/stubs';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let steps = 150;
  const extraArgs: string[] = [];
  let workerOpts: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--steps') steps = Number(argv[++i]);
    else if (argv[i] === '--dc') extraArgs.push('--dynamic-config-value', argv[++i]!);
    else if (argv[i] === '--worker') workerOpts = JSON.parse(argv[++i]!) as Record<string, unknown>;
  }
  const env = await devServerEnv({ serverDefaults: true, extraArgs });
  try {
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, 'workflows.js'), logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never });
    const taskQueue = `probe-${process.pid}`;
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities: stubActivities().activities, ...workerOpts });
    const raw = await worker.runUntil(env.client.workflow.execute('benchRaw', { taskQueue, workflowId: `probe-${process.pid}`, args: [steps] }));
    const sorted = [...raw].sort((a, b) => a - b);
    const tail = [...raw.slice(40)].sort((a, b) => a - b);
    console.log(JSON.stringify({ extraArgs, workerOpts, first40: raw.slice(0, 40), median: sorted[Math.floor(sorted.length / 2)], medianAfter40: tail[Math.floor(tail.length / 2)] }));
  } finally {
    await env.teardown();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
