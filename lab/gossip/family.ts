/**
 * The gossip family as the lab core sees it ({@link LabFamily}): options,
 * start and stop, endpoints and inventory settings, the shim and fault entry
 * points, and health.
 *
 * @module
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EffectLog } from '../effects';
import type { ClusterHealth, HostControl, LabFamily, LabNodeEndpoint, NodeHealth, ShimCall, ShimResult } from '../family';
import { passthrough } from '../shims';
import { EAGER_FANOUT, GOSSIP_DATA_DIR, GossipCluster, RUNBOOK_SEED_PORT, SERVICE, type GNode } from './cluster';
import { breakFault, GOSSIP_FAULTS } from './faults';
import { startProc, stopProc, systemctl } from './process';

export interface GossipOptions {
  cluster?: string;
  /** Number of nodes (at least 4); default 5. */
  nodes?: number;
  /** Number of seed nodes; default 2. */
  seeds?: number;
  /** First HTTP port (node i gets basePort + i - 1); 0 for ephemeral. */
  basePort?: number;
  /** First seed TCP port; 0 for ephemeral. */
  seedBasePort?: number;
  secretsDir?: string;
  /** Metrics tick; default 100 ms. */
  tickMs?: number;
}

/** The simulated plumtree cluster (seed 003). */
export class GossipFamily implements LabFamily {
  readonly system = 'gossip';
  readonly cluster: string;
  readonly nodeNames: string[];
  readonly tools = ['systemctl'];
  readonly faults = [...GOSSIP_FAULTS];

  private readonly secretsDir?: string;
  private readonly tickMs: number;
  private tokenPath?: string;
  private tick?: NodeJS.Timeout;
  /** The nodes, their membership and files (./cluster), which the API, shims and faults act on. */
  private readonly sim: GossipCluster;

  constructor(opts: GossipOptions = {}) {
    const n = opts.nodes ?? 5;
    if (!Number.isInteger(n) || n < 4) throw new Error(`gossip cluster needs at least 4 nodes (got ${n})`);
    const seeds = Math.min(Math.max(opts.seeds ?? 2, 1), n - 1);
    this.cluster = opts.cluster ?? 'lab-gossip';
    this.secretsDir = opts.secretsDir;
    this.tickMs = opts.tickMs ?? 100;
    const base = opts.basePort ?? 0;
    const seedBase = opts.seedBasePort ?? 0;
    const nodes: GNode[] = Array.from({ length: n }, (_, i) => ({
      name: `gossip${i + 1}`,
      roles: i < seeds ? ['seed'] : ['member'],
      port: base ? base + i : 0,
      seedPort: i < seeds && seedBase ? seedBase + i : 0,
      proc: null,
      left: false,
      isolated: false,
      group: null,
      rebalanced: false,
      syncEnabled: false,
      stateVersion: 1,
      stateWasCorrupt: false,
      graftFailed: 0,
      partitioned: 0,
      malformed: 0,
      delivered: 0,
    }));
    this.sim = new GossipCluster(this.cluster, nodes);
    this.nodeNames = nodes.map((x) => x.name);
  }

  async start(ctx: { hostRoot(node: string): string; effects: EffectLog; hosts?: HostControl }): Promise<void> {
    this.sim.hostCtl = ctx.hosts;
    this.sim.effects = ctx.effects;
    for (const n of this.sim.nodes) {
      const root = ctx.hostRoot(n.name);
      this.sim.roots.set(n.name, root);
      mkdirSync(join(root, GOSSIP_DATA_DIR, 'cache'), { recursive: true });
      writeFileSync(this.sim.statePath(n), `plumtree-state v1 ${n.name}\n`);
      writeFileSync(this.sim.cachePath(n), `plumtree-cache v1 ${n.name}\n`);
    }
    if (this.secretsDir) {
      mkdirSync(this.secretsDir, { recursive: true, mode: 0o700 });
      this.tokenPath = join(this.secretsDir, `${this.cluster}-auth-token`);
      writeFileSync(this.tokenPath, this.sim.token + '\n', { mode: 0o600 });
      chmodSync(this.tokenPath, 0o600);
    }
    for (const n of this.sim.nodes) await startProc(this.sim, n);
    this.tick = setInterval(() => this.sim.onTick(), this.tickMs);
    this.tick.unref();
  }

  async stop(): Promise<void> {
    if (this.tick) clearInterval(this.tick);
    await Promise.all(this.sim.nodes.map((n) => stopProc(n)));
  }

  endpoints(): LabNodeEndpoint[] {
    return this.sim.nodes.map((n) => ({
      name: n.name,
      roles: n.roles,
      http: { baseUrl: `http://127.0.0.1:${n.port}`, authToken: this.tokenPath ? `file:${this.tokenPath}` : this.sim.token },
      metricsUrl: `http://127.0.0.1:${n.port}/metrics`,
    }));
  }

  settings(): Record<string, string | number | boolean> {
    const seeds = this.sim.nodes.filter((n) => n.roles.includes('seed'));
    return {
      serviceName: SERVICE,
      dataDir: GOSSIP_DATA_DIR,
      cacheDir: `${GOSSIP_DATA_DIR}/cache`,
      seedPort: seeds[0]?.seedPort ?? RUNBOOK_SEED_PORT,
      seeds: seeds.map((n) => `127.0.0.1:${n.seedPort}`).join(','),
      eagerFanout: EAGER_FANOUT,
    };
  }

  /** The TCP seed port of a seed node (0 for members). */
  seedPortOf(node: string): number {
    return this.sim.nodes.find((n) => n.name === node)?.seedPort ?? 0;
  }

  async shim(call: ShimCall): Promise<ShimResult> {
    const node = this.sim.nodes.find((n) => n.name === call.node);
    if (!node) return { stdout: '', stderr: `lab: ${call.node} is not a node of ${this.cluster}\n`, exitCode: 125 };
    if (call.tool === 'systemctl') return systemctl(this.sim, node, call.argv);
    return passthrough();
  }

  async breakFault(fault: string): Promise<void> {
    return breakFault(this.sim, fault);
  }

  async health(): Promise<ClusterHealth> {
    const nodes: NodeHealth[] = this.sim.nodes.map((n) => {
      if (!n.proc) return { node: n.name, state: 'down', detail: this.sim.stateCorrupt(n) ? 'stopped, persistent state corrupted' : 'plumtree not running' };
      if (this.sim.cacheCorrupt(n)) return { node: n.name, state: 'corrupt', detail: 'message cache corrupted' };
      const p = this.sim.peersOf(n);
      if (p.eager.length === 0) return { node: n.name, state: 'isolated', detail: 'no eager peers' };
      if (n.group !== null) return { node: n.name, state: 'split', detail: `group ${n.group}` };
      return { node: n.name, state: 'up', detail: `${p.eager.length} eager, ${p.lazy.length} lazy` };
    });
    const up = nodes.filter((x) => x.state === 'up').length;
    const healthy = up === this.sim.nodes.length;
    const groups = new Set(this.sim.nodes.filter((n) => n.proc).map((n) => n.group));
    return {
      cluster: this.cluster,
      system: this.system,
      healthy,
      summary: `${up}/${this.sim.nodes.length} up${this.sim.split ? ` (${this.sim.split}, ${groups.size} groups)` : ''}`,
      nodes,
    };
  }
}
