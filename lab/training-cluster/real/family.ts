/**
 * The lab's training cluster on REAL RingRift orchestrators ({@link RealNodes}):
 * the same nodes, roles, faults and inventory as the simulation, with the
 * P2P mesh, its elections, its HTTP API and its processes real, and the
 * parts that cannot run here simulated as in the simulation (GPU selfplay,
 * training, the torch model load check: ../data). The ai-service app is
 * real too (./app: RingRift's `app/main.py` in the coordinator's
 * namespaces, its sync surface of seed 001); ../sync-coordinator still
 * answers the seed's invented routes and the sync-agent shims that only
 * the v1 activities call.
 *
 * Each node's SSH host runs its commands inside the node's namespaces
 * (`nsenter`), so `pgrep`, `pkill`, `curl localhost:8770` and the
 * orchestrator's start act on that node only; the lab's shims there reach
 * the lab through its unix socket (the node has no route to the machine).
 *
 * Faults made for real: `training-cluster.leader-failure` SIGKILLs the
 * leader's orchestrator; `training-cluster.leader-failure.voters` SIGKILLs the
 * leader's and the next voter's (one voter of three left: no quorum);
 * `training-cluster.mesh-collapse` SIGKILLs every
 * orchestrator (SSH still answers); `training-cluster.cluster-outage`
 * SIGKILLs them all and takes every host offline, the coordinator's host
 * back first and the others (their units restarting them) once the
 * coordinator's orchestrator runs again; the data faults corrupt or delete
 * real SQLite files and model files (../data);
 * `training-cluster.sync-host-critical` SIGKILLs the last node's
 * orchestrator (its heartbeats stop: the real app's gauges read 0 at
 * 2aa9f89b5, the host is named from the peers); the other sync faults add
 * the simulation's symptoms (../ops) for the v1 activities.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EffectLog } from '../../effects';
import type { ClusterHealth, HostControl, LabFamily, LabNodeEndpoint, NodeHealth, ShimCall, ShimResult } from '../../family';
import { passthrough } from '../../shims';
import { TrainingData } from '../data';
import { breakOps, TRAINING_OPS_FAULTS } from '../ops';
import { SyncCoordinator } from '../sync-coordinator';
import { RealApp } from './app';
import { P2P_PATTERN, P2P_PORT, RealNodes } from './nodes';

/** Where the RingRift tarball is: `LIFEBOAT_RINGRIFT_TARBALL`, else `../shared/targets/ringrift/ai-service.tar.gz` beside the checkout. */
export function ringriftTarball(): string {
  if (process.env.LIFEBOAT_RINGRIFT_TARBALL) return resolve(process.env.LIFEBOAT_RINGRIFT_TARBALL);
  // dist/lab/training-cluster/real -> the checkout -> its sibling `shared`.
  return resolve(__dirname, '..', '..', '..', '..', '..', 'shared', 'targets', 'ringrift', 'ai-service.tar.gz');
}

/** The checkout (for `.tools/ringrift-venv`). */
export function checkoutRoot(): string {
  return resolve(__dirname, '..', '..', '..', '..');
}

/** The pinned virtualenv's python (scripts/setup.sh): `LIFEBOAT_RINGRIFT_PYTHON`, else `.tools/ringrift-venv/bin/python`. */
export function ringriftPython(): string {
  return process.env.LIFEBOAT_RINGRIFT_PYTHON ? resolve(process.env.LIFEBOAT_RINGRIFT_PYTHON) : join(checkoutRoot(), '.tools', 'ringrift-venv', 'bin', 'python');
}

export interface RealTrainingClusterOptions {
  cluster?: string;
  /** The lab directory (RingRift's tree is unpacked under it). */
  labDir: string;
  secretsDir?: string;
  /**
   * Cluster outage: the coordinator's host is back this long after the fault; default 20 s, so that the
   * recovery, started after the fault on a loaded machine, still finds every host down (at 2 s it found
   * the coordinator back and rightly refused: not a complete failure).
   */
  outageReturnMs?: number;
  /** Cluster outage: once the coordinator's orchestrator runs, one more node comes back every this many ms; default 1000. */
  rejoinEveryMs?: number;
}

