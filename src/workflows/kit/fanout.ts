/**
 * Large fan-outs in child workflows. `fanOut` over a few nodes runs its
 * closures in the recovery's own history; over hundreds it would put three
 * events per target (and the workflow tasks between them) into one history.
 * Past a threshold, and when the step's function says which activity it runs
 * ({@link activityCall}), the targets go to child workflows
 * ({@link lifeboatFanOutBatch}) of bounded batches instead: each child runs
 * its batch's activity calls with its share of the concurrency and returns
 * every target's outcome; the recovery's history holds a few events per
 * child. Concurrency, error budget, failure policy and "an operator retry
 * re-runs only the failed targets" stay with `fanOut` (./steps.ts), which
 * treats a batch's outcomes exactly as it treats inline ones.
 *
 * @module
 */
import { executeChild, isCancellation, proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { LifeboatActivities } from '../../activities/types';
import { activities, activityOptionsOf } from './activities';
import { errorMessage } from './errors';
import { isDryRun } from './state';

type Name = keyof LifeboatActivities;

/** Fan-outs over more targets than this run in child workflows (when their function is an {@link activityCall}). */
export const FANOUT_CHILD_THRESHOLD = 100;
/** At most this many targets per child workflow: ~6 history events per target keeps a child under a thousand events. */
export const FANOUT_BATCH_SIZE = 100;
/** A child runs at most this many of the fan-out's concurrent calls, so a wide fan-out keeps several batches moving. */
export const FANOUT_CHILD_CONCURRENCY = 25;

/**
 * A fan-out's function that names its activity: called like any `(target) =>
 * Promise` (inline), and readable by the kit, which can then make the same
 * call from a child workflow.
 */
export interface ActivityCall<R> {
  (target: string): Promise<R>;
  readonly activity: string;
  readonly input: (target: string) => unknown;
  readonly options: ActivityOptions;
}

/**
 * One activity per target, in a form a child workflow can run.
 *
 * @example
 * ```ts
 * await fanOut('Restart every node', nodes, activityCall('p2pRestart', (node) => ({ cluster, node })), { concurrency: 50 });
 * ```
 *
 * @param name one of Lifeboat's activities (its timeouts and retries are the kit's), or any
 *   activity the worker registers, with `options`
 * @param input the activity's argument for one target (plain data: it crosses into the child's input)
 */
export function activityCall<N extends Name>(
  name: N,
  input: (target: string) => Parameters<LifeboatActivities[N]>[0],
): ActivityCall<Awaited<ReturnType<LifeboatActivities[N]>>>;
export function activityCall<R>(name: string, input: (target: string) => unknown, options: ActivityOptions): ActivityCall<R>;
export function activityCall<R>(name: string, input: (target: string) => unknown, options?: ActivityOptions): ActivityCall<R> {
  const known = activityOptionsOf(name);
  const opts = options ?? known;
  if (!opts) throw new TypeError(`activityCall("${name}"): not one of Lifeboat's activities; pass its ActivityOptions`);
  const call = (target: string): Promise<R> => {
    const arg = input(target);
    if (known && !options) return (activities() as unknown as Record<string, (a: unknown) => Promise<R>>)[name]!(arg);
    const proxy = proxyActivities<Record<string, (a: unknown) => Promise<R>>>({ ...opts, summary: summaryOf(name, arg, undefined) });
    return proxy[name]!(isDryRun() ? { ...(arg as object), dryRun: true } : arg);
  };
  return Object.assign(call, { activity: name, input, options: opts });
}

export function isActivityCall(fn: unknown): fn is ActivityCall<unknown> {
  return typeof fn === 'function' && typeof (fn as { activity?: unknown }).activity === 'string' && typeof (fn as { input?: unknown }).input === 'function';
}

/** What {@link lifeboatFanOutBatch} is given: one batch of a fan-out step. */
export interface FanOutBatchInput {
  /** The fan-out step's title (activity summaries name it). */
  step: string;
  activity: string;
  options: ActivityOptions;
  /** Each target's activity argument (the dry-run flag already set by the recovery). */
  calls: Array<{ target: string; input: unknown }>;
  /** How many of this batch's calls run at once. */
  concurrency: number;
}

/** Every target's outcome: its activity's result, or why it failed. */
export interface FanOutBatchResult {
  succeeded: Record<string, unknown>;
  failed: Record<string, string>;
}

function summaryOf(name: string, arg: unknown, stepTitle: string | undefined): string {
  const node = (arg as { node?: unknown } | undefined)?.node;
  return `${name}${typeof node === 'string' ? ` on ${node}` : ''}${stepTitle ? ` — ${stepTitle}` : ''}`;
}

/** Runs `jobs` with at most `width` at once (deterministic: jobs start in order). */
async function pool<T>(items: T[], width: number, job: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) await job(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(width, items.length)) }, lane));
}

