/**
 * The ledger's recovery workflows (seed 002), against the real inferadb
 * ledger (21345c4). Histories recorded before Lifeboat spoke it replay the
 * v1 code of `./legacy/` (behind `patched(REAL_LEDGER_API)`, see ./versions).
 *
 * @module
 */
export { ledgerFullRestore } from './full-restore';
export { ledgerNodeFailure } from './node-failure';
export { ledgerQuorumLoss } from './quorum-loss';
export { ledgerRegionalFailover } from './regional-failover';
export { ledgerVaultDivergence } from './vault-divergence';