export class RealTrainingClusterFamily implements LabFamily {
  readonly system = 'training-cluster';
  readonly backend = 'real' as const;
  readonly cluster: string;
  readonly nodeNames: string[];
  readonly tools: string[] = ['pgrep', 'pkill', 'python', 'python3', 'systemctl', 'ps', 'rsync', 'bash'];
  readonly faults: string[] = ['training-cluster.mesh-collapse', 'training-cluster.leader-failure', 'training-cluster.leader-failure.voters', ...TRAINING_OPS_FAULTS];
  private readonly token = randomBytes(24).toString('hex');
  private readonly roles: Map<string, string[]>;
  private readonly data: TrainingData;
  private readonly sync: SyncCoordinator;
  private readonly real: RealNodes;
  private readonly app: RealApp;
  private readonly offline = new Set<string>();
  private hostCtl?: HostControl;
  private tokenPath?: string;
  private outage?: { timers: NodeJS.Timeout[]; watch?: NodeJS.Timeout };

  constructor(private readonly o: RealTrainingClusterOptions) {
    this.cluster = o.cluster ?? 'lab-training';
    const nodes = Array.from({ length: 5 }, (_, i) => ({ name: `tc-node${i + 1}`, roles: i === 0 ? ['coordinator', 'voter'] : i < 3 ? ['voter'] : ['worker'] }));
    this.nodeNames = nodes.map((n) => n.name);
    this.roles = new Map(nodes.map((n) => [n.name, n.roles]));
    this.data = new TrainingData({ cluster: this.cluster, nodes, workdir: 'ai-service' });
    this.tools.push(...this.data.tools);
    this.faults.push(...this.data.faults);
    this.sync = new SyncCoordinator({
      cluster: this.cluster,
      coordinator: nodes[0]!.name,
      hosts: this.nodeNames,
      secretsDir: o.secretsDir,
      online: (node) => !this.offline.has(node),
      orchestratorRunning: (node) => this.real.pid(node) !== undefined,
      apiRefused: (node) => this.hostCtl?.apiRefused(node) ?? false,
    });
    let effects: EffectLog | undefined;
    this.real = new RealNodes({
      cluster: this.cluster,
      labDir: o.labDir,
      nodes: nodes.map((n) => ({ ...n, root: join(o.labDir, 'hosts', this.cluster, n.name) })),
      python: ringriftPython(),
      tarball: ringriftTarball(),
      token: this.token,
      keep: [resolve(o.labDir), checkoutRoot()],
      record: (node, effect, detail) => effects?.record({ cluster: this.cluster, node, effect, detail }),
    });
    const coordinator = nodes[0]!.name;
    this.app = new RealApp({
      cluster: this.cluster,
      node: coordinator,
      tree: join(o.labDir, 'hosts', this.cluster, coordinator, 'ai-service'),
      python: ringriftPython(),
      secretsDir: o.secretsDir ?? join(o.labDir, 'secrets'),
      netnsPath: () => `/run/netns/${this.real.netns(coordinator)}`,
      prefix: () => this.real.prefix(coordinator),
      initPid: () => this.real.initPid(coordinator),
      proxyScript: this.real.proxyScript(),
      record: (node, effect, detail) => effects?.record({ cluster: this.cluster, node, effect, detail }),
    });
    this.setEffects = (e) => (effects = e);
  }

  private readonly setEffects: (e: EffectLog) => void;

  hostWorkdir(_node: string): string {
    return 'ai-service';
  }

  /** Each command of a node's SSH host runs in the node's namespaces. */
  hostWrap(node: string): string[] {
    // Never on the machine itself: without its namespaces (before start, after stop) a command fails.
    return this.real.prefix(node) ?? ['/bin/sh', '-c', 'echo "lab: the namespaces of this node are not up" >&2; exit 255', '--'];
  }

  /** The nodes' own namespaces (for tests of the isolation). */
  namespaceOf(node: string): { netns: string; address: string; prefix?: string[] } {
    return { netns: this.real.netns(node), address: this.real.address(node), prefix: this.real.prefix(node) };
  }

