/**
 * Cluster membership changes over gRPC: removing a failed node through a
 * healthy member.
 *
 * @module
 */
import type { EffectResult, NodeRef } from '../common/types';
import { TransportError } from '../transport/errors';
import type { LedgerContext } from './context';

/**
 * `AdminService/LeaveCluster` for `leaving`, sent to the healthy member `node`
 * (the runbook's `grpcurl healthy-node:50051 ... LeaveCluster`); a node that is
 * no longer a member counts as done.
 */
export async function ledgerLeaveCluster(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean; leaving: string }): Promise<EffectResult> {
  return ctx.run(async () => {
    if (input.leaving === input.node) {
      throw new TransportError('InvalidArgument', `a node cannot remove itself: send LeaveCluster for ${input.leaving} to another, healthy member`, false);
    }
    ctx.lookup({ cluster: input.cluster, node: input.leaving }); // the leaving node must be in the inventory
    const { address } = ctx.grpcAddress(input);
    const plan = `grpcurl -plaintext ${address} -d '{"node_id": {"id": "${input.leaving}"}}' ledger.v1.AdminService/LeaveCluster`;
    if (input.dryRun) return { dryRun: true, plan };
    const res = await ctx.grpcCall<{ removed?: boolean }>(input, 'AdminService', 'LeaveCluster', { node_id: { id: input.leaving } }, 30_000);
    return res.removed ? { plan, output: `${input.leaving} removed from the cluster via ${input.node}` } : { plan, alreadyDone: true, output: `${input.leaving} is not a member` };
  });
}
