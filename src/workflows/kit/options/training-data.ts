/** Activity options of the training-data activities. @module */
import type { ActivityOptions } from '@temporalio/workflow';
import type { TrainingDataActivities } from '../../../activities/types';

export const TRAINING_DATA_OPTIONS: Record<keyof TrainingDataActivities, ActivityOptions> = {};
