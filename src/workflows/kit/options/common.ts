/** Activity options of the common activities. @module */
import type { ActivityOptions } from '@temporalio/workflow';
import type { CommonActivities } from '../../../activities/types';
import { NOTIFY, READ } from './policies';

export const COMMON_OPTIONS: Record<keyof CommonActivities, ActivityOptions> = {
  sshCheck: READ,
  notify: NOTIFY,
};
