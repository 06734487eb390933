/**
 * A gossip node's host, over SSH: its seeds, its service state, and the
 * directories a recovery may clear (validated: never `/`, never `..`).
 *
 * @module
 */
import type { ClusterSpec } from '../../inventory/schema';
import type { NodeRef } from '../common/types';
import { TransportError } from '../transport/errors';
import type { GossipContext } from './context';
import type { GossipServiceState } from './types';

/** The bash TCP probe: connects to $1:$2, nothing else (host and port are positional arguments, never code). */
export const TCP_PROBE = 'exec 3<>"/dev/tcp/$1/$2"';

/** The seeds a node joins through, as `host:port`. */
export function seedsOf(ctx: GossipContext, ref: NodeRef): string[] {
  const { cluster } = ctx.lookup(ref);
  const listed = ctx.setting(cluster, 'seeds')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (listed.length) return listed;
  const port = ctx.setting(cluster, 'seedPort');
  const seeds = cluster.nodes
    .filter((n) => n.roles.includes('seed'))
    .map((n) => `${n.ssh?.host ?? (n.http ? new URL(n.http.baseUrl).hostname : n.name)}:${port}`);
  if (seeds.length === 0) {
    throw new TransportError('BadInventory', `cluster ${ref.cluster} names no seed: give seed nodes the role "seed" or set settings.seeds to "host:port,host:port"`, false);
  }
  return seeds;
}

/** `systemctl <verb> <serviceName>`, behind sudo when `settings.sudo` is set. */
export function serviceArgv(ctx: GossipContext, cluster: ClusterSpec, verb: string): string[] {
  return ctx.root(['systemctl', verb, ctx.setting(cluster, 'serviceName')], ctx.setting(cluster, 'sudo'));
}

/** `systemctl is-active` of the service; a host that does not answer over SSH is a result. */
export async function serviceState(ctx: GossipContext, ref: NodeRef): Promise<GossipServiceState> {
  const { cluster } = ctx.lookup(ref);
  try {
    const res = await ctx.exec(ref, [{ argv: serviceArgv(ctx, cluster, 'is-active') }], 30_000);
    return { node: ref.node, sshReachable: true, active: res.exitCode === 0, state: res.stdout.trim().split('\n')[0] || `exit ${res.exitCode ?? '?'}` };
  } catch (err) {
    if (ctx.isUnreachable(err)) return { node: ref.node, sshReachable: false, error: (err as Error).message, active: false, state: 'unknown (no SSH)' };
    throw err;
  }
}

/** The directory to clear, validated: relative to the SSH home or absolute, never `/`, never with `..`. */
export function dirOf(ctx: GossipContext, ref: NodeRef, cluster: ClusterSpec, which: 'data' | 'cache'): string {
  const data = ctx.setting(cluster, 'dataDir').replace(/\/+$/, '');
  const raw = which === 'data' ? data : ctx.setting(cluster, 'cacheDir').replace(/\/+$/, '') || `${data}/cache`;
  const parts = raw.split('/').filter((p) => p && p !== '.');
  if (parts.length === 0 || parts.includes('..') || raw.includes('\n')) {
    const key = which === 'data' ? 'dataDir' : 'cacheDir';
    throw new TransportError('BadInventory', `refusing to clear ${JSON.stringify(raw)}: set settings.${key} of ${ref.cluster} to plumtree's own ${which} directory`, false);
  }
  return raw;
}
