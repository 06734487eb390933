/**
 * The contract between the lab's core (SSH hosts, effect log, control API,
 * inventory writer) and each simulated system family (ledger, training
 * cluster, later gossip and train-server).
 *
 * @module
 */
import type { EffectLog } from './effects';

/** How the inventory should reach one node of a family (the core adds `ssh`). */
export interface LabNodeEndpoint {
  name: string;
  roles: string[];
  grpc?: { address: string };
  http?: { baseUrl: string; authToken?: string /* secret ref */ };
  metricsUrl?: string;
}

/** A command run on a lab host by one of the shims (systemctl, pgrep, pkill, python, inferadb-ledger...). */
export interface ShimCall {
  node: string;
  /** The shimmed tool's name, e.g. "systemctl". */
  tool: string;
  argv: string[];
  /** Environment of the caller, limited to variables the family cares about (INFERADB__*, LAB_*). */
  env: Record<string, string>;
  /** The host's working directory when the shim ran (absolute path inside the host's root). */
  cwd: string;
  /** The host's root directory (its "/"). */
  root: string;
}

export interface ShimResult {
  stdout: string;
  stderr?: string;
  exitCode: number;
}

export interface NodeHealth {
  node: string;
  /** One word: "up", "down", "collapsed", "no-quorum", "single"... */
  state: string;
  detail?: string;
  /**
   * Where a task of the node's running process panicked, with the message
   * (`memberlist-core-0.7.0/src/state.rs:444: ...`); the process lives on.
   * Families of real processes that can tell (gossip) only.
   */
  panicked?: string;
}

export interface ClusterHealth {
  cluster: string;
  system: string;
  healthy: boolean;
  summary: string;
  nodes: NodeHealth[];
}

/** A family's handle on its nodes' SSH hosts (see lab/ssh-host.ts faults). */
export interface HostControl {
  /** Make a node's SSH host refuse connections (`drop`) or heal it. */
  setOffline(node: string, offline: boolean): void;
  /** Whether the node's admin API refuses credentials now (`host.refuse-api`): its family answers 401 / UNAUTHENTICATED. */
  apiRefused(node: string): boolean;
}

export interface LabFamily {
  /** Inventory system name: "ledger" | "training-cluster" | ... */
  readonly system: string;
  /** Inventory cluster name, e.g. "lab-ledger". */
  readonly cluster: string;
  /** Node names, in order; one SSH host is created per node by the core. */
  readonly nodeNames: string[];
  /** Shimmed tool names this family handles (the core creates executables for them on the hosts). */
  readonly tools: string[];
  /** Fault names this family can inject (scenario ids of the catalogue, e.g. "ledger.quorum-loss"). */
  readonly faults: string[];
  /**
   * Start the family's servers; `hostRoot(node)` gives each node's host directory; `hosts`, when given,
   * lets a family's faults take its own SSH hosts offline (a whole-cluster outage).
   */
  start(ctx: { hostRoot(node: string): string; effects: EffectLog; hosts?: HostControl }): Promise<void>;
  stop(): Promise<void>;
  endpoints(): LabNodeEndpoint[];
  /** Extra `settings` for the inventory cluster entry (data dirs, service names...). */
  settings(): Record<string, string | number | boolean>;
  shim(call: ShimCall): Promise<ShimResult>;
  breakFault(fault: string): Promise<void>;
  health(): Promise<ClusterHealth>;
}
