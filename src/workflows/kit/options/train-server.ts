/** Activity options of the train-server activities. @module */
import type { ActivityOptions } from '@temporalio/workflow';
import type { TrainServerActivities } from '../../../activities/types';

export const TRAIN_SERVER_OPTIONS: Record<keyof TrainServerActivities, ActivityOptions> = {};
