/**
 * Membership: leaving gracefully, joining through the seeds, rebalancing the
 * eager/lazy peer sets.
 *
 * @module
 */
import type { Effectful, EffectResult, NodeRef } from '../common/types';
import { TransportError } from '../transport/errors';
import type { GossipContext } from './context';
import { seedsOf } from './host';
import { admin, adminPlan, peers } from './node-api';

/** `POST /admin/leave` (graceful leave); a node that already left counts as done. */
export async function gossipLeave(ctx: GossipContext, input: NodeRef & Effectful): Promise<EffectResult> {
  return ctx.run(async () => {
    const plan = adminPlan(ctx, input, '/admin/leave');
    if (input.dryRun) return { dryRun: true, plan };
    const now = await peers(ctx, input);
    if (!now.reachable) throw new TransportError('Unavailable', `${input.node}'s API does not answer (${now.error ?? '?'}); start plumtree on it, or let the recovery restart it`, true);
    if (now.members.length === 0) return { alreadyDone: true, plan, output: `${input.node} has already left (empty membership)` };
    await admin(ctx, input, '/admin/leave', {});
    return { plan, output: `${input.node} left the membership (it saw ${now.members.length} member(s))` };
  });
}

/**
 * `POST /admin/join {"seeds": [...]}` through the cluster's seeds (memberlist's
 * join: a push-pull with each seed, merging the two views). A node that
 * already sees every other inventory node as a member counts as done. Fails
 * as `NodeLeft` when the node left the cluster (memberlist joins again only
 * after a restart), `JoinFailed` when no seed takes it.
 */
export async function gossipJoin(ctx: GossipContext, input: NodeRef & Effectful): Promise<EffectResult & { eager?: number }> {
  return ctx.run(async () => {
    const seeds = seedsOf(ctx, input);
    const plan = adminPlan(ctx, input, '/admin/join', { seeds });
    if (input.dryRun) return { dryRun: true, plan };
    const { cluster } = ctx.lookup(input);
    const now = await peers(ctx, input);
    if (!now.reachable) throw new TransportError('Unavailable', `${input.node}'s API does not answer (${now.error ?? '?'}); start plumtree on it, or let the recovery restart it`, true);
    const others = cluster.nodes.map((n) => n.name).filter((n) => n !== input.node);
    if (!now.left && others.every((n) => now.members.includes(n))) {
      return { alreadyDone: true, plan, eager: now.eager.length, output: `${input.node} already sees all ${others.length + 1} members (${now.eager.length} eager)` };
    }
    try {
      await admin(ctx, input, '/admin/join', { seeds });
    } catch (err) {
      if (err instanceof TransportError && err.details?.status === 409) {
        throw new TransportError(
          'NodeLeft',
          `${input.node} has left the cluster and memberlist joins again only after a restart: restart plumtree on ${input.node} (systemctl restart ${ctx.setting(cluster, 'serviceName')})`,
          false,
        );
      }
      if (err instanceof TransportError && (err.type === 'HttpServerError' || err.type === 'HttpClientError')) {
        throw new TransportError(
          'JoinFailed',
          `${input.node} could not join through ${seeds.join(', ')} (${err.message.split('; ')[0]}); check that the seeds run and port ${seeds[0]?.split(':').pop() ?? '?'} is open from ${input.node}, or restart plumtree on it`,
          false,
        );
      }
      throw err;
    }
    const after = await peers(ctx, input);
    return { plan, eager: after.eager.length, output: `${input.node} joined: ${after.eager.length} eager, ${after.lazy.length} lazy peer(s)` };
  });
}

/**
 * `POST /admin/rebalance`: the library's `rebalance_peers()`, which re-picks
 * the eager set to the configured fanout among the peers the node knows (it
 * cannot reach a peer memberlist does not list: a join comes first). Running
 * it twice gives the same sets, so it needs no check before.
 */
export async function gossipRebalance(ctx: GossipContext, input: NodeRef & Effectful): Promise<EffectResult> {
  return ctx.run(async () => {
    const plan = adminPlan(ctx, input, '/admin/rebalance');
    if (input.dryRun) return { dryRun: true, plan };
    const r = await admin<{ before?: { eager?: number; lazy?: number }; after?: { eager?: number; lazy?: number } }>(ctx, input, '/admin/rebalance', {});
    const after = await peers(ctx, input);
    return {
      plan,
      output: `${input.node} rebalanced: eager ${r?.before?.eager ?? '?'}→${r?.after?.eager ?? '?'}, lazy ${r?.before?.lazy ?? '?'}→${r?.after?.lazy ?? '?'}; sees ${after.members.length} member(s)`,
    };
  });
}
