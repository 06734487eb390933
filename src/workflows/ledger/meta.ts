/**
 * Scenario metadata of the ledger (seed 002).
 *
 * @module
 */
import type { ScenarioMeta } from '../scenario-meta';

export const LEDGER_QUORUM_LOSS: ScenarioMeta = {
  id: 'ledger.quorum-loss',
  workflowType: 'ledgerQuorumLoss',
  system: 'ledger',
  title: "Ledger quorum loss: a new cluster from the surviving minority's data",
  seed: '002 Quorum Recovery',
  rto: { targetMinutes: 10, maxMinutes: 15 },
  dangerousGates: ['single-node-bootstrap'],
};

export const LEDGER_NODE_FAILURE: ScenarioMeta = {
  id: 'ledger.node-failure',
  workflowType: 'ledgerNodeFailure',
  system: 'ledger',
  title: 'Ledger single node failure: remove the failed member, the node rejoins empty',
  seed: '002 Node Recovery',
  // The seed's RTO is "automatic" (the cluster keeps serving); replacing the node is bounded by 5 min.
  rto: { targetMinutes: 0, maxMinutes: 5 },
  dangerousGates: [],
};

export const LEDGER_FULL_RESTORE: ScenarioMeta = {
  id: 'ledger.full-restore',
  workflowType: 'ledgerFullRestore',
  system: 'ledger',
  title: 'Ledger total loss: a new cluster from the archived export, then expand',
  seed: '002 Total Loss - Restore from Backup',
  rto: { targetMinutes: 20, maxMinutes: 30 },
  dangerousGates: ['new-cluster-identity', 'clear-new-nodes'],
};

export const LEDGER_VAULT_DIVERGENCE: ScenarioMeta = {
  id: 'ledger.vault-divergence',
  workflowType: 'ledgerVaultDivergence',
  system: 'ledger',
  title: 'Ledger vault state divergence: RecoverVault and the server\'s own replay, else resync the diverged node from healthy replicas',
  seed: '002 Data Corruption Recovery',
  rto: { targetMinutes: 30, maxMinutes: 60 },
  dangerousGates: ['resync-corrupted-node'],
};

export const LEDGER_REGIONAL_FAILOVER: ScenarioMeta = {
  id: 'ledger.regional-failover',
  workflowType: 'ledgerRegionalFailover',
  system: 'ledger',
  title: "Ledger regional failover: the DR cluster from the primary's replicated export, the engine switched to it",
  seed: '002 Regional Failover',
  rto: { targetMinutes: 15, maxMinutes: 30 },
  dangerousGates: ['accept-rpo-gap', 'dns-switch'],
};

export const LEDGER_METAS: readonly ScenarioMeta[] = [LEDGER_QUORUM_LOSS, LEDGER_NODE_FAILURE, LEDGER_FULL_RESTORE, LEDGER_VAULT_DIVERGENCE, LEDGER_REGIONAL_FAILOVER];
