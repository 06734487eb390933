/**
 * A node's state: its message cache, anti-entropy sync, and its data or cache
 * directory (cleared only while the service is stopped).
 *
 * @module
 */
import type { Effectful, EffectResult, NodeRef } from '../common/types';
import { TransportError } from '../transport/errors';
import { quoteArgv } from '../transport/shell';
import type { GossipContext } from './context';
import { dirOf, serviceState } from './host';
import { admin, adminPlan, metrics } from './node-api';

/** `POST /admin/cache/clear` (the runbook's `plumtree.clear_cache()`). */
export async function gossipClearCache(ctx: GossipContext, input: NodeRef & Effectful): Promise<EffectResult> {
  return ctx.run(async () => {
    const plan = adminPlan(ctx, input, '/admin/cache/clear');
    if (input.dryRun) return { dryRun: true, plan };
    await admin(ctx, input, '/admin/cache/clear', {});
    return { plan, output: `message cache of ${input.node} cleared` };
  });
}

/** `POST /admin/sync/enable` (anti-entropy); `supported: false` when the node has no such API. */
export async function gossipEnableSync(ctx: GossipContext, input: NodeRef & Effectful): Promise<EffectResult & { supported: boolean }> {
  return ctx.run(async () => {
    const plan = adminPlan(ctx, input, '/admin/sync/enable');
    if (input.dryRun) return { dryRun: true, plan, supported: true };
    const m = await metrics(ctx, input);
    if (m.values.plumtree_sync_enabled === 1) return { alreadyDone: true, plan, supported: true, output: `anti-entropy sync already enabled on ${input.node}` };
    try {
      await admin(ctx, input, '/admin/sync/enable', {});
    } catch (err) {
      if (err instanceof TransportError && [404, 405, 501].includes(Number(err.details?.status))) {
        return { plan, supported: false, output: `${input.node} has no anti-entropy API (${err.message})` };
      }
      throw err;
    }
    return { plan, supported: true, output: `anti-entropy sync enabled on ${input.node}` };
  });
}

/** `rm -rf <dataDir>/*` or `<cacheDir>/*` (as `find DIR -mindepth 1 -delete`), refused while the service runs. */
export async function gossipClearDir(ctx: GossipContext, input: NodeRef & Effectful & { dir: 'data' | 'cache' }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    const dir = dirOf(ctx, input, cluster, input.dir);
    const sudo = ctx.setting(cluster, 'sudo');
    const argv = ctx.root(['find', dir, '-mindepth', '1', '-delete'], sudo);
    const plan = `${input.node}: rm -rf ${dir}/* (${quoteArgv(argv)})`;
    if (input.dryRun) return { dryRun: true, plan };
    const state = await serviceState(ctx, input);
    if (!state.sshReachable) throw new TransportError('Unavailable', `${input.node} does not answer over SSH (${state.error ?? '?'})`, true);
    if (state.active) {
      throw new TransportError(
        'FailedPrecondition',
        `${ctx.setting(cluster, 'serviceName')} still runs on ${input.node}: ${dir} is not cleared while in use; stop it first (systemctl stop ${ctx.setting(cluster, 'serviceName')})`,
        false,
      );
    }
    const probe = await ctx.exec(input, [{ argv: ctx.root(['find', dir, '-mindepth', '1', '-maxdepth', '1'], sudo) }], 30_000);
    if (probe.exitCode === 0 && probe.stdout.trim() === '') return { alreadyDone: true, plan, output: `${dir} is already empty` };
    if (probe.exitCode !== 0 && /No such file/.test(probe.stderr)) return { alreadyDone: true, plan, output: `${dir} does not exist` };
    const res = await ctx.exec(input, [{ argv }], 300_000);
    ctx.check(input, res, `clearing ${dir}`, `check permissions on ${dir} (settings.sudo) on ${input.node}`);
    return { plan, output: `${dir} cleared on ${input.node}` };
  });
}
