/**
 * The training cluster's outage and sync (seed 000 §5, seed 001) activities.
 *
 * @module
 */
import type { ActivityContext } from './context';
import type { TrainingOpsActivities } from './types-training-ops';

/** The training-ops activities of one worker. */
export function trainingOpsActivities(_ctx: ActivityContext): TrainingOpsActivities {
  return {};
}
