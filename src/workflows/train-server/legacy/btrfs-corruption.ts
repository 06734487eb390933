/**
 * v1 (before Lifeboat drove the train server's real storage and setup
 * scripts; kept for the histories that recorded it, see ../versions.ts).
 * Seed 004, "BTRFS Corruption Recovery" (errors detected, the filesystem
 * will not mount, or data corruption):
 * 1. read-only mount (`umount`, `mount -o ro,degraded`) and, if it mounts,
 *    back up the critical data at once (rsync homes and workspaces out);
 * 2. `btrfs check --readonly`;
 * 3. `btrfs check --repair` only behind the dangerous gate
 *    `btrfs-check-repair`, which shows the read-only check's findings;
 * 4. when the repair does not bring the filesystem back: recovery mount
 *    options (`ro,usebackuproot`, then `ro,recovery`);
 * 5. if one mounts, rescue the data (rsync);
 * 6. restore from backups (train-server.total-data-loss);
 * 7. last resort: `btrfs restore` of what can be read.
 * RTO 2 h target, 8 h max (seed: "2-8 hours").
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { TrainServerBtrfsCorruptionParams } from '../../../catalog';
import type { TsBtrfsCheck, TsStorageStatus } from '../../../activities/train-server/types';
import { activities, approve, fact, note, recoveryInput, runRecovery, step, type RecoveryInput, type RecoveryResult } from '../../kit';
import { TRAIN_SERVER_BTRFS_CORRUPTION } from '../../scenarios';
import { serverNode } from './common';

export type BtrfsCorruptionInput = RecoveryInput<Partial<TrainServerBtrfsCorruptionParams>>;

/** The v1 scenario, replayed by histories recorded before the train server ran on real storage. */
export async function legacyBtrfsCorruption(input: BtrfsCorruptionInput): Promise<RecoveryResult> {
  return runRecovery(TRAIN_SERVER_BTRFS_CORRUPTION, input, btrfsCorruption);
}

