/**
 * The lab's gossip (plumtree) cluster (seed 003): N nodes `gossip1..N`, the
 * first `seeds` of them seeds, each serving Lifeboat's control API for
 * memberlist-plumtree applications (docs/gossip-contract.md) on 127.0.0.1,
 * run by a `plumtree` unit (`systemctl` shim) on its lab host.
 *
 * Two backends behind one interface (./backend):
 * - `sim` (default): a simulation of what real nodes do (./sim): membership
 *   views, cut links and split switches that a healed network does not
 *   merge back, joins through seeds, leaves that are final, broadcast and
 *   anti-entropy over a persistent message store, the library's health and
 *   metric names;
 * - `real`: `plumtree-node` processes (plumtree-control/node, on the real
 *   memberlist-plumtree 0.1.6), each in its own network namespace on a
 *   switch the lab makes and removes; faults cut real links, kill -9 real
 *   processes and damage real sled stores (./real).
 *
 * - Effects: gossip.start, gossip.stop (the unit), gossip.join,
 *   gossip.rebalance (each accepted call), gossip.leave (when it left).
 * - Faults (./faults): gossip.isolated-node, gossip.partition,
 *   gossip.multi-node-failure, gossip.total-loss, gossip.cache-corruption,
 *   gossip.split-brain.
 * - Shims: `systemctl` (the unit), `timeout` (the seed check runs in the
 *   node's network).
 *
 * @module
 */
export { GossipFamily, type GossipOptions } from './family';
export { GOSSIP_FAULTS } from './faults';
export type { GossipBackendKind } from './backend';
export { panicSinceStart, plumtreeNodePath, requirePlumtreeNode, RealGossipBackend } from './real/backend';
export { NETNS_PREFIX, removeLeftovers } from './real/net';
export { SimBackend } from './sim/backend';
export { EAGER_FANOUT, GOSSIP_CACHE_DIR, GOSSIP_DATA_DIR, RUNBOOK_SEED_PORT } from './spec';
