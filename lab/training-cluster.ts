/**
 * The simulated training cluster (seed 000 §1-2): N nodes, each running a
 * "P2P orchestrator" whose HTTP API is up only while its process runs.
 *
 * - Nodes `tc-node1..N`: node1 is [coordinator, voter], node2-3 [voter], the rest [worker].
 * - API per node (node:http on 127.0.0.1): `GET /status`, `GET /health`, `GET /jobs`,
 *   `POST /admin/election/reset`, `POST /admin/set-leader {node_id}` (the two admin
 *   routes want `Authorization: Bearer <token>`, else 401).
 * - Mesh: a running orchestrator that hears heartbeats joins the mesh once it has
 *   been up for `bootMs`; when a majority of the voters is in the mesh they elect a
 *   leader (the coordinator if it is in, else the first voter in). A leader stays
 *   until its process stops or stops hearing.
 * - Shims: `pgrep -f p2p_orchestrator`, `pkill -f p2p_orchestrator`,
 *   `python -m app.p2p.orchestrator`, `systemctl start|stop|restart|status|is-active p2p-orchestrator`,
 *   and `curl`, whose `localhost:8770` (the runbook's port) is rewritten to the
 *   node's real port before the real curl runs. Anything else falls through to the real tool.
 * - Effects: `orchestrator.stop`, `orchestrator.start`, and one `orchestrator.restart`
 *   when a start follows a stop on the same node within 10 s; `election.reset`,
 *   `election.set-leader`.
 * - Faults: `training-cluster.mesh-collapse` (every orchestrator keeps running but
 *   stops hearing heartbeats; only restarting it heals a node),
 *   `training-cluster.leader-failure` (the leader's process dies; no re-election
 *   until `/admin/election/reset` or `/admin/set-leader`).
 * - Game databases, backups and models (seed 000 §3, §4, §6) live in ./training-data, which
 *   this family delegates to (its shims first, its faults, start, settings and health).
 * - Outage and sync (seed 000 §5, seed 001): the sync coordinator, agents and
 *   cluster scripts live in {@link ./sync-coordinator}; the faults
 *   `training-cluster.cluster-outage` and `training-cluster.sync-host-critical[.*]`
 *   are in the training-ops block below.
 *
 * @module
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { EffectLog } from './effects';
import type { ClusterHealth, HostControl, LabFamily, LabNodeEndpoint, NodeHealth, ShimCall, ShimResult } from './family';
import { passthrough } from './shims';
import { TrainingData } from './training-cluster/data';
import { SyncCoordinator } from './training-cluster/sync-coordinator';
import { drain, json } from './http-util';

export interface TrainingClusterOptions {
  /** Inventory cluster name; default "lab-training". */
  cluster?: string;
  /** Number of nodes (at least 3: one coordinator and two more voters); default 5. */
  nodes?: number;
  /** Time an orchestrator needs after start before it is alive in the mesh; default 2000 ms. */
  bootMs?: number;
  /** First HTTP port (node i gets basePort + i - 1); 0 (default) for ephemeral ports. */
  basePort?: number;
  /** Where the bearer token file is written (then referenced as `file:`); without it the core stores it. */
  secretsDir?: string;
  /** Cluster outage: the coordinator's host is back this long after the fault; default 2000 ms. */
  outageReturnMs?: number;
  /** Cluster outage: once the coordinator's orchestrator runs, one more node comes back every this many ms; default 1000. */
  rejoinEveryMs?: number;
}

/** Faults of the outage and sync scenarios (seed 000 §5, seed 001). */
export const TRAINING_OPS_FAULTS = [
  'training-cluster.cluster-outage',
  /** The last node's sync agent crashed 2 h ago: a restart heals it. */
  'training-cluster.sync-host-critical',
  /** The agent will not start: only rsync + import recovers the games. */
  'training-cluster.sync-host-critical.agent-broken',
  /** The host is gone (SSH refused, orchestrator dead): only retiring it ends the alert. */
  'training-cluster.sync-host-critical.host-lost',
  /** The agents of the last two nodes crashed: the seed's Escalation. */
  'training-cluster.sync-host-critical.multi',
];

