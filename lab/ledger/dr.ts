/**
 * The ledger's DR region (seed 002, "Regional Failover"): a standby ledger
 * cluster in another region, the primary's snapshots replicated into a
 * bucket there, and the Kubernetes side that routes the engine to a ledger
 * (`ledger-config` ConfigMap, `engine` Deployment), driven through a
 * `kubectl` shim on a DR bastion host.
 *
 * Inventory (what an SRE writes in clusters.yaml for a DR pair): the primary
 * cluster names its DR cluster in `settings.drCluster`; the DR cluster is a
 * cluster of its own with its voters (`dr-node1..3`, role `voter`, their
 * `ssh.workdir` is the runbook's `/dr-region`) and one `bastion` node (role
 * `bastion`) where `kubectl` runs against the engine's Kubernetes cluster.
 * Its settings name the replicated snapshots (`replicaSource`, default
 * `s3://ledger-primary-backups/latest/`), the endpoint the engine is switched
 * to (`drEndpoint`, `ledger.dr-region.internal:50051`), and the ConfigMap,
 * key and Deployment (`engineConfigMap`, `endpointKey`, `engineDeployment`).
 *
 * What is simulated: the DR voters are a {@link LedgerFamily} in standby
 * (machines up, ledger not running, data directories empty); the bucket
 * `<lab>/s3/ledger-primary-backups/latest/` holds the primary's replicated
 * state file (written at lab start, its mtime is the replication time);
 * the engine's pods are Ready only while the endpoint their ConfigMap gave
 * them at their start resolves to a ledger cluster with a leader
 * (`ledger.primary-region.internal:50051` is the primary lab cluster,
 * `ledger.dr-region.internal:50051` this one). A rollout restart replaces
 * the pods over `rolloutMs`; the new pods read the ConfigMap as it is then.
 *
 * Fault `ledger.regional-failover`: the whole primary region is down (every
 * primary node's process stops and its ports close; disks survive), and the
 * last replication is dated 7 minutes before the outage (the RPO gap).
 *
 * Effects (cluster `lab-ledger-dr`): `ledger.dr-sync` {source, dest, files}
 * and `ledger.start` on DR voters (from the ledger simulation), on the
 * bastion `k8s.configmap-patched` {configmap, key, from, to} (only when the
 * value changed) and `k8s.rollout-restarted` {deployment, endpoint}.
 *
 * `kubectl` shim (argv as kubectl takes it; `-n/--namespace NS` accepted):
 * `get configmap|cm NAME -o json`, `get deployment|deploy NAME -o json`,
 * `patch configmap|cm NAME -p|--patch JSON [--type merge|strategic]`,
 * `rollout restart deployment/NAME`, `rollout status deployment/NAME
 * [--timeout=DURATION]` (waits like kubectl; exit 1 "timed out waiting for
 * the condition"). Anything else exits 1 with kubectl's kind of message.
 *
 * @module
 */
import { mkdirSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EffectLog } from '../effects';
import type { ClusterHealth, LabFamily, LabNodeEndpoint, NodeHealth, ShimCall, ShimResult } from '../family';
import { LedgerFamily } from './family';
import { labS3Root } from './s3';
import { saveState } from './state';

/** The fault of this family. */
export const LEDGER_DR_FAULTS = ['ledger.regional-failover'] as const;

/** The replicated bucket of seed 002's Regional Failover. */
export const REPLICA_BUCKET = 'ledger-primary-backups';
/** Where the engine reaches the primary ledger, and the DR one (the runbook's values). */
export const PRIMARY_ENDPOINT = 'ledger.primary-region.internal:50051';
export const DR_ENDPOINT = 'ledger.dr-region.internal:50051';
/** How long before the outage the last replication ran (the RPO gap the fault leaves). */
export const REPLICATION_LAG_MS = 7 * 60_000;

const BASTION = 'bastion';
const DR_WORKDIR = 'dr-region';
const CONFIGMAP = 'ledger-config';
const ENDPOINT_KEY = 'LEDGER_ENDPOINT';
const DEPLOYMENT = 'engine';
const NAMESPACE = 'default';

