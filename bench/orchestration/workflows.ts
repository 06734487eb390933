/**
 * The benchmark's workflow: N kit steps in a row, each calling one activity
 * that returns at once, so what is measured is the kit's and Temporal's
 * per-step cost (schedule, dispatch, complete, new workflow task, progress
 * and search-attribute publishing), not any target's latency.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { LifeboatActivities } from '../../src/activities/types';
import { activities, recoveryInput, runRecovery, step, type RecoveryInput, type RecoveryResult } from '../../src/workflows/kit';
import type { ScenarioMeta } from '../../src/workflows/scenarios';

const META: ScenarioMeta = {
  id: 'bench.steps',
  workflowType: 'benchSteps',
  system: 'ledger',
  title: 'Orchestration overhead benchmark',
  seed: 'bench',
  rto: { targetMinutes: 60, maxMinutes: 120 },
  dangerousGates: [],
};

export async function benchSteps(input: RecoveryInput<{ steps: number }>): Promise<RecoveryResult> {
  return runRecovery(META, input, async () => {
    const { steps } = recoveryInput<{ steps: number }>().params;
    const { sshCheck } = activities();
    for (let i = 1; i <= steps; i++) {
      await step(`Step ${i}`, () => sshCheck({ cluster: input.cluster.name, node: 'node1' }));
    }
    return `${steps} steps`;
  });
}

/** The same N activity calls without the kit: the baseline the kit's overhead is measured against. */
export async function benchRaw(steps: number): Promise<number[]> {
  const { sshCheck } = proxyActivities<LifeboatActivities>({ startToCloseTimeout: '30s' });
  const out: number[] = [];
  for (let i = 1; i <= steps; i++) {
    const t = Date.now();
    await sshCheck({ cluster: 'bench', node: 'node1' });
    out.push(Date.now() - t);
  }
  return out;
}
