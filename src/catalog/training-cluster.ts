/**
 * The training cluster's scenarios (seeds 000, 001): input schemas and parameter help.
 *
 * @module
 */
import { z } from 'zod';
import { TRAINING_CLUSTER_CLUSTER_OUTAGE, TRAINING_CLUSTER_LEADER_FAILURE, TRAINING_CLUSTER_MESH_COLLAPSE, TRAINING_CLUSTER_SYNC_HOST_CRITICAL } from '../workflows/scenarios';
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
  ...TRAINING_OPS_SCENARIOS,
];
