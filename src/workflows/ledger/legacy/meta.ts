/**
 * The v1 scenarios' metadata as they ran (titles, gates, RTO), frozen so that
 * their histories replay alike whatever today's metadata says.
 *
 * @module
 */
import type { ScenarioMeta } from '../../scenario-meta';

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

export const LEDGER_REGIONAL_FAILOVER: ScenarioMeta = {
  id: 'ledger.regional-failover',
  workflowType: 'ledgerRegionalFailover',
  system: 'ledger',
  title: 'Ledger regional failover: start the DR cluster from replicated snapshots, switch the engine to it',
  seed: '002 Regional Failover',
  rto: { targetMinutes: 15, maxMinutes: 30 },
  dangerousGates: ['accept-rpo-gap', 'dns-switch'],
};
