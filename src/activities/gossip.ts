/**
 * The gossip cluster (seed 003) activities.
 *
 * @module
 */
import type { ActivityContext } from './context';
import type { GossipActivities } from './types-gossip';

/** The gossip activities of one worker. */
export function gossipActivities(_ctx: ActivityContext): GossipActivities {
  return {};
}