/** The port the runbook's commands use on every node (`curl http://localhost:8770/...`). */
export const RUNBOOK_P2P_PORT = 8770;
/** A start that follows a stop within this window counts as one restart. */
const RESTART_WINDOW_MS = 10_000;
const SERVICE = 'p2p-orchestrator';
const PATTERN = /p2p_orchestrator|app\.p2p\.orchestrator|p2p-orchestrator/;

interface Proc {
  pid: number;
  startedAt: number;
  /** False once the mesh collapsed under this process: it runs but hears no heartbeats. */
  hearing: boolean;
  server: Server;
}

interface NodeState {
  name: string;
  roles: string[];
  port: number;
  proc: Proc | null;
  lastStopAt?: number;
}

/** The training cluster's P2P mesh, simulated. */
export class TrainingClusterFamily implements LabFamily {
  readonly system = 'training-cluster';
  readonly cluster: string;
  readonly nodeNames: string[];
  readonly tools: string[] = ['pgrep', 'pkill', 'python', 'python3', 'systemctl', 'curl', 'ps', 'rsync'];
  readonly faults: string[] = ['training-cluster.mesh-collapse', 'training-cluster.leader-failure', ...TRAINING_OPS_FAULTS];
  /** Game databases, backups and models (seed 000 §3, §4, §6): ./training-data. */
  private readonly data: TrainingData;

  private readonly bootMs: number;
  private readonly basePort: number;
  private readonly secretsDir?: string;
  private readonly token = randomBytes(24).toString('hex');
  private readonly nodes: NodeState[];
  private effects?: EffectLog;
  private leader: string | null = null;
  /** After a leader failure, voters wait for an operator (reset / set-leader). */
  private electionBlocked = false;
  private tick?: NodeJS.Timeout;
  private nextPid = 4000 + Math.floor(Math.random() * 20000);
  private tokenPath?: string;
  // training-ops: the sync coordinator, and the outage's offline hosts.
  private readonly sync: SyncCoordinator;
  private hostCtl?: HostControl;
  private readonly offline = new Set<string>();
  private outage?: { rejoining: boolean; timers: NodeJS.Timeout[] };
  private readonly outageReturnMs: number;
  private readonly rejoinEveryMs: number;

  constructor(opts: TrainingClusterOptions = {}) {
    const n = opts.nodes ?? 5;
    if (!Number.isInteger(n) || n < 3) throw new Error(`training cluster needs at least 3 nodes (got ${n})`);
    this.cluster = opts.cluster ?? 'lab-training';
    this.bootMs = opts.bootMs ?? 2000;
    this.basePort = opts.basePort ?? 0;
    this.secretsDir = opts.secretsDir;
    this.nodes = Array.from({ length: n }, (_, i) => ({
      name: `tc-node${i + 1}`,
      roles: i === 0 ? ['coordinator', 'voter'] : i < 3 ? ['voter'] : ['worker'],
      port: this.basePort ? this.basePort + i : 0,
      proc: null,
    }));
    this.nodeNames = this.nodes.map((x) => x.name);
    // --- training-data hook: its tools and faults join the family's.
    this.data = new TrainingData({ cluster: this.cluster, nodes: this.nodes.map((x) => ({ name: x.name, roles: x.roles })), workdir: 'ai-service' });
    this.tools.push(...this.data.tools);
    this.faults.push(...this.data.faults);
    this.outageReturnMs = opts.outageReturnMs ?? 2000;
    this.rejoinEveryMs = opts.rejoinEveryMs ?? 1000;
    this.sync = new SyncCoordinator({
      cluster: this.cluster,
      coordinator: this.nodes[0]!.name,
      hosts: this.nodeNames,
      secretsDir: this.secretsDir,
      port: this.basePort ? this.basePort + 100 : 0,
      online: (node) => !this.offline.has(node),
      orchestratorRunning: (node) => !!this.nodes.find((x) => x.name === node)?.proc,
      apiRefused: (node) => this.hostCtl?.apiRefused(node) ?? false,
    });
  }

  /** Where each node's service lives, relative to its host root (the inventory's `ssh.workdir`). */
  hostWorkdir(_node: string): string {
    return 'ai-service';
  }

