/**
 * The crash-matrix harness: runs one scenario against the lab on a real dev
 * server (through the CLI, as an operator would), and at a chosen wait kind
 * kills what drives it — SIGKILLs the worker (`activity`, `timer`,
 * `approval`, `decision`) or restarts the dev server on its database
 * (`server`) — then brings a fresh worker (or server) back at once and lets
 * the recovery finish (answering its gates and decisions from the CLI).
 *
 * It reports what a test asserts: the recovery completed, the lab is
 * healthy, how many times each non-idempotent effect hit each node, and the
 * resume gap: from the kill (for `approval`/`decision`: from the answer sent
 * to the new worker) to the recovery's next timeline entry on the new worker.
 *
 * Used by test/crash/crash.test.ts and bench/crash-matrix/run.ts.
 */
import type { LabFamilyName } from '../../lab/index';
import { progressQuery, type Progress } from '../../src/workflows/kit/defs';
import { eventually, startStack, type Stack, type WorkerProcess } from './stack';

export type CrashKind = 'activity' | 'timer' | 'approval' | 'decision' | 'server';

export interface CrashCase {
  /** e.g. `ledger.quorum-loss@approval`. */
  id: string;
  scenario: string;
  cluster: string;
  family: LabFamilyName;
  /** Lab families to start (default: `[family]`). */
  families?: LabFamilyName[];
  /** The cluster whose effects and health are checked (default: `cluster`; the DR cluster for a regional failover). */
  checkCluster?: string;
  /** `lab break` faults applied before the run, in order. */
  faults: string[];
  kind: CrashKind;
  /** Extra `lifeboat run` flags. */
  runArgs?: string[];
  /**
   * For `decision`: a host fault that makes a step with `onFailure: 'ask'`
   * fail (e.g. `host.refuse-auth:lab-ledger/node1`); healed before the
   * operator decides `retry`.
   */
  decisionFault?: string;
  /**
   * For `decision` without a `decisionFault`: the recovery runs with this
   * approval timeout (e.g. `3s`) and its first gate is left unanswered until
   * it times out and asks the operator (retry | abort); the worker is killed
   * on that decision, the new worker gets `retry`, then the approval.
   */
  gateTimeout?: string;
  /** For `decision`: apply `decisionFault` at the recovery's first timer or poll wait (after its diagnosis), not before the run. */
  decisionFaultAtWait?: boolean;
  /** For `decision`: apply `decisionFault` as soon as a step whose title matches is seen (a later SSH call then fails). */
  decisionFaultAtStep?: RegExp;
  /** For `decision`: apply `decisionFault` just before this gate is approved (the diagnosis behind it), not before the run. */
  decisionFaultAtGate?: string;
  /** Lab faults applied just before a gate is approved (the technician's hands: `gate` → fault). */
  beforeGate?: Record<string, string>;
  /** `--choice` per gate where the first offered does not do (`{labDir}` stands for the lab's directory), e.g. a password reference. */
  gateChoices?: Record<string, string>;
  /**
   * For `activity`: kill while a step whose title matches is running. Without
   * it: kill as soon as the lab records the first of `onceEffects` (its
   * activity is then still in flight, verifying what it did).
   */
  activityStep?: RegExp;
  /**
   * For `activity` without `activityStep`, when every effect's activity ends
   * at once (an HTTP API call): kill right after the first effect even though
   * its activity has completed (the crash then falls between the effect and
   * the next step).
   */
  afterEffect?: boolean;
  /** For `timer`: kill while this timer (its wait title) runs. */
  timerTitle?: RegExp;
  /** For `timer`/`server`: the durable sleep between the probes of a `waitFor` counts as the timer. */
  poll?: boolean;
  /** Effects that must hit each node at most this many times over the whole run (`effect` → count). */
  onceEffects: Record<string, number>;
  /** Bound on the whole case (default 6 min). */
  timeoutMs?: number;
  /** The lab ledger's backend: the simulation (default) or real inferadb-ledger processes (the conformance suite). */
  ledgerBackend?: 'sim' | 'real';
}

