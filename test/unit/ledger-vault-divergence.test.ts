/**
 * ledger.vault-divergence (seed 002, Data Corruption Recovery) on the
 * time-skipping server with stub activities: RecoverVault first; when it
 * fails, a healthy replica, a snapshot, the gated resync of the corrupted
 * node; and what must not happen on each branch.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { LifeboatActivities } from '../../src/activities/types';
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

/** node2's payments vault is DIVERGED; `recoverable` decides whether RecoverVault repairs it; `healthy` which replicas pass integrity. */
function ledger(opts: { recoverable: boolean; healthy?: string[]; status?: string }) {
  const status = new Map<string, string>([['node2', opts.status ?? 'DIVERGED']]);
  const healthy = new Set(opts.healthy ?? ['node1', 'node3']);
  const overrides: Partial<LifeboatActivities> = {
    ledgerDeterminismBugs: async (a) => ({ node: a.node, reachable: true, bugs: a.node === 'node2' ? [{ organization: '1', vault: 'payments', count: 1 }] : [] }),
    ledgerGetVault: async (a) => ({ organization: a.organization, vault: a.vault, status: status.get(a.node) ?? 'ACTIVE', height: 7 }),
    ledgerRecoverVault: async (a) => {
      if (opts.recoverable && !a.dryRun) status.set(a.node, 'ACTIVE');
      return { plan: `RecoverVault ${a.vault} on ${a.node}`, dryRun: a.dryRun, recovered: opts.recoverable, status: status.get(a.node) };
    },
    ledgerCheckIntegrity: async (a) => {
      const ok = a.node === 'node2' ? status.get('node2') === 'ACTIVE' : healthy.has(a.node);
      return { organization: a.organization, vault: a.vault, ok, blocksChecked: 7, problems: ok ? [] : ['block 2 hash mismatch'] };
    },
    ledgerStart: async (a) => {
      if (a.node === 'node2' && !a.dryRun) status.set('node2', 'ACTIVE'); // resynced from the healthy replica
      return { plan: `start ${a.node} ${a.start.mode}`, dryRun: a.dryRun };
    },
  };
  return stubActivities(overrides);
}

function input(params: Record<string, unknown> = {}): RecoveryInput {
  return {
    scenario: 'ledger.vault-divergence',
    cluster: { name: 'c1', system: 'ledger', nodes: NODES.map((name) => ({ name, roles: ['voter'] })) },
    params,
    startedBy: 'bob',
  };
}

let seq = 0;
async function withWorker<T>(acts: LifeboatActivities, fn: (h: WorkflowHandle) => Promise<T>, inp = input()): Promise<T> {
  const tq = taskQueue('divergence');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: tq, workflowBundle: await bundle(WORKFLOWS_PATH), activities: acts });
  return worker.runUntil(async () => {
    seq += 1;
    const h = await env.client.workflow.start('ledgerVaultDivergence', { taskQueue: tq, workflowId: `vd-${process.pid}-${seq}`, args: [inp] });
    return fn(h);
  });
}

async function until(h: WorkflowHandle, pred: (p: Progress) => boolean): Promise<Progress> {
  for (let i = 0; i < 200; i++) {
    const p = await h.query(progressQuery);
    if (pred(p)) return p;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not reached: ${JSON.stringify(await h.query(progressQuery)).slice(0, 1500)}`);
}

const names = (stubs: ReturnType<typeof stubActivities>) =>
  stubs
    .effects()
    .filter((c) => c.name !== 'ledgerWriteRead')
    .map((c) => `${c.name}:${String(c.arg.node)}`);

describe('ledger.vault-divergence', () => {
  test('RecoverVault repairs the diverged vault: no snapshot, no gate, no node disturbed', async () => {
    const stubs = ledger({ recoverable: true });
    const r = await withWorker(stubs.activities, (h) => h.result());
    assert.match(r.outcome, /Vault divergence resolved: 1\/payments on node2: RecoverVault/);
    assert.deepEqual(names(stubs), ['ledgerRecoverVault:node2']);
  });

  test('RecoverVault fails: healthy replica, snapshot, gated resync of the corrupted node, verified', async () => {
    const stubs = ledger({ recoverable: false });
    const r = await withWorker(stubs.activities, async (h) => {
      const p = await until(h, (x) => x.gates.some((g) => g.gate === 'resync-corrupted-node' && g.status === 'waiting'));
      const gate = p.gates.find((g) => g.gate === 'resync-corrupted-node')!;
      assert.equal(gate.dangerous, true);
      assert.equal(gate.evidence['healthy replica'], 'node1');
      // Nothing was removed before the approval.
      assert.deepEqual(names(stubs), ['ledgerRecoverVault:node2', 'ledgerCreateSnapshot:node1']);
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'resync-corrupted-node', by: 'alice', reason: 'node2 diverged', confirm: 'c1' }] });
      return h.result();
    });
    assert.match(r.outcome, /resynced from a healthy replica/);
    assert.deepEqual(names(stubs), [
      'ledgerRecoverVault:node2',
      'ledgerCreateSnapshot:node1',
      'ledgerLeaveCluster:node1',
      'ledgerStop:node2',
      'ledgerClearData:node2',
      'ledgerStart:node2',
    ]);
    const leave = stubs.calls.find((c) => c.name === 'ledgerLeaveCluster')!.arg as { leaving: string };
    assert.equal(leave.leaving, 'node2');
  });

  test('a rejected resync gate ends the recovery and the corrupted node is left untouched', async () => {
    const stubs = ledger({ recoverable: false });
    const err = await withWorker(stubs.activities, async (h) => {
      await until(h, (x) => x.gates.some((g) => g.status === 'waiting'));
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'resync-corrupted-node', by: 'alice', reason: 'investigate first' }] });
      return h.result().then(() => undefined, (e: unknown) => e);
    });
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as { type?: string }).type, 'GateRejected');
    assert.deepEqual(names(stubs), ['ledgerRecoverVault:node2', 'ledgerCreateSnapshot:node1']);
  });

  test('no healthy replica: fails before any removal and points at ledger.full-restore', async () => {
    const stubs = ledger({ recoverable: false, healthy: [] });
    const err = await withWorker(stubs.activities, (h) => h.result().then(() => undefined, (e: unknown) => e));
    assert.ok(err instanceof WorkflowFailedError);
    assert.equal((err.cause as { type?: string }).type, 'NoHealthyReplica');
    assert.match(String(err.cause?.message), /ledger\.full-restore/);
    assert.deepEqual(names(stubs), ['ledgerRecoverVault:node2']);
  });

  test('a counted divergence whose vault is ACTIVE again: reported, nothing done', async () => {
    const stubs = ledger({ recoverable: true, status: 'ACTIVE' });
    const r = await withWorker(stubs.activities, (h) => h.result());
    assert.match(r.outcome, /No vault is DIVERGED now/);
    assert.deepEqual(stubs.effects(), []);
  });
});
