/**
 * The ledger's scenarios (seed 002): input schemas and parameter help.
 *
 * @module
 */
import { z } from 'zod';
import { LEDGER_QUORUM_LOSS, LEDGER_NODE_FAILURE, LEDGER_FULL_RESTORE, LEDGER_VAULT_DIVERGENCE, LEDGER_REGIONAL_FAILOVER } from '../workflows/scenarios';
import { nodeName, type ScenarioSpec } from './spec';

/** A 64-bit slug as the ledger shows it (organizations and vaults are numbered, not named). */
const slug = z.string().regex(/^[1-9]\d{0,19}$/, { message: 'must be a slug: the 64-bit number the ledger shows for it (e.g. 387995942322654209), not a name' });

/** An archived export (the object a backup job or a regional replication wrote). */
const exportUrl = z
  .string()
  .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,62}\/.*[^/]$/, { message: 'must be an S3 object URL such as s3://ledger-backups/latest/ledger-export.jsonl' });

/** What every ledger scenario's closing checklist may be pointed at. */
const verified = {
  /** Only this organization's vaults are checked; default: every organization. */
  organization: slug.optional(),
  /** The vault the write check writes to; default: the first vault found. */
  vault: slug.optional(),
};

export const ledgerQuorumLossParams = z
  .object({
    /** The surviving node the data is copied from; default: the reachable node whose vaults applied the most. */
    survivor: nodeName.optional(),
    ...verified,
  })
  .strict();
export type LedgerQuorumLossParams = z.infer<typeof ledgerQuorumLossParams>;

export const ledgerNodeFailureParams = z
  .object({
    /** The failed node to replace; default: the one unreachable node. */
    node: nodeName.optional(),
    ...verified,
  })
  .strict();
export type LedgerNodeFailureParams = z.infer<typeof ledgerNodeFailureParams>;

export const ledgerFullRestoreParams = z
  .object({
    /** The archived export to restore; default: the cluster's settings.backupSource. */
    backup: exportUrl.optional(),
    /** The node the new cluster is formed on; default: the first node. */
    node: nodeName.optional(),
    ...verified,
  })
  .strict();
export type LedgerFullRestoreParams = z.infer<typeof ledgerFullRestoreParams>;

export const ledgerVaultDivergenceParams = z
  .object({
    ...verified,
  })
  .strict();
export type LedgerVaultDivergenceParams = z.infer<typeof ledgerVaultDivergenceParams>;

export const ledgerRegionalFailoverParams = z
  .object({
    /** The DR region's inventory cluster; default: the primary's settings.drCluster. */
    drCluster: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: 'must be a cluster name from the inventory' }).optional(),
    /** The primary's replicated export; default: the DR cluster's settings.replicaSource. */
    replicas: exportUrl.optional(),
    /** The endpoint the engine is switched to; default: the DR cluster's settings.drEndpoint (ledger.dr-region.internal:50051). */
    endpoint: z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, { message: 'must be host:port, such as ledger.dr-region.internal:50051' }).optional(),
    /** How many health probes in a row must find the whole primary region down before failing over. */
    probes: z.coerce.number().int().min(2).max(10).default(3),
    ...verified,
  })
  .strict();
export type LedgerRegionalFailoverParams = z.infer<typeof ledgerRegionalFailoverParams>;

const VERIFIED_HELP = {
  organization: 'only this organization slug is verified (default: every organization)',
  vault: 'vault slug the write check writes to (default: the first vault found)',
};

export const LEDGER_SCENARIOS: readonly ScenarioSpec[] = [
  {
    ...LEDGER_FULL_RESTORE,
    params: ledgerFullRestoreParams,
    paramHelp: {
      backup: 'archived export to restore (default: settings.backupSource, s3://ledger-backups/latest/ledger-export.jsonl)',
      node: 'node the new cluster is formed on (default: the first node)',
      ...VERIFIED_HELP,
    },
  },
  {
    ...LEDGER_NODE_FAILURE,
    params: ledgerNodeFailureParams,
    paramHelp: {
      node: 'the failed node to replace (default: the one unreachable node)',
      ...VERIFIED_HELP,
    },
  },
  {
    ...LEDGER_QUORUM_LOSS,
    params: ledgerQuorumLossParams,
    paramHelp: {
      survivor: 'node whose data the new cluster is made from (default: the reachable node whose vaults applied the most)',
      ...VERIFIED_HELP,
    },
  },
  {
    ...LEDGER_REGIONAL_FAILOVER,
    params: ledgerRegionalFailoverParams,
    paramHelp: {
      drCluster: "the DR region's cluster (default: the primary's settings.drCluster)",
      replicas: "the primary's replicated export (default: settings.replicaSource of the DR cluster)",
      endpoint: 'endpoint the engine is switched to (default: settings.drEndpoint, ledger.dr-region.internal:50051)',
      probes: 'health probes in a row that must find the primary region down (default 3, 20 s apart)',
      ...VERIFIED_HELP,
    },
  },
  {
    ...LEDGER_VAULT_DIVERGENCE,
    params: ledgerVaultDivergenceParams,
    paramHelp: {
      ...VERIFIED_HELP,
      vault: 'only this vault slug (default: every vault a node reports diverged or recovering)',
    },
  },
];
