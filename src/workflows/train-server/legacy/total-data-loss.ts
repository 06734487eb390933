/**
 * v1 (before Lifeboat drove the train server's real storage and setup
 * scripts; kept for the histories that recorded it, see ../versions.ts).
 * Seed 004, "Complete Data Loss Recovery" (all disks lost, or major
 * corruption; valid restic backups in GDrive):
 * 1. new hardware and OS (a human prerequisite, recorded);
 * 2. run all setup scripts — `01-setup-storage.sh` creates a NEW BTRFS array
 *    (dangerous gate `new-btrfs-array`, skipped when an array is mounted);
 * 3. restic snapshots: the approver picks the snapshot (gate
 *    `restore-snapshot`, choices latest first) unless `snapshot` is given;
 * 4. restore every user home from it (restic `--json` progress as heartbeats);
 * 5. fix ownership per user (`chown -R user:user`);
 * 6. docker compose build, up -d;
 * 7. notify the users: homes restored as of the snapshot, workspaces empty
 *    (not backed up by design), datasets to re-download.
 * config.sh, which every setup script reads, comes from the same backup when
 * the new OS has none. RTO 4 h target, 8 h max (seed: "4-8 hours + restore time").
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { TrainServerTotalDataLossParams } from '../../../catalog';
import type { TsSnapshot, TsStorageStatus } from '../../../activities/train-server/types';
import { activities, approve, fact, fanOut, isDryRun, note, recoveryInput, runRecovery, step, type RecoveryInput, type RecoveryResult } from '../../kit';
import { TRAIN_SERVER_TOTAL_DATA_LOSS } from '../../scenarios';
import { serverNode, SETUP_SCRIPTS } from './common';

export type TotalDataLossInput = RecoveryInput<Partial<TrainServerTotalDataLossParams>>;

/** The v1 scenario, replayed by histories recorded before the train server ran on real storage. */
export async function legacyTotalDataLoss(input: TotalDataLossInput): Promise<RecoveryResult> {
  return runRecovery(TRAIN_SERVER_TOTAL_DATA_LOSS, input, totalDataLoss);
}

