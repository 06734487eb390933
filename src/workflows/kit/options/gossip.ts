/** Activity options of the gossip activities. @module */
import type { ActivityOptions } from '@temporalio/workflow';
import type { GossipActivities } from '../../../activities/types';

export const GOSSIP_OPTIONS: Record<keyof GossipActivities, ActivityOptions> = {};
