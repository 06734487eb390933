/**
 * Seed 002, "Quorum Recovery — Minority of Nodes Survive", on the real
 * inferadb ledger.
 *
 * The seed forces a new cluster from the survivor's data with `--single`;
 * the project's current runbook restarts the survivor and runs `init`. At
 * 21345c4 neither exists or works: there is no `--single`, `init` on a node
 * with data does nothing, and no membership reset exists (docs/ledger.md).
 * What does work keeps the seed's intent, a NEW cluster identity made from
 * the survivor's data, behind the same split-brain gate:
 * 1. confirm quorum is lost, find who survives and whose vaults applied the most;
 * 2. preserve the data: export every vault of that survivor (it still
 *    answers reads without quorum) to a file on its host;
 * 3. gate: the old cluster identity is abandoned;
 * 4. stop the ledger everywhere it answers and set every data directory
 *    aside (kept); form a new cluster on the survivor and re-create the
 *    export in it; the other nodes join it empty, one at a time;
 * 5. verify: the post-recovery checklist.
 * RTO 10 min target, 15 min max.
 *
 * @module
 */
import { patched } from '@temporalio/workflow';
import type { LedgerVaults } from '../../activities/types';
import type { LedgerQuorumLossParams } from '../../catalog';
import { activities, approve, fact, fanOut, recoveryInput, runRecovery, step, type RecoveryInput, type RecoveryResult } from '../kit';
import { LEDGER_QUORUM_LOSS } from '../scenarios';
import { assessStep, formFromExport, ledgerChecklist, waitForLeader, wrongScenario } from './cluster';
import { legacyQuorumLoss } from './legacy/quorum-loss';
import { REAL_LEDGER_API } from './versions';

export type QuorumLossInput = RecoveryInput<Partial<LedgerQuorumLossParams>>;

export async function ledgerQuorumLoss(input: QuorumLossInput): Promise<RecoveryResult> {
  if (!patched(REAL_LEDGER_API)) return legacyQuorumLoss(input as never);
  return runRecovery(LEDGER_QUORUM_LOSS, input, quorumLoss);
}

