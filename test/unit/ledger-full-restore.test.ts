/**
 * ledger.full-restore (seed 002, Total Loss) on the time-skipping server
 * with stub activities: the two dangerous gates, what runs before and after
 * each, and the refusals that protect a cluster that is not totally lost.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { LedgerNodeInfo, LifeboatActivities, NodeRef } from '../../src/activities/types';
import { approveUpdate, progressQuery, rejectUpdate, type Progress, type RecoveryInput } from '../../src/workflows/kit/defs';
import { stubActivities } from '../helpers/stubs';
import { bundle, taskQueue, timeSkippingEnv, WORKFLOWS_PATH } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await timeSkippingEnv();
  await bundle(WORKFLOWS_PATH);
});
after(async () => {
  await env?.teardown();
});

const NODES = ['node1', 'node2', 'node3'];

/** Every node down until started; `alive` nodes answer from the start. */
function ledger(opts: { alive?: string[]; backup?: boolean } = {}) {
  const up = new Map<string, string>((opts.alive ?? []).map((n) => [n, 'cluster']));
  const overrides: Partial<LifeboatActivities> = {
    ledgerNodeInfo: async (a: NodeRef): Promise<LedgerNodeInfo> => {
      const mode = up.get(a.node);
      if (!mode) return { node: a.node, reachable: false, error: 'UNAVAILABLE' };
      return { node: a.node, reachable: true, serving: true, leader: 'node1', clusterId: 'new', mode: mode as 'single' | 'cluster', members: [] };
    },
    ledgerBackupInfo: async (a) => (opts.backup === false ? { source: a.source, exists: false } : { source: a.source, exists: true, sizeBytes: 4096, takenAt: '2026-11-22T02:00:00Z' }),
    ledgerStart: async (a) => {
      if (!a.dryRun) up.set(a.node, a.start.mode === 'single' ? 'single' : 'cluster');
      return { plan: `start ${a.node} ${a.start.mode}${'dataDir' in a.start && a.start.dataDir ? ` ${a.start.dataDir}` : ''}`, dryRun: a.dryRun };
    },
  };
  return stubActivities(overrides);
}

function input(params: Record<string, unknown> = {}): RecoveryInput {
  return { scenario: 'ledger.full-restore', cluster: { name: 'c1', system: 'ledger', nodes: NODES.map((name) => ({ name, roles: ['voter'] })) }, params, startedBy: 'bob' };
}

let seq = 0;
async function withWorker<T>(acts: LifeboatActivities, fn: (h: WorkflowHandle) => Promise<T>, inp = input()): Promise<T> {
  const tq = taskQueue('full-restore');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: tq, workflowBundle: await bundle(WORKFLOWS_PATH), activities: acts });
  return worker.runUntil(async () => {
    seq += 1;
    return fn(await env.client.workflow.start('ledgerFullRestore', { taskQueue: tq, workflowId: `fr-${process.pid}-${seq}`, args: [inp] }));
  });
}

async function gateWaiting(h: WorkflowHandle, gate: string): Promise<Progress> {
  for (let i = 0; i < 200; i++) {
    const p = await h.query(progressQuery);
    if (p.gates.some((g) => g.gate === gate && g.status === 'waiting')) return p;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gate ${gate} never waited: ${JSON.stringify(await h.query(progressQuery)).slice(0, 1500)}`);
}

const effects = (s: ReturnType<typeof stubActivities>) =>
  s
    .effects()
    .filter((c) => c.name !== 'ledgerWriteRead')
    .map((c) => `${c.name}:${String(c.arg.node)}${c.name === 'ledgerStart' ? `:${(c.arg.start as { mode: string }).mode}` : ''}`);

describe('ledger.full-restore', () => {
  test('fetch, gate, --single on the restored data, verify, gate, expand, checklist; RPO recorded', async () => {
    const stubs = ledger();
    const r = await withWorker(stubs.activities, async (h) => {
      const p1 = await gateWaiting(h, 'new-cluster-identity');
      assert.equal(p1.gates[0]!.dangerous, true);
      assert.equal(p1.gates[0]!.evidence['taken at'], '2026-11-22T02:00:00Z');
      assert.deepEqual(effects(stubs), ['ledgerFetchBackup:node1']);
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'new-cluster-identity', by: 'alice', reason: 'all gone', confirm: 'c1' }] });
      await gateWaiting(h, 'clear-new-nodes');
      assert.deepEqual(effects(stubs), ['ledgerFetchBackup:node1', 'ledgerStart:node1:single']);
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'clear-new-nodes', by: 'alice', reason: 'new machines', confirm: 'c1' }] });
      return h.result();
    });
    assert.match(r.outcome, /Cluster restored from backup \(taken 2026-11-22T02:00:00Z, RPO gap .+\): 3 nodes, 1 vault/);
    const all = effects(stubs);
    // The two wipes run in parallel: their order is not part of the contract.
    assert.deepEqual([...all.slice(0, 3), ...all.slice(3, 5).sort(), ...all.slice(5)], [
      'ledgerFetchBackup:node1',
      'ledgerStart:node1:single',
      'ledgerStop:node1',
      'ledgerClearData:node2',
      'ledgerClearData:node3',
      'ledgerStart:node1:cluster',
      'ledgerStart:node2:join',
      'ledgerStart:node3:join',
    ]);
    const single = stubs.calls.find((c) => c.name === 'ledgerStart')!.arg as { start: { dataDir?: string } };
    assert.equal(single.start.dataDir, '/data/restore', 'the single node runs on the restored directory');
  });

  test('a node still answers: refused before any effect, naming the right procedures', async () => {
    const stubs = ledger({ alive: ['node2'] });
    const err = await withWorker(stubs.activities, (h) => h.result().then(() => undefined, (e: unknown) => e));
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as { type?: string }).type, 'ScenarioMismatch');
    assert.match(String(err.cause?.message), /node2 still answers.*ledger\.quorum-loss.*ledger\.node-failure/);
    assert.deepEqual(stubs.effects(), []);
  });

  test('no backup at the source: fails with what to pass, nothing fetched', async () => {
    const stubs = ledger({ backup: false });
    const err = await withWorker(stubs.activities, (h) => h.result().then(() => undefined, (e: unknown) => e), input({ backup: 's3://ledger-backups/2026-11-21/snapshot.tar.gz' }));
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as { type?: string }).type, 'BackupMissing');
    assert.match(String(err.cause?.message), /--set backup=s3:/);
    assert.deepEqual(stubs.effects(), []);
  });

  test('rejecting the new cluster identity ends the recovery with the backup fetched and nothing started', async () => {
    const stubs = ledger();
    const err = await withWorker(stubs.activities, async (h) => {
      await gateWaiting(h, 'new-cluster-identity');
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'new-cluster-identity', by: 'alice', reason: 'node3 may come back' }] });
      return h.result().then(() => undefined, (e: unknown) => e);
    });
    assert.equal(((err as WorkflowFailedError).cause as { type?: string }).type, 'GateRejected');
    assert.deepEqual(effects(stubs), ['ledgerFetchBackup:node1']);
  });
});
