/**
 * The simulated gossip cluster's shared model: each node's process and
 * membership flags, who sees whom (eager and lazy peers), the persistent
 * state and cache files per host, and the metrics counters' tick; the other
 * files of this folder act on it.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Server as TcpServer, Socket } from 'node:net';
import { join } from 'node:path';
import type { EffectLog } from '../effects';
import type { HostControl } from '../family';

export const RUNBOOK_SEED_PORT = 7946;
export const EAGER_FANOUT = 3;
export const SERVICE = 'plumtree';
export const GOSSIP_DATA_DIR = 'var/lib/plumtree/data';
export const CORRUPT = 'CORRUPT';

export interface Proc {
  pid: number;
  server: Server;
  seed?: TcpServer;
  sockets: Set<Socket>;
}

/** One gossip node: its ports, its process (null when stopped) and its membership state. */
export interface GNode {
  name: string;
  roles: string[];
  port: number;
  seedPort: number;
  proc: Proc | null;
  /** Left the membership (admin/leave) or never rejoined. */
  left: boolean;
  /** Fault: network isolated from every peer. */
  isolated: boolean;
  /** Group id under a partition/split brain; null: none. */
  group: number | null;
  rebalanced: boolean;
  syncEnabled: boolean;
  stateVersion: number;
  stateWasCorrupt: boolean;
  graftFailed: number;
  partitioned: number;
  malformed: number;
  delivered: number;
}

/** The nodes of one simulated gossip cluster, their membership and their persistent files. */
export class GossipCluster {
  readonly token = randomBytes(24).toString('hex');
  hostCtl?: HostControl;
  effects?: EffectLog;
  roots = new Map<string, string>();
  nextPid = 7000 + Math.floor(Math.random() * 20000);
  /** 'partition' | 'split-brain' | null: how the current groups came about. */
  split: 'partition' | 'split-brain' | null = null;

  constructor(
    readonly cluster: string,
    readonly nodes: GNode[],
  ) {}

  /** Whether a and b can talk: both running, joined, not isolated, same group. */
  linked(a: GNode, b: GNode): boolean {
    return a !== b && !!a.proc && !!b.proc && !a.left && !b.left && !a.isolated && !b.isolated && a.group === b.group;
  }

  peersOf(n: GNode): { eager: string[]; lazy: string[]; members: string[] } {
    const peers = this.nodes.filter((x) => this.linked(n, x)).map((x) => x.name);
    return { eager: peers.slice(0, EAGER_FANOUT), lazy: peers.slice(EAGER_FANOUT), members: peers.length ? [n.name, ...peers] : n.left ? [] : [n.name] };
  }

  onTick(): void {
    for (const n of this.nodes) {
      if (!n.stateWasCorrupt) continue;
      if (!this.stateCorrupt(n)) {
        n.stateWasCorrupt = false;
        this.record(n, 'gossip.state-cleared');
      }
    }
    for (const n of this.nodes) {
      if (!n.proc) continue;
      // graft failures: peers it knows about (not left) that are down
      const down = this.nodes.filter((x) => x !== n && !x.proc && !x.left).length;
      if (down > 0 && !n.left && !n.isolated) n.graftFailed += down;
      if (this.split === 'partition' && n.group !== null) n.partitioned += 1;
      if (this.cacheCorrupt(n)) n.malformed += 1;
      if (this.peersOf(n).eager.length > 0) n.delivered += 1;
    }
  }

  rootOf(n: GNode): string {
    const r = this.roots.get(n.name);
    if (!r) throw new Error(`${this.cluster}: not started`);
    return r;
  }

  statePath(n: GNode): string {
    return join(this.rootOf(n), GOSSIP_DATA_DIR, 'state.db');
  }

  cachePath(n: GNode): string {
    return join(this.rootOf(n), GOSSIP_DATA_DIR, 'cache', 'cache.db');
  }

  stateCorrupt(n: GNode): boolean {
    return fileStarts(this.statePath(n), CORRUPT);
  }

  cacheCorrupt(n: GNode): boolean {
    return fileStarts(this.cachePath(n), CORRUPT);
  }

  record(n: GNode, effect: string, detail?: Record<string, unknown>): void {
    this.effects?.record({ cluster: this.cluster, node: n.name, effect, ...(detail ? { detail } : {}) });
  }

  /** Merge the groups: converged state, one component. */
  heal(): void {
    const version = Math.max(...this.nodes.map((x) => x.stateVersion));
    for (const x of this.nodes) {
      x.group = null;
      x.rebalanced = false;
      x.stateVersion = version;
    }
    this.split = null;
  }
}

function fileStarts(path: string, prefix: string): boolean {
  try {
    return existsSync(path) && readFileSync(path, 'utf8').startsWith(prefix);
  } catch {
    return false;
  }
}