  async start(ctx: { hostRoot(node: string): string; effects: EffectLog; hosts?: HostControl }): Promise<void> {
    this.effects = ctx.effects;
    this.hostCtl = ctx.hosts;
    await this.sync.start(ctx);
    for (const n of this.nodes) mkdirSync(join(ctx.hostRoot(n.name), 'ai-service', 'logs'), { recursive: true });
    if (this.secretsDir) {
      mkdirSync(this.secretsDir, { recursive: true, mode: 0o700 });
      this.tokenPath = join(this.secretsDir, `${this.cluster}-auth-token`);
      writeFileSync(this.tokenPath, this.token + '\n', { mode: 0o600 });
      chmodSync(this.tokenPath, 0o600);
    }
    // The cluster comes up already formed: processes started one boot period ago.
    for (const n of this.nodes) await this.startProc(n, Date.now() - this.bootMs);
    await this.data.start(ctx); // --- training-data hook
    this.evaluate();
    this.tick = setInterval(() => this.evaluate(), 50);
    this.tick.unref();
  }

  async stop(): Promise<void> {
    if (this.tick) clearInterval(this.tick);
    this.data.stop(); // --- training-data hook
    for (const t of this.outage?.timers ?? []) clearTimeout(t);
    await this.sync.stop();
    await Promise.all(this.nodes.map((n) => this.stopProc(n)));
  }

  endpoints(): LabNodeEndpoint[] {
    return this.nodes.map((n) => ({
      name: n.name,
      roles: n.roles,
      http: { baseUrl: `http://127.0.0.1:${n.port}`, authToken: this.tokenPath ? `file:${this.tokenPath}` : this.token },
      ...(n.roles.includes('coordinator') ? { metricsUrl: this.sync.metricsUrl() } : {}), // the sync coordinator's metrics
    }));
  }

  settings(): Record<string, string | number | boolean> {
    return {
      serviceName: SERVICE,
      processPattern: 'p2p_orchestrator',
      startCommand: 'nohup python -m app.p2p.orchestrator > logs/p2p.log 2>&1 &',
      logFile: 'logs/p2p.log',
      localP2pPort: RUNBOOK_P2P_PORT,
      ...this.data.settings(), // --- training-data hook
      ...this.sync.settings(),
    };
  }

  async shim(call: ShimCall): Promise<ShimResult> {
    const node = this.nodes.find((n) => n.name === call.node);
    if (!node) return { stdout: '', stderr: `lab: ${call.node} is not a node of ${this.cluster}\n`, exitCode: 125 };
    // --- training-data hook: selfplay, sync, aggregation, models, scp, sqlite3.
    const data = await this.data.shim(call);
    if (data) return data;
    const args = call.argv;
    const ops = await this.sync.shim(call); // training-ops: sync agent, ps, rsync, cluster scripts
    if (ops) return ops;
    switch (call.tool) {
      case 'pgrep': {
        const pattern = lastOperand(args);
        if (!args.includes('-f') || !pattern || !PATTERN.test(pattern)) return passthrough();
        return node.proc ? { stdout: `${node.proc.pid}\n`, exitCode: 0 } : { stdout: '', exitCode: 1 };
      }
      case 'pkill': {
        const pattern = lastOperand(args);
        if (!args.includes('-f') || !pattern || !PATTERN.test(pattern)) return passthrough();
        return (await this.stopByOperator(node, `pkill ${args.join(' ')}`)) ? { stdout: '', exitCode: 0 } : { stdout: '', exitCode: 1 };
      }
      case 'python':
      case 'python3': {
        const m = args.indexOf('-m');
        if (m < 0 || args[m + 1] !== 'app.p2p.orchestrator') return passthrough();
        return this.startByOperator(node, `${call.tool} ${args.join(' ')}`);
      }
      case 'systemctl':
        return this.systemctl(node, args);
      case 'curl':
        return passthrough(args.map((a) => this.rewriteLocalUrl(node, a)));
      default:
        return passthrough();
    }
  }

  async breakFault(fault: string): Promise<void> {
    switch (fault) {
      case 'training-cluster.mesh-collapse':
        for (const n of this.nodes) if (n.proc) n.proc.hearing = false;
        this.leader = null;
        return;
      case 'training-cluster.leader-failure': {
        this.evaluate();
        const leader = this.nodes.find((n) => n.name === this.leader);
        if (!leader) throw new Error(`${this.cluster} has no leader to fail; heal the mesh first (lab status)`);
        await this.stopProc(leader); // a crash: no stop effect, nobody asked for it
        this.leader = null;
        this.electionBlocked = true;
        return;
      }
      default:
        if (TRAINING_OPS_FAULTS.includes(fault)) return this.breakOps(fault);
        if (await this.data.breakFault(fault)) return; // --- training-data hook
        throw new Error(`${this.cluster} knows no fault "${fault}"; known: ${this.faults.join(', ')}`);
    }
  }