async function totalDataLoss(): Promise<string> {
  const input = recoveryInput<Partial<TrainServerTotalDataLossParams>>();
  const cluster = input.cluster.name;
  const node = serverNode(input);
  const at = { cluster, node };
  const a = activities();

  // Diagnosis (read-only): what the new machine has.
  const before = await step('Assess the new server: storage array, mount, config.sh', () => a.tsStorageStatus(at), {
    describe: ((s: TsStorageStatus) => (s.reachable ? `array ${s.arrayUuid ?? 'none'}, ${s.mounted ? `mounted (${s.mountOptions})` : 'not mounted'}, config.sh ${s.configPresent ? 'present' : 'missing'}` : `unreachable: ${s.error}`)) as never,
  });
  if (!before.reachable) {
    throw ApplicationFailure.nonRetryable(`${node} is not reachable over SSH (${before.error}): install the new hardware and OS first (SETUP-GUIDE.md), then start again`, 'ServerUnreachable');
  }
  note('Prerequisite: new hardware and OS installed per SETUP-GUIDE.md, repository cloned');
  fact('impact', `all data on ${node} lost: user homes (${before.users.join(', ')}), workspaces and datasets`);
  fact('root cause', 'catastrophic failure: every disk of the storage array lost');

  // 3 first: the backups must be there before anything is built on them.
  const snapshots = await step('Connect to the restic repository: restic snapshots', () => a.tsResticSnapshots(at), {
    describe: ((s: TsSnapshot[]) => `${s.length} snapshot(s)${s.length ? `, latest ${s.at(-1)!.shortId} at ${s.at(-1)!.time}` : ''}`) as never,
    hint: 'check settings.resticRepository and the password secret, then retry',
  });
  if (snapshots.length === 0) {
    throw ApplicationFailure.nonRetryable('the restic repository holds no snapshot: there is nothing to restore the homes from', 'NoBackups');
  }
  const newestFirst = [...snapshots].reverse();
  let chosen: TsSnapshot | undefined;
  if (input.params.snapshot) {
    chosen = snapshots.find((s) => s.id === input.params.snapshot || s.shortId === input.params.snapshot);
    if (!chosen) throw ApplicationFailure.nonRetryable(`snapshot ${input.params.snapshot} is not in the repository (have: ${newestFirst.map((s) => s.shortId).join(', ')})`, 'InvalidArgument');
  } else {
    const pick = await approve('restore-snapshot', {
      skippable: true, // a skip after a timeout restores the latest snapshot, the runbook's default
      title: 'Pick the restic snapshot the user homes are restored from (the latest unless it is known bad)',
      evidence: Object.fromEntries(newestFirst.slice(0, 10).map((s, i) => [`${s.shortId}${i === 0 ? ' (latest)' : ''}`, `${s.time} ${s.paths.join(' ')}`])),
      choices: newestFirst.map((s) => s.shortId),
    });
    chosen = newestFirst.find((s) => s.shortId === pick.choice) ?? newestFirst[0]!;
  }
  fact('snapshot', `${chosen.shortId} (${chosen.time})`);

  if (!before.configPresent) {
    await step(`Restore config.sh from snapshot ${chosen.shortId}`, () => a.tsResticRestore({ ...at, snapshot: chosen.id, what: 'config' }), { onFailure: 'ask' });
  }

  // 2. Setup scripts; storage first, behind its gate.
  if (before.mounted && before.arrayUuid) {
    note(`An array (${before.arrayUuid}) is already mounted: 01-setup-storage.sh is not run over it`);
  } else {
    const gate = await approve('new-btrfs-array', {
      skippable: true, // a skip after a timeout is handled below (approved: false)
      title: `Create a NEW BTRFS array on ${node}'s HDDs (01-setup-storage.sh): whatever is on them is destroyed`,
      evidence: {
        'filesystem on the storage device': before.arrayUuid ? `UUID ${before.arrayUuid} (NOT mounted: it will be overwritten)` : 'none found (blkid)',
        restore: `the homes come back from snapshot ${chosen.shortId} (${chosen.time})`,
        'not restored': 'workspaces (not backed up by design)',
      },
    });
    if (!gate.approved) throw ApplicationFailure.nonRetryable('new-btrfs-array was skipped: without storage nothing can be restored', 'GateSkipped');
    await step('Run 01-setup-storage.sh (creates the BTRFS array, mounts /mnt/storage)', () => a.tsRunSetupScript({ ...at, script: SETUP_SCRIPTS[0]! }));
  }
  for (const script of SETUP_SCRIPTS.slice(1)) {
    await step(`Run ${script}`, () => a.tsRunSetupScript({ ...at, script }), { onFailure: 'ask' });
  }

  // 4. Restore the homes.
  const restored = await step(`Restore all user homes from snapshot ${chosen.shortId} (restic restore --target /mnt/storage/homes)`, () => a.tsResticRestore({ ...at, snapshot: chosen.id, what: 'homes' }), {
    onFailure: 'ask',
    hint: 'a retry restores again over the partial files',
  });

  // 5. Ownership per user.
  const users = before.users;
  await fanOut('Fix permissions: chown -R <user>:<user> of every home', users, (user) => a.tsChownHome({ ...at, user }), { concurrency: 5, onFailure: 'ask' });

  // 6. Containers.
  await step('docker compose build', () => a.tsCompose({ ...at, action: 'build' }), { onFailure: 'ask' });
  await step('docker compose up -d', () => a.tsCompose({ ...at, action: 'up' }), { onFailure: 'ask' });
  const running = await step('Verify: every container runs (docker compose ps)', async () => {
    const list = await a.tsContainers(at);
    const down = list.filter((c) => c.state !== 'running');
    if (!isDryRun() && (list.length === 0 || down.length)) throw ApplicationFailure.retryable(`not running: ${down.map((c) => c.name).join(', ') || 'no containers'}`, 'ContainersDown');
    return list;
  }, { onFailure: 'ask', describe: ((l: Array<{ name: string }>) => `${l.length} containers running`) as never });

  // 7. Tell the users what came back and what did not.
  const text =
    `The train server was rebuilt after a complete data loss.\n` +
    `Restored: home directories of ${users.join(', ')} as of the backup ${chosen.shortId} taken ${chosen.time}` +
    `${restored?.filesRestored !== undefined ? ` (${restored.filesRestored} files)` : ''}. Changes made after that backup are lost.\n` +
    `NOT restored: workspaces are empty (they are not backed up, by design); please re-download your datasets.`;
  await step('Notify users: homes restored, workspaces empty, datasets to re-download', () => a.notify({ cluster, severity: 'warning', subject: `${cluster}: server rebuilt, your home is back, workspaces are empty`, text }));
  fact('resolution', `new storage array, homes restored from ${chosen.shortId}, ownership fixed for ${users.length} users, ${running?.length ?? 0} containers up; users notified`);
  fact('data loss', `workspaces (expected) and changes since ${chosen.time}`);
  return `Server rebuilt: homes of ${users.length} users restored from snapshot ${chosen.shortId} (${chosen.time}); workspaces not restored (not backed up); users notified.`;
}
