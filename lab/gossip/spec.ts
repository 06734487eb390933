/**
 * What both backends of the gossip family share: the nodes (names, roles,
 * ports, memberlist addresses, host directories), the service and the
 * directories the runbook names, and the rules of the effect log.
 *
 * @module
 */
import { join } from 'node:path';

/** The runbook's memberlist port (`nc -zv seed1 7946`). */
export const RUNBOOK_SEED_PORT = 7946;
/** The eager fanout of the lab's nodes (memberlist-plumtree's LAN default). */
export const EAGER_FANOUT = 3;
export const SERVICE = 'plumtree';
/** The data directory, relative to a host's root (the inventory's `settings.dataDir`). */
export const GOSSIP_DATA_DIR = 'var/lib/plumtree/data';
/** The message store, inside the data directory (the inventory's `settings.cacheDir`). */
export const GOSSIP_CACHE_DIR = `${GOSSIP_DATA_DIR}/cache`;

/** One node of the lab's gossip cluster. */
export interface GossipNodeSpec {
  name: string;
  roles: string[];
  seed: boolean;
  /** The host's root directory (its "/"), set at start. */
  root: string;
  /** The control API's port on 127.0.0.1 (kept across restarts). */
  httpPort: number;
  /** memberlist's address as the other nodes reach it (`ip:port`), set by the backend. */
  addr: string;
}

export const dataDirOf = (n: GossipNodeSpec): string => join(n.root, GOSSIP_DATA_DIR);
export const cacheDirOf = (n: GossipNodeSpec): string => join(n.root, GOSSIP_CACHE_DIR);

/**
 * What an admin call does to the effect log: a join and a rebalance are
 * recorded whenever the node accepted them, a leave only when it left by
 * that call (a second leave changes nothing).
 */
export function adminEffect(action: string, changed: boolean): string | undefined {
  if (action === 'join' || action === 'rebalance') return `gossip.${action}`;
  if (action === 'leave' && changed) return 'gossip.leave';
  return undefined;
}
