/**
 * docs/versioning.md end to end on a real Temporal dev server: a recovery is
 * started on workflow code v1 and parked on its dangerous gate; the v1 worker
 * stops; a worker with v2 (a new step before the gate, guarded by
 * patched()) takes over the same task queue; the approval arrives and the
 * old run finishes on v2 on the OLD path, while a run started on v2 takes the
 * new one. Then the negative and the retirement: the same change without
 * patched() cannot replay the parked v1 history (DeterminismViolationError),
 * deprecatePatch (v3) and removal (v4) replay what they must, and refuse what
 * they must. The fixtures are test/fixtures/versioning/*.ts, written with the
 * real kit and the real ledger activities (stubbed).
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import type { History } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import type { LifeboatActivities } from '../../src/activities/types';
import type { RecoveryResult } from '../../src/workflows/kit';
import { approveUpdate, progressQuery, type Progress, type RecoveryInput } from '../../src/workflows/kit/defs';
import { stubActivities } from '../helpers/stubs';
import { bundle, devServerEnv, taskQueue } from '../helpers/temporal';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const FIXTURES = path.resolve(__dirname, '../fixtures/versioning');
const VERSIONS = ['v1', 'v2', 'v2-unpatched', 'v3', 'v4'] as const;
type Version = (typeof VERSIONS)[number];
const PATCH = 'snapshot-before-resync';
const CLUSTER = 'c1';

let env: TestWorkflowEnvironment;
const bundles = {} as Record<Version, WorkflowBundleWithSourceMap>;

before(async () => {
  env = await devServerEnv();
  for (const v of VERSIONS) bundles[v] = await bundle(path.join(FIXTURES, `${v}.js`));
});
after(async () => {
  await env?.teardown();
});

/** The stub activities, each call logged with the workflow that made it. */
const log: Array<{ workflowId: string; name: string; node: string }> = [];
const activities = (() => {
  const stubs = stubActivities().activities as unknown as Record<string, (a: Record<string, unknown>) => Promise<unknown>>;
  const out: Record<string, (a: Record<string, unknown>) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(stubs)) {
    out[name] = async (a) => {
      log.push({ workflowId: Context.current().info.workflowExecution?.workflowId ?? '?', name, node: String(a.node) });
      return fn(a);
    };
  }
  return out as unknown as LifeboatActivities;
})();
const calls = (workflowId: string): string[] => log.filter((c) => c.workflowId === workflowId && c.name !== 'notify').map((c) => `${c.name}:${c.node}`);

/** A worker running `version` on `tq` until stop() (which waits for it to end). */
async function startWorker(version: Version, tq: string): Promise<{ stop: () => Promise<void> }> {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: tq,
    workflowBundle: bundles[version],
    activities,
    // After this worker stops, its cached runs move to the next worker quickly.
    stickyQueueScheduleToStartTimeout: '1s',
  });
  const running = worker.run();
  return {
    stop: async () => {
      worker.shutdown();
      await running;
    },
  };
}

const input = (): RecoveryInput => ({
  scenario: 'fixture.node-resync',
  cluster: { name: CLUSTER, system: 'ledger', nodes: ['node1', 'node2', 'node3'].map((name) => ({ name, roles: ['voter'] })) },
  params: {},
  startedBy: 'bob',
});

let seq = 0;
async function start(tq: string, label: string): Promise<WorkflowHandle> {
  seq += 1;
  return env.client.workflow.start('fixtureNodeResync', { taskQueue: tq, workflowId: `versioning-${label}-${process.pid}-${seq}`, args: [input()] });
}

async function gateWaiting(h: WorkflowHandle): Promise<Progress> {
  for (let i = 0; i < 300; i++) {
    const p = await h.query(progressQuery);
    if (p.gates.some((g) => g.gate === 'resync-node' && g.status === 'waiting')) return p;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`resync-node never waited: ${JSON.stringify(await h.query(progressQuery)).slice(0, 1500)}`);
}

const approve = (h: WorkflowHandle) => h.executeUpdate(approveUpdate, { args: [{ gate: 'resync-node', by: 'alice', reason: 'node2 corrupted', confirm: CLUSTER }] });

/** The patch ids of the version markers in a history. */
/** The demo's own patch markers (the kit's, e.g. kit/visibility-memo, which every recovery records, are not this demo's). */
function patchMarkers(history: History): string[] {
  return (history.events ?? [])
    .map((e) => e.markerRecordedEventAttributes)
    .filter((m) => m?.markerName === 'core_patch')
    .map((m) => {
      // Core writes {"id": PATCH_ID, "deprecated": bool} as the marker's patch_data.
      const payload = Object.values(m!.details ?? {}).flatMap((p) => p.payloads ?? [])[0];
      const data = JSON.parse(Buffer.from(payload?.data ?? []).toString('utf8') || '{}') as { id?: string; deprecated?: boolean };
      return `${data.id ?? '?'}${data.deprecated ? ' (deprecated)' : ''}`;
    })
    .filter((id) => !id.startsWith('kit/'));
}

async function replays(version: Version, history: History, name: string): Promise<void> {
  await Worker.runReplayHistory({ workflowBundle: bundles[version], replayName: `versioning-${version}` }, history, name);
}

