/** Activity options of the training-cluster activities (seeds 000, 001). @module */
import type { ActivityOptions } from '@temporalio/workflow';
import type { TrainingClusterActivities } from '../../../activities/types';
import { EFFECT, READ } from './policies';

export const TRAINING_CLUSTER_OPTIONS: Record<keyof TrainingClusterActivities, ActivityOptions> = {
  p2pStatus: READ,
  p2pDaemonStatus: READ,
  p2pRestart: EFFECT,
  p2pJobs: READ,
  p2pElectionReset: EFFECT,
  p2pSetLeader: EFFECT,
};
