/**
 * ledger.regional-failover (seed 002, Regional Failover) on the time-skipping
 * server with stub activities: the detection that a blip does not trigger,
 * both dangerous gates and what runs before and after each, the escalation
 * of an unanswered gate, the dry run, and the exact effects of a failover.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { LedgerNodeInfo, LifeboatActivities, NodeRef } from '../../src/activities/types';
import { approveUpdate, progressQuery, rejectUpdate, type Progress, type RecoveryInput, type RecoveryOptions } from '../../src/workflows/kit/defs';
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

const PRIMARY = ['node1', 'node2', 'node3'];
const DR = 'c1-dr';

/**
 * The primary (cluster c1) answers per `primary(probe)` (probe = how many
 * times that node was asked, from 1); DR voters answer once started.
 */
function region(opts: { primary?: (probe: number) => 'down' | 'up' | 'no-leader' } = {}) {
  const primary = opts.primary ?? (() => 'down');
  const started = new Set<string>();
  const asked = new Map<string, number>();
  const overrides: Partial<LifeboatActivities> = {
    ledgerNodeInfo: async (a: NodeRef): Promise<LedgerNodeInfo> => {
      if (a.cluster === DR) {
        if (!started.has(a.node)) return { node: a.node, reachable: false, error: 'UNAVAILABLE' };
        return { node: a.node, reachable: true, serving: true, leader: 'dr-node1', clusterId: 'c-primary', mode: 'cluster', members: [] };
      }
      const probe = (asked.get(a.node) ?? 0) + 1;
      asked.set(a.node, probe);
      const s = primary(probe);
      if (s === 'down') return { node: a.node, reachable: false, error: 'UNAVAILABLE: connection refused' };
      if (s === 'no-leader') return { node: a.node, reachable: a.node === 'node1', serving: false, clusterId: 'c-primary', mode: 'cluster', members: [] };
      return { node: a.node, reachable: true, serving: true, leader: 'node1', clusterId: 'c-primary', mode: 'cluster', members: [] };
    },
    ledgerStart: async (a) => {
      if (!a.dryRun) started.add(a.node);
      return { plan: `start ${a.cluster}/${a.node} ${a.start.mode}`, dryRun: a.dryRun };
    },
  };
  return stubActivities(overrides);
}

function input(params: Record<string, unknown> = {}, options: RecoveryOptions = {}, dryRun = false): RecoveryInput {
  return {
    scenario: 'ledger.regional-failover',
    cluster: { name: 'c1', system: 'ledger', nodes: PRIMARY.map((name) => ({ name, roles: ['voter'] })) },
    params,
    startedBy: 'bob',
    dryRun,
    // Probes 20 s apart become 200 ms: the gates can be awaited in real time.
    options: { timeScale: 0.01, ...options },
  };
}

let seq = 0;
async function withWorker<T>(acts: LifeboatActivities, fn: (h: WorkflowHandle) => Promise<T>, inp = input()): Promise<T> {
  const tq = taskQueue('regional-failover');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: tq, workflowBundle: await bundle(WORKFLOWS_PATH), activities: acts });
  return worker.runUntil(async () => {
    seq += 1;
    return fn(await env.client.workflow.start('ledgerRegionalFailover', { taskQueue: tq, workflowId: `rf-${process.pid}-${seq}`, args: [inp] }));
  });
}

