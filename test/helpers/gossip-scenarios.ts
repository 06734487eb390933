/**
 * The six gossip scenarios as an operator runs them, in order on one stack:
 * the lab's fault, `lifeboat run` through the CLI (durable waits at 1/100),
 * the gates answered from the CLI by someone other than the starter, the
 * outcome, what the nodes received (the lab's effect log: unit starts and
 * stops, accepted joins and rebalances), and the cluster healthy afterwards
 * (every node up, seeing all five, one root hash).
 *
 * The same cases run on the lab's simulation (test/e2e/gossip.test.ts,
 * `npm test`) and on real memberlist-plumtree 0.1.6 nodes, each in its own
 * network namespace (test/conformance/gossip-scenarios.test.ts,
 * `npm run conformance`): what passes on one and fails on the other is a
 * drift of the simulation.
 */
import assert from 'node:assert/strict';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import type { Progress } from '../../src/workflows/kit/defs';
import { effectsOutside, memberlistPanicked } from './lab-gossip';
import { finishedOf, OPEN, progressOf, recordHistory } from './recovery';
import { eventually, type Stack } from './stack';

export const CLUSTER = 'lab-gossip';
export const ID = `recovery-${CLUSTER}`;
export const ALL = ['gossip1', 'gossip2', 'gossip3', 'gossip4', 'gossip5'];
/** Durable waits at 1/100 on the simulation: the partition's 5 min wait takes 3 s, total loss's 10 s stabilize 0.1 s. */
export const FAST = ['--time-scale', '0.01'];
/**
 * On real nodes at 1/20: a verification's 2 min become 6 s, time enough for
 * memberlist to merge two views after a join (a member the other side still
 * holds as dead refutes it first); at 1/100 it had 1.2 s.
 */
export const REAL = ['--time-scale', '0.05'];

export interface GossipCase {
  /** The test's name. */
  name: string;
  scenario: string;
  /** The lab fault first; none: the lab as the case before left it. */
  fault?: string;
  /** Gates answered in this order. */
  gates: Array<{ gate: string; approve: boolean }>;
  status: 'completed' | 'aborted';
  outcome: RegExp;
  /** Facts the recovery records, by name. */
  facts?: Record<string, RegExp | string>;
  /** What the nodes received since the run started, as `effect:node`. */
  effects(e: string[]): void;
  /** The cluster is healthy afterwards (default true). */
  healthy?: boolean;
  /** Record the history as the scenario's happy path (LIFEBOAT_RECORD_HISTORIES=1). */
  record?: boolean;
}

const only = (e: string[], kind: string) => e.filter((x) => x.startsWith(`${kind}:`));
/** Joins went to the other side only (the first of it at least; the second may find the sides merged already). */
function joinsOfTheOtherSide(e: string[]): void {
  const joins = only(e, 'gossip.join');
  assert.ok(joins.length >= 1 && joins.every((j) => j === 'gossip.join:gossip4' || j === 'gossip.join:gossip5'), `joins: ${joins.join(', ')}`);
}