async function quorumLoss(): Promise<string> {
  const input = recoveryInput<Partial<LedgerQuorumLossParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const { ledgerVaults, ledgerDataDir, ledgerExport, ledgerServiceStop, ledgerSetAside } = activities();

  let a = await assessStep('Assess membership: which nodes survive, is quorum lost', cluster, nodes);
  if (a.quorum === 'none') {
    fact('root cause', 'every node is down: this is a total cluster loss');
    throw wrongScenario('no ledger node answers', 'run ledger.full-restore to restore from the archived export');
  }
  if (a.quorum === 'electing') a = await waitForLeader(cluster, nodes, '3m');
  if (a.quorum === 'holds') {
    fact('root cause', `quorum holds (${a.reachable.length}/${nodes.length} answer, leader ${a.leader ?? '?'})`);
    return `Quorum holds (${a.reachable.length} of ${nodes.length} nodes, leader ${a.leader ?? '?'}): nothing to rebuild. For a lost node use ledger.node-failure.`;
  }
  fact('root cause', `quorum lost: ${a.reachable.length} of ${nodes.length} nodes answer (majority is ${a.majority}); down: ${a.down.join(', ')}`);
  fact('impact', 'writes unavailable while quorum is lost; reads still answer on the survivors');

  // Which survivor's data is the most advanced (the project's runbook says "the highest applied index";
  // GetNodeInfo has none at 21345c4). Each vault's block height, then AdminListVaults' last_applied_index.
  const held = await fanOut("Find the most advanced survivor (each vault's block height, then its last applied index)", a.reachable, (node) => ledgerVaults({ cluster, node }), {
    concurrency: a.reachable.length,
    onFailure: 'ask',
  });
  const survivor = chooseSurvivor(Object.values(held.succeeded), input.params.survivor);
  const others = nodes.filter((n) => n !== survivor);
  const oldClusterId = a.states.find((s) => s.node === survivor)?.clusterId ?? 'unknown';
  const hosts = await fanOut('Inspect the lost nodes\' hosts and data', a.down, (node) => ledgerDataDir({ cluster, node }), { concurrency: a.down.length || 1, maxFailures: a.down.length });
  const answering = nodes.filter((n) => n === survivor || a.reachable.includes(n) || hosts.succeeded[n]?.sshReachable);
  const unreachable = nodes.filter((n) => !answering.includes(n));

  const exported = await step(
    `Preserve the data: export every vault of ${survivor} (eventual reads) to a file on its host`,
    () => ledgerExport({ cluster, node: survivor, to: { node: survivor } }),
    { onFailure: 'ask', describe: ((r: { output?: string; plan: string }) => r.output ?? r.plan) as never },
  );
  if (!exported) {
    fact('resolution', `nothing was changed: the export of ${survivor} was skipped, and without it no data can be carried into a new cluster`);
    return `Not rebuilt: the export of ${survivor} was skipped; the cluster is still without quorum and nothing was changed.`;
  }
  fact('exported', `${exported.organizations} organization(s), ${exported.vaults} vault(s), ${exported.entities} entities, ${exported.relationships} relationships to ${exported.file.node}:${exported.file.path}`);

  await approve('single-node-bootstrap', {
    title: `Form a NEW cluster on ${survivor} from its data; the old cluster ${oldClusterId} is abandoned and every node's data is set aside`,
    evidence: {
      survivor,
      'exported from it': `${exported.organizations} organization(s), ${exported.vaults} vault(s), ${exported.entities} entities, ${exported.relationships} relationships (${exported.file.node}:${exported.file.path}, sha256 ${exported.sha256.slice(0, 16)})`,
      'vault heights exported': Object.entries(exported.heights).map(([v, h]) => `${v}@${h}`).join(', ') || 'none',
      'old cluster id (abandoned)': oldClusterId,
      'nodes lost': a.down.join(', ') || 'none',
      'data set aside (kept) on': answering.join(', '),
      'not joined (host does not answer)': unreachable.join(', ') || 'none',
      why: 'inferadb-ledger 0.1.0 has no way to reset a cluster\'s membership, and a restarted cluster takes no writes: a new cluster is formed and the data re-created in it (block history, users and sessions are not carried over)',
      risk: 'SPLIT BRAIN if a lost node comes back with its old data: only approve when the old cluster is permanently gone',
    },
  });

  await fanOut('Stop the ledger on every node that answers (systemctl stop)', answering, (node) => ledgerServiceStop({ cluster, node }), { concurrency: answering.length, onFailure: 'ask' });
  await fanOut(
    'Set every data directory aside (kept for forensics)',
    answering,
    (node) => ledgerSetAside({ cluster, node, reason: `quorum loss: a new cluster replaces ${oldClusterId}` }),
    { concurrency: answering.length, onFailure: 'ask' },
  );
  const formed = await formFromExport(cluster, survivor, others.filter((n) => answering.includes(n)), exported.file);

  await ledgerChecklist(cluster, formed.joined, input.params);
  if (unreachable.length) fact('follow-up', `${unreachable.join(', ')} did not answer: bring each back empty with ledger.node-failure once its host is up`);
  fact('resolution', `new cluster ${formed.clusterId ?? '?'} formed on ${survivor} from its data; ${formed.joined.length} of ${nodes.length} nodes joined`);
  return `Quorum restored: new cluster ${formed.clusterId ?? '?'} on ${formed.joined.join(', ')}, re-created from ${survivor}'s data (${exported.entities} entities in ${exported.vaults} vault(s)); the old cluster ${oldClusterId} is abandoned`;
}

function chooseSurvivor(held: LedgerVaults[], requested: string | undefined): string {
  const answering = held.filter((h) => h.reachable);
  if (requested) {
    if (!answering.some((h) => h.node === requested)) {
      throw wrongScenario(`the requested survivor ${requested} does not answer`, `pick one of: ${answering.map((h) => h.node).join(', ')} (--set survivor=NODE)`);
    }
    return requested;
  }
  // Block heights first: a survivor that restarted counts its applied index from zero again but keeps its chain.
  const height = (h: LedgerVaults): number => h.vaults.reduce((n, v) => n + (v.height ?? 0), 0);
  const applied = (h: LedgerVaults): number => h.vaults.reduce((n, v) => n + (v.lastAppliedIndex ?? 0), 0);
  const best = [...answering].sort((x, y) => height(y) - height(x) || applied(y) - applied(x) || y.vaults.length - x.vaults.length || x.node.localeCompare(y.node))[0];
  if (!best) throw wrongScenario('no survivor answered AdminListVaults', 'check the surviving nodes, then start the recovery again');
  return best.node;
}
