/**
 * The seven training-cluster scenarios as an operator runs them, one case
 * per scenario: the lab's fault, `lifeboat run` through the CLI, the gates
 * approved from the CLI by someone other than the starter (with the
 * cluster's name typed back), the outcome, what the nodes received (the
 * lab's effect log, counted), and a healthy cluster afterwards: one leader
 * every node follows, every node in the mesh, the game data and models
 * intact.
 *
 * The same cases run on the lab's simulated training cluster
 * (test/e2e/training-scenarios.test.ts, `npm test`) and on real RingRift
 * orchestrators in per-node namespaces
 * (test/conformance/training-scenarios.test.ts, `npm run conformance`):
 * what passes on one and fails on the other is a drift of the simulation.
 * The cases run one after the other on one stack (the real cluster takes
 * about a minute to form), each leaving the cluster healthy.
 */
import assert from 'node:assert/strict';
import type { TrainingBackendKind } from '../../lab/index';
import type { Progress } from '../../src/workflows/kit/defs';
import { finishedOf, OPEN, progressOf, recordHistory } from './recovery';
import { eventually, startStack, type Stack } from './stack';

export const CLUSTER = 'lab-training';
const ID = `recovery-${CLUSTER}`;

export interface TrainingCase {
  scenario: string;
  /** The lab fault that makes it needed. */
  fault: string;
  /** Gates approved in this order. */
  gates: string[];
  /** Extra `lifeboat run` flags. */
  flags?: string[];
  /** `--time-scale` on each backend (the real mesh needs its minute to agree on a leader); default 1. */
  scale?: Partial<Record<TrainingBackendKind, number>>;
  outcome: RegExp;
  /** `effect` counts the recovery must have caused (others of the counted kinds must not happen). */
  effects: Record<string, number>;
  /**
   * Another ending the real code may take, by backend, with its own effects: the case passes with either,
   * never with a mix (an outcome of one with the effects of the other fails).
   */
  or?: Partial<Record<TrainingBackendKind, Array<{ outcome: RegExp; effects: Record<string, number> }>>>;
}

/** Effects the cases count; anything else (reads, the simulation's own bookkeeping) is not compared. */
const COUNTED = [
  'orchestrator.start',
  'orchestrator.stop',
  'orchestrator.restart',
  'election.reset',
  'election.set-leader',
  'p2p.unretire',
  'games.restore',
  'games.aggregate',
  'model.pull',
  'sync-agent.restart',
  'sync.trigger',
  'sync.full',
  'daemons.launched',
];

