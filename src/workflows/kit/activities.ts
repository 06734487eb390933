/**
 * The activity proxies scenarios use, with explicit timeouts and retry
 * policies per group, a summary on every call (shown in the Web UI), and the
 * recovery's dry-run flag injected into every call.
 *
 * @module
 */
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { LifeboatActivities } from '../../activities/types';
import { COMMON_OPTIONS } from './options/common';
import { GOSSIP_OPTIONS } from './options/gossip';
import { LEDGER_OPTIONS } from './options/ledger';
import { TRAIN_SERVER_OPTIONS } from './options/train-server';
import { TRAINING_CLUSTER_OPTIONS } from './options/training-cluster';
import { TRAINING_DATA_OPTIONS } from './options/training-data';
import { TRAINING_OPS_OPTIONS } from './options/training-ops';
import { isDryRun, runtime } from './state';

type Name = keyof LifeboatActivities;

/** Timeouts and retries of every activity, one table per system (see ./options/policies). */
const GROUP: Record<Name, ActivityOptions> = {
  ...COMMON_OPTIONS,
  ...LEDGER_OPTIONS,
  ...TRAINING_CLUSTER_OPTIONS,
  ...GOSSIP_OPTIONS,
  ...TRAIN_SERVER_OPTIONS,
  ...TRAINING_DATA_OPTIONS,
  ...TRAINING_OPS_OPTIONS,
};

/** The kit's timeouts and retries of one of Lifeboat's activities; undefined for a name that is not one. */
export function activityOptionsOf(name: string): ActivityOptions | undefined {
  return Object.prototype.hasOwnProperty.call(GROUP, name) ? GROUP[name as Name] : undefined;
}

function describeCall(name: string, arg: unknown): string {
  const a = (arg ?? {}) as { node?: unknown };
  const node = typeof a.node === 'string' ? ` on ${a.node}` : '';
  const step = runtime().progress.currentStep;
  return `${name}${node}${step ? ` — ${step}` : ''}${isDryRun() ? ' (dry run)' : ''}`;
}

/**
 * The typed activities of a recovery. Every call carries a summary naming
 * the activity, node and step, and `dryRun` when the recovery is a dry run.
 *
 * @example
 * ```ts
 * const { ledgerStop } = activities();
 * await step('Stop surviving nodes', () => ledgerStop({ cluster, node: 'node1' }));
 * ```
 */
export function activities(): LifeboatActivities {
  const out: Partial<Record<Name, (arg: unknown) => Promise<unknown>>> = {};
  for (const name of Object.keys(GROUP) as Name[]) {
    out[name] = (arg: unknown) => {
      const proxy = proxyActivities<Record<Name, (a: unknown) => Promise<unknown>>>({
        ...GROUP[name],
        summary: describeCall(name, arg),
      });
      const withFlag = isDryRun() ? { ...(arg as object), dryRun: true } : arg;
      return proxy[name](withFlag);
    };
  }
  return out as unknown as LifeboatActivities;
}
