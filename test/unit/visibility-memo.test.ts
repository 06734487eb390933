/**
 * The recovery's memo (src/workflows/kit/memo.ts) and how `approvals` and
 * `list` read it (src/client.ts): what an approver needs, bounded in size,
 * decoded through the payload codec, and the progress query kept only for
 * recoveries started before the memo, with today's message when no worker
 * answers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { encodeUnifiedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow/data-converter-helpers';
import { listApprovals, listRecoveries } from '../../src/client';
import { AesGcmCodec, parseKey } from '../../src/codec';
import { SA_AWAITING_APPROVAL, SA_CLUSTER, SA_SCENARIO, SA_STEP, type GateRecord, type Progress } from '../../src/workflows/kit/defs';
import { MEMO_KEY, MEMO_LIMITS, recoveryMemo, type RecoveryMemo } from '../../src/workflows/kit/memo';

function gate(over: Partial<GateRecord> = {}): GateRecord {
  return {
    gate: 'single-node-bootstrap',
    title: 'Start node1 alone as a new cluster',
    dangerous: true,
    status: 'waiting',
    requestedAt: '2026-12-06T10:00:00.000Z',
    deadline: '2026-12-06T10:30:00.000Z',
    evidence: { survivor: 'node1', 'commit index': '1042' },
    escalations: 0,
    attempt: 1,
    evidenceDigest: `sha256:${'a'.repeat(64)}`,
    ...over,
  };
}

function progress(over: Partial<Progress> = {}): Progress {
  return {
    scenario: 'ledger.quorum-loss',
    title: 'Ledger quorum loss',
    seed: '001',
    cluster: 'ledger-prod',
    startedBy: 'alice',
    startedAt: '2026-12-06T09:58:00.000Z',
    dryRun: false,
    status: 'waiting-approval',
    currentStep: 'Stop surviving nodes',
    steps: [],
    gates: [gate()],
    rto: { targetMinutes: 30, maxMinutes: 60 },
    elapsedMs: 0,
    timeline: [],
    facts: {},
    ...over,
  };
}

describe('the memo of a recovery', () => {
  test('carries each waiting gate with what the approver needs and the exact commands', () => {
    const m = recoveryMemo(
      progress({ gates: [gate({ gate: 'old', status: 'approved' }), gate({ choices: ['node1', 'node2'], required: 2, approvals: [{ by: 'bob', at: 'x', reason: 'ok' }] })] }),
      'recovery-ledger-prod',
    );
    assert.equal(m.v, 1);
    assert.equal(m.status, 'waiting-approval');
    assert.equal(m.startedBy, 'alice');
    assert.equal('step' in m, false, 'the step is a search attribute: the memo changes only with the status, a gate or a decision');
    assert.equal(m.gates.length, 1, 'answered gates are not listed');
    const g = m.gates[0]!;
    assert.equal(g.approve, 'lifeboat approve recovery-ledger-prod single-node-bootstrap --as NAME --reason "TEXT" --confirm ledger-prod --choice node1|node2');
    assert.equal(g.reject, 'lifeboat reject recovery-ledger-prod single-node-bootstrap --as NAME --reason "TEXT"');
    assert.deepEqual(g.evidence, { survivor: 'node1', 'commit index': '1042' });
    assert.equal(g.evidenceNote, undefined);
    assert.equal(g.evidenceDigest, `sha256:${'a'.repeat(64)}`);
    assert.equal(g.required, 2);
    assert.deepEqual(g.approvedBy, ['bob']);
    assert.equal(g.deadline, '2026-12-06T10:30:00.000Z');
  });

  test('a pending decision comes with its command', () => {
    const m = recoveryMemo(progress({ gates: [], status: 'waiting-decision', pendingDecision: { stepId: 3, step: 'approval of "x" timed out', error: 'nobody', since: 't', choices: ['retry', 'abort'] } }), 'recovery-c');
    assert.equal(m.decision?.command, 'lifeboat decide recovery-c retry|abort --as NAME');
  });

  test('is bounded: long evidence is shortened with a note naming where the whole of it is', () => {
    const evidence: Record<string, string> = {};
    for (let i = 0; i < 40; i++) evidence[`node${i} state`.padEnd(200, '.')] = 'x'.repeat(5000);
    const m = recoveryMemo(progress({ title: 'T'.repeat(5000), gates: [gate({ evidence, title: 'G'.repeat(5000) })] }), 'recovery-big');
    const g = m.gates[0]!;
    assert.ok(Object.keys(g.evidence).length <= MEMO_LIMITS.evidenceEntries);
    const total = Object.entries(g.evidence).reduce((n, [k, v]) => n + k.length + v.length, 0);
    assert.ok(total <= MEMO_LIMITS.evidenceTotal, `evidence ${total} chars`);
    assert.match(g.evidenceNote ?? '', /evidence shortened for the listing \(\d+ value\(s\) shortened, \d+ of 40 entries left out\); the whole of it: lifeboat watch recovery-big --once/);
    assert.ok(g.title.length <= MEMO_LIMITS.text);
    assert.ok(JSON.stringify(m).length < 8000, `memo of ${JSON.stringify(m).length} chars`);
  });

  test('is the same for the same progress (the workflow writes only a change)', () => {
    assert.equal(JSON.stringify(recoveryMemo(progress(), 'w')), JSON.stringify(recoveryMemo(progress(), 'w')));
  });
});

/** A visibility record as the server returns it. */
function execution(workflowId: string, memo: Payload | undefined, cluster: string) {
  return {
    execution: { workflowId, runId: `run-${workflowId}` },
    type: { name: 'ledgerQuorumLoss' },
    status: 1,
    startTime: { seconds: 1_800_000_000, nanos: 0 },
    searchAttributes: {
      indexedFields: encodeUnifiedSearchAttributes(undefined, [
        { key: SA_SCENARIO, value: 'ledger.quorum-loss' },
        { key: SA_CLUSTER, value: cluster },
        { key: SA_STEP, value: 'Stop surviving nodes' },
        { key: SA_AWAITING_APPROVAL, value: true },
      ]),
    },
    memo: memo ? { fields: { [MEMO_KEY]: memo } } : undefined,
  };
}

