/** Activity options of the ledger activities (seed 002). @module */
import type { ActivityOptions } from '@temporalio/workflow';
import type { AllLedgerActivities } from '../../../activities/types';
import { EFFECT, long, READ } from './policies';

/** A read that heartbeats while the server works (integrity checks, RecoverVault). */
const SLOW_READ: ActivityOptions = { ...READ, startToCloseTimeout: '5m', heartbeatTimeout: '30s' };

export const LEDGER_OPTIONS: Record<keyof AllLedgerActivities, ActivityOptions> = {
  ledgerNodeState: READ,
  ledgerDataDir: READ,
  ledgerVaults: READ,
  ledgerVaultHealth: READ,
  ledgerIntegrity: SLOW_READ,
  ledgerReplicaTip: READ,
  ledgerMetrics: READ,
  ledgerBackupStatus: READ,
  ledgerArchiveInfo: READ,
  ledgerServiceStop: EFFECT,
  ledgerServiceStart: EFFECT,
  ledgerSetAside: EFFECT,
  ledgerInit: EFFECT,
  // The leader confirms the removal within 30 s; another membership change may hold it up.
  ledgerRemoveMember: EFFECT,
  ledgerVaultRecover: { ...EFFECT, startToCloseTimeout: '10m', heartbeatTimeout: '30s' },
  // Followers get up to 10 s to show the write.
  ledgerWriteCheck: EFFECT,
  // Reading or re-creating a whole ledger: long, heartbeating with its progress.
  ledgerExport: long('1h'),
  ledgerImport: long('2h'),
  ledgerArchiveFetch: long('1h'),
  ledgerArchivePush: long('1h'),
  ledgerDrTopology: READ,
  ledgerEngineEndpoint: READ,
  ledgerSwitchEndpoint: EFFECT,
  ledgerRestartEngine: EFFECT,
  // kubectl rollout status waits for the pods; it streams and heartbeats.
  ledgerEngineRollout: { ...READ, startToCloseTimeout: '10m', heartbeatTimeout: '30s' },
  // The v1 names (recorded histories; they refuse at once).
  ledgerNodeInfo: READ,
  ledgerStop: EFFECT,
  ledgerStart: EFFECT,
  ledgerClearData: EFFECT,
  ledgerLeaveCluster: EFFECT,
  ledgerListVaults: READ,
  ledgerCheckIntegrity: SLOW_READ,
  ledgerWriteRead: EFFECT,
  ledgerMetricsFlowing: READ,
  ledgerDeterminismBugs: READ,
  ledgerGetVault: READ,
  ledgerBackupInfo: READ,
  ledgerFetchBackup: { ...EFFECT, startToCloseTimeout: '30m' },
  ledgerGetTip: READ,
  ledgerRecoverVault: EFFECT,
  ledgerCreateSnapshot: EFFECT,
  ledgerReplicaInfo: READ,
  ledgerDrSync: long('1h'),
};
