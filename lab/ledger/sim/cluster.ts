/**
 * The simulated consensus of the lab's ledger nodes: who leads the GLOBAL
 * (control-plane) group and each data region of a cluster, when a new
 * leader is elected, who may join, and how a committed change reaches the
 * members. It mirrors what the real server (inferadb-ledger 0.1.0) does, as
 * far as Lifeboat can see it:
 *
 * - a fresh node serves uninitialized; `init` makes it a one-node cluster
 *   and its GLOBAL leader; a fresh node polls its `--join` seeds every
 *   `joinPollMs` and joins as a voter through the first initialized seed that
 *   is the GLOBAL leader, receiving the current state;
 * - the GLOBAL leader and a region's leader can be different nodes (the
 *   region leader is another member when there is one);
 * - when a leader dies, the survivors keep naming it; with a majority
 *   left, a new one is elected after `electionMs`; without, never;
 * - a node restarted on its old data (cluster_id present) is "stale": it is
 *   listed again but never catches up and never leads, and shows no
 *   leader; if every running member of a cluster is stale, they elect a
 *   leader among themselves that cannot commit anything.
 *
 * @module
 */
import type { Server as HttpServer } from 'node:http';
import type * as grpc from '@grpc/grpc-js';
import type { EffectLog } from '../../effects';
import type { HostControl } from '../../family';
import type { LedgerUnit } from '../units';
import { cloneReplica, saveReplica, writeIdFile, type Replica } from './model';

/** How fast the simulated server reacts. Defaults are a few seconds, where the real one takes up to minutes. */
export interface SimTimings {
  /** A new leader, after the old one died with a majority left. */
  electionMs: number;
  /** A fresh node's seed polling period. */
  joinPollMs: number;
  /** From CreateOrganization (PROVISIONING) to ACTIVE. */
  orgActiveMs: number;
  /** CompleteRegistration's saga. */
  registrationMs: number;
  /** How long a proposal without quorum waits before DEADLINE_EXCEEDED. */
  proposalTimeoutMs: number;
  /** A diverged vault turns recovering (auto-recovery, attempt 1) after this... */
  recoverAfterMs: number;
  /** ...and healthy after this (both from the divergence). */
  healAfterMs: number;
  /** A fresh node never initialized exits after this (`--init-wait-timeout`, 600 s). */
  initWaitMs: number;
}

export const DEFAULT_TIMINGS: SimTimings = {
  electionMs: 3000,
  joinPollMs: 1000,
  orgActiveMs: 1500,
  registrationMs: 300,
  proposalTimeoutMs: 3000,
  recoverAfterMs: 4000,
  healAfterMs: 12_000,
  initWaitMs: 600_000,
};

/** A node's Prometheus series (process memory, as the real ones: a restart resets them). */
export interface NodeMetrics {
  requests: Map<string, number>;
  quorumStatus?: number;
  determinismBugs: number;
  recoverySuccess: number;
  recoveryAttempts: Map<string, number>;
  /** ledger_vault_health{state}: set to 1 per state seen, never reset (as observed on the real server). */
  vaultHealth: Map<string, number>;
  /** Set once a divergence touched this node: ledger_vault_health is exported from then on. */
  vaultHealthSeen: boolean;
}

/** One lab node: its unit, its process (when running) and what it holds. */
export interface SimNode {
  name: string;
  unit: LedgerUnit;
  running: boolean;
  /** Restarted on old data: never catches up (see the module docs). */
  stale: boolean;
  /** '' until its first start. */
  nodeId: string;
  r: Replica;
  since?: Date;
  exited?: string;
  log: string[];
  metrics: NodeMetrics;
  timers: Set<NodeJS.Timeout>;
  server?: grpc.Server;
  http?: HttpServer;
}

interface Group {
  leader: string;
  regionLeaders: Record<string, string>;
  term: number;
  /** False when only stale nodes run: a leader is shown but nothing commits. */
  writable: boolean;
  election?: NodeJS.Timeout;
}

export function newMetrics(): NodeMetrics {
  return { requests: new Map(), determinismBugs: 0, recoverySuccess: 0, recoveryAttempts: new Map(), vaultHealth: new Map(), vaultHealthSeen: false };
}

export class SimCluster {
  readonly nodes = new Map<string, SimNode>();
  private readonly groups = new Map<string, Group>();
  /** Divergence recovery timers, by `clusterId/org/vault`. */
  readonly recoveries = new Map<string, NodeJS.Timeout[]>();
  effects?: EffectLog;
  hostCtl?: HostControl;

  constructor(
    readonly cluster: string,
    readonly t: SimTimings,
  ) {}

  byId(id: string): SimNode | undefined {
    if (!id || id === '0') return undefined;
    for (const n of this.nodes.values()) if (n.nodeId === id) return n;
    return undefined;
  }

