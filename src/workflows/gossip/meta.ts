/**
 * Scenario metadata of the gossip cluster (seed 003).
 *
 * Titles describe today's procedures on memberlist-plumtree 0.1.6 (the v1
 * metadata is frozen in ./legacy/meta.ts).
 *
 * RTO: seed 003 gives no recovery-time figure per scenario (only "allow 2-5
 * minutes for convergence" after a partition); the targets below are
 * Lifeboat's own, sized from the runbook's waits and the work each recovery
 * does, not the seed's.
 *
 * @module
 */
import type { ScenarioMeta } from '../scenario-meta';

export const GOSSIP_ISOLATED_NODE: ScenarioMeta = {
  id: 'gossip.isolated-node',
  workflowType: 'gossipIsolatedNode',
  system: 'gossip',
  title: 'Gossip isolated node: check the seeds, rejoin through them, else restart plumtree',
  seed: '003 Isolated Node',
  rto: { targetMinutes: 10, maxMinutes: 20 },
  dangerousGates: [],
};

export const GOSSIP_PARTITION: ScenarioMeta = {
  id: 'gossip.partition',
  workflowType: 'gossipPartition',
  system: 'gossip',
  title: 'Gossip network partition: find the components, wait for plumtree to reconnect, else force a rejoin and rebalance',
  seed: '003 Network Partition',
  rto: { targetMinutes: 10, maxMinutes: 30 },
  dangerousGates: ['forced-rebalance'],
};

export const GOSSIP_MULTI_NODE_FAILURE: ScenarioMeta = {
  id: 'gossip.multi-node-failure',
  workflowType: 'gossipMultiNodeFailure',
  system: 'gossip',
  title: 'Gossip multiple node failure: a surviving majority self-heals; a minority needs a coordinated restart',
  seed: '003 Multiple Node Failure',
  rto: { targetMinutes: 30, maxMinutes: 60 },
  dangerousGates: ['coordinated-restart'],
};

export const GOSSIP_TOTAL_LOSS: ScenarioMeta = {
  id: 'gossip.total-loss',
  workflowType: 'gossipTotalLoss',
  system: 'gossip',
  title: 'Gossip total cluster loss: stop all, clear persistent state, seeds first, then the rest staggered',
  seed: '003 Total Cluster Loss',
  rto: { targetMinutes: 30, maxMinutes: 60 },
  dangerousGates: ['clear-persistent-state'],
};

export const GOSSIP_CACHE_CORRUPTION: ScenarioMeta = {
  id: 'gossip.cache-corruption',
  workflowType: 'gossipCacheCorruption',
  system: 'gossip',
  title: 'Gossip message cache corruption: restart the affected nodes, else clear their persistent message store',
  seed: '003 Message Cache Corruption',
  rto: { targetMinutes: 15, maxMinutes: 30 },
  dangerousGates: ['clear-storage'],
};

export const GOSSIP_SPLIT_BRAIN: ScenarioMeta = {
  id: 'gossip.split-brain',
  workflowType: 'gossipSplitBrain',
  system: 'gossip',
  title: 'Gossip split brain with data divergence: heal the membership, anti-entropy until one root hash',
  seed: '003 Split Brain with Data Divergence',
  rto: { targetMinutes: 30, maxMinutes: 60 },
  dangerousGates: [],
};

export const GOSSIP_METAS: readonly ScenarioMeta[] = [
  GOSSIP_ISOLATED_NODE,
  GOSSIP_PARTITION,
  GOSSIP_MULTI_NODE_FAILURE,
  GOSSIP_TOTAL_LOSS,
  GOSSIP_CACHE_CORRUPTION,
  GOSSIP_SPLIT_BRAIN,
];
