/**
 * The seven training-cluster scenarios end to end on the lab's simulated
 * training cluster, as an operator drives them (the `lifeboat` CLI, a dev
 * server, a worker process): the cases of test/helpers/training-scenarios.ts,
 * which the conformance suite runs on real RingRift orchestrators.
 *
 * With LIFEBOAT_RECORD_HISTORIES=1 each run's history is written to
 * test/replay/histories/ for the replay test.
 */
import { after, before, describe, test } from 'node:test';
import type { Stack } from '../helpers/stack';
import { runTrainingCase, TRAINING_CASES, trainingStack } from '../helpers/training-scenarios';

let stack: Stack;
before(async () => {
  stack = await trainingStack('sim');
});
after(async () => {
  await stack?.stop();
});

describe('training-cluster scenarios on the simulated cluster (the cases the real orchestrators pass too)', () => {
  for (const c of TRAINING_CASES) {
    test(`${c.scenario}: ${c.fault}, ${c.gates.length ? `gates ${c.gates.join(', ')} approved, ` : ''}completed, effects counted, healthy`, async () => {
      await runTrainingCase(stack, c, { backend: 'sim', timeoutMs: 240_000, record: true });
    });
  }
});
