/**
 * Default stubs of the train-server activities for workflow-logic tests (see ./stubs).
 */
import type { TrainServerActivities } from '../../src/activities/types';
import type { PlanOf } from './stubs';

/** Names of the train-server activities that have an effect on the target. */
export const TRAIN_SERVER_EFFECTS: string[] = [];

export function trainServerStubs(_plan: PlanOf): TrainServerActivities {
  return {};
}
