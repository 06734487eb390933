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

/** `POST /admin/join {"seeds": [...]}` through the cluster's seeds; a node with eager peers counts as done. Fails as `JoinFailed` when no seed takes it. */
export async function gossipJoin(ctx: GossipContext, input: NodeRef & Effectful): Promise<EffectResult & { eager?: number }> {
  return ctx.run(async () => {
    const seeds = seedsOf(ctx, input);
    const plan = adminPlan(ctx, input, '/admin/join', { seeds });
    if (input.dryRun) return { dryRun: true, plan };
    const now = await peers(ctx, input);
    if (now.reachable && now.eager.length > 0) return { alreadyDone: true, plan, eager: now.eager.length, output: `${input.node} already has ${now.eager.length} eager peer(s)` };
    try {
      await admin(ctx, input, '/admin/join', { seeds });
    } catch (err) {
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

/** `POST /admin/rebalance` (the runbook's `plumtree.rebalance_peers()`); a node that sees every member counts as done. */
export async function gossipRebalance(ctx: GossipContext, input: NodeRef & Effectful): Promise<EffectResult> {
  return ctx.run(async () => {
    const plan = adminPlan(ctx, input, '/admin/rebalance');
    if (input.dryRun) return { dryRun: true, plan };
    const { cluster } = ctx.lookup(input);
    const now = await peers(ctx, input);
    const all = cluster.nodes.map((n) => n.name);
    if (now.reachable && all.every((n) => now.members.includes(n))) return { alreadyDone: true, plan, output: `${input.node} already sees all ${all.length} members` };
    await admin(ctx, input, '/admin/rebalance', {});
    const after = await peers(ctx, input);
    return { plan, output: `${input.node} rebalanced: sees ${after.members.length} member(s), ${after.eager.length} eager` };
  });
}
