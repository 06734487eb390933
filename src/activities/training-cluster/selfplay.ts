/**
 * Selfplay workers: finding, starting and stopping them on a node, and the
 * cluster-wide launcher.
 *
 * @module
 */
import type { ClusterSpec } from '../../inventory/schema';
import type { EffectResult, NodeRef } from '../common/types';
import { lastLines } from '../context';
import { TransportError } from '../transport/errors';
import type { RemoteCommand } from '../transport/shell';
import type { TrainingClusterContext } from './context';
import { selfSafe, sh, tryExec, where, words } from './host';

/** The pids of the selfplay workers on a node (`pgrep -f <selfplayPattern>`). */
export async function selfplayPids(ctx: TrainingClusterContext, ref: NodeRef, cluster: ClusterSpec, cwd: string | undefined): Promise<string[]> {
  const r = await sh(ctx, ref, cwd, ['pgrep', '-f', selfSafe(ctx.setting(cluster, 'selfplayPattern'))]);
  return r.exitCode === 0 ? r.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p)) : [];
}

/** `python scripts/selfplay.py --board hex8 --num-players 2 --engine gumbel &` in the node's workdir; running counts as done. */
export async function selfplayStart(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster, cwd } = where(ctx, input);
    const argv = words(ctx.setting(cluster, 'selfplayStart'));
    const log = ctx.setting(cluster, 'selfplayLog');
    const plan = `${input.node}: ${cwd ? `cd ${cwd} && ` : ''}nohup ${argv.join(' ')} > ${log} 2>&1 &`;
    if (input.dryRun) return { dryRun: true, plan };
    const before = await selfplayPids(ctx, input, cluster, cwd);
    if (before.length > 0) return { plan, alreadyDone: true, output: `selfplay already running (pid ${before.join(',')})` };
    const logDir = log.includes('/') ? log.slice(0, log.lastIndexOf('/')) : '.';
    const cmds: RemoteCommand[] = [
      { argv: ['mkdir', '-p', logDir], cwd },
      { argv, cwd, detach: { logFile: log } },
    ];
    ctx.check(input, await ctx.exec(input, cmds, 60_000), 'starting selfplay', `check ${log} on ${input.node}`);
    for (let i = 0; i < 15; i++) {
      const pids = await selfplayPids(ctx, input, cluster, cwd);
      if (pids.length > 0) return { plan, output: `selfplay running (pid ${pids.join(',')})` };
      // A start that already failed says so in its log (the launch truncated it): no need to wait it out.
      const early = await sh(ctx, input, cwd, ['tail', '-n', '5', log]);
      if (early.exitCode === 0 && /Error|Traceback/.test(early.stdout)) break;
      await ctx.sleep(1_000);
    }
    const tail = await sh(ctx, input, cwd, ['tail', '-n', '20', log]).catch(() => undefined);
    throw new TransportError(
      'SelfplayFailed',
      `selfplay on ${input.node} is not running after its start${tail ? `; ${log}: ${lastLines(tail.stdout + tail.stderr, 6)}` : ''}; fix the cause (an unreadable database must be moved aside), then retry the step`,
      false,
    );
  });
}

/** `pkill -f scripts/selfplay.py`: stop writes on the node; not running counts as done. */
export async function selfplayStop(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster, cwd } = where(ctx, input);
    const pattern = ctx.setting(cluster, 'selfplayPattern');
    const plan = `${input.node}: pkill -f ${pattern}`;
    if (input.dryRun) return { dryRun: true, plan };
    const before = await selfplayPids(ctx, input, cluster, cwd);
    if (before.length === 0) return { plan, alreadyDone: true, output: 'selfplay not running: no writes to stop' };
    await sh(ctx, input, cwd, ['pkill', '-f', selfSafe(pattern)]);
    for (let i = 0; i < 10; i++) {
      if ((await selfplayPids(ctx, input, cluster, cwd)).length === 0) return { plan, output: `stopped selfplay (pid ${before.join(',')})` };
      await ctx.sleep(1_000);
    }
    throw new TransportError('StopFailed', `selfplay on ${input.node} still runs after pkill; stop it by hand (kill ${before.join(' ')}) and retry`, false);
  });
}

/** Seed §4 step 3 from the node: `python scripts/launch_selfplay_cluster.py --all-nodes`. */
export async function selfplayLaunchCluster(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster, cwd } = where(ctx, input);
    const argv = ['python', ctx.setting(cluster, 'launchSelfplayScript'), '--all-nodes'];
    const plan = `${input.node}: ${argv.join(' ')}`;
    if (input.dryRun) return { dryRun: true, plan };
    const out = ctx.check(input, await ctx.exec(input, [{ argv, cwd }], 10 * 60_000), 'launching selfplay across the cluster', 'see which node failed in the output, fix it, then retry');
    return { plan, output: out };
  });
}

/** `ps aux | grep selfplay` on a node. */
export async function selfplayRunning(ctx: TrainingClusterContext, ref: NodeRef): Promise<{ node: string; reachable: boolean; running: boolean; processes: number; error?: string }> {
  return ctx.run(async () => {
    const { res, error } = await tryExec(ctx, ref, [{ argv: ['ps', 'aux'] }]);
    if (!res) return { node: ref.node, reachable: false, running: false, processes: 0, error };
    const n = res.stdout.split('\n').filter((l) => /selfplay/.test(l)).length;
    return { node: ref.node, reachable: true, running: n > 0, processes: n };
  });
}
