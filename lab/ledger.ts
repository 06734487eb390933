/**
 * The lab's simulated inferadb ledger cluster (seed 002): three Raft-style
 * voters, each a real `ledger.v1` gRPC server and a Prometheus metrics
 * endpoint on loopback, driven over SSH through two shimmed tools,
 * `systemctl` and `inferadb-ledger`, exactly as the runbook writes them.
 *
 * What is real: every node's data is a JSON file in `<host root>/data`
 * (or wherever `--data` / `INFERADB__LEDGER__DATA` points), loaded when the
 * node starts, so `rm -rf /data/*` over SSH really loses it; a stopped node's
 * ports really refuse connections; vaults are hash chains that
 * `CheckIntegrity` really verifies from the file.
 *
 * What is simulated (see {@link LedgerFamily}): the Raft protocol itself.
 * A cluster id has a leader only while a majority of its configured voters
 * run with that id (elected after `electionMs`); writes go through the
 * leader and are copied to every running member; `--single` mints a new
 * cluster identity; a node holding another cluster's data is refused on
 * join (split-brain protection) but can still be started in cluster mode,
 * where it shows up as a second cluster, the hazard the runbook warns of.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { EffectLog } from './effects';
import type { ClusterHealth, HostControl, LabFamily, LabNodeEndpoint, NodeHealth, ShimCall, ShimResult } from './family';
import {
  appendBlock,
  checkChain,
  cloneState,
  emptyState,
  hasData,
  loadState,
  newClusterId,
  rememberKey,
  saveState,
  seedState,
  STATE_FILE,
  vaultHeight,
  vaultTipHash,
  type LedgerState,
  type VaultState,
} from './ledger/state';

/** Where the `ledger.v1` proto lives, seen from the compiled `dist/lab/ledger.js`. */
export const LEDGER_PROTO_PATH = resolve(__dirname, '../../src/protos/ledger/v1/ledger.proto');

/** Proto-loader options every ledger client and server in the project uses. */
export const LEDGER_PROTO_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

/** The `ledger.v1` package (AdminService, ReadService, WriteService, HealthService constructors). */
export function loadLedgerPackage(protoPath: string = LEDGER_PROTO_PATH): grpc.GrpcObject {
  if (!existsSync(protoPath)) {
    throw new Error(`lab ledger: proto file ${protoPath} not found; run the lab from the built checkout (dist/lab) so ../../src/protos is present`);
  }
  const def = protoLoader.loadSync(protoPath, LEDGER_PROTO_OPTIONS);
  const root = grpc.loadPackageDefinition(def);
  return (root.ledger as grpc.GrpcObject).v1 as grpc.GrpcObject;
}

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

type StartMode = 'single' | 'cluster' | 'join';

/** What the service is configured to run: the last `inferadb-ledger` invocation, rerun by `systemctl start`. */
interface LaunchConfig {
  mode: StartMode;
  dataDir: string;
  /** INFERADB__LEDGER__CLUSTER (cluster mode). */
  size?: number;
  /** INFERADB__LEDGER__PEERS resolved to node names. */
  peers?: string[];
  listen?: string;
}

interface NodeRuntime {
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

interface LeaderRecord {
  leader: string;
  term: number;
}

/** A gRPC failure with its status code. */
class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

const SERVICE_UNIT = 'ledger';
const SYSTEMCTL_FLAGS = new Set(['--no-pager', '--quiet', '-q', '--no-block', '--full', '-l', '--system', '--no-ask-password']);
const LOG_LINES = 50;

const LEDGER_USAGE = `usage: inferadb-ledger [--single] [--data DIR]
  --single      start a NEW single-node cluster from this node's data (new cluster identity)
  --data DIR    data directory (default: $INFERADB__LEDGER__DATA or /data)
environment:
  INFERADB__LEDGER__DATA     data directory
  INFERADB__LEDGER__CLUSTER  expected cluster size (cluster mode)
  INFERADB__LEDGER__PEERS    comma-separated peers: node names or host:port
  INFERADB__LEDGER__JOIN     "true": join the cluster of the first reachable peer
  INFERADB__LEDGER__LISTEN   listen address (the lab binds its own loopback port)
`;

const SYSTEMCTL_USAGE = `usage: systemctl [--no-pager] [--quiet] {start|stop|restart|is-active|status} ledger
(lab: only the "ledger" unit exists on this host)
`;

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
 * Standby (`standby: true`, the DR region of lab/ledger/dr.ts): machines and
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
  readonly faults = ['ledger.quorum-loss', 'ledger.node-failure', 'ledger.vault-divergence', 'ledger.full-restore'];
  /** Where the lab's "S3" lives: one directory per bucket (seed 002's s3://ledger-backups, s3://ledger-primary-backups). */
  private s3Root = '';
  private hostCtl?: HostControl;
  private readonly standby: boolean;
  /** The inventory cluster of this cluster's DR region, when the lab runs one (`settings.drCluster`). */
  drCluster?: string;

  private readonly basePort: number;
  private readonly electionMs: number;
  private readonly nodes = new Map<string, NodeRuntime>();
  private readonly leaders = new Map<string, LeaderRecord>();
  private readonly elections = new Map<string, NodeJS.Timeout>();
  private effects?: EffectLog;
  private pkg?: grpc.GrpcObject;
  private started = false;

