/**
 * The activity proxies scenarios use, with explicit timeouts and retry
 * policies per group, a summary on every call (shown in the Web UI), and the
 * recovery's dry-run flag injected into every call.
 *
 * @module
 */
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { LifeboatActivities } from '../../activities/types';
import { isDryRun, runtime } from './state';

type Name = keyof LifeboatActivities;

/**
 * Reads and diagnosis: short, retried a few times. An unreachable node is a
 * result of these activities, not a failure, so retries cover only
 * transport hiccups of the worker itself.
 */
const READ: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 },
};

/**
 * Effects (stop, start, restart, clear): idempotent on the activity side,
 * so retried more; heartbeating so a dead worker is noticed within 30 s.
 * Failures retrying cannot fix are marked non-retryable by the activities.
 */
const EFFECT: ActivityOptions = {
  startToCloseTimeout: '5m',
  heartbeatTimeout: '30s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
};

/** Notifications must never hold a recovery up. */
const NOTIFY: ActivityOptions = {
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
};

const GROUP: Record<Name, ActivityOptions> = {
  sshCheck: READ,
  notify: NOTIFY,
  ledgerNodeInfo: READ,
  ledgerStop: EFFECT,
  ledgerStart: EFFECT,
  ledgerClearData: EFFECT,
  ledgerLeaveCluster: EFFECT,
  ledgerListVaults: READ,
  ledgerCheckIntegrity: { ...READ, startToCloseTimeout: '5m', heartbeatTimeout: '30s' },
  ledgerWriteRead: EFFECT,
  ledgerMetricsFlowing: READ,
  ledgerDeterminismBugs: READ,
  ledgerGetVault: READ,
  ledgerBackupInfo: READ,
  ledgerFetchBackup: { ...EFFECT, startToCloseTimeout: '30m' },
  ledgerGetTip: READ,
  ledgerRecoverVault: EFFECT,
  ledgerCreateSnapshot: EFFECT,
  p2pStatus: READ,
  p2pDaemonStatus: READ,
  p2pRestart: EFFECT,
  p2pJobs: READ,
  p2pElectionReset: EFFECT,
  p2pSetLeader: EFFECT,
};

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
