/**
 * Many recoveries parked on a gate, more than the worker keeps in its cache,
 * then the worker stopped: `lifeboat approvals` still lists every gate with
 * its approve command, and `lifeboat list` every recovery, from Temporal's
 * visibility alone (issue 18). Before, each gate was read through a query
 * that a worker had to answer: with no worker every one was "could not read
 * its progress", and with recoveries beyond the cache many timed out.
 *
 * The lab's gossip cluster listed 60 times (test/helpers/parked.ts), a worker
 * with a cache of 20 (LIFEBOAT_MAX_CACHED_WORKFLOWS).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { getProgress, type PendingApproval, type RecoveryRow } from '../../src/client';
import { parkCluster, PARK_GATE, PARK_SCENARIO, PARK_STARTER, startParked, waitParked, writeParkInventory } from '../helpers/parked';
import { startStack, type Stack } from '../helpers/stack';

const N = 60;
const CACHE = 20;
/** What one CLI call may take on CI's loaded 2-core machine (node start included); the listing itself is well under 2 s. */
const CLI_BOUND_MS = 20_000;

let stack: Stack;
let inventory: string;
before(async () => {
  stack = await startStack({ families: ['gossip'], bootMs: 300, worker: false });
  inventory = writeParkInventory(stack, N);
});
after(async () => {
  await stack?.stop();
});

describe('approvals and list from visibility, with the worker stopped', () => {
  test(`${N} recoveries parked beyond a worker cache of ${CACHE}: approvals lists every gate, list every recovery`, { timeout: 240_000 }, async () => {
    await stack.lab.break('gossip.total-loss');
    const worker = stack.startWorker({ env: { LIFEBOAT_INVENTORY: inventory, LIFEBOAT_MAX_CACHED_WORKFLOWS: String(CACHE) } });
    await worker.ready;
    assert.match(worker.output(), new RegExp(`cache ${CACHE} recoveries`), 'the worker took the cache size from LIFEBOAT_MAX_CACHED_WORKFLOWS');
    const ids = await startParked(stack.client, inventory, N);
    await waitParked(stack.client, N, 150_000);
    await worker.stop();
    // No worker: the old path (one progress query per recovery) cannot answer at all.
    await assert.rejects(getProgress(stack.client, ids[0]!, undefined, { timeoutMs: 2000 }), /no worker answered|Failed to query/);

    const env = { LIFEBOAT_INVENTORY: inventory };
    let t0 = Date.now();
    const a = await stack.cli(['approvals', '--json'], { env });
    const approvalsMs = Date.now() - t0;
    assert.equal(a.code, 0, a.stderr);
    const { approvals, unreadable } = JSON.parse(a.stdout) as { approvals: PendingApproval[]; unreadable: unknown[] };
    assert.deepEqual(unreadable, [], 'no gate needs a worker to be read');
    assert.equal(approvals.length, N, `every parked gate is listed: ${approvals.map((x) => x.workflowId).join(', ')}`);
    for (let i = 0; i < N; i++) {
      const cluster = parkCluster(i);
      const id = ids[i]!;
      const g = approvals.find((x) => x.workflowId === id);
      assert.ok(g, `${id} is listed`);
      assert.equal(g.gate, PARK_GATE);
      assert.equal(g.cluster, cluster);
      assert.equal(g.scenario, PARK_SCENARIO);
      assert.equal(g.startedBy, PARK_STARTER);
      assert.equal(g.dangerous, true);
      assert.equal(g.source, 'memo');
      assert.equal(g.approveCommand, `lifeboat approve ${id} ${PARK_GATE} --as NAME --reason "TEXT" --confirm ${cluster}`);
      assert.equal(g.rejectCommand, `lifeboat reject ${id} ${PARK_GATE} --as NAME --reason "TEXT"`);
      assert.match(g.title, /^Clear plumtree's persistent state on all 5 nodes/);
      assert.equal(g.evidence.nodes, 'gossip1, gossip2, gossip3, gossip4, gossip5');
      assert.match(g.evidenceDigest ?? '', /^sha256:[0-9a-f]{64}$/);
      assert.equal(g.required, 1);
      assert.deepEqual(g.approvedBy, []);
      assert.ok(Date.parse(g.deadline) > Date.parse(g.requestedAt), `${id}: escalates after it was requested`);
    }
    assert.ok(approvalsMs < CLI_BOUND_MS, `lifeboat approvals took ${approvalsMs} ms`);

    // The same in text, as an operator reads it.
    const text = await stack.cli(['approvals'], { env });
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout.match(/^ {2}approve: {3}lifeboat approve recovery-lb-park-\d{3} clear-persistent-state --as NAME --reason "TEXT" --confirm lb-park-\d{3}$/gm)?.length, N, text.stdout.slice(0, 2000));
    assert.doesNotMatch(text.stderr, /could not read/);

    t0 = Date.now();
    const l = await stack.cli(['list', '--json', '--limit', String(N + 10)], { env });
    const listMs = Date.now() - t0;
    assert.equal(l.code, 0, l.stderr);
    const rows = JSON.parse(l.stdout) as RecoveryRow[];
    assert.equal(rows.length, N);
    for (let i = 0; i < N; i++) {
      const r = rows.find((x) => x.workflowId === ids[i]);
      assert.ok(r, `${ids[i]} is listed`);
      assert.equal(r.cluster, parkCluster(i));
      assert.equal(r.scenario, PARK_SCENARIO);
      assert.equal(r.status, 'RUNNING');
      assert.equal(r.state, 'waiting-approval');
      assert.equal(r.startedBy, PARK_STARTER);
      assert.equal(r.awaitingApproval, true);
      assert.ok(r.step, `${ids[i]}: its current step is listed`);
    }
    assert.ok(listMs < CLI_BOUND_MS, `lifeboat list took ${listMs} ms`);
    const table = await stack.cli(['list', '--limit', String(N + 10)], { env });
    assert.equal(table.code, 0, table.stderr);
    assert.equal(table.stdout.match(/recovery-lb-park-\d{3}.*waiting-approval.*WAITING.*parker/g)?.length, N, table.stdout.slice(0, 2000));
    console.log(`# ${N} parked, worker stopped: approvals ${approvalsMs} ms, list ${listMs} ms (CLI processes, node start included)`);
  });
});
