/**
 * What the ledger family needs from whatever runs its nodes: the simulation
 * (./sim) or real `inferadb-ledger` processes (./real). The family's shims,
 * seed and faults speak only this interface and gRPC, so the same code
 * drives both.
 *
 * @module
 */
import type { ShimResult } from '../family';
import type { LedgerUnit } from './units';

export type LedgerBackendKind = 'sim' | 'real';

/** A node's process as `systemctl status` shows it. */
export interface ProcessInfo {
  pid?: number;
  since?: Date;
  /** Why the last process ended, when it ended on its own (exit code or signal). */
  exited?: string;
  /** The last lines of its log. */
  log: string[];
}

export interface LedgerBackend {
  readonly kind: LedgerBackendKind;
  /** Before any start: clean what a crashed earlier lab left behind (processes of these units). */
  prepare(units: LedgerUnit[]): Promise<void>;
  /** Whether the node's ledger process runs. */
  running(node: string): boolean;
  /** Starts the unit's process; resolves once it runs, throws with the reason when it cannot start. */
  start(unit: LedgerUnit): Promise<void>;
  /**
   * Ends the node's process: `SIGKILL` at once (a crash, a fault), or
   * `SIGTERM` (systemctl stop: the server drains, SIGKILL after 35 s).
   * Resolves when it is gone; a stopped node is a no-op.
   */
  stop(node: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** `inferadb-ledger <argv>` as a command (init, --version...), run on the node's host. */
  cli(node: string, argv: string[]): Promise<ShimResult>;
  describe(node: string): ProcessInfo;
  /** Kills every process this backend started. Idempotent. */
  shutdown(): Promise<void>;
}
