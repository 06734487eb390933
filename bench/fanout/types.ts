/**
 * What bench/fanout's workflow and activity exchange: one fleet host as the
 * activity needs it (public facts only: the client key travels as a `file:`
 * reference, never its content), and what one restart did.
 *
 * @module
 */

/** One lab fleet host (lab/fleet/fleet.json), as the restart activity reaches it. */
export interface FleetTarget {
  name: string;
  host: string;
  port: number;
  user: string;
  /** The lab client key, as a secret reference (`file:/abs/path`). */
  privateKey: string;
  /** The host's pinned key, "ssh-ed25519 AAAA...". */
  hostKey: string;
}

export interface FleetRestartInput {
  target: FleetTarget;
  /** The command, as an argv array (`systemctl restart app`). */
  argv: string[];
}

export interface FleetRestartResult {
  node: string;
  /** Wall time of the SSH call inside the activity (connect, handshake, command), ms. */
  sshMs: number;
}

/** How the bench's fan-out names its function: `activityCall` (children past the kit's threshold) or a plain closure (all inline). */
export type FanOutForm = 'activityCall' | 'closure';

export interface FanOutBenchParams {
  hosts: FleetTarget[];
  argv: string[];
  concurrency: number;
  /** Default `activityCall`. */
  form?: FanOutForm;
}
