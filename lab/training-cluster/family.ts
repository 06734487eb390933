/**
 * The training-cluster family as the lab core sees it ({@link LabFamily}):
 * options, start and stop, endpoints and inventory settings, the shim and
 * fault entry points, and health; it delegates to the game data and models
 * (./data) and the sync coordinator (./sync-coordinator) besides its mesh.
 *
 * @module
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EffectLog } from '../effects';
import type { ClusterHealth, HostControl, LabFamily, LabNodeEndpoint, NodeHealth, ShimCall, ShimResult } from '../family';
import { passthrough } from '../shims';
import { rewriteLocalUrl, startByOperator, stopByOperator, systemctl } from './commands';
import { TrainingData } from './data';
import { RUNBOOK_P2P_PORT, SERVICE, TrainingMesh, type NodeState } from './mesh';
import { breakOps, TRAINING_OPS_FAULTS } from './ops';
import { startProc, stopProc } from './orchestrator';
import { SyncCoordinator } from './sync-coordinator';

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
  /**
   * Cluster outage: the coordinator's host is back this long after the fault; default 10 s, so that a recovery
   * started after the fault on a loaded machine still finds every host down (at 2 s a crash-matrix run on a loaded
   * machine found the coordinator back and rightly refused: not a complete failure).
   */
  outageReturnMs?: number;
  /** Cluster outage: once the coordinator's orchestrator runs, one more node comes back every this many ms; default 1000. */
  rejoinEveryMs?: number;
}

const PATTERN = /p2p_orchestrator|p2p-orchestrator/;

/** The training cluster's P2P mesh, simulated. */
export class TrainingClusterFamily implements LabFamily {
  readonly system = 'training-cluster';
  readonly cluster: string;
  readonly nodeNames: string[];
  readonly tools: string[] = ['pgrep', 'pkill', 'python', 'python3', 'systemctl', 'curl', 'ps', 'rsync', 'bash'];
  readonly faults: string[] = ['training-cluster.mesh-collapse', 'training-cluster.leader-failure', 'training-cluster.leader-failure.voters', ...TRAINING_OPS_FAULTS];
  /** Game databases, backups and models (seed 000 §3, §4, §6): ./data. */
  private readonly data: TrainingData;

  private readonly basePort: number;
  private readonly secretsDir?: string;
  private tick?: NodeJS.Timeout;
  private tokenPath?: string;
  /** The nodes, their orchestrators and the mesh (./mesh), which the API, shims and faults act on. */
  private readonly mesh: TrainingMesh;
  // training-ops: the sync coordinator.
  private readonly sync: SyncCoordinator;

  constructor(opts: TrainingClusterOptions = {}) {
    const n = opts.nodes ?? 5;
    if (!Number.isInteger(n) || n < 3) throw new Error(`training cluster needs at least 3 nodes (got ${n})`);
    this.cluster = opts.cluster ?? 'lab-training';
    this.basePort = opts.basePort ?? 0;
    this.secretsDir = opts.secretsDir;
    const nodes: NodeState[] = Array.from({ length: n }, (_, i) => ({
      name: `tc-node${i + 1}`,
      roles: i === 0 ? ['coordinator', 'voter'] : i < 3 ? ['voter'] : ['worker'],
      port: this.basePort ? this.basePort + i : 0,
      proc: null,
    }));
    this.mesh = new TrainingMesh(this.cluster, nodes, opts.bootMs ?? 2000, opts.outageReturnMs ?? 10_000, opts.rejoinEveryMs ?? 1000);
    this.nodeNames = nodes.map((x) => x.name);
    // --- training-data hook: its tools and faults join the family's.
    this.data = new TrainingData({ cluster: this.cluster, nodes: nodes.map((x) => ({ name: x.name, roles: x.roles })), workdir: 'ai-service' });
    this.tools.push(...this.data.tools);
    this.faults.push(...this.data.faults);
    this.sync = new SyncCoordinator({
      cluster: this.cluster,
      coordinator: nodes[0]!.name,
      hosts: this.nodeNames,
      secretsDir: this.secretsDir,
      port: this.basePort ? this.basePort + 100 : 0,
      online: (node) => !this.mesh.offline.has(node),
      orchestratorRunning: (node) => !!this.mesh.nodes.find((x) => x.name === node)?.proc,
      apiRefused: (node) => this.mesh.hostCtl?.apiRefused(node) ?? false,
    });
  }

