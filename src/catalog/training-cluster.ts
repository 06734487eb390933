/**
 * The training cluster's scenarios (seeds 000, 001): input schemas and parameter help.
 *
 * @module
 */
import { z } from 'zod';
import {
  TRAINING_CLUSTER_CLUSTER_OUTAGE,
  TRAINING_CLUSTER_LEADER_FAILURE,
  TRAINING_CLUSTER_MESH_COLLAPSE,
  TRAINING_CLUSTER_MODEL_CORRUPTION, // training-data
  TRAINING_CLUSTER_MULTI_NODE_DATA_LOSS, // training-data
  TRAINING_CLUSTER_NODE_DATA_LOSS, // training-data
  TRAINING_CLUSTER_SYNC_HOST_CRITICAL,
} from '../workflows/scenarios';
import { nodeName, type ScenarioSpec } from './spec';

export const leaderFailureParams = z.object({}).strict();
export type LeaderFailureParams = z.infer<typeof leaderFailureParams>;

export const meshCollapseParams = z
  .object({
    /** Node restarted first; default: the node with the "coordinator" role. */
    coordinator: nodeName.optional(),
  })
  .strict();
export type MeshCollapseParams = z.infer<typeof meshCollapseParams>;

// ---- training-data (seed 000 §3, §4, §6) ------------------------------------------------------

export const nodeDataLossParams = z
  .object({
    /** The affected host; default: the one node whose database is unreadable or far below its peers. */
    node: nodeName.optional(),
    /** Games the node should hold; default: the median of its healthy peers. */
    expectedGames: z.coerce.number().int().positive().optional(),
    /** Node that runs the cluster sync and holds the backup mount; default: the coordinator. */
    coordinator: nodeName.optional(),
  })
  .strict();
export type NodeDataLossParams = z.infer<typeof nodeDataLossParams>;

export const multiNodeDataLossParams = z
  .object({
    /** Where the surviving data is aggregated; default: the node with the "coordinator" role. */
    coordinator: nodeName.optional(),
    /** How long to watch the regenerated count grow before asking; default "30m". */
    monitorFor: z.string().regex(/^\d+(ms|s|m|h)$/, { message: 'a duration such as 30m' }).optional(),
  })
  .strict();
export type MultiNodeDataLossParams = z.infer<typeof multiNodeDataLossParams>;

export const modelCorruptionParams = z
  .object({
    /** The node whose canonical model is corrupted; default: the coordinator. */
    node: nodeName.optional(),
  })
  .strict();
export type ModelCorruptionParams = z.infer<typeof modelCorruptionParams>;

const TRAINING_DATA_SCENARIOS: readonly ScenarioSpec[] = [
  {
    ...TRAINING_CLUSTER_NODE_DATA_LOSS,
    params: nodeDataLossParams,
    paramHelp: {
      node: 'the affected host (default: the one node whose database is unreadable or far below its peers)',
      expectedGames: 'games the node should hold (default: the median of its healthy peers)',
      coordinator: 'node that runs the cluster sync and has the backup mount (default: the "coordinator" role)',
    },
  },
  {
    ...TRAINING_CLUSTER_MULTI_NODE_DATA_LOSS,
    params: multiNodeDataLossParams,
    paramHelp: {
      coordinator: 'node the surviving data is aggregated to and backed up from (default: the "coordinator" role)',
      monitorFor: 'how long to watch the regenerated game count grow (default 30m)',
    },
  },
  {
    ...TRAINING_CLUSTER_MODEL_CORRUPTION,
    params: modelCorruptionParams,
    paramHelp: { node: 'node whose canonical model is corrupted (default: the "coordinator" role)' },
  },
];
// ---- end training-data -------------------------------------------------------------------------
// ---- training-ops (seed 000 §5, seed 001) -------------------------------------
export const clusterOutageParams = z
  .object({
    /** Node brought up first; default: the node with the "coordinator" role. */
    coordinator: nodeName.optional(),
  })
  .strict();
export type ClusterOutageParams = z.infer<typeof clusterOutageParams>;

export const syncHostCriticalParams = z
  .object({
    /** Node running the sync coordinator; default: the node with the "coordinator" role. */
    coordinator: nodeName.optional(),
    /** Recover only this host (default: every host the coordinator reports critical). */
    host: nodeName.optional(),
  })
  .strict();
export type SyncHostCriticalParams = z.infer<typeof syncHostCriticalParams>;

const TRAINING_OPS_SCENARIOS: readonly ScenarioSpec[] = [
  {
    ...TRAINING_CLUSTER_CLUSTER_OUTAGE,
    params: clusterOutageParams,
    paramHelp: { coordinator: 'node brought up first (default: the node with the "coordinator" role)' },
  },
  {
    ...TRAINING_CLUSTER_SYNC_HOST_CRITICAL,
    params: syncHostCriticalParams,
    paramHelp: {
      coordinator: 'node running the sync coordinator (default: the node with the "coordinator" role)',
      host: 'recover only this host (default: every host the coordinator reports critical)',
    },
  },
];
// ---- end training-ops ------------------------------------------------------------

export const TRAINING_CLUSTER_SCENARIOS: readonly ScenarioSpec[] = [
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
  ...TRAINING_DATA_SCENARIOS, // training-data
  ...TRAINING_OPS_SCENARIOS, // training-ops
];