  async start(ctx: { hostRoot(node: string): string; effects: EffectLog; hosts?: HostControl }): Promise<void> {
    this.setEffects(ctx.effects);
    this.hostCtl = ctx.hosts;
    if (this.o.secretsDir) {
      mkdirSync(this.o.secretsDir, { recursive: true, mode: 0o700 });
      this.tokenPath = join(this.o.secretsDir, `${this.cluster}-auth-token`);
      writeFileSync(this.tokenPath, this.token + '\n', { mode: 0o600 });
      chmodSync(this.tokenPath, 0o600);
    }
    try {
      await this.real.start();
      await this.app.start();
      await this.sync.start(ctx);
      await this.data.start(ctx);
      await this.waitFormed(150_000);
    } catch (err) {
      // The lab core stops only what started: namespaces and processes must not outlive a failed start.
      await this.stop().catch(() => undefined);
      throw err;
    }
    this.real.recordFromNow();
  }

  /** Until every node answers /status and agrees on one leader that says it leads. */
  async waitFormed(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    let last = '';
    while (Date.now() < deadline) {
      const h = await this.mesh();
      last = h.summary;
      if (h.leader && h.alive === this.nodeNames.length && h.agreed) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`${this.cluster}: the real orchestrators did not form one mesh with one leader in ${ms / 1000} s (${last}); see the nodes' ai-service/logs/p2p.log`);
  }

  async stop(): Promise<void> {
    for (const t of this.outage?.timers ?? []) clearTimeout(t);
    if (this.outage?.watch) clearInterval(this.outage.watch);
    this.data.stop();
    await this.sync.stop();
    this.app.stop();
    await this.real.stop();
  }

  endpoints(): LabNodeEndpoint[] {
    return this.nodeNames.map((name) => ({
      name,
      roles: this.roles.get(name)!,
      http: { baseUrl: this.real.baseUrl(name), authToken: this.tokenPath ? `file:${this.tokenPath}` : this.token },
      ...(this.roles.get(name)!.includes('coordinator') ? { metricsUrl: `${this.app.baseUrl()}/metrics` } : {}),
    }));
  }

  settings(): Record<string, string | number | boolean> {
    return {
      processPattern: P2P_PATTERN,
      localP2pPort: P2P_PORT,
      // No systemd in the lab: the unit's ExecStart, from its env file in the tree.
      p2pUnit: '',
      p2pEnvFile: 'config/p2p_orchestrator.env',
      p2pPython: 'venv/bin/python',
      ...this.data.settings(),
      ...this.sync.settings(),
      // The real app's sync surface (the simulation's stays at syncAdminUrl for the v1 activities).
      aiServiceUrl: this.app.baseUrl(),
      syncAdminKey: `file:${this.app.keyPath}`,
    };
  }

  async shim(call: ShimCall): Promise<ShimResult> {
    if (!this.nodeNames.includes(call.node)) return { stdout: '', stderr: `lab: ${call.node} is not a node of ${this.cluster}\n`, exitCode: 125 };
    const data = await this.data.shim(call);
    if (data) return data;
    const ops = await this.sync.shim(call);
    if (ops) return ops;
    // Everything about the orchestrator is real: pgrep, pkill, python, curl run in the node's namespaces.
    return passthrough();
  }

