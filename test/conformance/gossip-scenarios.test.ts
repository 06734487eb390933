/**
 * The six gossip scenarios against REAL memberlist-plumtree 0.1.6 nodes
 * (plumtree-node: the library with Lifeboat's control API, each node in its
 * own network namespace on a switch the lab makes), driven as an operator
 * drives them: the same cases as test/e2e/gossip.test.ts
 * (test/helpers/gossip-scenarios.ts), with the faults made for real by the
 * lab's real backend (links cut and healed, a split switch, kill -9,
 * damaged sled stores, messages broadcast on both sides of a cut).
 * Needs root and plumtree-node (built by `npm run setup` with Rust >= 1.89):
 * without them each case fails saying how to get them.
 */
import { after, before, describe, test } from 'node:test';
import { GOSSIP_CASES, REAL, runCase } from '../helpers/gossip-scenarios';
import { startStack, type Stack } from '../helpers/stack';

let stack: Stack | undefined;
let startError: Error | undefined;
before(async () => {
  try {
    stack = await startStack({ families: ['gossip'], bootMs: 300, gossipBackend: 'real' });
  } catch (err) {
    startError = err as Error;
  }
});
after(async () => {
  await stack?.stop();
});

describe('gossip scenarios on real memberlist-plumtree nodes', () => {
  for (const c of GOSSIP_CASES) {
    test(`${c.name} (real nodes)`, { timeout: 240_000 }, async () => {
      if (!stack) throw new Error(`the stack with real gossip nodes did not start: ${startError?.message ?? '?'}`);
      await runCase(stack, c, { timeoutMs: 180_000, timeScale: REAL, real: true });
    });
  }
});
