/**
 * The gossip family as the lab core sees it ({@link LabFamily}): options,
 * start and stop, endpoints and inventory settings, the `systemctl` and
 * `timeout` shims, faults and health, over either backend (the simulation
 * or real plumtree-node processes in network namespaces).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EffectLog } from '../effects';
import type { ClusterHealth, HostControl, LabFamily, LabNodeEndpoint, NodeHealth, ShimCall, ShimResult } from '../family';
import { passthrough } from '../shims';
import type { GossipBackend, GossipBackendKind } from './backend';
import { peersOf, syncOf, until } from './client';
import { breakFault, GOSSIP_FAULTS, type FaultContext } from './faults';
import { RealGossipBackend } from './real/backend';
import { restartablePort } from '../ports';
import { SimBackend } from './sim/backend';
import { adminEffect, EAGER_FANOUT, GOSSIP_CACHE_DIR, GOSSIP_DATA_DIR, RUNBOOK_SEED_PORT, SERVICE, type GossipNodeSpec } from './spec';

export interface GossipOptions {
  cluster?: string;
  /** Number of nodes (at least 4); default 5. */
  nodes?: number;
  /** Number of seed nodes; default 2. */
  seeds?: number;
  /** First HTTP port (node i gets basePort + i - 1); 0 for ephemeral (kept across restarts). */
  basePort?: number;
  /** The simulation's first memberlist port; 0 for ephemeral. The real nodes use 7946 in their namespaces. */
  seedBasePort?: number;
  /** Where the admin token file goes (the inventory names it as `file:`). */
  secretsDir?: string;
  /** The lab directory (logs of the real nodes; the token when no secretsDir). */
  dir?: string;
  /** `sim` (default) or `real`. */
  backend?: GossipBackendKind;
  /** The simulation's tick; default 100 ms. */
  tickMs?: number;
}

/** The unit of a node, as systemd keeps it. */
interface Unit {
  /** Why the last start or process failed; undefined: not failed. */
  failed?: string;
}

/** The plumtree gossip cluster (seed 003). */
export class GossipFamily implements LabFamily {
  readonly system = 'gossip';
  readonly cluster: string;
  readonly nodeNames: string[];
  readonly tools = ['systemctl', 'timeout'];
  readonly faults = [...GOSSIP_FAULTS];
  readonly backendKind: GossipBackendKind;

  private readonly specs: GossipNodeSpec[];
  private readonly units = new Map<string, Unit>();
  private readonly token = randomBytes(24).toString('hex');
  private tokenPath = '';
  private effects?: EffectLog;
  private hosts?: HostControl;
  private backendImpl?: GossipBackend;

  constructor(private readonly opts: GossipOptions = {}) {
    const n = opts.nodes ?? 5;
    if (!Number.isInteger(n) || n < 4) throw new Error(`gossip cluster needs at least 4 nodes (got ${n})`);
    const seeds = Math.min(Math.max(opts.seeds ?? 2, 1), n - 1);
    this.cluster = opts.cluster ?? 'lab-gossip';
    this.backendKind = opts.backend ?? 'sim';
    this.specs = Array.from({ length: n }, (_, i) => ({
      name: `gossip${i + 1}`,
      roles: i < seeds ? ['seed'] : ['member'],
      seed: i < seeds,
      root: '',
      httpPort: opts.basePort ? opts.basePort + i : 0,
      addr: '',
    }));
    this.nodeNames = this.specs.map((x) => x.name);
  }

  /** The backend (after start). */
  get backend(): GossipBackend {
    if (!this.backendImpl) throw new Error(`${this.cluster}: not started`);
    return this.backendImpl;
  }

  /** The nodes (after start: roots, ports and addresses set). */
  get nodes(): readonly GossipNodeSpec[] {
    return this.specs;
  }

  /** The admin token (for the lab's own tests). */
  get adminToken(): string {
    return this.token;
  }

  private spec(node: string): GossipNodeSpec {
    const s = this.specs.find((x) => x.name === node);
    if (!s) throw new Error(`${this.cluster}: no node ${node}`);
    return s;
  }

  private record(node: string, effect: string, detail?: Record<string, unknown>): void {
    this.effects?.record({ cluster: this.cluster, node, effect, ...(detail ? { detail } : {}) });
  }