export const GOSSIP_CASES: GossipCase[] = [
  {
    name: 'gossip.isolated-node: a real cut, healed; the seeds are checked from the node, it joins through them, nothing restarted',
    scenario: 'gossip.isolated-node',
    fault: 'gossip.isolated-node',
    gates: [],
    status: 'completed',
    outcome: /^gossip3 rejoined the cluster by a rejoin via the seeds: \d+ eager, \d+ lazy/,
    facts: { network: /^from gossip3: (\d+\.){3}\d+:\d+ open, (\d+\.){3}\d+:\d+ open$/, 'root cause': /gossip3 lost its membership \(memberlist sees only itself\)/ },
    effects: (e) => assert.deepEqual(e, ['gossip.join:gossip3']),
    record: true,
  },
  {
    name: 'gossip.partition rejected: the sides stay apart after the network is back; the forced-rebalance gate is refused, nothing joined',
    scenario: 'gossip.partition',
    fault: 'gossip.partition',
    gates: [{ gate: 'forced-rebalance', approve: false }],
    status: 'aborted',
    outcome: /alice rejected "forced-rebalance" \(conformance: the uplink is still down\)/,
    facts: { partition: '{gossip1, gossip2, gossip3} | {gossip4, gossip5}' },
    effects: (e) => assert.deepEqual(e, []),
    healthy: false,
  },
  {
    name: 'gossip.partition approved: the other side joins through the seeds, rebalance_peers on every node, one component',
    scenario: 'gossip.partition',
    gates: [{ gate: 'forced-rebalance', approve: true }],
    status: 'completed',
    outcome: /^Partition healed by a forced rejoin and rebalance on 5 nodes, approved by alice: one component of 5/,
    effects: (e) => {
      joinsOfTheOtherSide(e);
      assert.deepEqual(only(e, 'gossip.rebalance').sort(), ALL.map((n) => `gossip.rebalance:${n}`));
      assert.equal(e.length, only(e, 'gossip.join').length + 5, e.join(', '));
    },
    record: true,
  },
  {
    name: 'gossip.multi-node-failure: kill -9 of two nodes; the majority survives, the failed nodes are started again, nothing stopped',
    scenario: 'gossip.multi-node-failure',
    fault: 'gossip.multi-node-failure',
    gates: [],
    status: 'completed',
    outcome: /^Majority survived \(3\/5\) and the mesh is stable; started again: gossip4, gossip5/,
    effects: (e) => assert.deepEqual([...e].sort(), ['gossip.start:gossip4', 'gossip.start:gossip5']),
    record: true,
  },
  {
    name: 'gossip.cache-corruption: gossip3 crashed on a damaged store; its restart fails, clear-storage approved, stop, clear, start',
    scenario: 'gossip.cache-corruption',
    fault: 'gossip.cache-corruption',
    gates: [{ gate: 'clear-storage', approve: true }],
    status: 'completed',
    outcome: /^Message cache corruption resolved on gossip3 by clearing the persistent message store of gossip3 \(approved by alice\)/,
    facts: { 'nodes affected': 'gossip3' },
    effects: (e) => assert.deepEqual(e, ['gossip.start:gossip3']),
    record: true,
  },
  {
    name: 'gossip.split-brain: each side processed its own message; the other side joins, anti-entropy converges on one root hash',
    scenario: 'gossip.split-brain',
    fault: 'gossip.split-brain',
    gates: [],
    status: 'completed',
    outcome: /^Split brain reconciled by anti-entropy sync: converged: 5 node\(s\) at root hash [0-9a-f]{12}… \(\d+ messages\); one component of 5/,
    effects: (e) => {
      joinsOfTheOtherSide(e);
      assert.equal(e.length, only(e, 'gossip.join').length, e.join(', '));
    },
    record: true,
  },
  {
    name: 'gossip.total-loss: kill -9 of all and damaged stores; clear-persistent-state approved, seeds first, the rest staggered, plumtree_peer_count',
    scenario: 'gossip.total-loss',
    fault: 'gossip.total-loss',
    gates: [{ gate: 'clear-persistent-state', approve: true }],
    status: 'completed',
    outcome: /^Cluster re-formed from scratch: seeds first, then 3 node\(s\) staggered; plumtree_peer_count gossip1: 4, gossip2: 4, gossip3: 4, gossip4: 4, gossip5: 4/,
    effects: (e) => {
      assert.deepEqual(e.slice(0, 2).sort(), ['gossip.start:gossip1', 'gossip.start:gossip2'], 'seeds first');
      assert.deepEqual(e.slice(2), ['gossip.start:gossip3', 'gossip.start:gossip4', 'gossip.start:gossip5']);
    },
    record: true,
  },
];

/**
 * Effect index ranges of the restarts made for a memberlist-core panic
 * ({@link restartPanicked}): the operator's, not the recovery's effects.
 */
const remedies: Array<[number, number]> = [];
const effectCount = (stack: Stack): number => stack.lab.effects.list({ cluster: CLUSTER }).length;

/** The effects since `from`, as `effect:node` (without the restarts made for a memberlist-core panic). */
export function effectsSince(stack: Stack, from: number): string[] {
  return effectsOutside(stack.lab.effects.list({ cluster: CLUSTER }), from, remedies);
}

const QUIET: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/**
 * Real nodes only: restarts each node the lab's health shows with a
 * memberlist-core task panic ({@link memberlistPanicked}) through Lifeboat's
 * own `gossipService` activity, as an operator does (or its unit with
 * --exit-on-panic). Returns the nodes restarted.
 */
async function restartPanicked(stack: Stack, why: string): Promise<string[]> {
  const deaf = memberlistPanicked((await stack.lab.health()).find((c) => c.cluster === CLUSTER));
  if (deaf.length === 0) return [];
  const acts = createActivities({ inventoryPath: stack.lab.inventoryPath });
  try {
    for (const n of deaf) {
      console.log(`# ${n.node}: ${n.detail}; ${why}: restarting ${n.node}, as an operator (or its unit with --exit-on-panic) would`);
      const from = effectCount(stack);
      const env = new MockActivityEnvironment({ activityId: `remedy-${n.node}-${from}` }, { logger: QUIET });
      await env.run(acts.activities.gossipService, { cluster: CLUSTER, node: n.node, action: 'restart' as const });
      remedies.push([from, effectCount(stack)]);
    }
  } finally {
    await acts.close();
  }
  return deaf.map((n) => n.node);
}

