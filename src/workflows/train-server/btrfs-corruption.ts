/**
 * Seed 004, "BTRFS Corruption Recovery" (errors detected, the filesystem
 * will not mount, or data corruption), on real BTRFS:
 * 1. read-only mount (`umount`, `mount -o ro,degraded`) and, if it mounts,
 *    back up the critical data at once (rsync homes and workspaces out);
 *    when a device of the array is missing, that is the damage: a person
 *    reconnects (or replaces) it (gate `reconnect-disk`), the array is
 *    checked complete, and it is mounted read-write again;
 * 2. `btrfs check --readonly`;
 * 3. `btrfs check --repair` only behind the dangerous gate
 *    `btrfs-check-repair`, which shows the read-only check's findings and the
 *    device as the host reports it; the device is checked right before the
 *    repair (the array's filesystem by UUID, mounted nowhere, not the OS);
 * 4. when the repair does not bring the filesystem back: recovery mount
 *    options, `ro,usebackuproot`, then `ro,rescue=all` (the seed's
 *    `ro,recovery` is gone from current kernels: "Unknown parameter");
 * 5. if one mounts, rescue the data (rsync);
 * 6. restore from backups (train-server.total-data-loss);
 * 7. last resort: `btrfs restore` of what can be read (older tree roots when
 *    the current one is unreadable).
 * RTO 2 h target, 8 h max (seed: "2-8 hours").
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { TrainServerBtrfsCorruptionParams } from '../../catalog';
import type { TsBtrfsCheck, TsDeviceCheck, TsStorageStatus } from '../../activities/train-server/types';
import { activities, approve, fact, isDryRun, note, recoveryInput, runRecovery, step, type RecoveryInput, type RecoveryResult } from '../kit';
import { TRAIN_SERVER_BTRFS_CORRUPTION } from '../scenarios';
import { serverNode } from './common';
import { legacyBtrfsCorruption } from './legacy/btrfs-corruption';
import { REAL_STORAGE } from './versions';

export type BtrfsCorruptionInput = RecoveryInput<Partial<TrainServerBtrfsCorruptionParams>>;

export async function trainServerBtrfsCorruption(input: BtrfsCorruptionInput): Promise<RecoveryResult> {
  if (!patched(REAL_STORAGE)) return legacyBtrfsCorruption(input);
  return runRecovery(TRAIN_SERVER_BTRFS_CORRUPTION, input, btrfsCorruption);
}

/** The kernel's recovery mount options, tried in order (the seed's `recovery` no longer exists). */
const RECOVERY_MOUNTS = ['ro,usebackuproot', 'ro,rescue=all'];

