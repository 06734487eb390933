/**
 * The simulated ledger cluster's shared model: each node's runtime (process,
 * ports, loaded state, log) and the simulated Raft that the other files of
 * this folder act on: who leads which cluster id, elections, replication to
 * followers, and the node log and effect helpers.
 *
 * @module
 */
import type { Server as HttpServer } from 'node:http';
import { relative, sep } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { EffectLog } from '../effects';
import type { HostControl, ShimResult } from '../family';
import { cloneState, hasData, newClusterId, saveState, type LedgerState } from './state';

export type StartMode = 'single' | 'cluster' | 'join';

/** What the service is configured to run: the last `inferadb-ledger` invocation, rerun by `systemctl start`. */
export interface LaunchConfig {
  mode: StartMode;
  dataDir: string;
  /** INFERADB__LEDGER__CLUSTER (cluster mode). */
  size?: number;
  /** INFERADB__LEDGER__PEERS resolved to node names. */
  peers?: string[];
  listen?: string;
}

/** One ledger node: its machine (root, ports) and its `inferadb-ledger` process. */
export interface NodeRuntime {
  name: string;
  index: number;
  root: string;
  grpcPort: number;
  metricsPort: number;
  running: boolean;
  /** How the running process was started (for "already running in this mode"). */
  startedAs?: StartMode;
  since?: Date;
  state: LedgerState;
  config: LaunchConfig;
  grpcServer?: grpc.Server;
  httpServer?: HttpServer;
  log: string[];
  /** Determinism-bug counters per "org/vault" (process memory, like a Prometheus counter). */
  bugs: Map<string, number>;
  /** Cluster id last seen in each data directory, to notice a data file that vanished between runs. */
  knownData: Map<string, string>;
  lock: Promise<unknown>;
}

export interface LeaderRecord {
  leader: string;
  term: number;
}

const LOG_LINES = 50;

/** A usage error (exit 2), as the ledger's tools answer one. */
export function usage(message: string): ShimResult {
  return { stdout: '', stderr: message.endsWith('\n') ? message : message + '\n', exitCode: 2 };
}

/** A failure with its exit code. */
export function fail(code: number, message: string): ShimResult {
  return { stdout: '', stderr: message + '\n', exitCode: code };
}

/**
 * The nodes of one simulated ledger cluster and its simulated Raft. A cluster
 * id has a leader only while a majority of its configured voters run with
 * that id (elected after `electionMs`); writes go through the leader and are
 * copied to every running member.
 */
export class LedgerCluster {
  readonly nodes = new Map<string, NodeRuntime>();
  readonly leaders = new Map<string, LeaderRecord>();
  readonly elections = new Map<string, NodeJS.Timeout>();
  effects?: EffectLog;
  /** The loaded `ledger.v1` package (./proto), set at start. */
  pkg?: grpc.GrpcObject;
  started = false;
  hostCtl?: HostControl;
  /** Where the lab's "S3" lives: one directory per bucket (seed 002's s3://ledger-backups, s3://ledger-primary-backups). */
  s3Root = '';

  constructor(
    readonly cluster: string,
    readonly nodeNames: string[],
    readonly electionMs: number,
  ) {}

  /** Stops a node's process (ports closed). Records nothing; callers record the effect. */
  async halt(rt: NodeRuntime, why: string): Promise<void> {
    const was = rt.running;
    rt.running = false;
    rt.startedAs = undefined;
    await this.unbind(rt);
    if (was) {
      this.logLine(rt, `shutting down: ${why}`);
      this.reconcile();
    }
  }

  async unbind(rt: NodeRuntime): Promise<void> {
    rt.grpcServer?.forceShutdown();
    rt.grpcServer = undefined;
    const http = rt.httpServer;
    rt.httpServer = undefined;
    if (http) {
      http.closeAllConnections();
      await new Promise<void>((ok) => http.close(() => ok()));
    }
  }

  // --------------------------------------------------------- simulated raft --

