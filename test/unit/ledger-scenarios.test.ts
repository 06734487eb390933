/**
 * The five ledger scenarios (seed 002) against the real server's behaviour,
 * on the time-skipping server with a stateful fake ledger
 * (test/helpers/fakes-ledger.ts): every branch, what each does, and what it
 * must not touch.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { LifeboatActivities } from '../../src/activities/types';
import { approveUpdate, decideUpdate, progressQuery, rejectUpdate, type Progress, type RecoveryInput } from '../../src/workflows/kit/defs';
import type { RecoveryResult } from '../../src/workflows/kit/recovery';
import { FakeLedger, fakeLedgers, ORG, VAULT, type FakeLedgerOptions } from '../helpers/fakes-ledger';
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
const CLUSTER = 'ledger-prod';

function input(scenario: string, params: Record<string, unknown> = {}, dryRun = false, nodes = NODES, cluster = CLUSTER): RecoveryInput {
  return { scenario, cluster: { name: cluster, system: 'ledger', nodes: nodes.map((name) => ({ name, roles: ['voter'] })) }, params, startedBy: 'bob', dryRun };
}

let seq = 0;
async function run<T>(workflowType: string, acts: LifeboatActivities, inp: RecoveryInput, fn: (h: WorkflowHandle) => Promise<T>): Promise<T> {
  const tq = taskQueue('ledger');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: tq, workflowBundle: await bundle(WORKFLOWS_PATH), activities: acts });
  return worker.runUntil(async () => {
    seq += 1;
    const h = await env.client.workflow.start(workflowType, { taskQueue: tq, workflowId: `ledger-${process.pid}-${seq}`, args: [inp] });
    try {
      return await fn(h);
    } catch (err) {
      if (process.env.DEBUG_LEDGER) console.error(JSON.stringify(await h.query(progressQuery).catch(() => undefined), null, 1));
      await h.terminate('test assertion failed').catch(() => undefined);
      throw err;
    }
  });
}

const result = (h: WorkflowHandle): Promise<RecoveryResult> => h.result() as Promise<RecoveryResult>;
const failure = (h: WorkflowHandle): Promise<WorkflowFailedError> =>
  h.result().then(
    () => assert.fail('the recovery should have failed'),
    (e: unknown) => e as WorkflowFailedError,
  );

/** Polls the progress, skipping `stepMs` of workflow time between polls (durable waits pass). */
async function until(h: WorkflowHandle, pred: (p: Progress) => boolean, stepMs = 0): Promise<Progress> {
  for (let i = 0; i < 400; i++) {
    const p = await h.query(progressQuery);
    if (pred(p)) return p;
    if (stepMs) await env.sleep(stepMs);
    else await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not reached: ${JSON.stringify(await h.query(progressQuery)).slice(0, 2000)}`);
}
const waiting = (gate: string) => (p: Progress) => p.gates.some((g) => g.gate === gate && g.status === 'waiting');
const approve = (h: WorkflowHandle, gate: string, cluster = CLUSTER) => h.executeUpdate(approveUpdate, { args: [{ gate, by: 'alice', reason: 'checked', confirm: cluster }] });

/** A log whose parallel phases (fan-outs) are sorted within themselves: `phases` are their lengths in order. */
function phased(log: string[], ...phases: number[]): string[][] {
  const out: string[][] = [];
  let i = 0;
  for (const n of phases) {
    out.push(log.slice(i, i + n).sort());
    i += n;
  }
  out.push(log.slice(i));
  return out;
}

/** The effects in order, as `name:node` (or `name:nodeId` for a removal). */
function effects(calls: Array<{ name: string; arg: Record<string, unknown> }>, names: string[]): string[] {
  return calls.filter((c) => names.includes(c.name) && c.arg.dryRun !== true).map((c) => `${c.name}:${String(c.arg.node ?? c.arg.nodeId)}`);
}
const SERVICE = ['ledgerRemoveMember', 'ledgerServiceStop', 'ledgerSetAside', 'ledgerServiceStart', 'ledgerInit', 'ledgerImport', 'ledgerExport', 'ledgerArchiveFetch'];

function one(name: string, opts: FakeLedgerOptions) {
  const ledger = new FakeLedger(name, opts);
  return { ledger, ...fakeLedgers(ledger) };
}

describe('ledger.node-failure', () => {
  test('a follower down, quorum holds: its member id removed on the leader, its data set aside, it rejoins empty as a new voter; checklist', async () => {
    const f = one(CLUSTER, { down: ['node3'] });
    const oldId = f.ledger.node('node3').nodeId;
    const r = await run('ledgerNodeFailure', f.activities, input('ledger.node-failure'), result);
    assert.match(r.outcome, /Node replaced: node3 rejoined the 3-node cluster as a new voter \(leader node1\)/);
    assert.deepEqual(effects(f.calls, SERVICE), [`ledgerRemoveMember:${oldId}`, 'ledgerServiceStop:node3', 'ledgerSetAside:node3', 'ledgerServiceStart:node3']);
    assert.notEqual(f.ledger.node('node3').nodeId, oldId, 'it came back under a new id');
    assert.equal(f.ledger.members.length, 3);
    assert.ok(f.calls.some((c) => c.name === 'ledgerWriteCheck'), 'the checklist wrote and read');
    assert.equal(r.facts['nodes affected'], 'node3 (down)');
  });

  test('the leader down: the recovery waits for the election, then replaces it', async () => {
    const f = one(CLUSTER, { down: ['node1'], electionReads: 6 });
    const r = await run('ledgerNodeFailure', f.activities, input('ledger.node-failure'), async (h) => {
      const p = await until(h, (x) => x.steps.some((s) => s.title.startsWith('Wait for a leader')));
      assert.ok(p.steps.find((s) => s.title.startsWith('Wait for a leader')));
      return result(h);
    });
    assert.match(r.outcome, /node1 rejoined/);
    assert.deepEqual(effects(f.calls, ['ledgerSetAside']), ['ledgerSetAside:node1']);
  });

  test('quorum lost: refuses before any effect and names ledger.quorum-loss', async () => {
    const f = one(CLUSTER, { down: ['node2', 'node3'] });
    const err = await run('ledgerNodeFailure', f.activities, input('ledger.node-failure'), failure);
    assert.equal((err.cause as { type?: string }).type, 'ScenarioMismatch');
    assert.match(String(err.cause?.message), /run ledger\.quorum-loss instead/);
    assert.deepEqual(f.effects(), []);
  });

  test('no node answers: refuses and names ledger.full-restore', async () => {
    const f = one(CLUSTER, { down: NODES });
    const err = await run('ledgerNodeFailure', f.activities, input('ledger.node-failure'), failure);
    assert.match(String(err.cause?.message), /ledger\.full-restore/);
    assert.deepEqual(f.effects(), []);
  });

  test('no node down: nothing to replace, no effect', async () => {
    const f = one(CLUSTER, {});
    const r = await run('ledgerNodeFailure', f.activities, input('ledger.node-failure'), result);
    assert.match(r.outcome, /Nothing to replace/);
    assert.deepEqual(effects(f.calls, SERVICE), []);
  });

  test('the failed host does not answer: asks; nothing is touched; abort fails the recovery', async () => {
    const f = one(CLUSTER, { hostDown: ['node3'] });
    const err = await run('ledgerNodeFailure', f.activities, input('ledger.node-failure'), async (h) => {
      const p = await until(h, (x) => x.pendingDecision !== undefined);
      assert.match(p.pendingDecision!.error, /node3's host does not answer over SSH/);
      assert.deepEqual(effects(f.calls, SERVICE), []);
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'abort', by: 'alice', reason: 'host is gone' }] });
      return failure(h);
    });
    assert.ok(err instanceof WorkflowFailedError);
    assert.deepEqual(effects(f.calls, SERVICE), []);
  });

  test('a requested node that is not down is refused with the nodes that are', async () => {
    const f = one(CLUSTER, { down: ['node3'] });
    const err = await run('ledgerNodeFailure', f.activities, input('ledger.node-failure', { node: 'node2' }), failure);
    assert.match(String(err.cause?.message), /node2 is not down; down: node3/);
    assert.deepEqual(f.effects(), []);
  });

  test('dry run: every effect is planned, none performed', async () => {
    const f = one(CLUSTER, { down: ['node3'] });
    await run('ledgerNodeFailure', f.activities, input('ledger.node-failure', {}, true), async (h) => {
      const p = await until(h, (x) => x.status !== 'running');
      const details = p.steps.map((s) => s.detail ?? '').join('\n');
      assert.match(details, /LeaveCluster \d+/);
      assert.match(details, /ledgerSetAside node3/);
      return p;
    });
    assert.deepEqual(f.effects(), []);
    assert.deepEqual(f.ledger.log, []);
  });
});

describe('ledger.quorum-loss', () => {
  test('one survivor: its vaults exported, the split-brain gate, every data dir set aside, a new cluster on it with the data re-created, the others join empty', async () => {
    const f = one(CLUSTER, { down: ['node2', 'node3'] });
    const oldCluster = f.ledger.clusterId;
    const r = await run('ledgerQuorumLoss', f.activities, input('ledger.quorum-loss'), async (h) => {
      const p = await until(h, waiting('single-node-bootstrap'));
      const gate = p.gates[0]!;
      assert.equal(gate.dangerous, true);
      assert.equal(gate.evidence.survivor, 'node1');
      assert.equal(gate.evidence['old cluster id (abandoned)'], oldCluster);
      assert.match(gate.evidence['exported from it'] ?? '', /20 entities/);
      assert.deepEqual(effects(f.calls, SERVICE), ['ledgerExport:node1'], 'only the export before the gate');
      await approve(h, 'single-node-bootstrap');
      return result(h);
    });
    assert.match(r.outcome, /Quorum restored: new cluster \d+ on node1, node2, node3/);
    assert.notEqual(f.ledger.clusterId, oldCluster);
    assert.deepEqual(phased(f.ledger.log, 1, 3), [['stop node1'], ['aside node1', 'aside node2', 'aside node3'], ['start node1', 'init node1', 'import node1', 'start node2', 'start node3']]);
    assert.equal(f.ledger.members.length, 3);
  });

  test('quorum holds: nothing to rebuild, no effect', async () => {
    const f = one(CLUSTER, { down: ['node3'] });
    const r = await run('ledgerQuorumLoss', f.activities, input('ledger.quorum-loss'), result);
    assert.match(r.outcome, /Quorum holds \(2 of 3 nodes, leader node1\)/);
    assert.deepEqual(effects(f.calls, SERVICE), []);
  });

  test('no node answers: names ledger.full-restore', async () => {
    const f = one(CLUSTER, { down: NODES });
    const err = await run('ledgerQuorumLoss', f.activities, input('ledger.quorum-loss'), failure);
    assert.match(String(err.cause?.message), /ledger\.full-restore/);
    assert.deepEqual(f.effects(), []);
  });

  test('gate rejected: nothing changed after the export', async () => {
    const f = one(CLUSTER, { down: ['node2', 'node3'] });
    await run('ledgerQuorumLoss', f.activities, input('ledger.quorum-loss'), async (h) => {
      await until(h, waiting('single-node-bootstrap'));
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'single-node-bootstrap', by: 'alice', reason: 'node2 is coming back' }] });
      return failure(h);
    });
    assert.deepEqual(effects(f.calls, SERVICE), ['ledgerExport:node1']);
    assert.deepEqual(f.ledger.log, []);
  });

  test('a lost host that does not answer is left out and named for follow-up', async () => {
    const f = one(CLUSTER, { down: ['node2'], hostDown: ['node3'] });
    const r = await run('ledgerQuorumLoss', f.activities, input('ledger.quorum-loss'), async (h) => {
      const p = await until(h, waiting('single-node-bootstrap'));
      assert.equal(p.gates[0]!.evidence['not joined (host does not answer)'], 'node3');
      await approve(h, 'single-node-bootstrap');
      return result(h);
    });
    assert.match(r.outcome, /on node1, node2/);
    assert.match(r.facts['follow-up'] ?? '', /node3 did not answer/);
    assert.ok(!f.ledger.log.some((l) => l.endsWith('node3')));
  });

  test('a requested survivor that does not answer is refused', async () => {
    const f = one(CLUSTER, { down: ['node2', 'node3'] });
    const err = await run('ledgerQuorumLoss', f.activities, input('ledger.quorum-loss', { survivor: 'node2' }), failure);
    assert.match(String(err.cause?.message), /the requested survivor node2 does not answer/);
    assert.deepEqual(f.effects(), []);
  });
});

describe('ledger.full-restore', () => {
  test('total loss: the backup located, both gates, data set aside, a new cluster on node1 from the archived export, the others join', async () => {
    const f = one(CLUSTER, { wiped: NODES });
    const r = await run('ledgerFullRestore', f.activities, input('ledger.full-restore'), async (h) => {
      const p = await until(h, waiting('new-cluster-identity'));
      assert.match(p.gates[0]!.evidence['RPO gap (writes lost)'] ?? '', /h|min|unknown/);
      await approve(h, 'new-cluster-identity');
      await until(h, waiting('clear-new-nodes'));
      await approve(h, 'clear-new-nodes');
      return result(h);
    });
    assert.match(r.outcome, /Restored: new cluster \d+ on node1, node2, node3 from s3:\/\/ledger-backups\/latest\/ledger-export\.jsonl/);
    assert.deepEqual(phased(f.ledger.log, 3), [['aside node1', 'aside node2', 'aside node3'], ['fetch node1', 'start node1', 'init node1', 'import node1', 'start node2', 'start node3']]);
  });

  test('a node still answers: not a total loss, no effect', async () => {
    const f = one(CLUSTER, { wiped: ['node2', 'node3'] });
    const err = await run('ledgerFullRestore', f.activities, input('ledger.full-restore'), failure);
    assert.match(String(err.cause?.message), /node1 still answers: this is not a total loss/);
    assert.deepEqual(f.effects(), []);
  });

  test('no backup: refused before any gate or effect', async () => {
    const f = one(CLUSTER, { wiped: NODES, archive: false });
    const err = await run('ledgerFullRestore', f.activities, input('ledger.full-restore'), failure);
    assert.equal((err.cause as { type?: string }).type, 'BackupMissing');
    assert.deepEqual(f.effects(), []);
  });
});

describe('ledger.vault-divergence', () => {
  test('a vault diverged on node3 heals by the server\'s own replay after RecoverVault: no node is touched', async () => {
    const f = one(CLUSTER, { diverged: { nodes: ['node3'], heals: true } });
    const r = await run('ledgerVaultDivergence', f.activities, input('ledger.vault-divergence'), result);
    assert.match(r.outcome, new RegExp(`Vault divergence recovered: ${ORG}/${VAULT} healthy on all 3 nodes`));
    assert.equal(r.facts[`vault ${ORG}/${VAULT} recovery`], "healed by the server's automatic recovery");
    assert.deepEqual(effects(f.calls, ['ledgerVaultRecover']), ['ledgerVaultRecover:node1']);
    assert.deepEqual(f.ledger.log, []);
  });

  test('it does not heal: the resync gate, then node3 leaves and rejoins empty', async () => {
    const f = one(CLUSTER, { diverged: { nodes: ['node3'], heals: false } });
    const r = await run('ledgerVaultDivergence', f.activities, input('ledger.vault-divergence'), async (h) => {
      const p = await until(h, waiting('resync-corrupted-node'), 10_000);
      assert.equal(p.gates[0]!.evidence['diverged on'], 'node3');
      assert.equal(p.gates[0]!.evidence['healthy on'], 'node1, node2');
      await approve(h, 'resync-corrupted-node');
      return result(h);
    });
    assert.match(r.outcome, /healthy on all 3 nodes/);
    assert.deepEqual(f.ledger.log.filter((l) => !l.startsWith('leave')), ['stop node3', 'aside node3', 'start node3']);
  });

  test('no vault diverged: nothing to recover', async () => {
    const f = one(CLUSTER, {});
    const r = await run('ledgerVaultDivergence', f.activities, input('ledger.vault-divergence'), result);
    assert.match(r.outcome, /Nothing to recover: no vault is diverged on any node \(1 vault\(s\) checked\)/);
    assert.deepEqual(effects(f.calls, [...SERVICE, 'ledgerVaultRecover']), []);
  });
});

describe('ledger.regional-failover', () => {
  const DR = ['dr-node1', 'dr-node2', 'dr-node3'];
  test('primary down, DR cold: RPO gate, the DR cluster formed from the replicated export, the engine switched after the DNS gate', async () => {
    const primary = new FakeLedger(CLUSTER, { down: NODES });
    const dr = new FakeLedger(`${CLUSTER}-dr`, { nodes: DR, wiped: DR });
    const f = fakeLedgers(primary, dr);
    const r = await run('ledgerRegionalFailover', f.activities, input('ledger.regional-failover'), async (h) => {
      await until(h, waiting('accept-rpo-gap'), 20_000);
      await approve(h, 'accept-rpo-gap');
      await until(h, waiting('dns-switch'));
      await approve(h, 'dns-switch');
      return result(h);
    });
    assert.match(r.outcome, /Failed over to the DR region: ledger-prod-dr serves, the engine points at ledger\.dr-region\.internal:50051/);
    assert.deepEqual(phased(dr.log, 3), [['aside dr-node1', 'aside dr-node2', 'aside dr-node3'], ['fetch dr-node1', 'start dr-node1', 'init dr-node1', 'import dr-node1', 'start dr-node2', 'start dr-node3']]);
    assert.deepEqual(primary.log, []);
    assert.ok(f.calls.some((c) => c.name === 'ledgerSwitchEndpoint'));
  });

  test('the primary answers: no failover, nothing touched', async () => {
    const primary = new FakeLedger(CLUSTER, { down: ['node3'] });
    const dr = new FakeLedger(`${CLUSTER}-dr`, { nodes: DR, wiped: DR });
    const f = fakeLedgers(primary, dr);
    const r = await run('ledgerRegionalFailover', f.activities, input('ledger.regional-failover'), result);
    assert.match(r.outcome, /No failover: the primary region answers/);
    assert.deepEqual(f.effects(), []);
  });

  test('a DR cluster that already serves is kept as it is', async () => {
    const primary = new FakeLedger(CLUSTER, { down: NODES });
    const dr = new FakeLedger(`${CLUSTER}-dr`, { nodes: DR });
    const f = fakeLedgers(primary, dr);
    const r = await run('ledgerRegionalFailover', f.activities, input('ledger.regional-failover'), async (h) => {
      await until(h, waiting('accept-rpo-gap'), 20_000);
      await approve(h, 'accept-rpo-gap');
      await until(h, waiting('dns-switch'));
      await approve(h, 'dns-switch');
      return result(h);
    });
    assert.match(r.facts['DR cluster'] ?? '', /already serves/);
    assert.match(r.outcome, /Failed over/);
    assert.deepEqual(dr.log, []);
  });
});
