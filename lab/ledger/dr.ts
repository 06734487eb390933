/**
 * The ledger's DR region (seed 002, "Regional Failover"): a standby ledger
 * cluster in another region, the primary's export replicated into a bucket
 * there, and the engine's Kubernetes side (./engine) behind a `kubectl`
 * shim on a DR bastion.
 *
 * Inventory: the primary cluster names its DR cluster in
 * `settings.drCluster`; the DR cluster has its voters (`dr-node1..3`, role
 * `voter`, `ssh.workdir` the runbook's `/dr-region`, where their data lives)
 * and one `bastion` (role `bastion`). Its settings name the replicated
 * export (`replicaSource`,
 * `s3://ledger-primary-backups/latest/ledger-export.jsonl`), the endpoint
 * the engine is switched to (`drEndpoint`) and the ConfigMap, key and
 * Deployment.
 *
 * The DR voters are a {@link LedgerFamily} in standby, on the primary's
 * backend: their units are installed (each `--join`s the three DR voters)
 * but stopped, and their data directories are empty.
 *
 * Fault `ledger.regional-failover`: the primary's export is written to
 * `s3://ledger-primary-backups/latest/ledger-export.jsonl`, dated 7 minutes
 * before the outage (the RPO gap), then every primary node is killed (kill
 * -9; disks survive).
 *
 * Effects (cluster `lab-ledger-dr`): what the DR voters' shims record
 * (./commands, ./s3), and on the bastion `k8s.configmap-patched` and
 * `k8s.rollout-restarted`.
 *
 * @module
 */
import { mkdirSync, statSync, utimesSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EffectLog } from '../effects';
import type { ClusterHealth, HostControl, LabFamily, LabNodeEndpoint, NodeHealth, ShimCall, ShimResult } from '../family';
import { CONFIGMAP, DEPLOYMENT, DR_ENDPOINT, ENDPOINT_KEY, EngineSim, PRIMARY_ENDPOINT } from './engine';
import { LedgerFamily } from './family';
import { ARCHIVE_KEY, labS3Root, REPLICA_BUCKET } from './s3';

/** The fault of this family. */
export const LEDGER_DR_FAULTS = ['ledger.regional-failover'] as const;

/** How long before the outage the last replication ran (the RPO gap the fault leaves). */
export const REPLICATION_LAG_MS = 7 * 60_000;

const BASTION = 'bastion';
const DR_WORKDIR = 'dr-region';

export interface LedgerDrFamilyOptions {
  /** The primary region's cluster (already constructed; started before this family). */
  primary: LedgerFamily;
  /** Inventory cluster name; default "lab-ledger-dr". */
  cluster?: string;
  /** First gRPC port of the DR voters (as {@link LedgerFamily}); 0 = free ports. */
  basePort?: number;
  /** How long a rollout restart takes to replace every engine pod; default 1500 ms. */
  rolloutMs?: number;
  /** Engine replicas; default 3. */
  replicas?: number;
}

/** The DR region of the lab ledger: standby voters, a bastion with `kubectl`, the replica bucket, the engine. */
export class LedgerDrFamily implements LabFamily {
  readonly system = 'ledger';
  readonly cluster: string;
  readonly nodeNames: string[];
  readonly tools = ['systemctl', 'inferadb-ledger', 'aws', 'kubectl'];
  readonly faults: string[] = [...LEDGER_DR_FAULTS];
  /** The standby voters. */
  readonly voters: LedgerFamily;

  private readonly primary: LedgerFamily;
  private readonly opts: LedgerDrFamilyOptions;
  private engine?: EngineSim;
  private effects?: EffectLog;
  private replicaFile = '';

  constructor(opts: LedgerDrFamilyOptions) {
    this.opts = opts;
    this.cluster = opts.cluster ?? 'lab-ledger-dr';
    this.primary = opts.primary;
    this.primary.drCluster = this.cluster;
    this.voters = new LedgerFamily({
      cluster: this.cluster,
      nodes: 3,
      nodePrefix: 'dr-node',
      standby: true,
      workdir: DR_WORKDIR,
      basePort: opts.basePort,
      backend: opts.primary.backendKind,
      sim: opts.primary.simTimings,
    });
    this.nodeNames = [...this.voters.nodeNames, BASTION];
  }

  /** Installs the standby voters (stopped, empty) and the engine, routed to the primary. */
  async start(ctx: { hostRoot(node: string): string; effects: EffectLog; hosts?: HostControl }): Promise<void> {
    if (this.engine) throw new Error('lab ledger-dr: already started');
    this.effects = ctx.effects;
    for (const node of this.voters.nodeNames) mkdirSync(join(resolve(ctx.hostRoot(node)), DR_WORKDIR), { recursive: true });
    await this.voters.start(ctx);
    this.replicaFile = join(labS3Root(ctx.hostRoot(this.voters.nodeNames[0]!)), REPLICA_BUCKET, ARCHIVE_KEY);
    const serves = async (ep: string): Promise<boolean> => (ep === DR_ENDPOINT ? this.voters.serves() : ep === PRIMARY_ENDPOINT ? this.primary.serves() : false);
    this.engine = new EngineSim(serves, (effect, detail) => this.record(BASTION, effect, detail), this.opts.rolloutMs ?? 1500, this.opts.replicas ?? 3);
  }

