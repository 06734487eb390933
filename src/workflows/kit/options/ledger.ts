/** Activity options of the ledger activities (seed 002). @module */
import type { ActivityOptions } from '@temporalio/workflow';
import type { LedgerActivities } from '../../../activities/types';
import { EFFECT, long, READ } from './policies';

export const LEDGER_OPTIONS: Record<keyof LedgerActivities, ActivityOptions> = {
  ledgerNodeInfo: READ,
  ledgerStop: EFFECT,
  ledgerStart: EFFECT,
  ledgerClearData: EFFECT,
  ledgerLeaveCluster: EFFECT,
  ledgerListVaults: READ,
  ledgerCheckIntegrity: { ...READ, startToCloseTimeout: '5m', heartbeatTimeout: '30s' },
  ledgerWriteRead: EFFECT,
  ledgerMetricsFlowing: READ,
  ledgerDeterminismBugs: READ,
  ledgerGetVault: READ,
  ledgerBackupInfo: READ,
  ledgerFetchBackup: { ...EFFECT, startToCloseTimeout: '30m' },
  ledgerGetTip: READ,
  ledgerRecoverVault: EFFECT,
  ledgerCreateSnapshot: EFFECT,
  ledgerDrTopology: READ,
  ledgerReplicaInfo: READ,
  // A sync of a large snapshot set takes a while; the heartbeat notices a dead worker.
  ledgerDrSync: long('1h'),
  ledgerEngineEndpoint: READ,
  ledgerSwitchEndpoint: EFFECT,
  ledgerRestartEngine: EFFECT,
  // kubectl rollout status waits for the pods; it streams and heartbeats.
  ledgerEngineRollout: { ...READ, startToCloseTimeout: '10m', heartbeatTimeout: '30s' },
};
