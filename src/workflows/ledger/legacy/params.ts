/**
 * The v1 scenarios' parameters, as their histories recorded them (types only).
 *
 * @module
 */
export interface LedgerQuorumLossParams {
  survivor?: string;
  organization: string;
}
export interface LedgerNodeFailureParams {
  node?: string;
  organization: string;
}
export interface LedgerFullRestoreParams {
  backup?: string;
  node?: string;
  restoreDir?: string;
  organization: string;
}
export interface LedgerVaultDivergenceParams {
  vault?: string;
  organization: string;
}
export interface LedgerRegionalFailoverParams {
  drCluster?: string;
  replicas?: string;
  endpoint?: string;
  probes: number;
  organization: string;
}
