/**
 * The five ledger scenarios against REAL inferadb-ledger processes (21345c4),
 * driven as an operator drives them: the same cases as test/e2e/ledger.test.ts
 * (test/helpers/ledger-scenarios.ts), with the faults made for real by the
 * lab's real backend (kill -9 of server processes, data directories removed,
 * a vault made to diverge through the server's own SimulateDivergence).
 * Needs the binary (LIFEBOAT_LEDGER_BIN or ../shared/targets/...): without
 * it each case fails saying how to build one.
 */
import { after, describe, test } from 'node:test';
import { caseStack, LEDGER_CASES, runCase } from '../helpers/ledger-scenarios';
import type { Stack } from '../helpers/stack';

let stack: Stack | undefined;
after(async () => {
  await stack?.stop();
});

describe('ledger scenarios on real inferadb-ledger processes', () => {
  for (const c of LEDGER_CASES) {
    test(`${c.scenario} (real server): ${c.fault}, ${c.gates.length ? `gates ${c.gates.join(', ')} approved, ` : ''}completed, effects once, healthy with its data`, async () => {
      stack = await caseStack(c, 'real');
      try {
        // Elections on the real server take minutes.
        await runCase(stack, c, { timeoutMs: 15 * 60_000 });
      } finally {
        await stack.stop();
        stack = undefined;
      }
    });
  }
});