async function btrfsCorruption(): Promise<string> {
  const input = recoveryInput<Partial<TrainServerBtrfsCorruptionParams>>();
  const cluster = input.cluster.name;
  const node = serverNode(input);
  const at = { cluster, node };
  const rescueDir = input.params.rescueDir ?? '/mnt/external-backup';
  const recoveryDir = input.params.recoveryDir ?? '/mnt/recovery-output';
  const a = activities();

  const s = await step('Assess the filesystem: mount state, devices, kernel errors', () => a.tsStorageStatus(at), {
    describe: ((x: TsStorageStatus) =>
      x.reachable
        ? `${x.mounted ? `mounted (${x.mountOptions})` : 'not mounted'}; ${x.missingDevices?.length ? `MISSING ${x.missingDevices.join(', ')}; ` : ''}${x.kernelErrors.length} kernel error line(s)${x.kernelErrors.length ? `: ${x.kernelErrors.at(-1)}` : ''}`
        : `unreachable: ${x.error}`) as never,
  });
  if (!s.reachable) throw ApplicationFailure.nonRetryable(`${node} is not reachable over SSH (${s.error})`, 'ServerUnreachable');
  if (!s.arrayUuid) throw ApplicationFailure.nonRetryable('no BTRFS filesystem on the array\'s devices at all: restore from backups (train-server.total-data-loss)', 'NoArray');
  const mount = s.mount ?? '/mnt/storage';
  const dev = s.devices?.[0] ?? 'the array device';
  const missing = s.missingDevices ?? [];
  fact('impact', `${mount} on ${node} unusable: users cannot reach their homes and workspaces`);
  fact('root cause', missing.length ? `array device(s) missing: ${missing.join(', ')}` : `BTRFS corruption${s.kernelErrors.length ? `: ${s.kernelErrors.at(-1)}` : ''}`);

  /** rsync of homes and workspaces to the rescue disk. */
  const rescue = async (why: string): Promise<void> => {
    for (const dir of ['homes', 'workspaces']) {
      await step(`${why}: rsync -av ${mount}/${dir}/ ${rescueDir}/${dir}/`, () => a.tsRsync({ ...at, from: `${mount}/${dir}`, to: `${rescueDir}/${dir}` }), { onFailure: 'ask' });
    }
  };
  const backRw = async (how: string): Promise<string> => {
    await step('Unmount the read-only mount', () => a.tsUnmountStorage(at));
    await step(`Mount ${mount} read-write again`, () => a.tsMountStorage(at), { onFailure: 'ask' });
    await step('Start the containers again: docker compose up -d', () => a.tsCompose({ ...at, action: 'up' }), { onFailure: 'ask' });
    const after = await step('Verify: mounted read-write, every device present', () => a.tsStorageStatus(at), {
      describe: ((x: TsStorageStatus) => `${x.mounted ? `mounted (${x.mountOptions})` : 'not mounted'}, device errors ${x.deviceErrors ?? '?'}${x.missingDevices?.length ? `, missing ${x.missingDevices.join(', ')}` : ''}`) as never,
    });
    if (!isDryRun() && (!after.mounted || (after.mountOptions ?? '').split(',').includes('ro'))) {
      throw ApplicationFailure.nonRetryable(`the filesystem did not mount read-write (${after.mountOptions ?? 'not mounted'}) ${how}: restore from backups (train-server.total-data-loss)`, 'StillCorrupt');
    }
    return after.mountOptions ?? 'rw';
  };

  // 1. Read-only mount, and the data out at once.
  await step(`Unmount ${mount}`, () => a.tsUnmountStorage(at));
  const ro = await step('Attempt a read-only mount: mount -o ro,degraded', () => a.tsMountStorage({ ...at, options: 'ro,degraded' }), { onFailure: 'continue' });
  let rescued = false;
  if (ro) {
    await rescue('Mounted read-only: back up critical data immediately');
    rescued = true;
  } else {
    note('The read-only mount failed: nothing could be copied before the check');
  }

  // A missing disk is not repaired by btrfs check: it comes back, or is replaced.
  if (missing.length) {
    // Unmounted while the disk comes back: the kernel then sees the complete array at the next mount.
    await step(`Unmount ${mount} while the disk is reconnected`, () => a.tsUnmountStorage(at));
    const back = await approve('reconnect-disk', {
      skippable: true, // a skip after a timeout leaves the array degraded, data rescued
      title: `Reconnect ${missing.join(', ')} (or replace it), then approve`,
      evidence: {
        missing: missing.join(', '),
        'data rescued': rescued ? `homes and workspaces copied to ${rescueDir}` : 'NO: not even the degraded mount worked',
        'a dead disk': `replace it and run: btrfs replace start <devid> <new disk> ${mount} (with the array mounted -o degraded); Lifeboat does not do this for you`,
        'then Lifeboat checks': 'every device of the array is present again, then mounts it read-write',
      },
    });
    if (!back.approved) {
      fact('resolution', `array degraded (${missing.join(', ')} missing); ${rescued ? `data rescued to ${rescueDir}` : 'nothing rescued'}`);
      return `The array is degraded (${missing.join(', ')} missing)${rescued ? `; homes and workspaces rescued to ${rescueDir}` : ''}. Reconnect or replace the disk, then run this recovery again.`;
    }
    await step('Check every device of the array is back (btrfs filesystem show)', async () => {
      const x = await a.tsStorageStatus(at);
      if (!isDryRun() && x.missingDevices?.length) throw ApplicationFailure.retryable(`still missing: ${x.missingDevices.join(', ')}`, 'DeviceMissing');
      return x;
    }, { onFailure: 'ask', describe: ((x: TsStorageStatus) => (x.missingDevices?.length ? `missing ${x.missingDevices.join(', ')}` : 'every device present')) as never });
    const opts = await backRw('with every device back');
    fact('resolution', `${missing.join(', ')} reconnected; array complete and mounted read-write (${opts})${rescued ? `; a copy of the data is in ${rescueDir}` : ''}`);
    return `Array complete again: ${missing.join(', ')} reconnected, ${mount} mounted read-write${rescued ? `; data rescued to ${rescueDir} first` : ''}.`;
  }

  // 2. Check.
  const check = await step(`Check the filesystem: btrfs check --readonly ${dev}`, () => a.tsBtrfsCheck({ ...at, repair: false }), { describe: ((c: TsBtrfsCheck) => (c.clean ? 'no error found' : c.findings)) as never });
  fact('btrfs check --readonly', check.findings);

  let repaired = check.clean;
  if (!check.clean) {
    // 3. Repair, only on the right device and when a second person accepts the risk.
    await step('Unmount: the repair (and its device check) needs the array unmounted', () => a.tsUnmountStorage(at));
    const device = await step(`Check ${dev} carries the array (UUID ${s.arrayUuid}), is mounted nowhere and is not the OS`, async () => {
      const c = await a.tsCheckDevices({ ...at, purpose: 'repair', arrayUuid: s.arrayUuid! });
      if (!c.ok && !isDryRun()) throw ApplicationFailure.nonRetryable(`refused: ${c.summary}`, 'DeviceRefused');
      return c;
    }, { onFailure: 'ask', describe: ((c: TsDeviceCheck) => c.summary) as never });
    await approve('btrfs-check-repair', {
      title: `Run btrfs check --repair on ${dev} (can cause more damage if the corruption is severe)`,
      evidence: {
        'btrfs check --readonly': check.findings,
        device: device?.summary ?? dev,
        'data rescued first': rescued ? `homes and workspaces copied to ${rescueDir}` : 'NO: the read-only mount failed',
        'if it fails': `recovery mount options (${RECOVERY_MOUNTS.join(', ')}), then restore from backups, then btrfs restore`,
      },
    });
    await step('Unmount before the repair', () => a.tsUnmountStorage(at));
    const fix = await step(`Attempt the repair: btrfs check --repair ${dev}`, () => a.tsBtrfsCheck({ ...at, repair: true, arrayUuid: s.arrayUuid! }), { describe: ((c: TsBtrfsCheck) => c.findings) as never });
    repaired = fix.clean;
    fact('btrfs check --repair', fix.findings);
  }

  if (repaired) {
    await backRw('after the check');
    fact('resolution', `${check.clean ? 'no error found by btrfs check' : 'btrfs check --repair fixed the filesystem'}; mounted read-write; containers up${rescued ? `; a copy of the data is in ${rescueDir}` : ''}`);
    return `Filesystem ${check.clean ? 'checked clean' : 'repaired'} and mounted read-write again${rescued ? `; data rescued to ${rescueDir} first` : ''}.`;
  }

  // 4-5. Recovery mount options, then rescue.
  note('The repair did not bring the filesystem back: trying the recovery mount options');
  let mountedWith: string | undefined;
  for (const options of RECOVERY_MOUNTS) {
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
  await step('Unmount', () => a.tsUnmountStorage(at));
  const last = await step(`Last resort: btrfs restore ${dev} ${recoveryDir}/ (older tree roots if the current one is unreadable)`, () => a.tsBtrfsRestore({ ...at, to: recoveryDir }), { onFailure: 'continue' });
  const what = last ? `btrfs restore copied what it could read to ${recoveryDir}${last.output && /older root/.test(last.output) ? ` (${last.output.replace(/^.*; restored/, 'restored')})` : ''}` : 'btrfs restore failed too';
  fact('resolution', `unrepairable and unmountable; ${what}; restore from backups next`);
  if (!last) throw ApplicationFailure.nonRetryable('nothing could be read from the array (btrfs restore failed): restore from backups (train-server.total-data-loss)', 'Unrecoverable');
  return `The filesystem cannot be repaired or mounted: ${what}. Restore from backups next: lifeboat run train-server.total-data-loss.`;
}