async function refusesReplay(version: Version, history: History, name: string): Promise<void> {
  await assert.rejects(replays(version, history, name), (err: Error) => {
    assert.ok(err instanceof DeterminismViolationError, `${version} on ${name}: ${err.name}: ${err.message}`);
    return true;
  });
}

/** Histories the first test records for the later ones. */
const recorded: { parkedOnV1?: History; oldRunDone?: History; newRunOnV2?: History } = {};

describe('versioning a workflow change with patched()', () => {
  test('a recovery parked on its gate under v1 finishes under v2 on the old path; a new run takes the new path', async () => {
    const tq = taskQueue('versioning');

    // v1 in production: the recovery reaches its dangerous gate and waits.
    const w1 = await startWorker('v1', tq);
    let old: WorkflowHandle;
    try {
      old = await start(tq, 'old');
      const p = await gateWaiting(old);
      assert.equal(p.gates[0]!.dangerous, true);
      assert.deepEqual(calls(old.workflowId), ['ledgerGetVault:node2']);
    } finally {
      await w1.stop();
    }
    recorded.parkedOnV1 = await old.fetchHistory();
    assert.deepEqual(patchMarkers(recorded.parkedOnV1), []);

    // Deploy v2 on the same task queue; the approval arrives after the deploy.
    const w2 = await startWorker('v2', tq);
    try {
      await approve(old);
      const r = (await old.result()) as RecoveryResult;
      assert.equal(r.outcome, 'v2: resynced, approved by alice, no snapshot (started before the change)');
      assert.deepEqual(calls(old.workflowId), ['ledgerGetVault:node2', 'ledgerStop:node2', 'ledgerClearData:node2', 'ledgerStart:node2'], 'the old run took no snapshot');
      recorded.oldRunDone = await old.fetchHistory();
      assert.deepEqual(patchMarkers(recorded.oldRunDone), [], 'no marker: the old run never took the patched path');

      // A run started on v2 snapshots the healthy replica before it asks.
      const fresh = await start(tq, 'new');
      const p = await gateWaiting(fresh);
      assert.equal(p.gates[0]!.evidence.snapshot, 'snap-1');
      assert.deepEqual(calls(fresh.workflowId), ['ledgerGetVault:node2', 'ledgerCreateSnapshot:node1']);
      await approve(fresh);
      const r2 = (await fresh.result()) as RecoveryResult;
      assert.equal(r2.outcome, 'v2: resynced, approved by alice, after snapshot snap-1');
      assert.deepEqual(calls(fresh.workflowId), ['ledgerGetVault:node2', 'ledgerCreateSnapshot:node1', 'ledgerStop:node2', 'ledgerClearData:node2', 'ledgerStart:node2']);
      recorded.newRunOnV2 = await fresh.fetchHistory();
      assert.deepEqual(patchMarkers(recorded.newRunOnV2), [PATCH]);
    } finally {
      await w2.stop();
    }
  });

  test('the change without patched() cannot replay the parked v1 history: DeterminismViolationError; with it, every history replays', async () => {
    const { parkedOnV1, oldRunDone, newRunOnV2 } = recorded;
    assert.ok(parkedOnV1 && oldRunDone && newRunOnV2, 'the first test recorded the histories');
    await refusesReplay('v2-unpatched', parkedOnV1, 'parked-on-v1');
    await refusesReplay('v2-unpatched', oldRunDone, 'old-run-done');
    await replays('v2', parkedOnV1, 'parked-on-v1');
    await replays('v2', oldRunDone, 'old-run-done');
    await replays('v2', newRunOnV2, 'new-run-on-v2');
    // Rolling back to v1 is not safe once a run took the new path.
    await refusesReplay('v1', newRunOnV2, 'new-run-on-v2');
  });

  test('retiring the patch: deprecatePatch (v3) once no v1 run is open, then removal (v4)', async () => {
    const { oldRunDone, newRunOnV2 } = recorded;
    assert.ok(oldRunDone && newRunOnV2, 'the first test recorded the histories');
    // v3 keeps only the new path: runs from v2 replay, a run from v1 would not (wait until none is open).
    await replays('v3', newRunOnV2, 'new-run-on-v2');
    await refusesReplay('v3', oldRunDone, 'old-run-done');

    // A run on v3 records a deprecated marker; v4 (no patch call at all) replays it.
    const tq = taskQueue('versioning-v3');
    const w3 = await startWorker('v3', tq);
    let onV3: History;
    try {
      const h = await start(tq, 'v3');
      await gateWaiting(h);
      await approve(h);
      assert.equal(((await h.result()) as RecoveryResult).outcome, 'v3: resynced, approved by alice, after snapshot snap-1');
      onV3 = await h.fetchHistory();
      assert.deepEqual(patchMarkers(onV3), [`${PATCH} (deprecated)`]);
    } finally {
      await w3.stop();
    }
    await replays('v4', onV3, 'run-on-v3');
    await replays('v3', onV3, 'run-on-v3');
    await refusesReplay('v4', oldRunDone, 'old-run-done');
    // A run from v2 (a marker that is not deprecated) needs the patch call: v4 refuses it.
    await refusesReplay('v4', newRunOnV2, 'new-run-on-v2');
  });
});
