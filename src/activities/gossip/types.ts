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
  /** `POST /admin/leave` (graceful leave); a node that already left counts as done. */
  gossipLeave(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `POST /admin/join {"seeds": [...]}` through the cluster's seeds; a node with eager peers counts as done. Fails as `JoinFailed` when no seed takes it. */
  gossipJoin(input: NodeRef & Effectful): Promise<EffectResult & { eager?: number }>;
  /** `POST /admin/rebalance` (the runbook's `plumtree.rebalance_peers()`); a node that sees every member counts as done. */
  gossipRebalance(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `POST /admin/cache/clear` (the runbook's `plumtree.clear_cache()`). */
  gossipClearCache(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `POST /admin/sync/enable` (anti-entropy); `supported: false` when the node has no such API. */
  gossipEnableSync(input: NodeRef & Effectful): Promise<EffectResult & { supported: boolean }>;
  /** `systemctl stop|start|restart plumtree` over SSH; stop/start check first, restart runs once per step. */
  gossipService(input: NodeRef & Effectful & { action: 'stop' | 'start' | 'restart' }): Promise<EffectResult>;
  /** `rm -rf <dataDir>/*` or `<cacheDir>/*` (as `find DIR -mindepth 1 -delete`), refused while the service runs. */
  gossipClearDir(input: NodeRef & Effectful & { dir: 'data' | 'cache' }): Promise<EffectResult>;
}
