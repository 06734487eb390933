/** The training cluster's recovery workflows (seeds 000, 001). @module */
export { trainingClusterLeaderFailure } from './leader-failure';
export { trainingClusterMeshCollapse } from './mesh-collapse';
// ---- training-data (seed 000 §3, §4, §6) ----
export { trainingClusterNodeDataLoss } from './node-data-loss';
export { trainingClusterMultiNodeDataLoss } from './multi-node-data-loss';
export { trainingClusterModelCorruption } from './model-corruption';
// ---- end training-data ----
