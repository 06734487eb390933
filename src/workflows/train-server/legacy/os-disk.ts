/**
 * v1 (before Lifeboat drove the train server's real storage and setup
 * scripts; kept for the histories that recorded it, see ../versions.ts).
 * Seed 004, "OS Disk Failure" (the NVMe/SSD with the OS fails; the BTRFS
 * array on the HDDs survives, user data intact):
 * 1-3. replace the disk, install Ubuntu, clone the repository (human
 *    prerequisites, recorded; the recovery starts on the new OS);
 * 4. config.sh from the restic backup (when the checkout has none);
 * 5. mount the EXISTING array — never formatted: with no filesystem on the
 *    storage device the recovery stops and points at total-data-loss;
 * 6. /etc/fstab by UUID (idempotent: an existing line is kept);
 * 7. re-run the setup scripts, skipping 01-setup-storage.sh;
 * 8. generate the compose file, build and start the containers;
 * 9. verify: docker ps, nvidia-smi, df -h, 09-run-tests.sh.
 * RTO 2 h target, 4 h max (seed: "2-4 hours").
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { TrainServerOsDiskParams } from '../../../catalog';
import type { TsSnapshot, TsStorageStatus, TsVerifyResult } from '../../../activities/train-server/types';
import { activities, fact, isDryRun, note, recoveryInput, runRecovery, step, type RecoveryInput, type RecoveryResult } from '../../kit';
import { TRAIN_SERVER_OS_DISK } from '../../scenarios';
import { serverNode, SETUP_SCRIPTS } from './common';

export type OsDiskInput = RecoveryInput<Partial<TrainServerOsDiskParams>>;

/** The v1 scenario, replayed by histories recorded before the train server ran on real storage. */
export async function legacyOsDisk(input: OsDiskInput): Promise<RecoveryResult> {
  return runRecovery(TRAIN_SERVER_OS_DISK, input, osDisk);
}

async function osDisk(): Promise<string> {
  const input = recoveryInput<Partial<TrainServerOsDiskParams>>();
  const cluster = input.cluster.name;
  const node = serverNode(input);
  const at = { cluster, node };
  const a = activities();

  const s = await step('Assess the new OS: storage array on the HDDs, mount, fstab, config.sh', () => a.tsStorageStatus(at), {
    describe: ((x: TsStorageStatus) => (x.reachable ? `array ${x.arrayUuid ?? 'NONE'}, ${x.mounted ? 'mounted' : 'not mounted'}, fstab ${x.fstabHasStorage ? 'has it' : 'lacks it'}, config.sh ${x.configPresent ? 'present' : 'missing'}` : `unreachable: ${x.error}`)) as never,
  });
  if (!s.reachable) throw ApplicationFailure.nonRetryable(`${node} is not reachable over SSH (${s.error}): install Ubuntu 24.04 on the new OS disk and clone the repository first`, 'ServerUnreachable');
  if (!s.arrayUuid) {
    throw ApplicationFailure.nonRetryable(
      `no BTRFS filesystem found on the storage device: the array did not survive. Do NOT format anything here; check the HDDs' cabling, or run train-server.total-data-loss`,
      'NoArray',
    );
  }
  note('Prerequisites: OS disk replaced, Ubuntu 24.04 installed (storage setup skipped: HDDs NOT formatted), repository cloned');
  fact('impact', `${node} down until its OS is reinstalled; the storage array ${s.arrayUuid} and user data are intact`);
  fact('root cause', 'OS disk failure');

  // 4. config.sh.
  if (!s.configPresent) {
    const snaps = await step('Find the latest backup of config.sh: restic snapshots', () => a.tsResticSnapshots(at), {
      describe: ((l: TsSnapshot[]) => `${l.length} snapshot(s)${l.length ? `, latest ${l.at(-1)!.shortId} at ${l.at(-1)!.time}` : ''}`) as never,
    });
    const snap = input.params.snapshot ? snaps.find((x) => x.id === input.params.snapshot || x.shortId === input.params.snapshot) : snaps.at(-1);
    if (!snap) {
      throw ApplicationFailure.nonRetryable(
        `no ${input.params.snapshot ? `snapshot ${input.params.snapshot}` : 'snapshot'} to restore config.sh from: recreate it (cp config.sh.example config.sh, edit) and start again`,
        'NoBackups',
      );
    }
    await step(`Copy config.sh from backup ${snap.shortId} (restic restore --path /config.sh)`, () => a.tsResticRestore({ ...at, snapshot: snap.id, what: 'config' }), { onFailure: 'ask' });
  }

  // 5-6. The existing array.
  await step('Mount the existing BTRFS array (mount /dev/sdb /mnt/storage; never formatted)', () => a.tsMountStorage(at), {
    hint: 'a bad superblock means corruption: run train-server.btrfs-corruption',
  });
  await step('Add the array to /etc/fstab by UUID', () => a.tsFstabStorage(at), { onFailure: 'ask' });

  // 7. Setup scripts, without storage.
  note('Skipping 01-setup-storage.sh: the array is already mounted');
  for (const script of SETUP_SCRIPTS.filter((x) => !x.startsWith('01-setup-storage'))) {
    await step(`Re-run ${script}`, () => a.tsRunSetupScript({ ...at, script }), { onFailure: 'ask' });
  }

  // 8. Containers.
  await step('Generate the compose file (./generate-compose.sh)', () => a.tsCompose({ ...at, action: 'generate' }), { onFailure: 'ask' });
  await step('docker compose build', () => a.tsCompose({ ...at, action: 'build' }), { onFailure: 'ask' });
  await step('docker compose up -d', () => a.tsCompose({ ...at, action: 'up' }), { onFailure: 'ask' });

  // 9. Verify.
  const v = await step('Verify: docker ps, nvidia-smi, df -h, 09-run-tests.sh', async () => {
    const r = await a.tsVerify(at);
    if (!r.ok && !isDryRun()) throw ApplicationFailure.retryable(r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join('; '), 'VerifyFailed');
    return r;
  }, { onFailure: 'ask', describe: ((r: TsVerifyResult) => r.checks.map((c) => `${c.name}: ${c.ok ? 'ok' : 'FAILED'} (${c.detail})`).join('; ')) as never });
  fact('resolution', `new OS; config.sh ${s.configPresent ? 'kept' : 'restored from backup'}; array ${s.arrayUuid} mounted and in fstab; setup scripts re-run; containers rebuilt`);
  fact('data loss', 'none (the BTRFS array was intact)');
  return `Server back on a new OS disk: array ${s.arrayUuid} mounted (not formatted), setup re-run, containers up; ${v?.checks.length ?? 0} checks passed.`;
}