export interface CrashResult {
  id: string;
  scenario: string;
  kind: CrashKind;
  completed: boolean;
  status: string;
  outcome?: string;
  labHealthy: boolean;
  /** The lab's health summary of the checked cluster after the run. */
  labSummary: string;
  /** Per effect and node, how many times the lab received it during the run. */
  effectCounts: Record<string, Record<string, number>>;
  /** Effects that exceeded their bound (empty = none done twice). */
  repeated: string[];
  /** Where the kill happened (step or wait title; for `activity`, the activity in flight). */
  killedAt: string;
  /**
   * ms to the recovery's next move on the new worker/server (a timeline
   * entry, a step starting or ending, a new probe), from: the kill
   * (activity, poll), the answer sent to the new worker (approval,
   * decision), or the end the killed timer was scheduled for (timer; a
   * timer cannot fire earlier, so this is how late it fired).
   */
  resumeGapMs: number;
  /** What the gap was measured from. */
  gapFrom: 'kill' | 'answer' | 'timer-end';
  /**
   * For `activity`: ms from the SIGKILL to the killed activity's retried
   * attempt running on the new worker (from the server's pending-activity
   * record); -1 when the activity had completed before the kill.
   */
  retryGapMs?: number;
  durationMs: number;
}

const OPEN = ['running', 'waiting-approval', 'waiting-decision'];

/** Runs one case on its own stack; always stops the stack. */
export async function runCrashCase(c: CrashCase): Promise<CrashResult> {
  const stack = await startStack({ families: c.families ?? [c.family], ...(c.ledgerBackend ? { ledgerBackend: c.ledgerBackend } : {}) });
  const began = Date.now();
  try {
    return await drive(stack as Stack & { worker: WorkerProcess }, c, began);
  } finally {
    await stack.stop();
  }
}

/** The effect log's key: the effect; the node, with the host an effect was about (a sync coordinator acting for a host). */
function effectKey(e: { effect: string; node: string; detail?: Record<string, unknown> }): [string, string] {
  const key = e.effect;
  const node = typeof e.detail?.host === 'string' ? `${e.node}/${e.detail.host}` : e.node;
  return [key, node];
}

