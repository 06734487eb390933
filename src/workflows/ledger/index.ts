/** The ledger's recovery workflows (seed 002). @module */
export { ledgerFullRestore } from './full-restore';
export { ledgerNodeFailure } from './node-failure';
export { ledgerQuorumLoss } from './quorum-loss';
export { ledgerRegionalFailover } from './regional-failover';
export { ledgerVaultDivergence } from './vault-divergence';