/** A client whose visibility holds `executions` and whose queries `query` answers (or that no worker answers). */
function fakeClient(executions: unknown[], opts: { codec?: AesGcmCodec; query?: (id: string) => Promise<Progress> }) {
  const calls = { list: 0, query: [] as string[] };
  const client = {
    options: { namespace: 'default', loadedDataConverter: loadDataConverter(opts.codec ? { payloadCodecs: [opts.codec] } : undefined) },
    workflowService: {
      async listWorkflowExecutions() {
        calls.list++;
        return { executions, nextPageToken: new Uint8Array() };
      },
    },
    withDeadline: (_d: number, fn: () => Promise<unknown>) => fn(),
    workflow: {
      getHandle: (id: string) => ({
        query: async () => {
          calls.query.push(id);
          if (!opts.query) throw Object.assign(new Error('deadline exceeded'), { code: 4 });
          return opts.query(id);
        },
      }),
    },
  };
  return { client: client as unknown as Client, calls };
}

const memoOf = (id: string, cluster: string): RecoveryMemo => recoveryMemo(progress({ cluster }), id);

describe('approvals and list from the memo', () => {
  test('one listing, no query, for recoveries that carry a memo; the progress query only for those without', async () => {
    const withMemo = execution('recovery-a', defaultPayloadConverter.toPayload(memoOf('recovery-a', 'a')), 'a');
    const before = execution('recovery-b', undefined, 'b');
    const { client, calls } = fakeClient([withMemo, before], {});
    const { approvals, unreadable } = await listApprovals(client);
    assert.equal(calls.list, 1);
    assert.deepEqual(calls.query, ['recovery-b'], 'only the recovery started before the memo is queried');
    assert.equal(approvals.length, 1);
    assert.equal(approvals[0]!.source, 'memo');
    assert.equal(approvals[0]!.approveCommand, 'lifeboat approve recovery-a single-node-bootstrap --as NAME --reason "TEXT" --confirm a');
    assert.equal(unreadable.length, 1);
    assert.match(unreadable[0]!.error, /^could not read its progress for recovery-b: no worker answered/, 'the message of today when no worker answers');

    const rows = await listRecoveries(client);
    assert.deepEqual(rows.map((r) => [r.workflowId, r.startedBy, r.state, r.awaitingApproval, r.cluster, r.status]), [
      ['recovery-a', 'alice', 'waiting-approval', true, 'a', 'RUNNING'],
      ['recovery-b', undefined, undefined, true, 'b', 'RUNNING'],
    ]);
    assert.deepEqual(calls.query, ['recovery-b'], 'list asks no worker');
  });

  test('a recovery without a memo whose worker answers is listed from its progress, as before', async () => {
    const { client } = fakeClient([execution('recovery-b', undefined, 'b')], { query: async () => progress({ cluster: 'b' }) });
    const { approvals, unreadable } = await listApprovals(client);
    assert.deepEqual(unreadable, []);
    assert.equal(approvals[0]?.source, 'query');
    assert.equal(approvals[0]?.approveCommand, 'lifeboat approve recovery-b single-node-bootstrap --as NAME --reason "TEXT" --confirm b');
  });

  test('an encrypted memo is decoded through the payload codec; without the key it is not shown', async () => {
    const codec = new AesGcmCodec(parseKey(randomBytes(32).toString('base64'), 'test'), []);
    const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload(memoOf('recovery-a', 'a'))]);
    assert.notEqual(encrypted!.metadata?.encoding?.toString(), 'json/plain');
    const withKey = fakeClient([execution('recovery-a', encrypted, 'a')], { codec });
    const r = await listApprovals(withKey.client);
    assert.equal(r.approvals.length, 1);
    assert.equal(r.approvals[0]!.evidence.survivor, 'node1');
    assert.deepEqual(withKey.calls.query, []);

    const noKey = fakeClient([execution('recovery-a', encrypted, 'a')], {});
    const rows = await listRecoveries(noKey.client);
    assert.equal(rows[0]?.workflowId, 'recovery-a', 'the row is still listed from its search attributes');
    assert.equal(rows[0]?.startedBy, undefined);
    const n = await listApprovals(noKey.client);
    assert.equal(n.approvals.length, 0);
    assert.equal(n.unreadable.length, 1, 'reported, not hidden');
  });
});
