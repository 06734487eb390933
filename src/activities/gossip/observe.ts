/**
 * What the gossip runbook looks at: peers, metrics, the library's health,
 * anti-entropy state, seeds reachable over TCP, and the service state (and,
 * for v1 recoveries, a malformed-message counter the library never emitted).
 * Reads only.
 *
 * @module
 */
import type { NodeRef } from '../common/types';
import { lastLines } from '../context';
import { TransportError } from '../transport/errors';
import type { GossipContext } from './context';
import { seedsOf, serviceState, TCP_PROBE } from './host';
import { health, healthOk, MALFORMED_SAMPLE_MS, metrics, peers, syncState } from './node-api';
import type { GossipHealth, GossipMalformed, GossipMetrics, GossipPeers, GossipSeedCheck, GossipServiceState, GossipSync } from './types';

/** `GET /debug/peers`: eager and lazy peers and the membership view. */
export async function gossipPeers(ctx: GossipContext, ref: NodeRef): Promise<GossipPeers> {
  return ctx.run(() => peers(ctx, ref));
}

/** `GET /metrics` parsed: every `plumtree_*` value. */
export async function gossipMetrics(ctx: GossipContext, ref: NodeRef): Promise<GossipMetrics> {
  return ctx.run(() => metrics(ctx, ref));
}

/** `GET /health`: the library's `health()` (an unhealthy node answers 503 with its report). */
export async function gossipHealth(ctx: GossipContext, ref: NodeRef): Promise<GossipHealth> {
  return ctx.run(() => health(ctx, ref));
}

/** `GET /debug/sync`: anti-entropy configured, root hash, messages held. */
export async function gossipSync(ctx: GossipContext, ref: NodeRef): Promise<GossipSync> {
  return ctx.run(() => syncState(ctx, ref));
}

/**
 * v1 recoveries only: is the malformed-message counter rising on this node (two reads ~1.5 s apart) and does `/health` answer 200? */
export async function gossipMalformed(ctx: GossipContext, ref: NodeRef): Promise<GossipMalformed> {
  return ctx.run(async () => {
    const first = await metrics(ctx, ref);
    if (!first.reachable) return { node: ref.node, reachable: false, error: first.error, before: 0, after: 0, rising: false, healthy: false };
    await ctx.sleep(MALFORMED_SAMPLE_MS);
    const second = await metrics(ctx, ref);
    const before = first.values.plumtree_malformed_messages_total ?? 0;
    const after = second.values.plumtree_malformed_messages_total ?? before;
    return { node: ref.node, reachable: second.reachable, before, after, rising: after > before, healthy: await healthOk(ctx, ref) };
  });
}

/** TCP connect from the node to every seed (bash `/dev/tcp` under `timeout`), over SSH. */
export async function gossipSeedCheck(ctx: GossipContext, ref: NodeRef): Promise<GossipSeedCheck> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(ref);
    const secs = String(ctx.setting(cluster, 'tcpCheckSeconds'));
    const seeds = seedsOf(ctx, ref);
    const out: GossipSeedCheck = { node: ref.node, sshReachable: true, seeds: [] };
    for (const seed of seeds) {
      const m = /^(.+):(\d{1,5})$/.exec(seed);
      if (!m) throw new TransportError('BadInventory', `seed ${JSON.stringify(seed)} is not host:port; fix settings.seeds of ${ref.cluster}`, false);
      const host = m[1]!.replace(/^\[(.*)\]$/, '$1'); // [::1]:7946 -> ::1
      const argv = ['timeout', secs, 'bash', '-c', TCP_PROBE, 'seed-check', host, m[2]!];
      try {
        const res = await ctx.exec(ref, [{ argv }], 30_000);
        const open = res.exitCode === 0;
        out.seeds.push({ seed, open, detail: open ? 'open' : res.exitCode === 124 ? `no answer within ${secs} s` : lastLines(res.stderr || res.stdout, 1) || `exit ${res.exitCode ?? '?'}` });
      } catch (err) {
        if (!ctx.isUnreachable(err)) throw err;
        return { node: ref.node, sshReachable: false, error: (err as Error).message, seeds: [] };
      }
    }
    return out;
  });
}

/** `systemctl is-active plumtree` over SSH. */
export async function gossipServiceState(ctx: GossipContext, ref: NodeRef): Promise<GossipServiceState> {
  return ctx.run(() => serviceState(ctx, ref));
}
