/**
 * The gossip cluster's activities (seed 003), over Lifeboat's control API for
 * memberlist-plumtree 0.1.6 applications ({@link ./wire}, docs/gossip-contract.md),
 * put together for the worker:
 * what nodes report ({@link ./observe}), membership changes
 * ({@link ./membership}), message cache, sync and directories
 * ({@link ./state}) and the service itself ({@link ./service}), built on the
 * node's HTTP API ({@link ./node-api}) and its host over SSH ({@link ./host}).
 *
 * Idempotency: each effect reads the node first (`/debug/peers`, `/metrics`,
 * `systemctl is-active`) and reports `alreadyDone` when the effect is in
 * place; a restart is done once per step (a marker keyed by the workflow and
 * activity ids).
 *
 * @module
 */
import { bindActivities, type ActivityContext } from '../context';
import { gossipContext } from './context';
import { gossipHealth, gossipMalformed, gossipMetrics, gossipPeers, gossipSeedCheck, gossipServiceState, gossipSync } from './observe';
import { gossipJoin, gossipLeave, gossipRebalance } from './membership';
import { gossipClearCache, gossipClearDir, gossipEnableSync } from './state';
import { gossipService } from './service';
import type { GossipActivities } from './types';

export type * from './types';
export { GOSSIP_DEFAULTS, type GossipContext } from './context';
export { METRICS as GOSSIP_METRICS, PLUMTREE_VERSION, ROUTES as GOSSIP_ROUTES } from './wire';

/** The gossip cluster activities of one worker. */
export function gossipActivities(base: ActivityContext): GossipActivities {
  return bindActivities(gossipContext(base), {
    gossipPeers,
    gossipMetrics,
    gossipMalformed,
    gossipSeedCheck,
    gossipServiceState,
    gossipHealth,
    gossipSync,
    gossipLeave,
    gossipJoin,
    gossipRebalance,
    gossipClearCache,
    gossipEnableSync,
    gossipService,
    gossipClearDir,
  });
}
