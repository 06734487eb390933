/**
 * bench/fanout's workflow: one recovery (the runbook kit's frame) whose only
 * step is a fan-out of `systemctl restart app` over every fleet host, with
 * the given concurrency, the restart of one host being one activity
 * ({@link ./activities}).
 */
import { proxyActivities } from '@temporalio/workflow';
import { fanOut, recoveryInput, runRecovery, type FanOutResult, type RecoveryInput, type RecoveryResult } from '../../src/workflows/kit';
import type { ScenarioMeta } from '../../src/workflows/scenarios';
import type * as benchActivities from './activities';
import type { FanOutBenchParams, FleetRestartResult, FleetTarget } from './types';

const META: ScenarioMeta = {
  id: 'bench.fanout',
  workflowType: 'benchFanOut',
  system: 'ledger',
  title: 'Fan-out benchmark: restart app on every fleet host',
  seed: 'bench',
  rto: { targetMinutes: 60, maxMinutes: 120 },
  dangerousGates: [],
};

const { fleetRestart } = proxyActivities<typeof benchActivities>({
  startToCloseTimeout: '2m',
  retry: { maximumAttempts: 1 },
});

/**
 * The fan-out itself, in one place: when the kit's `activityCall` lands (issue 18 item 3), this
 * becomes `fanOut(title, names, activityCall('fleetRestart', (name) => ({ target: byName.get(name)!, argv })), opts)`,
 * so past the kit's threshold the targets run in `lifeboatFanOutBatch` child workflows.
 */
function restartAll(hosts: FleetTarget[], argv: string[], concurrency: number): Promise<FanOutResult<FleetRestartResult>> {
  const byName = new Map(hosts.map((h) => [h.name, h]));
  return fanOut(
    `Restart ${argv.at(-1) ?? 'the service'} on ${hosts.length} hosts`,
    hosts.map((h) => h.name),
    (name) => fleetRestart({ target: byName.get(name)!, argv }),
    // The whole fleet is the error budget: every failure is counted and reported, the run never parks on a decision.
    { concurrency, maxFailures: hosts.length, onFailure: 'continue' },
  );
}

export async function benchFanOut(input: RecoveryInput<FanOutBenchParams>): Promise<RecoveryResult> {
  return runRecovery(META, input, async () => {
    const { hosts, argv, concurrency } = recoveryInput<FanOutBenchParams>().params;
    const r = await restartAll(hosts, argv, concurrency);
    const failed = Object.keys(r.failed);
    return `${Object.keys(r.succeeded).length} restarted, ${failed.length} failed${failed.length ? ` (${failed.slice(0, 5).join(', ')}: ${r.failed[failed[0]!]})` : ''}`;
  });
}

// When the kit has it, the worker must also run the fan-out's batch children:
// export { lifeboatFanOutBatch } from '../../src/workflows/kit';
