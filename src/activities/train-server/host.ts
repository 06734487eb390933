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
import { TransportError } from '../transport/errors';
import type { TrainServerContext } from './context';
import { parsePins, type DevicePin } from './guard';

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
  const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter(Boolean);
  const device = ctx.setting(cluster, 'storageDevice');
  const devices = list(ctx.setting(cluster, 'storageDevices'));
  const fs = devices.length ? devices : [device];
  const hdds = list(ctx.setting(cluster, 'hddDevices'));
  return {
    cluster,
    p,
    as: (argv: string[]) => ctx.root(argv, sudo),
    mount: p(ctx.setting(cluster, 'storageMount')),
    device: fs.includes(device) ? device : fs[0]!,
    /** The devices the array lives on. */
    devices: fs,
    /** The disks a new array wipes. */
    hdds: hdds.length ? hdds : fs,
    ssd: ctx.setting(cluster, 'cacheDevice'),
    repo: p(ctx.setting(cluster, 'repoDir')),
    users: list(ctx.setting(cluster, 'users')),
    /** Identity pins (settings.deviceIds). */
    pins: (): Map<string, DevicePin> => {
      try {
        return parsePins(ctx.setting(cluster, 'deviceIds'));
      } catch (err) {
        throw new TransportError('InvalidArgument', `${(err as Error).message} (cluster ${ref.cluster})`, false);
      }
    },
  };
}

/** The settings resolved for one node (see {@link env}). */
export type TsEnv = ReturnType<typeof env>;

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
