/**
 * The training cluster's scenarios (seeds 000, 001): input schemas and parameter help.
 *
 * @module
 */
import { z } from 'zod';
import { TRAINING_CLUSTER_LEADER_FAILURE, TRAINING_CLUSTER_MESH_COLLAPSE } from '../workflows/scenarios';
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
];
