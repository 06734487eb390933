/**
 * The context of the gossip cluster's activities (seed 003): the shared
 * plumbing and the cluster's settings with their defaults (the runbook's
 * values).
 *
 * @module
 */
import { systemContext, type ActivityContext, type SystemContext } from '../context';

/** Per-cluster settings of a gossip cluster, with their defaults (the runbook's values). */
export const GOSSIP_DEFAULTS = {
  serviceName: 'plumtree',
  dataDir: '/var/lib/plumtree/data',
  /** Empty: `<dataDir>/cache`. */
  cacheDir: '',
  seedPort: 7946,
  /** Empty: the `seed`-role nodes at `seedPort`. */
  seeds: '',
  sudo: false,
  tcpCheckSeconds: 5,
};

/** What the gossip cluster activities work with: the shared plumbing and these settings. */
export type GossipContext = SystemContext<typeof GOSSIP_DEFAULTS>;

/** Narrows the worker's context to the gossip cluster. */
export function gossipContext(base: ActivityContext): GossipContext {
  return systemContext(base, GOSSIP_DEFAULTS);
}
