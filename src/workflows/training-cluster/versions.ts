/**
 * The training-cluster scenarios' `patched()` ids (docs/versioning.md).
 *
 * @module
 */

/**
 * Recoveries started after Lifeboat spoke the real RingRift P2P orchestrator
 * (synaptent/RingRift 2aa9f89b5): histories recorded before replay the v1
 * code in `./legacy/`.
 */
export const REAL_P2P_API = 'training-cluster/real-p2p-api';