  async health(): Promise<ClusterHealth> {
    this.evaluate();
    const now = Date.now();
    const nodes: NodeHealth[] = this.nodes.map((n) => {
      if (this.sync.isRetired(n.name)) return { node: n.name, state: 'retired', detail: 'retired from sync' };
      if (this.offline.has(n.name)) return { node: n.name, state: 'offline', detail: 'host unreachable' };
      if (!n.proc) return { node: n.name, state: 'down', detail: 'orchestrator not running' };
      if (!n.proc.hearing) return { node: n.name, state: 'collapsed', detail: 'running, hears no heartbeats' };
      if (!this.inMesh(n, now)) return { node: n.name, state: 'joining', detail: 'booting, not yet in the mesh' };
      return { node: n.name, state: 'up', detail: n.name === this.leader ? 'leader' : n.roles.join(',') };
    });
    const alive = nodes.filter((x) => x.state === 'up').length;
    const expected = nodes.filter((x) => x.state !== 'retired').length;
    const problems = this.sync.problems();
    // --- training-data hook: the game data and models count towards the cluster's health.
    const data = await this.data.health();
    for (const x of nodes) if (data.problems[x.node]?.length) x.detail = `${x.detail ?? ''}; ${data.problems[x.node]!.join(', ')}`;
    const healthy = this.leader !== null && alive === expected && problems.length === 0 && data.healthy;
    return {
      cluster: this.cluster,
      system: this.system,
      healthy,
      summary: `leader ${this.leader ?? 'none'}${this.electionBlocked ? ' (election stalled)' : ''}, ${alive}/${expected} alive in the mesh${problems.length ? `; ${problems.join(', ')}` : ''}; ${data.summary}`,
      nodes,
    };
  }

  // ------------------------------------------------------------- the mesh ----

  private inMesh(n: NodeState, now = Date.now()): boolean {
    return !!n.proc && n.proc.hearing && now - n.proc.startedAt >= this.bootMs;
  }

  /** Re-derive the leader from who is in the mesh; called on a short timer and before every read. */
  private evaluate(): void {
    const now = Date.now();
    const current = this.nodes.find((n) => n.name === this.leader);
    if (current && !this.inMesh(current, now)) this.leader = null;
    if (this.leader || this.electionBlocked) return;
    const voters = this.nodes.filter((n) => n.roles.includes('voter'));
    const present = voters.filter((n) => this.inMesh(n, now));
    if (present.length * 2 <= voters.length) return; // no quorum of voters
    this.leader = (present.find((n) => n.roles.includes('coordinator')) ?? present[0])!.name;
  }