async function drive(stack: Stack & { worker: WorkerProcess }, c: CrashCase, began: number): Promise<CrashResult> {
  const { lab, cli } = stack;
  const workflowId = `recovery-${c.cluster}`;
  const checked = c.checkCluster ?? c.cluster;
  const handle = stack.client.workflow.getHandle(workflowId);
  const progress = (): Promise<Progress> => handle.query(progressQuery);
  for (const f of c.faults) await lab.break(f);
  if (c.decisionFault && !c.decisionFaultAtGate && !c.decisionFaultAtWait && !c.decisionFaultAtStep) await lab.break(c.decisionFault);
  let faultAtWait = false;
  const start = lab.effects.list({ cluster: checked }).length;
  const onceHits = (): number => lab.effects.list({ cluster: checked }).slice(start).filter((e) => effectKey(e)[0] in c.onceEffects).length;
  let seenHits = 0;
  let killedActivity = '';
  /**
   * A new non-idempotent effect reached the lab and the activity that did it
   * is still running (verifying): the moment a crash is most dangerous.
   * Without such a moment (every effect's activity ends at once) the case
   * reports that it never killed.
   */
  const effectInFlight = async (): Promise<boolean> => {
    const n = onceHits();
    if (n <= seenHits) return false;
    seenHits = n;
    try {
      const d = await handle.describe();
      const a = (d.raw.pendingActivities ?? []).find((x) => String(x.state) === '2' || String(x.state) === 'PENDING_ACTIVITY_STATE_STARTED');
      if (!a && c.afterEffect) {
        const e = lab.effects.list({ cluster: checked }).slice(start).filter((x) => effectKey(x)[0] in c.onceEffects)[0]!;
        killedActivity = `right after the effect ${e.effect} on ${e.node} (its activity had completed)`;
        return true;
      }
      if (!a) return false;
      killedActivity = `activity ${a.activityType?.name ?? '?'} (attempt ${a.attempt ?? 1}) in flight after its effect`;
      return true;
    } catch {
      return false;
    }
  };
  const run = await cli(['run', c.scenario, '--cluster', c.cluster, '--as', 'bob', ...(c.runArgs ?? []), ...(c.gateTimeout ? ['--approval-timeout', c.gateTimeout] : [])]);
  if (run.code !== 0) throw new Error(`lifeboat run failed (${run.code}): ${run.stderr}`);

  let worker: WorkerProcess = stack.worker;
  let killed = false;
  let killedAt = '';
  let gapFrom: 'kill' | 'answer' | 'timer-end' = 'kill';
  let mark = 0;
  let killMs = 0;
  let resumeGapMs = -1;
  let retryGapMs: number | undefined;
  const applied = new Set<string>();
  const deadline = began + (c.timeoutMs ?? 360_000);

  const killNow = async (where: string, timerEnd?: string): Promise<void> => {
    killedAt = where;
    mark = killMs = Date.now();
    if (timerEnd && Date.parse(timerEnd) > mark) {
      mark = Date.parse(timerEnd);
      gapFrom = 'timer-end';
    }
    killed = true;
    if (c.kind === 'server') {
      await stack.stopServer();
      await stack.startServer();
    } else {
      await worker.kill();
      worker = stack.startWorker();
      await worker.ready;
    }
  };
  const answered = (): void => {
    if (killed && resumeGapMs < 0 && (c.kind === 'approval' || c.kind === 'decision') && gapFrom === 'kill') {
      gapFrom = 'answer';
      mark = Date.now();
    }
  };
  /** For a killed activity: the retried attempt started on the server's side. */
  const retryStarted = async (): Promise<void> => {
    if (c.kind !== 'activity' || !killed || retryGapMs !== undefined) return;
    try {
      const d = await handle.describe();
      for (const a of d.raw.pendingActivities ?? []) {
        const t = a.lastStartedTime?.seconds ? Number(a.lastStartedTime.seconds) * 1000 + Math.floor((a.lastStartedTime.nanos ?? 0) / 1e6) : 0;
        if ((a.attempt ?? 1) >= 2 && t >= killMs) retryGapMs = t - killMs;
      }
    } catch {
      // server busy: next round
    }
  };

  let p: Progress | undefined;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`${c.id}: not finished within ${c.timeoutMs ?? 360_000} ms (last status ${p?.status}, kill at ${killedAt || 'none'})`);
    await retryStarted();
    try {
      p = await progress();
    } catch {
      // Worker or server coming back: try again.
      await sleep(200);
      continue;
    }
    if (killed && resumeGapMs < 0 && mark > 0) {
      const next = firstMoveAfter(p, mark);
      if (next !== undefined) resumeGapMs = next - mark;
    }
    if (!OPEN.includes(p.status)) break;

    const atStep = c.decisionFaultAtStep && p.steps.some((s) => c.decisionFaultAtStep!.test(s.title));
    if (c.decisionFault && !faultAtWait && ((c.decisionFaultAtWait && (p.wait?.kind === 'timer' || p.wait?.kind === 'poll')) || atStep)) {
      faultAtWait = true;
      await lab.break(c.decisionFault);
    }
    if (!killed) {
      const running = p.steps.filter((s) => s.status === 'running').at(-1);
      if (c.kind === 'activity' && c.activityStep && running && c.activityStep.test(running.title)) {
        await killNow(`step "${running.title}"`);
        continue;
      }
      if (c.kind === 'activity' && !c.activityStep && (await effectInFlight())) {
        await killNow(`step "${running?.title ?? p.currentStep ?? '?'}": ${killedActivity}`);
        continue;
      }
      const timerKind = p.wait?.kind === 'timer' || (c.poll && p.wait?.kind === 'poll');
      if ((c.kind === 'timer' || c.kind === 'server') && (c.timerTitle || c.poll) && timerKind && (!c.timerTitle || c.timerTitle.test(p.wait!.title))) {
        await killNow(`${p.wait!.kind} "${p.wait!.title}"`, p.wait!.kind === 'timer' ? p.wait!.until : p.wait!.nextProbeAt);
        continue;
      }
      // At the wait itself: the status turns waiting-approval while the gate's notification goes out, and a kill
      // then leaves the new worker that activity to finish before it waits (a move before any answer).
      if ((c.kind === 'approval' || (c.kind === 'server' && !c.timerTitle && !c.poll)) && p.status === 'waiting-approval' && p.wait?.kind === 'approval') {
        await killNow(`approval "${p.gates.find((g) => g.status === 'waiting')?.gate}"`);
        continue;
      }
      if (c.kind === 'decision' && p.status === 'waiting-decision' && p.wait?.kind === 'decision') {
        await killNow(`decision on "${p.pendingDecision?.step}"`);
        continue;
      }
    }
    if (p.status === 'waiting-approval') {
      const gate = p.gates.find((g) => g.status === 'waiting');
      // A gate-timeout decision case leaves the gate alone until its timeout asked the operator and the worker died there.
      if (gate && (killed || (c.kind !== 'approval' && !c.gateTimeout))) {
        const fault = c.beforeGate?.[gate.gate];
        if (!applied.has(gate.gate)) {
          applied.add(gate.gate);
          if (fault) await lab.break(fault);
          if (c.decisionFault && c.decisionFaultAtGate === gate.gate) await lab.break(c.decisionFault);
        }
        answered();
        const r = await cli(['approve', workflowId, gate.gate, '--as', 'alice', '--reason', 'crash matrix', ...(gate.dangerous ? ['--confirm', c.cluster] : []), ...choiceArgs(c, gate, lab.dir)]);
        if (r.code !== 0 && r.code !== 4) throw new Error(`approve failed (${r.code}): ${r.stderr}`);
      }
    } else if (p.status === 'waiting-decision' && (killed || c.kind !== 'decision')) {
      const gateTimedOut = /^approval of ".*" timed out$/.test(p.pendingDecision?.step ?? '');
      if (!c.decisionFault && !(c.gateTimeout && gateTimedOut)) throw new Error(`${c.id}: unexpected operator decision on "${p.pendingDecision?.step}": ${JSON.stringify(p.pendingDecision)}`);
      if (c.decisionFault) await lab.break(c.decisionFault.replace(/^host\.[a-z-]+:/, 'host.heal:'));
      answered();
      const r = await cli(['decide', workflowId, 'retry', '--as', 'alice', '--reason', 'crash matrix']);
      if (r.code !== 0 && r.code !== 4) throw new Error(`decide failed (${r.code}): ${r.stderr}`);
    }
    // Watch the effect log closely between two progress queries (an activity kill lands mid-activity).
    // After an activity kill, the retried attempt may finish within one round: look at the server's pending activity as often.
    for (let i = 0; i < 20; i++) {
      if (c.kind === 'activity' && !killed && !c.activityStep && (await effectInFlight())) {
        await killNow(killedActivity);
        break;
      }
      if (c.kind === 'activity' && killed && retryGapMs === undefined) await retryStarted();
      await sleep(10);
    }
  }

  const effects = lab.effects.list({ cluster: checked }).slice(start);
  const effectCounts: Record<string, Record<string, number>> = {};
  for (const e of effects) {
    const [key, node] = effectKey(e);
    (effectCounts[key] ??= {})[node] = (effectCounts[key]?.[node] ?? 0) + 1;
  }
  const repeated: string[] = [];
  for (const [effect, max] of Object.entries(c.onceEffects)) {
    for (const [node, n] of Object.entries(effectCounts[effect] ?? {})) if (n > max) repeated.push(`${effect} on ${node}: ${n} (at most ${max})`);
  }
  const health = await settledHealth(stack, checked);
  return {
    id: c.id,
    scenario: c.scenario,
    kind: c.kind,
    completed: p?.status === 'completed',
    status: p?.status ?? 'unknown',
    outcome: p?.outcome,
    labHealthy: health.healthy,
    labSummary: health.summary,
    effectCounts,
    repeated,
    killedAt: killed ? killedAt : 'never (the wait kind did not occur)',
    resumeGapMs,
    gapFrom,
    ...(c.kind === 'activity' ? { retryGapMs: retryGapMs ?? -1 } : {}),
    durationMs: Date.now() - began,
  };
}

