/** The training cluster's recovery workflows (seeds 000, 001). @module */
export { trainingClusterLeaderFailure } from './leader-failure';
export { trainingClusterMeshCollapse } from './mesh-collapse';
// ---- training-ops (seed 000 §5, seed 001) ----
export { trainingClusterClusterOutage } from './cluster-outage';
export { trainingClusterSyncHostCritical } from './sync-host-critical';
// ---- end training-ops ----
