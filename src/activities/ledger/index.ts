/**
 * The ledger's activities (seed 002), put together for the worker: node state
 * and health ({@link ./nodes}), the ledger process over SSH ({@link ./service}),
 * membership ({@link ./membership}), vaults ({@link ./vaults}), backups
 * ({@link ./backup}), and regional failover ({@link ./regional}, {@link ./engine}).
 * Each is a named function over the {@link LedgerContext}; the wire API is in
 * {@link ./wire}.
 *
 * @module
 */
import { bindActivities, type ActivityContext } from '../context';
import { ledgerContext } from './context';
import { ledgerDeterminismBugs, ledgerMetricsFlowing, ledgerNodeInfo } from './nodes';
import { ledgerClearData, ledgerStart, ledgerStop } from './service';
import { ledgerLeaveCluster } from './membership';
import { ledgerCheckIntegrity, ledgerCreateSnapshot, ledgerGetTip, ledgerGetVault, ledgerListVaults, ledgerRecoverVault, ledgerWriteRead } from './vaults';
import { ledgerBackupInfo, ledgerFetchBackup } from './backup';
import { ledgerDrSync, ledgerDrTopology, ledgerReplicaInfo } from './regional';
import { ledgerEngineEndpoint, ledgerEngineRollout, ledgerRestartEngine, ledgerSwitchEndpoint } from './engine';
import type { LedgerActivities } from './types';

export type * from './types';
export { LEDGER_DEFAULTS, type LedgerContext } from './context';

/** The ledger activities of one worker. */
export function ledgerActivities(base: ActivityContext): LedgerActivities {
  return bindActivities(ledgerContext(base), {
    ledgerNodeInfo,
    ledgerStop,
    ledgerStart,
    ledgerClearData,
    ledgerLeaveCluster,
    ledgerListVaults,
    ledgerCheckIntegrity,
    ledgerWriteRead,
    ledgerMetricsFlowing,
    ledgerDeterminismBugs,
    ledgerBackupInfo,
    ledgerFetchBackup,
    ledgerGetTip,
    ledgerGetVault,
    ledgerRecoverVault,
    ledgerCreateSnapshot,
    ledgerDrTopology,
    ledgerReplicaInfo,
    ledgerDrSync,
    ledgerEngineEndpoint,
    ledgerSwitchEndpoint,
    ledgerRestartEngine,
    ledgerEngineRollout,
  });
}