  async breakFault(fault: string): Promise<void> {
    switch (fault) {
      case 'training-cluster.leader-failure': {
        const h = await this.mesh();
        if (!h.leader) throw new Error(`${this.cluster} has no leader to fail (${h.summary}); heal the mesh first (lab status)`);
        this.real.kill(h.leader);
        await this.real.gone(h.leader);
        return;
      }
      case 'training-cluster.leader-failure.voters': {
        // SIGKILL of the leader and of the next voter: the one voter left is no quorum.
        const h = await this.mesh();
        if (!h.leader) throw new Error(`${this.cluster} has no leader to fail (${h.summary}); heal the mesh first (lab status)`);
        const voter = this.nodeNames.find((n) => n !== h.leader && this.roles.get(n)!.includes('voter') && this.real.pid(n) !== undefined);
        if (!voter) throw new Error(`${this.cluster} has no second running voter to fail with the leader (${h.summary}); heal the mesh first (lab status)`);
        this.real.kill(h.leader);
        this.real.kill(voter);
        await this.real.gone(h.leader);
        await this.real.gone(voter);
        return;
      }
      case 'training-cluster.mesh-collapse':
        for (const n of this.nodeNames) this.real.kill(n);
        for (const n of this.nodeNames) await this.real.gone(n);
        return;
      case 'training-cluster.cluster-outage': {
        for (const n of this.nodeNames) {
          this.real.kill(n);
          this.setOffline(n, true);
        }
        for (const n of this.nodeNames) await this.real.gone(n);
        this.sync.outage();
        const coordinator = this.nodeNames.find((n) => this.roles.get(n)!.includes('coordinator'))!;
        const timers: NodeJS.Timeout[] = [];
        timers.push(setTimeout(() => this.setOffline(coordinator, false), this.o.outageReturnMs ?? 20_000));
        // The others come back once the coordinator's orchestrator runs (started by the operator); their units start theirs.
        const watch = setInterval(() => {
          if (this.real.pid(coordinator) === undefined) return;
          clearInterval(watch);
          this.nodeNames
            .filter((n) => n !== coordinator)
            .forEach((n, i) => {
              timers.push(
                setTimeout(() => {
                  this.setOffline(n, false);
                  void this.real.startOrchestrator(n).catch(() => undefined);
                }, (i + 1) * (this.o.rejoinEveryMs ?? 1000)),
              );
            });
        }, 500);
        this.outage = { timers, watch };
        return;
      }
      case 'training-cluster.sync-host-critical': {
        // Real symptoms only: the last node's orchestrator SIGKILLed (its heartbeats stop). The real app's gauges
        // read 0 at 2aa9f89b5 and it keeps no per-host state: nothing else of it can be made critical.
        const last = this.nodeNames.at(-1)!;
        this.real.kill(last);
        await this.real.gone(last);
        return;
      }
      case 'training-cluster.sync-host-critical.retired': {
        // The last node's orchestrator SIGKILLed, then the real coordinator's own retirement of the dead peer.
        const last = this.nodeNames.at(-1)!;
        this.real.kill(last);
        await this.real.gone(last);
        // The real check retires a peer 300 s after its last heartbeat, whatever RINGRIFT_P2P_PEER_RETIRE_AFTER_SECONDS says (docs/training-cluster.md).
        await this.waitRetired(last, 420_000);
        return;
      }
      default:
        // The sync faults with real symptoms kill the real orchestrators of their hosts (their heartbeats stop).
        const killed = fault === 'training-cluster.sync-host-critical.multi' ? this.nodeNames.slice(-2) : fault === 'training-cluster.sync-host-critical.host-lost' ? this.nodeNames.slice(-1) : [];
        for (const n of killed) {
          this.real.kill(n);
          await this.real.gone(n);
        }
        if (TRAINING_OPS_FAULTS.includes(fault)) return breakOps(this.opsMesh(), this.sync, fault);
        if (await this.data.breakFault(fault)) return;
        throw new Error(`${this.cluster} knows no fault "${fault}"; known: ${this.faults.join(', ')}`);
    }
  }

