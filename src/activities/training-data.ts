/**
 * The training cluster's data and models (seed 000 §3, §4, §6) activities.
 *
 * @module
 */
import type { ActivityContext } from './context';
import type { TrainingDataActivities } from './types-training-data';

/** The training-data activities of one worker. */
export function trainingDataActivities(_ctx: ActivityContext): TrainingDataActivities {
  return {};
}