export interface LedgerDrFamilyOptions {
  /** The primary region's cluster (already constructed; started before this family). */
  primary: LedgerFamily;
  /** Inventory cluster name; default "lab-ledger-dr". */
  cluster?: string;
  /** First gRPC port of the DR voters (as {@link LedgerFamily}); 0 = ephemeral. */
  basePort?: number;
  electionMs?: number;
  /** How long a rollout restart takes to replace every engine pod; default 1500 ms. */
  rolloutMs?: number;
  /** Engine replicas; default 3. */
  replicas?: number;
}

interface Deployment {
  replicas: number;
  generation: number;
  /** Endpoint the current pods were started with. */
  podEndpoint: string;
  /** While a rollout runs: when it ends, and the endpoint the new pods get. */
  rollout?: { startedAt: number; endsAt: number; endpoint: string };
  restartedAt?: string;
}

/**
 * The DR region of the lab ledger: standby voters, a bastion with `kubectl`,
 * the replicated snapshot bucket, and the engine's ConfigMap and Deployment.
 */
export class LedgerDrFamily implements LabFamily {
  readonly system = 'ledger';
  readonly cluster: string;
  readonly nodeNames: string[];
  readonly tools = ['systemctl', 'inferadb-ledger', 'aws', 'kubectl'];
  readonly faults: string[] = [...LEDGER_DR_FAULTS];

  private readonly primary: LedgerFamily;
  private readonly voters: LedgerFamily;
  private readonly rolloutMs: number;
  private readonly configMaps: Record<string, Record<string, string>> = {};
  private deployment: Deployment;
  private effects?: EffectLog;
  private replicaDir = '';
  private started = false;

  constructor(opts: LedgerDrFamilyOptions) {
    this.cluster = opts.cluster ?? 'lab-ledger-dr';
    this.primary = opts.primary;
    this.primary.drCluster = this.cluster;
    this.voters = new LedgerFamily({ cluster: this.cluster, nodes: 3, nodePrefix: 'dr-node', standby: true, basePort: opts.basePort, electionMs: opts.electionMs });
    this.nodeNames = [...this.voters.nodeNames, BASTION];
    this.rolloutMs = opts.rolloutMs ?? 1500;
    this.deployment = { replicas: opts.replicas ?? 3, generation: 1, podEndpoint: PRIMARY_ENDPOINT };
  }

  /**
   * Starts the standby voters, replicates the primary's current state into
   * `s3://ledger-primary-backups/latest/`, and sets the engine on the primary.
   * The primary family must have started first.
   */
  async start(ctx: { hostRoot(node: string): string; effects: EffectLog }): Promise<void> {
    if (this.started) throw new Error('lab ledger-dr: already started');
    const state = this.primary.replicatedState();
    if (!state) throw new Error('lab ledger-dr: the primary ledger (family "ledger") must run before its DR region starts');
    this.effects = ctx.effects;
    for (const node of this.voters.nodeNames) mkdirSync(join(resolve(ctx.hostRoot(node)), DR_WORKDIR), { recursive: true });
    await this.voters.start(ctx);
    this.replicaDir = join(labS3Root(ctx.hostRoot(this.voters.nodeNames[0]!)), REPLICA_BUCKET, 'latest');
    saveState(this.replicaDir, state);
    this.configMaps[CONFIGMAP] = { [ENDPOINT_KEY]: PRIMARY_ENDPOINT };
    this.deployment = { ...this.deployment, generation: 1, podEndpoint: PRIMARY_ENDPOINT, rollout: undefined, restartedAt: undefined };
    this.started = true;
  }

