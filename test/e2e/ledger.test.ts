/**
 * The five ledger scenarios end to end on the lab's simulated ledger, as an
 * operator drives them (the `lifeboat` CLI, a dev server, a worker process):
 * the cases of test/helpers/ledger-scenarios.ts, which the conformance suite
 * runs on real inferadb-ledger processes.
 *
 * With LIFEBOAT_RECORD_HISTORIES=1 each run's history is written to
 * test/replay/histories/<scenario>.json for the replay test.
 */
import { after, describe, test } from 'node:test';
import { caseStack, LEDGER_CASES, runCase } from '../helpers/ledger-scenarios';
import type { Stack } from '../helpers/stack';

let stack: Stack | undefined;
after(async () => {
  await stack?.stop();
});

describe('ledger scenarios on the simulated ledger', () => {
  for (const c of LEDGER_CASES) {
    test(`${c.scenario}: ${c.fault}, ${c.gates.length ? `gates ${c.gates.join(', ')} approved, ` : ''}completed, effects once, healthy with its data`, async () => {
      stack = await caseStack(c, 'sim');
      try {
        await runCase(stack, c, { timeoutMs: 180_000, record: true });
      } finally {
        await stack.stop();
        stack = undefined;
      }
    });
  }
});
