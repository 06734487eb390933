/**
 * The training cluster's sync coordinator and sync agents (seed 001), and the
 * coordinator's cluster scripts (seed 000 §5), simulated for the lab's
 * training-cluster family ({@link ./family}).
 *
 * - Sync hosts: every node but the coordinator. Each has a selfplay directory
 *   `<host root>/data/selfplay/` of real files (`games_<host>_<n>.jsonl`, one
 *   line per game) and a sync log `<host root>/var/log/ringrift/sync.log`
 *   (the inventory settings `selfplayDir` and `syncLog` point there, relative
 *   to the SSH login directory). The coordinator has its own sync log.
 * - Its sync agent (`ringrift-sync-agent`): while it runs and the host is
 *   online and not retired, it collects the host's new games within ~300 ms.
 * - HTTP (one server, on the coordinator), the real ai-service app's sync
 *   surface (RingRift 2aa9f89b5, `app/main.py`): `GET /metrics` with the
 *   label-less gauges `ringrift_sync_hosts_{total,healthy,stale,critical}`
 *   (here they count the hosts; the real app leaves them at 0, see
 *   docs/training-cluster.md), `GET /admin/sync/status` and
 *   `POST /admin/sync/trigger` (a full cluster sync: every online host that is
 *   not retired and whose data can be pulled), both wanting `X-Admin-Key`
 *   (401 `{"detail": "X-Admin-Key header required"}`, 403 `{"detail":
 *   "Invalid admin key"}`), answering the real shapes.
 * - The seed's invented coordinator, kept only for the v1 activities that
 *   recoveries recorded before the real API still call (not on the real app):
 *   the labelled `ringrift_sync_hosts{state=...}` series, `GET /hosts`,
 *   `POST /admin/sync-host {host_id, force}`, `POST /admin/unretire {host_id}`,
 *   `POST /admin/retire-host {host_id, reason, acknowledge_loss}` (401 without
 *   the key).
 * - Shims: `systemctl restart|start|stop|is-active|status ringrift-sync-agent`,
 *   `ps aux` (agent, orchestrator and selfplay processes), `rsync -avz
 *   <host>:<dir>/ <dest>/` on the coordinator (copies from that host's root),
 *   `python scripts/import_orphaned_databases.py --data-dir D --trigger-sync`,
 *   `bash scripts/sync_cluster_data.sh` (the real cluster pull; the seed's `sync_cluster_data.py --full`
 *   does not exist and answers as python does), `python scripts/launch_daemons.py --all`.
 * - Effects: `sync.trigger` {files, games}, `sync.forced` {ok}, `sync-agent.restart` {ok},
 *   `rsync.recovered`, `import`, `host.unretired`, `host.retired` {lostGames}, `sync.full`,
 *   `daemons.launched`.
 * - Faults (set by the family): one host's data unsynced for 2 h (its agent
 *   crashed: a restart or a full sync heals it), broken (its data cannot be
 *   pulled: only rsync + import recovers it), the host lost (unreachable: only
 *   retiring it ends the alert), several hosts at once.
 *
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { appendFileSync, chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import type { EffectLog } from '../effects';
import type { ShimCall, ShimResult } from '../family';
import { drain, json } from '../http-util';

export const SYNC_AGENT_SERVICE = 'ringrift-sync-agent';
/** Relative to each host's root (its login directory), as the inventory settings say. */
export const SELFPLAY_DIR = 'data/selfplay';
export const SYNC_LOG = 'var/log/ringrift/sync.log';
export const RECOVERED_DIR = 'data/recovered';
/** A host that has not synced for this long is critical; for this long, stale. */
const CRITICAL_AFTER_MS = 60 * 60_000;
const STALE_AFTER_MS = 15 * 60_000;

export type AgentState = 'running' | 'dead' | 'broken';

