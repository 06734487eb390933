/**
 * Seed 002, "Full Cluster Restore — Total Loss, Restore from Backup", on the
 * real inferadb ledger.
 *
 * The seed restores a snapshot archive onto one node and starts it with
 * `--single`. At 21345c4 the server's own per-organization backups cannot be
 * enabled (CreateBackup and RestoreBackup answer FAILED_PRECONDITION), and a
 * cluster restored from copies of its data directories comes back read-only
 * (docs/ledger.md). What works keeps the seed's steps and gates: the backup
 * is an archived export (what `ledger.quorum-loss` and a backup job write),
 * and the new cluster re-creates it.
 * 1. confirm every node is lost (else: the wrong procedure);
 * 2. locate the archived export and its age (the RPO);
 * 3. gates: a new cluster identity; the nodes' remaining data set aside;
 * 4. fetch the export onto the first node, form the new cluster there and
 *    re-create the data; the other nodes join empty, one at a time;
 * 5. verify: organizations, vaults and their tips, then the checklist.
 * RTO 20 min target, 30 min max.
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { LedgerArchiveInfo } from '../../activities/types';
import type { LedgerFullRestoreParams } from '../../catalog';
import { activities, approve, fact, fanOut, recoveryInput, runRecovery, step, type RecoveryInput, type RecoveryResult } from '../kit';
import { LEDGER_FULL_RESTORE } from '../scenarios';
import { assessStep, formFromExport, ledgerChecklist, rpoText, wrongScenario } from './cluster';
import { legacyFullRestore } from './legacy/full-restore';
import { REAL_LEDGER_API } from './versions';

export type FullRestoreInput = RecoveryInput<Partial<LedgerFullRestoreParams>>;

export async function ledgerFullRestore(input: FullRestoreInput): Promise<RecoveryResult> {
  if (!patched(REAL_LEDGER_API)) return legacyFullRestore(input as never);
  return runRecovery(LEDGER_FULL_RESTORE, input, fullRestore);
}

async function fullRestore(): Promise<string> {
  const input = recoveryInput<Partial<LedgerFullRestoreParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const first = input.params.node ?? nodes[0]!;
  if (!nodes.includes(first)) {
    throw ApplicationFailure.nonRetryable(`node ${first} is not in cluster ${cluster}; pick one of ${nodes.join(', ')} (--set node=NODE)`, 'InvalidInput');
  }
  const others = nodes.filter((n) => n !== first);
  const { ledgerArchiveInfo, ledgerArchiveFetch, ledgerServiceStop, ledgerSetAside, ledgerVaults, ledgerDataDir } = activities();

  const a = await assessStep('Assess: is every node and its data lost', cluster, nodes);
  if (a.reachable.length > 0) {
    throw wrongScenario(
      `${a.reachable.join(', ')} still answer${a.reachable.length === 1 ? 's' : ''}: this is not a total loss`,
      'use ledger.quorum-loss (a minority survives) or ledger.node-failure (quorum holds); a restore would abandon their data',
    );
  }
  fact('root cause', `total cluster loss: none of ${nodes.length} nodes answers`);
  fact('impact', 'full outage: no reads or writes');

  const first_ = await step(`Inspect ${first}'s host (where the new cluster forms)`, () => ledgerDataDir({ cluster, node: first }), {
    describe: ((d: { sshReachable: boolean; dataDir: string; present: boolean }) => (d.sshReachable ? `host answers; ${d.dataDir} ${d.present ? 'holds old data' : 'is empty'}` : 'host does not answer')) as never,
  });
  if (!first_.sshReachable) throw wrongScenario(`${first}'s host does not answer over SSH (${first_.error ?? '?'})`, `bring it back, or form the cluster on another node (--set node=NODE)`);

  const backup = await step(`Locate the latest backup (aws s3 ls ${input.params.backup ?? 'settings.backupSource'})`, () => ledgerArchiveInfo({ cluster, node: first, source: input.params.backup }), {
    describe: ((b: LedgerArchiveInfo) => (b.exists ? `${b.sizeBytes ?? '?'} bytes, taken ${b.takenAt ?? '?'}` : 'not found')) as never,
  });
  const source = backup.source;
  if (!backup.exists) {
    throw ApplicationFailure.nonRetryable(`no backup at ${source}: find the latest export in the bucket and run again with --set backup=s3://...`, 'BackupMissing');
  }
  const rpo = rpoText(backup.takenAt, Date.now());
  fact('backup', `${source}, ${backup.sizeBytes ?? '?'} bytes, taken ${backup.takenAt ?? '?'}`);
  fact('RPO gap', `${rpo} of writes after the backup are lost`);

  await approve('new-cluster-identity', {
    title: `Form a NEW cluster on ${first} and re-create the backup in it`,
    evidence: {
      backup: source,
      'taken at': backup.takenAt ?? 'unknown',
      size: `${backup.sizeBytes ?? '?'} bytes`,
      'RPO gap (writes lost)': rpo,
      'formed on': first,
      'then joined (empty)': others.join(', ') || 'none',
      risk: 'only approve if no node of the old cluster can come back with its data (two clusters would diverge)',
    },
  });
  await approve('clear-new-nodes', {
    title: `Set the remaining data of ${nodes.join(', ')} aside (kept on each host, not deleted) so every node starts empty`,
    evidence: {
      nodes: nodes.join(', '),
      'data directory': first_.dataDir,
      'what happens': `each ${first_.dataDir} is moved to ${first_.dataDir}.lifeboat-<id> on its host`,
      risk: 'the old cluster cannot be started from these directories afterwards without moving them back by hand',
    },
  });
  const answering = (await fanOut('Inspect every host', nodes, (node) => ledgerDataDir({ cluster, node }), { concurrency: nodes.length, maxFailures: nodes.length })).succeeded;
  const hosts = nodes.filter((n) => answering[n]?.sshReachable);
  await fanOut('Stop the ledger units (systemctl stop)', hosts, (node) => ledgerServiceStop({ cluster, node }), { concurrency: hosts.length, onFailure: 'ask' });
  await fanOut('Set the remaining data aside (kept for forensics)', hosts, (node) => ledgerSetAside({ cluster, node, reason: 'full restore: a new cluster is formed from the backup' }), {
    concurrency: hosts.length,
    onFailure: 'ask',
  });

  const fetched = await step(`Retrieve the latest backup onto ${first} (aws s3 cp ${source})`, () => ledgerArchiveFetch({ cluster, node: first, source }), { onFailure: 'ask' });
  const formed = await formFromExport(cluster, first, others.filter((n) => hosts.includes(n)), { node: first, path: fetched?.path ?? '' });

  await step(
    `Verify restored state: organizations and vaults on ${first}`,
    async () => {
      const v = await ledgerVaults({ cluster, node: first });
      if (v.reachable && v.vaults.length === 0) throw ApplicationFailure.nonRetryable(`the new cluster holds no vault: the backup ${source} is empty; pick another (--set backup=...)`, 'BackupEmpty');
      return v;
    },
    { describe: ((v: { organizations: unknown[]; vaults: Array<{ organization: string; vault: string }> }) => `${v.organizations.length} organization(s); vaults ${v.vaults.map((x) => `${x.organization}/${x.vault}`).join(', ')}`) as never },
  );
  await ledgerChecklist(cluster, formed.joined, input.params);
  const missing = nodes.filter((n) => !formed.joined.includes(n));
  if (missing.length) fact('follow-up', `${missing.join(', ')} did not answer: bring each back empty with ledger.node-failure once its host is up`);
  fact('resolution', `new cluster ${formed.clusterId ?? '?'} formed on ${first} from ${source} (taken ${backup.takenAt ?? '?'}); ${formed.joined.length} of ${nodes.length} nodes joined`);
  return `Restored: new cluster ${formed.clusterId ?? '?'} on ${formed.joined.join(', ')} from ${source}; RPO gap ${rpo}`;
}