/** The lab's health settles a moment after the last effect (a node re-joining): polled up to 10 s. */
async function settledHealth(stack: Stack, cluster: string): Promise<{ healthy: boolean; summary: string }> {
  let last = { healthy: false, summary: `no health for ${cluster}` };
  for (let i = 0; i < 20; i++) {
    const h = (await stack.lab.health()).find((x) => x.cluster === cluster);
    if (h) last = { healthy: !!h.healthy, summary: h.summary };
    if (last.healthy) break;
    await sleep(500);
  }
  return last;
}

/** The first move of the recovery at or after `ms`: a timeline entry, a step start or end, a new wait (probe). */
function firstMoveAfter(p: Progress, ms: number): number | undefined {
  const times = [
    ...p.timeline.map((t) => t.at),
    ...p.steps.flatMap((s) => [s.startedAt, s.endedAt ?? '']),
    p.wait?.since ?? '',
    p.endedAt ?? '',
  ]
    .map((t) => (t ? Date.parse(t) : NaN))
    .filter((t) => !Number.isNaN(t) && t >= ms);
  return times.length ? Math.min(...times) : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface ScenarioDrive {
  scenario: string;
  family: LabFamilyName;
  cluster: string;
  families?: LabFamilyName[];
  checkCluster?: string;
  faults?: string[];
  runArgs?: string[];
  beforeGate?: Record<string, string>;
  gateChoices?: Record<string, string>;
  onceEffects: Record<string, number>;
}

type KindOptions = Partial<Pick<CrashCase, 'onceEffects' | 'gateTimeout' | 'decisionFaultAtWait' | 'decisionFaultAtStep' | 'decisionFaultAtGate' | 'runArgs' | 'activityStep' | 'afterEffect' | 'timerTitle' | 'poll' | 'decisionFault' | 'faults' | 'timeoutMs'>> & { kind: CrashKind; tag?: string };

/** The `--choice` of an approval: the case's for this gate, else the first the gate offers. */
function choiceArgs(c: Pick<CrashCase, 'gateChoices'>, gate: { gate: string; choices?: string[] }, labDir: string): string[] {
  const mine = c.gateChoices?.[gate.gate];
  if (mine) return ['--choice', mine.replace('{labDir}', labDir)];
  return gate.choices?.length ? ['--choice', gate.choices[0]!] : [];
}

/** One case per wait kind of a scenario, driven as its e2e test drives it. */
function cases(d: ScenarioDrive, kinds: KindOptions[]): CrashCase[] {
  return kinds.map(({ kind, tag, ...o }) => ({
    id: `${d.scenario}@${kind}${tag ? `.${tag}` : ''}`,
    scenario: d.scenario,
    cluster: d.cluster,
    family: d.family,
    ...(d.families ? { families: d.families } : {}),
    ...(d.checkCluster ? { checkCluster: d.checkCluster } : {}),
    ...(d.runArgs ? { runArgs: d.runArgs } : {}),
    ...(d.beforeGate ? { beforeGate: d.beforeGate } : {}),
    ...(d.gateChoices ? { gateChoices: d.gateChoices } : {}),
    kind,
    ...o,
    // A kind may loosen or tighten some bounds of the scenario's (the activity kill's resumed restore).
    onceEffects: { ...d.onceEffects, ...o.onceEffects },
    faults: o.faults ?? d.faults ?? [d.scenario],
  }));
}

/**
 * A decision wait in a gated scenario whose steps do not fail in the lab: the
 * first gate's approval (3 s here) times out and asks the operator; the
 * worker dies on that decision; the new one gets `retry`, then the approval.
 */
const GATE_TIMEOUT: KindOptions = { kind: 'decision', gateTimeout: '3s' };

/** The v2 ledger procedures: each node's unit started once (empty), at most one new cluster, the survivor stopped once. */
const LEDGER_ONCE = { 'ledger.service.start': 1, 'ledger.service.stop': 1, 'ledger.init': 1 };
const L = { family: 'ledger', cluster: 'lab-ledger' } as const;
const G = { family: 'gossip', cluster: 'lab-gossip' } as const;
const TS = { family: 'train-server', cluster: 'lab-train' } as const;
/** The people's hands at the train server's human steps (test/helpers/train-server-scenarios.ts). */
const TS_HANDS = {
  'recreate-config': 'train-server.by-hand.config',
  'by-hand-02-setup-gdrive-shared': 'train-server.by-hand.02-setup-gdrive-shared',
  'by-hand-06-setup-cloudflare-tunnel': 'train-server.by-hand.06-setup-cloudflare-tunnel',
};
/** The operator's copy of the restic password, by reference (the server's was on the lost OS disk). */
const TS_PASSWORD = { 'restic-password': 'file:{labDir}/secrets/lab-train-restic-password' };
const TC = { family: 'training-cluster', cluster: 'lab-training' } as const;

/**
 * The whole matrix: every scenario of the catalogue × every wait kind its
 * e2e path contains (test/e2e/*.test.ts: same faults, flags and gates).
 * `onceEffects` bounds every non-idempotent effect per node (per host for a
 * coordinator's effect about a host) at what the seed prescribes.
 */
export const CRASH_CASES: CrashCase[] = [
  // ledger (seed 002)
  ...cases({ ...L, scenario: 'ledger.quorum-loss', onceEffects: LEDGER_ONCE }, [
    { kind: 'approval' },
    // The survivor refuses the worker's key when its unit is stopped (after the gate): the stop asks; retry once it is fixed.
    { kind: 'decision', decisionFault: 'host.refuse-auth:lab-ledger/node1', decisionFaultAtGate: 'single-node-bootstrap' },
    // The import re-creates the data write by write: killed halfway, the retry writes nothing twice (idempotency keys).
    { kind: 'activity', activityStep: /^Re-create the data in it/ },
    { kind: 'server', timerTitle: /.*/, poll: true },
    // The same wait kind from the other source: the gate's approval timed out (retry | abort).
    { kind: 'decision', tag: 'gate-timeout', gateTimeout: '3s' },
  ]),
  ...cases({ ...L, scenario: 'ledger.node-failure', onceEffects: { 'ledger.leave': 1, ...LEDGER_ONCE } }, [
    { kind: 'activity' },
    // The failed node refuses SSH: its inspection asks; the operator retries once the key is fixed.
    { kind: 'decision', decisionFault: 'host.refuse-auth:lab-ledger/node3' },
  ]),
  // RecoverVault is one gRPC call: its activity ends with the effect.
  ...cases({ ...L, scenario: 'ledger.vault-divergence', onceEffects: { 'ledger.recover-vault': 1, 'ledger.leave': 0, 'ledger.service.stop': 0, 'ledger.service.start': 0 } }, [
    { kind: 'activity', afterEffect: true },
    // A divergence the server does not heal: the resync gate's approval times out (retry), then node by node rejoins empty.
    { kind: 'decision', faults: ['ledger.vault-divergence-stuck'], gateTimeout: '3s', onceEffects: { 'ledger.leave': 1, ...LEDGER_ONCE, 'ledger.init': 0 } },
  ]),
  ...cases({ ...L, scenario: 'ledger.full-restore', onceEffects: LEDGER_ONCE }, [
    { kind: 'approval' },
    { kind: 'activity', activityStep: /^Re-create the data in it/ },
    { kind: 'server' },
    GATE_TIMEOUT,
  ]),
  ...cases(
    {
      ...L,
      scenario: 'ledger.regional-failover',
      families: ['ledger', 'ledger-dr'],
      checkCluster: 'lab-ledger-dr',
      runArgs: ['--time-scale', '0.05'],
      onceEffects: { ...LEDGER_ONCE, 'k8s.configmap-patched': 1, 'k8s.rollout-restarted': 1 },
    },
    [
      { kind: 'approval' },
      { kind: 'activity' },
      // The detection window (3 probes 20 s apart, within 120 s) scaled to 1/20 is 6 s: less than a
      // crash costs (the resume gap, ~11 s). At 1/2 the window keeps its real slack over the gap.
      { kind: 'timer', poll: true, runArgs: ['--time-scale', '0.5'] },
      { kind: 'server' },
      GATE_TIMEOUT,
    ],
  ),
  // gossip (seed 003)
  ...cases({ ...G, scenario: 'gossip.isolated-node', onceEffects: { 'gossip.leave': 1, 'gossip.join': 1, 'gossip.stop': 0, 'gossip.start': 0 } }, [
    { kind: 'activity' },
    { kind: 'timer', timerTitle: /membership state clear/ },
    // gossip3 refuses the worker's SSH key: its connectivity check (nc to the seeds) asks; retried once the key is fixed.
    { kind: 'decision', decisionFault: 'host.refuse-auth:lab-gossip/gossip3' },
  ]),
  ...cases({ ...G, scenario: 'gossip.partition', runArgs: ['--time-scale', '0.02'], onceEffects: { 'gossip.rebalance': 1 } }, [
    { kind: 'approval' },
    // Each rebalance is one HTTP call, five in parallel: killed in flight when one still runs, else right after the first.
    { kind: 'activity', afterEffect: true },
    { kind: 'server' },
    GATE_TIMEOUT,
  ]),
  // Its waits (the mesh stable) end at the first probe in the lab; its timer is on another branch.
  ...cases({ ...G, scenario: 'gossip.multi-node-failure', onceEffects: { 'gossip.start': 1, 'gossip.stop': 0 } }, [
    { kind: 'activity' },
    // Every host refuses the worker's SSH key: starting plumtree asks; the operator retries once the key is fixed.
    { kind: 'decision', decisionFault: 'host.refuse-auth:lab-gossip' },
  ]),
  ...cases({ ...G, scenario: 'gossip.cache-corruption', onceEffects: { 'gossip.cache-clear': 1 } }, [
    { kind: 'activity', afterEffect: true },
    // The API clear is refused (rotated admin token), then the storage clear's SSH refuses the key: it asks; retried once fixed.
    { kind: 'decision', faults: ['gossip.cache-corruption', 'host.refuse-api:lab-gossip'], decisionFault: 'host.refuse-auth:lab-gossip', onceEffects: { 'gossip.cache-clear': 0 } },
  ]),
  // The sync metrics converge at the first probe in the lab: no timer to kill in.
  ...cases({ ...G, scenario: 'gossip.split-brain', runArgs: ['--time-scale', '0.1'], onceEffects: { 'gossip.sync-enable': 1 } }, [
    // Enabling sync is one HTTP call per node: killed in flight when one still runs, else right after the first.
    { kind: 'activity', afterEffect: true },
    // The admin token was rotated (every node's admin API answers 401): enabling sync asks; retried once it is fixed.
    { kind: 'decision', decisionFault: 'host.refuse-api:lab-gossip' },
  ]),
  ...cases({ ...G, scenario: 'gossip.total-loss', onceEffects: { 'gossip.state-cleared': 1, 'gossip.start': 1, 'gossip.stop': 0 } }, [
    { kind: 'approval' },
    { kind: 'activity' },
    { kind: 'timer', timerTitle: /let the seeds form the cluster/ },
    { kind: 'server' },
    GATE_TIMEOUT,
  ]),
  // train-server (seed 004, v2): the password was on the lost OS disk (a reference at gate restic-password),
  // config.sh is not in the backup (drafted, finished by a person), the two browser logins are run by hand.
  ...cases(
    {
      ...TS,
      scenario: 'train-server.total-data-loss',
      beforeGate: TS_HANDS,
      gateChoices: TS_PASSWORD,
      // Three restores (homes, docker-volumes, tensorboard), each started and completed once.
      onceEffects: { 'restic.restored': 3, 'restic.restore': 3, 'setup-script.run': 11, 'btrfs.created': 1, 'fstab.appended': 1, chown: 5, 'docker.build': 1, 'docker.up': 1 },
    },
    [
      { kind: 'approval' },
      // One more restore may start: the resume of the restore the kill interrupted (restic converges over the
      // partial files). A completed one is not redone (tsResticRestore's once-per-step marker): still 3 completed.
      { kind: 'activity', onceEffects: { 'restic.restore': 4 } },
      { kind: 'server' },
      GATE_TIMEOUT,
    ],
  ),
  ...cases(
    {
      ...TS,
      scenario: 'train-server.cache-ssd',
      beforeGate: { 'ssd-replaced': 'train-server.swap-ssd' },
      onceEffects: { 'bcache.detached': 2, 'ssd.wiped': 1, 'bcache.cache-created': 1, 'bcache.attached': 2 },
    },
    [{ kind: 'approval' }, { kind: 'activity' }, GATE_TIMEOUT],
  ),
  ...cases(
    // A retried tsScrubStart finds its intent marker and a newer scrub in the status: no second full scrub.
    { ...TS, scenario: 'train-server.power-outage', runArgs: ['--time-scale', '0.02'], onceEffects: { 'btrfs.scrub-started': 1, 'bcache.writeback-resumed': 2, 'docker.up': 1 } },
    [
      { kind: 'activity' },
      { kind: 'timer', poll: true },
      { kind: 'server', poll: true },
      // train1 refuses SSH from the scrub's first poll on: the wait asks; the operator retries once the key is fixed.
      { kind: 'decision', decisionFault: 'host.refuse-auth:lab-train/train1', decisionFaultAtWait: true },
    ],
  ),
  ...cases(
    {
      ...TS,
      scenario: 'train-server.os-disk',
      beforeGate: TS_HANDS,
      gateChoices: TS_PASSWORD,
      // config.sh is not in the backup: drafted, never restored; the array mounted, never formatted.
      onceEffects: { 'restic.restored': 0, 'restic.restore': 0, mount: 1, 'fstab.appended': 1, 'setup-script.run': 11, 'docker.build': 1, 'docker.up': 1, 'btrfs.created': 0 },
    },
    [
      { kind: 'activity' },
      // train1 refuses SSH from the fstab step on: a later setup step asks; retried once the key is fixed.
      { kind: 'decision', decisionFault: 'host.refuse-auth:lab-train/train1', decisionFaultAtStep: /^Add the array to \/etc\/fstab/ },
    ],
  ),
  ...cases(
    // The damage btrfs check --repair fixes (the simulation's): the lab ends healthy.
    { ...TS, scenario: 'train-server.btrfs-corruption', faults: ['train-server.btrfs-corruption.repairable'], onceEffects: { mount: 2, rsync: 2, umount: 1, 'btrfs.repair': 1, 'docker.up': 1 } },
    [{ kind: 'approval' }, { kind: 'activity' }, GATE_TIMEOUT],
  ),
  // training cluster (seed 002)
  // The mesh collapse killed every orchestrator (as the real lab does): each restart is a start, nothing to stop.
  ...cases({ ...TC, scenario: 'training-cluster.mesh-collapse', runArgs: ['--time-scale', '0.2'], onceEffects: { 'orchestrator.start': 1, 'orchestrator.restart': 0, 'orchestrator.stop': 0 } }, [
    { kind: 'timer', timerTitle: /reform/ },
    { kind: 'activity', activityStep: /^Restart P2P on the coordinator/ },
    { kind: 'server', timerTitle: /reform/ },
    // tc-node2 refuses SSH from the mesh's reform timer on: its restart asks; retried once the key is fixed.
    { kind: 'decision', decisionFault: 'host.refuse-auth:lab-training/tc-node2', decisionFaultAtWait: true },
  ]),
  // v2 (RingRift 2aa9f89b5): the dead coordinator is started (only it is ever elected); no reset, nobody forced.
  ...cases({ ...TC, scenario: 'training-cluster.leader-failure', onceEffects: { 'orchestrator.start': 1, 'election.reset': 1, 'election.set-leader': 0, 'orchestrator.restart': 0 } }, [
    // Killed as soon as the coordinator's start is recorded, while its activity waits for the process to answer.
    { kind: 'activity' },
    { kind: 'timer', poll: true },
    { kind: 'server', poll: true },
    // No decision case: v2's only operator decisions follow an election reset or a forced leader that fails
    // (POST routes; the lab refuses only those, as the real /status needs no token), and the lab's leader failure
    // never gets there: the restarted coordinator leads (a rotated token was the v1 case, whose reset it refused).
  ]),
  ...cases(
    { ...TC, scenario: 'training-cluster.cluster-outage', runArgs: ['--time-scale', '0.01'], onceEffects: { 'orchestrator.start': 1, 'sync.full': 1, 'daemons.launched': 1 } },
    [
      { kind: 'activity' },
      { kind: 'timer', poll: true },
      { kind: 'server', poll: true },
      // The coordinator refuses the worker's SSH key once it is back: the full sync asks; retried once the key is fixed.
      { kind: 'decision', decisionFault: 'host.refuse-auth:lab-training/tc-node1', decisionFaultAtStep: /^Reconnect the nodes/ },
    ],
  ),
  // The full sync is one HTTP call (kill right after it); a retry cut off mid-call repeats it, which moves only what is missing: at most 2.
  // Option 5's retirement is a person's (the lab's hands-fault before the human step's approval).
  ...cases({ ...TC, scenario: 'training-cluster.sync-host-critical', runArgs: ['--time-scale', '0.01'], beforeGate: { 'retire-host-by-hand': 'training-cluster.by-hand.retire-host' }, onceEffects: { 'sync.trigger': 2, 'orchestrator.start': 1, 'orchestrator.restart': 1 } }, [
    { kind: 'activity', afterEffect: true },
    { kind: 'approval', tag: 'host-lost', faults: ['training-cluster.sync-host-critical.host-lost'] },
    { ...GATE_TIMEOUT, tag: 'host-lost', faults: ['training-cluster.sync-host-critical.host-lost'] },
  ]),
  // v2: no per-host sync at RingRift 2aa9f89b5 (the cluster's own auto-sync is waited for); the restore leaves a marker.
  // Its 5 min wait for the cluster's own auto-sync runs at 15 s, as in its e2e case.
  ...cases({ ...TC, scenario: 'training-cluster.node-data-loss', runArgs: ['--time-scale', '0.05'], onceEffects: { 'games.restore': 1, 'selfplay.start': 1, 'games.sync-to-host': 0 } }, [
    { kind: 'approval' },
    { kind: 'activity' },
    GATE_TIMEOUT,
  ]),
  // A retried modelFetch finds the staged copy already verified: it does not pull again.
  ...cases({ ...TC, scenario: 'training-cluster.model-corruption', onceEffects: { 'model.pull': 1 } }, [{ kind: 'approval' }, { kind: 'activity' }, GATE_TIMEOUT]),
  ...cases(
    { ...TC, scenario: 'training-cluster.multi-node-data-loss', runArgs: ['--time-scale', '0.02'], onceEffects: { 'selfplay.stop': 1, 'selfplay.start': 1, 'games.aggregate': 1 } },
    // Its monitoring wait ends at the first probe in the lab (the count grows at once): no timer to kill in.
    [{ kind: 'approval' }, { kind: 'activity' }, GATE_TIMEOUT],
  ),
];

/** Polls `fn` (re-exported for callers that drive a case by hand). */
export { eventually };