  constructor(opts: LedgerFamilyOptions = {}) {
    this.cluster = opts.cluster ?? 'lab-ledger';
    const count = opts.nodes ?? 3;
    if (!Number.isInteger(count) || count < 1 || count > 50) throw new Error(`lab ledger: nodes must be 1..50, got ${count}`);
    const prefix = opts.nodePrefix ?? 'node';
    if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(prefix)) throw new Error(`lab ledger: bad node prefix "${prefix}"`);
    this.nodeNames = Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
    this.basePort = opts.basePort ?? 0;
    this.electionMs = opts.electionMs ?? 500;
    this.standby = opts.standby ?? false;
  }

  /**
   * Seeds every node's data directory with the same cluster (a fresh cluster
   * id, organization "1" with three vaults; any earlier lab state there is
   * overwritten), starts all nodes in cluster mode, and waits (bounded) until
   * a leader is elected.
   */
  async start(ctx: { hostRoot(node: string): string; effects: EffectLog; hosts?: HostControl }): Promise<void> {
    this.hostCtl = ctx.hosts;
    if (this.started) throw new Error('lab ledger: already started');
    this.pkg = loadLedgerPackage();
    this.effects = ctx.effects;
    this.started = true;
    const seed = seedState(newClusterId(), this.nodeNames);
    this.s3Root = labS3Root(ctx.hostRoot(this.nodeNames[0]!));
    // The nightly backup of the seeded cluster: s3://ledger-backups/latest/snapshot.tar.gz.
    if (!this.standby) writeBackup(join(this.s3Root, BUCKET, 'latest'), seed);
    this.nodeNames.forEach((name, index) => {
      const root = resolve(ctx.hostRoot(name));
      const dataDir = join(root, 'data');
      mkdirSync(dataDir, { recursive: true });
      if (this.standby) emptyDir(dataDir);
      else saveState(dataDir, seed);
      this.nodes.set(name, {
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
      for (const rt of this.nodes.values()) {
        rt.grpcPort ||= await pick();
        rt.metricsPort ||= await pick();
      }
      return;
    }
    try {
      for (const rt of this.nodes.values()) {
        const r = await this.serial(rt, () => this.launch(rt, rt.config, 'lab', false));
        if (r.exitCode !== 0) throw new Error(`lab ledger: ${rt.name} failed to start: ${r.stderr ?? r.stdout}`);
      }
      await this.waitFor(() => this.leaders.size > 0, this.electionMs * 10 + 5000, 'a leader to be elected');
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Stops every node's servers (ports closed) and pending elections. Records nothing. */
  async stop(): Promise<void> {
    for (const t of this.elections.values()) clearTimeout(t);
    this.elections.clear();
    await Promise.all([...this.nodes.values()].map((rt) => this.halt(rt, 'lab shutting down')));
    this.leaders.clear();
    this.started = false;
  }

  endpoints(): LabNodeEndpoint[] {
    return [...this.nodes.values()].map((rt) => {
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
    const rt = this.nodes.get(call.node);
    if (!rt || !this.started) return { stdout: '', stderr: `lab ledger: no running lab node "${call.node}"\n`, exitCode: 127 };
    switch (call.tool) {
      case 'systemctl':
        return this.systemctl(rt, call.argv);
      case 'inferadb-ledger':
        return this.inferadbLedger(rt, call);
      case 'aws':
        return this.aws(rt, call);
      default:
        return { stdout: '', stderr: `${call.tool}: command not found\n`, exitCode: 127 };
    }
  }

  async breakFault(fault: string): Promise<void> {
    if (!this.started) throw new Error('lab ledger: start the lab before breaking it');
    const all = [...this.nodes.values()];
    switch (fault) {
      case 'ledger.quorum-loss': {
        // Keep the largest minority that still lacks a majority (1 of 3, 2 of 5).
        const keep = Math.max(1, Math.ceil(all.length / 2) - 1);
        if (all.length < 2) throw new Error('lab ledger: quorum loss needs at least 2 nodes');
        for (const rt of all.slice(keep)) await this.serial(rt, () => this.loseMachine(rt));
        for (const rt of all.slice(0, keep)) {
          if (!rt.running) await this.serial(rt, () => this.launch(rt, { ...rt.config, mode: 'cluster' }, 'lab', false));
        }
        return;
      }
      case 'ledger.full-restore': {
        // Total cluster loss: every machine and its data is gone; only the backup bucket remains.
        for (const rt of all) await this.serial(rt, () => this.loseMachine(rt));
        return;
      }
      case 'ledger.node-failure': {
        const victim = all[all.length - 1]!;
        await this.serial(victim, () => this.loseMachine(victim));
        return;
      }
      case 'ledger.vault-divergence': {
        const leader = [...this.leaders.values()][0]?.leader;
        const victim = all.filter((rt) => rt.running && rt.name !== leader).pop() ?? all[all.length - 1]!;
        const vault = victim.state.organizations['1']?.vaults['payments'];
        if (!victim.running || !vault || vault.blocks.length < 2) throw new Error(`lab ledger: ${victim.name} has no running payments vault to corrupt`);
        // A non-deterministic apply: the block's content differs from what was hashed.
        const b = vault.blocks[1]!;
        b.payload = Buffer.from(JSON.stringify({ vault: 'payments', seq: 2, op: 'seed', amount: 999_999 })).toString('base64');
        vault.status = 'DIVERGED';
        victim.bugs.set('1/payments', (victim.bugs.get('1/payments') ?? 0) + 1);
        this.persist(victim);
        this.logLine(victim, 'ERROR determinism check failed: vault 1/payments state root differs from the leader; vault marked DIVERGED');
        return;
      }
      default:
        throw new Error(`lab ledger: unknown fault "${fault}"; known: ${this.faults.join(', ')}`);
    }
  }

  async health(): Promise<ClusterHealth> {
    const nodes: NodeHealth[] = [];
    const ids = new Set<string>();
    const problems: string[] = [];
    for (const rt of this.nodes.values()) {
      const leader = rt.running ? this.leaderOf(rt) : undefined;
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
    const leader = [...this.leaders.values()][0]?.leader;
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
    if (!this.started) throw new Error('lab ledger: start the lab before breaking it');
    for (const rt of this.nodes.values()) await this.serial(rt, () => this.halt(rt, 'region unavailable (lab fault)'));
  }

  /** A copy of the replicated state of the cluster (its leader's, else any running node's); undefined when nothing runs. */
  replicatedState(): LedgerState | undefined {
    const running = [...this.nodes.values()].filter((rt) => rt.running && hasData(rt.state));
    const leader = running.find((rt) => this.leaderOf(rt) === rt.name);
    const src = leader ?? running[0];
    return src ? this.replicaOf(src.state) : undefined;
  }

  /** The leader of the cluster, when the cluster serves (a running leader with its majority). */
  servingLeader(): string | undefined {
    for (const rt of this.nodes.values()) {
      const l = this.leaderOf(rt);
      if (l && this.nodes.get(l)?.running) return l;
    }
    return undefined;
  }

  /** Whether any node's ledger process runs. */
  anyRunning(): boolean {
    return [...this.nodes.values()].some((rt) => rt.running);
  }

  // ------------------------------------------------------------------ shims --

  private async systemctl(rt: NodeRuntime, argv: string[]): Promise<ShimResult> {
    const words = argv.filter((a) => !SYSTEMCTL_FLAGS.has(a));
    const bad = words.find((a) => a.startsWith('-'));
    if (bad) return usage(`systemctl: unrecognized option '${bad}'\n${SYSTEMCTL_USAGE}`);
    const [verb, ...units] = words;
    if (!verb) return usage(SYSTEMCTL_USAGE);
    if (!['start', 'stop', 'restart', 'is-active', 'status'].includes(verb)) return usage(`Unknown command verb ${verb}.\n${SYSTEMCTL_USAGE}`);
    if (units.length !== 1) return usage(`systemctl ${verb}: name exactly one unit.\n${SYSTEMCTL_USAGE}`);
    const unit = units[0]!;
    if (unit !== SERVICE_UNIT && unit !== `${SERVICE_UNIT}.service`) {
      return usage(`Unit ${unit.endsWith('.service') ? unit : `${unit}.service`} not loaded.\n${SYSTEMCTL_USAGE}`);
    }
    const quiet = argv.includes('-q') || argv.includes('--quiet');
    switch (verb) {
      case 'is-active':
        return { stdout: quiet ? '' : rt.running ? 'active\n' : 'inactive\n', exitCode: rt.running ? 0 : 3 };
      case 'status':
        return { stdout: this.statusText(rt), exitCode: rt.running ? 0 : 3 };
      case 'stop':
        return this.serial(rt, async () => {
          if (rt.running) await this.stopService(rt, 'systemctl');
          return { stdout: '', exitCode: 0 };
        });
      case 'start':
        return this.serial(rt, async () => (rt.running ? { stdout: '', exitCode: 0 } : this.systemdStart(rt)));
      default: // restart
        return this.serial(rt, async () => {
          if (rt.running) await this.stopService(rt, 'systemctl');
          return this.systemdStart(rt);
        });
    }
  }

  /** `systemctl start`: reruns the configured command; a failure reads like systemd's. */
  private async systemdStart(rt: NodeRuntime): Promise<ShimResult> {
    const r = await this.launch(rt, rt.config, 'systemctl', false);
    if (r.exitCode === 0) return { stdout: '', exitCode: 0 };
    return {
      stdout: '',
      stderr: `Job for ledger.service failed because the control process exited with error code.\n${r.stderr ?? ''}`,
      exitCode: 1,
    };
  }

  private async stopService(rt: NodeRuntime, via: string): Promise<void> {
    const mode = rt.state.mode;
    await this.halt(rt, `stopped by ${via}`);
    this.record(rt.name, 'ledger.stop', { mode, via });
  }

  private statusText(rt: NodeRuntime): string {
    const leader = rt.running ? this.leaderOf(rt) : undefined;
    const lines = [
      `● ledger.service - InferaDB Ledger`,
      `     Loaded: loaded (/etc/systemd/system/ledger.service; enabled)`,
      rt.running
        ? `     Active: active (running) since ${rt.since?.toISOString() ?? '?'}`
        : `     Active: inactive (dead)`,
    ];
    if (rt.running) {
      lines.push(
        `   Main PID: ${4000 + rt.index} (inferadb-ledger)`,
        `    Cluster: ${rt.state.cluster_id || '(none yet)'} mode=${rt.state.mode} leader=${leader ?? 'none'} term=${this.termOf(rt)} commit=${rt.state.commit_index}`,
        `     Listen: 127.0.0.1:${rt.grpcPort} (grpc), 127.0.0.1:${rt.metricsPort} (metrics)`,
        `       Data: ${this.hostPath(rt, rt.config.dataDir)}`,
      );
    }
    lines.push('', ...rt.log.slice(-10));
    return lines.join('\n') + '\n';
  }

  /**
   * `aws s3 ls s3://BUCKET/<prefix>`, `aws s3 cp s3://BUCKET/<key> <dest>` and
   * `aws s3 sync s3://BUCKET/<prefix>/ <dest>/`, served from the lab's bucket
   * directories (`<lab>/s3/<bucket>`). ls and cp are reads (no effect); a sync
   * that copied at least one file records `ledger.dr-sync` {source, dest, files}.
   */
  private aws(rt: NodeRuntime, call: ShimCall): ShimResult {
    const [svc, verb, src, dest, ...rest] = call.argv;
    if (svc !== 's3' || (verb !== 'ls' && verb !== 'cp' && verb !== 'sync')) {
      return usage('lab aws: only `aws s3 ls s3://BUCKET/PREFIX`, `aws s3 cp s3://BUCKET/KEY DEST` and `aws s3 sync s3://BUCKET/PREFIX/ DEST/` are simulated');
    }
    if (rest.length) return usage(`lab aws: unexpected argument "${rest[0]}"`);
    const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(src ?? '');
    if (!m) return usage(`lab aws: expected an s3:// URL, got "${src ?? ''}"`);
    const bucketDir = join(this.s3Root, m[1]!);
    if (!/^[a-z0-9][a-z0-9.-]{1,62}$/.test(m[1]!) || !existsSync(bucketDir)) {
      return fail(1, `An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation: The specified bucket does not exist (${m[1]})`);
    }
    const key = m[2] ?? '';
    const file = resolve(bucketDir, key);
    if (file !== bucketDir && !file.startsWith(bucketDir + sep)) return usage(`lab aws: key "${key}" is outside the bucket`);
    if (verb === 'ls') {
      const files = existsSync(file) && statSync(file).isDirectory() ? readdirSync(file).map((f) => join(file, f)) : existsSync(file) ? [file] : [];
      const lines = files
        .filter((f) => statSync(f).isFile())
        .map((f) => {
          const st = statSync(f);
          const t = st.mtime.toISOString().replace('T', ' ').slice(0, 19);
          return `${t} ${String(st.size).padStart(10)} ${relative(dirname(f), f)}`;
        });
      return lines.length ? { stdout: lines.join('\n') + '\n', exitCode: 0 } : { stdout: '', exitCode: 1 };
    }
    if (!dest) return usage(`lab aws: s3 ${verb} needs a destination`);
    const target = this.resolveDataDir(rt, call.cwd, dest);
    if (typeof target !== 'string') return target;
    if (verb === 'sync') {
      if (!existsSync(file) || !statSync(file).isDirectory()) return { stdout: '', exitCode: 0 }; // an empty prefix syncs nothing
      const copied: string[] = [];
      for (const rel of listFiles(file)) {
        const from = join(file, rel);
        const to = join(target, rel);
        const a = statSync(from);
        const b = existsSync(to) ? statSync(to) : undefined;
        // Like the real sync: copy what is missing, of another size, or newer in the bucket.
        if (b && b.size === a.size && b.mtimeMs >= a.mtimeMs) continue;
        mkdirSync(dirname(to), { recursive: true });
        copyFileSync(from, to);
        copied.push(rel);
      }
      if (copied.length) this.record(rt.name, 'ledger.dr-sync', { source: src, dest: this.hostPath(rt, target), files: copied });
      const shownDest = dest.endsWith('/') ? dest : `${dest}/`;
      return { stdout: copied.map((rel) => `download: ${src!.replace(/\/?$/, '/')}${rel} to ${shownDest}${rel}\n`).join(''), exitCode: 0 };
    }
    if (!existsSync(file) || !statSync(file).isFile()) return fail(1, `fatal error: An error occurred (404) when calling the HeadObject operation: Key "${key}" does not exist`);
    const out = dest.endsWith('/') || (existsSync(target) && statSync(target).isDirectory()) ? join(target, relative(dirname(file), file)) : target;
    mkdirSync(dirname(out), { recursive: true });
    copyFileSync(file, out);
    return { stdout: `download: ${src} to ${dest}\n`, exitCode: 0 };
  }

  /** `inferadb-ledger [--single] [--data DIR]` with INFERADB__LEDGER__* from the caller's environment. */
  private async inferadbLedger(rt: NodeRuntime, call: ShimCall): Promise<ShimResult> {
    let single = false;
    let data: string | undefined;
    for (let i = 0; i < call.argv.length; i++) {
      const a = call.argv[i]!;
      if (a === '--single') single = true;
      else if (a === '--data') {
        data = call.argv[++i];
        if (data === undefined || data === '') return usage(`inferadb-ledger: --data needs a directory\n${LEDGER_USAGE}`);
      } else if (a.startsWith('--data=')) data = a.slice('--data='.length);
      else if (a === '--help' || a === '-h') return { stdout: LEDGER_USAGE, exitCode: 0 };
      else if (a === '--version') return { stdout: 'inferadb-ledger 0.9.0 (lifeboat lab simulation)\n', exitCode: 0 };
      else return usage(`inferadb-ledger: unknown argument '${a}'\n${LEDGER_USAGE}`);
    }
    const env = call.env;
    data ??= env.INFERADB__LEDGER__DATA || undefined;
    const joinRaw = (env.INFERADB__LEDGER__JOIN ?? '').toLowerCase();
    if (!['', 'true', 'false', '1', '0'].includes(joinRaw)) return usage(`inferadb-ledger: INFERADB__LEDGER__JOIN must be true or false, got "${env.INFERADB__LEDGER__JOIN}"\n`);
    const joinMode = joinRaw === 'true' || joinRaw === '1';
    const sizeRaw = env.INFERADB__LEDGER__CLUSTER;
    const size = sizeRaw === undefined || sizeRaw === '' ? undefined : Number(sizeRaw);
    if (size !== undefined && (!Number.isInteger(size) || size < 1)) return usage(`inferadb-ledger: INFERADB__LEDGER__CLUSTER must be a positive integer, got "${sizeRaw}"\n`);
    const listen = env.INFERADB__LEDGER__LISTEN || undefined;
    if (listen !== undefined && !/^[^\s:]+:\d{1,5}$/.test(listen)) return usage(`inferadb-ledger: INFERADB__LEDGER__LISTEN must be host:port, got "${listen}"\n`);

    let peers: string[] | undefined;
    if (env.INFERADB__LEDGER__PEERS) {
      peers = [];
      for (const p of env.INFERADB__LEDGER__PEERS.split(',').map((s) => s.trim()).filter(Boolean)) {
        const name = this.resolvePeer(p);
        if (!name) return fail(2, `inferadb-ledger: unknown peer "${p}" in INFERADB__LEDGER__PEERS (this lab's nodes: ${this.nodeNames.join(', ')})`);
        if (!peers.includes(name)) peers.push(name);
      }
    }

    if (single && joinMode) return usage(`inferadb-ledger: --single and INFERADB__LEDGER__JOIN=true exclude each other\n`);
    let dataDir: string;
    if (data !== undefined) {
      const d = this.resolveDataDir(rt, call.cwd, data);
      if (typeof d !== 'string') return d;
      dataDir = d;
    } else dataDir = join(rt.root, 'data'); // the binary's default, /data

    let cfg: LaunchConfig;
    if (single) cfg = { mode: 'single', dataDir, listen };
    else if (joinMode) {
      if (!peers?.length) return usage(`inferadb-ledger: INFERADB__LEDGER__JOIN=true needs INFERADB__LEDGER__PEERS (a running member, e.g. node1:50051)\n`);
      cfg = { mode: 'join', dataDir, peers, listen };
    } else if (size !== undefined || peers) {
      let members = peers;
      if (members && !members.includes(rt.name)) members = [...members, rt.name];
      if (members && size !== undefined && members.length !== size) {
        return usage(`inferadb-ledger: INFERADB__LEDGER__CLUSTER=${size} but INFERADB__LEDGER__PEERS names ${members.length} node(s) (${members.join(', ')})\n`);
      }
      cfg = { mode: 'cluster', dataDir, size: size ?? members?.length, peers: members, listen };
    } else {
      // No mode given: resume whatever the data directory says.
      const loaded = loadState(dataDir);
      if (loaded.kind !== 'ok' || !hasData(loaded.state)) {
        return fail(2, `inferadb-ledger: ${this.hostPath(rt, dataDir)} holds no cluster; start with --single, INFERADB__LEDGER__CLUSTER + PEERS, or INFERADB__LEDGER__JOIN=true + PEERS`);
      }
      cfg = loaded.state.mode === 'single' ? { mode: 'single', dataDir, listen } : { mode: 'cluster', dataDir, listen };
    }

    return this.serial(rt, async () => {
      if (rt.running) {
        if (rt.startedAs === cfg.mode && rt.config.dataDir === cfg.dataDir) {
          return { stdout: `inferadb-ledger already running (${cfg.mode} mode, pid ${4000 + rt.index}); nothing to do\n`, exitCode: 0 };
        }
        return fail(1, `inferadb-ledger: cannot listen on 127.0.0.1:${rt.grpcPort}: address already in use (the service runs in ${rt.startedAs} mode; stop it first: systemctl stop ledger)`);
      }
      // The service's configuration becomes this command (what `systemctl start` reruns).
      // Only an explicit --single mints a new identity and only an explicit JOIN asks a peer;
      // a bare `inferadb-ledger` resumes what its data directory holds.
      return this.launch(rt, cfg, 'inferadb-ledger', single || joinMode);
    });
  }

  /** Node name for a peer spec: a lab node name, "name:port", or "127.0.0.1:<its gRPC port>". */
  private resolvePeer(spec: string): string | undefined {
    const m = /^(.*?)(?::(\d+))?$/.exec(spec);
    const host = m?.[1] ?? spec;
    const port = m?.[2] ? Number(m[2]) : undefined;
    // Lab node names resolve to their own node whatever port is written (the runbook's :50051).
    if (this.nodes.has(host)) return host;
    if ((host === '127.0.0.1' || host === 'localhost') && port) {
      return [...this.nodes.values()].find((rt) => rt.grpcPort === port)?.name;
    }
    return undefined;
  }

  /** A data directory inside the host: absolute paths are under the host root, relative ones under the caller's cwd. */
  private resolveDataDir(rt: NodeRuntime, cwd: string, raw: string): string | ShimResult {
    const root = rt.root;
    const inside = (p: string) => p === root || p.startsWith(root + sep);
    const base = inside(resolve(cwd)) ? resolve(cwd) : root;
    const p = isAbsolute(raw) ? resolve(inside(resolve(raw)) ? raw : join(root, raw)) : resolve(base, raw);
    if (!inside(p)) return fail(2, `inferadb-ledger: data directory "${raw}" is outside this host's filesystem`);
    return p;
  }

  // -------------------------------------------------------- node lifecycle --

  /**
   * Starts a node's process: loads its data file, binds its ports, applies the
   * start mode (which may refuse), then joins the simulated Raft. Call under
   * {@link serial}.
   *
   * @param fresh true for an explicit `inferadb-ledger` run (`--single` mints a
   *   new identity each time), false for `systemctl start` (resumes).
   */
  private async launch(rt: NodeRuntime, cfg: LaunchConfig, via: 'inferadb-ledger' | 'systemctl' | 'lab', fresh: boolean): Promise<ShimResult> {
    const loaded = loadState(cfg.dataDir);
    const shown = this.hostPath(rt, cfg.dataDir);
    if (loaded.kind === 'corrupt') {
      this.logLine(rt, `FATAL cannot read ${shown}/${STATE_FILE}: ${loaded.error}`);
      return fail(1, `inferadb-ledger: cannot read ${shown}/${STATE_FILE}: ${loaded.error}; restore the data directory or clear it and rejoin`);
    }
    const state = loaded.kind === 'ok' ? loaded.state : emptyState();
    const vanished = loaded.kind === 'missing' ? rt.knownData.get(cfg.dataDir) : undefined;

    try {
      await this.bind(rt);
    } catch (e) {
      this.logLine(rt, `FATAL bind failed: ${(e as Error).message}`);
      return fail(1, `inferadb-ledger: cannot listen on 127.0.0.1:${rt.grpcPort}: ${(e as Error).message}`);
    }
    const applied = this.applyMode(rt, cfg, state, fresh);
    if (!applied.ok) {
      await this.unbind(rt);
      this.logLine(rt, `FATAL ${applied.message}`);
      return fail(1, `inferadb-ledger: ${applied.message}`);
    }
    rt.state = applied.state;
    rt.config = cfg; // what `systemctl start` reruns from now on
    rt.running = true;
    rt.startedAs = cfg.mode;
    rt.since = new Date();
    rt.bugs = new Map(this.divergedVaults(rt).map((k) => [k, 1]));
    if (hasData(rt.state)) this.persist(rt);
    for (const l of applied.lines) this.logLine(rt, l);
    if (vanished !== undefined && via !== 'lab') this.record(rt.name, 'ledger.data-cleared', { dataDir: shown, previousClusterId: vanished });
    if (via !== 'lab') {
      this.record(rt.name, 'ledger.start', { mode: cfg.mode, clusterId: rt.state.cluster_id, dataDir: shown, via });
    }
    this.reconcile();
    const out = [
      `inferadb-ledger: listening on 127.0.0.1:${rt.grpcPort} (grpc), metrics on 127.0.0.1:${rt.metricsPort}${cfg.listen ? ` (requested ${cfg.listen})` : ''}`,
      ...applied.lines.map((l) => `inferadb-ledger: ${l}`),
    ];
    return { stdout: out.join('\n') + '\n', exitCode: 0 };
  }

  /** The start mode's effect on a node's loaded state; refuses what a real ledger refuses. */
  private applyMode(
    rt: NodeRuntime,
    cfg: LaunchConfig,
    loaded: LedgerState,
    fresh: boolean,
  ): { ok: true; state: LedgerState; lines: string[] } | { ok: false; message: string } {
    const s = cloneState(loaded);
    const shown = this.hostPath(rt, cfg.dataDir);
    if (cfg.mode === 'single') {
      if (!fresh && hasData(s) && s.mode === 'single') {
        return { ok: true, state: s, lines: [`resuming single-node cluster ${s.cluster_id} from ${shown}`] };
      }
      const old = s.cluster_id;
      s.cluster_id = newClusterId();
      s.mode = 'single';
      s.members = [rt.name];
      return {
        ok: true,
        state: s,
        lines: [
          `WARNING forming a NEW single-node cluster ${s.cluster_id} from ${shown} (commit index ${s.commit_index})` +
            (old ? `; previous cluster identity ${old} abandoned` : '; no previous data'),
        ],
      };
    }

    if (cfg.mode === 'join' && (fresh || !hasData(s))) return this.applyJoin(rt, cfg, s);

    // Cluster mode (or a restart of a node that joined earlier): keep our identity if we have one.
    let members = cfg.mode === 'join' ? undefined : cfg.peers;
    if (!members) {
      if (s.members.length && (cfg.size === undefined || cfg.mode === 'join' || s.members.length === cfg.size)) members = s.members;
      else if (cfg.size === undefined) members = [rt.name];
      else return { ok: false, message: `INFERADB__LEDGER__CLUSTER=${cfg.size} but no INFERADB__LEDGER__PEERS and ${shown} lists ${s.members.length} member(s); name the peers` };
    }
    s.mode = 'cluster';
    s.members = [...members];
    const lines = hasData(s)
      ? [`starting in cluster mode: cluster ${s.cluster_id}, voters ${members.join(', ')}, commit index ${s.commit_index}`]
      : [`starting in cluster mode with no local data in ${shown}: waiting for peers ${members.filter((m) => m !== rt.name).join(', ')} to share their cluster`];
    return { ok: true, state: s, lines };
  }

  private applyJoin(rt: NodeRuntime, cfg: LaunchConfig, s: LedgerState): { ok: true; state: LedgerState; lines: string[] } | { ok: false; message: string } {
    const candidates = (cfg.peers ?? []).filter((p) => p !== rt.name);
    const target = candidates.map((p) => this.nodes.get(p)).find((p): p is NodeRuntime => !!p?.running);
    if (!target) return { ok: false, message: `cannot reach any peer (${candidates.join(', ') || 'none'}): connection refused; start a member first` };
    if (target.state.mode === 'single') {
      return { ok: false, message: `peer ${target.name} runs a single-node cluster (--single), which accepts no members; restart it in cluster mode (INFERADB__LEDGER__CLUSTER=N, PEERS=...) first` };
    }
    const cid = target.state.cluster_id;
    if (!cid) return { ok: false, message: `peer ${target.name} has no cluster yet (it is waiting for its own peers)` };
    if (hasData(s) && s.cluster_id !== cid) {
      this.record(rt.name, 'ledger.split-brain-refused', { ownClusterId: s.cluster_id, peerClusterId: cid, peer: target.name });
      return {
        ok: false,
        message:
          `refusing to join: ${this.hostPath(rt, cfg.dataDir)} holds data of cluster ${s.cluster_id} but peer ${target.name} is cluster ${cid} ` +
          `(split-brain protection); if this node's data is to be abandoned, clear it (rm -rf ${this.hostPath(rt, cfg.dataDir)}/*) and join again`,
      };
    }
    const rec = this.leaders.get(cid);
    const isMember = target.state.members.includes(rt.name);
    if (!rec && !isMember) {
      return { ok: false, message: `cluster ${cid} has no leader to commit the membership change (no quorum), and ${rt.name} is not one of its configured voters` };
    }
    const source = (rec && this.nodes.get(rec.leader)) || target;
    const members = source.state.members.includes(rt.name) ? [...source.state.members] : [...source.state.members, rt.name];
    if (!isMember || !source.state.members.includes(rt.name)) {
      // The leader commits the new configuration; every running member applies it.
      for (const m of this.nodes.values()) {
        if (m.running && m.state.cluster_id === cid) {
          m.state.members = [...members];
          this.persist(m);
          this.logLine(m, `membership: ${rt.name} added as voter (voters ${members.join(', ')})`);
        }
      }
    }
    const joined = this.replicaOf(source.state);
    joined.members = members;
    return {
      ok: true,
      state: joined,
      lines: [`joined cluster ${cid} via ${target.name} as voter; replicated ${this.vaultCount(joined)} vault(s) up to commit index ${joined.commit_index}`],
    };
  }

  /** Stops a node's process (ports closed). Records nothing; callers record the effect. */
  private async halt(rt: NodeRuntime, why: string): Promise<void> {
    const was = rt.running;
    rt.running = false;
    rt.startedAs = undefined;
    await this.unbind(rt);
    if (was) {
      this.logLine(rt, `shutting down: ${why}`);
      this.reconcile();
    }
  }

  /** The machine is lost: process gone, data directory emptied (the host stays reachable as a replacement). */
  private async loseMachine(rt: NodeRuntime): Promise<void> {
    await this.halt(rt, 'machine lost (lab fault)');
    emptyDir(rt.config.dataDir);
    rt.knownData.delete(rt.config.dataDir); // a fault's wipe is not an effect the recovery made
    rt.state = emptyState();
    rt.log = [];
  }

  private async bind(rt: NodeRuntime): Promise<void> {
    const pkg = this.pkg!;
    const svc = (name: string) => (pkg[name] as grpc.ServiceClientConstructor).service;
    const server = new grpc.Server();
    server.addService(svc('AdminService'), {
      GetClusterInfo: this.unary(rt, () => this.getClusterInfo(rt)),
      LeaveCluster: this.unary(rt, (r) => this.leaveCluster(rt, r), true),
      ListOrganizations: this.unary(rt, () => ({
        organizations: Object.entries(rt.state.organizations).map(([id, o]) => ({ slug: { id }, name: o.name })),
      })),
      ListVaults: this.unary(rt, (r) => this.listVaults(rt, r)),
      GetVault: this.unary(rt, (r) => {
        const { org, slug, vault } = this.vaultRef(rt, r);
        return { vault: this.vaultMessage(org, slug, vault) };
      }),
      CheckIntegrity: this.unary(rt, (r) => this.checkIntegrity(rt, r)),
      RecoverVault: this.unary(rt, (r) => this.recoverVault(rt, r), true),
      CreateSnapshot: this.unary(rt, (r) => this.createSnapshot(rt, r), true),
    });
    server.addService(svc('ReadService'), {
      GetTip: this.unary(rt, (r) => {
        const { vault } = this.vaultRef(rt, r);
        return { height: vaultHeight(vault), hash: vaultTipHash(vault) };
      }),
    });
    server.addService(svc('WriteService'), { Write: this.unary(rt, (r) => this.write(rt, r), true) });
    server.addService(svc('HealthService'), {
      Check: this.unary(rt, () => ({ status: this.leaderOf(rt) ? 'SERVING' : 'NOT_SERVING' })),
    });
    const port = await new Promise<number>((ok, ko) =>
      server.bindAsync(`127.0.0.1:${rt.grpcPort}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? ko(err) : ok(p))),
    );
    rt.grpcPort = port;
    rt.grpcServer = server;

    const http = createServer((req, res) => this.serveMetrics(rt, req, res));
    try {
      await new Promise<void>((ok, ko) => {
        http.once('error', ko);
        http.listen(rt.metricsPort, '127.0.0.1', () => {
          http.off('error', ko);
          ok();
        });
      });
    } catch (e) {
      server.forceShutdown();
      rt.grpcServer = undefined;
      throw e;
    }
    rt.metricsPort = (http.address() as AddressInfo).port;
    rt.httpServer = http;
  }

  private async unbind(rt: NodeRuntime): Promise<void> {
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
  private leaderOf(rt: NodeRuntime): string | undefined {
    if (!rt.running || !rt.state.cluster_id) return undefined;
    const rec = this.leaders.get(rt.state.cluster_id);
    // A node the leader no longer counts as a voter (removed by LeaveCluster) follows no one.
    if (!rec || !this.nodes.get(rec.leader)?.state.members.includes(rt.name)) return undefined;
    return rec.leader;
  }

  private termOf(rt: NodeRuntime): number {
    return this.leaders.get(rt.state.cluster_id)?.term ?? rt.state.term;
  }

  private majority(members: string[]): number {
    return Math.floor(members.length / 2) + 1;
  }

  /** Votes this node could collect: running members of its cluster that also count it as a voter. */
  private votes(rt: NodeRuntime): number {
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
  private reconcile(): void {
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
  private replicaOf(src: LedgerState): LedgerState {
    const c = cloneState(src);
    c.mode = 'cluster';
    return c;
  }

  // ------------------------------------------------------------- handlers --

  private unary<Req>(rt: NodeRuntime, fn: (req: Req) => object, admin = false): grpc.handleUnaryCall<Req, object> {
    return (call, cb) => {
      try {
        if (!rt.running) throw new RpcError(grpc.status.UNAVAILABLE, `${rt.name} is shutting down`);
        if (admin && this.hostCtl?.apiRefused(rt.name)) throw new RpcError(grpc.status.UNAUTHENTICATED, 'invalid credentials');
        cb(null, fn(call.request));
      } catch (e) {
        const code = e instanceof RpcError ? e.code : grpc.status.INTERNAL;
        cb({ code, details: (e as Error).message, name: 'RpcError', message: (e as Error).message });
      }
    };
  }

  private getClusterInfo(rt: NodeRuntime): object {
    const leader = this.leaderOf(rt);
    return {
      cluster_id: rt.state.cluster_id,
      leader_id: leader ? { id: leader } : null,
      term: this.termOf(rt),
      members: rt.state.members.map((name) => {
        const m = this.nodes.get(name);
        return {
          node_id: { id: name },
          address: m ? `127.0.0.1:${m.grpcPort}` : '',
          role: 'voter',
          reachable: name === rt.name || (!!m?.running && m.state.cluster_id === rt.state.cluster_id),
        };
      }),
      mode: rt.state.mode,
      commit_index: rt.state.commit_index,
    };
  }

  private leaveCluster(rt: NodeRuntime, req: { node_id?: { id?: string } | null }): object {
    const id = req.node_id?.id;
    if (!id) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'node_id.id is required (the member to remove)');
    const cid = rt.state.cluster_id;
    if (!rt.state.members.includes(id)) return { removed: false };
    if (id === rt.name) throw new RpcError(grpc.status.FAILED_PRECONDITION, `${rt.name} cannot remove itself; send LeaveCluster to another member`);
    if (!this.leaderOf(rt)) throw new RpcError(grpc.status.UNAVAILABLE, `no quorum: cluster ${cid || '(none)'} has no leader to commit the membership change`);
    const members = rt.state.members.filter((m) => m !== id);
    for (const m of this.nodes.values()) {
      if (m.running && m.state.cluster_id === cid && m.name !== id) {
        m.state.members = [...members];
        this.persist(m);
        this.logLine(m, `membership: ${id} removed (voters ${members.join(', ')})`);
      }
    }
    this.record(id, 'ledger.leave', { via: rt.name, clusterId: cid });
    const gone = this.nodes.get(id);
    if (gone?.running && gone.state.cluster_id === cid) {
      // A removed voter learns it from the log and shuts down.
      void this.serial(gone, () => this.halt(gone, `removed from cluster ${cid}`));
    }
    this.reconcile();
    return { removed: true };
  }

  private listVaults(rt: NodeRuntime, req: { organization_slug?: { id?: string } | null }): object {
    const only = req.organization_slug?.id;
    if (only && !rt.state.organizations[only]) throw new RpcError(grpc.status.NOT_FOUND, `organization ${only} not found on ${rt.name}`);
    const vaults: object[] = [];
    for (const [org, o] of Object.entries(rt.state.organizations)) {
      if (only && org !== only) continue;
      for (const [slug, v] of Object.entries(o.vaults)) vaults.push({ vault: this.vaultMessage(org, slug, v) });
    }
    return { vaults };
  }

  private vaultMessage(org: string, slug: string, v: VaultState): object {
    return { vault: { slug }, organization_slug: { id: org }, status: v.status, height: vaultHeight(v) };
  }

  private vaultRef(rt: NodeRuntime, req: { organization_slug?: { id?: string } | null; vault?: { slug?: string } | null }) {
    const org = req.organization_slug?.id;
    const slug = req.vault?.slug;
    if (!org || !slug) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'organization_slug.id and vault.slug are required');
    const vault = rt.state.organizations[org]?.vaults[slug];
    if (!vault) throw new RpcError(grpc.status.NOT_FOUND, `vault ${org}/${slug} not found on ${rt.name}`);
    return { org, slug, vault };
  }

  /** Verifies the chain as stored in the data file (not the process's memory), so on-disk damage shows. */
  private checkIntegrity(rt: NodeRuntime, req: { organization_slug?: { id?: string } | null; vault?: { slug?: string } | null; full_check?: boolean }): object {
    const { org, slug } = this.vaultRef(rt, req);
    const loaded = loadState(rt.config.dataDir);
    if (loaded.kind !== 'ok') {
      return { ok: false, blocks_checked: 0, problems: [`data file ${this.hostPath(rt, rt.config.dataDir)}/${STATE_FILE} ${loaded.kind === 'missing' ? 'is missing' : `is unreadable: ${loaded.error}`}`] };
    }
    const onDisk = loaded.state.organizations[org]?.vaults[slug];
    if (!onDisk) return { ok: false, blocks_checked: 0, problems: [`vault ${org}/${slug} is missing from the data file`] };
    const r = checkChain(onDisk, !!req.full_check);
    return { ok: r.ok, blocks_checked: r.blocksChecked, problems: r.problems };
  }

  /** Rebuilds a diverged vault from an intact replica in the same cluster (the leader first). */
  private recoverVault(rt: NodeRuntime, req: { organization_slug?: { id?: string } | null; vault?: { slug?: string } | null }): object {
    const { org, slug, vault } = this.vaultRef(rt, req);
    const intact = checkChain(vault, true).ok && vault.status === 'ACTIVE';
    if (intact) {
      this.record(rt.name, 'ledger.recover-vault', { organization: org, vault: slug, recovered: true, changed: false });
      return { recovered: true, status: 'ACTIVE' };
    }
    const cid = rt.state.cluster_id;
    const leader = this.leaderOf(rt);
    const replicas = [...this.nodes.values()]
      .filter((m) => m !== rt && m.running && m.state.cluster_id === cid)
      .sort((a, b) => (a.name === leader ? -1 : b.name === leader ? 1 : a.name.localeCompare(b.name)));
    const good = replicas.find((m) => {
      const v = m.state.organizations[org]?.vaults[slug];
      return v && v.status === 'ACTIVE' && checkChain(v, true).ok;
    });
    if (!good) {
      this.record(rt.name, 'ledger.recover-vault', { organization: org, vault: slug, recovered: false });
      this.logLine(rt, `recovery of ${org}/${slug} failed: no intact replica reachable`);
      return { recovered: false, status: vault.status };
    }
    const copy = cloneState(good.state.organizations[org]!.vaults[slug]!);
    rt.state.organizations[org]!.vaults[slug] = copy;
    this.persist(rt);
    this.logLine(rt, `vault ${org}/${slug} recovered from ${good.name} (height ${vaultHeight(copy)})`);
    this.record(rt.name, 'ledger.recover-vault', { organization: org, vault: slug, recovered: true, changed: true, from: good.name });
    return { recovered: true, status: copy.status };
  }

  private createSnapshot(rt: NodeRuntime, req: { organization_slug?: { id?: string } | null; vault?: { slug?: string } | null }): object {
    const { org, slug, vault } = this.vaultRef(rt, req);
    const height = vaultHeight(vault);
    const id = `snap-${org}-${slug}-${height}-${Date.now().toString(36)}`;
    const dir = join(rt.config.dataDir, 'snapshots');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${id}.json`), JSON.stringify({ cluster_id: rt.state.cluster_id, organization: org, vault: slug, height, blocks: vault.blocks }) + '\n');
    this.record(rt.name, 'ledger.snapshot', { organization: org, vault: slug, height, snapshotId: id });
    return { snapshot_id: id, height };
  }

  private write(rt: NodeRuntime, req: { organization_slug?: { id?: string } | null; vault?: { slug?: string } | null; idempotency_key?: string; payload?: Buffer }): object {
    const { org, slug } = this.vaultRef(rt, req);
    const cid = rt.state.cluster_id;
    const leader = this.leaderOf(rt);
    const l = leader ? this.nodes.get(leader) : undefined;
    if (!l || !l.running) {
      throw new RpcError(
        grpc.status.UNAVAILABLE,
        `no quorum: cluster ${cid || '(none)'} has no leader (${this.votes(rt)} of ${rt.state.members.length} voters reachable); writes resume when a majority runs`,
      );
    }
    const key = req.idempotency_key ?? '';
    const seen = key ? l.state.idempotency[key] : undefined;
    if (seen) return { height: seen.height, duplicate: true };
    const lv = l.state.organizations[org]?.vaults[slug];
    if (!lv) throw new RpcError(grpc.status.NOT_FOUND, `vault ${org}/${slug} not found on leader ${l.name}`);
    const block = appendBlock(lv, Buffer.from(req.payload ?? Buffer.alloc(0)), key || undefined);
    l.state.commit_index++;
    if (key) rememberKey(l.state, key, { organization: org, vault: slug, height: block.height });
    this.persist(l);
    for (const m of this.nodes.values()) {
      if (m === l || !m.running || m.state.cluster_id !== cid || !l.state.members.includes(m.name)) continue;
      const mv = m.state.organizations[org]?.vaults[slug];
      if (mv && vaultHeight(mv) === block.height - 1) {
        mv.blocks.push({ ...block });
        m.state.commit_index = l.state.commit_index;
        if (key) rememberKey(m.state, key, { organization: org, vault: slug, height: block.height });
      } else {
        m.state = this.replicaOf(l.state);
      }
      this.persist(m);
    }
    this.record(rt.name, 'ledger.write', { organization: org, vault: slug, height: block.height, leader: l.name, idempotencyKey: key || undefined });
    return { height: block.height, duplicate: false };
  }

  private serveMetrics(rt: NodeRuntime, req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n');
      return;
    }
    const leader = this.leaderOf(rt);
    const lines = [
      '# HELP ledger_up Whether the ledger process is up.',
      '# TYPE ledger_up gauge',
      `ledger_up ${rt.running ? 1 : 0}`,
      '# HELP ledger_is_leader Whether this node is the Raft leader of its cluster.',
      '# TYPE ledger_is_leader gauge',
      `ledger_is_leader ${leader === rt.name ? 1 : 0}`,
      '# HELP ledger_commit_index Highest committed log index on this node.',
      '# TYPE ledger_commit_index gauge',
      `ledger_commit_index ${rt.state.commit_index}`,
      '# HELP ledger_term Current Raft term.',
      '# TYPE ledger_term gauge',
      `ledger_term ${this.termOf(rt)}`,
      '# HELP ledger_determinism_bug_total Vault state divergences detected (state root differs from the leader).',
      '# TYPE ledger_determinism_bug_total counter',
    ];
    for (const [org, o] of Object.entries(rt.state.organizations)) {
      for (const slug of Object.keys(o.vaults)) {
        lines.push(`ledger_determinism_bug_total{organization="${org}",vault="${slug}"} ${rt.bugs.get(`${org}/${slug}`) ?? 0}`);
      }
    }
    if (!Object.keys(rt.state.organizations).length) lines.push('ledger_determinism_bug_total 0');
    lines.push('# HELP ledger_vault_height Height of each vault\'s tip.', '# TYPE ledger_vault_height gauge');
    for (const [org, o] of Object.entries(rt.state.organizations)) {
      for (const [slug, v] of Object.entries(o.vaults)) lines.push(`ledger_vault_height{organization="${org}",vault="${slug}"} ${vaultHeight(v)}`);
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(lines.join('\n') + '\n');
  }

  // -------------------------------------------------------------- helpers --

  private divergedVaults(rt: NodeRuntime): string[] {
    const out: string[] = [];
    for (const [org, o] of Object.entries(rt.state.organizations)) {
      for (const [slug, v] of Object.entries(o.vaults)) if (v.status === 'DIVERGED') out.push(`${org}/${slug}`);
    }
    return out;
  }

  private vaultCount(s: LedgerState): number {
    return Object.values(s.organizations).reduce((n, o) => n + Object.keys(o.vaults).length, 0);
  }

  private persist(rt: NodeRuntime): void {
    if (!hasData(rt.state)) return;
    saveState(rt.config.dataDir, rt.state);
    rt.knownData.set(rt.config.dataDir, rt.state.cluster_id);
  }

  /** A path as the host sees it ("/data"), for messages. */
  private hostPath(rt: NodeRuntime, p: string): string {
    const r = relative(rt.root, p);
    return '/' + r.split(sep).join('/');
  }

  private logLine(rt: NodeRuntime, line: string): void {
    rt.log.push(`${new Date().toISOString()} ${rt.name} inferadb-ledger: ${line}`);
    if (rt.log.length > LOG_LINES) rt.log.splice(0, rt.log.length - LOG_LINES);
  }

  private record(node: string, effect: string, detail: Record<string, unknown>): void {
    this.effects?.record({ cluster: this.cluster, node, effect, detail });
  }

  /** Runs one lifecycle operation of a node at a time (shims may arrive concurrently). */
  private serial<T>(rt: NodeRuntime, fn: () => Promise<T>): Promise<T> {
    const p = rt.lock.then(fn, fn);
    rt.lock = p.catch(() => undefined);
    return p;
  }

  private async waitFor(cond: () => boolean, withinMs: number, what: string): Promise<void> {
    const deadline = Date.now() + withinMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`lab ledger: timed out after ${withinMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function usage(message: string): ShimResult {
  return { stdout: '', stderr: message.endsWith('\n') ? message : message + '\n', exitCode: 2 };
}

function fail(code: number, message: string): ShimResult {
  return { stdout: '', stderr: message + '\n', exitCode: code };
}

/** Seed 002's bucket name. */
const BUCKET = 'ledger-backups';

/** Writes `<dir>/snapshot.tar.gz` holding a data directory with `state` (a real gzip'd tar, as the runbook extracts it). */
function writeBackup(dir: string, state: LedgerState): void {
  const staging = join(dir, '.staging');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  saveState(staging, state);
  const r = spawnSync('tar', ['-czf', join(dir, 'snapshot.tar.gz'), '-C', staging, '.'], { encoding: 'utf8' });
  rmSync(staging, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`lab ledger: cannot write the backup (tar: ${r.stderr || r.error?.message})`);
}

/** Where the lab's buckets live, from a host root (`<lab>/hosts/<cluster>/<node>` -> `<lab>/s3`). */
export function labS3Root(hostRoot: string): string {
  return resolve(hostRoot, '..', '..', '..', 's3');
}

/** Every file under a directory, as paths relative to it (dot files included), sorted. */
function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? join(prefix, e.name) : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, rel));
    else if (e.isFile()) out.push(rel);
  }
  return out.sort();
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

/** `rm -rf dir/*` (and dot files): the directory stays, its content goes. */
function emptyDir(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir)) rmSync(join(dir, e), { recursive: true, force: true });
}
