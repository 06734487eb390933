/**
 * Scenario metadata shared by the workflows (RTO, gates) and the client's
 * catalogue (which adds the input schemas). Plain data: safe in the workflow
 * bundle.
 *
 * @module
 */

export interface ScenarioMeta {
  id: string;
  /** Exported workflow function name in src/workflows/index.ts. */
  workflowType: string;
  system: 'ledger' | 'gossip' | 'training-cluster' | 'train-server';
  title: string;
  /** Seed runbook and section the workflow follows. */
  seed: string;
  /** Recovery-time objective from the seed, minutes (target 0 = "automatic"). */
  rto: { targetMinutes: number; maxMinutes: number };
  /** Gates that need the cluster's name typed back. */
  dangerousGates: string[];
}

export const LEDGER_QUORUM_LOSS: ScenarioMeta = {
  id: 'ledger.quorum-loss',
  workflowType: 'ledgerQuorumLoss',
  system: 'ledger',
  title: 'Ledger quorum loss: rebuild the cluster from the surviving minority',
  seed: '002 Quorum Recovery',
  rto: { targetMinutes: 10, maxMinutes: 15 },
  dangerousGates: ['single-node-bootstrap'],
};

export const LEDGER_NODE_FAILURE: ScenarioMeta = {
  id: 'ledger.node-failure',
  workflowType: 'ledgerNodeFailure',
  system: 'ledger',
  title: 'Ledger single node failure: remove the failed node, join its replacement',
  seed: '002 Node Recovery',
  // The seed's RTO is "automatic" (the cluster keeps serving); replacing the node is bounded by 5 min.
  rto: { targetMinutes: 0, maxMinutes: 5 },
  dangerousGates: [],
};

export const LEDGER_FULL_RESTORE: ScenarioMeta = {
  id: 'ledger.full-restore',
  workflowType: 'ledgerFullRestore',
  system: 'ledger',
  title: 'Ledger total loss: restore the latest backup as a new cluster, then expand',
  seed: '002 Total Loss - Restore from Backup',
  rto: { targetMinutes: 20, maxMinutes: 30 },
  dangerousGates: ['new-cluster-identity', 'clear-new-nodes'],
};

export const LEDGER_VAULT_DIVERGENCE: ScenarioMeta = {
  id: 'ledger.vault-divergence',
  workflowType: 'ledgerVaultDivergence',
  system: 'ledger',
  title: 'Ledger vault state divergence: RecoverVault, else resync the corrupted node from a healthy replica',
  seed: '002 Data Corruption Recovery',
  rto: { targetMinutes: 30, maxMinutes: 60 },
  dangerousGates: ['resync-corrupted-node'],
};

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

export const SCENARIO_METAS: readonly ScenarioMeta[] = [LEDGER_FULL_RESTORE, LEDGER_NODE_FAILURE, LEDGER_QUORUM_LOSS, LEDGER_VAULT_DIVERGENCE, TRAINING_CLUSTER_LEADER_FAILURE, TRAINING_CLUSTER_MESH_COLLAPSE];