  byAddress(address: string): SimNode | undefined {
    for (const n of this.nodes.values()) if (n.unit.listen === address) return n;
    return undefined;
  }

  /** A running node of this cluster id that holds the id `id`. */
  alive(id: string, cid: string): SimNode | undefined {
    const n = this.byId(id);
    return n?.running && n.r.clusterId === cid ? n : undefined;
  }

  group(cid: string): Group {
    let g = this.groups.get(cid);
    if (!g) {
      g = { leader: '', regionLeaders: {}, term: 1, writable: true };
      this.groups.set(cid, g);
    }
    return g;
  }

  /** The members of a cluster, from a member that keeps up (else from any node that has it). */
  members(cid: string): string[] {
    const nodes = [...this.nodes.values()].filter((n) => n.r.clusterId === cid);
    const best = nodes.find((n) => n.running && !n.stale) ?? nodes.find((n) => n.running) ?? nodes[0];
    return (best?.r.members ?? []).map((m) => m.id);
  }

  address(cid: string, id: string): string {
    for (const n of this.nodes.values()) {
      const m = n.r.clusterId === cid ? n.r.members.find((x) => x.id === id) : undefined;
      if (m) return m.address;
    }
    return this.byId(id)?.unit.listen ?? '';
  }

  majority(cid: string): number {
    return Math.floor(this.members(cid).length / 2) + 1;
  }

  /** Running members (stale ones count: they answer and vote). */
  reachable(cid: string): SimNode[] {
    return this.members(cid)
      .map((id) => this.alive(id, cid))
      .filter((n): n is SimNode => !!n);
  }

  hasQuorum(cid: string): boolean {
    return this.reachable(cid).length >= this.majority(cid);
  }

  /** The GLOBAL leader's id as node `n` sees it ('' for none). */
  leaderView(n: SimNode): string {
    if (!n.r.clusterId) return n.nodeId; // uninitialized: itself, sole voter
    const g = this.group(n.r.clusterId);
    if (n.stale && g.writable) return '';
    return g.leader;
  }

  /** The live GLOBAL leader of `n`'s cluster, when there is one that can act. */
  liveLeader(cid: string): SimNode | undefined {
    const g = this.group(cid);
    const l = this.alive(g.leader, cid);
    return l && (!l.stale || !g.writable) ? l : undefined;
  }

  regionLeaderId(cid: string, region: string): string {
    return this.group(cid).regionLeaders[region] ?? '';
  }

  /** Whether the cluster can commit now (a writable group with a majority running). */
  canCommit(cid: string): boolean {
    return this.group(cid).writable && this.hasQuorum(cid);
  }

  /**
   * Commits a change: applied, in the same way, to every running member
   * that keeps up, then persisted. Callers check {@link canCommit} first.
   */
  commit(cid: string, change: (r: Replica) => void): void {
    for (const n of this.reachable(cid)) {
      if (n.stale) continue;
      change(n.r);
      this.persist(n);
    }
  }

  persist(n: SimNode): void {
    if (n.r.clusterId) saveReplica(n.unit.data, n.r);
  }

  /** `inferadb-ledger init` on a fresh node: a new one-node cluster that it leads. */
  initialize(n: SimNode, clusterId: string): void {
    n.r.clusterId = clusterId;
    n.r.members = [{ id: n.nodeId, address: n.unit.listen }];
    n.r.term = 1;
    writeIdFile(n.unit.data, 'cluster_id', clusterId);
    this.persist(n);
    const g = this.group(clusterId);
    g.leader = n.nodeId;
    g.term = 1;
    g.writable = true;
    this.logLine(n, `cluster initialized: cluster_id=${clusterId}; this node leads GLOBAL`);
    this.stopJoining(n);
  }

  /** One round of a fresh node's seed polling: join through the first initialized seed that leads GLOBAL. */
  pollSeeds(n: SimNode): boolean {
    if (!n.running || n.r.clusterId) return true;
    for (const address of n.unit.join) {
      const seed = this.byAddress(address);
      if (!seed || seed === n || !seed.running || !seed.r.clusterId) continue;
      const cid = seed.r.clusterId;
      // JoinCluster on a follower answers "Not the leader"; the poller moves on to the next seed.
      if (this.liveLeader(cid) !== seed || seed.stale || !this.canCommit(cid)) continue;
      this.commit(cid, (r) => {
        r.members = [...r.members.filter((m) => m.id !== n.nodeId), { id: n.nodeId, address: n.unit.listen }];
        r.index += 1;
      });
      n.r = cloneReplica(seed.r);
      writeIdFile(n.unit.data, 'cluster_id', cid);
      this.persist(n);
      this.logLine(n, `joined cluster ${cid} through seed ${address} as a voter; caught up to index ${n.r.index}`);
      this.logLine(seed, `node ${n.nodeId} (${n.unit.listen}) joined as a voter`);
      this.stopJoining(n);
      this.reconcile();
      return true;
    }
    return false;
  }