/**
 * A batch of a large fan-out, as a child workflow of the recovery: the same
 * activity on each of its targets, `concurrency` at a time; a target that
 * fails is reported, never thrown, so the recovery's fan-out applies its
 * error budget and policy over all batches.
 */
export async function lifeboatFanOutBatch(input: FanOutBatchInput): Promise<FanOutBatchResult> {
  const out: FanOutBatchResult = { succeeded: {}, failed: {} };
  await pool(input.calls, input.concurrency, async ({ target, input: arg }) => {
    const proxy = proxyActivities<Record<string, (a: unknown) => Promise<unknown>>>({ ...input.options, summary: summaryOf(input.activity, arg, input.step) });
    try {
      out.succeeded[target] = await proxy[input.activity]!(arg);
    } catch (err) {
      if (isCancellation(err)) throw err;
      out.failed[target] = errorMessage(err);
    }
  });
  return out;
}

export interface BatchPlan {
  batches: string[][];
  /** How many children run at once, and each one's concurrency. */
  parallel: number;
  perChild: number[];
}

/**
 * Splits targets into even batches of at most `batchSize`, and the fan-out's
 * concurrency over the children that run at once (their sum is the
 * concurrency, never more).
 */
export function planBatches(targets: string[], concurrency: number, batchSize = FANOUT_BATCH_SIZE, childConcurrency = FANOUT_CHILD_CONCURRENCY): BatchPlan {
  const size = Math.max(1, Math.floor(batchSize));
  const count = Math.max(1, Math.ceil(targets.length / size));
  const even = Math.ceil(targets.length / count);
  const batches: string[][] = [];
  for (let i = 0; i < targets.length; i += even) batches.push(targets.slice(i, i + even));
  const c = Math.max(1, Math.floor(concurrency));
  const parallel = Math.max(1, Math.min(batches.length, Math.ceil(c / Math.max(1, childConcurrency)), c));
  const perChild = Array.from({ length: parallel }, (_, i) => Math.floor(c / parallel) + (i < c % parallel ? 1 : 0));
  return { batches, parallel, perChild };
}

/**
 * Runs `targets` of a fan-out step in child workflows and reports each
 * target's outcome through `settle` as its batch ends. A child that fails as
 * a whole (terminated, timed out) fails each of its targets with its reason.
 */
export async function runInChildren(
  stepTitle: string,
  stepKey: string,
  targets: string[],
  call: ActivityCall<unknown>,
  concurrency: number,
  sizes: { batchSize?: number; childConcurrency?: number },
  hooks: { started: (targets: string[]) => void; settle: (target: string, ok: boolean, value: unknown) => void },
): Promise<void> {
  const plan = planBatches(targets, concurrency, sizes.batchSize, sizes.childConcurrency);
  const dry = isDryRun();
  const parent = workflowInfo().workflowId;
  await pool(plan.batches, plan.parallel, async (batch, index) => {
    hooks.started(batch);
    const lane = index % plan.parallel;
    const input: FanOutBatchInput = {
      step: stepTitle,
      activity: call.activity,
      options: call.options,
      calls: batch.map((target) => {
        const arg = call.input(target);
        return { target, input: dry ? { ...(arg as object), dryRun: true } : arg };
      }),
      concurrency: plan.perChild[lane]!,
    };
    let result: FanOutBatchResult;
    try {
      result = await executeChild(lifeboatFanOutBatch, {
        workflowId: `${parent}/fanout-${stepKey}-batch-${index + 1}`,
        args: [input],
        staticSummary: `${stepTitle}: batch ${index + 1} of ${plan.batches.length} (${batch.length} targets)`,
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      const why = `batch ${index + 1} failed as a whole: ${errorMessage(err)}`;
      result = { succeeded: {}, failed: Object.fromEntries(batch.map((t) => [t, why])) };
    }
    for (const t of batch) {
      if (t in result.succeeded) hooks.settle(t, true, result.succeeded[t]);
      else hooks.settle(t, false, result.failed[t] ?? 'no outcome reported by its batch');
    }
  });
}
