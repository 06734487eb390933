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
import { progressQuery, type Progress, type TimelineEntry } from '../../src/workflows/kit/defs';
import { eventually, startStack, type Stack, type WorkerProcess } from './stack';

export type CrashKind = 'activity' | 'timer' | 'approval' | 'decision' | 'server';

export interface CrashCase {
  /** e.g. `ledger.quorum-loss@approval`. */
  id: string;
  scenario: string;
  cluster: string;
  family: LabFamilyName;
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
  /** For `activity`: kill while a step whose title matches is running. */
  activityStep?: RegExp;
  /** For `timer`: kill while this timer (its wait title) runs. */
  timerTitle?: RegExp;
  /** Effects that must hit each node at most this many times over the whole run (`effect` → count). */
  onceEffects: Record<string, number>;
  /** Bound on the whole case (default 6 min). */
  timeoutMs?: number;
}

export interface CrashResult {
  id: string;
  scenario: string;
  kind: CrashKind;
  completed: boolean;
  status: string;
  outcome?: string;
  labHealthy: boolean;
  /** Per effect and node, how many times the lab received it during the run. */
  effectCounts: Record<string, Record<string, number>>;
  /** Effects that exceeded their bound (empty = none done twice). */
  repeated: string[];
  /** Where the kill happened (step or wait title). */
  killedAt: string;
  /**
   * ms to the recovery's next timeline entry on the new worker/server, from:
   * the kill (activity), the answer sent to the new worker (approval,
   * decision), or the end the killed timer was scheduled for (timer; a
   * timer cannot fire earlier, so this is how late it fired).
   */
  resumeGapMs: number;
  /** What the gap was measured from. */
  gapFrom: 'kill' | 'answer' | 'timer-end';
  durationMs: number;
}

const OPEN = ['running', 'waiting-approval', 'waiting-decision'];

/** Runs one case on its own stack; always stops the stack. */
export async function runCrashCase(c: CrashCase): Promise<CrashResult> {
  const stack = await startStack({ families: [c.family] });
  const began = Date.now();
  try {
    return await drive(stack as Stack & { worker: WorkerProcess }, c, began);
  } finally {
    await stack.stop();
  }
}

async function drive(stack: Stack & { worker: WorkerProcess }, c: CrashCase, began: number): Promise<CrashResult> {
  const { lab, cli } = stack;
  const workflowId = `recovery-${c.cluster}`;
  const progress = (): Promise<Progress> => stack.client.workflow.getHandle(workflowId).query(progressQuery);
  for (const f of c.faults) await lab.break(f);
  if (c.decisionFault) await lab.break(c.decisionFault);
  const start = lab.effects.list({ cluster: c.cluster }).length;
  const run = await cli(['run', c.scenario, '--cluster', c.cluster, '--as', 'bob', ...(c.runArgs ?? [])]);
  if (run.code !== 0) throw new Error(`lifeboat run failed (${run.code}): ${run.stderr}`);

  let worker: WorkerProcess = stack.worker;
  let killed = false;
  let killedAt = '';
  let gapFrom: 'kill' | 'answer' | 'timer-end' = 'kill';
  let mark = 0;
  let resumeGapMs = -1;
  const deadline = began + (c.timeoutMs ?? 360_000);

  const killNow = async (where: string, timerEnd?: string): Promise<void> => {
    killedAt = where;
    mark = Date.now();
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

  let p: Progress | undefined;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`${c.id}: not finished within ${c.timeoutMs ?? 360_000} ms (last status ${p?.status}, kill at ${killedAt || 'none'})`);
    try {
      p = await progress();
    } catch {
      // Worker or server coming back: try again.
      await sleep(200);
      continue;
    }
    if (killed && resumeGapMs < 0 && mark > 0) {
      const next = firstAfter(p.timeline, mark);
      if (next) resumeGapMs = Date.parse(next.at) - mark;
    }
    if (!OPEN.includes(p.status)) break;

    if (!killed) {
      const running = p.steps.filter((s) => s.status === 'running').at(-1);
      if (c.kind === 'activity' && c.activityStep && running && c.activityStep.test(running.title)) {
        await killNow(`step "${running.title}"`);
        continue;
      }
      if ((c.kind === 'timer' || c.kind === 'server') && p.wait?.kind === 'timer' && (!c.timerTitle || c.timerTitle.test(p.wait.title))) {
        await killNow(`timer "${p.wait.title}"`, p.wait.until);
        continue;
      }
      if ((c.kind === 'approval' || (c.kind === 'server' && !c.timerTitle)) && p.status === 'waiting-approval') {
        await killNow(`approval "${p.gates.find((g) => g.status === 'waiting')?.gate}"`);
        continue;
      }
      if (c.kind === 'decision' && p.status === 'waiting-decision') {
        await killNow(`decision on "${p.pendingDecision?.step}"`);
        continue;
      }
    }
    if (p.status === 'waiting-approval') {
      const gate = p.gates.find((g) => g.status === 'waiting');
      if (gate && (killed || c.kind !== 'approval')) {
        answered();
        const r = await cli(['approve', workflowId, gate.gate, '--as', 'alice', '--reason', 'crash matrix', ...(gate.dangerous ? ['--confirm', c.cluster] : []), ...(gate.choices?.length ? ['--choice', gate.choices[0]!] : [])]);
        if (r.code !== 0 && r.code !== 4) throw new Error(`approve failed (${r.code}): ${r.stderr}`);
      }
    } else if (p.status === 'waiting-decision' && (killed || c.kind !== 'decision')) {
      if (c.decisionFault) await lab.break(c.decisionFault.replace(/^host\.[a-z-]+:/, 'host.heal:'));
      answered();
      const r = await cli(['decide', workflowId, 'retry', '--as', 'alice', '--reason', 'crash matrix']);
      if (r.code !== 0 && r.code !== 4) throw new Error(`decide failed (${r.code}): ${r.stderr}`);
    }
    await sleep(200);
  }

  const effects = lab.effects.list({ cluster: c.cluster }).slice(start);
  const effectCounts: Record<string, Record<string, number>> = {};
  for (const e of effects) {
    const key = e.effect === 'ledger.start' && e.detail?.mode ? `${e.effect}:${String(e.detail.mode)}` : e.effect;
    (effectCounts[key] ??= {})[e.node] = (effectCounts[key]?.[e.node] ?? 0) + 1;
  }
  const repeated: string[] = [];
  for (const [effect, max] of Object.entries(c.onceEffects)) {
    for (const [node, n] of Object.entries(effectCounts[effect] ?? {})) if (n > max) repeated.push(`${effect} on ${node}: ${n} (at most ${max})`);
  }
  const health = (await lab.health()).find((h) => h.cluster === c.cluster);
  return {
    id: c.id,
    scenario: c.scenario,
    kind: c.kind,
    completed: p?.status === 'completed',
    status: p?.status ?? 'unknown',
    outcome: p?.outcome,
    labHealthy: !!health?.healthy,
    effectCounts,
    repeated,
    killedAt: killed ? killedAt : 'never (the wait kind did not occur)',
    resumeGapMs,
    gapFrom,
    durationMs: Date.now() - began,
  };
}