  async stop(): Promise<void> {
    await this.voters.stop();
  }

  endpoints(): LabNodeEndpoint[] {
    return [...this.voters.endpoints(), { name: BASTION, roles: ['bastion'] }];
  }

  /** The DR voters run the runbook's commands in `/dr-region` (their ssh.workdir). */
  hostWorkdir(node: string): string {
    return node === BASTION ? '' : DR_WORKDIR;
  }

  settings(): Record<string, string | number | boolean> {
    return {
      ...this.voters.settings(),
      role: 'dr',
      primaryCluster: this.primary.cluster,
      replicaSource: `s3://${REPLICA_BUCKET}/${ARCHIVE_KEY}`,
      drEndpoint: DR_ENDPOINT,
      engineConfigMap: CONFIGMAP,
      endpointKey: ENDPOINT_KEY,
      engineDeployment: DEPLOYMENT,
    };
  }

  async shim(call: ShimCall): Promise<ShimResult> {
    if (!this.engine) return { stdout: '', stderr: 'lab ledger-dr: not started\n', exitCode: 127 };
    if (call.node === BASTION) {
      if (call.tool === 'kubectl') return this.engine.kubectl(call.argv);
      return { stdout: '', stderr: `${call.tool}: command not found (the bastion only has kubectl)\n`, exitCode: 127 };
    }
    if (call.tool === 'kubectl') return { stdout: '', stderr: 'kubectl: command not found (kubectl runs on the bastion)\n', exitCode: 127 };
    return this.voters.shim(call);
  }

  async breakFault(fault: string): Promise<void> {
    if (!this.engine) throw new Error('lab ledger-dr: start the lab before breaking it');
    if (fault !== 'ledger.regional-failover') throw new Error(`lab ledger-dr: unknown fault "${fault}"; known: ${this.faults.join(', ')}`);
    const outage = Date.now();
    await this.primary.exportTo(this.replicaFile);
    // The last replication ran a while before the outage: what was committed since is lost.
    const when = new Date(outage - REPLICATION_LAG_MS);
    utimesSync(this.replicaFile, when, when);
    await this.primary.killAll(fault);
  }

  async health(): Promise<ClusterHealth> {
    const engine = this.engine;
    const inner = await this.voters.health();
    const active = this.voters.anyRunning();
    const nodes: NodeHealth[] = inner.nodes.map((n) =>
      !active && n.state === 'down' ? { node: n.node, state: 'standby', detail: 'DR machine ready, ledger not started' } : n,
    );
    const pods = engine ? await engine.pods() : { updated: 0, ready: 0 };
    const replicas = engine?.replicas ?? 0;
    const routed = engine?.routedTo() ?? 'unknown';
    const ep = engine?.configMaps[CONFIGMAP]?.[ENDPOINT_KEY] ?? '(unset)';
    nodes.push({
      node: BASTION,
      state: pods.ready === replicas ? 'up' : 'degraded',
      detail: `configmap/${CONFIGMAP} ${ENDPOINT_KEY}=${ep}; deployment/${DEPLOYMENT} ${pods.ready}/${replicas} ready on the ${routed} ledger${engine?.rolling() ? ' (rollout in progress)' : ''}`,
    });
    const engineOk = pods.ready === replicas && !engine?.rolling();
    const drOk = active ? inner.healthy : true;
    const summary = !active
      ? `standby (${this.replicaAge()}); engine on the ${routed} ledger, ${pods.ready}/${replicas} pods ready`
      : `${inner.healthy ? 'DR cluster serving' : `DR cluster: ${inner.summary}`}; engine on the ${routed} ledger, ${pods.ready}/${replicas} pods ready`;
    return { cluster: this.cluster, system: this.system, healthy: engineOk && drOk, summary, nodes };
  }

  private replicaAge(): string {
    try {
      return `replica ${this.replicaFile.slice(this.replicaFile.indexOf(REPLICA_BUCKET))} from ${Math.round((Date.now() - statSync(this.replicaFile).mtimeMs) / 60_000)} min ago`;
    } catch {
      return `nothing replicated yet to s3://${REPLICA_BUCKET}/${ARCHIVE_KEY}`;
    }
  }

  private record(node: string, effect: string, detail: Record<string, unknown>): void {
    this.effects?.record({ cluster: this.cluster, node, effect, detail });
  }
}