  /** The cluster's leader as seen from this node, if its cluster has one. */
  leaderOf(rt: NodeRuntime): string | undefined {
    if (!rt.running || !rt.state.cluster_id) return undefined;
    const rec = this.leaders.get(rt.state.cluster_id);
    // A node the leader no longer counts as a voter (removed by LeaveCluster) follows no one.
    if (!rec || !this.nodes.get(rec.leader)?.state.members.includes(rt.name)) return undefined;
    return rec.leader;
  }

  termOf(rt: NodeRuntime): number {
    return this.leaders.get(rt.state.cluster_id)?.term ?? rt.state.term;
  }

  private majority(members: string[]): number {
    return Math.floor(members.length / 2) + 1;
  }

  /** Votes this node could collect: running members of its cluster that also count it as a voter. */
  votes(rt: NodeRuntime): number {
    if (!rt.running || !rt.state.cluster_id || !rt.state.members.includes(rt.name)) return 0;
    let n = 0;
    for (const name of rt.state.members) {
      const m = this.nodes.get(name);
      if (m?.running && m.state.cluster_id === rt.state.cluster_id && m.state.members.includes(rt.name)) n++;
    }
    return n;
  }

  private hasQuorum(rt: NodeRuntime): boolean {
    return this.votes(rt) >= this.majority(rt.state.members);
  }

  /**
   * Brings the simulated Raft in line with which nodes run: empty nodes adopt
   * their peers' cluster, leaders without a majority step down, clusters that
   * have a majority but no leader schedule an election, and followers catch
   * up with their leader. Synchronous; called after every change.
   */
  reconcile(): void {
    const running = [...this.nodes.values()].filter((rt) => rt.running);

    // Empty nodes in cluster mode adopt the cluster of a peer that counts them as a voter.
    for (const n of running.filter((r) => r.state.mode === 'cluster' && !r.state.cluster_id)) {
      const sources = n.state.members
        .map((name) => this.nodes.get(name))
        .filter((m): m is NodeRuntime => !!m && m !== n && m.running && !!m.state.cluster_id && m.state.mode === 'cluster' && m.state.members.includes(n.name));
      const src = sources.find((m) => this.leaders.get(m.state.cluster_id)?.leader === m.name) ?? sources.sort((a, b) => b.state.commit_index - a.state.commit_index)[0];
      if (src) {
        n.state = this.replicaOf(src.state);
        this.persist(n);
        this.logLine(n, `adopted cluster ${n.state.cluster_id} from ${src.name}; replicated up to commit index ${n.state.commit_index}`);
      }
    }
    // A majority of empty nodes that name each other bootstraps a brand-new (empty) cluster.
    const pending = running.filter((r) => r.state.mode === 'cluster' && !r.state.cluster_id);
    for (const n of pending) {
      if (n.state.cluster_id) continue;
      const group = pending.filter((p) => !p.state.cluster_id && n.state.members.includes(p.name) && p.state.members.includes(n.name));
      if (group.length >= this.majority(n.state.members) && group.every((p) => p.name >= n.name)) {
        const id = newClusterId();
        for (const p of group) {
          p.state.cluster_id = id;
          p.state.members = [...n.state.members];
          this.persist(p);
          this.logLine(p, `bootstrapped new empty cluster ${id} with ${group.map((g) => g.name).join(', ')}`);
        }
      }
    }

    // Leaders without a majority step down.
    for (const [cid, rec] of this.leaders) {
      const l = this.nodes.get(rec.leader);
      if (!l || !l.running || l.state.cluster_id !== cid || !this.hasQuorum(l)) {
        this.leaders.delete(cid);
        for (const m of running) if (m.state.cluster_id === cid) this.logLine(m, `leader ${rec.leader} lost (term ${rec.term}); no quorum`);
      }
    }

    // Clusters with a majority and no leader hold an election after electionMs.
    for (const n of running) {
      const cid = n.state.cluster_id;
      if (cid && !this.leaders.has(cid) && !this.elections.has(cid) && this.hasQuorum(n)) {
        const t = setTimeout(() => {
          this.elections.delete(cid);
          this.elect(cid);
        }, this.electionMs);
        t.unref();
        this.elections.set(cid, t);
      }
    }

    // Followers catch up with their leader (Raft's log replication on reconnect).
    for (const [cid, rec] of this.leaders) {
      const l = this.nodes.get(rec.leader)!;
      for (const m of running) {
        if (m === l || m.state.cluster_id !== cid || !l.state.members.includes(m.name)) continue;
        const behind = m.state.commit_index !== l.state.commit_index || m.state.members.join() !== l.state.members.join() || m.state.term !== rec.term;
        if (behind) {
          const caughtUp = m.state.commit_index !== l.state.commit_index;
          m.state = caughtUp ? this.replicaOf(l.state) : { ...m.state, members: [...l.state.members], term: rec.term };
          this.persist(m);
          if (caughtUp) this.logLine(m, `caught up with leader ${l.name} to commit index ${m.state.commit_index}`);
        }
      }
    }
  }

