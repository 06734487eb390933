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
  title: 'Training cluster leader failure: wait for an election, reset it, or designate a leader; then bring the old leader back',
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

// ---- training-data (seed 000 §3, §4, §6): game databases and models ---------------------------

export const TRAINING_CLUSTER_NODE_DATA_LOSS: ScenarioMeta = {
  id: 'training-cluster.node-data-loss',
  workflowType: 'trainingClusterNodeDataLoss',
  system: 'training-cluster',
  title: 'Training cluster data loss on one node: re-sync from the cluster, restore the backup, or accept the loss',
  seed: '000 §3 Data Loss (Single Node)',
  rto: { targetMinutes: 30, maxMinutes: 60 },
  dangerousGates: ['overwrite-db-from-backup'],
};

export const TRAINING_CLUSTER_MULTI_NODE_DATA_LOSS: ScenarioMeta = {
  id: 'training-cluster.multi-node-data-loss',
  workflowType: 'trainingClusterMultiNodeDataLoss',
  system: 'training-cluster',
  title: 'Training cluster data loss on several nodes: protect, aggregate and back up the survivors, regenerate',
  seed: '000 §4 Data Loss (Multi-Node)',
  rto: { targetMinutes: 60, maxMinutes: 240 },
  dangerousGates: ['stop-writes'],
};

export const TRAINING_CLUSTER_MODEL_CORRUPTION: ScenarioMeta = {
  id: 'training-cluster.model-corruption',
  workflowType: 'trainingClusterModelCorruption',
  system: 'training-cluster',
  title: 'Training cluster model corruption: restore the backup, pull a verified copy, or resume training',
  seed: '000 §6 Model Corruption',
  rto: { targetMinutes: 30, maxMinutes: 60 },
  dangerousGates: ['replace-canonical-model'],
};

const TRAINING_DATA_METAS: readonly ScenarioMeta[] = [TRAINING_CLUSTER_NODE_DATA_LOSS, TRAINING_CLUSTER_MULTI_NODE_DATA_LOSS, TRAINING_CLUSTER_MODEL_CORRUPTION];
// ---- end training-data -------------------------------------------------------------------------

// ---- training-ops (seed 000 §5, seed 001) -------------------------------------
export const TRAINING_CLUSTER_CLUSTER_OUTAGE: ScenarioMeta = {
  id: 'training-cluster.cluster-outage',
  workflowType: 'trainingClusterClusterOutage',
  system: 'training-cluster',
  title: 'Training cluster complete failure: coordinator first, wait for the nodes, full sync, daemons, checklist',
  seed: '000 §5 Complete Cluster Failure',
  rto: { targetMinutes: 120, maxMinutes: 480 },
  dangerousGates: [],
};

/** Seed 001 gives no recovery time: 30 min target, 2 h max (a critical host's unsynced games are at risk). */
export const TRAINING_CLUSTER_SYNC_HOST_CRITICAL: ScenarioMeta = {
  id: 'training-cluster.sync-host-critical',
  workflowType: 'trainingClusterSyncHostCritical',
  system: 'training-cluster',
  title: 'Sync host critical: force a sync, restart the agent, rsync and import, unretire; retire only as the last resort',
  seed: '001 Sync Host Critical',
  rto: { targetMinutes: 30, maxMinutes: 120 },
  dangerousGates: ['retire-host'],
};

const TRAINING_OPS_METAS: readonly ScenarioMeta[] = [TRAINING_CLUSTER_CLUSTER_OUTAGE, TRAINING_CLUSTER_SYNC_HOST_CRITICAL];
// ---- end training-ops ------------------------------------------------------------

export const TRAINING_CLUSTER_METAS: readonly ScenarioMeta[] = [TRAINING_CLUSTER_LEADER_FAILURE, TRAINING_CLUSTER_MESH_COLLAPSE, ...TRAINING_DATA_METAS, ...TRAINING_OPS_METAS];
