/**
 * The simulated gossip (plumtree) cluster (seed 003): N nodes `gossip1..N`, the
 * first `seeds` of them seeds, each with an HTTP API up only while its process runs
 * and, on seeds, a TCP listener on the seed port (the runbook's `nc -zv seed 7946`).
 *
 * - API per node (127.0.0.1): `GET /debug/peers`, `GET /metrics` (Prometheus text),
 *   `GET /health`; with `Authorization: Bearer <token>`: `POST /admin/leave`,
 *   `POST /admin/join {seeds}`, `POST /admin/rebalance`, `POST /admin/cache/clear`,
 *   `POST /admin/sync/enable`.
 * - Membership: running, joined, non-isolated nodes in the same group see each other;
 *   eager = the first {@link EAGER_FANOUT} peers, lazy = the rest.
 * - Persistent state per host: `var/lib/plumtree/data/state.db` and
 *   `var/lib/plumtree/data/cache/cache.db` (real files; a corrupted state file makes
 *   `systemctl start plumtree` fail, a corrupted cache makes the malformed counter rise).
 * - Effects (real transitions only): gossip.leave, gossip.join, gossip.rebalance,
 *   gossip.cache-clear, gossip.sync-enable, gossip.stop, gossip.start, gossip.state-cleared.
 * - Faults: gossip.isolated-node, gossip.partition, gossip.multi-node-failure,
 *   gossip.total-loss, gossip.cache-corruption, gossip.split-brain.
 *
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { join } from 'node:path';
import type { EffectLog } from './effects';
import type { ClusterHealth, HostControl, LabFamily, LabNodeEndpoint, NodeHealth, ShimCall, ShimResult } from './family';
import { passthrough } from './shims';
import { drain, json } from './http-util';

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

export const RUNBOOK_SEED_PORT = 7946;
export const EAGER_FANOUT = 3;
const SERVICE = 'plumtree';
export const GOSSIP_DATA_DIR = 'var/lib/plumtree/data';
const CORRUPT = 'CORRUPT';

interface Proc {
  pid: number;
  server: Server;
  seed?: TcpServer;
  sockets: Set<Socket>;
}

interface GNode {
  name: string;
  roles: string[];
  port: number;
  seedPort: number;
  proc: Proc | null;
  /** Left the membership (admin/leave) or never rejoined. */
  left: boolean;
  /** Fault: network isolated from every peer. */
  isolated: boolean;
  /** Group id under a partition/split brain; null: none. */
  group: number | null;
  rebalanced: boolean;
  syncEnabled: boolean;
  stateVersion: number;
  stateWasCorrupt: boolean;
  graftFailed: number;
  partitioned: number;
  malformed: number;
  delivered: number;
}

export class GossipFamily implements LabFamily {
  readonly system = 'gossip';
  readonly cluster: string;
  readonly nodeNames: string[];
  readonly tools = ['systemctl'];
  readonly faults = [
    'gossip.isolated-node',
    'gossip.partition',
    'gossip.multi-node-failure',
    'gossip.total-loss',
    'gossip.cache-corruption',
    'gossip.split-brain',
  ];

  private readonly nodes: GNode[];
  private readonly secretsDir?: string;
  private readonly token = randomBytes(24).toString('hex');
  private hostCtl?: HostControl;
  private readonly tickMs: number;
  private tokenPath?: string;
  private effects?: EffectLog;
  private roots = new Map<string, string>();
  private tick?: NodeJS.Timeout;
  private nextPid = 7000 + Math.floor(Math.random() * 20000);
  /** 'partition' | 'split-brain' | null: how the current groups came about. */
  private split: 'partition' | 'split-brain' | null = null;

