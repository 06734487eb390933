/**
 * The gossip scenarios' `patched()` ids (docs/versioning.md).
 *
 * @module
 */

/**
 * Recoveries started after Lifeboat spoke its control API on the real
 * memberlist-plumtree 0.1.6 (docs/gossip-contract.md): histories recorded
 * before replay the v1 code in `./legacy/`.
 */
export const PLUMTREE_CONTROL_API = 'gossip/plumtree-control-api';
