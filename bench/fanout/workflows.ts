/**
 * bench/fanout's workflow: one recovery (the runbook kit's frame) whose only
 * step is a fan-out of `systemctl restart app` over every fleet host, with
 * the given concurrency, the restart of one host being one activity
 * ({@link ./activities}).
 */
import { proxyActivities } from '@temporalio/workflow';
import { activityCall, fanOut, recoveryInput, runRecovery, type FanOutResult, type RecoveryInput, type RecoveryResult } from '../../src/workflows/kit';
import type { ScenarioMeta } from '../../src/workflows/scenarios';
import type * as benchActivities from './activities';
import type { FanOutBenchParams, FanOutForm, FleetRestartInput, FleetRestartResult, FleetTarget } from './types';

const META: ScenarioMeta = {
  id: 'bench.fanout',
  workflowType: 'benchFanOut',
  system: 'ledger',
  title: 'Fan-out benchmark: restart app on every fleet host',
  seed: 'bench',
  rto: { targetMinutes: 60, maxMinutes: 120 },
  dangerousGates: [],
};

const RESTART_OPTIONS = { startToCloseTimeout: '2m', retry: { maximumAttempts: 1 } } as const;
const { fleetRestart } = proxyActivities<typeof benchActivities>(RESTART_OPTIONS);

/**
 * The fan-out itself, in one place. `activityCall` (the default): the kit knows the activity, so past
 * its threshold (100 targets) the targets run in `lifeboatFanOutBatch` child workflows of bounded
 * batches; `closure`: a plain `(name) => fleetRestart(...)`, every target in the recovery's own history
 * (the only form before issue 18 item 3; kept to compare).
 */
function restartAll(hosts: FleetTarget[], argv: string[], concurrency: number, form: FanOutForm): Promise<FanOutResult<FleetRestartResult>> {
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const input = (name: string): FleetRestartInput => ({ target: byName.get(name)!, argv });
  return fanOut(
    `Restart ${argv.at(-1) ?? 'the service'} on ${hosts.length} hosts`,
    hosts.map((h) => h.name),
    form === 'closure' ? (name) => fleetRestart(input(name)) : activityCall<FleetRestartResult>('fleetRestart', input, RESTART_OPTIONS),
    // The whole fleet is the error budget: every failure is counted and reported, the run never parks on a decision.
    { concurrency, maxFailures: hosts.length, onFailure: 'continue' },
  );
}

export async function benchFanOut(input: RecoveryInput<FanOutBenchParams>): Promise<RecoveryResult> {
  return runRecovery(META, input, async () => {
    const { hosts, argv, concurrency, form } = recoveryInput<FanOutBenchParams>().params;
    const r = await restartAll(hosts, argv, concurrency, form ?? 'activityCall');
    const failed = Object.keys(r.failed);
    return `${Object.keys(r.succeeded).length} restarted, ${failed.length} failed${failed.length ? ` (${failed.slice(0, 5).join(', ')}: ${r.failed[failed[0]!]})` : ''}`;
  });
}

// The fan-out's batch children, which the worker must run too.
export { lifeboatFanOutBatch } from '../../src/workflows/kit';
