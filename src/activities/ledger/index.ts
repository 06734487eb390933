/**
 * The ledger's activities (seed 002) against the real inferadb ledger, put
 * together for the worker: node state, data directories, metrics and
 * backups ({@link ./nodes}), the ledger service, moving data aside and
 * initializing a cluster ({@link ./service}), membership ({@link ./membership}),
 * vaults ({@link ./vaults}), exports and imports ({@link ./export},
 * {@link ./import}), archived exports ({@link ./archive}), and regional
 * failover ({@link ./regional}, {@link ./engine}). Each is a named function
 * over the {@link LedgerContext}; the wire API is in {@link ./wire}, and the
 * v1 names recorded histories hold are in {@link ./legacy}.
 *
 * @module
 */
import { bindActivities, type ActivityContext } from '../context';
import { ledgerArchiveFetch, ledgerArchiveInfo, ledgerArchivePush } from './archive';
import { ledgerContext } from './context';
import { ledgerEngineEndpoint, ledgerEngineRollout, ledgerRestartEngine, ledgerSwitchEndpoint } from './engine';
import { ledgerExport } from './export';
import { ledgerImport } from './import';
import { legacyLedgerActivities } from './legacy';
import { ledgerRemoveMember } from './membership';
import { ledgerBackupStatus, ledgerDataDir, ledgerMetrics, ledgerNodeState } from './nodes';
import { ledgerDrTopology } from './regional';
import { ledgerInit, ledgerServiceStart, ledgerServiceStop, ledgerSetAside } from './service';
import type { AllLedgerActivities } from './types';
import { ledgerIntegrity, ledgerReplicaTip, ledgerVaultHealth, ledgerVaultRecover, ledgerVaults, ledgerWriteCheck } from './vaults';

export type * from './types';
export { LEDGER_DEFAULTS, type LedgerContext } from './context';

/** The ledger activities of one worker. */
export function ledgerActivities(base: ActivityContext): AllLedgerActivities {
  return {
    ...legacyLedgerActivities(),
    ...bindActivities(ledgerContext(base), {
      ledgerNodeState,
      ledgerDataDir,
      ledgerVaults,
      ledgerVaultHealth,
      ledgerIntegrity,
      ledgerReplicaTip,
      ledgerMetrics,
      ledgerBackupStatus,
      ledgerArchiveInfo,
      ledgerServiceStop,
      ledgerServiceStart,
      ledgerSetAside,
      ledgerInit,
      ledgerRemoveMember,
      ledgerVaultRecover,
      ledgerWriteCheck,
      ledgerExport,
      ledgerImport,
      ledgerArchiveFetch,
      ledgerArchivePush,
      ledgerDrTopology,
      ledgerEngineEndpoint,
      ledgerSwitchEndpoint,
      ledgerRestartEngine,
      ledgerEngineRollout,
    }),
  };
}