  /** Where each node's service lives, relative to its host root (the inventory's `ssh.workdir`). */
  hostWorkdir(_node: string): string {
    return 'ai-service';
  }

  async start(ctx: { hostRoot(node: string): string; effects: EffectLog; hosts?: HostControl }): Promise<void> {
    this.mesh.effects = ctx.effects;
    this.mesh.hostCtl = ctx.hosts;
    await this.sync.start(ctx);
    for (const n of this.mesh.nodes) {
      const tree = join(ctx.hostRoot(n.name), 'ai-service');
      for (const d of ['logs', 'config', 'venv/bin']) mkdirSync(join(tree, d), { recursive: true });
      // As on a real node without the systemd unit: the unit's env file, and the tree's python (here the lab's python shim).
      writeFileSync(join(tree, 'config', 'p2p_orchestrator.env'), `RINGRIFT_NODE_ID=${n.name}\nRINGRIFT_P2P_HOST=0.0.0.0\nRINGRIFT_P2P_PORT=${RUNBOOK_P2P_PORT}\nRINGRIFT_PATH=${tree}\nRINGRIFT_P2P_PEERS=${this.mesh.nodes.filter((x) => x !== n).map((x) => `http://${x.name}:${RUNBOOK_P2P_PORT}`).join(',')}\n`, { mode: 0o600 });
      writeFileSync(join(tree, 'venv', 'bin', 'python'), '#!/bin/sh\nexec python "$@"\n', { mode: 0o755 });
    }
    if (this.secretsDir) {
      mkdirSync(this.secretsDir, { recursive: true, mode: 0o700 });
      this.tokenPath = join(this.secretsDir, `${this.cluster}-auth-token`);
      writeFileSync(this.tokenPath, this.mesh.token + '\n', { mode: 0o600 });
      chmodSync(this.tokenPath, 0o600);
    }
    // The cluster comes up already formed: processes started one boot period ago.
    for (const n of this.mesh.nodes) await startProc(this.mesh, n, Date.now() - this.mesh.bootMs);
    await this.data.start(ctx); // --- training-data hook
    this.mesh.evaluate();
    this.tick = setInterval(() => this.mesh.evaluate(), 50);
    this.tick.unref();
  }

  async stop(): Promise<void> {
    if (this.tick) clearInterval(this.tick);
    this.data.stop(); // --- training-data hook
    for (const t of this.mesh.outage?.timers ?? []) clearTimeout(t);
    await this.sync.stop();
    await Promise.all(this.mesh.nodes.map((n) => stopProc(this.mesh, n)));
  }

  endpoints(): LabNodeEndpoint[] {
    return this.mesh.nodes.map((n) => ({
      name: n.name,
      roles: n.roles,
      http: { baseUrl: `http://127.0.0.1:${n.port}`, authToken: this.tokenPath ? `file:${this.tokenPath}` : this.mesh.token },
      ...(n.roles.includes('coordinator') ? { metricsUrl: this.sync.metricsUrl() } : {}), // the sync coordinator's metrics
    }));
  }

  settings(): Record<string, string | number | boolean> {
    return {
      processPattern: 'scripts/p2p_orchestrator.py',
      localP2pPort: RUNBOOK_P2P_PORT,
      // As the real lab's nodes: no systemd unit; the unit's ExecStart from its env file in the tree.
      p2pUnit: '',
      p2pEnvFile: 'config/p2p_orchestrator.env',
      p2pPython: 'venv/bin/python',
      ...this.data.settings(), // --- training-data hook
      ...this.sync.settings(),
    };
  }

  async shim(call: ShimCall): Promise<ShimResult> {
    const node = this.mesh.nodes.find((n) => n.name === call.node);
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
        return (await stopByOperator(this.mesh, node, `pkill ${args.join(' ')}`)) ? { stdout: '', exitCode: 0 } : { stdout: '', exitCode: 1 };
      }
      case 'python':
      case 'python3': {
        const m = args.indexOf('-m');
        // The seed's start command: that module never existed.
        if (m >= 0 && args[m + 1] === 'app.p2p.orchestrator') return { stdout: '', stderr: `/usr/bin/python: No module named app.p2p.orchestrator\n`, exitCode: 1 };
        if (!args.some((a) => a.endsWith('scripts/p2p_orchestrator.py'))) return passthrough();
        return startByOperator(this.mesh, node, `${call.tool} ${args.join(' ')}`);
      }
      case 'systemctl':
        return systemctl(this.mesh, node, args);
      case 'curl':
        return passthrough(args.map((a) => rewriteLocalUrl(node, a)));
      default:
        return passthrough();
    }
  }

  async breakFault(fault: string): Promise<void> {
    switch (fault) {
      case 'training-cluster.mesh-collapse':
        // As the real lab makes it: every orchestrator killed (a crash: no stop effect), SSH still answers.
        for (const n of this.mesh.nodes) await stopProc(this.mesh, n);
        this.mesh.leader = null;
        return;
      case 'training-cluster.leader-failure': {
        this.mesh.evaluate();
        const leader = this.mesh.nodes.find((n) => n.name === this.mesh.leader);
        if (!leader) throw new Error(`${this.cluster} has no leader to fail; heal the mesh first (lab status)`);
        await stopProc(this.mesh, leader); // a crash: no stop effect, nobody asked for it
        this.mesh.leader = null;
        // The followers keep reporting the dead leader until a reset; the pinned coordinator role means nobody else is elected.
        this.mesh.staleLeader = leader.name;
        return;
      }
      case 'training-cluster.leader-failure.voters': {
        // The leader and the next voter crash together: the voters that answer are no quorum, nobody can be elected
        // until the down voters run again (as the real lab makes it).
        this.mesh.evaluate();
        const leader = this.mesh.nodes.find((n) => n.name === this.mesh.leader);
        if (!leader) throw new Error(`${this.cluster} has no leader to fail; heal the mesh first (lab status)`);
        const voter = this.mesh.nodes.find((n) => n !== leader && n.roles.includes('voter') && n.proc);
        if (!voter) throw new Error(`${this.cluster} has no second running voter to fail with the leader; heal the mesh first (lab status)`);
        await stopProc(this.mesh, leader);
        await stopProc(this.mesh, voter);
        this.mesh.leader = null;
        this.mesh.staleLeader = leader.name;
        return;
      }
      default:
        if (TRAINING_OPS_FAULTS.includes(fault)) return breakOps(this.mesh, this.sync, fault);
        if (await this.data.breakFault(fault)) return; // --- training-data hook
        throw new Error(`${this.cluster} knows no fault "${fault}"; known: ${this.faults.join(', ')}`);
    }
  }

  async health(): Promise<ClusterHealth> {
    this.mesh.evaluate();
    const now = Date.now();
    const nodes: NodeHealth[] = this.mesh.nodes.map((n) => {
      if (this.sync.isRetired(n.name)) return { node: n.name, state: 'retired', detail: 'retired from sync' };
      if (this.mesh.offline.has(n.name)) return { node: n.name, state: 'offline', detail: 'host unreachable' };
      if (!n.proc) return { node: n.name, state: 'down', detail: 'orchestrator not running' };
      if (!n.proc.hearing) return { node: n.name, state: 'collapsed', detail: 'running, hears no heartbeats' };
      if (!this.mesh.inMesh(n, now)) return { node: n.name, state: 'joining', detail: 'booting, not yet in the mesh' };
      return { node: n.name, state: 'up', detail: n.name === this.mesh.leader ? 'leader' : n.roles.join(',') };
    });
    const alive = nodes.filter((x) => x.state === 'up').length;
    const expected = nodes.filter((x) => x.state !== 'retired').length;
    const problems = this.sync.problems();
    // --- training-data hook: the game data and models count towards the cluster's health.
    const data = await this.data.health();
    for (const x of nodes) if (data.problems[x.node]?.length) x.detail = `${x.detail ?? ''}; ${data.problems[x.node]!.join(', ')}`;
    const healthy = this.mesh.leader !== null && alive === expected && problems.length === 0 && data.healthy;
    return {
      cluster: this.cluster,
      system: this.system,
      healthy,
      summary: `leader ${this.mesh.leader ?? 'none'}${this.mesh.electionBlocked ? ' (election stalled)' : ''}, ${alive}/${expected} alive in the mesh${problems.length ? `; ${problems.join(', ')}` : ''}; ${data.summary}`,
      nodes,
    };
  }
}

/** The last argument that is not an option: pgrep's/pkill's pattern. */
function lastOperand(args: string[]): string | undefined {
  return [...args].reverse().find((a) => !a.startsWith('-'));
}
