/**
 * v1 (before Lifeboat spoke the real inferadb ledger; kept for the histories
 * that recorded it, see ../index.ts). Seed 002, "Total Loss — Restore from Backup", when every node and its data
 * is gone:
 * 1. retrieve the latest backup (`aws s3 cp`, `tar -xzf` into RESTORE_DIR);
 * 2. gate `new-cluster-identity`: `--single` on the restored data creates a
 *    NEW cluster (evidence: the backup's time, size and the RPO gap);
 * 3. verify the restored state: organizations and vaults, integrity, every
 *    vault's tip height;
 * 4. gate `clear-new-nodes`, then expand to the full cluster: stop single
 *    mode, clear the new nodes' data, restart the first node as a cluster on
 *    RESTORE_DIR, the others join;
 * 5. verify cluster health, then seed 002's post-recovery checklist.
 * RTO 20 min target, 30 min max. The RPO gap (now minus the backup's time)
 * goes into the incident record.
 *
 * If any node still answers, this is the wrong procedure: the workflow stops
 * before any effect and names the right one.
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { LedgerFullRestoreParams } from './params';
import type { LedgerBackupInfo, LedgerNodeInfo, LedgerVault } from '../../../activities/types';
import { activities, approve, fact, fanOut, recoveryInput, runRecovery, stabilize, step, waitFor, type RecoveryInput, type RecoveryResult } from '../../kit';
import { LEDGER_FULL_RESTORE } from './meta';
import { ledgerPostRecoveryChecklist } from './checklist';

export type FullRestoreInput = RecoveryInput<Partial<LedgerFullRestoreParams>>;

export const DEFAULT_BACKUP = 's3://ledger-backups/latest/snapshot.tar.gz';

/** The v1 scenario, replayed by histories recorded before Lifeboat spoke the real ledger. */
export async function legacyFullRestore(input: FullRestoreInput): Promise<RecoveryResult> {
  return runRecovery(LEDGER_FULL_RESTORE, input, fullRestore);
}

