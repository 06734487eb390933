/**
 * Seed 002, "Node Recovery — Single Node Failure (Quorum Maintained)", on the
 * real inferadb ledger.
 *
 * The cluster keeps serving on its majority ("Cluster auto-recovers"); the
 * procedure replaces the failed node:
 * 1. confirm quorum holds (waiting, if the failed node led, for the election,
 *    which takes minutes at 21345c4) and find the failed node;
 * 2. remove it: LeaveCluster with its member id, on the GLOBAL leader;
 * 3. start the replacement empty: its old data is set aside (a member that
 *    restarts on its old data does not catch up at 21345c4), and the unit's
 *    `--join` seeds make it join as a new voter;
 * 4. verify it is a voter; then the post-recovery checklist.
 * RTO: automatic, bounded at 5 min. Without quorum this is the wrong
 * procedure: the workflow stops before any effect and names the right one.
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { LedgerNodeFailureParams } from '../../catalog';
import { activities, fact, recoveryInput, runRecovery, step, type RecoveryInput, type RecoveryResult } from '../kit';
import { LEDGER_NODE_FAILURE } from '../scenarios';
import { assessStep, ledgerChecklist, memberIdOf, rejoinEmpty, waitForLeader, wrongScenario } from './cluster';
import { legacyNodeFailure } from './legacy/node-failure';
import { REAL_LEDGER_API } from './versions';

export type NodeFailureInput = RecoveryInput<Partial<LedgerNodeFailureParams>>;

export async function ledgerNodeFailure(input: NodeFailureInput): Promise<RecoveryResult> {
  if (!patched(REAL_LEDGER_API)) return legacyNodeFailure(input as never);
  return runRecovery(LEDGER_NODE_FAILURE, input, nodeFailure);
}

async function nodeFailure(): Promise<string> {
  const input = recoveryInput<Partial<LedgerNodeFailureParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);

  let a = await assessStep('Assess membership: is quorum maintained, which node failed', cluster, nodes);
  if (a.quorum === 'none') throw wrongScenario('no ledger node answers', 'this is a total loss: run ledger.full-restore');
  if (a.quorum === 'lost') {
    fact('root cause', `quorum lost: ${a.reachable.length} of ${nodes.length} nodes answer (majority is ${a.majority})`);
    throw wrongScenario(`quorum is not maintained (${a.reachable.length} of ${nodes.length} answer)`, 'run ledger.quorum-loss instead');
  }
  if (a.quorum === 'electing') a = await waitForLeader(cluster, nodes);
  fact('impact', `none while quorum holds: ${a.reachable.length} of ${nodes.length} nodes answer, leader ${a.leader ?? '?'}`);

  const failed = chooseFailed(a.down, input.params.node);
  if (!failed) {
    fact('root cause', 'no node is down');
    return `Nothing to replace: all ${nodes.length} nodes answer (leader ${a.leader ?? '?'}).`;
  }
  fact('nodes affected', `${failed} (down)`);
  fact('root cause', `${failed} failed; the cluster kept quorum on ${a.reachable.join(', ')}`);

  const host = await step(
    `Inspect ${failed}'s host: does it answer, is its data there, which member was it`,
    async () => {
      const d = await activities().ledgerDataDir({ cluster, node: failed });
      // Nothing can be started on a host that does not answer: the operator may bring it back at the same address, then retry.
      if (!d.sshReachable) {
        throw ApplicationFailure.nonRetryable(`${failed}'s host does not answer over SSH (${d.error ?? '?'}): bring it (or a replacement at the same address, with the ledger unit installed) back, then retry`, 'HostDown');
      }
      return d;
    },
    { onFailure: 'ask', describe: ((d: { present: boolean; nodeId?: string }) => `host answers; data ${d.present ? `present (node_id ${d.nodeId ?? '?'})` : 'absent'}`) as never },
  );
  if (!host) {
    fact('resolution', `${failed} was not replaced: its host did not answer (the operator skipped)`);
    return `Not replaced: ${failed}'s host does not answer; the cluster runs on ${a.reachable.length} of ${nodes.length} nodes.`;
  }
  // The member id from the cluster's own view, else from the node's own node_id file: never guessed.
  const oldId = memberIdOf(a, failed) ?? host.nodeId;
  await rejoinEmpty(cluster, nodes, failed, oldId, 'a member that restarts on its old data does not catch up at inferadb-ledger 0.1.0');

  await ledgerChecklist(cluster, nodes, input.params);
  fact('resolution', `${failed} removed (member ${oldId ?? 'unknown'}) and rejoined empty; the cluster never lost quorum`);
  return `Node replaced: ${failed} rejoined the ${nodes.length}-node cluster as a new voter (leader ${a.leader ?? '?'})`;
}

function chooseFailed(down: string[], requested: string | undefined): string | undefined {
  if (requested) {
    if (!down.includes(requested)) throw wrongScenario(`${requested} is not down${down.length ? `; down: ${down.join(', ')}` : ''}`, 'pick a failed node (--set node=NODE) or leave it out');
    return requested;
  }
  return down[0];
}
