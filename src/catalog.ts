/**
 * The scenario catalogue: scenario id -> workflow type, input schema, title,
 * seed reference and recovery-time objective. The CLI validates `--set`
 * inputs against these schemas before anything starts, and the workflow
 * carries the RTO figures into its progress and report.
 *
 * @module
 */
import { z } from 'zod';
import { LEDGER_FULL_RESTORE, LEDGER_NODE_FAILURE, LEDGER_QUORUM_LOSS, LEDGER_VAULT_DIVERGENCE, TRAINING_CLUSTER_LEADER_FAILURE, TRAINING_CLUSTER_MESH_COLLAPSE, type ScenarioMeta } from './workflows/scenarios';

export interface ScenarioSpec extends ScenarioMeta {
  /** Scenario parameters (`--set key=value`). Unknown keys are refused. */
  params: z.ZodObject;
  /** One line per parameter for `lifeboat scenarios`. */
  paramHelp: Record<string, string>;
}

const nodeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { message: 'must be a node name from the inventory' });

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

export const leaderFailureParams = z.object({}).strict();
export type LeaderFailureParams = z.infer<typeof leaderFailureParams>;

export const meshCollapseParams = z
  .object({
    /** Node restarted first; default: the node with the "coordinator" role. */
    coordinator: nodeName.optional(),
  })
  .strict();
export type MeshCollapseParams = z.infer<typeof meshCollapseParams>;

export const SCENARIOS: readonly ScenarioSpec[] = [
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
    ...LEDGER_VAULT_DIVERGENCE,
    params: ledgerVaultDivergenceParams,
    paramHelp: {
      vault: 'only this vault slug (default: every vault with ledger_determinism_bug_total > 0)',
      organization: 'organization whose vaults the checklist verifies (default "1")',
    },
  },
  {
    ...TRAINING_CLUSTER_LEADER_FAILURE,
    params: leaderFailureParams,
    paramHelp: {},
  },
  {
    ...TRAINING_CLUSTER_MESH_COLLAPSE,
    params: meshCollapseParams,
    paramHelp: {
      coordinator: 'node restarted first (default: the node with the "coordinator" role)',
    },
  },
];

/** Looks a scenario up by id; `undefined` when unknown. */
export function findScenario(id: string): ScenarioSpec | undefined {
  return SCENARIOS.find((s) => s.id === id);
}
