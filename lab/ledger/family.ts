/**
 * The ledger family as the lab core sees it ({@link LabFamily}): options,
 * start (units, backend, forming and seeding), stop, endpoints and inventory
 * settings, the shim and fault entry points, health, and what the DR
 * region needs from its primary.
 *
 * @module
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { EffectLog } from '../effects';
import type { ClusterHealth, HostControl, LabFamily, LabNodeEndpoint, NodeHealth, ShimCall, ShimResult } from '../family';
import type { LedgerBackend, LedgerBackendKind } from './backend';
import { call, nodeView } from './client';
import { inferadbLedger, systemctl, type ShimTarget } from './commands';
import { archive, breakFault, kill, LEDGER_FAULTS, type FaultCtx } from './faults';
import { RealBackend, requireLedgerBinary } from './real';
import { ARCHIVE_KEY, aws, BACKUP_BUCKET, labS3Root, REPLICA_BUCKET } from './s3';
import { formCluster, LAB_LEDGER_SEED, seedData, type SeedResult } from './seed';
import type { SimTimings } from './sim/cluster';
import { SimBackend } from './sim/node';
import { labDirOf, planUnits, SERVICE_UNIT, type LedgerUnit } from './units';

/** Constructor options of {@link LedgerFamily}. */
export interface LedgerFamilyOptions {
  /** Inventory cluster name; default "lab-ledger". */
  cluster?: string;
  /** Number of voters, named `<nodePrefix>1..N`; default 3. */
  nodes?: number;
  /** Node names are `<prefix>1..N`; default "node". */
  nodePrefix?: string;
  /** First gRPC port (node i gets basePort+i, its metrics basePort+100+i); 0 (default): free loopback ports picked at start. */
  basePort?: number;
  /** `sim` (default): the simulation; `real`: `inferadb-ledger` processes (see ./real). */
  backend?: LedgerBackendKind;
  /** The real binary (default: LIFEBOAT_LEDGER_BIN, else ../shared/targets/inferadb-ledger/bin/inferadb-ledger from the repository root). */
  binary?: string;
  /** The simulation's timings (see {@link SimTimings}). */
  sim?: Partial<SimTimings>;
  /**
   * Standby machines (the DR region): the units are installed but stopped and
   * the data directories empty; nothing is formed or seeded. Default false.
   */
  standby?: boolean;
  /** The data directory's parent under the host root ('' = the root, the default; the DR region's `dr-region`). */
  workdir?: string;
  /** Bound on forming and seeding; default 60 s (sim) or 300 s (real). */
  startTimeoutMs?: number;
}

/** The inferadb ledger cluster of the lab: simulated, or real processes. */
export class LedgerFamily implements LabFamily {
  readonly system = 'ledger';
  readonly cluster: string;
  readonly nodeNames: string[];
  readonly tools = ['systemctl', 'inferadb-ledger', 'aws'];
  readonly faults: string[];
  readonly backendKind: LedgerBackendKind;
  /** The simulation's timings this family was given (its DR region uses the same). */
  readonly simTimings?: Partial<SimTimings>;
  /** The inventory cluster of this cluster's DR region, when the lab runs one (`settings.drCluster`). */
  drCluster?: string;
  /** What the seed made (the user's slug, the vault's height); undefined before start or on standby. */
  seeded?: SeedResult;

  private readonly opts: LedgerFamilyOptions;
  private backend?: LedgerBackend;
  private units: LedgerUnit[] = [];
  private readonly locks = new Map<string, Promise<unknown>>();
  private effects?: EffectLog;
  private s3Root = '';

