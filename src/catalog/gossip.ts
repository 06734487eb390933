/**
 * The gossip cluster (seed 003) scenarios: input schemas and parameter help.
 *
 * @module
 */
import { z } from 'zod';
import {
  GOSSIP_CACHE_CORRUPTION,
  GOSSIP_ISOLATED_NODE,
  GOSSIP_MULTI_NODE_FAILURE,
  GOSSIP_PARTITION,
  GOSSIP_SPLIT_BRAIN,
  GOSSIP_TOTAL_LOSS,
} from '../workflows/scenarios';
import { nodeName, type ScenarioSpec } from './spec';

export const gossipIsolatedNodeParams = z
  .object({
    /** The isolated node; default: the answering node with no eager and no lazy peers. */
    node: nodeName.optional(),
  })
  .strict();
export type GossipIsolatedNodeParams = z.infer<typeof gossipIsolatedNodeParams>;

export const gossipPartitionParams = z.object({}).strict();
export type GossipPartitionParams = z.infer<typeof gossipPartitionParams>;

export const gossipMultiNodeFailureParams = z.object({}).strict();
export type GossipMultiNodeFailureParams = z.infer<typeof gossipMultiNodeFailureParams>;

export const gossipTotalLossParams = z.object({}).strict();
export type GossipTotalLossParams = z.infer<typeof gossipTotalLossParams>;

export const gossipCacheCorruptionParams = z
  .object({
    /** Only this node; default: the nodes that crashed (API down, plumtree failed) or report themselves unhealthy. */
    node: nodeName.optional(),
  })
  .strict();
export type GossipCacheCorruptionParams = z.infer<typeof gossipCacheCorruptionParams>;

export const gossipSplitBrainParams = z.object({}).strict();
export type GossipSplitBrainParams = z.infer<typeof gossipSplitBrainParams>;

export const GOSSIP_SCENARIOS: readonly ScenarioSpec[] = [
  {
    ...GOSSIP_CACHE_CORRUPTION,
    params: gossipCacheCorruptionParams,
    paramHelp: { node: 'only this node, e.g. one the application saw receive malformed messages (default: the nodes that crashed, API down with plumtree failed, or report unhealthy)' },
  },
  {
    ...GOSSIP_ISOLATED_NODE,
    params: gossipIsolatedNodeParams,
    paramHelp: { node: 'the isolated node (default: the answering node with no eager and no lazy peers)' },
  },
  { ...GOSSIP_MULTI_NODE_FAILURE, params: gossipMultiNodeFailureParams, paramHelp: {} },
  { ...GOSSIP_PARTITION, params: gossipPartitionParams, paramHelp: {} },
  { ...GOSSIP_SPLIT_BRAIN, params: gossipSplitBrainParams, paramHelp: {} },
  { ...GOSSIP_TOTAL_LOSS, params: gossipTotalLossParams, paramHelp: {} },
];
