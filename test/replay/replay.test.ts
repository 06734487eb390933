/**
 * Replays every recorded history against today's workflow code. A change
 * that would break a recovery in flight (different commands for the same
 * history) fails here, naming the scenario and the branch; the negative case
 * proves this test can fail.
 *
 * Layout (test/helpers/history.ts):
 *   histories/<scenario-id>.json           happy path, recorded by the e2e tests
 *                                          (LIFEBOAT_RECORD_HISTORIES=1), one per catalogued scenario
 *   histories/<scenario-id>/<branch>.json  every branch of ./branches.ts, recorded by
 *                                          `node dist/test/replay/record-branches.js`
 *
 * When a workflow must change shape, guard the new code with `patched()`,
 * keep the old histories here and add new recordings: docs/versioning.md.
 * The ledger's v1 histories (before Lifeboat spoke the real server) are kept
 * as `histories/<scenario>/v1-*.json`: no recorder makes them any more, and
 * they must replay for as long as a v1 recovery may be running.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { DeterminismViolationError } from '@temporalio/workflow';
import { DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { SCENARIO_METAS } from '../../src/workflows/scenarios';
import { HAPPY_PATH, HISTORIES_DIR, historyExists, historyFile, historyName, readHistories, type RecordedHistory } from '../helpers/history';
import { bundle, WORKFLOWS_PATH } from '../helpers/temporal';
import { BRANCHES } from './branches';

const CHANGED = path.resolve(__dirname, '../fixtures/replay-changed/index.js');

// Each replay starts and stops a worker; its INFO state changes would bury the results.
Runtime.install({ logger: new DefaultLogger('WARN') });

/**
 * The workflow id a signed recovery ran under, from its signed start (its
 * statements name it, and the workflow checks them again on replay); undefined
 * for a recovery without a signed start, which replays under any id.
 */
function signedWorkflowId(history: unknown): string | undefined {
  type Start = { workflowExecutionStartedEventAttributes?: { input?: { payloads?: Array<{ data?: string }> } } };
  const data = (history as { events: Start[] }).events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
  if (!data) return undefined;
  const input = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { startSigned?: { statement?: string } };
  return input.startSigned?.statement ? (JSON.parse(input.startSigned.statement) as { workflowId?: string }).workflowId : undefined;
}

/** Replays all of `histories`; returns one line per history that does not replay, naming scenario, branch and file. */
async function replayAll(workflowBundle: WorkflowBundleWithSourceMap, histories: RecordedHistory[]): Promise<{ replayed: number; failures: Array<{ name: string; error: Error; line: string }> }> {
  const byName = new Map(histories.map((h) => [h.name, h]));
  const failures: Array<{ name: string; error: Error; line: string }> = [];
  let replayed = 0;
  // Signed recoveries replay one by one under the id they ran under (several share recovery-<cluster>).
  const signed = histories.filter((h) => signedWorkflowId(h.history) !== undefined);
  for (const h of signed) {
    replayed += 1;
    try {
      await Worker.runReplayHistory({ workflowBundle, replayName: 'lifeboat-replay' }, h.history, signedWorkflowId(h.history));
    } catch (err) {
      const e = err as Error;
      failures.push({ name: h.name, error: e, line: `scenario ${h.scenario}, branch ${h.branch} (histories/${h.file}) no longer replays: ${e.name}: ${e.message.split('\n')[0]}` });
    }
  }
  const rest = histories.filter((h) => !signed.includes(h));
  const results = Worker.runReplayHistories({ workflowBundle, replayName: 'lifeboat-replay' }, rest.map((h) => ({ workflowId: h.name, history: h.history })));
  for await (const r of results) {
    replayed += 1;
    if (r.error) {
      const h = byName.get(r.workflowId);
      const err = r.error as Error;
      failures.push({
        name: r.workflowId,
        error: err,
        line: `${h ? `scenario ${h.scenario}, branch ${h.branch} (histories/${h.file})` : r.workflowId} no longer replays: ${err.name}: ${err.message.split('\n')[0]}`,
      });
    }
  }
  return { replayed, failures };
}

describe('replay', () => {
  test('every scenario of the catalogue has a recorded happy path, and every history belongs to one', () => {
    const all = readHistories();
    const ids = SCENARIO_METAS.map((s) => s.id).sort();
    const missing = ids.filter((id) => !historyExists(id, HAPPY_PATH));
    assert.deepEqual(missing, [], `no recorded history for: ${missing.join(', ')} (run its e2e test with LIFEBOAT_RECORD_HISTORIES=1 to write ${HISTORIES_DIR}/<scenario-id>.json)`);
    const strangers = [...new Set(all.map((h) => h.scenario))].filter((s) => !ids.includes(s));
    assert.deepEqual(strangers, [], `histories of scenarios that are not in the catalogue: ${strangers.join(', ')}`);
    // A history filed under the wrong scenario would replay against the wrong expectations.
    const misfiled = all
      .map((h) => ({ h, type: (h.history as { events: Array<{ workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }> }).events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name }))
      .filter(({ h, type }) => type !== SCENARIO_METAS.find((s) => s.id === h.scenario)?.workflowType)
      .map(({ h, type }) => `histories/${h.file} is a ${type ?? 'history without a start event'}`);
    assert.deepEqual(misfiled, []);
  });

  test('every branch the recorder knows has its recorded history', () => {
    assert.ok(BRANCHES.length > 0);
    const missing = BRANCHES.filter((b) => !historyExists(b.scenario, b.branch)).map((b) => historyFile(b.scenario, b.branch));
    assert.deepEqual(missing, [], `not recorded: ${missing.join(', ')} (run node dist/test/replay/record-branches.js)`);
    const names = BRANCHES.map((b) => historyName(b.scenario, b.branch));
    assert.equal(new Set(names).size, names.length, 'branch names are unique per scenario');
  });

  test('every recorded history, happy path and branches, replays on the current workflows', async () => {
    const all = readHistories();
    assert.ok(all.length >= SCENARIO_METAS.length + BRANCHES.length, `only ${all.length} histories in ${HISTORIES_DIR}`);
    const { replayed, failures } = await replayAll(await bundle(WORKFLOWS_PATH), all);
    assert.deepEqual(failures.map((f) => f.line), [], `${failures.length} of ${all.length} histories no longer replay`);
    assert.equal(replayed, all.length);
  });

  test('a changed workflow is caught: replay reports a determinism violation naming scenario and branch', async () => {
    const quorumLoss = readHistories().filter((x) => x.scenario === 'ledger.quorum-loss');
    assert.ok(quorumLoss.some((h) => h.branch === HAPPY_PATH), 'the quorum-loss happy path is recorded');
    assert.ok(quorumLoss.some((h) => h.branch === 'v1-bootstrap-rejected'), 'the v1 quorum-loss rejected gate is recorded');
    const { replayed, failures } = await replayAll(await bundle(CHANGED), quorumLoss);
    assert.equal(replayed, quorumLoss.length);
    assert.equal(failures.length, quorumLoss.length, 'every quorum-loss history fails on the changed workflow');
    for (const f of failures) assert.ok(f.error instanceof DeterminismViolationError, `${f.name}: ${f.error.name}: ${f.error.message}`);
    const rejected = failures.find((f) => f.name === 'ledger.quorum-loss/v1-bootstrap-rejected');
    assert.match(rejected?.line ?? '', /^scenario ledger\.quorum-loss, branch v1-bootstrap-rejected \(histories\/ledger\.quorum-loss\/v1-bootstrap-rejected\.json\) no longer replays: DeterminismViolationError/);
  });
});
