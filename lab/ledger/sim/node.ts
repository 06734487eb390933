/**
 * The simulation as a {@link LedgerBackend}: each node's "process" is a
 * gRPC server built from Lifeboat's own ledger proto (`createLedgerServer`)
 * and a metrics endpoint, on the unit's loopback ports, over the node's real
 * data directory. A start reads `node_id` (minting one on a fresh
 * directory), `cluster_id` and the replica; a node that finds a
 * `cluster_id` takes the real server's restart path and is stale. The CLI
 * answers `--version` and `init --host` as the real binary prints them.
 *
 * @module
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { createLedgerServer } from '../../../src/activities/ledger/wire';
import type { EffectLog } from '../../effects';
import type { HostControl, ShimResult } from '../../family';
import type { LedgerBackend, ProcessInfo } from '../backend';
import { LEDGER_VERSION, type LedgerUnit } from '../units';
import { adminService, initCluster } from './admin';
import { DEFAULT_TIMINGS, newMetrics, SimCluster, type SimNode, type SimTimings } from './cluster';
import { readService, writeService } from './data';
import { healthService, pinDivergence, serveMetrics } from './health';
import { emptyReplica, readNodeFiles, snowflake, writeIdFile } from './model';
import { discoveryService, organizationService, userService, vaultService } from './orgs';

export class SimBackend implements LedgerBackend {
  readonly kind = 'sim' as const;
  readonly sim: SimCluster;

  constructor(cluster: string, timings: Partial<SimTimings> = {}) {
    this.sim = new SimCluster(cluster, { ...DEFAULT_TIMINGS, ...timings });
  }

  /** Wiring the family hands over at start: the effect log and the host faults. */
  attach(effects: EffectLog, hosts?: HostControl): void {
    this.sim.effects = effects;
    this.sim.hostCtl = hosts;
  }

  async prepare(units: LedgerUnit[]): Promise<void> {
    for (const unit of units) {
      this.sim.nodes.set(unit.node, { name: unit.node, unit, running: false, stale: false, nodeId: '', r: emptyReplica(), log: [], metrics: newMetrics(), timers: new Set() });
    }
  }

  private node(name: string): SimNode {
    const n = this.sim.nodes.get(name);
    if (!n) throw new Error(`lab ledger: no node ${name}`);
    return n;
  }

  running(node: string): boolean {
    return this.node(node).running;
  }

  async start(unit: LedgerUnit): Promise<void> {
    const n = this.node(unit.node);
    if (n.running) return;
    mkdirSync(unit.data, { recursive: true });
    const files = readNodeFiles(unit.data);
    n.nodeId = files.nodeId ?? snowflake();
    if (!files.nodeId) writeIdFile(unit.data, 'node_id', n.nodeId);
    n.stale = !!files.clusterId;
    n.r = files.clusterId ? { ...(files.replica ?? emptyReplica()), clusterId: files.clusterId } : emptyReplica();
    n.metrics = newMetrics();
    await this.bind(n);
    n.running = true;
    n.since = new Date();
    n.exited = undefined;
    if (n.stale) {
      this.sim.logLine(n, `restart path: cluster_id ${files.clusterId} found in ${unit.data}; using persisted membership (${n.r.members.length} voters)`);
    } else {
      this.sim.logLine(n, `node ${n.nodeId} started in uninitialized state; polling seeds ${unit.join.join(',')}`);
      const poll = setInterval(() => this.sim.pollSeeds(n), this.sim.t.joinPollMs);
      poll.unref();
      n.timers.add(poll);
      const giveUp = setTimeout(() => {
        if (n.running && !n.r.clusterId) {
          n.exited = `exit 1: Bootstrap(InitTimeout { timeout_secs: ${Math.round(this.sim.t.initWaitMs / 1000)} })`;
          void this.halt(n, 'never initialized (init-wait-timeout)');
        }
      }, this.sim.t.initWaitMs);
      giveUp.unref();
      n.timers.add(giveUp);
    }
    this.sim.reconcile();
  }

  private async bind(n: SimNode): Promise<void> {
    const server = createLedgerServer({
      AdminService: adminService(this.sim, n),
      HealthService: healthService(this.sim, n),
      SystemDiscoveryService: discoveryService(this.sim, n),
      OrganizationService: organizationService(this.sim, n),
      VaultService: vaultService(this.sim, n),
      UserService: userService(this.sim, n),
      ReadService: readService(this.sim, n),
      WriteService: writeService(this.sim, n),
    });
    await new Promise<void>((ok, ko) => server.bindAsync(n.unit.listen, grpc.ServerCredentials.createInsecure(), (err) => (err ? ko(err) : ok())));
    const http = createServer((req, res) => serveMetrics(n, req, res));
    const [host, port] = n.unit.metrics.split(':');
    try {
      await new Promise<void>((ok, ko) => {
        http.once('error', ko);
        http.listen(Number(port), host, () => {
          http.off('error', ko);
          ok();
        });
      });
    } catch (e) {
      server.forceShutdown();
      throw e;
    }
    n.server = server;
    n.http = http;
  }

  private async halt(n: SimNode, why: string): Promise<void> {
    const was = n.running;
    n.running = false;
    for (const t of n.timers) clearTimeout(t);
    n.timers.clear();
    n.server?.forceShutdown();
    n.server = undefined;
    const http = n.http;
    n.http = undefined;
    if (http) {
      http.closeAllConnections();
      await new Promise<void>((ok) => http.close(() => ok()));
    }
    if (was) {
      this.sim.logLine(n, `shutting down: ${why}`);
      this.sim.reconcile();
    }
  }

  async stop(node: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const n = this.node(node);
    if (!n.running) return;
    if (signal === 'SIGKILL') n.exited = 'killed by SIGKILL';
    await this.halt(n, signal === 'SIGKILL' ? 'killed (SIGKILL)' : 'SIGTERM: graceful shutdown');
  }

  async cli(node: string, argv: string[]): Promise<ShimResult> {
    if (argv[0] === '--version' || argv[0] === '-V') return { stdout: `inferadb-ledger ${LEDGER_VERSION}\n`, exitCode: 0 };
    if (argv[0] !== 'init') return { stdout: '', stderr: `lab: \`inferadb-ledger ${argv.join(' ')}\` is not simulated (only --version and init --host)\n`, exitCode: 2 };
    let host = '';
    for (let i = 1; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '--host') host = argv[++i] ?? '';
      else if (a.startsWith('--host=')) host = a.slice('--host='.length);
      else return { stdout: '', stderr: `error: unexpected argument '${a}' found\n\nUsage: inferadb-ledger init --host <HOST>\n`, exitCode: 2 };
    }
    if (!host) return { stdout: '', stderr: 'error: the following required arguments were not provided:\n  --host <HOST>\n', exitCode: 2 };
    const target = this.sim.byAddress(host.replace(/^https?:\/\//, ''));
    if (!target?.running) {
      return { stdout: '', stderr: `Error: failed to connect to ${host}: transport error: Connection refused (os error 111)\n`, exitCode: 1 };
    }
    const r = initCluster(this.sim, target);
    this.sim.reconcile();
    return { stdout: `${r.initialized ? 'Cluster initialized.' : 'Cluster already initialized.'} cluster_id=${r.cluster_id}\n`, exitCode: 0 };
  }

  describe(node: string): ProcessInfo {
    const n = this.node(node);
    return { pid: n.running ? 40_000 + [...this.sim.nodes.keys()].indexOf(node) : undefined, since: n.since, exited: n.exited, log: [...n.log] };
  }

  async shutdown(): Promise<void> {
    this.sim.clearTimers();
    for (const n of this.sim.nodes.values()) await this.halt(n, 'lab shutting down');
  }

  /** The sim-only half of `ledger.vault-divergence-stuck`: the diverged vault's auto-recovery never runs. */
  pinDivergence(organization: string, vault: string): boolean {
    const cids = new Set([...this.sim.nodes.values()].map((n) => n.r.clusterId).filter(Boolean));
    let pinned = false;
    for (const cid of cids) pinned = pinDivergence(this.sim, cid, organization, vault) || pinned;
    return pinned;
  }
}
