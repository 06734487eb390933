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

/**
 * The verifications of split-brain and partition count a node that answered
 * at the assessment as missing while it does not answer (a node whose unit
 * restarts it after a panic, docs/gossip.md), and split-brain's asks that
 * every node sees every other, not only one component: before, a node down
 * at the verification was left out, and the recovery could end "one
 * component of 4" with a node that was coming back.
 */
export const VERIFY_EVERY_NODE_BACK = 'gossip/verify-every-node-back';
