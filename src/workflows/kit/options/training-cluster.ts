/** Activity options of the training-cluster activities (seeds 000, 001). @module */
import type { ActivityOptions } from '@temporalio/workflow';
import type { TrainingClusterActivities } from '../../../activities/types';
import { EFFECT, READ } from './policies';

export const TRAINING_CLUSTER_OPTIONS: Record<keyof TrainingClusterActivities, ActivityOptions> = {
  // The real /status may take 10-60 s under load.
  p2pStatus: { ...READ, startToCloseTimeout: '90s' },
  p2pDaemonStatus: READ,
  p2pRestart: EFFECT,
  p2pJobs: READ,
  p2pElectionReset: EFFECT,
  p2pSetLeader: EFFECT,
  p2pUnretire: EFFECT,
};