  constructor(opts: LedgerFamilyOptions = {}) {
    this.opts = opts;
    this.cluster = opts.cluster ?? 'lab-ledger';
    const count = opts.nodes ?? 3;
    if (!Number.isInteger(count) || count < 1 || count > 9) throw new Error(`lab ledger: nodes must be 1..9, got ${count}`);
    const prefix = opts.nodePrefix ?? 'node';
    if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(prefix)) throw new Error(`lab ledger: bad node prefix "${prefix}"`);
    this.nodeNames = Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
    this.backendKind = opts.backend ?? 'sim';
    this.simTimings = opts.sim;
    this.faults = opts.standby ? [] : LEDGER_FAULTS.filter((f) => this.backendKind === 'sim' || f !== 'ledger.vault-divergence-stuck');
  }

  /**
   * Plans the units, cleans what an earlier lab left (its processes, the
   * nodes' data and set-aside directories, exports), then, unless standby,
   * starts every unit, forms the cluster and seeds it (bounded).
   */
  async start(ctx: { hostRoot(node: string): string; effects: EffectLog; hosts?: HostControl }): Promise<void> {
    if (this.backend) throw new Error('lab ledger: already started');
    this.effects = ctx.effects;
    const root0 = ctx.hostRoot(this.nodeNames[0]!);
    this.s3Root = labS3Root(root0);
    mkdirSync(join(this.s3Root, this.opts.standby ? REPLICA_BUCKET : BACKUP_BUCKET), { recursive: true });
    this.units = await planUnits(this.nodeNames, ctx.hostRoot, this.opts.basePort ?? 0, this.opts.workdir ?? '');
    if (this.backendKind === 'real') {
      this.backend = new RealBackend(this.cluster, requireLedgerBinary(this.opts.binary), labDirOf(root0));
    } else {
      const sim = new SimBackend(this.cluster, this.opts.sim);
      sim.attach(ctx.effects, ctx.hosts);
      this.backend = sim;
    }
    try {
      await this.backend.prepare(this.units);
      for (const u of this.units) cleanHost(u);
      if (this.opts.standby) return;
      const within = this.opts.startTimeoutMs ?? (this.backendKind === 'real' ? 300_000 : 60_000);
      await formCluster(this.backend, this.units, within);
      this.seeded = await seedData(this.units, within);
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Kills every process of the family (real: every `inferadb-ledger` it started). Records nothing. */
  async stop(): Promise<void> {
    const b = this.backend;
    if (!b) return;
    await b.shutdown();
  }

  endpoints(): LabNodeEndpoint[] {
    if (this.units.length === 0) throw new Error('lab ledger: endpoints() before start()');
    return this.units.map((u) => ({ name: u.node, roles: ['voter'], grpc: { address: u.listen }, metricsUrl: `http://${u.metrics}/metrics` }));
  }

  settings(): Record<string, string | number | boolean> {
    return {
      service: SERVICE_UNIT,
      binary: 'inferadb-ledger',
      // Relative to the SSH working directory: the lab's hosts are directories, not chroots.
      dataDir: 'data',
      exportDir: 'exports',
      backupSource: `s3://${BACKUP_BUCKET}/${ARCHIVE_KEY}`,
      recoveryEmail: 'lifeboat-recovery@lab.example',
      ...(this.drCluster ? { drCluster: this.drCluster } : {}),
    };
  }

  /** The unit of a node (its addresses and data directory). */
  unit(node: string): LedgerUnit {
    const u = this.units.find((x) => x.node === node);
    if (!u) throw new Error(`lab ledger: no node ${node} in ${this.cluster}`);
    return u;
  }

  async shim(c: ShimCall): Promise<ShimResult> {
    const b = this.backend;
    if (!b || !this.nodeNames.includes(c.node)) return { stdout: '', stderr: `lab ledger: no running lab node "${c.node}"\n`, exitCode: 127 };
    const record = (effect: string, detail: Record<string, unknown>): void => {
      this.effects?.record({ cluster: this.cluster, node: c.node, effect, detail });
    };
    const t: ShimTarget = { backend: b, unit: this.unit(c.node), record, serial: (fn) => this.serial(c.node, fn) };
    switch (c.tool) {
      case 'systemctl':
        return systemctl(t, c.argv);
      case 'inferadb-ledger':
        return inferadbLedger(t, c.argv);
      case 'aws':
        return aws(this.s3Root, c, record);
      default:
        return { stdout: '', stderr: `${c.tool}: command not found\n`, exitCode: 127 };
    }
  }

  private serial<T>(node: string, fn: () => Promise<T>): Promise<T> {
    const p = (this.locks.get(node) ?? Promise.resolve()).then(fn, fn);
    this.locks.set(
      node,
      p.catch(() => undefined),
    );
    return p;
  }

  private faultCtx(): FaultCtx {
    const b = this.backend;
    if (!b) throw new Error('lab ledger: start the lab before breaking it');
    return {
      backend: b,
      units: this.units,
      s3Root: this.s3Root,
      record: (node, effect, detail) => this.effects?.record({ cluster: this.cluster, node, effect, detail }),
      serial: (node, fn) => this.serial(node, fn),
      ...(b instanceof SimBackend ? { pinDivergence: (o: string, v: string) => b.pinDivergence(o, v) } : {}),
    };
  }

  async breakFault(fault: string): Promise<void> {
    if (!this.faults.includes(fault)) throw new Error(`lab ledger: unknown fault "${fault}" for ${this.cluster} (${this.backendKind}); known: ${this.faults.join(', ')}`);
    await breakFault(this.faultCtx(), fault, this.cluster);
  }

  /** Writes an export of the running cluster's data to a file (the DR region's replication). */
  async exportTo(path: string): Promise<number> {
    return archive(this.faultCtx(), path, this.cluster);
  }

  /** kill -9 of every node (data stays), recorded as `fault`'s. */
  async killAll(fault: string): Promise<void> {
    const c = this.faultCtx();
    for (const u of this.units) await kill(c, u.node, fault);
  }

  /** Whether the cluster serves: a node answers with a leader that answers as that leader. */
  async serves(): Promise<boolean> {
    for (const u of this.units) {
      if (!this.backend?.running(u.node)) continue;
      const v = await nodeView(u.listen, 'health');
      const m = v && v.leaderId !== '0' ? v.members.find((x) => x.id === v.leaderId) : undefined;
      if (m && (await nodeView(m.address, 'health'))?.nodeId === v!.leaderId) return true;
    }
    return false;
  }

  /** Whether any node's process runs. */
  anyRunning(): boolean {
    return this.units.some((u) => this.backend?.running(u.node));
  }

  async health(): Promise<ClusterHealth> {
    const nodes: NodeHealth[] = [];
    const ids = new Set<string>();
    for (const u of this.units) {
      if (!this.backend?.running(u.node)) {
        nodes.push({ node: u.node, state: 'down', detail: 'service stopped' });
        continue;
      }
      const v = await nodeView(u.listen, 'health');
      const h = await call(u.listen, 'HealthService', 'Check', {}, 2000, 'health').catch(() => undefined);
      if (!v || !h) {
        nodes.push({ node: u.node, state: 'down', detail: 'process runs, gRPC does not answer' });
        continue;
      }
      if (v.clusterId !== '0') ids.add(v.clusterId);
      // The seeded vault's health on this replica (absent on a node that does not hold it).
      const vh = await call(u.listen, 'HealthService', 'Check', SEED_VAULT, 2000, 'health').catch(() => undefined);
      const vault = vh?.details?.health_status as string | undefined;
      const state =
        v.state === 'uninitialized' ? 'uninitialized' : h.status !== 'HEALTH_STATUS_HEALTHY' ? (v.leaderId === '0' ? 'no-leader' : 'degraded') : vault && vault !== 'healthy' ? `vault-${vault}` : 'up';
      nodes.push({
        node: u.node,
        state,
        detail: `node ${v.nodeId}, cluster ${v.clusterId}, leader ${v.leaderId}, term ${v.term}: ${h.message} (${h.details?.['dep:peer_reachable'] ?? ''})${vault ? `; vault ${LAB_LEDGER_SEED.vault} ${vault}` : ''}`,
      });
    }
    const bad = nodes.filter((n) => n.state !== 'up');
    const healthy = bad.length === 0 && ids.size === 1;
    return {
      cluster: this.cluster,
      system: this.system,
      healthy,
      summary: healthy
        ? `${nodes.length}/${nodes.length} voters healthy in cluster ${[...ids][0]} (${this.backendKind}); vault ${LAB_LEDGER_SEED.organization}/${LAB_LEDGER_SEED.vault}`
        : [...bad.map((n) => `${n.node} ${n.state}`), ...(ids.size > 1 ? [`${ids.size} cluster ids: ${[...ids].join(', ')}`] : [])].join('; '),
      nodes,
    };
  }
}

const SEED_VAULT = { organization: { slug: LAB_LEDGER_SEED.organization }, vault: { slug: LAB_LEDGER_SEED.vault } };

/** A fresh machine: no data, no set-aside data, no exports from an earlier lab. */
function cleanHost(u: LedgerUnit): void {
  const parent = join(u.data, '..');
  if (existsSync(parent)) {
    for (const e of readdirSync(parent)) {
      if (e === 'data' || e.startsWith('data.lifeboat-') || e === 'exports') rmSync(join(parent, e), { recursive: true, force: true });
    }
  }
  mkdirSync(u.data, { recursive: true });
}