  constructor(opts: GossipOptions = {}) {
    const n = opts.nodes ?? 5;
    if (!Number.isInteger(n) || n < 4) throw new Error(`gossip cluster needs at least 4 nodes (got ${n})`);
    const seeds = Math.min(Math.max(opts.seeds ?? 2, 1), n - 1);
    this.cluster = opts.cluster ?? 'lab-gossip';
    this.secretsDir = opts.secretsDir;
    this.tickMs = opts.tickMs ?? 100;
    const base = opts.basePort ?? 0;
    const seedBase = opts.seedBasePort ?? 0;
    this.nodes = Array.from({ length: n }, (_, i) => ({
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
    this.nodeNames = this.nodes.map((x) => x.name);
  }

  async start(ctx: { hostRoot(node: string): string; effects: EffectLog; hosts?: HostControl }): Promise<void> {
    this.hostCtl = ctx.hosts;
    this.effects = ctx.effects;
    for (const n of this.nodes) {
      const root = ctx.hostRoot(n.name);
      this.roots.set(n.name, root);
      mkdirSync(join(root, GOSSIP_DATA_DIR, 'cache'), { recursive: true });
      writeFileSync(this.statePath(n), `plumtree-state v1 ${n.name}\n`);
      writeFileSync(this.cachePath(n), `plumtree-cache v1 ${n.name}\n`);
    }
    if (this.secretsDir) {
      mkdirSync(this.secretsDir, { recursive: true, mode: 0o700 });
      this.tokenPath = join(this.secretsDir, `${this.cluster}-auth-token`);
      writeFileSync(this.tokenPath, this.token + '\n', { mode: 0o600 });
      chmodSync(this.tokenPath, 0o600);
    }
    for (const n of this.nodes) await this.startProc(n);
    this.tick = setInterval(() => this.onTick(), this.tickMs);
    this.tick.unref();
  }

  async stop(): Promise<void> {
    if (this.tick) clearInterval(this.tick);
    await Promise.all(this.nodes.map((n) => this.stopProc(n)));
  }

  endpoints(): LabNodeEndpoint[] {
    return this.nodes.map((n) => ({
      name: n.name,
      roles: n.roles,
      http: { baseUrl: `http://127.0.0.1:${n.port}`, authToken: this.tokenPath ? `file:${this.tokenPath}` : this.token },
      metricsUrl: `http://127.0.0.1:${n.port}/metrics`,
    }));
  }

  settings(): Record<string, string | number | boolean> {
    const seeds = this.nodes.filter((n) => n.roles.includes('seed'));
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
    return this.nodes.find((n) => n.name === node)?.seedPort ?? 0;
  }

  async shim(call: ShimCall): Promise<ShimResult> {
    const node = this.nodes.find((n) => n.name === call.node);
    if (!node) return { stdout: '', stderr: `lab: ${call.node} is not a node of ${this.cluster}\n`, exitCode: 125 };
    if (call.tool === 'systemctl') return this.systemctl(node, call.argv);
    return passthrough();
  }

  async breakFault(fault: string): Promise<void> {
    const running = this.nodes.filter((n) => n.proc);
    switch (fault) {
      case 'gossip.isolated-node': {
        const victim = running.find((n) => !n.roles.includes('seed')) ?? running[0];
        if (!victim) throw new Error(`${this.cluster}: no running node to isolate`);
        victim.isolated = true;
        return;
      }
      case 'gossip.partition':
      case 'gossip.split-brain': {
        const half = Math.ceil(this.nodes.length / 2);
        this.split = fault === 'gossip.partition' ? 'partition' : 'split-brain';
        this.nodes.forEach((n, i) => {
          n.group = i < half ? 0 : 1;
          n.rebalanced = false;
          n.syncEnabled = false;
          if (this.split === 'split-brain') n.stateVersion += n.group === 0 ? 1 : 2; // diverging state
        });
        return;
      }
      case 'gossip.multi-node-failure': {
        const members = this.nodes.filter((n) => !n.roles.includes('seed'));
        const k = Math.max(1, Math.floor((this.nodes.length - 1) / 2)); // a minority
        for (const n of members.slice(-k)) await this.stopProc(n); // a crash: no effect
        return;
      }
      case 'gossip.total-loss':
        for (const n of this.nodes) {
          await this.stopProc(n);
          mkdirSync(join(this.rootOf(n), GOSSIP_DATA_DIR), { recursive: true });
          writeFileSync(this.statePath(n), `${CORRUPT} plumtree-state: checksum mismatch\n`);
          n.stateWasCorrupt = true;
        }
        return;
      case 'gossip.cache-corruption': {
        const victim = running.find((n) => !n.roles.includes('seed')) ?? running[0];
        if (!victim) throw new Error(`${this.cluster}: no running node`);
        mkdirSync(join(this.rootOf(victim), GOSSIP_DATA_DIR, 'cache'), { recursive: true });
        writeFileSync(this.cachePath(victim), `${CORRUPT} \u0000\u0001 truncated message cache\n`);
        return;
      }
      default:
        throw new Error(`${this.cluster} knows no fault "${fault}"; known: ${this.faults.join(', ')}`);
    }
  }

  async health(): Promise<ClusterHealth> {
    const nodes: NodeHealth[] = this.nodes.map((n) => {
      if (!n.proc) return { node: n.name, state: 'down', detail: this.stateCorrupt(n) ? 'stopped, persistent state corrupted' : 'plumtree not running' };
      if (this.cacheCorrupt(n)) return { node: n.name, state: 'corrupt', detail: 'message cache corrupted' };
      const p = this.peersOf(n);
      if (p.eager.length === 0) return { node: n.name, state: 'isolated', detail: 'no eager peers' };
      if (n.group !== null) return { node: n.name, state: 'split', detail: `group ${n.group}` };
      return { node: n.name, state: 'up', detail: `${p.eager.length} eager, ${p.lazy.length} lazy` };
    });
    const up = nodes.filter((x) => x.state === 'up').length;
    const healthy = up === this.nodes.length;
    const groups = new Set(this.nodes.filter((n) => n.proc).map((n) => n.group));
    return {
      cluster: this.cluster,
      system: this.system,
      healthy,
      summary: `${up}/${this.nodes.length} up${this.split ? ` (${this.split}, ${groups.size} groups)` : ''}`,
      nodes,
    };
  }

  // ------------------------------------------------------- membership ----

  /** Whether a and b can talk: both running, joined, not isolated, same group. */
  private linked(a: GNode, b: GNode): boolean {
    return a !== b && !!a.proc && !!b.proc && !a.left && !b.left && !a.isolated && !b.isolated && a.group === b.group;
  }

  peersOf(n: GNode): { eager: string[]; lazy: string[]; members: string[] } {
    const peers = this.nodes.filter((x) => this.linked(n, x)).map((x) => x.name);
    return { eager: peers.slice(0, EAGER_FANOUT), lazy: peers.slice(EAGER_FANOUT), members: peers.length ? [n.name, ...peers] : n.left ? [] : [n.name] };
  }

  private onTick(): void {
    for (const n of this.nodes) {
      if (!n.stateWasCorrupt) continue;
      if (!this.stateCorrupt(n)) {
        n.stateWasCorrupt = false;
        this.record(n, 'gossip.state-cleared');
      }
    }
    for (const n of this.nodes) {
      if (!n.proc) continue;
      // graft failures: peers it knows about (not left) that are down
      const down = this.nodes.filter((x) => x !== n && !x.proc && !x.left).length;
      if (down > 0 && !n.left && !n.isolated) n.graftFailed += down;
      if (this.split === 'partition' && n.group !== null) n.partitioned += 1;
      if (this.cacheCorrupt(n)) n.malformed += 1;
      if (this.peersOf(n).eager.length > 0) n.delivered += 1;
    }
  }

  private rootOf(n: GNode): string {
    const r = this.roots.get(n.name);
    if (!r) throw new Error(`${this.cluster}: not started`);
    return r;
  }
  private statePath(n: GNode): string {
    return join(this.rootOf(n), GOSSIP_DATA_DIR, 'state.db');
  }
  private cachePath(n: GNode): string {
    return join(this.rootOf(n), GOSSIP_DATA_DIR, 'cache', 'cache.db');
  }
  private stateCorrupt(n: GNode): boolean {
    return fileStarts(this.statePath(n), CORRUPT);
  }
  private cacheCorrupt(n: GNode): boolean {
    return fileStarts(this.cachePath(n), CORRUPT);
  }

  // --------------------------------------------------------- processes ----

  private async startProc(n: GNode): Promise<void> {
    const server = createServer((req, res) => {
      this.handleHttp(n, req, res).catch((err: unknown) => json(res, 500, { error: (err as Error).message }));
    });
    server.keepAliveTimeout = 500;
    await listen(server, n.port);
    n.port = (server.address() as { port: number }).port;
    const sockets = new Set<Socket>();
    let seed: TcpServer | undefined;
    if (n.roles.includes('seed')) {
      seed = createTcpServer((s) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => undefined);
        s.end();
      });
      try {
        await listen(seed, n.seedPort);
      } catch (err) {
        await new Promise<void>((r) => server.close(() => r()));
        throw err;
      }
      n.seedPort = (seed.address() as { port: number }).port;
    }
    n.proc = { pid: this.nextPid++, server, seed, sockets };
    // A (re)started node rejoins through the seeds; its counters restart.
    n.left = false;
    n.graftFailed = 0;
    n.partitioned = 0;
    n.malformed = 0;
  }

  private async stopProc(n: GNode): Promise<boolean> {
    const proc = n.proc;
    if (!proc) return false;
    n.proc = null;
    for (const s of proc.sockets) s.destroy();
    await Promise.all([
      new Promise<void>((r) => {
        proc.server.close(() => r());
        proc.server.closeAllConnections();
      }),
      proc.seed ? new Promise<void>((r) => proc.seed!.close(() => r())) : Promise.resolve(),
    ]);
    return true;
  }

  private async systemctl(n: GNode, args: string[]): Promise<ShimResult> {
    const words = args.filter((a) => !a.startsWith('-'));
    const verb = words[0];
    const unit = words[1]?.replace(/\.service$/, '');
    if (!verb || unit !== SERVICE) return { stdout: '', stderr: `Unit ${unit ?? ''}.service could not be found.\n`, exitCode: 5 };
    switch (verb) {
      case 'start':
        return n.proc ? { stdout: '', exitCode: 0 } : this.operatorStart(n, 'systemctl start');
      case 'stop':
        await this.operatorStop(n, 'systemctl stop');
        return { stdout: '', exitCode: 0 };
      case 'restart':
        await this.operatorStop(n, 'systemctl restart');
        return this.operatorStart(n, 'systemctl restart');
      case 'is-active':
        return n.proc ? { stdout: 'active\n', exitCode: 0 } : { stdout: this.stateCorrupt(n) ? 'failed\n' : 'inactive\n', exitCode: 3 };
      case 'status':
        return n.proc
          ? { stdout: `● ${SERVICE}.service - Plumtree gossip node\n     Active: active (running)\n   Main PID: ${n.proc.pid}\n`, exitCode: 0 }
          : { stdout: `○ ${SERVICE}.service - Plumtree gossip node\n     Active: inactive (dead)\n`, exitCode: 3 };
      default:
        return { stdout: '', stderr: `lab: systemctl ${verb} is not simulated\n`, exitCode: 1 };
    }
  }

  private async operatorStop(n: GNode, how: string): Promise<void> {
    const pid = n.proc?.pid;
    if (await this.stopProc(n)) this.record(n, 'gossip.stop', { pid, how });
  }

  private async operatorStart(n: GNode, how: string): Promise<ShimResult> {
    if (this.stateCorrupt(n)) {
      return {
        stdout: '',
        stderr: `Job for ${SERVICE}.service failed: persistent state ${GOSSIP_DATA_DIR}/state.db is corrupted (checksum mismatch)\n`,
        exitCode: 1,
      };
    }
    try {
      await this.startProc(n);
    } catch (err) {
      return { stdout: '', stderr: `${SERVICE} failed to start: ${(err as Error).message}\n`, exitCode: 1 };
    }
    this.record(n, 'gossip.start', { pid: n.proc?.pid, how });
    return { stdout: '', exitCode: 0 };
  }

  private record(n: GNode, effect: string, detail?: Record<string, unknown>): void {
    this.effects?.record({ cluster: this.cluster, node: n.name, effect, ...(detail ? { detail } : {}) });
  }

  // ---------------------------------------------------------- HTTP API ----

  private metrics(n: GNode): string {
    const p = this.peersOf(n);
    const groupsConverge = this.split !== 'split-brain';
    const lines = [
      ['plumtree_eager_peers', 'gauge', 'Peers in the eager push set', p.eager.length],
      ['plumtree_lazy_peers', 'gauge', 'Peers in the lazy push set', p.lazy.length],
      ['plumtree_total_peers', 'gauge', 'Known live peers', p.eager.length + p.lazy.length],
      ['plumtree_members', 'gauge', 'Members in this node\'s view', p.members.length],
      ['plumtree_graft_failed_total', 'counter', 'GRAFT requests that failed', n.graftFailed],
      ['plumtree_messages_partitioned_total', 'counter', 'Messages dropped across a partition', n.partitioned],
      ['plumtree_messages_delivered_total', 'counter', 'Messages delivered', n.delivered],
      ['plumtree_malformed_messages_total', 'counter', 'Malformed messages read from the cache', n.malformed],
      ['plumtree_sync_enabled', 'gauge', 'Anti-entropy sync enabled', n.syncEnabled ? 1 : 0],
      ['plumtree_sync_pending', 'gauge', 'Divergent state awaiting anti-entropy', groupsConverge ? 0 : 1],
      ['plumtree_sync_converged', 'gauge', 'State converged with every member', groupsConverge ? 1 : 0],
      ['plumtree_state_version', 'gauge', 'Version of the replicated state', n.stateVersion],
    ] as const;
    return lines.map(([name, type, help, v]) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name}{node="${n.name}"} ${v}\n`).join('');
  }

  private async handleHttp(n: GNode, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = `${req.method ?? 'GET'} ${path}`;
    if (route.startsWith('POST /admin/')) {
      if (!this.authorized(req) || this.hostCtl?.apiRefused(n.name)) return json(res, 401, { error: 'unauthorized' });
    }
    switch (route) {
      case 'GET /debug/peers': {
        const p = this.peersOf(n);
        return json(res, 200, { node: n.name, peers: { eager: p.eager, lazy: p.lazy }, members: p.members });
      }
      case 'GET /metrics': {
        const body = this.metrics(n);
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      case 'GET /health': {
        const p = this.peersOf(n);
        const ok = p.eager.length > 0 && !this.cacheCorrupt(n);
        return json(res, ok ? 200 : 503, { status: ok ? 'ok' : 'degraded', node: n.name, eager_peers: p.eager.length });
      }
      case 'POST /admin/leave':
        await drain(req);
        if (!n.left) {
          n.left = true;
          n.isolated = false; // leaving drops the stale network state
          this.record(n, 'gossip.leave');
        }
        return json(res, 200, { ok: true, node: n.name, members: [] });
      case 'POST /admin/join': {
        let body: { seeds?: unknown };
        try {
          body = JSON.parse((await drain(req)) || '{}') as { seeds?: unknown };
        } catch {
          return json(res, 400, { error: 'body must be JSON {"seeds": ["host:port", ...]}' });
        }
        const seeds = Array.isArray(body.seeds) ? body.seeds.map(String) : [];
        const reachable = this.nodes.filter(
          (s) => s !== n && s.proc && s.proc.seed && !s.left && seeds.some((a) => a.endsWith(`:${s.seedPort}`) || a === s.name),
        );
        if (n.isolated || reachable.length === 0) return json(res, 503, { error: 'no seed reachable', seeds });
        if (n.left) {
          n.left = false;
          this.record(n, 'gossip.join', { via: reachable.map((s) => s.name) });
        }
        return json(res, 200, { ok: true, node: n.name, ...this.peersOf(n) });
      }
      case 'POST /admin/rebalance':
        await drain(req);
        if (this.split === 'partition' && n.group !== null && !n.rebalanced) {
          n.rebalanced = true;
          this.record(n, 'gossip.rebalance');
          if (this.nodes.every((x) => x.rebalanced || !x.proc)) this.heal();
        }
        return json(res, 200, { ok: true, node: n.name, ...this.peersOf(n) });
      case 'POST /admin/cache/clear':
        await drain(req);
        if (this.cacheCorrupt(n)) {
          writeFileSync(this.cachePath(n), `plumtree-cache v1 ${n.name}\n`);
          this.record(n, 'gossip.cache-clear');
        }
        return json(res, 200, { ok: true, node: n.name });
      case 'POST /admin/sync/enable':
        await drain(req);
        if (!n.syncEnabled) {
          n.syncEnabled = true;
          this.record(n, 'gossip.sync-enable');
          if (this.split === 'split-brain') {
            const groups = new Set(this.nodes.filter((x) => x.proc).map((x) => x.group));
            const synced = new Set(this.nodes.filter((x) => x.proc && x.syncEnabled).map((x) => x.group));
            if ([...groups].every((g) => synced.has(g))) this.heal();
          }
        }
        return json(res, 200, { ok: true, node: n.name, sync: 'enabled' });
      default:
        return json(res, 404, { error: `no route ${route}` });
    }
  }

  /** Merge the groups: converged state, one component. */
  private heal(): void {
    const version = Math.max(...this.nodes.map((x) => x.stateVersion));
    for (const x of this.nodes) {
      x.group = null;
      x.rebalanced = false;
      x.stateVersion = version;
    }
    this.split = null;
  }

  private authorized(req: IncomingMessage): boolean {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const got = Buffer.from(m[1]!.trim());
    const want = Buffer.from(this.token);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

function fileStarts(path: string, prefix: string): boolean {
  try {
    return existsSync(path) && readFileSync(path, 'utf8').startsWith(prefix);
  } catch {
    return false;
  }
}

function listen(server: Server | TcpServer, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}