interface SyncHost {
  name: string;
  agent: AgentState;
  agentStartedAt: number;
  retired: boolean;
  lastSync: number;
  lastSeen: number;
  /** Files of data/selfplay already collected by the coordinator. */
  collected: Set<string>;
  /** Games reported by the agent at its last heartbeat and not collected. */
  reportedPending: number;
  selfplay: boolean;
}

export interface SyncCoordinatorOptions {
  cluster: string;
  coordinator: string;
  hosts: string[];
  secretsDir?: string;
  /** Port of the coordinator's HTTP API; 0 for an ephemeral one. */
  port?: number;
  /** Whether a node is online (SSH answers), as the family knows it. */
  online(node: string): boolean;
  /** Whether a node's P2P orchestrator runs (for `ps aux`). */
  orchestratorRunning(node: string): boolean;
  /** Whether the coordinator's admin API refuses credentials now (`host.refuse-api`). */
  apiRefused?(node: string): boolean;
}

/** The sync coordinator, its agents and the coordinator's cluster scripts. */
export class SyncCoordinator {
  private readonly key = randomBytes(24).toString('hex');
  private keyPath?: string;
  private readonly hosts: SyncHost[];
  private server?: Server;
  private port = 0;
  private effects?: EffectLog;
  private hostRoot: (node: string) => string = () => '';
  private tick?: NodeJS.Timeout;
  private readonly games = new Map<string, number>(); // file -> game count cache
  /** Databases `import_orphaned_databases.py` registered (absolute paths): a second import finds them registered. */
  private readonly imported = new Set<string>();
  /** Selfplay of the coordinator's daemons: false after an outage until launch_daemons runs. */
  private daemonsDown = false;
  /** Selfplay on the coordinator itself (it is not a sync host). */
  private coordinatorSelfplay = true;

  constructor(private readonly o: SyncCoordinatorOptions) {
    const now = Date.now();
    this.hosts = o.hosts
      .filter((h) => h !== o.coordinator)
      .map((name) => ({ name, agent: 'running', agentStartedAt: now, retired: false, lastSync: now, lastSeen: now, collected: new Set<string>(), reportedPending: 0, selfplay: true }));
  }

