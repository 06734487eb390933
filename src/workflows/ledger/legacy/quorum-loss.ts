/**
 * v1 (before Lifeboat spoke the real inferadb ledger; kept for the histories
 * that recorded it, see ../index.ts). Seed 002, "Quorum Recovery — Minority of Nodes Survive".
 *
 * 1. Stop surviving nodes.
 * 2. Force a new cluster from the surviving node (`--single`), behind the
 *    split-brain gate: the old cluster identity is abandoned and every other
 *    node's data is wiped before it rejoins.
 * 3. Verify data: ListVaults, CheckIntegrity (full) on every vault.
 * 4. Scale back to a cluster: stop single-node mode, restart as a cluster,
 *    replacement nodes join with empty data.
 * Then the post-recovery checklist. RTO 10 min target, 15 min max.
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { LedgerQuorumLossParams } from './params';
import type { LedgerNodeInfo } from '../../../activities/types';
import { activities, approve, fact, fanOut, recoveryInput, runRecovery, stabilize, step, waitFor, type RecoveryInput, type RecoveryResult } from '../../kit';
import { LEDGER_QUORUM_LOSS } from './meta';
import { ledgerPostRecoveryChecklist } from './checklist';

export type QuorumLossInput = RecoveryInput<Partial<LedgerQuorumLossParams>>;

/** The v1 scenario, replayed by histories recorded before Lifeboat spoke the real ledger. */
export async function legacyQuorumLoss(input: QuorumLossInput): Promise<RecoveryResult> {
  return runRecovery(LEDGER_QUORUM_LOSS, input, quorumLoss);
}