async function fullRestore(): Promise<string> {
  const input = recoveryInput<Partial<LedgerFullRestoreParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const organization = input.params.organization ?? '1';
  const source = input.params.backup ?? DEFAULT_BACKUP;
  const first = input.params.node ?? nodes[0]!;
  if (!nodes.includes(first)) {
    throw ApplicationFailure.nonRetryable(`node ${first} is not in cluster ${cluster}; pick one of ${nodes.join(', ')} (--set node=NODE)`, 'InvalidInput');
  }
  const others = nodes.filter((n) => n !== first);
  const { ledgerNodeInfo, ledgerBackupInfo, ledgerFetchBackup, ledgerStart, ledgerStop, ledgerClearData, ledgerListVaults, ledgerCheckIntegrity, ledgerGetTip } = activities();

  const infos = await step(
    'Assess: is every node and its data lost',
    () => Promise.all(nodes.map((node) => ledgerNodeInfo({ cluster, node }))),
    { describe: ((i: LedgerNodeInfo[]) => i.map((n) => `${n.node}: ${n.reachable ? 'up' : 'down'}`).join(', ')) as never },
  );
  const alive = infos.filter((i) => i.reachable).map((i) => i.node);
  if (alive.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `${alive.join(', ')} still answer${alive.length === 1 ? 's' : ''}: this is not a total loss. Use ledger.quorum-loss (a minority survives) or ledger.node-failure (quorum holds); a restore would abandon their data`,
      'ScenarioMismatch',
    );
  }
  fact('root cause', `total cluster loss: none of ${nodes.length} nodes answers`);
  fact('impact', 'full outage: no reads or writes');

  const backup = await step(`Locate the latest backup (aws s3 ls ${source})`, () => ledgerBackupInfo({ cluster, node: first, source }), {
    describe: ((b: LedgerBackupInfo) => (b.exists ? `${b.sizeBytes ?? '?'} bytes, taken ${b.takenAt ?? '?'}` : 'not found')) as never,
  });
  if (!backup.exists) {
    throw ApplicationFailure.nonRetryable(`no backup at ${source}: find the latest good snapshot in the bucket and run again with --set backup=s3://...`, 'BackupMissing');
  }
  const rpo = backup.takenAt ? rpoText(Date.now() - Date.parse(backup.takenAt)) : 'unknown (the backup has no timestamp)';
  fact('backup', `${source}, ${backup.sizeBytes ?? '?'} bytes, taken ${backup.takenAt ?? '?'}`);
  fact('RPO gap', `${rpo} of writes after the backup are lost`);

  const fetched = await step(`Retrieve the latest backup onto ${first} (aws s3 cp, tar -xzf)`, () =>
    ledgerFetchBackup({ cluster, node: first, source, restoreDir: input.params.restoreDir }),
  );
  const restoreDir = fetched.restoreDir;

  await approve('new-cluster-identity', {
    title: `Start ${first} with --single on the restored backup: a NEW cluster identity`,
    evidence: {
      backup: source,
      'taken at': backup.takenAt ?? 'unknown',
      size: `${backup.sizeBytes ?? '?'} bytes`,
      'RPO gap (writes lost)': rpo,
      'restore directory': `${first}:${restoreDir}`,
      risk: 'only approve if no node of the old cluster can come back with its data (two clusters would diverge)',
    },
  });
  await step(`Start ${first} with the restored data (inferadb-ledger --single --data ${restoreDir})`, () =>
    ledgerStart({ cluster, node: first, start: { mode: 'single', dataDir: restoreDir } }),
  );
  await step(`Wait until ${first} serves the restored data`, () =>
    waitFor(
      `${first} leads its single-node cluster`,
      async () => {
        const i = await ledgerNodeInfo({ cluster, node: first });
        return { done: !!i.serving && i.leader === first, detail: `serving=${String(i.serving ?? false)}, leader=${i.leader ?? 'none'}` };
      },
      { every: '2s', within: '2m' },
    ),
  );

  // Verify the restored state.
  const vaults = await step('Verify restored state: organizations and vaults (ListVaults)', () => ledgerListVaults({ cluster, node: first }), {
    describe: ((v: LedgerVault[]) => `${new Set(v.map((x) => x.organization)).size} organization(s): ${v.map((x) => `${x.organization}/${x.vault}@${x.height}`).join(', ')}`) as never,
  });
  if (vaults.length === 0) {
    throw ApplicationFailure.nonRetryable(`the restored data on ${first} holds no vault: the backup is empty or unreadable; pick another backup (--set backup=...)`, 'BackupEmpty');
  }
  await fanOut(
    'Verify restored state: CheckIntegrity (full) on every vault',
    vaults.map((v) => `${v.organization}/${v.vault}`),
    async (key) => {
      const [org, vault] = key.split('/') as [string, string];
      const r = await ledgerCheckIntegrity({ cluster, node: first, organization: org, vault, fullCheck: true });
      if (!r.ok) throw ApplicationFailure.nonRetryable(`integrity of ${key} fails: ${r.problems.join('; ')}`, 'IntegrityFailed');
      return r.blocksChecked;
    },
    { concurrency: 2, onFailure: 'ask' },
  );
  const tips = await step('Verify restored state: block height of every vault (GetTip)', () =>
    Promise.all(vaults.map((v) => ledgerGetTip({ cluster, node: first, organization: v.organization, vault: v.vault }).then((t) => `${v.organization}/${v.vault}@${t.height}`))),
  { describe: ((t: string[]) => t.join(', ')) as never },
  );
  fact('restored heights', tips.join(', '));

  // Expand to the full cluster.
  await approve('clear-new-nodes', {
    title: `Clear the data directories of ${others.join(', ')} so they join the restored cluster empty`,
    evidence: { nodes: others.join(', '), 'restored from': `${first}:${restoreDir}`, heights: tips.join(', '), risk: `anything left on ${others.join(', ')} is deleted` },
  });
  await step('Stop single-node mode (systemctl stop ledger)', () => ledgerStop({ cluster, node: first }));
  await fanOut('Clear restored data on the new nodes (rm -rf /data/*)', others, (node) => ledgerClearData({ cluster, node }), {
    concurrency: others.length,
    onFailure: 'ask',
  });
  await step(`Start ${first} as a ${nodes.length}-node cluster on ${restoreDir}`, () =>
    ledgerStart({ cluster, node: first, start: { mode: 'cluster', size: nodes.length, peers: nodes, dataDir: restoreDir } }),
  );
  await stabilize('5s', `let ${first} come up before the others join`);
  await fanOut('Join the new nodes (JOIN=true, PEERS=' + first + ')', others, (node) => ledgerStart({ cluster, node, start: { mode: 'join', peers: [first] } }), {
    concurrency: 1,
    onFailure: 'ask',
  });

  await ledgerPostRecoveryChecklist(cluster, nodes, organization);
  fact('resolution', `restored ${source} on ${first} as a new cluster, expanded to ${nodes.length} nodes`);
  return `Cluster restored from backup (taken ${backup.takenAt ?? '?'}, RPO gap ${rpo}): ${nodes.length} nodes, ${vaults.length} vault(s)`;
}

function rpoText(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return 'unknown (the backup is newer than this clock)';
  const min = Math.round(ms / 60_000);
  return min < 60 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`;
}