export const TRAINING_CASES: TrainingCase[] = [
  {
    scenario: 'training-cluster.leader-failure',
    fault: 'training-cluster.leader-failure',
    gates: [],
    // The leader (the coordinator, the only node ever elected) is SIGKILLed; its followers keep reporting it.
    outcome: /^Leader restored by P2P restarted on tc-node1: tc-node1 leads \(agreed by 5\/5\)/,
    // The real case runs the procedure's own waits: on a machine shared with CI the real followers may take more
    // than its 2 min to take the restarted coordinator back (some report no leader); the election reset that
    // follows is the other ending below.
    scale: { sim: 0.1 },
    effects: { 'orchestrator.start': 1 },
    // Seen at 2aa9f89b5 on this machine: a follower may keep reporting no leader for minutes after the
    // coordinator is back (the code adopts a leader by term and epoch, scripts/p2p/gossip_protocol.py), until
    // the election is reset; the procedure's next option does that, and one leader then stays.
    // And a follower can lose the leader again once it took it back (it learned it without a lease): the final
    // verification then resets the election on the three voters once (each ending above, then that).
    or: {
      real: [
        { outcome: /^Leader restored by election reset on tc-node2, tc-node3: tc-node1 leads \(agreed by 5\/5\)/, effects: { 'orchestrator.start': 1, 'election.reset': 2 } },
        {
          outcome: /^Leader restored by P2P restarted on tc-node1, then election reset on tc-node1, tc-node2, tc-node3: tc-node1 leads \(agreed by 5\/5\)/,
          effects: { 'orchestrator.start': 1, 'election.reset': 3 },
        },
        {
          outcome: /^Leader restored by election reset on tc-node2, tc-node3, then election reset on tc-node1, tc-node2, tc-node3: tc-node1 leads \(agreed by 5\/5\)/,
          effects: { 'orchestrator.start': 1, 'election.reset': 5 },
        },
      ],
    },
  },
  {
    scenario: 'training-cluster.leader-failure',
    fault: 'training-cluster.leader-failure.voters',
    gates: [],
    // The leader and the next voter SIGKILLed: one voter of three answers, no quorum, nobody can be elected. The
    // down voters are restarted, the coordinator first; the waits as in the leader's own case (above).
    outcome: /^Leader restored by P2P restarted on tc-node1, tc-node2: tc-node1 leads \(agreed by 5\/5\)/,
    scale: { sim: 0.1 },
    effects: { 'orchestrator.start': 2 },
    or: {
      real: [
        { outcome: /^Leader restored by election reset on tc-node3: tc-node1 leads \(agreed by 5\/5\)/, effects: { 'orchestrator.start': 2, 'election.reset': 1 } },
        {
          outcome: /^Leader restored by P2P restarted on tc-node1, tc-node2, then election reset on tc-node1, tc-node2, tc-node3: tc-node1 leads \(agreed by 5\/5\)/,
          effects: { 'orchestrator.start': 2, 'election.reset': 3 },
        },
        {
          outcome: /^Leader restored by election reset on tc-node3, then election reset on tc-node1, tc-node2, tc-node3: tc-node1 leads \(agreed by 5\/5\)/,
          effects: { 'orchestrator.start': 2, 'election.reset': 4 },
        },
      ],
    },
  },
  {
    scenario: 'training-cluster.mesh-collapse',
    fault: 'training-cluster.mesh-collapse',
    gates: [],
    // Every orchestrator killed: the coordinator first, the other voters, then the workers that did not rejoin.
    outcome: /^Mesh re-formed: leader tc-node1, alive 5\/5; tc-node1 stays the leader/,
    // The real mesh's peer tables take their time on a loaded machine: the runbook's own waits (30 s, 60 s, 3 min).
    scale: { sim: 0.05 },
    effects: { 'orchestrator.start': 5 },
  },
  {
    scenario: 'training-cluster.cluster-outage',
    fault: 'training-cluster.cluster-outage',
    gates: [],
    // The coordinator's orchestrator is started by Lifeboat; the other nodes' units start theirs when their hosts return.
    outcome: /^Cluster back: 5\/5 nodes back/,
    scale: { sim: 0.01, real: 0.3 },
    effects: { 'orchestrator.start': 1, 'sync.full': 1, 'daemons.launched': 1 },
  },
  {
    scenario: 'training-cluster.node-data-loss',
    fault: 'training-cluster.node-data-loss',
    gates: ['overwrite-db-from-backup'],
    outcome: /^Data on tc-node5 recovered: restored from the backup/,
    // The 5 min wait for the cluster's own auto-sync becomes 15 s.
    scale: { sim: 0.05, real: 0.05 },
    effects: { 'games.restore': 1 },
  },
  {
    scenario: 'training-cluster.model-corruption',
    fault: 'training-cluster.model-corruption',
    gates: ['replace-canonical-model'],
    outcome: /^Model on tc-node1 recovered: pulled the verified copy from tc-node2/,
    effects: { 'model.pull': 1 },
  },
  {
    scenario: 'training-cluster.multi-node-data-loss',
    fault: 'training-cluster.multi-node-data-loss',
    gates: ['stop-writes'],
    scale: { sim: 0.02, real: 0.02 },
    outcome: /^Surviving data aggregated on tc-node1/,
    effects: { 'games.aggregate': 1 },
  },
  {
    scenario: 'training-cluster.sync-host-critical',
    // tc-node5's data unsynced for 2 h and its orchestrator killed: the gauges count it critical, its heartbeats stop.
    fault: 'training-cluster.sync-host-critical',
    gates: [],
    // The gauges carry no host names, and a real peer table counts a killed peer alive for its timeout: the alert's host is named.
    flags: ['--set', 'host=tc-node5'],
    outcome: /^Sync hosts recovered: tc-node5: full sync triggered, orchestrator restarted/,
    // A restarted real orchestrator answers after 13-20 s and heartbeats every 5 s: the 3 min wait after the restart keeps 45 s.
    scale: { sim: 0.01, real: 0.25 },
    effects: { 'sync.trigger': 1, 'orchestrator.start': 1 },
  },
  {
    scenario: 'training-cluster.sync-host-critical',
    // tc-node5's orchestrator killed and retired by the coordinator (the real one after RINGRIFT_P2P_PEER_RETIRE_AFTER_SECONDS).
    fault: 'training-cluster.sync-host-critical.retired',
    gates: [],
    // No --set host: the coordinator's peers name it (retired, not alive).
    // Option 4 first (unretire; a dead peer is not back by it), then the full sync, then the restart, after which the
    // coordinator takes the returning peer back by itself.
    outcome: /^Sync hosts recovered: tc-node5: full sync triggered, orchestrator restarted/,
    scale: { sim: 0.01, real: 0.25 },
    effects: { 'p2p.unretire': 1, 'sync.trigger': 1, 'orchestrator.start': 1 },
  },
];

