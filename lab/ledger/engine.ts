/**
 * The Kubernetes side of the ledger's DR region: the engine's `ledger-config`
 * ConfigMap and `engine` Deployment, driven through a `kubectl` shim on the
 * DR bastion. The engine's pods are Ready only while the endpoint their
 * ConfigMap gave them at their start leads to a ledger cluster that serves
 * (`ledger.primary-region.internal:50051` is the primary lab cluster,
 * `ledger.dr-region.internal:50051` the DR one). A rollout restart replaces
 * the pods over `rolloutMs`; the new pods read the ConfigMap as it is then.
 *
 * `kubectl` (argv as kubectl takes it; `-n/--namespace default` accepted):
 * `get configmap|cm NAME -o json`, `get deployment|deploy NAME -o json`,
 * `patch configmap|cm NAME -p|--patch JSON [--type merge|strategic]`
 * (records `k8s.configmap-patched` when a value changed), `rollout restart
 * deployment/NAME` (records `k8s.rollout-restarted`), `rollout status
 * deployment/NAME [--timeout=DURATION]` (waits like kubectl; exit 1 "timed
 * out waiting for the condition"). Anything else exits 1 with kubectl's
 * kind of message.
 *
 * @module
 */
import type { ShimResult } from '../family';

/** Where the engine reaches the primary ledger, and the DR one (the runbook's values). */
export const PRIMARY_ENDPOINT = 'ledger.primary-region.internal:50051';
export const DR_ENDPOINT = 'ledger.dr-region.internal:50051';
export const CONFIGMAP = 'ledger-config';
export const ENDPOINT_KEY = 'LEDGER_ENDPOINT';
export const DEPLOYMENT = 'engine';
const NAMESPACE = 'default';

interface Deployment {
  replicas: number;
  generation: number;
  /** Endpoint the current pods were started with. */
  podEndpoint: string;
  /** While a rollout runs: when it ends, and the endpoint the new pods get. */
  rollout?: { startedAt: number; endsAt: number; endpoint: string };
  restartedAt?: string;
}

const kfail = (message: string): ShimResult => ({ stdout: '', stderr: message + '\n', exitCode: 1 });

/** The engine's ConfigMap and Deployment. */
export class EngineSim {
  readonly configMaps: Record<string, Record<string, string>> = { [CONFIGMAP]: { [ENDPOINT_KEY]: PRIMARY_ENDPOINT } };
  private d: Deployment;

  /**
   * @param serves whether an endpoint leads to a ledger that serves now
   * @param record records an effect on the bastion
   */
  constructor(
    private readonly serves: (endpoint: string) => Promise<boolean>,
    private readonly record: (effect: string, detail: Record<string, unknown>) => void,
    private readonly rolloutMs: number,
    replicas: number,
  ) {
    this.d = { replicas, generation: 1, podEndpoint: PRIMARY_ENDPOINT };
  }

  /** Where the running pods point, in words (for health). */
  routedTo(): string {
    return this.d.podEndpoint === DR_ENDPOINT ? 'DR' : this.d.podEndpoint === PRIMARY_ENDPOINT ? 'primary' : 'unknown';
  }

  rolling(): boolean {
    this.settle();
    return !!this.d.rollout;
  }

  get replicas(): number {
    return this.d.replicas;
  }

  async kubectl(argv: string[]): Promise<ShimResult> {
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
        return { stdout: JSON.stringify(await this.deploymentJson(), null, 2) + '\n', exitCode: 0 };
      }
      return kfail(`error: the server doesn't have a resource type "${t.kind}"`);
    }
    if (verb === 'patch') {
      const t = target();
      if (!t || t.kind !== 'configmap') return kfail('error: the lab patches configmaps only: kubectl patch configmap NAME -p JSON');
      return this.patch(t.name, patch);
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

  private patch(name: string, patch: string | undefined): ShimResult {
    const data = this.configMaps[name];
    if (!data) return kfail(`Error from server (NotFound): configmaps "${name}" not found`);
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
      this.record('k8s.configmap-patched', { configmap: name, key, from: data[key] ?? null, to: v });
      data[key] = v;
      changed = true;
    }
    return { stdout: `configmap/${name} patched${changed ? '' : ' (no change)'}\n`, exitCode: 0 };
  }

  private rolloutRestart(): ShimResult {
    this.settle();
    const endpoint = this.configMaps[CONFIGMAP]?.[ENDPOINT_KEY] ?? '';
    const now = Date.now();
    this.d.generation += 1;
    this.d.restartedAt = new Date(now).toISOString();
    this.d.rollout = { startedAt: now, endsAt: now + this.rolloutMs, endpoint };
    this.record('k8s.rollout-restarted', { deployment: DEPLOYMENT, endpoint });
    return { stdout: `deployment.apps/${DEPLOYMENT} restarted\n`, exitCode: 0 };
  }

  private async rolloutStatus(timeoutMs: number): Promise<ShimResult> {
    const deadline = Date.now() + (timeoutMs || 10 * 60_000);
    const lines: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const p = await this.pods();
      const r = this.d.replicas;
      if (!this.d.rollout && p.ready === r) {
        lines.push(`deployment "${DEPLOYMENT}" successfully rolled out`);
        return { stdout: lines.join('\n') + '\n', exitCode: 0 };
      }
      const line = `Waiting for deployment "${DEPLOYMENT}" rollout to finish: ${this.d.rollout ? p.updated : p.ready} of ${r} updated replicas are available...`;
      if (lines[lines.length - 1] !== line) lines.push(line);
      if (Date.now() >= deadline) break;
      await new Promise((ok) => setTimeout(ok, Math.min(200, Math.max(1, deadline - Date.now()))));
    }
    return { stdout: lines.join('\n') + '\n', stderr: 'error: timed out waiting for the condition\n', exitCode: 1 };
  }

  /** Ends a rollout whose time is up: the new pods run with the endpoint they read. */
  private settle(): void {
    const r = this.d.rollout;
    if (r && Date.now() >= r.endsAt) {
      this.d.podEndpoint = r.endpoint;
      this.d.rollout = undefined;
    }
  }

  /** Engine pods: how many run the new template, and how many are Ready (their ledger serves). */
  async pods(): Promise<{ updated: number; ready: number }> {
    this.settle();
    const d = this.d;
    if (!d.rollout) return { updated: d.replicas, ready: (await this.serves(d.podEndpoint)) ? d.replicas : 0 };
    const frac = Math.min(1, (Date.now() - d.rollout.startedAt) / Math.max(1, d.rollout.endsAt - d.rollout.startedAt));
    const updated = Math.min(d.replicas - 1, Math.floor(frac * d.replicas));
    const ready = ((await this.serves(d.rollout.endpoint)) ? updated : 0) + ((await this.serves(d.podEndpoint)) ? d.replicas - updated : 0);
    return { updated, ready };
  }

  private async deploymentJson(): Promise<object> {
    const p = await this.pods();
    const d = this.d;
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
}