async function btrfsCorruption(): Promise<string> {
  const input = recoveryInput<Partial<TrainServerBtrfsCorruptionParams>>();
  const cluster = input.cluster.name;
  const node = serverNode(input);
  const at = { cluster, node };
  const rescueDir = input.params.rescueDir ?? '/mnt/external-backup';
  const recoveryDir = input.params.recoveryDir ?? '/mnt/recovery-output';
  const a = activities();

  const s = await step('Assess the filesystem: mount state, device stats, kernel errors', () => a.tsStorageStatus(at), {
    describe: ((x: TsStorageStatus) => (x.reachable ? `${x.mounted ? `mounted (${x.mountOptions})` : 'not mounted'}; ${x.kernelErrors.length} kernel error line(s)${x.kernelErrors.length ? `: ${x.kernelErrors.at(-1)}` : ''}` : `unreachable: ${x.error}`)) as never,
  });
  if (!s.reachable) throw ApplicationFailure.nonRetryable(`${node} is not reachable over SSH (${s.error})`, 'ServerUnreachable');
  if (!s.arrayUuid) throw ApplicationFailure.nonRetryable('no BTRFS filesystem on the storage device at all: restore from backups (train-server.total-data-loss)', 'NoArray');
  fact('impact', `/mnt/storage on ${node} unusable: users cannot reach their homes and workspaces`);
  fact('root cause', `BTRFS corruption${s.kernelErrors.length ? `: ${s.kernelErrors.at(-1)}` : ''}`);

  /** rsync of homes and workspaces to the rescue disk. */
  const rescue = async (why: string): Promise<void> => {
    for (const dir of ['homes', 'workspaces']) {
      await step(`${why}: rsync -av /mnt/storage/${dir}/ ${rescueDir}/${dir}/`, () => a.tsRsync({ ...at, from: `/mnt/storage/${dir}`, to: `${rescueDir}/${dir}` }), { onFailure: 'ask' });
    }
  };

  // 1. Read-only mount, and the data out at once.
  await step('Unmount /mnt/storage', () => a.tsUnmountStorage(at));
  const ro = await step('Attempt a read-only mount: mount -o ro,degraded', () => a.tsMountStorage({ ...at, options: 'ro,degraded' }), { onFailure: 'continue' });
  let rescued = false;
  if (ro) {
    await rescue('Mounted read-only: back up critical data immediately');
    rescued = true;
  } else {
    note('The read-only mount failed: nothing could be copied before the check');
  }

  // 2. Check.
  const check = await step('Check the filesystem: btrfs check --readonly', () => a.tsBtrfsCheck({ ...at, repair: false }), { describe: ((c: TsBtrfsCheck) => (c.clean ? 'no error found' : c.findings)) as never });
  fact('btrfs check --readonly', check.findings);

  let repaired = check.clean;
  if (!check.clean) {
    // 3. Repair, only when a second person accepts the risk.
    await approve('btrfs-check-repair', {
      title: 'Run btrfs check --repair on the storage array (can cause more damage if the corruption is severe)',
      evidence: {
        'btrfs check --readonly': check.findings,
        'data rescued first': rescued ? `homes and workspaces copied to ${rescueDir}` : 'NO: the read-only mount failed',
        'if it fails': 'recovery mount options, then restore from backups, then btrfs restore',
      },
    });
    await step('Unmount before the repair', () => a.tsUnmountStorage(at));
    const fix = await step('Attempt the repair: btrfs check --repair', () => a.tsBtrfsCheck({ ...at, repair: true }), { describe: ((c: TsBtrfsCheck) => c.findings) as never });
    repaired = fix.clean;
    fact('btrfs check --repair', fix.findings);
  }

  if (repaired) {
    await step('Unmount the read-only mount', () => a.tsUnmountStorage(at));
    await step('Mount /mnt/storage read-write again', () => a.tsMountStorage(at), { onFailure: 'ask' });
    await step('Start the containers again: docker compose up -d', () => a.tsCompose({ ...at, action: 'up' }), { onFailure: 'ask' });
    const after = await step('Verify: device stats clean, mounted read-write', () => a.tsStorageStatus(at), {
      describe: ((x: TsStorageStatus) => `${x.mounted ? `mounted (${x.mountOptions})` : 'not mounted'}, device errors ${x.deviceErrors ?? '?'}`) as never,
    });
    if (!after.mounted || (after.mountOptions ?? '').split(',').includes('ro')) {
      throw ApplicationFailure.nonRetryable(`the repaired filesystem did not mount read-write (${after.mountOptions ?? 'not mounted'}): restore from backups (train-server.total-data-loss)`, 'StillCorrupt');
    }
    fact('resolution', `${check.clean ? 'no error found by btrfs check' : 'btrfs check --repair fixed the filesystem'}; mounted read-write; containers up${rescued ? `; a copy of the data is in ${rescueDir}` : ''}`);
    return `Filesystem ${check.clean ? 'checked clean' : 'repaired'} and mounted read-write again${rescued ? `; data rescued to ${rescueDir} first` : ''}.`;
  }

  // 4-5. Recovery mount options, then rescue.
  note('The repair did not bring the filesystem back: trying the recovery mount options');
  let mountedWith: string | undefined;
  for (const options of ['ro,usebackuproot', 'ro,recovery']) {
    await step('Unmount', () => a.tsUnmountStorage(at));
    const ok = await step(`Recovery mount: mount -o ${options}`, () => a.tsMountStorage({ ...at, options }), { onFailure: 'continue' });
    if (ok) {
      mountedWith = options;
      break;
    }
  }
  if (mountedWith) {
    await rescue(`Mounted with ${mountedWith}: rescue the data`);
    fact('resolution', `unrepairable; mounted ${mountedWith} and data rescued to ${rescueDir}; restore the server from backups next`);
    return `The filesystem cannot be repaired: mounted ${mountedWith}, homes and workspaces rescued to ${rescueDir}. Restore from backups next: lifeboat run train-server.total-data-loss.`;
  }

  // 7. Last resort.
  const last = await step(`Last resort: btrfs restore /dev/sdb ${recoveryDir}/`, () => a.tsBtrfsRestore({ ...at, to: recoveryDir }), { onFailure: 'continue' });
  const what = last ? `btrfs restore copied what it could read to ${recoveryDir}` : `btrfs restore failed too`;
  fact('resolution', `unrepairable and unmountable; ${what}; restore from backups next`);
  if (!last) throw ApplicationFailure.nonRetryable('nothing could be read from the array (btrfs restore failed): restore from backups (train-server.total-data-loss)', 'Unrecoverable');
  return `The filesystem cannot be repaired or mounted: ${what}. Restore from backups next: lifeboat run train-server.total-data-loss.`;
}