  private async startProc(n: NodeState, startedAt = Date.now()): Promise<Proc> {
    const server = createServer((req, res) => {
      this.handleHttp(n, req, res).catch((err: unknown) => json(res, 500, { error: (err as Error).message }));
    });
    server.keepAliveTimeout = 500;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(n.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    if (typeof addr === 'object' && addr) n.port = addr.port; // keep the first port for later restarts
    const proc: Proc = { pid: this.nextPid++, startedAt, hearing: true, server };
    n.proc = proc;
    return proc;
  }

  private async stopProc(n: NodeState): Promise<boolean> {
    const proc = n.proc;
    if (!proc) return false;
    n.proc = null;
    await new Promise<void>((resolve) => {
      proc.server.close(() => resolve());
      proc.server.closeAllConnections();
    });
    this.evaluate();
    return true;
  }

  private async stopByOperator(n: NodeState, how: string): Promise<boolean> {
    const pid = n.proc?.pid;
    if (!(await this.stopProc(n))) return false;
    n.lastStopAt = Date.now();
    this.record(n, 'orchestrator.stop', { pid, how });
    return true;
  }

  private async startByOperator(n: NodeState, how: string): Promise<ShimResult> {
    if (n.proc) {
      // What a second python process does when the first holds the port.
      return { stdout: '', stderr: `OSError: [Errno 98] Address already in use: ('0.0.0.0', ${RUNBOOK_P2P_PORT})\n`, exitCode: 1 };
    }
    try {
      const proc = await this.startProc(n);
      this.record(n, 'orchestrator.start', { pid: proc.pid, how });
      if (n.lastStopAt !== undefined && Date.now() - n.lastStopAt <= RESTART_WINDOW_MS) {
        this.record(n, 'orchestrator.restart', { pid: proc.pid });
      }
      n.lastStopAt = undefined;
      if (this.outage && !this.outage.rejoining && n.roles.includes('coordinator')) this.rejoinAfterCoordinator();
      return { stdout: `P2P orchestrator ${n.name} listening on 127.0.0.1:${n.port} (pid ${proc.pid})\n`, exitCode: 0 };
    } catch (err) {
      return { stdout: '', stderr: `orchestrator failed to start: ${(err as Error).message}\n`, exitCode: 1 };
    }
  }

  private async systemctl(n: NodeState, args: string[]): Promise<ShimResult> {
    const verb = args.find((a) => !a.startsWith('-'));
    const unit = args.filter((a) => !a.startsWith('-'))[1]?.replace(/\.service$/, '');
    if (!verb || unit !== SERVICE) {
      return { stdout: '', stderr: `Unit ${unit ?? ''}.service could not be found.\n`, exitCode: 5 };
    }
    switch (verb) {
      case 'start':
        return n.proc ? { stdout: '', exitCode: 0 } : this.startByOperator(n, `systemctl start ${SERVICE}`);
      case 'stop':
        await this.stopByOperator(n, `systemctl stop ${SERVICE}`);
        return { stdout: '', exitCode: 0 };
      case 'restart':
        await this.stopByOperator(n, `systemctl restart ${SERVICE}`);
        return this.startByOperator(n, `systemctl restart ${SERVICE}`);
      case 'is-active':
        return n.proc ? { stdout: 'active\n', exitCode: 0 } : { stdout: 'inactive\n', exitCode: 3 };
      case 'status':
        return n.proc
          ? { stdout: `● ${SERVICE}.service - P2P orchestrator\n     Active: active (running)\n   Main PID: ${n.proc.pid}\n`, exitCode: 0 }
          : { stdout: `○ ${SERVICE}.service - P2P orchestrator\n     Active: inactive (dead)\n`, exitCode: 3 };
      default:
        return { stdout: '', stderr: `lab: systemctl ${verb} is not simulated\n`, exitCode: 1 };
    }
  }

  private rewriteLocalUrl(n: NodeState, arg: string): string {
    return arg.replace(new RegExp(`^(https?://)(localhost|127\\.0\\.0\\.1):${RUNBOOK_P2P_PORT}(?=/|$)`), `$1127.0.0.1:${n.port}`);
  }

  private record(n: NodeState, effect: string, detail?: Record<string, unknown>): void {
    this.effects?.record({ cluster: this.cluster, node: n.name, effect, detail });
  }

  // ------------------------------------------- training-ops (000 §5, 001) ----

  private async breakOps(fault: string): Promise<void> {
    const workers = this.nodes.filter((n) => !n.roles.includes('coordinator'));
    const last = workers.at(-1)!;
    switch (fault) {
      case 'training-cluster.cluster-outage': {
        // Every host drops off at once (crash: no stop effect); the coordinator's host is back first.
        for (const n of this.nodes) {
          await this.stopProc(n);
          this.setOffline(n.name, true);
        }
        this.leader = null;
        this.electionBlocked = false;
        this.sync.outage();
        const coordinator = this.nodes.find((n) => n.roles.includes('coordinator'))!;
        const t = setTimeout(() => this.setOffline(coordinator.name, false), this.outageReturnMs);
        t.unref();
        this.outage = { rejoining: false, timers: [t] };
        return;
      }
      case 'training-cluster.sync-host-critical':
        return this.sync.makeCritical(last.name, 'dead');
      case 'training-cluster.sync-host-critical.agent-broken':
        return this.sync.makeCritical(last.name, 'broken');
      case 'training-cluster.sync-host-critical.host-lost':
        this.sync.makeCritical(last.name, 'dead', { lostAt: Date.now() - 90 * 60_000 });
        await this.stopProc(last);
        this.setOffline(last.name, true);
        return;
      case 'training-cluster.sync-host-critical.multi':
        for (const n of workers.slice(-2)) this.sync.makeCritical(n.name, 'dead');
        return;
    }
  }

  /** The other nodes come online one by one once the coordinator's orchestrator runs; their orchestrators boot by themselves. */
  private rejoinAfterCoordinator(): void {
    const outage = this.outage!;
    outage.rejoining = true;
    const rest = this.nodes.filter((n) => !n.roles.includes('coordinator'));
    rest.forEach((n, i) => {
      const t = setTimeout(() => {
        this.setOffline(n.name, false);
        if (!n.proc) void this.startProc(n).catch(() => undefined);
        if (i === rest.length - 1) this.outage = undefined;
      }, (i + 1) * this.rejoinEveryMs);
      t.unref();
      outage.timers.push(t);
    });
  }

  private setOffline(node: string, offline: boolean): void {
    if (offline) this.offline.add(node);
    else this.offline.delete(node);
    this.hostCtl?.setOffline(node, offline);
  }

  // ------------------------------------------------------------- HTTP API ----

  private async handleHttp(n: NodeState, req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.evaluate();
    const proc = n.proc;
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = `${req.method ?? 'GET'} ${path}`;
    const now = Date.now();
    const inMesh = this.inMesh(n, now);
    const alive = this.nodes.filter((x) => this.inMesh(x, now)).map((x) => x.name);
    switch (route) {
      case 'GET /status':
        return json(res, 200, {
          node_id: n.name,
          leader_id: inMesh ? this.leader : null,
          alive_peers: inMesh ? alive : [],
          election_state: !proc?.hearing ? 'stalled' : !inMesh ? 'joining' : this.leader ? 'stable' : this.electionBlocked ? 'stalled' : 'electing',
          voters: this.nodes.filter((x) => x.roles.includes('voter')).map((x) => x.name),
          role: n.roles[0],
          started_at: proc ? new Date(proc.startedAt).toISOString() : null,
        });
      case 'GET /health':
        return proc?.hearing
          ? json(res, 200, { status: 'ok', node_id: n.name })
          : json(res, 503, { status: 'unhealthy', node_id: n.name, reason: 'no heartbeats received from peers' });
      case 'GET /jobs': {
        const workers = this.nodes.filter((x) => alive.includes(x.name) && x.name !== this.leader);
        const active = inMesh && this.leader ? workers.map((x, i) => ({ job_id: `selfplay-${i + 1}`, node_id: x.name, type: 'selfplay', board: 'hex8' })) : [];
        return json(res, 200, { active_jobs: active });
      }
      case 'POST /admin/election/reset':
        if (!this.authorized(req) || this.hostCtl?.apiRefused(n.name)) return json(res, 401, { error: 'unauthorized' });
        await drain(req);
        this.leader = null;
        this.electionBlocked = false;
        this.record(n, 'election.reset');
        this.evaluate();
        return json(res, 200, { ok: true, election_state: 'electing' });
      case 'POST /admin/set-leader': {
        if (!this.authorized(req) || this.hostCtl?.apiRefused(n.name)) return json(res, 401, { error: 'unauthorized' });
        let body: { node_id?: unknown };
        try {
          body = JSON.parse((await drain(req)) || '{}') as { node_id?: unknown };
        } catch {
          return json(res, 400, { error: 'body must be JSON {"node_id": "..."}' });
        }
        const target = this.nodes.find((x) => x.name === body.node_id);
        if (!target) return json(res, 400, { error: `unknown node_id ${JSON.stringify(body.node_id)}` });
        if (!this.inMesh(target)) return json(res, 409, { error: `${target.name} is not alive in the mesh` });
        this.leader = target.name;
        this.electionBlocked = false;
        this.record(n, 'election.set-leader', { node_id: target.name });
        return json(res, 200, { ok: true, leader_id: target.name });
      }
      default:
        return json(res, 404, { error: `no route ${route}` });
    }
  }

  private authorized(req: IncomingMessage): boolean {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const got = Buffer.from(m[1]!.trim());
    const want = Buffer.from(this.token);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

/** The last argument that is not an option: pgrep's/pkill's pattern. */
function lastOperand(args: string[]): string | undefined {
  return [...args].reverse().find((a) => !a.startsWith('-'));
}
