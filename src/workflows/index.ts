/**
 * Every recovery workflow, for the worker's bundle. One scenario per file,
 * `src/workflows/<system>/<scenario>.ts`, each written in the runbook kit's
 * verbs.
 *
 * @module
 */
export { ledgerFullRestore } from './ledger/full-restore';
export { ledgerNodeFailure } from './ledger/node-failure';
export { ledgerQuorumLoss } from './ledger/quorum-loss';
export { ledgerVaultDivergence } from './ledger/vault-divergence';
export { trainingClusterLeaderFailure } from './training-cluster/leader-failure';
export { trainingClusterMeshCollapse } from './training-cluster/mesh-collapse';