async function quorumLoss(): Promise<string> {
  const input = recoveryInput<Partial<LedgerQuorumLossParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const organization = input.params.organization ?? '1';
  const majority = Math.floor(nodes.length / 2) + 1;
  const { ledgerNodeInfo, ledgerStop, ledgerStart, ledgerClearData } = activities();

  // Diagnosis: who survived, and is quorum really lost?
  const infos = await step(
    'Assess membership: which nodes survive, is quorum lost',
    () => Promise.all(nodes.map((node) => ledgerNodeInfo({ cluster, node }))),
    { describe: ((i: LedgerNodeInfo[]) => i.map((n) => `${n.node}: ${n.reachable ? `up (commit ${n.commitIndex ?? '?'})` : 'down'}`).join(', ')) as never },
  );
  const survivors = infos.filter((i) => i.reachable);
  const lost = infos.filter((i) => !i.reachable).map((i) => i.node);
  fact('nodes affected', `${lost.length} of ${nodes.length} lost (${lost.join(', ') || 'none'})`);
  if (survivors.length === 0) {
    fact('root cause', 'every node is down: this is a total cluster loss');
    throw notThisScenario('no ledger node survives', 'run ledger.full-restore to restore from backup');
  }
  const leader = survivors.find((i) => i.leader)?.leader;
  if (survivors.length >= majority && leader) {
    fact('root cause', `quorum holds (${survivors.length}/${nodes.length} up, leader ${leader})`);
    return `Quorum holds (${survivors.length} of ${nodes.length} nodes, leader ${leader}): nothing to rebuild. For a lost node use ledger.node-failure.`;
  }
  fact('root cause', `quorum lost: ${survivors.length} of ${nodes.length} nodes survive (majority is ${majority})`);
  fact('impact', 'writes unavailable while quorum is lost');

  const survivor = chooseSurvivor(survivors, input.params.survivor);
  const replacements = nodes.filter((n) => n !== survivor);
  const oldClusterId = infos.find((i) => i.node === survivor)?.clusterId ?? 'unknown';

  await fanOut('Stop surviving nodes (systemctl stop ledger)', survivors.map((s) => s.node), (node) => ledgerStop({ cluster, node }), {
    concurrency: survivors.length,
    onFailure: 'ask',
  });

  await approve('single-node-bootstrap', {
    title: `Start ${survivor} with --single: a NEW cluster identity from its data; ${replacements.join(', ')} are wiped before they rejoin`,
    evidence: {
      survivor,
      'survivor commit index': String(survivors.find((s) => s.node === survivor)?.commitIndex ?? 'unknown'),
      'old cluster id (abandoned)': oldClusterId,
      'nodes lost': lost.join(', ') || 'none',
      'data wiped before rejoin': replacements.join(', '),
      risk: 'SPLIT BRAIN if any old node comes back with its data: only approve when the old cluster is permanently gone',
    },
  });

  await step(`Force a new cluster from ${survivor} (inferadb-ledger --single)`, () =>
    ledgerStart({ cluster, node: survivor, start: { mode: 'single' } }),
  );
  await step(`Wait until ${survivor} leads its single-node cluster`, () =>
    waitFor(
      `${survivor} serves as leader`,
      async () => {
        const i = await ledgerNodeInfo({ cluster, node: survivor });
        return { done: !!i.serving && i.leader === survivor, detail: `serving=${i.serving ?? false}, leader=${i.leader ?? 'none'}, mode=${i.mode ?? '?'}` };
      },
      { every: '2s', within: '1m' },
    ),
  );
  const newInfo = await ledgerNodeInfo({ cluster, node: survivor });
  fact('new cluster id', newInfo.clusterId ?? 'unknown');

  const vaults = await step('Verify data: ListVaults', () => activities().ledgerListVaults({ cluster, node: survivor }), {
    describe: ((v: Array<{ vault: string; height: number }>) => v.map((x) => `${x.vault}@${x.height}`).join(', ')) as never,
  });
  await fanOut(
    'Verify data: CheckIntegrity (full) on every vault',
    vaults.filter((v) => v.organization === organization).map((v) => v.vault),
    async (vault) => {
      const r = await activities().ledgerCheckIntegrity({ cluster, node: survivor, organization, vault, fullCheck: true });
      if (!r.ok) throw new Error(`integrity of ${vault} failed: ${r.problems.join('; ')}`);
      return r.blocksChecked;
    },
    { concurrency: 2, onFailure: 'ask' },
  );

  // Scale back to a cluster.
  await step('Stop single-node mode', () => ledgerStop({ cluster, node: survivor }));
  await fanOut('Clear old data on replacement nodes', replacements, (node) => ledgerClearData({ cluster, node }), {
    concurrency: replacements.length,
    onFailure: 'ask',
  });
  await step(`Restart ${survivor} as a ${nodes.length}-node cluster`, () =>
    ledgerStart({ cluster, node: survivor, start: { mode: 'cluster', size: nodes.length, peers: nodes } }),
  );
  await stabilize('5s', `let ${survivor} come up before the others join`);
  // One membership change at a time, as Raft wants it.
  await fanOut('Join replacement nodes', replacements, (node) => ledgerStart({ cluster, node, start: { mode: 'join', peers: [survivor] } }), {
    concurrency: 1,
    onFailure: 'ask',
  });

  await ledgerPostRecoveryChecklist(cluster, nodes, organization);
  fact('resolution', `rebuilt from ${survivor} with --single, then scaled back to ${nodes.length} nodes`);
  return `Quorum restored: ${nodes.length}-node cluster rebuilt from ${survivor} (new cluster id ${newInfo.clusterId ?? 'unknown'})`;
}

function chooseSurvivor(survivors: LedgerNodeInfo[], requested: string | undefined): string {
  if (requested) {
    if (!survivors.some((s) => s.node === requested)) {
      throw notThisScenario(
        `the requested survivor ${requested} is not reachable`,
        `pick one of: ${survivors.map((s) => s.node).join(', ')} (--set survivor=NODE)`,
      );
    }
    return requested;
  }
  return [...survivors].sort((a, b) => (b.commitIndex ?? 0) - (a.commitIndex ?? 0) || a.node.localeCompare(b.node))[0]!.node;
}

/** A workflow must fail with an ApplicationFailure (a plain Error would only fail the workflow task and retry forever). */
function notThisScenario(what: string, next: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`${what}: ${next}`, 'ScenarioMismatch');
}
