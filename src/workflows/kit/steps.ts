/**
 * Runbook steps: `step` (one step with a failure policy), `fanOut` (the same
 * step on many nodes with bounded concurrency and an error budget),
 * `waitFor` (a bounded durable poll) and `stabilize` (a durable timer with a
 * reason).
 *
 * @module
 */
import { ApplicationFailure, executeChild, isCancellation, patched, sleep, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { FailurePolicy, StepRecord } from './defs';
import { errorMessage } from './errors';
import { FANOUT_CHILD_THRESHOLD, isActivityCall, runInChildren } from './fanout';
import { isProbeCall, lifeboatLongWait, LONG_WAIT_PROBES, LONG_WAIT_PROBES_PER_RUN } from './long-wait';
import { askOperator, durationMs } from './gates';
import { isDryRun, nowIso, publish, runtime, scaled, timeline } from './state';
import { FANOUT_CHILDREN, LONG_WAIT_CHILD } from './versions';

export interface StepOptions {
  /** What happens when the step fails after its activities' retries: default `fail`. */
  onFailure?: FailurePolicy;
  /** Turns the step's result into a line for the report. */
  describe?: (result: never) => string;
  /** What the operator should do if the step fails, appended to the failure message. */
  hint?: string;
}

export { errorMessage } from './errors';

function startStep(title: string): StepRecord {
  const r = runtime();
  const rec: StepRecord = { id: r.nextStepId++, title, status: 'running', startedAt: nowIso(), attempts: 0 };
  r.progress.steps.push(rec);
  r.progress.currentStep = title;
  timeline('step-started', title);
  publish();
  return rec;
}

function endStep(rec: StepRecord, status: StepRecord['status'], detail?: string): void {
  rec.status = status;
  rec.endedAt = nowIso();
  if (detail !== undefined) rec.detail = detail;
  const kind = status === 'failed' ? 'step-failed' : status === 'skipped' || status === 'continued' ? 'step-skipped' : 'step-succeeded';
  timeline(kind, `${rec.title}: ${status}${detail ? ` — ${detail}` : ''}${rec.error && status !== 'succeeded' ? ` (${rec.error})` : ''}`);
  publish();
}

/**
 * Runs one runbook step: records start, end, outcome and attempts in the
 * progress and the incident timeline, and shows the step in the UI. When the
 * step fails after its activities' retries, applies its policy: `fail` ends
 * the recovery, `continue` records the failure and goes on, `ask` waits for
 * an operator's `retry | skip | abort`.
 *
 * @returns the step's result; `undefined` when a `continue`/`ask` step was skipped
 *
 * @example
 * ```ts
 * await step('Stop surviving nodes', () => ledgerStop({ cluster, node }), { onFailure: 'ask' });
 * ```
 */
export async function step<T>(title: string, fn: () => Promise<T>, opts?: StepOptions & { onFailure?: 'fail' }): Promise<T>;
export async function step<T>(title: string, fn: () => Promise<T>, opts: StepOptions & { onFailure: 'continue' | 'ask' }): Promise<T | undefined>;
export async function step<T>(title: string, fn: () => Promise<T>, opts: StepOptions = {}): Promise<T | undefined> {
  const policy = opts.onFailure ?? 'fail';
  const rec = startStep(title);
  for (;;) {
    rec.attempts += 1;
    try {
      const result = await fn();
      // Without a describer, an effect's own plan (the exact command or call) is the detail.
      const detail = opts.describe ? (opts.describe as (r: T) => string)(result) : planOf(result);
      endStep(rec, isDryRun() ? 'dry-run' : 'succeeded', detail);
      return result;
    } catch (err) {
      if (isCancellation(err)) {
        endStep(rec, 'failed', 'cancelled');
        throw err;
      }
      rec.error = errorMessage(err);
      const failure = err instanceof ApplicationFailure ? err : undefined;
      // Failures of the kit itself (rejected gate, operator abort) end the recovery whatever the policy.
      if (failure && ['GateRejected', 'RecoveryAborted', 'ApprovalTimedOut'].includes(failure.type ?? '')) {
        endStep(rec, 'failed');
        throw err;
      }
      if (isDryRun() && policy !== 'fail') {
        // A dry run applies no effect, so checks that follow planned effects
        // read the broken state: record what they saw instead of asking anyone.
        endStep(rec, 'dry-run', `not checkable in a dry run (the planned effects were not applied): ${rec.error}`);
        return undefined;
      }
      if (policy === 'continue') {
        endStep(rec, 'continued');
        return undefined;
      }
      if (policy === 'ask') {
        publish();
        const { decision } = await askOperator(title, rec.error);
        if (decision === 'retry') continue;
        if (decision === 'skip') {
          endStep(rec, 'skipped');
          return undefined;
        }
        endStep(rec, 'failed', 'aborted by the operator');
        throw ApplicationFailure.nonRetryable(`Recovery aborted by the operator at step "${title}": ${rec.error}`, 'RecoveryAborted');
      }
      endStep(rec, 'failed');
      throw ApplicationFailure.nonRetryable(
        `Step "${title}" failed: ${rec.error}${opts.hint ? `. Next: ${opts.hint}` : ''}`,
        'StepFailed',
      );
    }
  }
}

/** A step's detail and a budget failure name at most this many targets (a fan-out may have a thousand). */
const LISTED = 20;

export interface FanOutOptions {
  /** How many targets run at once (never more nodes disrupted than the cluster can lose). */
  concurrency: number;
  /** How many targets may fail before the step fails (the error budget); default 0. */
  maxFailures?: number;
  /** Policy when the budget is exceeded; `ask` + retry re-runs only the failed targets. */
  onFailure?: FailurePolicy;
  /**
   * Child-workflow batching of a large fan-out whose function is an `activityCall`
   * (./fanout.ts): above `threshold` targets (default 100), batches of at most
   * `batchSize` (default 100), each child running at most `childConcurrency`
   * (default 25) of the calls at once.
   */
  batching?: { threshold?: number; batchSize?: number; childConcurrency?: number };
}

export interface FanOutResult<R> {
  succeeded: Record<string, R>;
  failed: Record<string, string>;
}

/**
 * Runs the same step on many targets with bounded concurrency and an error
 * budget. Each target's outcome is visible in the step record; an operator
 * `retry` re-runs only the targets that failed.
 *
 * @example
 * ```ts
 * await fanOut('Restart the other voters', voters, (node) => p2pRestart({ cluster, node }), { concurrency: 3 });
 * ```
 */
export async function fanOut<R>(
  title: string,
  targets: string[],
  fn: (target: string) => Promise<R>,
  opts: FanOutOptions,
): Promise<FanOutResult<R>> {
  const maxFailures = opts.maxFailures ?? 0;
  const concurrency = Math.max(1, Math.floor(opts.concurrency));
  const result: FanOutResult<R> = { succeeded: {}, failed: {} };
  let pending = [...targets];
  let rec: StepRecord | undefined;

  const outcome = await step(
    title,
    async () => {
      rec = runtime().progress.steps.at(-1);
      if (rec) rec.targets ??= Object.fromEntries(targets.map((t) => [t, 'pending' as const]));
      const queue = [...pending];
      const threshold = opts.batching?.threshold ?? FANOUT_CHILD_THRESHOLD;
      const worker = async (): Promise<void> => {
        for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
          if (rec?.targets) rec.targets[t] = 'running';
          try {
            result.succeeded[t] = await fn(t);
            delete result.failed[t];
            if (rec?.targets) rec.targets[t] = 'succeeded';
          } catch (err) {
            if (isCancellation(err)) throw err;
            result.failed[t] = errorMessage(err);
            if (rec?.targets) rec.targets[t] = 'failed';
          }
        }
      };
      const inChildren = isActivityCall(fn) && queue.length > threshold && patched(FANOUT_CHILDREN);
      if (inChildren) {
        // Many targets: child workflows of bounded batches keep this history small (./fanout.ts).
        await runInChildren(title, `${rec?.id ?? 0}-${rec?.attempts ?? 1}`, queue, fn, concurrency, opts.batching ?? {}, {
          started: (batch) => {
            for (const t of batch) if (rec?.targets) rec.targets[t] = 'running';
            publish();
          },
          settle: (t, ok, value) => {
            if (ok) {
              result.succeeded[t] = value as R;
              delete result.failed[t];
            } else {
              result.failed[t] = String(value);
            }
            if (rec?.targets) rec.targets[t] = ok ? 'succeeded' : 'failed';
          },
        });
      } else {
        await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
      }
      // In the targets' order (batches and calls end in any order).
      const failedNames = targets.filter((t) => t in result.failed);
      pending = failedNames; // an operator retry re-runs only these
      if (failedNames.length > maxFailures) {
        throw ApplicationFailure.retryable(
          `${failedNames.length} of ${targets.length} targets failed (error budget ${maxFailures}): ` +
            // An activity's message may already start with the node it is about.
            failedNames
              .slice(0, LISTED)
              .map((n) => (result.failed[n]!.startsWith(`${n}: `) ? result.failed[n] : `${n}: ${result.failed[n]}`))
              .join('; ') +
            (failedNames.length > LISTED ? `; and ${failedNames.length - LISTED} more (\`lifeboat watch\` shows each target)` : ''),
          'FanOutBudgetExceeded',
        );
      }
      return result;
    },
    {
      onFailure: opts.onFailure ?? 'fail',
      describe: ((r: FanOutResult<R>) => {
        const failed = Object.keys(r.failed);
        // Each target's effect, as planned or done (a dry run shows every command it would run).
        const plans = Object.values(r.succeeded)
          .map((v) => planOf(v))
          .filter((v): v is string => v !== undefined);
        return (
          `${Object.keys(r.succeeded).length}/${targets.length} succeeded` +
          `${plans.length ? `: ${plans.slice(0, LISTED).join('; ')}${plans.length > LISTED ? `; and ${plans.length - LISTED} more` : ''}` : ''}` +
          `${failed.length ? `; failed within budget: ${failed.slice(0, LISTED).join(', ')}${failed.length > LISTED ? ` and ${failed.length - LISTED} more` : ''}` : ''}`
        );
      }) as never,
    } as StepOptions & { onFailure: 'ask' },
  );
  return outcome ?? result;
}

