/**
 * The v1 scenarios' parameters as they were (types only), frozen with them.
 *
 * @module
 */
export interface GossipIsolatedNodeParams {
  node?: string;
}
export type GossipPartitionParams = Record<string, never>;
export type GossipMultiNodeFailureParams = Record<string, never>;
export type GossipTotalLossParams = Record<string, never>;
export interface GossipCacheCorruptionParams {
  node?: string;
}
export type GossipSplitBrainParams = Record<string, never>;
