/** Activity options of the ledger activities (seed 002). @module */
import type { ActivityOptions } from '@temporalio/workflow';
import type { LedgerActivities } from '../../../activities/types';
import { EFFECT, READ } from './policies';

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
};
