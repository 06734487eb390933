/** Activity options of the training-ops activities (seed 000 §5, seed 001). @module */
import type { ActivityOptions } from '@temporalio/workflow';
import type { TrainingOpsActivities } from '../../../activities/types';
import { EFFECT, long, READ } from './policies';

export const TRAINING_OPS_OPTIONS: Record<keyof TrainingOpsActivities, ActivityOptions> = {
  syncHosts: READ,
  syncHostStorage: READ,
  syncProcess: READ,
  syncLogTail: READ,
  syncForce: EFFECT,
  syncAgentRestart: EFFECT,
  // Copies and imports of a host's games, and the full cluster sync, can take long: heartbeats watch the worker.
  syncRecoverData: long('2h'),
  syncImport: long('1h'),
  syncUnretire: EFFECT,
  syncRetireHost: EFFECT,
  syncGauges: READ,
  syncAppStatus: READ,
  syncCriticalHosts: { ...READ, startToCloseTimeout: '90s' },
  // A full cluster sync (POST /admin/sync/trigger) answers when it is done.
  syncTrigger: long('1h'),
  clusterFullSync: long('2h'),
  clusterLaunchDaemons: EFFECT,
  selfplayRunning: READ,
  modelsAccessible: READ,
};
