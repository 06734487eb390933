/**
 * The gossip cluster's wire API: Lifeboat's control API for
 * memberlist-plumtree applications (`plumtree-control/` in this repository,
 * specified in docs/gossip-contract.md), the library version it is written
 * against, and the real metric names Lifeboat reads.
 *
 * memberlist-plumtree is a library, not a server: a team's application
 * mounts `plumtree_control::router` to become recoverable; the routes below
 * are that router's, each backed by a call the library really has.
 *
 * @module
 */

/** The library and the control API Lifeboat speaks. */
export const PLUMTREE_VERSION = {
  crate: 'memberlist-plumtree',
  version: '0.1.6',
  /** The repository commit whose code and docs the facts were read from (johnnywale/memberlist-plumtree). */
  commit: '4e08c67',
  control: 'plumtree-control 0.1.0',
} as const;

/** The control API's routes. */
export const ROUTES = {
  peers: '/debug/peers',
  health: '/health',
  metrics: '/metrics',
  cache: '/debug/cache',
  sync: '/debug/sync',
  leave: '/admin/leave',
  join: '/admin/join',
  rebalance: '/admin/rebalance',
  /** Answers 501: the library has no `clear_cache()` (v1 recoveries only). */
  cacheClear: '/admin/cache/clear',
  /** Answers 501: anti-entropy is configuration, not a runtime switch (v1 recoveries only). */
  syncEnable: '/admin/sync/enable',
} as const;

/**
 * The metric names memberlist-plumtree 0.1.6 emits that the runbook's
 * checks map to (`src/metrics.rs`). The runbook's `plumtree_total_peers` is
 * `plumtree_peer_count` in the library; `plumtree_messages_partitioned_total`,
 * `plumtree_malformed_messages_total` and `plumtree_sync_*` are not emitted.
 */
export const METRICS = {
  eagerPeers: 'plumtree_eager_peers',
  lazyPeers: 'plumtree_lazy_peers',
  peerCount: 'plumtree_peer_count',
  graftFailed: 'plumtree_graft_failed_total',
} as const;

/** `GET /debug/peers`. */
export interface PeersBody {
  node?: string;
  peers?: { eager?: unknown; lazy?: unknown };
  members?: unknown;
  left?: unknown;
}

/** `GET /health` (200 healthy or degraded, 503 unhealthy): the library's `health()`. */
export interface HealthBody {
  status?: unknown;
  message?: unknown;
  peers?: { total?: unknown; eager?: unknown; lazy?: unknown };
}

/** `GET /debug/sync`. */
export interface SyncBody {
  enabled?: unknown;
  rootHash?: unknown;
  messages?: unknown;
  storedMessages?: unknown;
}

/** The hint every unexpected answer carries. */
export const VERSION_HINT = `Lifeboat speaks ${PLUMTREE_VERSION.control} on ${PLUMTREE_VERSION.crate} ${PLUMTREE_VERSION.version}: check that the application mounts plumtree_control::router (docs/gossip-contract.md)`;
