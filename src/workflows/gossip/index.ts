/** The gossip cluster's recovery workflows (seed 003). @module */
export { gossipCacheCorruption } from './cache-corruption';
export { gossipIsolatedNode } from './isolated-node';
export { gossipMultiNodeFailure } from './multi-node-failure';
export { gossipPartition } from './partition';
export { gossipSplitBrain } from './split-brain';
export { gossipTotalLoss } from './total-loss';
