/** Activity options of the training-data activities (seed 000 §3, §4, §6). @module */
import type { ActivityOptions } from '@temporalio/workflow';
import type { TrainingDataActivities } from '../../../activities/types';
import { EFFECT, long, READ } from './policies';

/** A read that runs several sqlite3/python commands over SSH: a little longer than a plain read. */
const SLOW_READ: ActivityOptions = { ...READ, startToCloseTimeout: '2m' };

export const TRAINING_DATA_OPTIONS: Record<keyof TrainingDataActivities, ActivityOptions> = {
  gamesDbStatus: SLOW_READ,
  gamesBackupInfo: SLOW_READ,
  gamesQuarantine: EFFECT,
  gamesSyncToHost: long('1h'),
  gamesRestoreBackup: long('1h'),
  selfplayStart: EFFECT,
  selfplayStop: EFFECT,
  gamesAggregate: long('2h'),
  gamesBackupAggregate: long('2h'),
  selfplayLaunchCluster: long('15m'),
  modelCheck: SLOW_READ,
  modelRestoreBackup: EFFECT,
  modelFetch: long('1h'),
  modelSwap: EFFECT,
  modelCheckpoints: READ,
  // Training runs for hours; the heartbeat (the SSH output tail) tells a dead worker apart.
  modelResumeTraining: { ...long('6h'), heartbeatTimeout: '1m', retry: { initialInterval: '30s', backoffCoefficient: 2, maximumInterval: '5m', maximumAttempts: 3 } },
};
