/**
 * The ledger scenarios as an operator runs them, one case per scenario: the
 * lab's fault, `lifeboat run` through the CLI, the gates approved from the
 * CLI by someone other than the starter, the outcome, what each node
 * received (the lab's effect log: unit starts and stops, `init`, once each),
 * and a healthy cluster afterwards that still holds the seeded data.
 *
 * The same cases run on the lab's simulated ledger (test/e2e/ledger.test.ts,
 * `npm test`) and on real inferadb-ledger processes
 * (test/conformance/ledger-scenarios.test.ts, `npm run conformance`): what
 * passes on one and fails on the other is a drift of the simulation.
 */
import assert from 'node:assert/strict';
import type { LedgerBackendKind } from '../../lab/ledger';
import { LAB_LEDGER_SEED } from '../../lab/ledger';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import type { LedgerNodeState, LedgerVaults } from '../../src/activities/types';
import type { Progress } from '../../src/workflows/kit/defs';
import { finishedOf, OPEN, progressOf, recordHistory } from './recovery';
import { eventually, startStack, type Stack } from './stack';

export const PRIMARY = 'lab-ledger';
export const DR = 'lab-ledger-dr';
export const NODES = ['node1', 'node2', 'node3'];
export const DR_NODES = ['dr-node1', 'dr-node2', 'dr-node3'];
const ID = `recovery-${PRIMARY}`;

export interface LedgerCase {
  scenario: string;
  /** The lab fault that makes it needed. */
  fault: string;
  /** Does it need the DR region? */
  dr?: boolean;
  /** Gates approved in this order. */
  gates: string[];
  /** Extra `lifeboat run` flags. */
  flags?: string[];
  outcome: RegExp;
  /** The cluster that must be healthy, with the seeded data, afterwards. */
  healthy: string;
  /** `node effect` counts the recovery must have caused (others of these kinds must not happen). */
  effects: Record<string, number>;
}

/** Effects the cases count; anything else (reads, the simulation's writes) is not compared. */
const COUNTED = ['ledger.service.start', 'ledger.service.stop', 'ledger.init'];

export const LEDGER_CASES: LedgerCase[] = [
  {
    scenario: 'ledger.node-failure',
    fault: 'ledger.node-failure',
    gates: [],
    outcome: /^Node replaced: (node\d) rejoined the 3-node cluster as a new voter/,
    healthy: PRIMARY,
    // The failed node: its unit stopped (it had died) and started once, empty.
    effects: { 'ledger.service.start': 1 },
  },
  {
    scenario: 'ledger.quorum-loss',
    fault: 'ledger.quorum-loss',
    gates: ['single-node-bootstrap'],
    outcome: /^Quorum restored: new cluster \d+ on node\d, node\d, node\d, re-created from node\d's data \(20 entities in 1 vault\(s\)\)/,
    healthy: PRIMARY,
    // The survivor's unit stopped; every node started once, empty; one new cluster.
    effects: { 'ledger.service.stop': 1, 'ledger.service.start': 3, 'ledger.init': 1 },
  },
  {
    scenario: 'ledger.full-restore',
    fault: 'ledger.full-restore',
    gates: ['new-cluster-identity', 'clear-new-nodes'],
    outcome: /^Restored: new cluster \d+ on node1, node2, node3 from s3:\/\/ledger-backups\/latest\/ledger-export\.jsonl/,
    healthy: PRIMARY,
    effects: { 'ledger.service.start': 3, 'ledger.init': 1 },
  },
  {
    scenario: 'ledger.vault-divergence',
    fault: 'ledger.vault-divergence',
    gates: [],
    outcome: new RegExp(`^Vault divergence recovered: ${LAB_LEDGER_SEED.organization}/${LAB_LEDGER_SEED.vault} healthy on all 3 nodes`),
    healthy: PRIMARY,
    effects: {},
  },
  {
    scenario: 'ledger.regional-failover',
    fault: 'ledger.regional-failover',
    dr: true,
    gates: ['accept-rpo-gap', 'dns-switch'],
    // Probes 20 s apart become 1 s: the detection still takes several probes.
    flags: ['--time-scale', '0.05'],
    outcome: /^Failed over to the DR region: lab-ledger-dr serves, the engine points at /,
    healthy: DR,
    effects: { 'ledger.service.start': 3, 'ledger.init': 1 },
  },
];

