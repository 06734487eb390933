/**
 * ledger.node-failure (seed 002, Node Recovery) on the time-skipping server
 * with stub activities: every branch of the procedure, and what it must not
 * touch.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { LedgerNodeInfo, LifeboatActivities, NodeRef } from '../../src/activities/types';
import { progressQuery, type RecoveryInput } from '../../src/workflows/kit/defs';
import type { RecoveryResult } from '../../src/workflows/kit/recovery';
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

/** A three-node ledger where `down` nodes are unreachable until a join start brings them back. */
function ledger(down: string[]) {
  const gone = new Set(down);
  const members = new Set(NODES);
  const info = async (a: NodeRef): Promise<LedgerNodeInfo> => {
    if (gone.has(a.node)) return { node: a.node, reachable: false, error: 'UNAVAILABLE' };
    const quorum = NODES.length - gone.size >= 2;
    return {
      node: a.node,
      reachable: true,
      serving: quorum,
      leader: quorum ? 'node1' : undefined,
      clusterId: 'c1',
      mode: 'cluster',
      commitIndex: 10,
      members: [...members].map((n) => ({ node: n, role: 'voter', reachable: !gone.has(n) })),
    };
  };
  const overrides: Partial<LifeboatActivities> = {
    ledgerNodeInfo: info,
    ledgerLeaveCluster: async (a) => {
      members.delete(a.leaving);
      return { plan: `LeaveCluster ${a.leaving} via ${a.node}`, dryRun: a.dryRun };
    },
    ledgerStart: async (a) => {
      if (!a.dryRun) {
        gone.delete(a.node);
        members.add(a.node);
      }
      return { plan: `start ${a.node} ${a.start.mode}`, dryRun: a.dryRun };
    },
  };
  return stubActivities(overrides);
}

function input(params: Record<string, unknown> = {}, dryRun = false): RecoveryInput {
  return {
    scenario: 'ledger.node-failure',
    cluster: { name: 'c1', system: 'ledger', nodes: NODES.map((name) => ({ name, roles: ['voter'] })) },
    params,
    startedBy: 'bob',
    dryRun,
  };
}

let seq = 0;
async function run(acts: LifeboatActivities, inp: RecoveryInput): Promise<{ result?: RecoveryResult; error?: WorkflowFailedError; progress: Awaited<ReturnType<typeof queryProgress>> }> {
  const tq = taskQueue('node-failure');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: tq, workflowBundle: await bundle(WORKFLOWS_PATH), activities: acts });
  return worker.runUntil(async () => {
    seq += 1;
    const h = await env.client.workflow.start('ledgerNodeFailure', { taskQueue: tq, workflowId: `nf-${process.pid}-${seq}`, args: [inp] });
    let result: RecoveryResult | undefined;
    let error: WorkflowFailedError | undefined;
    try {
      result = (await h.result()) as RecoveryResult;
    } catch (err) {
      error = err as WorkflowFailedError;
    }
    return { result, error, progress: await queryProgress(h) };
  });
}

function queryProgress(h: { query: (q: typeof progressQuery) => Promise<import('../../src/workflows/kit/defs').Progress> }) {
  return h.query(progressQuery);
}

describe('ledger.node-failure', () => {
  test('one node down, quorum holds: LeaveCluster via the leader, the replacement joins, verified, checklist run', async () => {
    const stubs = ledger(['node3']);
    const { result, error, progress } = await run(stubs.activities, input());
    assert.equal(error, undefined, String(error?.cause?.message));
    assert.match(result!.outcome, /Node replaced: node3 rejoined the 3-node cluster as a voter \(leader node1\)/);
    const effects = stubs.effects().filter((c) => c.name !== 'ledgerWriteRead');
    assert.deepEqual(
      effects.map((c) => [c.name, c.arg.node, (c.arg as { leaving?: string }).leaving ?? (c.arg as { start?: { mode: string } }).start?.mode]),
      [
        ['ledgerLeaveCluster', 'node1', 'node3'],
        ['ledgerStart', 'node3', 'join'],
      ],
    );
    const join = stubs.calls.find((c) => c.name === 'ledgerStart')!.arg as { start: { peers: string[] } };
    assert.deepEqual(join.start.peers, ['node1']);
    assert.ok(progress.steps.some((s) => s.title.startsWith('Verify: node3 is a voting member') && s.status === 'succeeded'));
    assert.ok(progress.steps.some((s) => s.title.startsWith('Checklist: a write and a read succeed') && s.status === 'succeeded'));
    assert.equal(progress.facts['nodes affected'], 'node3 (down)');
  });

  test('quorum lost: refuses before any effect and names ledger.quorum-loss', async () => {
    const stubs = ledger(['node2', 'node3']);
    const { error } = await run(stubs.activities, input());
    assert.ok(error instanceof WorkflowFailedError);
    assert.equal((error.cause as { type?: string }).type, 'ScenarioMismatch');
    assert.match(String(error.cause?.message), /run ledger\.quorum-loss instead/);
    assert.deepEqual(stubs.effects(), []);
  });

  test('no node down: nothing to replace, no effect', async () => {
    const stubs = ledger([]);
    const { result } = await run(stubs.activities, input());
    assert.match(result!.outcome, /Nothing to replace/);
    assert.deepEqual(stubs.effects(), []);
  });

  test('a requested node that is not down is refused with the nodes that are', async () => {
    const stubs = ledger(['node3']);
    const { error } = await run(stubs.activities, input({ node: 'node2' }));
    assert.match(String(error?.cause?.message), /node2 is not down; down: node3/);
    assert.deepEqual(stubs.effects(), []);
  });

  test('dry run: the LeaveCluster and the join are planned, not performed', async () => {
    const stubs = ledger(['node3']);
    const { progress } = await run(stubs.activities, input({}, true));
    assert.deepEqual(stubs.effects(), []);
    const details = progress.steps.map((s) => s.detail ?? '').join('\n');
    assert.match(details, /LeaveCluster node3 via node1/);
    assert.match(details, /start node3 join/);
  });
});
