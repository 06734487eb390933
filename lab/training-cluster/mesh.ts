/**
 * The simulated training cluster's P2P mesh, the shared model the other
 * files of this folder act on: each node's orchestrator process, who is in
 * the mesh (running, hearing heartbeats, booted for `bootMs`), the leader
 * and its election, and the outage's offline hosts.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { EffectLog } from '../effects';
import type { HostControl } from '../family';

/** The port the runbook's commands use on every node (`curl http://localhost:8770/...`). */
export const RUNBOOK_P2P_PORT = 8770;
/** A start that follows a stop within this window counts as one restart. */
export const RESTART_WINDOW_MS = 10_000;
export const SERVICE = 'ringrift-p2p-orchestrator';
/** How long a forced leader that is not the coordinator keeps the lead (the real one gives it up within seconds). */
export const FORCED_LEAD_MS = 5_000;

export interface Proc {
  pid: number;
  startedAt: number;
  /** False once the mesh collapsed under this process: it runs but hears no heartbeats. */
  hearing: boolean;
  server: Server;
}

/** One training node: its roles, its HTTP port and its orchestrator process (null when stopped). */
export interface NodeState {
  name: string;
  roles: string[];
  port: number;
  proc: Proc | null;
  lastStopAt?: number;
}

/**
 * The nodes of the training cluster and their mesh: a running orchestrator
 * that hears heartbeats joins the mesh once it has been up for `bootMs`;
 * when a majority of the voters is in the mesh they elect a leader (the
 * coordinator if it is in, else the first voter in).
 */
export class TrainingMesh {
  readonly token = randomBytes(24).toString('hex');
  effects?: EffectLog;
  hostCtl?: HostControl;
  leader: string | null = null;
  /** After a leader failure, voters wait for an operator (reset / set-leader). */
  electionBlocked = false;
  /** A crashed leader the followers still report (`leader_id`) until an election reset or their peer timeout. */
  staleLeader: string | null = null;
  /** A forced leader that is not the coordinator, and when it gives the lead up. */
  forced?: { node: string; until: number };
  /** Peers retired by the mesh (a dead peer after the retire timeout; `POST /admin/unretire` takes it back). */
  readonly retired = new Set<string>();
  nextPid = 4000 + Math.floor(Math.random() * 20000);
  /** The outage's offline hosts, and its rejoin timers while it lasts. */
  readonly offline = new Set<string>();
  outage?: { rejoining: boolean; timers: NodeJS.Timeout[] };

  constructor(
    readonly cluster: string,
    readonly nodes: NodeState[],
    readonly bootMs: number,
    readonly outageReturnMs: number,
    readonly rejoinEveryMs: number,
  ) {}

  inMesh(n: NodeState, now = Date.now()): boolean {
    return !!n.proc && n.proc.hearing && now - n.proc.startedAt >= this.bootMs;
  }

  /**
   * Re-derive the leader from who is in the mesh; called on a short timer and before every read.
   * As on the real orchestrator (RingRift 2aa9f89b5), only the coordinator is ever elected
   * (RINGRIFT_IS_COORDINATOR), given a quorum of voters; a forced leader that is not the
   * coordinator gives the lead up within seconds.
   */
  evaluate(): void {
    const now = Date.now();
    const current = this.nodes.find((n) => n.name === this.leader);
    if (current && !this.inMesh(current, now)) this.leader = null;
    if (this.forced && (now >= this.forced.until || this.leader !== this.forced.node)) {
      if (this.leader === this.forced.node) this.leader = null;
      this.forced = undefined;
    }
    if (this.leader || this.electionBlocked) return;
    const voters = this.nodes.filter((n) => n.roles.includes('voter'));
    const present = voters.filter((n) => this.inMesh(n, now));
    if (present.length * 2 <= voters.length) return; // no quorum of voters
    const coordinator = present.find((n) => n.roles.includes('coordinator'));
    if (!coordinator) return; // the coordinator role is pinned: nobody else is elected
    this.leader = coordinator.name;
    this.staleLeader = null;
  }

  record(n: NodeState, effect: string, detail?: Record<string, unknown>): void {
    this.effects?.record({ cluster: this.cluster, node: n.name, effect, detail });
  }

  setOffline(node: string, offline: boolean): void {
    if (offline) this.offline.add(node);
    else this.offline.delete(node);
    this.hostCtl?.setOffline(node, offline);
  }
}