function firstAfter(timeline: TimelineEntry[], ms: number): TimelineEntry | undefined {
  return timeline.find((t) => Date.parse(t.at) >= ms);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The representative cases: every wait kind the two first scenarios contain. */
export const CRASH_CASES: CrashCase[] = [
  {
    id: 'ledger.quorum-loss@approval',
    scenario: 'ledger.quorum-loss',
    cluster: 'lab-ledger',
    family: 'ledger',
    faults: ['ledger.quorum-loss'],
    kind: 'approval',
    onceEffects: { 'ledger.start:single': 1, 'ledger.start:join': 1, 'ledger.start:cluster': 1, 'ledger.data-cleared': 1 },
  },
  {
    id: 'ledger.quorum-loss@decision',
    scenario: 'ledger.quorum-loss',
    cluster: 'lab-ledger',
    family: 'ledger',
    faults: ['ledger.quorum-loss'],
    decisionFault: 'host.refuse-auth:lab-ledger/node1',
    kind: 'decision',
    onceEffects: { 'ledger.start:single': 1, 'ledger.start:join': 1, 'ledger.start:cluster': 1, 'ledger.data-cleared': 1 },
  },
  {
    id: 'ledger.quorum-loss@activity',
    scenario: 'ledger.quorum-loss',
    cluster: 'lab-ledger',
    family: 'ledger',
    faults: ['ledger.quorum-loss'],
    kind: 'activity',
    // ledgerStart --single, then its wait for the node to serve: killed mid-effect, the retry must not start it twice.
    activityStep: /^Force a new cluster/,
    onceEffects: { 'ledger.start:single': 1, 'ledger.start:join': 1, 'ledger.start:cluster': 1, 'ledger.data-cleared': 1 },
  },
  {
    id: 'ledger.quorum-loss@server',
    scenario: 'ledger.quorum-loss',
    cluster: 'lab-ledger',
    family: 'ledger',
    faults: ['ledger.quorum-loss'],
    kind: 'server',
    timerTitle: /.*/,
    onceEffects: { 'ledger.start:single': 1, 'ledger.start:join': 1, 'ledger.start:cluster': 1, 'ledger.data-cleared': 1 },
  },
  {
    id: 'training-cluster.mesh-collapse@timer',
    scenario: 'training-cluster.mesh-collapse',
    cluster: 'lab-training',
    family: 'training-cluster',
    faults: ['training-cluster.mesh-collapse'],
    kind: 'timer',
    timerTitle: /reform/,
    runArgs: ['--time-scale', '0.2'],
    onceEffects: { 'orchestrator.restart': 1 },
  },
  {
    id: 'training-cluster.mesh-collapse@activity',
    scenario: 'training-cluster.mesh-collapse',
    cluster: 'lab-training',
    family: 'training-cluster',
    faults: ['training-cluster.mesh-collapse'],
    kind: 'activity',
    activityStep: /^Restart P2P on the coordinator/,
    runArgs: ['--time-scale', '0.2'],
    onceEffects: { 'orchestrator.restart': 1 },
  },
];

/** Polls `fn` (re-exported for callers that drive a case by hand). */
export { eventually };