  private stopJoining(n: SimNode): void {
    for (const t of n.timers) clearTimeout(t);
    n.timers.clear();
  }

  /**
   * After any change of who runs or who is a member: schedules an election
   * where a leader is gone and a majority runs. Survivors keep naming the
   * dead leader until then (and for ever without a majority).
   */
  reconcile(): void {
    const cids = new Set([...this.nodes.values()].filter((n) => n.running && n.r.clusterId).map((n) => n.r.clusterId));
    for (const cid of cids) {
      const g = this.group(cid);
      const running = this.reachable(cid);
      const fresh = running.filter((n) => !n.stale);
      // Once a node that keeps up runs again, a leader elected among stale nodes no longer stands.
      if (!g.writable && fresh.length) g.writable = true;
      const leaderOk = (id: string): boolean => {
        const l = this.alive(id, cid);
        return !!l && (!l.stale || !g.writable);
      };
      const regionsOk = Object.values(g.regionLeaders).every(leaderOk);
      if (leaderOk(g.leader) && regionsOk) continue;
      if (g.election || running.length < this.majority(cid)) continue;
      const t = setTimeout(() => {
        g.election = undefined;
        this.elect(cid);
      }, this.t.electionMs);
      t.unref();
      g.election = t;
    }
  }

  private elect(cid: string): void {
    const g = this.group(cid);
    const running = this.reachable(cid);
    if (running.length < this.majority(cid)) return;
    const fresh = running.filter((n) => !n.stale);
    g.writable = fresh.length > 0;
    const candidates = g.writable ? fresh : running;
    const ok = (id: string): boolean => candidates.some((n) => n.nodeId === id);
    let changed = false;
    if (!ok(g.leader)) {
      g.leader = (candidates.find((n) => n.nodeId !== g.leader) ?? candidates[0])!.nodeId;
      changed = true;
    }
    for (const region of Object.keys(g.regionLeaders)) {
      if (ok(g.regionLeaders[region]!)) continue;
      g.regionLeaders[region] = this.pickRegionLeader(candidates, g.leader);
      changed = true;
    }
    if (!changed) return;
    g.term += 1;
    for (const n of running) {
      n.r.term = g.term;
      if (!n.stale) this.persist(n);
      this.logLine(n, `term ${g.term}: GLOBAL leader ${g.leader}; region leaders ${JSON.stringify(g.regionLeaders)}`);
    }
    this.reconcile();
  }

  /** A region's leader: another member than the GLOBAL leader when there is one (the real server often does so). */
  pickRegionLeader(candidates: SimNode[], globalLeader: string): string {
    const sorted = [...candidates].sort((a, b) => (BigInt(a.nodeId) < BigInt(b.nodeId) ? -1 : 1));
    return (sorted.find((n) => n.nodeId !== globalLeader) ?? sorted[0])!.nodeId;
  }

  /** Sets the region's leader when a region is provisioned. */
  provisionRegion(cid: string, region: string): void {
    const g = this.group(cid);
    if (g.regionLeaders[region]) return;
    g.regionLeaders[region] = this.pickRegionLeader(
      this.reachable(cid).filter((n) => !n.stale),
      g.leader,
    );
  }

  /** TransferLeadership: the GLOBAL group only. */
  transferLeadership(cid: string, to: string): void {
    const g = this.group(cid);
    g.leader = to;
    g.term += 1;
    for (const n of this.reachable(cid)) {
      n.r.term = g.term;
      this.logLine(n, `term ${g.term}: leadership transferred to ${to}`);
    }
  }

  /** After LeaveCluster: a removed member's groups elect again if it led them. */
  removed(cid: string, id: string): void {
    const g = this.group(cid);
    for (const [region, l] of Object.entries(g.regionLeaders)) if (l === id) g.regionLeaders[region] = '';
    if (g.leader === id) g.leader = '';
    this.reconcile();
  }

  logLine(n: SimNode, line: string): void {
    n.log.push(`${new Date().toISOString()} ${n.name} inferadb-ledger[sim]: ${line}`);
    if (n.log.length > 50) n.log.splice(0, n.log.length - 50);
  }

  record(node: string, effect: string, detail: Record<string, unknown>): void {
    this.effects?.record({ cluster: this.cluster, node, effect, detail });
  }

  /** Stops every timer (lab shutdown). */
  clearTimers(): void {
    for (const g of this.groups.values()) if (g.election) clearTimeout(g.election);
    for (const ts of this.recoveries.values()) ts.forEach(clearTimeout);
    this.recoveries.clear();
    for (const n of this.nodes.values()) this.stopJoining(n);
  }
}