  private elect(cid: string): void {
    if (!this.started || this.leaders.has(cid)) return;
    const candidates = [...this.nodes.values()]
      .filter((rt) => rt.running && rt.state.cluster_id === cid && this.hasQuorum(rt))
      .sort((a, b) => b.state.commit_index - a.state.commit_index || a.name.localeCompare(b.name));
    const winner = candidates[0];
    if (!winner) return;
    const term = Math.max(...[...this.nodes.values()].filter((rt) => rt.state.cluster_id === cid).map((rt) => rt.state.term)) + 1;
    this.leaders.set(cid, { leader: winner.name, term });
    for (const rt of this.nodes.values()) {
      if (rt.running && rt.state.cluster_id === cid) {
        rt.state.term = term;
        this.persist(rt);
        this.logLine(rt, `term ${term}: ${winner.name} elected leader of cluster ${cid}`);
      }
    }
    this.reconcile();
  }

  /** A copy of `src`'s replicated state (identity, membership, term, vaults, idempotency keys) for another node. */
  replicaOf(src: LedgerState): LedgerState {
    const c = cloneState(src);
    c.mode = 'cluster';
    return c;
  }

  // -------------------------------------------------------------- helpers --

  divergedVaults(rt: NodeRuntime): string[] {
    const out: string[] = [];
    for (const [org, o] of Object.entries(rt.state.organizations)) {
      for (const [slug, v] of Object.entries(o.vaults)) if (v.status === 'DIVERGED') out.push(`${org}/${slug}`);
    }
    return out;
  }

  vaultCount(s: LedgerState): number {
    return Object.values(s.organizations).reduce((n, o) => n + Object.keys(o.vaults).length, 0);
  }

  persist(rt: NodeRuntime): void {
    if (!hasData(rt.state)) return;
    saveState(rt.config.dataDir, rt.state);
    rt.knownData.set(rt.config.dataDir, rt.state.cluster_id);
  }

  /** A path as the host sees it ("/data"), for messages. */
  hostPath(rt: NodeRuntime, p: string): string {
    const r = relative(rt.root, p);
    return '/' + r.split(sep).join('/');
  }

  logLine(rt: NodeRuntime, line: string): void {
    rt.log.push(`${new Date().toISOString()} ${rt.name} inferadb-ledger: ${line}`);
    if (rt.log.length > LOG_LINES) rt.log.splice(0, rt.log.length - LOG_LINES);
  }

  record(node: string, effect: string, detail: Record<string, unknown>): void {
    this.effects?.record({ cluster: this.cluster, node, effect, detail });
  }

  /** Runs one lifecycle operation of a node at a time (shims may arrive concurrently). */
  serial<T>(rt: NodeRuntime, fn: () => Promise<T>): Promise<T> {
    const p = rt.lock.then(fn, fn);
    rt.lock = p.catch(() => undefined);
    return p;
  }

  async waitFor(cond: () => boolean, withinMs: number, what: string): Promise<void> {
    const deadline = Date.now() + withinMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`lab ledger: timed out after ${withinMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
