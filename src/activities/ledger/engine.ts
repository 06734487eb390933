/**
 * The engine in front of the ledger, through `kubectl` on the DR region's
 * bastion: its configured ledger endpoint, switching it, and a rolling
 * restart (once per step: a marker keyed by the workflow and activity ids).
 *
 * @module
 */
import type { ClusterSpec } from '../../inventory/schema';
import type { EffectResult, NodeRef } from '../common/types';
import { lastLines } from '../context';
import { TransportError } from '../transport/errors';
import { quoteArgv } from '../transport/shell';
import type { LedgerContext } from './context';
import type { LedgerEngineRollout } from './types';

function kubectlArgv(ctx: LedgerContext, cluster: ClusterSpec, args: string[]): string[] {
  const ns = ctx.setting(cluster, 'engineNamespace');
  return ['kubectl', ...(ns ? ['-n', ns] : []), ...args];
}

async function readConfigMap(ctx: LedgerContext, ref: NodeRef, cluster: ClusterSpec): Promise<Record<string, string>> {
  const cm = ctx.setting(cluster, 'engineConfigMap');
  const argv = kubectlArgv(ctx, cluster, ['get', 'configmap', cm, '-o', 'json']);
  const res = await ctx.exec(ref, [{ argv }], 60_000);
  const out = ctx.check(ref, res, quoteArgv(argv), `check that configmap ${cm} exists and the bastion's kube context (settings.engineNamespace)`);
  try {
    return ((JSON.parse(res.stdout) as { data?: Record<string, string> }).data ?? {}) as Record<string, string>;
  } catch {
    throw new TransportError('CommandFailed', `kubectl get configmap ${cm} -o json on ${ref.node} printed no JSON: ${lastLines(out, 3)}`, false);
  }
}

/** `kubectl get configmap <engineConfigMap> -o json` on the bastion: the ledger endpoint the engine is configured with. */
export async function ledgerEngineEndpoint(ctx: LedgerContext, ref: NodeRef): Promise<{ configMap: string; key: string; endpoint?: string }> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(ref);
    const data = await readConfigMap(ctx, ref, cluster);
    const key = ctx.setting(cluster, 'endpointKey');
    return { configMap: ctx.setting(cluster, 'engineConfigMap'), key, endpoint: data[key] };
  });
}

/** `kubectl patch configmap <engineConfigMap> -p '{"data":{"<endpointKey>":"<endpoint>"}}'` on the bastion; an equal value counts as done. */
export async function ledgerSwitchEndpoint(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean; endpoint: string }): Promise<EffectResult & { previous?: string }> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(input.endpoint)) {
      throw new TransportError('InvalidArgument', `endpoint must be host:port like ledger.dr-region.internal:50051, got ${JSON.stringify(input.endpoint)}`, false);
    }
    const cm = ctx.setting(cluster, 'engineConfigMap');
    const key = ctx.setting(cluster, 'endpointKey');
    const argv = kubectlArgv(ctx, cluster, ['patch', 'configmap', cm, '-p', JSON.stringify({ data: { [key]: input.endpoint } })]);
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    const before = (await readConfigMap(ctx, input, cluster))[key];
    if (before === input.endpoint) return { plan, alreadyDone: true, previous: before, output: `${cm} already has ${key}=${input.endpoint}` };
    const res = await ctx.exec(input, [{ argv }], 60_000);
    ctx.check(input, res, `kubectl patch configmap ${cm}`, `check the bastion's kube context and RBAC (patch configmaps)`);
    const after = (await readConfigMap(ctx, input, cluster))[key];
    if (after !== input.endpoint) throw new TransportError('PatchNotApplied', `${cm} shows ${key}=${after ?? '(unset)'} after the patch; it will be retried`, true);
    return { plan, previous: before, output: `${key}: ${before ?? '(unset)'} -> ${after}` };
  });
}

/** `kubectl rollout restart deployment/<engineDeployment>` on the bastion, once per step (a marker on the bastion). */
export async function ledgerRestartEngine(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    const deployment = ctx.setting(cluster, 'engineDeployment');
    const argv = kubectlArgv(ctx, cluster, ['rollout', 'restart', `deployment/${deployment}`]);
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    // Once per step: a marker on the bastion keyed by workflow, run and activity id (stable across retries).
    const marker = `.lifeboat/restarts/${ctx.stableKey('engine-restart')}`;
    const seen = await ctx.exec(input, [{ argv: ['test', '-e', marker] }], 30_000);
    if (seen.exitCode === 0) return { plan, alreadyDone: true, output: `deployment/${deployment} was already restarted by this step` };
    const res = await ctx.exec(input, [{ argv: ['mkdir', '-p', '.lifeboat/restarts'] }, { argv }, { argv: ['touch', marker] }], 60_000);
    return { plan, output: ctx.check(input, res, `kubectl rollout restart deployment/${deployment}`, `check the bastion's kube context and RBAC (patch deployments)`) };
  });
}

/** `kubectl rollout status deployment/<engineDeployment> --timeout=<s>s` on the bastion (heartbeating while it waits). */
export async function ledgerEngineRollout(ctx: LedgerContext, input: NodeRef & { timeoutSeconds?: number }): Promise<LedgerEngineRollout> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    const deployment = ctx.setting(cluster, 'engineDeployment');
    const seconds = input.timeoutSeconds ?? ctx.setting(cluster, 'rolloutTimeoutSeconds');
    const argv = kubectlArgv(ctx, cluster, ['rollout', 'status', `deployment/${deployment}`, `--timeout=${seconds}s`]);
    const res = await ctx.exec(input, [{ argv }], (seconds + 30) * 1000);
    const out = `${res.stdout}${res.stderr}`;
    if (res.exitCode !== 0 && !/timed out waiting/i.test(out)) ctx.check(input, res, quoteArgv(argv), `check deployment/${deployment} and the bastion's kube context`);
    return { deployment, complete: res.exitCode === 0, detail: lastLines(out, 3) };
  });
}
