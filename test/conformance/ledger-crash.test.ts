/**
 * A worker SIGKILLed in the middle of a recovery of the REAL inferadb ledger
 * (21345c4): quorum loss, killed while the data is being re-created in the
 * new cluster; a fresh worker completes the recovery, the cluster is healthy,
 * and nothing was done twice (each node's unit started once, one `init`, the
 * survivor stopped once), as the crash matrix proves on the simulation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CRASH_CASES, runCrashCase } from '../helpers/crash';

test('ledger.quorum-loss on real inferadb-ledger: the worker killed mid-import, a fresh worker completes it, nothing done twice', async () => {
  const base = CRASH_CASES.find((c) => c.id === 'ledger.quorum-loss@activity');
  assert.ok(base, 'the crash matrix has ledger.quorum-loss@activity');
  const r = await runCrashCase({ ...base, ledgerBackend: 'real', timeoutMs: 20 * 60_000 });
  assert.match(r.killedAt, /Re-create the data in it/, `killed at: ${r.killedAt}`);
  assert.equal(r.status, 'completed', `${r.status}: ${r.outcome ?? ''}`);
  assert.ok(r.labHealthy, 'the real cluster is healthy afterwards');
  assert.deepEqual(r.repeated, [], `no non-idempotent effect twice: ${JSON.stringify(r.effectCounts)}`);
  assert.equal(Object.values(r.effectCounts['ledger.init'] ?? {}).reduce((a, b) => a + b, 0), 1, 'one new cluster');
  assert.ok(r.retryGapMs !== undefined && r.retryGapMs <= 22_000, `retried ${String(r.retryGapMs)} ms after the SIGKILL`);
});
