/**
 * The train-server scenarios end to end on the lab's simulated storage, as an
 * operator drives them: the `lifeboat` CLI against a real Temporal dev
 * server, a worker process, and the lab's train server (real SSH, real bash
 * setup scripts with their questions, a real restic repository). The cases
 * are test/helpers/train-server-scenarios.ts: the conformance suite runs the
 * same ones on real BTRFS (test/conformance/train-server-scenarios.test.ts).
 *
 * With LIFEBOAT_RECORD_HISTORIES=1 each scenario's history is written to
 * test/replay/histories/ for the replay test.
 */
import { after, describe, test } from 'node:test';
import type { Stack } from '../helpers/stack';
import { runTrainCase, TRAIN_CASES, trainStack } from '../helpers/train-server-scenarios';

let stack: Stack | undefined;
after(async () => {
  await stack?.stop();
});

describe('train-server recoveries end to end through the CLI (simulated storage)', () => {
  for (const c of TRAIN_CASES) {
    test(c.name, async () => {
      stack = await trainStack('sim');
      try {
        await runTrainCase(stack, c, { timeoutMs: 180_000 });
      } finally {
        await stack.stop();
        stack = undefined;
      }
    });
  }
});