async function gateWaiting(h: WorkflowHandle, gate: string): Promise<Progress> {
  for (let i = 0; i < 300; i++) {
    const p = await h.query(progressQuery);
    if (p.gates.some((g) => g.gate === gate && g.status === 'waiting')) return p;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gate ${gate} never waited: ${JSON.stringify(await h.query(progressQuery)).slice(0, 1500)}`);
}

const effects = (s: ReturnType<typeof stubActivities>) => s.effects().map((c) => `${c.name}:${String(c.arg.cluster)}/${String(c.arg.node)}`);
const failure = (err: unknown) => (err as WorkflowFailedError).cause as { type?: string; message?: string };

describe('ledger.regional-failover', () => {
  test('happy path: region confirmed down, both gates approved, exactly the runbook effects, RPO recorded', async () => {
    const stubs = region();
    const r = await withWorker(stubs.activities, async (h) => {
      const p1 = await gateWaiting(h, 'accept-rpo-gap');
      const gate = p1.gates.find((g) => g.gate === 'accept-rpo-gap')!;
      assert.equal(gate.dangerous, true);
      assert.equal(gate.evidence['last replicated'], '2026-11-22T01:53:00Z');
      assert.match(gate.evidence['RPO gap (writes lost)'] ?? '', /min/);
      // Nothing is done before the RPO gap is accepted.
      assert.deepEqual(effects(stubs), []);
      // Three probes of the whole primary region, not one timeout.
      assert.equal(stubs.calls.filter((c) => c.name === 'ledgerNodeInfo' && c.arg.cluster === 'c1').length, 9);
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'accept-rpo-gap', by: 'alice', reason: 'primary region lost', confirm: 'c1' }] });
      const p2 = await gateWaiting(h, 'dns-switch');
      const dns = p2.gates.find((g) => g.gate === 'dns-switch')!;
      assert.equal(dns.dangerous, true);
      assert.equal(dns.evidence.from, 'ledger.primary-region.internal:50051');
      assert.equal(dns.evidence.to, 'ledger.dr-region.internal:50051');
      // The DR cluster runs before anyone is asked to switch traffic to it.
      assert.deepEqual(effects(stubs).sort(), ['ledgerDrSync:c1-dr/dr-node1', 'ledgerDrSync:c1-dr/dr-node2', 'ledgerDrSync:c1-dr/dr-node3', 'ledgerStart:c1-dr/dr-node1', 'ledgerStart:c1-dr/dr-node2', 'ledgerStart:c1-dr/dr-node3']);
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'dns-switch', by: 'alice', reason: 'DR serves', confirm: 'c1' }] });
      return h.result();
    });
    assert.match(r.outcome, /Failed over to the DR region: c1-dr serves .*, the engine points at ledger\.dr-region\.internal:50051; RPO gap/);
    const all = effects(stubs);
    assert.deepEqual([...all.slice(0, 3).sort(), ...all.slice(3, 6).sort(), ...all.slice(6)], [
      'ledgerDrSync:c1-dr/dr-node1',
      'ledgerDrSync:c1-dr/dr-node2',
      'ledgerDrSync:c1-dr/dr-node3',
      'ledgerStart:c1-dr/dr-node1',
      'ledgerStart:c1-dr/dr-node2',
      'ledgerStart:c1-dr/dr-node3',
      'ledgerSwitchEndpoint:c1-dr/bastion',
      'ledgerRestartEngine:c1-dr/bastion',
      'ledgerWriteRead:c1-dr/dr-node1',
    ]);
    const start = stubs.calls.find((c) => c.name === 'ledgerStart')!.arg as { start: { mode: string; size: number; dataDir: string; peers: string[] } };
    assert.deepEqual(start.start, { mode: 'cluster', size: 3, peers: ['dr-node1', 'dr-node2', 'dr-node3'], dataDir: './data' });
    const sync = stubs.calls.find((c) => c.name === 'ledgerDrSync')!.arg;
    assert.equal(sync.source, 's3://ledger-primary-backups/latest/');
    const patch = stubs.calls.find((c) => c.name === 'ledgerSwitchEndpoint')!.arg;
    assert.equal(patch.endpoint, 'ledger.dr-region.internal:50051');
    assert.ok(stubs.calls.some((c) => c.name === 'ledgerEngineRollout'), 'the rollout is verified');
    assert.match(r.facts['RPO gap'] ?? '', /after the last replication \(2026-11-22T01:53:00Z\) is lost/);
    assert.match(r.facts['root cause'] ?? '', /primary region unavailable: none of the 3 nodes of c1/);
    assert.match(r.facts.impact ?? '', /regional outage/);
    assert.match(r.facts.resolution ?? '', /failed over to c1-dr/);
  });

  test('the primary is healthy: ends at the first probe, touches nothing, asks nobody', async () => {
    const stubs = region({ primary: () => 'up' });
    const r = await withWorker(stubs.activities, (h) => h.result());
    assert.match(r.outcome, /No failover: the primary region answers/);
    assert.deepEqual(effects(stubs), []);
    assert.ok(!stubs.calls.some((c) => c.name === 'ledgerDrTopology'), 'the DR region is not even looked at');
  });

  test('a blip (down on one probe, up on the next) does not fail over', async () => {
    const stubs = region({ primary: (n) => (n === 1 ? 'down' : 'up') });
    const r = await withWorker(stubs.activities, async (h) => {
      const res = await h.result();
      const p = await h.query(progressQuery);
      assert.equal(p.gates.length, 0);
      return res;
    });
    assert.match(r.outcome, /No failover/);
    assert.deepEqual(effects(stubs), []);
    assert.equal(stubs.calls.filter((c) => c.name === 'ledgerNodeInfo' && c.arg.node === 'node1').length, 2);
  });

  test('primary nodes answer without a leader: not a region failure, fails naming the right procedures', async () => {
    const stubs = region({ primary: () => 'no-leader' });
    const err = await withWorker(stubs.activities, (h) => h.result().then(() => undefined, (e: unknown) => e));
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String(failure(err).message), /ledger\.quorum-loss/);
    assert.deepEqual(effects(stubs), []);
  });

  test('rejecting accept-rpo-gap ends the recovery before anything is done in the DR region', async () => {
    const stubs = region();
    const err = await withWorker(stubs.activities, async (h) => {
      await gateWaiting(h, 'accept-rpo-gap');
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'accept-rpo-gap', by: 'alice', reason: 'primary may be back within the hour' }] });
      return h.result().then(() => undefined, (e: unknown) => e);
    });
    assert.equal(failure(err).type, 'GateRejected');
    assert.deepEqual(effects(stubs), []);
    assert.ok(!stubs.calls.some((c) => ['ledgerDrSync', 'ledgerStart', 'ledgerEngineEndpoint'].includes(c.name)), 'nothing after the gate ran');
  });

  test('rejecting dns-switch leaves the DR cluster up and the engine where it was, and says so', async () => {
    const stubs = region();
    const { err, p } = await withWorker(stubs.activities, async (h) => {
      await gateWaiting(h, 'accept-rpo-gap');
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'accept-rpo-gap', by: 'alice', reason: 'lost', confirm: 'c1' }] });
      await gateWaiting(h, 'dns-switch');
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'dns-switch', by: 'alice', reason: 'networking wants to check first' }] });
      const e = await h.result().then(() => undefined, (x: unknown) => x);
      return { err: e, p: await h.query(progressQuery) };
    });
    assert.equal(failure(err).type, 'GateRejected');
    assert.equal(p.status, 'aborted');
    assert.match(p.facts.resolution ?? '', /DR cluster c1-dr is up and serving, but the engine was NOT switched: it still points at ledger\.primary-region\.internal:50051/);
    assert.equal(effects(stubs).filter((e) => e.startsWith('ledgerSwitchEndpoint') || e.startsWith('ledgerRestartEngine')).length, 0);
    assert.equal(effects(stubs).filter((e) => e.startsWith('ledgerStart')).length, 3);
  });

  test('an unanswered accept-rpo-gap escalates and, with escalation "fail", ends with nothing done', async () => {
    const stubs = region();
    const notified: string[] = [];
    const acts = { ...stubs.activities, notify: async (n: { subject: string }) => void notified.push(n.subject) } as LifeboatActivities;
    // Reach the gate first: skipping time while the detection's activities run (under load) could time them out.
    const err = await withWorker(
      acts,
      async (h) => {
        await gateWaiting(h, 'accept-rpo-gap');
        return h.result().then(() => undefined, (e: unknown) => e);
      },
      input({}, { approvalTimeout: '10m', approvalEscalation: 'fail' }),
    );
    assert.equal(failure(err).type, 'ApprovalTimedOut');
    assert.ok(notified.some((s) => /ESCALATION: approval of accept-rpo-gap/.test(s)), notified.join('\n'));
    assert.deepEqual(effects(stubs), []);
  });

  test('dry run: plans the sync, the start, the patch and the restart, changes nothing', async () => {
    const stubs = region();
    const r = await withWorker(stubs.activities, async (h) => {
      const res = await h.result();
      const p = await h.query(progressQuery);
      const titles = p.steps.map((s) => `${s.title} => ${s.status}`);
      assert.ok(titles.some((t) => /^Sync the latest snapshots .* => dry-run/.test(t)), titles.join('\n'));
      assert.ok(titles.some((t) => /^Update routing: kubectl patch configmap ledger-config .* => dry-run/.test(t)), titles.join('\n'));
      assert.ok(titles.some((t) => /^Restart the engine pods .* => dry-run/.test(t)), titles.join('\n'));
      assert.ok(p.gates.every((g) => g.by === 'dry-run'));
      return res;
    }, input({}, {}, true));
    assert.equal(r.dryRun, true);
    assert.deepEqual(effects(stubs), []);
    for (const name of ['ledgerDrSync', 'ledgerStart', 'ledgerSwitchEndpoint', 'ledgerRestartEngine']) {
      assert.ok(stubs.calls.some((c) => c.name === name && c.arg.dryRun === true), `${name} planned`);
    }
  });
});
