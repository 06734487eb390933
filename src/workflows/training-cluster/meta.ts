/**
 * Scenario metadata of the training cluster (seeds 000, 001).
 *
 * @module
 */
import type { ScenarioMeta } from '../scenario-meta';

export const TRAINING_CLUSTER_LEADER_FAILURE: ScenarioMeta = {
  id: 'training-cluster.leader-failure',
  workflowType: 'trainingClusterLeaderFailure',
  system: 'training-cluster',
  title: 'Training cluster leader failure: wait for an election, reset it, or designate a leader',
  seed: '000 §1 Leader Node Failure',
  rto: { targetMinutes: 5, maxMinutes: 10 },
  dangerousGates: [],
};

export const TRAINING_CLUSTER_MESH_COLLAPSE: ScenarioMeta = {
  id: 'training-cluster.mesh-collapse',
  workflowType: 'trainingClusterMeshCollapse',
  system: 'training-cluster',
  title: 'Training cluster P2P mesh collapse: restart the orchestrators, coordinator first',
  seed: '000 §2 P2P Mesh Collapse',
  rto: { targetMinutes: 15, maxMinutes: 30 },
  dangerousGates: [],
};

export const TRAINING_CLUSTER_METAS: readonly ScenarioMeta[] = [TRAINING_CLUSTER_LEADER_FAILURE, TRAINING_CLUSTER_MESH_COLLAPSE];
