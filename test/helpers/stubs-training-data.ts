/**
 * Default stubs of the training-data activities for workflow-logic tests (see ./stubs).
 */
import type { TrainingDataActivities } from '../../src/activities/types';
import type { PlanOf } from './stubs';

/** Names of the training-data activities that have an effect on the target. */
export const TRAINING_DATA_EFFECTS: string[] = [];

export function trainingDataStubs(_plan: PlanOf): TrainingDataActivities {
  return {};
}
