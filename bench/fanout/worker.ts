/**
 * bench/fanout's worker, a process of its own so that its RSS is the
 * worker's alone: the bench's workflow bundle (built by run.ts, loaded from
 * a file), the stub activities every recovery frame may call, and
 * `fleetRestart`. Prints `ready` once polling; stops on SIGTERM.
 *
 *   node dist/bench/fanout/worker.js --address 127.0.0.1:PORT --task-queue Q --bundle FILE
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { stubActivities } from '../../test/helpers/stubs';
import { fleetRestart, pool } from './activities';

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`bench/fanout worker: --${name} is required`);
  return v;
}

async function main(): Promise<void> {
  const connection = await NativeConnection.connect({ address: arg('address') });
  const worker = await Worker.create({
    connection,
    taskQueue: arg('task-queue'),
    workflowBundle: { codePath: arg('bundle') },
    activities: { ...stubActivities().activities, fleetRestart },
    // As src/worker.ts runs recoveries.
    stickyQueueScheduleToStartTimeout: '3s',
    shutdownGraceTime: '10s',
  });
  process.once('SIGTERM', () => worker.shutdown());
  process.once('SIGINT', () => worker.shutdown());
  const running = worker.run();
  console.log('ready');
  try {
    await running;
  } finally {
    await pool.closeAll();
    await connection.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
