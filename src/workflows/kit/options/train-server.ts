/** Activity options of the train-server activities (seed 004). @module */
import type { ActivityOptions } from '@temporalio/workflow';
import type { TrainServerActivities } from '../../../activities/types';
import { EFFECT, long, READ } from './policies';

/** Setup scripts, builds and restores run for hours on a real server; the heartbeat notices a dead worker. */
const HOURS = long('12h');

export const TRAIN_SERVER_OPTIONS: Record<keyof TrainServerActivities, ActivityOptions> = {
  tsStorageStatus: { ...READ, startToCloseTimeout: '2m' },
  tsScrubStatus: READ,
  tsScrubStart: EFFECT,
  tsBcacheStatus: READ,
  tsCacheDevice: READ,
  tsBcacheDetach: EFFECT,
  tsBcacheAttach: EFFECT,
  tsBcacheCacheMode: EFFECT,
  tsBcacheResumeWriteback: EFFECT,
  tsWipeCacheDevice: EFFECT,
  tsMakeCache: EFFECT,
  tsRunSetupScript: long('1h'),
  tsMountStorage: EFFECT,
  tsUnmountStorage: EFFECT,
  tsFstabStorage: EFFECT,
  tsResticSnapshots: { ...READ, startToCloseTimeout: '5m', heartbeatTimeout: '30s' },
  tsResticRestore: HOURS,
  tsChownHome: long('1h'),
  tsContainers: READ,
  tsCompose: long('2h'),
  tsVerify: { ...READ, startToCloseTimeout: '30m', heartbeatTimeout: '30s' },
  tsBtrfsCheck: HOURS,
  tsRsync: HOURS,
  tsBtrfsRestore: HOURS,
  tsCheckDevices: { ...READ, startToCloseTimeout: '2m' },
  tsSetupPlan: READ,
  tsSetupScript: long('1h'),
  tsSetupVerify: { ...READ, startToCloseTimeout: '30m', heartbeatTimeout: '30s' },
  tsResticAccess: { ...READ, startToCloseTimeout: '5m', heartbeatTimeout: '30s' },
  tsResticContents: { ...READ, startToCloseTimeout: '15m', heartbeatTimeout: '30s' },
  tsConfigDraft: EFFECT,
  tsConfigCheck: READ,
};
