/**
 * Replays every recorded history (test/replay/histories/*.json, written by
 * the e2e test with LIFEBOAT_RECORD_HISTORIES=1) against today's workflow
 * code. A change that would break a recovery in flight (different commands
 * for the same history) fails here, naming the workflow; the negative case
 * proves this test can fail.
 *
 * When a workflow must change shape, guard the new code with `patched()`
 * (see the Temporal docs on versioning), keep the old histories here, and
 * add a new recording.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { DeterminismViolationError } from '@temporalio/workflow';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { SCENARIO_METAS } from '../../src/workflows/scenarios';
import { bundle, WORKFLOWS_PATH } from '../helpers/temporal';

const DIR = path.resolve(__dirname, '../../../test/replay/histories');
const CHANGED = path.resolve(__dirname, '../fixtures/replay-changed/index.js');

// Each replay starts and stops a worker; its INFO state changes would bury the results.
Runtime.install({ logger: new DefaultLogger('WARN') });

function histories(): Array<{ file: string; workflowId: string; history: unknown }> {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
  return files.map((file) => ({ file, workflowId: file.replace(/\.json$/, ''), history: JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as unknown }));
}

describe('replay', () => {
  test('every scenario of the catalogue has a recorded history', () => {
    const names = histories().map((h) => h.workflowId);
    assert.deepEqual(names, SCENARIO_METAS.map((s) => s.id).sort());
  });

  test('every recorded history replays on the current workflows', async () => {
    const all = histories();
    assert.ok(all.length > 0, `no histories in ${DIR}`);
    const workflowBundle = await bundle(WORKFLOWS_PATH);
    const results = Worker.runReplayHistories({ workflowBundle, replayName: 'lifeboat-replay' }, all.map((h) => ({ workflowId: h.workflowId, history: h.history })));
    let n = 0;
    for await (const r of results) {
      n += 1;
      assert.equal(r.error, undefined, `${r.workflowId} no longer replays: ${String(r.error)}`);
    }
    assert.equal(n, all.length);
  });

  test('a changed workflow is caught: replay reports a determinism violation', async () => {
    const h = histories().find((x) => x.workflowId === 'ledger.quorum-loss');
    assert.ok(h, 'the quorum-loss history is recorded');
    const workflowBundle = await bundle(CHANGED);
    await assert.rejects(Worker.runReplayHistory({ workflowBundle, replayName: 'lifeboat-replay-changed' }, h.history, h.workflowId), (err: Error) => {
      assert.ok(err instanceof DeterminismViolationError, `${err.name}: ${err.message}`);
      return true;
    });
  });
});
