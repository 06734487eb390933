/**
 * Membership changes: removing a failed member from the GLOBAL group. The
 * server takes LeaveCluster only on the GLOBAL leader, answers a follower
 * with gRPC OK and `success: false`, and at 21345c4 can answer `success:
 * false` although the member was removed; so the activity finds the leader
 * itself and confirms the removal from GetDecommissionStatus and
 * GetClusterInfo instead of trusting the answer.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { EffectResult } from '../common/types';
import { TransportError } from '../transport/errors';
import type { LedgerContext } from './context';

type ClusterInfo = { members?: Array<{ node_id?: string; address?: string }> };

/**
 * LeaveCluster for a member id, sent to the GLOBAL leader, then confirmed by
 * GetDecommissionStatus and GetClusterInfo (the response's `success` is not
 * trusted). Refused for a member whose node still answers with that id.
 */
export async function ledgerRemoveMember(ctx: LedgerContext, input: { cluster: string; nodeId: string; dryRun?: boolean }): Promise<EffectResult & { via?: string }> {
  return ctx.run(async () => {
    if (!/^\d+$/.test(input.nodeId) || input.nodeId === '0') {
      throw new TransportError('InvalidArgument', `nodeId must be a member's 64-bit id in decimal (from GetClusterInfo or {data}/node_id), got ${JSON.stringify(input.nodeId)}`, false);
    }
    const plan = `grpcurl -plaintext <GLOBAL leader> -d '{"node_id": ${input.nodeId}}' ledger.v1.AdminService/LeaveCluster`;
    if (input.dryRun) return { dryRun: true, plan };
    const leader = await ctx.globalLeader(input.cluster);
    const via = leader.node ?? leader.address;
    if (leader.nodeId === input.nodeId) {
      throw new TransportError('FailedPrecondition', `member ${input.nodeId} is the GLOBAL leader (${via}) and answers: it has not failed; refusing to remove it`, false);
    }
    const members = async (): Promise<string[]> =>
      ((await ctx.callAt<ClusterInfo>(input.cluster, leader.address, 'AdminService', 'GetClusterInfo', {})).members ?? []).map((m) => m.node_id ?? '');
    const before = await members();
    if (!before.includes(input.nodeId)) return { plan, via, alreadyDone: true, output: `${input.nodeId} is not a member (the leader ${via} lists ${before.length})` };
    // The target first: a member that still answers with its id is alive, and removing it is a decommission, not a recovery.
    const info = await ctx.callAt<ClusterInfo>(input.cluster, leader.address, 'AdminService', 'GetClusterInfo', {});
    const address = info.members?.find((m) => m.node_id === input.nodeId)?.address;
    if (address) {
      try {
        const self = await ctx.callAt<{ node_id?: string }>(input.cluster, address, 'AdminService', 'GetNodeInfo', {});
        if (self.node_id === input.nodeId) {
          throw new TransportError('FailedPrecondition', `member ${input.nodeId} answers at ${address}: it has not failed; refusing to remove a live member (stop it first if it must go)`, false);
        }
      } catch (err) {
        if (!ctx.isUnreachable(err)) throw err;
      }
    }
    const res = await ctx.callAt<{ success?: boolean; message?: string }>(input.cluster, leader.address, 'AdminService', 'LeaveCluster', { node_id: input.nodeId }, 30_000);
    for (let i = 0; i < 30; i++) {
      const status = await ctx.callAt<{ status?: string; global_removed?: boolean }>(input.cluster, leader.address, 'AdminService', 'GetDecommissionStatus', { node_id: input.nodeId });
      const still = (await members()).includes(input.nodeId);
      Context.current().heartbeat({ removing: input.nodeId, status: status.status, listed: still });
      if (!still && (status.global_removed || status.status === 'removed' || status.status === 'unknown')) {
        return { plan, via, output: `${input.nodeId} removed through ${via} (LeaveCluster answered ${res.success ? 'success' : `"${res.message ?? ''}"`}; decommission status ${status.status ?? '?'})` };
      }
      await ctx.sleep(1_000);
    }
    throw new TransportError(
      'RemoveNotConfirmed',
      `${input.nodeId} is still a member 30 s after LeaveCluster through ${via} (it answered success=${String(!!res.success)} "${res.message ?? ''}"); the leader may be busy with another membership change: it will be retried`,
      true,
    );
  });
}
