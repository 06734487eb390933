/**
 * The ledger family as the lab core sees it ({@link LabFamily}): options,
 * start and stop, endpoints and inventory settings, the shim and fault entry
 * points, health, and the region control the DR region uses.
 *
 * @module
 */
import { mkdirSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { EffectLog } from '../effects';
import type { ClusterHealth, HostControl, LabFamily, LabNodeEndpoint, NodeHealth, ShimCall, ShimResult } from '../family';
import { LedgerCluster } from './cluster';
import { inferadbLedger, SERVICE_UNIT, systemctl } from './commands';
import { breakFault, LEDGER_FAULTS } from './faults';
import { emptyDir, launch } from './lifecycle';
import { loadLedgerPackage } from './proto';
import { aws, BUCKET, labS3Root, writeBackup } from './s3';
import { emptyState, hasData, newClusterId, saveState, seedState, STATE_FILE, type LedgerState } from './state';

/** Constructor options of {@link LedgerFamily}. */
export interface LedgerFamilyOptions {
  /** Inventory cluster name; default "lab-ledger". */
  cluster?: string;
  /** Number of voters, named node1..nodeN; default 3. */
  nodes?: number;
  /** First gRPC port (node i gets basePort+i, its metrics basePort+100+i); 0 (default) = ephemeral ports, fixed at start. */
  basePort?: number;
  /** How long a cluster that (re)gains a majority waits before it has a leader; default 500 ms. */
  electionMs?: number;
  /** Node names are `<prefix>1..N`; default "node". */
  nodePrefix?: string;
  /**
   * A standby cluster (the DR region): the machines are provisioned and reachable over SSH,
   * but the ledger does not run and the data directories are empty until someone starts it.
   * No backup is written and no leader is waited for. Default false.
   */
  standby?: boolean;
}

/**
 * The simulated inferadb ledger cluster.
 *
 * Faults: `ledger.quorum-loss` (every node but node1 stops and loses its
 * data; node1 keeps running without quorum), `ledger.node-failure` (the last
 * node stops and loses its data; quorum holds), `ledger.vault-divergence`
 * (a follower's "payments" vault gets an altered block and status DIVERGED).
 *
 * Effects recorded (cluster, node, effect, detail), only for real changes:
 * `ledger.start` {mode, clusterId, dataDir, via}, `ledger.stop` {mode, via},
 * `ledger.leave` (node = the member removed) {via, clusterId},
 * `ledger.write` {organization, vault, height, leader, idempotencyKey},
 * `ledger.recover-vault`, `ledger.snapshot`, `ledger.split-brain-refused`
 * {ownClusterId, peerClusterId, peer}, `ledger.data-cleared` (a node started
 * and found the data file it last ran with gone, not by a lab fault).
 * Stopping a stopped service or starting a running one is a no-op that
 * records nothing; the lab's own start and faults record nothing either.
 *
 * Backups: `s3://ledger-backups/latest/snapshot.tar.gz` (a real tar.gz of the
 * seeded data directory, written at start) lives in `<lab>/s3/ledger-backups`,
 * read over SSH through the `aws s3 ls|cp|sync` shim (every directory of
 * `<lab>/s3` is a bucket; the DR region adds `ledger-primary-backups`; a sync
 * that copied files records `ledger.dr-sync`). Fault `ledger.full-restore`
 * loses every machine and its data; only the bucket remains.
 *
 * Standby (`standby: true`, the DR region of ./dr): machines and
 * ports provisioned, data directories empty, nothing running until an
 * `inferadb-ledger` start; `regionDown()` stops every node of a cluster
 * without touching its disks (the regional-failover fault).
 *
 * Shims: `systemctl {start|stop|restart|is-active|status} ledger[.service]`
 * (is-active/status exit 3 when stopped; unknown verbs, units or flags exit
 * 2). `inferadb-ledger [--single] [--data DIR]` with INFERADB__LEDGER__{DATA,
 * CLUSTER,PEERS,JOIN,LISTEN} starts the service and returns at once:
 * `--single` mints a new cluster id every time; JOIN asks the first running
 * peer (node names or 127.0.0.1:port; a node name resolves whatever port is
 * written) and is refused if our data belongs to another cluster, if the
 * peer runs `--single`, or if the peer has no leader and does not list us;
 * CLUSTER/PEERS keeps our own identity when we have data and otherwise
 * adopts a peer's; with no mode at all the data directory's own mode
 * resumes. `systemctl start` reruns the last successful invocation as a
 * resume (no new identity, no new join once the node has data). The same
 * mode again while running exits 0; another mode fails with "address already
 * in use". Data paths: absolute ones live under the host root ("/data" is
 * `<root>/data`, default), relative ones under the caller's cwd; a path that
 * escapes the host root is refused. LISTEN is validated and ignored: each
 * node keeps its lab port.
 */
export class LedgerFamily implements LabFamily {
  readonly system = 'ledger';
  readonly cluster: string;
  readonly nodeNames: string[];
  readonly tools = ['systemctl', 'inferadb-ledger', 'aws'];
  readonly faults = [...LEDGER_FAULTS];
  private readonly standby: boolean;
  /** The inventory cluster of this cluster's DR region, when the lab runs one (`settings.drCluster`). */
  drCluster?: string;

  private readonly basePort: number;
  /** The nodes and the simulated Raft (./cluster), which the shims, services and faults act on. */
  private readonly sim: LedgerCluster;

  constructor(opts: LedgerFamilyOptions = {}) {
    this.cluster = opts.cluster ?? 'lab-ledger';
    const count = opts.nodes ?? 3;
    if (!Number.isInteger(count) || count < 1 || count > 50) throw new Error(`lab ledger: nodes must be 1..50, got ${count}`);
    const prefix = opts.nodePrefix ?? 'node';
    if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(prefix)) throw new Error(`lab ledger: bad node prefix "${prefix}"`);
    this.nodeNames = Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
    this.basePort = opts.basePort ?? 0;
    this.sim = new LedgerCluster(this.cluster, this.nodeNames, opts.electionMs ?? 500);
    this.standby = opts.standby ?? false;
  }

  /**
   * Seeds every node's data directory with the same cluster (a fresh cluster
   * id, organization "1" with three vaults; any earlier lab state there is
   * overwritten), starts all nodes in cluster mode, and waits (bounded) until
   * a leader is elected.
   */
  async start(ctx: { hostRoot(node: string): string; effects: EffectLog; hosts?: HostControl }): Promise<void> {
    this.sim.hostCtl = ctx.hosts;
    if (this.sim.started) throw new Error('lab ledger: already started');
    this.sim.pkg = loadLedgerPackage();
    this.sim.effects = ctx.effects;
    this.sim.started = true;
    const seed = seedState(newClusterId(), this.nodeNames);
    this.sim.s3Root = labS3Root(ctx.hostRoot(this.nodeNames[0]!));
    // The nightly backup of the seeded cluster: s3://ledger-backups/latest/snapshot.tar.gz.
    if (!this.standby) writeBackup(join(this.sim.s3Root, BUCKET, 'latest'), seed);
    this.nodeNames.forEach((name, index) => {
      const root = resolve(ctx.hostRoot(name));
      const dataDir = join(root, 'data');
      mkdirSync(dataDir, { recursive: true });
      if (this.standby) emptyDir(dataDir);
      else saveState(dataDir, seed);
      this.sim.nodes.set(name, {
        name,
        index,
        root,
        grpcPort: this.basePort ? this.basePort + index : 0,
        metricsPort: this.basePort ? this.basePort + 100 + index : 0,
        running: false,
        state: emptyState(),
        config: { mode: 'cluster', dataDir, size: this.nodeNames.length, peers: [...this.nodeNames] },
        log: [],
        bugs: new Map(),
        knownData: new Map(),
        lock: Promise.resolve(),
      });
    });
    if (this.standby) {
      // Standby machines: ports fixed now (the inventory names them), nothing listens until a start.
      const taken = new Set<number>();
      const pick = async (): Promise<number> => {
        for (let i = 0; i < 20; i++) {
          const p = await freeLoopbackPort();
          if (!taken.has(p)) return taken.add(p), p;
        }
        throw new Error('lab ledger: no free loopback port for a standby node');
      };
      for (const rt of this.sim.nodes.values()) {
        rt.grpcPort ||= await pick();
        rt.metricsPort ||= await pick();
      }
      return;
    }
    try {
      for (const rt of this.sim.nodes.values()) {
        const r = await this.sim.serial(rt, () => launch(this.sim, rt, rt.config, 'lab', false));
        if (r.exitCode !== 0) throw new Error(`lab ledger: ${rt.name} failed to start: ${r.stderr ?? r.stdout}`);
      }
      await this.sim.waitFor(() => this.sim.leaders.size > 0, this.sim.electionMs * 10 + 5000, 'a leader to be elected');
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Stops every node's servers (ports closed) and pending elections. Records nothing. */
  async stop(): Promise<void> {
    for (const t of this.sim.elections.values()) clearTimeout(t);
    this.sim.elections.clear();
    await Promise.all([...this.sim.nodes.values()].map((rt) => this.sim.halt(rt, 'lab shutting down')));
    this.sim.leaders.clear();
    this.sim.started = false;
  }

  endpoints(): LabNodeEndpoint[] {
    return [...this.sim.nodes.values()].map((rt) => {
      if (!rt.grpcPort || !rt.metricsPort) throw new Error('lab ledger: endpoints() before start()');
      return {
        name: rt.name,
        roles: ['voter'],
        grpc: { address: `127.0.0.1:${rt.grpcPort}` },
        metricsUrl: `http://127.0.0.1:${rt.metricsPort}/metrics`,
      };
    });
  }

  settings(): Record<string, string | number | boolean> {
    return {
      service: SERVICE_UNIT,
      binary: 'inferadb-ledger',
      // Relative: the lab's hosts are directories, not chroots, so an absolute
      // /data would be this machine's own. Real clusters use the runbook's /data.
      dataDir: 'data',
      stateFile: STATE_FILE,
      organization: '1',
      clusterSize: this.nodeNames.length,
      ...(this.drCluster ? { drCluster: this.drCluster } : {}),
    };
  }

  async shim(call: ShimCall): Promise<ShimResult> {
    const rt = this.sim.nodes.get(call.node);
    if (!rt || !this.sim.started) return { stdout: '', stderr: `lab ledger: no running lab node "${call.node}"\n`, exitCode: 127 };
    switch (call.tool) {
      case 'systemctl':
        return systemctl(this.sim, rt, call.argv);
      case 'inferadb-ledger':
        return inferadbLedger(this.sim, rt, call);
      case 'aws':
        return aws(this.sim, rt, call);
      default:
        return { stdout: '', stderr: `${call.tool}: command not found\n`, exitCode: 127 };
    }
  }

  async breakFault(fault: string): Promise<void> {
    return breakFault(this.sim, fault);
  }

  async health(): Promise<ClusterHealth> {
    const nodes: NodeHealth[] = [];
    const ids = new Set<string>();
    const problems: string[] = [];
    for (const rt of this.sim.nodes.values()) {
      const leader = rt.running ? this.sim.leaderOf(rt) : undefined;
      let state: string;
      if (!rt.running) state = 'down';
      else if (rt.state.mode === 'single') state = 'single';
      else if (!leader) state = 'no-quorum';
      else state = 'up';
      if (rt.running) ids.add(rt.state.cluster_id || '(none)');
      if (state !== 'up') problems.push(`${rt.name} ${state}`);
      nodes.push({
        node: rt.name,
        state,
        detail: rt.running
          ? `cluster ${rt.state.cluster_id || '(none yet)'}, mode ${rt.state.mode}, leader ${leader ?? 'none'}, commit ${rt.state.commit_index}`
          : 'service stopped',
      });
    }
    if (ids.size > 1) problems.push(`SPLIT: ${ids.size} cluster ids among running nodes (${[...ids].join(', ')})`);
    const healthy = problems.length === 0 && ids.size === 1;
    const leader = [...this.sim.leaders.values()][0]?.leader;
    return {
      cluster: this.cluster,
      system: this.system,
      healthy,
      summary: healthy ? `${nodes.length}/${nodes.length} voters serving in cluster ${[...ids][0]}, leader ${leader}` : problems.join('; '),
      nodes,
    };
  }

  // ------------------------------------------------------- region control --

  /**
   * The whole region is lost (the DR scenario's fault): every node's process
   * stops and its ports close, but its disks survive (nothing is wiped).
   * Records nothing.
   */
  async regionDown(): Promise<void> {
    if (!this.sim.started) throw new Error('lab ledger: start the lab before breaking it');
    for (const rt of this.sim.nodes.values()) await this.sim.serial(rt, () => this.sim.halt(rt, 'region unavailable (lab fault)'));
  }

  /** A copy of the replicated state of the cluster (its leader's, else any running node's); undefined when nothing runs. */
  replicatedState(): LedgerState | undefined {
    const running = [...this.sim.nodes.values()].filter((rt) => rt.running && hasData(rt.state));
    const leader = running.find((rt) => this.sim.leaderOf(rt) === rt.name);
    const src = leader ?? running[0];
    return src ? this.sim.replicaOf(src.state) : undefined;
  }

  /** The leader of the cluster, when the cluster serves (a running leader with its majority). */
  servingLeader(): string | undefined {
    for (const rt of this.sim.nodes.values()) {
      const l = this.sim.leaderOf(rt);
      if (l && this.sim.nodes.get(l)?.running) return l;
    }
    return undefined;
  }

  /** Whether any node's ledger process runs. */
  anyRunning(): boolean {
    return [...this.sim.nodes.values()].some((rt) => rt.running);
  }
}

/** A free loopback TCP port (for standby nodes, whose ports are written to the inventory before they run). */
async function freeLoopbackPort(): Promise<number> {
  return new Promise((ok, ko) => {
    const s = createNetServer();
    s.once('error', ko);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => ok(port));
    });
  });
}