/** The stack of the cases: a dev server, a worker, and the lab's training cluster on `backend`. */
export function trainingStack(backend: TrainingBackendKind): Promise<Stack> {
  return startStack({ families: ['training-cluster'], trainingBackend: backend });
}

/** `{ effect: n }` of the counted effects since `from`. */
function counted(stack: Stack, from: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of stack.lab.effects.list({ cluster: CLUSTER }).slice(from)) {
    if (COUNTED.includes(e.effect)) out[e.effect] = (out[e.effect] ?? 0) + 1;
  }
  return out;
}

/**
 * Runs one case on a started stack: break, run, approve, verify, and wait until the cluster is healthy again.
 * A case that fails cancels its recovery if it is still open, so that the next case does not fail on it too
 * (one recovery per cluster); the failure is the case's own.
 */
export async function runTrainingCase(stack: Stack, c: TrainingCase, opts: { backend: TrainingBackendKind; timeoutMs: number; record?: boolean }): Promise<Progress> {
  try {
    return await runCase(stack, c, opts);
  } catch (err) {
    const p = await progressOf(stack, ID).catch(() => undefined);
    if (p && OPEN.includes(p.status)) {
      const cancel = await stack.cli(['cancel', ID, '--as', 'alice', '--reason', `the test case ${c.scenario} failed`]);
      if (cancel.code === 0) await finishedOf(stack, ID, 60_000).catch(() => undefined);
    }
    throw err;
  }
}

async function runCase(stack: Stack, c: TrainingCase, opts: { backend: TrainingBackendKind; timeoutMs: number; record?: boolean }): Promise<Progress> {
  await healthy(stack, opts.timeoutMs);
  await stack.lab.break(c.fault);
  const before = stack.lab.effects.list({ cluster: CLUSTER }).length;
  const scale = c.scale?.[opts.backend];
  const run = await stack.cli(['run', c.scenario, '--cluster', CLUSTER, '--as', 'bob', ...(c.flags ?? []), ...(scale ? ['--time-scale', String(scale)] : [])]);
  assert.equal(run.code, 0, `lifeboat run: ${run.stderr}`);
  for (const gate of c.gates) {
    await eventually(
      `${c.scenario} to wait on ${gate}`,
      async () => {
        const p = await progressOf(stack, ID);
        if (!OPEN.includes(p.status)) throw new Error(`${c.scenario} ended (${p.status}) before ${gate}: ${p.outcome ?? ''}`);
        if (p.pendingDecision) throw new Error(`${c.scenario} asks a decision: ${p.pendingDecision.step}: ${p.pendingDecision.error}`);
        return p.gates.some((g) => g.gate === gate && g.status === 'waiting');
      },
      opts.timeoutMs,
      500,
    );
    const ok = await stack.cli(['approve', ID, gate, '--as', 'alice', '--reason', 'checked the evidence', '--confirm', CLUSTER]);
    assert.equal(ok.code, 0, `approve ${gate}: ${ok.stderr}`);
  }
  const p = await finishedOf(stack, ID, opts.timeoutMs, { stopOnDecision: true });
  const story = p.steps.map((s) => `${s.status} ${s.title}: ${s.detail ?? s.error ?? ''}`).join('\n');
  assert.equal(p.pendingDecision, undefined, `the recovery asks: ${p.pendingDecision?.step}: ${p.pendingDecision?.error}\n${story}`);
  assert.equal(p.status, 'completed', `${c.scenario}: ${p.status}: ${p.outcome ?? ''}\n${story}`);
  const ending = (c.or?.[opts.backend] ?? []).find((alt) => alt.outcome.test(p.outcome ?? '')) ?? { outcome: c.outcome, effects: c.effects };
  assert.match(p.outcome ?? '', ending.outcome, story);
  assert.deepEqual(counted(stack, before), ending.effects, 'what the nodes received, once each');
  await healthy(stack, opts.timeoutMs);
  if (opts.record) recordHistory(stack, ID, c.scenario, c.fault === c.scenario ? undefined : `e2e-${c.fault.slice(c.scenario.length + 1)}`);
  return p;
}

/** The training cluster is healthy in the lab's eyes: one agreed leader, every node in the mesh, data and models intact. */
export async function healthy(stack: Stack, timeoutMs: number): Promise<void> {
  await eventually(
    'the training cluster to be healthy',
    async () => {
      const h = (await stack.lab.health()).find((x) => x.cluster === CLUSTER);
      return h?.healthy ? h : undefined;
    },
    timeoutMs,
    1000,
  );
}
