/**
 * The gossip cluster (seed 003) activities, as types only (workflows import them with
 * `import type`). See {@link ./types} for the conventions: one object argument naming
 * the cluster and node by their inventory names; effects take `dryRun` and return the
 * exact request or command; an unreachable node is a result, not a failure.
 *
 * @module
 */
import type { EffectResult, Effectful, NodeRef } from '../common/types';

/** `GET /debug/peers` of one node. */
export interface GossipPeers {
  node: string;
  /** False when the node's API did not answer (its process is down or the host unreachable). */
  reachable: boolean;
  error?: string;
  eager: string[];
  lazy: string[];
  /** The node's membership view (memberlist members), itself included while it is a member. */
  members: string[];
  /**
   * The node left the cluster (`POST /admin/leave`): memberlist does not let
   * it join again until its process restarts. Absent from pre-control-API answers.
   */
  left?: boolean;
}

/** `GET /health`: the library's own `health()` report. */
export interface GossipHealth {
  node: string;
  /** False when the node's API did not answer. */
  reachable: boolean;
  error?: string;
  /** `healthy`, `degraded` or `unhealthy` (memberlist-plumtree's HealthStatus); `down` when unreachable. */
  status: 'healthy' | 'degraded' | 'unhealthy' | 'down';
  /** The library's explanation ("No peers connected", "Operating normally", ...). */
  message: string;
  eager: number;
  lazy: number;
}

/** `GET /debug/sync`: whether the node runs anti-entropy and the state it compares. */
export interface GossipSync {
  node: string;
  reachable: boolean;
  error?: string;
  /** The application configured anti-entropy (`PlumtreeConfig::with_sync`). */
  enabled: boolean;
  /** The sync handler's root hash over the messages the node holds: equal hashes, same messages. */
  rootHash: string;
  /** Messages the node holds. */
  messages: number;
}

/** `GET /metrics` of one node: the `plumtree_*` samples, summed over their labels. */
export interface GossipMetrics {
  node: string;
  reachable: boolean;
  error?: string;
  values: Record<string, number>;
}

/** Two reads of `plumtree_malformed_messages_total` a moment apart, plus `GET /health`. */
export interface GossipMalformed {
  node: string;
  reachable: boolean;
  error?: string;
  before: number;
  after: number;
  /** The counter rose between the two reads: the node is reading malformed messages now. */
  rising: boolean;
  /** `GET /health` answered 200. */
  healthy: boolean;
}

/** The runbook's `nc -zv seed 7946`, run on the node itself for every seed. */
export interface GossipSeedCheck {
  node: string;
  /** False when the node could not be reached over SSH (then `seeds` is empty). */
  sshReachable: boolean;
  error?: string;
  seeds: Array<{ seed: string; open: boolean; detail: string }>;
}

/** `systemctl is-active <service>` over SSH. */
export interface GossipServiceState {
  node: string;
  sshReachable: boolean;
  error?: string;
  active: boolean;
  /** What is-active printed: active, inactive, failed, ... */
  state: string;
}

/** The gossip activities a workflow may proxy. */
export interface GossipActivities {
  /** `GET /debug/peers`: eager and lazy peers and the membership view. */
  gossipPeers(input: NodeRef): Promise<GossipPeers>;
  /** `GET /metrics` parsed: every `plumtree_*` value. */
  gossipMetrics(input: NodeRef): Promise<GossipMetrics>;
  /** Is the malformed-message counter rising on this node (two reads ~1.5 s apart) and does `/health` answer 200? */
  gossipMalformed(input: NodeRef): Promise<GossipMalformed>;
  /** TCP connect from the node to every seed (bash `/dev/tcp` under `timeout`), over SSH. */
  gossipSeedCheck(input: NodeRef): Promise<GossipSeedCheck>;
  /** `systemctl is-active plumtree` over SSH. */
  gossipServiceState(input: NodeRef): Promise<GossipServiceState>;
  /** `GET /health`: the library's `health()` (an unhealthy node answers 503 with its report). */
  gossipHealth(input: NodeRef): Promise<GossipHealth>;
  /** `GET /debug/sync`: anti-entropy configured, root hash, messages held. */
  gossipSync(input: NodeRef): Promise<GossipSync>;
  /** `POST /admin/leave` (graceful leave); a node that already left counts as done. */
  gossipLeave(input: NodeRef & Effectful): Promise<EffectResult>;
  /**
   * `POST /admin/join {"seeds": [...]}` through the cluster's seeds; a node that already sees every
   * other inventory node as a member counts as done. Fails as `JoinFailed` when no seed takes it,
   * `NodeLeft` when the node left the cluster (memberlist rejoins only after a restart).
   */
  gossipJoin(input: NodeRef & Effectful): Promise<EffectResult & { eager?: number }>;
  /** `POST /admin/rebalance`: the library's `rebalance_peers()` (re-picks the eager set; idempotent by nature). */
  gossipRebalance(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `POST /admin/cache/clear` (the runbook's `plumtree.clear_cache()`): v1 recoveries only; the library has none (501). */
  gossipClearCache(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `POST /admin/sync/enable` (anti-entropy); `supported: false` when the node has no such API (v1 recoveries only: it is configuration in the library). */
  gossipEnableSync(input: NodeRef & Effectful): Promise<EffectResult & { supported: boolean }>;
  /** `systemctl stop|start|restart plumtree` over SSH; stop/start check first, restart runs once per step. */
  gossipService(input: NodeRef & Effectful & { action: 'stop' | 'start' | 'restart' }): Promise<EffectResult>;
  /** `rm -rf <dataDir>/*` or `<cacheDir>/*` (as `find DIR -mindepth 1 -delete`), refused while the service runs. */
  gossipClearDir(input: NodeRef & Effectful & { dir: 'data' | 'cache' }): Promise<EffectResult>;
}
