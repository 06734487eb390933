/**
 * What the gossip family needs from whatever runs its nodes: the simulation
 * (./sim) or real `plumtree-node` processes, each in its own network
 * namespace (./real). The family's shims, faults and health speak only this
 * interface and the nodes' HTTP control API, so the same code drives both.
 *
 * @module
 */
import type { GossipNodeSpec } from './spec';

export type GossipBackendKind = 'sim' | 'real';

/** A node's process as `systemctl status` shows it. */
export interface GossipProcessInfo {
  pid?: number;
  since?: Date;
  /** Why the last process ended, when it ended on its own or was killed. */
  exited?: string;
  /** The unit brings the process back by itself soon (systemd's `activating (auto-restart)`). */
  restarting?: boolean;
  /** Automatic restarts of the unit since the lab started it (systemd's restart counter). */
  restarts?: number;
  /** The last lines of its log. */
  log: string[];
  /**
   * Where a task of the running process panicked, with the panic's message
   * (`memberlist-core-0.7.0/src/state.rs:444: index out of bounds: ...`):
   * the process lives on, its membership state no longer trusted
   * (docs/gossip.md). Real nodes only.
   */
  panicked?: string;
}

export interface GossipBackend {
  readonly kind: GossipBackendKind;
  /**
   * Before any start: clean what a crashed earlier lab left behind, build
   * the network, and give each node its memberlist address (`node.addr`).
   * `token` is the admin token file the nodes read.
   */
  prepare(nodes: GossipNodeSpec[], tokenFile: string): Promise<void>;
  /** Whether the node's process runs. */
  running(node: string): boolean;
  /** Starts the node; resolves once its API answers, throws with the reason when it cannot start (a corrupted store). */
  start(node: string): Promise<void>;
  /** Ends the node's process: `SIGKILL` at once (a crash), or `SIGTERM` (a graceful leave first). */
  stop(node: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  describe(node: string): GossipProcessInfo;
  /** Pulls the node's cable: nothing reaches it or leaves it (its API on 127.0.0.1 still answers). */
  cut(node: string): Promise<void>;
  /** Splits the switch: nodes of different groups cannot reach each other. */
  split(groups: string[][]): Promise<void>;
  /** Every link back as it was. */
  heal(): Promise<void>;
  /** Whether the node's link is cut now (for the seed check of the simulation). */
  isCut(node: string): boolean;
  /** argv that runs a command inside the node's network (the real backend's namespace). */
  inNetwork(node: string, argv: string[]): string[];
  /** Damages the node's persistent message store on disk (the node must be stopped). */
  corruptStore(node: string): void;
  /**
   * How long after the nodes stopped seeing each other memberlist still
   * gossips to the nodes it declared dead (after that, a healed link does
   * not merge them back).
   */
  readonly deadTimeMs: number;
  /** Kills every process, removes every namespace. Idempotent. */
  shutdown(): Promise<void>;
}

/** Called for every admin call a node accepted (`join`, `leave`, `rebalance`). */
export type AdminListener = (node: string, action: string, changed: boolean) => void;