  /** Until the coordinator's `/status?alive_only=false&no_cache=true` lists `peer` as retired. */
  private async waitRetired(peer: string, ms: number): Promise<void> {
    const coordinator = this.nodeNames.find((n) => this.roles.get(n)!.includes('coordinator'))!;
    const deadline = Date.now() + ms;
    let last = 'no answer';
    while (Date.now() < deadline) {
      try {
        // no_cache: the real /status answers from a 5 s cache that ignores alive_only (a plain /status of anyone's before it hides the dead peers).
        const res = await fetch(`${this.real.baseUrl(coordinator)}/status?alive_only=false&no_cache=true`, { signal: AbortSignal.timeout(60_000) });
        const s = (await res.json()) as { peers?: Record<string, { retired?: boolean; is_alive?: boolean; last_heartbeat?: number }> };
        const p = s.peers?.[peer];
        if (p?.retired === true) return;
        last = p ? `retired ${String(p.retired)}, alive ${String(p.is_alive)}, last heartbeat ${p.last_heartbeat ? `${Math.round(Date.now() / 1000 - p.last_heartbeat)} s ago` : 'none'}` : `not among its peers (${Object.keys(s.peers ?? {}).join(', ') || 'none'})`;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
    throw new Error(`${this.cluster}: ${coordinator} did not retire ${peer} within ${ms / 1000} s of its orchestrator's kill (${last}); see ${coordinator}'s ai-service/logs/p2p.log`);
  }

  private setOffline(node: string, offline: boolean): void {
    if (offline) this.offline.add(node);
    else this.offline.delete(node);
    this.hostCtl?.setOffline(node, offline);
  }

  /** What ../ops needs of a mesh, on the real nodes (the sync faults stop a host's orchestrator and take it offline). */
  private opsMesh(): Parameters<typeof breakOps>[0] {
    const nodes = this.nodeNames.map((name) => ({ name, roles: this.roles.get(name)!, port: 0, proc: null }));
    // Nodes without a simulated process: ../ops's stop of the lost host is a no-op here (the real one was killed above).
    return { nodes, setOffline: (n: string, off: boolean) => this.setOffline(n, off), evaluate: () => undefined } as unknown as Parameters<typeof breakOps>[0];
  }

  /** The mesh as the nodes' own /status answers say. */
  async mesh(): Promise<{ leader?: string; alive: number; agreed: boolean; summary: string; states: Map<string, string> }> {
    const states = new Map<string, string>();
    const views = await Promise.all(
      this.nodeNames.map(async (name) => {
        try {
          const res = await fetch(`${this.real.baseUrl(name)}/status`, { signal: AbortSignal.timeout(30_000) });
          const s = (await res.json()) as { role?: string; leader_id?: string | null };
          return { name, up: true, role: s.role, leaderId: s.leader_id ?? null };
        } catch {
          return { name, up: false, role: undefined, leaderId: null };
        }
      }),
    );
    const up = views.filter((v) => v.up);
    const leaders = up.filter((v) => v.role === 'leader').map((v) => v.name);
    const leader = leaders.length === 1 ? leaders[0] : undefined;
    const agreed = !!leader && up.every((v) => v.leaderId === leader);
    for (const v of views) states.set(v.name, !v.up ? (this.offline.has(v.name) ? 'offline' : 'down') : v.role === 'leader' ? 'leader' : `follower of ${v.leaderId ?? 'none'}`);
    const summary = `${leaders.length > 1 ? `SPLIT BRAIN (${leaders.join(', ')} lead)` : `leader ${leader ?? 'none'}`}${leader && !agreed ? ' (not yet agreed)' : ''}, ${up.length}/${this.nodeNames.length} orchestrators answer`;
    return { leader, alive: up.length, agreed, summary, states };
  }

  async health(): Promise<ClusterHealth> {
    const m = await this.mesh();
    const nodes: NodeHealth[] = this.nodeNames.map((n) => {
      if (this.sync.isRetired(n)) return { node: n, state: 'retired', detail: 'retired from sync' };
      const s = m.states.get(n) ?? 'down';
      return { node: n, state: s === 'leader' || s.startsWith('follower') ? 'up' : s, detail: s };
    });
    const problems = this.sync.problems();
    if (this.app.pid() === undefined) problems.push('the ai-service app does not run');
    const data = await this.data.health();
    for (const x of nodes) if (data.problems[x.node]?.length) x.detail = `${x.detail ?? ''}; ${data.problems[x.node]!.join(', ')}`;
    const expected = nodes.filter((x) => x.state !== 'retired').length;
    return {
      cluster: this.cluster,
      system: this.system,
      healthy: !!m.leader && m.agreed && m.alive >= expected && problems.length === 0 && data.healthy,
      summary: `real orchestrators: ${m.summary}${problems.length ? `; ${problems.join(', ')}` : ''}; ${data.summary}`,
      nodes,
    };
  }
}

/** True when the path exists (for callers that check the target before a start). */
export function hasRingriftTarball(): boolean {
  return existsSync(ringriftTarball());
}