export interface WaitForOptions {
  /** Pause between probes (durable timer), e.g. "5s". Scaled by the recovery's timeScale. */
  every: string;
  /** Give up after this long, e.g. "2m". Scaled by the recovery's timeScale. */
  within: string;
  /** Upper bound on probes, keeping the history small whatever the durations (default 60). */
  maxProbes?: number;
}

/** One probe's verdict. */
export interface ProbeResult<T> {
  done: boolean;
  /** What the probe saw, in words ("leader: node1, 3/3 voters"). */
  detail: string;
  value?: T;
}

/**
 * "Watch until the leader is elected": re-runs a probe with durable sleeps in
 * between, bounded in time and in count. Fails with `WaitTimedOut` (wrap it in
 * a `step` with `onFailure: 'ask'` to let an operator retry). In a dry run
 * the probe runs once.
 *
 * @example
 * ```ts
 * await waitFor('a leader is elected', async () => {
 *   const s = await p2pStatus({ cluster, node });
 *   return { done: !!s.leaderId, detail: `leader: ${s.leaderId ?? 'none'}` };
 * }, { every: '5s', within: '2m' });
 * ```
 */
export async function waitFor<T>(what: string, probe: () => Promise<ProbeResult<T>>, opts: WaitForOptions): Promise<ProbeResult<T>> {
  const { progress } = runtime();
  const everyMs = scaled(durationMs(opts.every));
  const withinMs = scaled(durationMs(opts.within));
  const start = Date.now();
  const until = new Date(start + withinMs).toISOString();
  // Hours of probing: a child workflow that continues-as-new (./long-wait.ts), bounded by time.
  const needed = Math.ceil(withinMs / Math.max(1, everyMs)) + 1;
  if (isProbeCall(probe) && needed > LONG_WAIT_PROBES && !isDryRun() && patched(LONG_WAIT_CHILD)) {
    return longWait(what, probe, everyMs, start + withinMs, opts.maxProbes ?? needed, until);
  }
  const maxProbes = opts.maxProbes ?? 60;
  let last: ProbeResult<T> = { done: false, detail: 'not probed yet' };
  for (let n = 1; n <= maxProbes; n++) {
    last = await probe();
    if (last.done || isDryRun()) {
      timeline('wait', `${what}: ${last.detail}${isDryRun() && !last.done ? ' (dry run: not waited for)' : ''}`);
      return last;
    }
    const left = start + withinMs - Date.now();
    if (left <= 0) break;
    const pause = Math.min(everyMs, left);
    progress.wait = { kind: 'poll', title: `${what} (probe ${n}: ${last.detail})`, since: nowIso(), until, nextProbeAt: new Date(Date.now() + pause).toISOString() };
    publish();
    await sleep(pause, { summary: `until ${what}` });
    progress.wait = undefined;
  }
  progress.wait = undefined;
  throw ApplicationFailure.nonRetryable(
    `Gave up waiting until ${what} after ${Math.round((Date.now() - start) / 1000)} s: last seen ${last.detail}`,
    'WaitTimedOut',
  );
}

