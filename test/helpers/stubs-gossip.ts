/**
 * Default stubs of the gossip activities for workflow-logic tests (see ./stubs).
 */
import type { GossipActivities } from '../../src/activities/types';
import type { PlanOf } from './stubs';

/** Names of the gossip activities that have an effect on the target. */
export const GOSSIP_EFFECTS: string[] = [];

export function gossipStubs(_plan: PlanOf): GossipActivities {
  return {};
}
