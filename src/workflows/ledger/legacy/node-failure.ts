/**
 * v1 (before Lifeboat spoke the real inferadb ledger; kept for the histories
 * that recorded it, see ../index.ts). Seed 002, "Node Recovery — Single Node Failure (Quorum Maintained)".
 *
 * The cluster keeps serving on its majority ("Cluster auto-recovers - No
 * immediate action needed"); the procedure replaces the failed node:
 * 1. confirm quorum holds and find the failed node;
 * 2. remove it through a healthy member (`AdminService/LeaveCluster`);
 * 3. start the replacement with `INFERADB__LEDGER__JOIN=true` and
 *    `INFERADB__LEDGER__PEERS=<healthy node>`;
 * 4. verify with `GetClusterInfo` until it is a voting member again;
 * then seed 002's post-recovery checklist. RTO: automatic, bounded at 5 min.
 *
 * Without quorum this is the wrong procedure: the workflow stops before any
 * effect and names `ledger.quorum-loss`.
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { LedgerNodeFailureParams } from './params';
import type { LedgerNodeInfo } from '../../../activities/types';
import { activities, fact, recoveryInput, runRecovery, step, waitFor, type RecoveryInput, type RecoveryResult } from '../../kit';
import { LEDGER_NODE_FAILURE } from './meta';
import { ledgerPostRecoveryChecklist } from './checklist';

export type NodeFailureInput = RecoveryInput<Partial<LedgerNodeFailureParams>>;

/** The v1 scenario, replayed by histories recorded before Lifeboat spoke the real ledger. */
export async function legacyNodeFailure(input: NodeFailureInput): Promise<RecoveryResult> {
  return runRecovery(LEDGER_NODE_FAILURE, input, nodeFailure);
}

async function nodeFailure(): Promise<string> {
  const input = recoveryInput<Partial<LedgerNodeFailureParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const organization = input.params.organization ?? '1';
  const majority = Math.floor(nodes.length / 2) + 1;
  const { ledgerNodeInfo, ledgerLeaveCluster, ledgerStart } = activities();

  const infos = await step(
    'Assess membership: is quorum maintained, which node failed',
    () => Promise.all(nodes.map((node) => ledgerNodeInfo({ cluster, node }))),
    { describe: ((i: LedgerNodeInfo[]) => i.map((n) => `${n.node}: ${n.reachable ? `up${n.leader === n.node ? ' (leader)' : ''}` : 'down'}`).join(', ')) as never },
  );
  const up = infos.filter((i) => i.reachable && i.serving);
  const down = infos.filter((i) => !i.reachable).map((i) => i.node);
  const leader = up.find((i) => i.leader)?.leader;
  if (up.length < majority || !leader) {
    fact('root cause', `quorum lost: ${up.length} of ${nodes.length} nodes serve (majority is ${majority})`);
    throw ApplicationFailure.nonRetryable(
      `quorum is not maintained (${up.length} of ${nodes.length} serving, no leader): run ledger.quorum-loss instead`,
      'ScenarioMismatch',
    );
  }
  fact('impact', `none while quorum holds: ${up.length} of ${nodes.length} nodes serve, leader ${leader}`);

  const failed = chooseFailed(down, input.params.node);
  if (!failed) {
    fact('root cause', 'no node is down');
    return `Nothing to replace: all ${nodes.length} nodes are up (leader ${leader}).`;
  }
  fact('nodes affected', `${failed} (down)`);
  fact('root cause', `${failed} failed; the cluster kept quorum on ${up.map((i) => i.node).join(', ')}`);
  // The healthy node the runbook talks to: the leader commits the membership change.
  const healthy = leader;

  await step(`Remove ${failed} from the cluster (LeaveCluster via ${healthy})`, () => ledgerLeaveCluster({ cluster, node: healthy, leaving: failed }), {
    onFailure: 'ask',
  });
  await step(`Start the replacement ${failed} with JOIN=true, PEERS=${healthy}`, () => ledgerStart({ cluster, node: failed, start: { mode: 'join', peers: [healthy] } }), {
    onFailure: 'ask',
  });
  await step(
    `Verify: ${failed} is a voting member again (GetClusterInfo on ${healthy})`,
    () =>
      waitFor(
        `${failed} listed as a reachable voter`,
        async () => {
          const info = await ledgerNodeInfo({ cluster, node: healthy });
          const m = info.members?.find((x) => x.node === failed);
          return { done: !!m && m.reachable && m.role === 'voter', detail: m ? `${failed}: role ${m.role}, reachable ${String(m.reachable)}` : `${failed} not a member yet` };
        },
        { every: '2s', within: '2m' },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );

  await ledgerPostRecoveryChecklist(cluster, nodes, organization);
  fact('resolution', `${failed} removed and rejoined empty through ${healthy}; the cluster never lost quorum`);
  return `Node replaced: ${failed} rejoined the ${nodes.length}-node cluster as a voter (leader ${healthy})`;
}

function chooseFailed(down: string[], requested: string | undefined): string | undefined {
  if (requested) {
    if (!down.includes(requested)) {
      throw ApplicationFailure.nonRetryable(
        `${requested} is not down${down.length ? `; down: ${down.join(', ')}` : ''}: pick a failed node (--set node=NODE) or leave it out`,
        'ScenarioMismatch',
      );
    }
    return requested;
  }
  return down[0];
}
