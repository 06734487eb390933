/**
 * The train server (seed 004) activities.
 *
 * @module
 */
import type { ActivityContext } from './context';
import type { TrainServerActivities } from './types-train-server';

/** The train-server activities of one worker. */
export function trainServerActivities(_ctx: ActivityContext): TrainServerActivities {
  return {};
}
