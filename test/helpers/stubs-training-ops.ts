/**
 * Default stubs of the training-ops activities for workflow-logic tests (see ./stubs).
 */
import type { TrainingOpsActivities } from '../../src/activities/types';
import type { PlanOf } from './stubs';

/** Names of the training-ops activities that have an effect on the target. */
export const TRAINING_OPS_EFFECTS: string[] = [];

export function trainingOpsStubs(_plan: PlanOf): TrainingOpsActivities {
  return {};
}
