/** Activity options of the gossip activities (seed 003). @module */
import type { ActivityOptions } from '@temporalio/workflow';
import type { GossipActivities } from '../../../activities/types';
import { EFFECT, READ } from './policies';

export const GOSSIP_OPTIONS: Record<keyof GossipActivities, ActivityOptions> = {
  gossipPeers: READ,
  gossipMetrics: READ,
  // Two metric reads 1.5 s apart plus /health.
  gossipMalformed: { ...READ, startToCloseTimeout: '45s' },
  // One TCP probe per seed over SSH, each bounded by tcpCheckSeconds.
  gossipSeedCheck: { ...READ, startToCloseTimeout: '2m', heartbeatTimeout: '30s' },
  gossipServiceState: READ,
  gossipHealth: READ,
  gossipSync: READ,
  gossipLeave: EFFECT,
  gossipJoin: EFFECT,
  gossipRebalance: EFFECT,
  gossipClearCache: EFFECT,
  gossipEnableSync: EFFECT,
  gossipService: EFFECT,
  gossipClearDir: { ...EFFECT, startToCloseTimeout: '15m' },
};
