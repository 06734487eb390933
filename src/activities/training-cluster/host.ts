/**
 * Running commands on a training node over SSH: its working directory (the
 * runbook's `ai-service`), read-only commands, commands whose unreachable
 * host is a finding, and the cluster's long-running scripts.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { ClusterSpec } from '../../inventory/schema';
import type { EffectResult, NodeRef } from '../common/types';
import type { RemoteCommand } from '../transport/shell';
import type { ExecResult } from '../transport/ssh';
import type { TrainingClusterContext } from './context';

/** Deadline of a read-only command on a node. */
export const READ_MS = 30_000;

/** Longest a cluster-wide script may run. */
export const SCRIPT_MS = 30 * 60_000;

/** The current activity's cancellation signal. */
export const signal = (): AbortSignal => Context.current().cancellationSignal;

/**
 * A `pgrep -f` / `pkill -f` pattern that cannot match the shell running it:
 * over SSH the command runs as `sh -c '... pgrep -f p2p_orchestrator ...'`,
 * whose own command line contains the pattern (so pgrep always "finds" it and
 * pkill kills its own shell). `[p]2p_orchestrator` matches the same processes
 * but not its own text.
 *
 * @example selfSafe('scripts/selfplay.py') === '[s]cripts/selfplay.py'
 */
export function selfSafe(pattern: string): string {
  return /^[A-Za-z0-9]/.test(pattern) ? `[${pattern[0]}]${pattern.slice(1)}` : pattern;
}

/** A command line split on whitespace (settings such as `trainArgs`). */
export const words = (s: string) => s.split(/\s+/).filter(Boolean);

/** The node's workdir and settings; a node without SSH is an inventory error. */
export function where(ctx: TrainingClusterContext, ref: NodeRef): { cluster: ClusterSpec; cwd?: string; workdir: string } {
  const { cluster, node } = ctx.lookup(ref);
  if (!node.ssh) throw ctx.missing(ref, 'ssh block', 'ssh: {host, user, privateKey, hostKeys, workdir}');
  return { cluster, cwd: node.ssh.workdir, workdir: node.ssh.workdir ?? '.' };
}

/** One read-only command in a directory of the node. */
export function sh(ctx: TrainingClusterContext, ref: NodeRef, cwd: string | undefined, argv: string[], ms = READ_MS): Promise<ExecResult> {
  return ctx.exec(ref, [{ argv, cwd }], ms);
}

/** Runs commands on a node; an unreachable node answers `undefined` instead of failing. */
export async function tryExec(ctx: TrainingClusterContext, ref: NodeRef, cmds: RemoteCommand[], timeoutMs = 30_000): Promise<{ res?: ExecResult; error?: string }> {
  try {
    return { res: await ctx.exec(ref, cmds, timeoutMs, 10_000) };
  } catch (err) {
    if (ctx.isUnreachable(err)) return { error: (err as Error).message };
    throw err;
  }
}

/** Runs one of the cluster's scripts (`fullSyncCommand`, `launchDaemonsCommand`) in the node's workdir. */
export async function script(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean }, key: 'fullSyncCommand' | 'launchDaemonsCommand', what: string): Promise<EffectResult> {
  const { cluster, node } = ctx.lookup(input);
  const argv = ctx.setting(cluster, key).split(/\s+/).filter(Boolean);
  const cwd = node.ssh?.workdir;
  const plan = `${input.node}: ${cwd ? `cd ${cwd} && ` : ''}${argv.join(' ')}`;
  if (input.dryRun) return { dryRun: true, plan };
  const res = await ctx.exec(input, [{ argv, cwd }], SCRIPT_MS);
  const out = ctx.check(input, res, what, `fix the cause on ${input.node} and retry the step`);
  return { plan, output: out };
}
