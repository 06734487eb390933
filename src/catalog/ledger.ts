/**
 * The ledger's scenarios (seed 002): input schemas and parameter help.
 *
 * @module
 */
import { z } from 'zod';
import { LEDGER_QUORUM_LOSS, LEDGER_NODE_FAILURE, LEDGER_FULL_RESTORE, LEDGER_VAULT_DIVERGENCE, LEDGER_REGIONAL_FAILOVER } from '../workflows/scenarios';
import { nodeName, type ScenarioSpec } from './spec';

export const ledgerQuorumLossParams = z
  .object({
    /** The surviving node to rebuild the cluster from; default: the reachable node with the highest commit index. */
    survivor: nodeName.optional(),
    /** Organization whose vaults are verified (the runbook's organization_slug.id). */
    organization: z.string().min(1).default('1'),
  })
  .strict();
export type LedgerQuorumLossParams = z.infer<typeof ledgerQuorumLossParams>;

export const ledgerNodeFailureParams = z
  .object({
    /** The failed node to replace; default: the one unreachable node. */
    node: nodeName.optional(),
    /** Organization whose vaults are verified afterwards. */
    organization: z.string().min(1).default('1'),
  })
  .strict();
export type LedgerNodeFailureParams = z.infer<typeof ledgerNodeFailureParams>;

export const ledgerFullRestoreParams = z
  .object({
    /** The backup object (the runbook's s3://ledger-backups/latest/snapshot.tar.gz). */
    backup: z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,62}\/.*[^/]$/, { message: 'must be an S3 object URL such as s3://ledger-backups/latest/snapshot.tar.gz' }).optional(),
    /** Node the cluster is restored on; default: the first node. */
    node: nodeName.optional(),
    /** Where the backup is extracted on that node; default: <dataDir>/restore. */
    restoreDir: z.string().regex(/^[^\0\n]+$/, { message: 'must be a directory path' }).optional(),
    /** Organization whose vaults the closing checklist verifies. */
    organization: z.string().min(1).default('1'),
  })
  .strict();
export type LedgerFullRestoreParams = z.infer<typeof ledgerFullRestoreParams>;

export const ledgerVaultDivergenceParams = z
  .object({
    /** Only this vault (slug); default: every vault with a determinism bug. */
    vault: z.string().min(1).optional(),
    /** Organization whose vaults the closing checklist verifies. */
    organization: z.string().min(1).default('1'),
  })
  .strict();
export type LedgerVaultDivergenceParams = z.infer<typeof ledgerVaultDivergenceParams>;

export const ledgerRegionalFailoverParams = z
  .object({
    /** The DR region's inventory cluster; default: the primary's settings.drCluster. */
    drCluster: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: 'must be a cluster name from the inventory' }).optional(),
    /** The replicated snapshots; default: the DR cluster's settings.replicaSource (s3://ledger-primary-backups/latest/). */
    replicas: z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,62}\/(.*\/)?$/, { message: 'must be an S3 prefix ending in "/", such as s3://ledger-primary-backups/latest/' }).optional(),
    /** The endpoint the engine is switched to; default: the DR cluster's settings.drEndpoint (ledger.dr-region.internal:50051). */
    endpoint: z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, { message: 'must be host:port, such as ledger.dr-region.internal:50051' }).optional(),
    /** How many health probes in a row must find the whole primary region down before failing over. */
    probes: z.coerce.number().int().min(2).max(10).default(3),
    /** Organization whose vaults the closing checklist verifies. */
    organization: z.string().min(1).default('1'),
  })
  .strict();
export type LedgerRegionalFailoverParams = z.infer<typeof ledgerRegionalFailoverParams>;

export const LEDGER_SCENARIOS: readonly ScenarioSpec[] = [
  {
    ...LEDGER_FULL_RESTORE,
    params: ledgerFullRestoreParams,
    paramHelp: {
      backup: 'S3 object to restore (default s3://ledger-backups/latest/snapshot.tar.gz)',
      node: 'node the cluster is restored on (default: the first node)',
      restoreDir: 'where the backup is extracted (default: <dataDir>/restore)',
      organization: 'organization whose vaults the checklist verifies (default "1")',
    },
  },
  {
    ...LEDGER_NODE_FAILURE,
    params: ledgerNodeFailureParams,
    paramHelp: {
      node: 'the failed node to replace (default: the one unreachable node)',
      organization: 'organization whose vaults are verified (default "1")',
    },
  },
  {
    ...LEDGER_QUORUM_LOSS,
    params: ledgerQuorumLossParams,
    paramHelp: {
      survivor: 'node to rebuild from (default: reachable node with the highest commit index)',
      organization: 'organization whose vaults are verified (default "1")',
    },
  },
  {
    ...LEDGER_REGIONAL_FAILOVER,
    params: ledgerRegionalFailoverParams,
    paramHelp: {
      drCluster: "the DR region's cluster (default: the primary's settings.drCluster)",
      replicas: 'replicated snapshots to sync (default: settings.replicaSource of the DR cluster, s3://ledger-primary-backups/latest/)',
      endpoint: 'endpoint the engine is switched to (default: settings.drEndpoint, ledger.dr-region.internal:50051)',
      probes: 'health probes in a row that must find the primary region down (default 3, 20 s apart)',
      organization: 'organization whose vaults the checklist verifies (default "1")',
    },
  },
  {
    ...LEDGER_VAULT_DIVERGENCE,
    params: ledgerVaultDivergenceParams,
    paramHelp: {
      vault: 'only this vault slug (default: every vault with ledger_determinism_bug_total > 0)',
      organization: 'organization whose vaults the checklist verifies (default "1")',
    },
  },
];