/** The stack of one case: the dev server, a worker, and the lab's ledger (and DR region) on `backend`. */
export function caseStack(c: LedgerCase, backend: LedgerBackendKind): Promise<Stack> {
  return startStack({ families: c.dr ? ['ledger', 'ledger-dr'] : ['ledger'], ledgerBackend: backend });
}

/** `{ "node effect": n }` of the counted effects since `from`. */
function counted(stack: Stack, cluster: string, from: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of stack.lab.effects.list({ cluster }).slice(from)) {
    if (COUNTED.includes(e.effect)) out[e.effect] = (out[e.effect] ?? 0) + 1;
  }
  return out;
}

/** Runs one case on a started stack: break, run, approve, verify. */
export async function runCase(stack: Stack, c: LedgerCase, opts: { timeoutMs: number; record?: boolean }): Promise<Progress> {
  const cluster = c.dr ? DR : PRIMARY;
  await stack.lab.break(c.fault);
  const before = stack.lab.effects.list({ cluster }).length;
  const run = await stack.cli(['run', c.scenario, '--cluster', PRIMARY, '--as', 'bob', ...(c.flags ?? [])]);
  assert.equal(run.code, 0, `lifeboat run: ${run.stderr}`);
  for (const gate of c.gates) {
    await eventually(`${c.scenario} to wait on ${gate}`, async () => {
      const p = await progressOf(stack, ID);
      if (!OPEN.includes(p.status)) throw new Error(`${c.scenario} ended (${p.status}) before ${gate}: ${p.outcome ?? ''}`);
      if (p.pendingDecision) throw new Error(`${c.scenario} asks a decision: ${p.pendingDecision.step}: ${p.pendingDecision.error}`);
      return p.gates.some((g) => g.gate === gate && g.status === 'waiting');
    }, opts.timeoutMs, 500);
    const ok = await stack.cli(['approve', ID, gate, '--as', 'alice', '--reason', 'conformance: checked', '--confirm', PRIMARY]);
    assert.equal(ok.code, 0, `approve ${gate}: ${ok.stderr}`);
  }
  const p = await finishedOf(stack, ID, opts.timeoutMs, { stopOnDecision: true });
  assert.equal(p.pendingDecision, undefined, `the recovery asks: ${p.pendingDecision?.step}: ${p.pendingDecision?.error}`);
  assert.equal(p.status, 'completed', `${c.scenario}: ${p.status}: ${p.outcome ?? ''}\n${p.steps.map((s) => `${s.status} ${s.title}: ${s.detail ?? s.error ?? ''}`).join('\n')}`);
  assert.match(p.outcome ?? '', c.outcome);
  assert.deepEqual(counted(stack, cluster, before), c.effects, 'what the nodes received, once each');
  await healthyWithSeed(stack, c.healthy, opts.timeoutMs);
  if (opts.record) recordHistory(stack, ID, c.scenario);
  return p;
}

/** Every node of `cluster` answers in one cluster with a live leader, and reads the seeded data back. */
async function healthyWithSeed(stack: Stack, cluster: string, timeoutMs: number): Promise<void> {
  const { activities, close } = createActivities({ inventoryPath: stack.lab.inventoryPath });
  try {
    const nodes = cluster === DR ? DR_NODES : NODES;
    const env = new MockActivityEnvironment();
    await eventually(
      `${cluster} healthy with its seeded data`,
      async () => {
        const states = (await Promise.all(nodes.map((node) => env.run(activities.ledgerNodeState, { cluster, node })))) as LedgerNodeState[];
        const leader = states.find((s) => s.reachable && s.nodeId && s.leaderId === s.nodeId);
        if (!leader || states.some((s) => !s.reachable || s.health !== 'healthy') || new Set(states.map((s) => s.clusterId)).size !== 1) return false;
        const held = (await Promise.all(nodes.map((node) => env.run(activities.ledgerVaults, { cluster, node })))) as LedgerVaults[];
        return held.every((h) => h.vaults.some((v) => v.organization === LAB_LEDGER_SEED.organization && v.vault === LAB_LEDGER_SEED.vault));
      },
      timeoutMs,
      1000,
    );
  } finally {
    await close();
  }
}