  async start(ctx: { hostRoot(node: string): string; effects: EffectLog; hosts?: HostControl }): Promise<void> {
    this.effects = ctx.effects;
    this.hosts = ctx.hosts;
    const onAdmin = (node: string, action: string, changed: boolean): void => {
      const effect = adminEffect(action, changed);
      if (effect) this.record(node, effect);
    };
    const dir = this.opts.secretsDir ?? this.opts.dir;
    if (!dir) throw new Error(`${this.cluster}: give the family a secretsDir or a dir for its admin token`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.tokenPath = join(dir, `${this.cluster}-auth-token`);
    writeFileSync(this.tokenPath, this.token + '\n', { mode: 0o600 });
    chmodSync(this.tokenPath, 0o600);
    for (const s of this.specs) {
      s.root = ctx.hostRoot(s.name);
      mkdirSync(join(s.root, GOSSIP_CACHE_DIR), { recursive: true });
      if (!s.httpPort) s.httpPort = await restartablePort(); // a node restarts on it: below the ephemeral range
    }
    this.backendImpl =
      this.backendKind === 'real'
        ? new RealGossipBackend(this.opts.dir ?? dir, onAdmin)
        : new SimBackend({ memberlistBasePort: this.opts.seedBasePort, tickMs: this.opts.tickMs, apiRefused: (n) => this.hosts?.apiRefused(n) ?? false, onAdmin });
    await this.backendImpl.prepare(this.specs, this.tokenPath);
    // Seeds first, as an operator brings a cluster up; each start waits for its API.
    for (const s of [...this.specs.filter((x) => x.seed), ...this.specs.filter((x) => !x.seed)]) await this.backend.start(s.name);
    // Formed: every node sees all the others, and its tree is built (the library promotes lazy peers to eager within a second).
    const eager = Math.min(EAGER_FANOUT, this.specs.length - 1);
    await until(
      `${this.cluster}: every node seeing all ${this.specs.length} with ${eager} eager peers`,
      async () => (await Promise.all(this.specs.map((s) => peersOf(s.httpPort)))).every((p) => p?.members.length === this.specs.length && p.peers.eager.length === eager),
      60_000,
    );
  }

  async stop(): Promise<void> {
    await this.backendImpl?.shutdown();
  }

  endpoints(): LabNodeEndpoint[] {
    return this.specs.map((n) => ({
      name: n.name,
      roles: n.roles,
      http: { baseUrl: `http://127.0.0.1:${n.httpPort}`, authToken: this.tokenPath ? `file:${this.tokenPath}` : this.token },
      metricsUrl: `http://127.0.0.1:${n.httpPort}/metrics`,
    }));
  }

  settings(): Record<string, string | number | boolean> {
    const seeds = this.specs.filter((n) => n.seed);
    return {
      serviceName: SERVICE,
      dataDir: GOSSIP_DATA_DIR,
      cacheDir: GOSSIP_CACHE_DIR,
      seedPort: Number(seeds[0]?.addr.split(':').pop()) || RUNBOOK_SEED_PORT,
      seeds: seeds.map((n) => n.addr).join(','),
      eagerFanout: EAGER_FANOUT,
    };
  }

  /** The memberlist address of a node (`ip:port`). */
  addressOf(node: string): string {
    return this.spec(node).addr;
  }

  async shim(call: ShimCall): Promise<ShimResult> {
    if (!this.nodeNames.includes(call.node)) return { stdout: '', stderr: `lab: ${call.node} is not a node of ${this.cluster}\n`, exitCode: 125 };
    if (call.tool === 'systemctl') return this.systemctl(call.node, call.argv);
    if (call.tool === 'timeout') {
      // The runbook's `nc -zv seed 7946`, run inside the node's network (the real backend's namespace).
      const [secs, ...rest] = call.argv;
      if (!secs || rest.length === 0) return passthrough();
      if (this.backend.kind === 'sim' && this.backend.isCut(call.node)) return { stdout: '', stderr: '', exitCode: 124 };
      return passthrough([secs, ...this.backend.inNetwork(call.node, rest)]);
    }
    return passthrough();
  }

  /** `systemctl {start|stop|restart|is-active|status} plumtree`. */
  private async systemctl(node: string, args: string[]): Promise<ShimResult> {
    const words = args.filter((a) => !a.startsWith('-'));
    const verb = words[0];
    const unit = words[1]?.replace(/\.service$/, '');
    if (!verb || unit !== SERVICE) return { stdout: '', stderr: `Unit ${unit ?? ''}.service could not be found.\n`, exitCode: 5 };
    const u = this.units.get(node) ?? {};
    this.units.set(node, u);
    const running = this.backend.running(node);
    switch (verb) {
      case 'start':
        return running ? { stdout: '', exitCode: 0 } : this.operatorStart(node, 'systemctl start');
      case 'stop':
        await this.operatorStop(node, 'systemctl stop');
        return { stdout: '', exitCode: 0 };
      case 'restart':
        await this.operatorStop(node, 'systemctl restart');
        return this.operatorStart(node, 'systemctl restart');
      case 'is-active':
        if (running) return { stdout: 'active\n', exitCode: 0 };
        return { stdout: this.backend.describe(node).restarting ? 'activating\n' : u.failed ? 'failed\n' : 'inactive\n', exitCode: 3 };
      case 'status': {
        const d = this.backend.describe(node);
        const counter = d.restarts ? `; restart counter is at ${d.restarts}` : '';
        const head = running
          ? `● ${SERVICE}.service - Plumtree gossip node\n     Active: active (running) since ${d.since?.toISOString() ?? '?'}${counter}\n   Main PID: ${d.pid ?? '?'}\n`
          : d.restarting
            ? `○ ${SERVICE}.service - Plumtree gossip node\n     Active: activating (auto-restart) (Result: exit-code: ${d.exited ?? '?'})${counter}\n`
            : `× ${SERVICE}.service - Plumtree gossip node\n     Active: ${u.failed ? `failed (${u.failed})` : 'inactive (dead)'}\n`;
        return { stdout: head + d.log.map((l) => `  ${l}\n`).join(''), exitCode: running ? 0 : 3 };
      }
      default:
        return { stdout: '', stderr: `lab: systemctl ${verb} is not simulated\n`, exitCode: 1 };
    }
  }

  private async operatorStop(node: string, how: string): Promise<void> {
    const pid = this.backend.describe(node).pid;
    if (!this.backend.running(node)) return;
    await this.backend.stop(node, 'SIGTERM');
    this.units.set(node, {});
    this.record(node, 'gossip.stop', { pid, how });
  }

  private async operatorStart(node: string, how: string): Promise<ShimResult> {
    try {
      await this.backend.start(node);
    } catch (err) {
      const why = (err as Error).message;
      this.units.set(node, { failed: why });
      return {
        stdout: '',
        stderr: `Job for ${SERVICE}.service failed because the control process exited with error code.\nSee "systemctl status ${SERVICE}.service" and "journalctl -xeu ${SERVICE}.service" for details.\n${why}\n`,
        exitCode: 1,
      };
    }
    this.units.set(node, {});
    this.record(node, 'gossip.start', { pid: this.backend.describe(node).pid, how });
    return { stdout: '', exitCode: 0 };
  }

  private faultContext(): FaultContext {
    return {
      cluster: this.cluster,
      nodes: this.specs,
      backend: this.backend,
      token: this.token,
      unitStart: async (node) => {
        try {
          await this.backend.start(node);
          this.units.set(node, {});
        } catch (err) {
          this.units.set(node, { failed: (err as Error).message });
        }
      },
      crash: async (node) => {
        if (!this.backend.running(node)) return;
        await this.backend.stop(node, 'SIGKILL');
        this.units.set(node, { failed: 'killed by SIGKILL' });
      },
    };
  }

  async breakFault(fault: string): Promise<void> {
    return breakFault(this.faultContext(), fault);
  }

  async health(): Promise<ClusterHealth> {
    const total = this.specs.length;
    const views = await Promise.all(this.specs.map(async (s) => ({ s, running: this.backend.running(s.name), peers: this.backend.running(s.name) ? await peersOf(s.httpPort) : undefined, sync: this.backend.running(s.name) ? await syncOf(s.httpPort) : undefined })));
    const nodes: NodeHealth[] = views.map(({ s, running, peers }) => {
      if (!running) {
        const d = this.backend.describe(s.name);
        const failed = this.units.get(s.name)?.failed;
        return { node: s.name, state: 'down', detail: d.restarting ? `plumtree restarting (${d.exited ?? '?'})` : failed ? `plumtree failed: ${failed}` : d.exited ? `plumtree not running (${d.exited})` : 'plumtree not running' };
      }
      // A task that panicked (memberlist-core 0.7.0's stale member index, docs/gossip.md) is said beside whatever the node shows.
      const panicked = this.backend.describe(s.name).panicked;
      const and = panicked ? `; a task panicked at ${panicked} (docs/gossip.md): restart this node` : '';
      const at = (state: string, detail: string): NodeHealth => ({ node: s.name, state, detail: detail + and, ...(panicked ? { panicked } : {}) });
      if (!peers) return at('down', 'the API does not answer');
      if (peers.left) return at('left', 'left the cluster');
      const others = peers.members.filter((m) => m !== s.name);
      if (others.length === 0) return at('isolated', 'sees no other member');
      if (peers.members.length < total) return at('split', `sees ${peers.members.join(', ')}`);
      return at('up', `${peers.peers.eager.length} eager, ${peers.peers.lazy.length} lazy`);
    });
    const hashes = new Set(views.filter((v) => v.sync).map((v) => v.sync!.rootHash));
    const up = nodes.filter((x) => x.state === 'up').length;
    const healthy = up === total && hashes.size === 1;
    return {
      cluster: this.cluster,
      system: this.system,
      healthy,
      summary: `${up}/${total} up${hashes.size > 1 ? `, ${hashes.size} diverged states` : ''} (${this.backendKind})`,
      nodes,
    };
  }
}