async function longWait<T>(what: string, probe: { activity: string; input: unknown; options: ActivityOptions }, everyMs: number, deadline: number, maxProbes: number, until: string): Promise<ProbeResult<T>> {
  const { progress } = runtime();
  progress.wait = { kind: 'poll', title: `${what} (a long wait, probed every ${Math.round(everyMs / 1000)} s in a child workflow)`, since: nowIso(), until };
  publish();
  try {
    const r = await executeChild(lifeboatLongWait, {
      workflowId: `${workflowInfo().workflowId}/wait-${runtime().nextStepId}-${progress.timeline.length}`,
      args: [{ what, activity: probe.activity, input: probe.input, options: probe.options, everyMs, deadline, maxProbes, perRun: LONG_WAIT_PROBES_PER_RUN, probes: 0, runs: 1 }],
      staticSummary: `until ${what}`,
    });
    timeline('wait', `${what}: ${r.detail} (${r.probes} probes, ${r.runs} run(s) of the wait's child workflow)`);
    return r as ProbeResult<T>;
  } catch (err) {
    if (isCancellation(err)) throw err;
    // The child's own failure says why (WaitTimedOut and the last probe); keep its type for the step's policy.
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof ApplicationFailure) throw ApplicationFailure.create({ message: cause.message, type: cause.type ?? 'WaitTimedOut', nonRetryable: true });
    throw err;
  } finally {
    progress.wait = undefined;
    publish();
  }
}

/**
 * A durable pause with a reason ("let the mesh reform"): survives worker and
 * server restarts; shown as the current wait; recorded in the timeline. In a
 * dry run it is recorded, not waited.
 */
export async function stabilize(duration: string, why: string): Promise<void> {
  const { progress } = runtime();
  const ms = scaled(durationMs(duration));
  timeline('stabilize', `${isDryRun() ? 'Dry run: would wait' : 'Waiting'} ${duration}${ms !== durationMs(duration) ? ` (scaled to ${Math.round(ms / 1000)} s)` : ''}: ${why}`);
  if (isDryRun()) return;
  progress.wait = { kind: 'timer', title: why, since: nowIso(), until: new Date(Date.now() + ms).toISOString() };
  publish();
  try {
    await sleep(ms, { summary: why });
  } finally {
    progress.wait = undefined;
    publish();
  }
}

/** The `plan` of an activity's EffectResult, if the value is one. */
function planOf(result: unknown): string | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const plan = (result as { plan?: unknown; alreadyDone?: unknown }).plan;
  if (typeof plan !== 'string') return undefined;
  return (result as { alreadyDone?: unknown }).alreadyDone === true ? `already done: ${plan}` : plan;
}
