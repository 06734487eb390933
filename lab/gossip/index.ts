/**
 * The simulated gossip (plumtree) cluster (seed 003): N nodes `gossip1..N`, the
 * first `seeds` of them seeds, each with an HTTP API up only while its process runs
 * and, on seeds, a TCP listener on the seed port (the runbook's `nc -zv seed 7946`).
 *
 * - API per node (127.0.0.1): `GET /debug/peers`, `GET /metrics` (Prometheus text),
 *   `GET /health`; with `Authorization: Bearer <token>`: `POST /admin/leave`,
 *   `POST /admin/join {seeds}`, `POST /admin/rebalance`, `POST /admin/cache/clear`,
 *   `POST /admin/sync/enable`.
 * - Membership: running, joined, non-isolated nodes in the same group see each other;
 *   eager = the first {@link EAGER_FANOUT} peers, lazy = the rest.
 * - Persistent state per host: `var/lib/plumtree/data/state.db` and
 *   `var/lib/plumtree/data/cache/cache.db` (real files; a corrupted state file makes
 *   `systemctl start plumtree` fail, a corrupted cache makes the malformed counter rise).
 * - Effects (real transitions only): gossip.leave, gossip.join, gossip.rebalance,
 *   gossip.cache-clear, gossip.sync-enable, gossip.stop, gossip.start, gossip.state-cleared.
 * - Faults: gossip.isolated-node, gossip.partition, gossip.multi-node-failure,
 *   gossip.total-loss, gossip.cache-corruption, gossip.split-brain.
 *
 * Files: {@link GossipFamily} in ./family (the lab core's entry point), the
 * nodes and their membership in ./cluster, a node's HTTP API in ./api, its
 * process and the `systemctl` shim in ./process, the faults in ./faults.
 *
 * @module
 */
export { GossipFamily, type GossipOptions } from './family';
export { GOSSIP_FAULTS } from './faults';
export { EAGER_FANOUT, GOSSIP_DATA_DIR, RUNBOOK_SEED_PORT } from './cluster';