  async stop(): Promise<void> {
    await this.voters.stop();
    this.started = false;
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
      // The runbook's `cd /dr-region` is each voter's ssh.workdir; the data is `./data` in it.
      dataDir: './data',
      role: 'dr',
      primaryCluster: this.primary.cluster,
      replicaSource: `s3://${REPLICA_BUCKET}/latest/`,
      drEndpoint: DR_ENDPOINT,
      engineConfigMap: CONFIGMAP,
      endpointKey: ENDPOINT_KEY,
      engineDeployment: DEPLOYMENT,
    };
  }

  async shim(call: ShimCall): Promise<ShimResult> {
    if (!this.started) return { stdout: '', stderr: 'lab ledger-dr: not started\n', exitCode: 127 };
    if (call.node === BASTION) {
      if (call.tool === 'kubectl') return this.kubectl(call.argv);
      return { stdout: '', stderr: `${call.tool}: command not found (the bastion only has kubectl)\n`, exitCode: 127 };
    }
    if (call.tool === 'kubectl') return { stdout: '', stderr: 'kubectl: command not found (kubectl runs on the bastion)\n', exitCode: 127 };
    return this.voters.shim(call);
  }

  async breakFault(fault: string): Promise<void> {
    if (!this.started) throw new Error('lab ledger-dr: start the lab before breaking it');
    if (fault !== 'ledger.regional-failover') throw new Error(`lab ledger-dr: unknown fault "${fault}"; known: ${this.faults.join(', ')}`);
    const outage = Date.now();
    await this.primary.regionDown();
    // The last replication ran a while before the outage: what was committed since is lost.
    const when = new Date(outage - REPLICATION_LAG_MS);
    for (const f of readdirSync(this.replicaDir)) utimesSync(join(this.replicaDir, f), when, when);
  }

  async health(): Promise<ClusterHealth> {
    const inner = await this.voters.health();
    const active = this.voters.anyRunning();
    const nodes: NodeHealth[] = inner.nodes.map((n) =>
      !active && n.state === 'down' ? { node: n.node, state: 'standby', detail: 'DR machine ready, ledger not started' } : n,
    );
    const ep = this.configMaps[CONFIGMAP]?.[ENDPOINT_KEY] ?? '(unset)';
    const pods = this.pods();
    const routed = this.deployment.podEndpoint === DR_ENDPOINT ? 'DR' : this.deployment.podEndpoint === PRIMARY_ENDPOINT ? 'primary' : 'unknown';
    nodes.push({
      node: BASTION,
      state: pods.ready === this.deployment.replicas ? 'up' : 'degraded',
      detail: `configmap/${CONFIGMAP} ${ENDPOINT_KEY}=${ep}; deployment/${DEPLOYMENT} ${pods.ready}/${this.deployment.replicas} ready on the ${routed} ledger${this.deployment.rollout ? ' (rollout in progress)' : ''}`,
    });
    const engineOk = pods.ready === this.deployment.replicas && !this.deployment.rollout;
    const drOk = active ? inner.healthy : true;
    const summary = !active
      ? `standby (replica ${this.replicaAge()}); engine on the ${routed} ledger, ${pods.ready}/${this.deployment.replicas} pods ready`
      : `${inner.healthy ? 'DR cluster serving' : `DR cluster: ${inner.summary}`}; engine on the ${routed} ledger, ${pods.ready}/${this.deployment.replicas} pods ready`;
    return { cluster: this.cluster, system: this.system, healthy: engineOk && drOk, summary, nodes };
  }

  // -------------------------------------------------------------- kubectl --

  private kubectl(argv: string[]): Promise<ShimResult> | ShimResult {
    const words: string[] = [];
    let output: string | undefined;
    let patch: string | undefined;
    let timeoutMs = 0;
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      const value = (flag: string): string | undefined => (a === flag ? argv[++i] : a.startsWith(`${flag}=`) ? a.slice(flag.length + 1) : undefined);
      if (a === '-n' || a === '--namespace' || a.startsWith('--namespace=')) {
        const ns = value(a.startsWith('--namespace') ? '--namespace' : '-n');
        if (ns !== NAMESPACE) return kfail(`Error from server (NotFound): namespaces "${ns ?? ''}" not found`);
      } else if (a === '-o' || a.startsWith('--output') || a.startsWith('-o=')) output = value(a.startsWith('--output') ? '--output' : '-o');
      else if (a === '-p' || a === '--patch' || a.startsWith('--patch=')) patch = value(a.startsWith('--patch') ? '--patch' : '-p');
      else if (a === '--type' || a.startsWith('--type=')) {
        const t = value('--type');
        if (t !== 'merge' && t !== 'strategic') return kfail(`error: --type must be "merge" or "strategic" here (lab), got "${t ?? ''}"`);
      } else if (a.startsWith('--timeout')) {
        const t = value('--timeout') ?? '';
        const m = /^(\d+)(ms|s|m)?$/.exec(t);
        if (!m) return kfail(`error: invalid --timeout "${t}"`);
        timeoutMs = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
      } else if (a === '-w=false' || a === '--watch=false') continue;
      else if (a.startsWith('-')) return kfail(`error: unknown flag: ${a}`);
      else words.push(a);
    }
    const [verb, ...rest] = words;
    const target = (): { kind: string; name: string } | undefined => {
      const [k, n] = rest[0]?.includes('/') ? (rest[0].split('/') as [string, string]) : [rest[0], rest[1]];
      if (!k || !n) return undefined;
      const kind = k === 'cm' || k === 'configmap' || k === 'configmaps' ? 'configmap' : k === 'deploy' || k.startsWith('deployment') ? 'deployment' : k;
      return { kind, name: n };
    };
    if (verb === 'get') {
      const t = target();
      if (!t) return kfail('error: you must specify the type of resource to get and its name');
      if (output !== 'json') return kfail('error: the lab answers `kubectl get` with -o json only');
      if (t.kind === 'configmap') {
        const data = this.configMaps[t.name];
        if (!data) return kfail(`Error from server (NotFound): configmaps "${t.name}" not found`);
        return { stdout: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: t.name, namespace: NAMESPACE }, data }, null, 2) + '\n', exitCode: 0 };
      }
      if (t.kind === 'deployment') {
        if (t.name !== DEPLOYMENT) return kfail(`Error from server (NotFound): deployments.apps "${t.name}" not found`);
        return { stdout: JSON.stringify(this.deploymentJson(), null, 2) + '\n', exitCode: 0 };
      }
      return kfail(`error: the server doesn't have a resource type "${t.kind}"`);
    }
    if (verb === 'patch') {
      const t = target();
      if (!t || t.kind !== 'configmap') return kfail('error: the lab patches configmaps only: kubectl patch configmap NAME -p JSON');
      const data = this.configMaps[t.name];
      if (!data) return kfail(`Error from server (NotFound): configmaps "${t.name}" not found`);
      if (patch === undefined) return kfail('error: must specify -p to patch');
      let body: { data?: Record<string, unknown> };
      try {
        body = JSON.parse(patch) as typeof body;
      } catch (e) {
        return kfail(`error: unable to parse "${patch}": ${(e as Error).message}`);
      }
      const entries = Object.entries(body.data ?? {});
      if (!body.data || entries.some(([, v]) => typeof v !== 'string')) return kfail('error: the patch must be {"data":{"KEY":"string value"}}');
      let changed = false;
      for (const [key, v] of entries as Array<[string, string]>) {
        if (data[key] === v) continue;
        this.record(BASTION, 'k8s.configmap-patched', { configmap: t.name, key, from: data[key] ?? null, to: v });
        data[key] = v;
        changed = true;
      }
      return { stdout: `configmap/${t.name} patched${changed ? '' : ' (no change)'}\n`, exitCode: 0 };
    }
    if (verb === 'rollout') {
      const sub = rest.shift();
      const t = target();
      if (!t || t.kind !== 'deployment') return kfail('error: rollout needs deployment/NAME');
      if (t.name !== DEPLOYMENT) return kfail(`Error from server (NotFound): deployments.apps "${t.name}" not found`);
      if (sub === 'restart') return this.rolloutRestart();
      if (sub === 'status') return this.rolloutStatus(timeoutMs);
      return kfail(`error: unknown rollout subcommand "${sub ?? ''}" (lab: restart, status)`);
    }
    return kfail(`error: unknown command "${verb ?? ''}" for "kubectl" (lab: get, patch, rollout)`);
  }

  private rolloutRestart(): ShimResult {
    this.settle();
    const endpoint = this.configMaps[CONFIGMAP]?.[ENDPOINT_KEY] ?? '';
    const now = Date.now();
    this.deployment.generation += 1;
    this.deployment.restartedAt = new Date(now).toISOString();
    this.deployment.rollout = { startedAt: now, endsAt: now + this.rolloutMs, endpoint };
    this.record(BASTION, 'k8s.rollout-restarted', { deployment: DEPLOYMENT, endpoint });
    return { stdout: `deployment.apps/${DEPLOYMENT} restarted\n`, exitCode: 0 };
  }

  private async rolloutStatus(timeoutMs: number): Promise<ShimResult> {
    const deadline = Date.now() + (timeoutMs || 10 * 60_000);
    const lines: string[] = [];
    for (;;) {
      this.settle();
      const p = this.pods();
      const r = this.deployment.replicas;
      if (!this.deployment.rollout && p.ready === r) {
        lines.push(`deployment "${DEPLOYMENT}" successfully rolled out`);
        return { stdout: lines.join('\n') + '\n', exitCode: 0 };
      }
      const line = this.deployment.rollout
        ? `Waiting for deployment "${DEPLOYMENT}" rollout to finish: ${p.updated} of ${r} updated replicas are available...`
        : `Waiting for deployment "${DEPLOYMENT}" rollout to finish: ${p.ready} of ${r} updated replicas are available...`;
      if (lines[lines.length - 1] !== line) lines.push(line);
      if (Date.now() >= deadline) return { stdout: lines.join('\n') + '\n', stderr: 'error: timed out waiting for the condition\n', exitCode: 1 };
      await new Promise((ok) => setTimeout(ok, Math.min(200, Math.max(1, deadline - Date.now()))));
    }
  }

  /** Ends a rollout whose time is up: the new pods run with the endpoint they read. */
  private settle(): void {
    const r = this.deployment.rollout;
    if (r && Date.now() >= r.endsAt) {
      this.deployment.podEndpoint = r.endpoint;
      this.deployment.rollout = undefined;
    }
  }

  /** Engine pods: how many run the new template, and how many are Ready (their ledger answers with a leader). */
  private pods(): { updated: number; ready: number } {
    this.settle();
    const d = this.deployment;
    const serves = (ep: string): boolean => (ep === DR_ENDPOINT ? !!this.voters.servingLeader() : ep === PRIMARY_ENDPOINT ? !!this.primary.servingLeader() : false);
    if (!d.rollout) return { updated: d.replicas, ready: serves(d.podEndpoint) ? d.replicas : 0 };
    const frac = Math.min(1, (Date.now() - d.rollout.startedAt) / Math.max(1, d.rollout.endsAt - d.rollout.startedAt));
    const updated = Math.min(d.replicas - 1, Math.floor(frac * d.replicas));
    const ready = (serves(d.rollout.endpoint) ? updated : 0) + (serves(d.podEndpoint) ? d.replicas - updated : 0);
    return { updated, ready };
  }

  private deploymentJson(): object {
    const p = this.pods();
    const d = this.deployment;
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: DEPLOYMENT, namespace: NAMESPACE, generation: d.generation },
      spec: {
        replicas: d.replicas,
        template: {
          metadata: { annotations: d.restartedAt ? { 'kubectl.kubernetes.io/restartedAt': d.restartedAt } : {} },
          spec: { containers: [{ name: 'engine', envFrom: [{ configMapRef: { name: CONFIGMAP } }] }] },
        },
      },
      status: { observedGeneration: d.generation, replicas: d.replicas, updatedReplicas: p.updated, readyReplicas: p.ready, availableReplicas: p.ready },
    };
  }

  private replicaAge(): string {
    const times = readdirSync(this.replicaDir).map((f) => statSync(join(this.replicaDir, f)).mtimeMs);
    if (!times.length) return `s3://${REPLICA_BUCKET}/latest/ is empty`;
    return `s3://${REPLICA_BUCKET}/latest/ replicated ${Math.round((Date.now() - Math.max(...times)) / 60_000)} min ago`;
  }

  private record(node: string, effect: string, detail: Record<string, unknown>): void {
    this.effects?.record({ cluster: this.cluster, node, effect, detail });
  }
}

function kfail(message: string): ShimResult {
  return { stdout: '', stderr: message + '\n', exitCode: 1 };
}
