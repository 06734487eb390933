/**
 * The train server as the activities reach it: its settings resolved into
 * paths (prefixed with `settings.root`), one SSH round with heartbeats and
 * secret redaction, and the once-per-step markers.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { NodeRef } from '../common/types';
import { redact } from '../transport/secrets';
import type { RemoteCommand } from '../transport/shell';
import type { ExecResult } from '../transport/ssh';
import type { TrainServerContext } from './context';

/**
 * Once-per-step markers: in the SSH user's home (relative, not under
 * `settings.root`, without sudo), so they are writable on a real server and in
 * the lab alike; named by `ctx.stableKey`, the same across an activity's retries.
 */
export const MARKERS = '.lifeboat/markers';

/** The server's settings resolved into paths (prefixed with `settings.root`) and a sudo wrapper. */
export function env(ctx: TrainServerContext, ref: NodeRef) {
  const { cluster } = ctx.lookup(ref);
  const pre = ctx.setting(cluster, 'root').replace(/\/+$/, '');
  const p = (abs: string): string => (abs.startsWith('/') ? `${pre}${abs}` : abs);
  const sudo = ctx.setting(cluster, 'sudo');
  return {
    cluster,
    p,
    as: (argv: string[]) => ctx.root(argv, sudo),
    mount: p(ctx.setting(cluster, 'storageMount')),
    device: ctx.setting(cluster, 'storageDevice'),
    ssd: ctx.setting(cluster, 'cacheDevice'),
    repo: p(ctx.setting(cluster, 'repoDir')),
    users: ctx.setting(cluster, 'users').split(',').map((u) => u.trim()).filter(Boolean),
  };
}

/** One SSH round (commands joined with &&); stdin optional; output tail in heartbeats. */
export async function sh(ctx: TrainServerContext, ref: NodeRef, cmds: RemoteCommand[], timeoutMs = 60_000, stdin?: string, onTail?: (tail: string) => void, secrets: string[] = []): Promise<ExecResult> {
  const { conn, secrets: keys } = await ctx.sshOptions(ref);
  const all = [...keys, ...secrets];
  const c = Context.current();
  const res = await ctx.beating(
    ctx.ssh.exec(conn, cmds, {
      timeoutMs,
      signal: c.cancellationSignal,
      ...(stdin !== undefined ? { stdin } : {}),
      onOutput: (tail) => (onTail ? onTail(redact(tail, all)) : c.heartbeat({ node: ref.node, tail: redact(tail, all) })),
    }),
    { node: ref.node, running: 'remote command' },
  );
  return { ...res, stdout: redact(res.stdout, all), stderr: redact(res.stderr, all) };
}

/** One read-only command. */
export async function read(ctx: TrainServerContext, ref: NodeRef, argv: string[], timeoutMs = 30_000): Promise<ExecResult> {
  return sh(ctx, ref, [{ argv }], timeoutMs);
}
