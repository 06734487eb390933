/** The training cluster's recovery workflows (seeds 000, 001). @module */
export { trainingClusterLeaderFailure } from './leader-failure';
export { trainingClusterMeshCollapse } from './mesh-collapse';
// ---- training-data (seed 000 §3, §4, §6) ----
export { trainingClusterNodeDataLoss } from './node-data-loss';
export { trainingClusterMultiNodeDataLoss } from './multi-node-data-loss';
export { trainingClusterModelCorruption } from './model-corruption';
// ---- end training-data ----
// ---- training-ops (seed 000 §5, seed 001) ----
export { trainingClusterClusterOutage } from './cluster-outage';
export { trainingClusterSyncHostCritical } from './sync-host-critical';
// ---- end training-ops ----