/** Waits until the gate waits, failing early when the recovery ended or asks a decision. */
export async function gateWaiting(stack: Stack, gate: string, timeoutMs: number): Promise<Progress> {
  return eventually(
    `gate ${gate}`,
    async () => {
      const p = await progressOf(stack, ID);
      if (!OPEN.includes(p.status)) throw new Error(`recovery ended before the gate: ${p.status} ${p.outcome ?? ''}`);
      if (p.pendingDecision) throw new Error(`the recovery asks: ${p.pendingDecision.step}: ${p.pendingDecision.error}`);
      return p.gates.some((g) => g.gate === gate && g.status === 'waiting') ? p : undefined;
    },
    timeoutMs,
    300,
  );
}

/**
 * Every node up and seeing all five, one root hash (waits for anti-entropy).
 * With `real`, a node a memberlist-core panic left deaf is restarted once
 * ({@link restartPanicked}) and the wait starts again.
 */
export async function assertHealthy(stack: Stack, timeoutMs: number, real = false): Promise<void> {
  const wait = () =>
    eventually(
      `${CLUSTER} healthy`,
      async () => {
        const h = (await stack.lab.health()).find((c) => c.cluster === CLUSTER);
        return h?.healthy ? h : undefined;
      },
      timeoutMs,
      500,
    );
  const fail = async (err: Error): Promise<never> => {
    throw new Error(`${err.message}: ${JSON.stringify((await stack.lab.health()).find((c) => c.cluster === CLUSTER))}`);
  };
  try {
    await wait();
  } catch (err) {
    if (!real || (await restartPanicked(stack, `the cluster is not healthy after ${timeoutMs / 1000} s`)).length === 0) return fail(err as Error);
    await wait().catch(fail);
  }
}

/** Runs one case on the stack: fault, `lifeboat run`, gates, end, outcome, effects, health. */
export async function runCase(stack: Stack, c: GossipCase, opts: { timeoutMs: number; timeScale?: string[]; real?: boolean }): Promise<Progress> {
  if (c.fault) await stack.lab.break(c.fault);
  const from = stack.lab.effects.list({ cluster: CLUSTER }).length;
  const run = await stack.cli(['run', c.scenario, '--cluster', CLUSTER, '--as', 'bob', ...(opts.timeScale ?? FAST)]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  for (const g of c.gates) {
    const p = await gateWaiting(stack, g.gate, opts.timeoutMs);
    assert.equal(p.gates.find((x) => x.gate === g.gate)?.dangerous, true, `${g.gate} is dangerous`);
    assert.deepEqual(effectsSince(stack, from).filter((e) => !e.startsWith('gossip.stop:')), [], 'nothing but stops before a gate');
    const r = g.approve
      ? await stack.cli(['approve', ID, g.gate, '--as', 'alice', '--reason', 'conformance: checked by the second on-call', '--confirm', CLUSTER])
      : await stack.cli(['reject', ID, g.gate, '--as', 'alice', '--reason', 'conformance: the uplink is still down']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }
  let p = await finishedOf(stack, ID, opts.timeoutMs, { stopOnDecision: true, everyMs: 300 });
  // Real nodes: a recovery that asks because a memberlist-core panic left a node deaf gets the operator's answer: restart it, retry.
  for (let round = 0; opts.real && p.pendingDecision !== undefined && round < 2; round++) {
    const restarted = await restartPanicked(stack, `the recovery asks at "${p.pendingDecision.step}"`);
    if (restarted.length === 0) break;
    const r = await stack.cli(['decide', ID, 'retry', '--as', 'alice', '--reason', `restarted ${restarted.join(', ')} after a memberlist-core task panic (docs/gossip.md)`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    p = await finishedOf(stack, ID, opts.timeoutMs, { stopOnDecision: true, everyMs: 300 });
  }
  const steps = p.steps.map((s) => `${s.status} ${s.title}: ${s.detail ?? s.error ?? ''}`).join('\n');
  if (p.pendingDecision !== undefined) {
    // Not left waiting: the next case would be refused ("already has a recovery running") and fail for nothing.
    await stack.cli(['cancel', ID, '--as', 'bob', '--reason', `test case failed: ${c.name}`]);
  }
  assert.equal(p.pendingDecision, undefined, `the recovery asks: ${p.pendingDecision?.step}: ${p.pendingDecision?.error}\n${steps}`);
  assert.equal(p.status, c.status, `${c.scenario}: ${p.status}: ${p.outcome ?? ''}\n${steps}`);
  assert.match(p.outcome ?? '', c.outcome);
  for (const [k, v] of Object.entries(c.facts ?? {})) {
    if (typeof v === 'string') assert.equal(p.facts[k], v, `fact ${k}`);
    else assert.match(p.facts[k] ?? '', v, `fact ${k}`);
  }
  c.effects(effectsSince(stack, from));
  if (c.healthy ?? true) await assertHealthy(stack, opts.timeoutMs, opts.real);
  else assert.equal((await stack.lab.health()).find((x) => x.cluster === CLUSTER)?.healthy, false, 'still broken');
  if (c.record) recordHistory(stack, ID, c.scenario);
  return p;
}
