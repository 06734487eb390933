/** Activity options of the training-ops activities. @module */
import type { ActivityOptions } from '@temporalio/workflow';
import type { TrainingOpsActivities } from '../../../activities/types';

export const TRAINING_OPS_OPTIONS: Record<keyof TrainingOpsActivities, ActivityOptions> = {};
