/** The training cluster's recovery workflows (seeds 000, 001). @module */
export { trainingClusterLeaderFailure } from './leader-failure';
export { trainingClusterMeshCollapse } from './mesh-collapse';
