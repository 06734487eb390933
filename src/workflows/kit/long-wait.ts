/**
 * Waits that can last hours. `waitFor` probes in the recovery's own history,
 * bounded by `maxProbes`; a wait of hours at a probe a minute would either
 * give up early or fill that history. When the probe is a {@link probeCall}
 * (an activity that answers a `ProbeResult` itself) and the wait needs more
 * probes than {@link LONG_WAIT_PROBES}, `waitFor` (./steps.ts) runs it in a
 * child workflow, {@link lifeboatLongWait}, which continues-as-new every
 * {@link LONG_WAIT_PROBES_PER_RUN} probes: every history stays a few hundred
 * events, however long the wait.
 *
 * @module
 */
import { ApplicationFailure, continueAsNew, proxyActivities, sleep, type ActivityOptions } from '@temporalio/workflow';
import type { ProbeResult } from './steps';
import { activityOptionsOf } from './activities';
import { isDryRun } from './state';

/** A wait that needs more probes than this runs in a child workflow (when its probe is a {@link probeCall}). */
export const LONG_WAIT_PROBES = 60;
/** Probes per run of the child before it continues-as-new (~6 events each). */
export const LONG_WAIT_PROBES_PER_RUN = 50;

/** A probe that names its activity, so that a child workflow can make the same call. */
export interface ProbeCall<T> {
  (): Promise<ProbeResult<T>>;
  readonly activity: string;
  readonly input: unknown;
  readonly options: ActivityOptions;
}

/**
 * A probe made of one activity that answers `{ done, detail, value? }` itself.
 *
 * @example
 * ```ts
 * await waitFor('the resync finished', probeCall('resyncProbe', { cluster, node }), { every: '1m', within: '8h' });
 * ```
 */
export function probeCall<T>(name: string, input: unknown, options?: ActivityOptions): ProbeCall<T> {
  const opts = options ?? activityOptionsOf(name);
  if (!opts) throw new TypeError(`probeCall("${name}"): not one of Lifeboat's activities; pass its ActivityOptions`);
  const call = (): Promise<ProbeResult<T>> => {
    const proxy = proxyActivities<Record<string, (a: unknown) => Promise<ProbeResult<T>>>>({ ...opts, summary: `${name} (probe)` });
    return proxy[name]!(isDryRun() ? { ...(input as object), dryRun: true } : input);
  };
  return Object.assign(call, { activity: name, input, options: opts });
}

export function isProbeCall(fn: unknown): fn is ProbeCall<unknown> {
  return typeof fn === 'function' && typeof (fn as { activity?: unknown }).activity === 'string' && 'input' in (fn as object) && typeof (fn as { input?: unknown }).input !== 'function';
}

/** What {@link lifeboatLongWait} carries from run to run. */
export interface LongWaitInput {
  what: string;
  activity: string;
  input: unknown;
  options: ActivityOptions;
  everyMs: number;
  /** When to give up (epoch ms, workflow clock). */
  deadline: number;
  maxProbes: number;
  perRun: number;
  /** Probes so far, over every run. */
  probes: number;
  /** Runs so far (1 in the first). */
  runs: number;
  last?: { detail: string };
}

export interface LongWaitResult<T = unknown> extends ProbeResult<T> {
  probes: number;
  runs: number;
}

/**
 * A long wait, as a child workflow of the recovery: probe, sleep, and every
 * `perRun` probes continue-as-new with the count and the last answer.
 * Fails with `WaitTimedOut` past the deadline or `maxProbes`.
 */
export async function lifeboatLongWait(i: LongWaitInput): Promise<LongWaitResult> {
  const proxy = proxyActivities<Record<string, (a: unknown) => Promise<ProbeResult<unknown>>>>({ ...i.options, summary: `${i.activity}: until ${i.what}` });
  let last: ProbeResult<unknown> = { done: false, detail: i.last?.detail ?? 'not probed yet' };
  let probes = i.probes;
  for (let n = 0; n < i.perRun && probes < i.maxProbes; n++) {
    last = await proxy[i.activity]!(i.input);
    probes += 1;
    if (last.done) return { ...last, probes, runs: i.runs };
    const left = i.deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(i.everyMs, left), { summary: `until ${i.what} (probe ${probes}: ${last.detail})` });
  }
  if (probes < i.maxProbes && Date.now() < i.deadline) {
    return continueAsNew<typeof lifeboatLongWait>({ ...i, probes, runs: i.runs + 1, last: { detail: last.detail } });
  }
  throw ApplicationFailure.nonRetryable(`Gave up waiting until ${i.what} after ${probes} probes: last seen ${last.detail}`, 'WaitTimedOut');
}