  async start(ctx: { hostRoot(node: string): string; effects: EffectLog }): Promise<void> {
    this.effects = ctx.effects;
    this.hostRoot = ctx.hostRoot;
    const dir = this.o.secretsDir ?? mkdtempSync(join(tmpdir(), 'lab-sync-'));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.keyPath = join(dir, `${this.o.cluster}-sync-admin-key`);
    writeFileSync(this.keyPath, this.key + '\n', { mode: 0o600 });
    chmodSync(this.keyPath, 0o600);
    for (const n of this.o.hosts) {
      mkdirSync(dirname(this.logPath(n)), { recursive: true });
      writeFileSync(this.logPath(n), `${stamp()} INFO sync ${n === this.o.coordinator ? 'coordinator' : 'agent'} started\n`);
    }
    const models = join(ctx.hostRoot(this.o.coordinator), 'ai-service', 'models');
    mkdirSync(models, { recursive: true });
    const model = join(models, 'canonical_hex8_2p.pth');
    if (!existsSync(model)) writeFileSync(model, Buffer.alloc(4096, 7));
    for (const h of this.hosts) {
      mkdirSync(this.selfplayDir(h.name), { recursive: true });
      const f = this.writeGames(h.name, 12, Date.now() - 3 * 3600_000, Date.now() - 5 * 60_000);
      h.collected.add(f);
    }
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => json(res, 500, { error: (err as Error).message }));
    });
    this.server.keepAliveTimeout = 500;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.o.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
    this.tick = setInterval(() => this.agents(), 100);
    this.tick.unref();
  }

  async stop(): Promise<void> {
    if (this.tick) clearInterval(this.tick);
    const s = this.server;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  /** Inventory settings for the sync procedures. */
  settings(): Record<string, string | number | boolean> {
    return {
      aiServiceUrl: `http://127.0.0.1:${this.port}`,
      syncAdminUrl: `http://127.0.0.1:${this.port}`,
      syncAdminKey: `file:${this.keyPath}`,
      syncAgentService: SYNC_AGENT_SERVICE,
      selfplayDir: SELFPLAY_DIR,
      syncLog: SYNC_LOG,
      recoveredDir: join(this.hostRoot(this.o.coordinator), RECOVERED_DIR),
    };
  }

  metricsUrl(): string {
    return `http://127.0.0.1:${this.port}/metrics`;
  }

  // ------------------------------------------------------------- faults ----

  /** A host's agent stops (`dead`: a restart heals it; `broken`: it will not start) with 2 h of unsynced games. */
  makeCritical(name: string, agent: 'dead' | 'broken', opts: { lostAt?: number } = {}): void {
    const h = this.host(name);
    const now = Date.now();
    h.agent = agent;
    h.lastSync = now - 2 * 3600_000 - 5 * 60_000;
    h.lastSeen = opts.lostAt ?? now;
    this.writeGames(name, 20, h.lastSync + 60_000, now - 3600_000);
    this.writeGames(name, 15, now - 3600_000, now - 2 * 60_000);
    h.reportedPending = this.pending(h);
    this.log(name, `${stamp()} ERROR sync_agent: upload to coordinator failed: connection reset by peer`);
    this.log(name, `${stamp()} CRITICAL sync_agent ${agent === 'broken' ? 'cannot start: corrupt state file /var/lib/ringrift/sync_state.json' : 'exited with status 1'}`);
    this.log(this.o.coordinator, `${stamp()} ERROR host ${name} missed sync (last_sync ${iso(h.lastSync)}); state critical`);
  }

  /** After a complete outage every node's selfplay stopped until the daemons are relaunched. */
  outage(): void {
    this.daemonsDown = true;
    this.coordinatorSelfplay = false;
    for (const h of this.hosts) h.selfplay = false;
  }

  /** A person takes the host out of the cluster (there is no route for it on the real code): retired, nothing recorded as Lifeboat's. */
  retireByHand(name: string): void {
    const h = this.host(name);
    h.retired = true;
    this.log(this.o.coordinator, `${stamp()} WARNING host ${name} taken out of the cluster by hand`);
  }

  isRetired(name: string): boolean {
    return this.hosts.find((h) => h.name === name)?.retired ?? false;
  }

  /** Hosts that are critical now, and whether selfplay waits for its daemons. */
  problems(): string[] {
    const out = this.hosts.filter((h) => this.state(h) === 'critical').map((h) => `${h.name} sync critical`);
    if (this.daemonsDown) out.push('daemons not relaunched (selfplay stopped)');
    return out;
  }

  // -------------------------------------------------------------- shims ----

  /** Handles the invocations this module simulates; `undefined` lets the family handle the call. */
  async shim(call: ShimCall): Promise<ShimResult | undefined> {
    const args = call.argv;
    if (call.tool === 'systemctl') {
      const words = args.filter((a) => !a.startsWith('-'));
      if (words[1]?.replace(/\.service$/, '') !== SYNC_AGENT_SERVICE) return undefined;
      return this.systemctl(call.node, words[0] ?? '');
    }
    if (call.tool === 'ps') return args[0] === 'aux' ? this.ps(call.node) : undefined;
    if (call.tool === 'rsync') return this.rsync(call);
    if (call.tool === 'python' || call.tool === 'python3') {
      const script = args[0] ?? '';
      if (script.endsWith('import_orphaned_databases.py')) return this.importData(call);
      // The seed's full sync: no such script at RingRift 2aa9f89b5.
      if (script.endsWith('sync_cluster_data.py')) return { stdout: '', stderr: `${call.tool}: can't open file '${script}': [Errno 2] No such file or directory\n`, exitCode: 2 };
      if (script.endsWith('launch_daemons.py')) return this.launchDaemons(call);
    }
    // The real one: scripts/sync_cluster_data.sh pulls every host's games to the coordinator.
    if (call.tool === 'bash' && (args[0] ?? '').endsWith('scripts/sync_cluster_data.sh')) return this.fullSync(call);
    return undefined;
  }

  private systemctl(node: string, verb: string): ShimResult {
    const h = this.hosts.find((x) => x.name === node);
    if (!h) return { stdout: '', stderr: `Unit ${SYNC_AGENT_SERVICE}.service could not be found.\n`, exitCode: 5 };
    switch (verb) {
      case 'restart':
      case 'start': {
        const ok = h.agent !== 'broken';
        if (verb === 'restart' || h.agent !== 'running') this.record(node, 'sync-agent.restart', { ok, how: `systemctl ${verb}` });
        if (!ok) {
          this.log(node, `${stamp()} CRITICAL sync_agent cannot start: corrupt state file /var/lib/ringrift/sync_state.json`);
          return { stdout: '', stderr: `Job for ${SYNC_AGENT_SERVICE}.service failed because the control process exited with error code.\nSee "systemctl status ${SYNC_AGENT_SERVICE}.service" and "journalctl -xeu ${SYNC_AGENT_SERVICE}.service" for details.\n`, exitCode: 1 };
        }
        h.agent = 'running';
        h.agentStartedAt = Date.now();
        this.log(node, `${stamp()} INFO sync_agent started`);
        return { stdout: '', exitCode: 0 };
      }
      case 'stop':
        if (h.agent === 'running') h.agent = 'dead';
        return { stdout: '', exitCode: 0 };
      case 'is-active':
        return h.agent === 'running' ? { stdout: 'active\n', exitCode: 0 } : { stdout: h.agent === 'broken' ? 'failed\n' : 'inactive\n', exitCode: 3 };
      case 'status':
        return { stdout: `● ${SYNC_AGENT_SERVICE}.service - RingRift sync agent\n     Active: ${h.agent === 'running' ? 'active (running)' : h.agent === 'broken' ? 'failed (Result: exit-code)' : 'inactive (dead)'}\n`, exitCode: h.agent === 'running' ? 0 : 3 };
      default:
        return { stdout: '', stderr: `lab: systemctl ${verb} is not simulated\n`, exitCode: 1 };
    }
  }

  private ps(node: string): ShimResult {
    const lines = ['USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND', 'root           1  0.0  0.1 167000 11000 ?        Ss   08:00   0:02 /sbin/init'];
    let pid = 2100;
    if (this.o.orchestratorRunning(node)) lines.push(`ubuntu      ${pid++}  2.0  1.5 900000 120000 ?       Sl   08:00   1:12 python -m app.p2p.orchestrator`);
    const h = this.hosts.find((x) => x.name === node);
    if (h?.agent === 'running') lines.push(`ubuntu      ${pid++}  0.3  0.4 300000 40000 ?        Sl   08:00   0:20 python -m app.coordination.sync_agent`);
    if (node === this.o.coordinator) lines.push(`ubuntu      ${pid++}  0.5  0.6 400000 50000 ?        Sl   08:00   0:30 python -m app.coordination.sync_coordinator`);
    if (h ? h.selfplay : node === this.o.coordinator && this.coordinatorSelfplay) lines.push(`ubuntu      ${pid++} 95.0  8.0 4000000 900000 ?      Rl   08:00  80:00 python scripts/run_selfplay.py --board hex8 --num-players 2`);
    return { stdout: lines.join('\n') + '\n', exitCode: 0 };
  }

  private rsync(call: ShimCall): ShimResult {
    const operands = call.argv.filter((a) => !a.startsWith('-'));
    const src = operands.find((a) => /^[^/:]+:/.test(a));
    const dest = operands.at(-1);
    if (!src || !dest || src === dest) return { stdout: '', stderr: 'lab: only `rsync [-avz] host:dir/ dest/` is simulated\n', exitCode: 1 };
    const [hostPart, ...rest] = src.split(':');
    const host = hostPart!.replace(/^.*@/, '');
    const remote = rest.join(':');
    if (!this.o.hosts.includes(host)) return { stdout: '', stderr: `ssh: Could not resolve hostname ${host}: Name or service not known\nrsync: connection unexpectedly closed (0 bytes received so far) [Receiver]\n`, exitCode: 255 };
    if (!this.o.online(host)) return { stdout: '', stderr: `ssh: connect to host ${host} port 22: Connection refused\nrsync: connection unexpectedly closed (0 bytes received so far) [Receiver]\nrsync error: unexplained error (code 255)\n`, exitCode: 255 };
    // Lab hosts share one machine: an absolute path inside the host's root is that path; anything else is relative to its root.
    const root = this.hostRoot(host);
    const from = isAbsolute(remote) && remote.startsWith(root) ? remote : join(root, remote.replace(/^\/+/, ''));
    const to = isAbsolute(dest) ? (dest.startsWith(call.root) ? dest : join(call.root, dest)) : join(call.cwd, dest);
    if (!existsSync(from)) return { stdout: '', stderr: `rsync: change_dir "${remote}" failed: No such file or directory (2)\n`, exitCode: 23 };
    mkdirSync(to, { recursive: true });
    const files = readdirSync(from).filter((f) => !existsSync(join(to, f)));
    cpSync(from, to, { recursive: true, preserveTimestamps: true });
    this.record(call.node, 'rsync.recovered', { host, files: files.length, dest: basename(to) });
    return { stdout: `receiving incremental file list\n${files.join('\n')}${files.length ? '\n' : ''}\nsent 1,024 bytes  received ${files.length * 4096} bytes\ntotal size is ${files.length * 4096}\n`, exitCode: 0 };
  }

  private importData(call: ShimCall): ShimResult {
    const i = call.argv.indexOf('--data-dir');
    const dir = i >= 0 ? call.argv[i + 1] : undefined;
    if (!dir) return { stdout: '', stderr: 'usage: import_orphaned_databases.py --data-dir DIR [--trigger-sync]\n', exitCode: 2 };
    const abs = isAbsolute(dir) ? dir : join(call.cwd, dir);
    if (!existsSync(abs)) return { stdout: '', stderr: `error: ${dir}: no such directory\n`, exitCode: 1 };
    const hostName = basename(abs.replace(/\/+$/, ''));
    const h = this.hosts.find((x) => x.name === hostName);
    if (!h) return { stdout: '', stderr: `error: ${dir} does not name a known host (expected .../<host-id>)\n`, exitCode: 1 };
    const files = readdirSync(abs).filter((f) => f.startsWith('games_') && !h.collected.has(f));
    // The real script's databases (RingRift's game SQLite files): registered once; the host's data then counts as collected.
    const dbs = readdirSync(abs, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.db') && !this.imported.has(join(abs, f)));
    const games = files.reduce((n, f) => n + this.countGames(join(abs, f)), 0) + (dbs.length ? this.pending(h) : 0);
    for (const f of files) h.collected.add(f);
    for (const f of dbs) this.imported.add(join(abs, f));
    const trigger = call.argv.includes('--trigger-sync');
    if (dbs.length) for (const f of this.files(h.name)) h.collected.add(f);
    if (trigger && this.pending(h) === 0 && (files.length || dbs.length)) {
      h.lastSync = Date.now();
      h.reportedPending = 0;
    }
    const found = files.length + dbs.length;
    this.record(call.node, 'import', { host: hostName, files: found, games, triggerSync: trigger });
    this.log(this.o.coordinator, `${stamp()} INFO imported ${found} orphaned database(s) of ${hostName} (${games} games)`);
    if (call.argv.includes('--json')) {
      return { stdout: JSON.stringify({ databases_found: found, databases_imported: found, games_registered: games, errors: [], dry_run: false }) + '\n', exitCode: 0 };
    }
    return { stdout: `Imported ${found} database(s) (${games} games) from ${dir}${trigger ? '; sync triggered' : ''}\n`, exitCode: 0 };
  }

  private fullSync(call: ShimCall): ShimResult {
    const online = this.hosts.filter((h) => this.o.online(h.name) && !h.retired);
    if (online.length === 0) return { stdout: '', stderr: 'error: no host reachable\n', exitCode: 1 };
    let games = 0;
    for (const h of online) games += this.collect(h);
    const offline = this.hosts.filter((h) => !this.o.online(h.name)).map((h) => h.name);
    this.record(call.node, 'sync.full', { hosts: online.length, games, offline });
    return { stdout: `Full sync: ${online.length} host(s), ${games} new game(s)${offline.length ? `; offline: ${offline.join(', ')}` : ''}\n`, exitCode: 0 };
  }

  private launchDaemons(call: ShimCall): ShimResult {
    if (!call.argv.includes('--all')) return { stdout: '', stderr: 'lab: only --all is simulated\n', exitCode: 2 };
    const started = this.hosts.filter((h) => this.o.online(h.name) && !h.retired);
    for (const h of started) h.selfplay = true;
    this.daemonsDown = false;
    this.coordinatorSelfplay = true;
    this.record(call.node, 'daemons.launched', { nodes: started.length + 1 });
    return { stdout: `Launched selfplay, sync and training daemons on ${started.length + 1} node(s)\n`, exitCode: 0 };
  }

  // -------------------------------------------------------------- agents ----

  /** Each running agent on an online, non-retired host collects its new games. */
  private agents(): void {
    const now = Date.now();
    for (const h of this.hosts) {
      if (h.agent !== 'running' || !this.o.online(h.name)) continue;
      h.lastSeen = now;
      if (h.retired || now - h.agentStartedAt < 300) continue;
      this.collect(h);
    }
  }

  private collect(h: SyncHost): number {
    const files = this.files(h.name).filter((f) => !h.collected.has(f));
    const games = files.reduce((n, f) => n + this.countGames(join(this.selfplayDir(h.name), f)), 0);
    for (const f of files) h.collected.add(f);
    h.lastSync = Date.now();
    h.reportedPending = 0;
    if (files.length) this.log(h.name, `${stamp()} INFO synced ${files.length} file(s), ${games} games`);
    return games;
  }

  private state(h: SyncHost): 'healthy' | 'critical' | 'retired' {
    if (h.retired) return 'retired';
    return Date.now() - h.lastSync > CRITICAL_AFTER_MS ? 'critical' : 'healthy';
  }

  private pending(h: SyncHost): number {
    if (!this.o.online(h.name)) return h.reportedPending;
    return this.files(h.name)
      .filter((f) => !h.collected.has(f))
      .reduce((n, f) => n + this.countGames(join(this.selfplayDir(h.name), f)), 0);
  }

  // ---------------------------------------------------------------- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const route = `${req.method ?? 'GET'} ${new URL(req.url ?? '/', 'http://x').pathname}`;
    if (route === 'GET /metrics') {
      const count = (s: string) => this.hosts.filter((h) => this.state(h) === s).length;
      const stale = this.hosts.filter((h) => this.state(h) === 'healthy' && Date.now() - h.lastSync > STALE_AFTER_MS).length;
      const gauges: Array<[string, string, number]> = [
        ['ringrift_sync_hosts_total', 'Total number of hosts tracked by SyncCoordinator.', this.hosts.length],
        ['ringrift_sync_hosts_healthy', 'Number of healthy hosts in SyncCoordinator.', count('healthy') - stale],
        ['ringrift_sync_hosts_stale', 'Number of hosts with stale data.', stale],
        ['ringrift_sync_hosts_critical', 'Number of hosts in critical sync state.', count('critical')],
      ];
      const lines: string[] = [];
      for (const [name, help, v] of gauges) lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${v.toFixed(1)}`);
      // The seed's labelled series (v1 activities only; the real app has none).
      lines.push('# HELP ringrift_sync_hosts Sync hosts by state', '# TYPE ringrift_sync_hosts gauge');
      for (const s of ['healthy', 'critical', 'retired']) lines.push(`ringrift_sync_hosts{state="${s}"} ${count(s)}`);
      lines.push('# TYPE ringrift_sync_host_last_sync_timestamp_seconds gauge');
      for (const h of this.hosts) lines.push(`ringrift_sync_host_last_sync_timestamp_seconds{host="${h.name}"} ${Math.floor(h.lastSync / 1000)}`);
      const body = lines.join('\n') + '\n';
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (route === 'GET /hosts') {
      const hosts = Object.fromEntries(
        this.hosts.map((h) => [h.name, { state: this.state(h), retired: h.retired, last_sync: iso(h.lastSync), last_seen: iso(h.lastSeen), pending_games: this.pending(h) }]),
      );
      return json(res, 200, { hosts });
    }
    if (route === 'GET /admin/sync/status' || route === 'POST /admin/sync/trigger') return this.appSync(route, req, res);
    if (!route.startsWith('POST /admin/')) return json(res, 404, { error: `no route ${route}` });
    if (!this.authorized(req) || this.o.apiRefused?.(this.o.coordinator)) return json(res, 401, { error: 'unauthorized: X-Admin-Key required' });
    let body: { host_id?: unknown; reason?: unknown; acknowledge_loss?: unknown };
    try {
      body = JSON.parse((await drain(req)) || '{}') as typeof body;
    } catch {
      return json(res, 400, { error: 'body must be JSON' });
    }
    const h = this.hosts.find((x) => x.name === body.host_id);
    if (!h) return json(res, 400, { error: `unknown host_id ${JSON.stringify(body.host_id)}` });
    switch (route) {
      case 'POST /admin/sync-host': {
        const ok = !h.retired && h.agent === 'running' && this.o.online(h.name);
        this.record(this.o.coordinator, 'sync.forced', { host: h.name, ok });
        if (h.retired) return json(res, 409, { error: `${h.name} is retired: unretire it first` });
        if (!ok) {
          this.log(this.o.coordinator, `${stamp()} ERROR forced sync of ${h.name} failed: sync agent not responding`);
          return json(res, 409, { error: `sync agent on ${h.name} is not responding` });
        }
        return json(res, 200, { ok: true, host_id: h.name, synced_games: this.collect(h) });
      }
      case 'POST /admin/unretire':
        if (!h.retired) return json(res, 200, { ok: true, host_id: h.name, already: true });
        h.retired = false;
        this.record(this.o.coordinator, 'host.unretired', { host: h.name });
        return json(res, 200, { ok: true, host_id: h.name, state: this.state(h) });
      case 'POST /admin/retire-host': {
        if (body.acknowledge_loss !== true) return json(res, 400, { error: 'acknowledge_loss: true is required to retire a host with unsynced data' });
        if (h.retired) return json(res, 200, { ok: true, host_id: h.name, already: true });
        const lostGames = this.pending(h);
        h.retired = true;
        this.record(this.o.coordinator, 'host.retired', { host: h.name, reason: body.reason, lostGames });
        this.log(this.o.coordinator, `${stamp()} WARNING host ${h.name} retired (${String(body.reason)}), ${lostGames} games acknowledged lost`);
        return json(res, 200, { ok: true, host_id: h.name, state: 'retired', lost_games: lostGames });
      }
      default:
        return json(res, 404, { error: `no route ${route}` });
    }
  }

  /** The ai-service app's `/admin/sync/status` and `/admin/sync/trigger` (RingRift 2aa9f89b5 `app/main.py`), X-Admin-Key as it checks it. */
  private async appSync(route: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    await drain(req);
    const given = String(req.headers['x-admin-key'] ?? '');
    if (!given) return json(res, 401, { detail: 'X-Admin-Key header required' });
    if (!this.authorized(req) || this.o.apiRefused?.(this.o.coordinator)) return json(res, 403, { detail: 'Invalid admin key' });
    const timestamp = new Date().toISOString();
    if (route === 'GET /admin/sync/status') {
      return json(res, 200, {
        status: 'ok',
        timestamp,
        sync: {
          provider: 'local',
          shared_storage: false,
          running: false,
          data_server: { running: false, port: null },
          transports: { aria2: false, p2p: true, gossip: true, ssh: true },
          sources_discovered: 0,
          // Declared and never filled at 2aa9f89b5.
          last_sync_times: {},
          config: { aria2_connections: 16, gossip_port: 8771, fallback_chain: ['aria2', 'ssh', 'p2p'], data_server_port: 8766 },
          quality: { manifest_enabled: false, quality_lookup_size: 0, elo_lookup_size: 0, quality_lookup_age_seconds: 0 },
        },
      });
    }
    // A full cluster sync: every online host that is not retired and whose data can be pulled (a broken one cannot).
    const started = Date.now();
    let files = 0;
    let games = 0;
    const pulled: string[] = [];
    for (const h of this.hosts) {
      if (!this.o.online(h.name) || h.retired || h.agent === 'broken') continue;
      const n = this.files(h.name).filter((f) => !h.collected.has(f)).length;
      files += n;
      games += this.collect(h);
      pulled.push(h.name);
    }
    this.record(this.o.coordinator, 'sync.trigger', { files, games, hosts: pulled.length });
    const seconds = (Date.now() - started) / 1000;
    const cat = (n: number) => ({ files_synced: n, bytes_transferred: n * 4096, transport_used: n ? 'ssh' : '', duration_seconds: seconds });
    return json(res, 200, { status: 'ok', timestamp, results: { games: cat(files), training: cat(0), models: cat(0) }, total_files: files, total_bytes: files * 4096 });
  }

  private authorized(req: IncomingMessage): boolean {
    const got = Buffer.from(String(req.headers['x-admin-key'] ?? '').trim());
    const want = Buffer.from(this.key);
    return got.length === want.length && timingSafeEqual(got, want);
  }

  // --------------------------------------------------------------- files ----

  private host(name: string): SyncHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`${this.o.cluster}: ${name} is not a sync host (the coordinator ${this.o.coordinator} is not one)`);
    return h;
  }

  private selfplayDir(node: string): string {
    return join(this.hostRoot(node), SELFPLAY_DIR);
  }

  private logPath(node: string): string {
    return join(this.hostRoot(node), SYNC_LOG);
  }

  private log(node: string, line: string): void {
    appendFileSync(this.logPath(node), line + '\n');
  }

  private files(node: string): string[] {
    const dir = this.selfplayDir(node);
    return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('games_')).sort() : [];
  }

  /** Writes `n` games played between `from` and `to`; the file's mtime is its last game. */
  private writeGames(node: string, n: number, from: number, to: number): string {
    const dir = this.selfplayDir(node);
    mkdirSync(dir, { recursive: true });
    const name = `games_${node}_${String(this.files(node).length + 1).padStart(4, '0')}.jsonl`;
    const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ game_id: `${node}-${from}-${i}`, board: 'hex8', players: 2, ended_at: iso(from + ((to - from) * i) / Math.max(1, n - 1)) }));
    const path = join(dir, name);
    writeFileSync(path, lines.join('\n') + '\n');
    utimesSync(path, to / 1000, to / 1000);
    return name;
  }

  private countGames(path: string): number {
    const cached = this.games.get(path);
    if (cached !== undefined) return cached;
    const n = existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).length : 0;
    this.games.set(path, n);
    return n;
  }

  private record(node: string, effect: string, detail?: Record<string, unknown>): void {
    this.effects?.record({ cluster: this.o.cluster, node, effect, detail });
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function stamp(): string {
  return new Date().toISOString().replace('T', ' ').slice(0, 19);
}
