/**
 * Seed 004, "OS Disk Failure" (the NVMe/SSD with the OS fails; the BTRFS
 * array on the HDDs survives, user data intact), on the real server
 * (ptrkhh/on-prem-training at HEAD):
 * 1-3. replace the disk, install Ubuntu, clone the repository (human
 *    prerequisites, recorded; the recovery starts on the new OS);
 * 4. config.sh: from the backup when a snapshot has it; at 5a02c9d the
 *    backup does not, so it is drafted from config.sh.example with what is
 *    known and a person finishes it (gate `recreate-config`), then checked.
 *    The restic password was in /root/.restic-password on the lost disk: when
 *    no configured reference opens the repository, an approver gives one
 *    (gate `restic-password`, by reference);
 * 5. mount the EXISTING array — never formatted: with no filesystem on the
 *    array's devices the recovery stops and points at total-data-loss;
 * 6. /etc/fstab by UUID (idempotent: an existing line is kept);
 * 7. re-run the setup scripts (settings.setupScripts, HEAD's names by
 *    default) but the storage one, with the inventory's answers; a script
 *    that stops at a question becomes a human step (the exact command, the
 *    operator's "done", then its result checked);
 * 8. generate the compose file, build and start the containers;
 * 9. verify: docker ps, nvidia-smi, df -h, the test script.
 * RTO 2 h target, 4 h max (seed: "2-4 hours").
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { TrainServerOsDiskParams } from '../../catalog';
import type { TsSnapshot, TsSnapshotContents, TsStorageStatus, TsVerifyResult } from '../../activities/train-server/types';
import { activities, fact, isDryRun, note, recoveryInput, runRecovery, step, type RecoveryInput, type RecoveryResult } from '../kit';
import { TRAIN_SERVER_OS_DISK } from '../scenarios';
import { resticPassword, restoreConfig, runSetupScripts, serverNode, setupPlan } from './common';
import { legacyOsDisk } from './legacy/os-disk';
import { REAL_STORAGE } from './versions';

export type OsDiskInput = RecoveryInput<Partial<TrainServerOsDiskParams>>;

export async function trainServerOsDisk(input: OsDiskInput): Promise<RecoveryResult> {
  if (!patched(REAL_STORAGE)) return legacyOsDisk(input);
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
      `no BTRFS filesystem found on the array's devices (${(s.devices ?? []).join(', ') || 'settings.storageDevices'}): the array did not survive. Do NOT format anything here; check the HDDs' cabling, or run train-server.total-data-loss`,
      'NoArray',
    );
  }
  note('Prerequisites: OS disk replaced, Ubuntu 24.04 installed (storage setup skipped: HDDs NOT formatted), repository cloned');
  fact('impact', `${node} down until its OS is reinstalled; the storage array ${s.arrayUuid} and user data are intact`);
  fact('root cause', 'OS disk failure');
  if (s.missingDevices?.length) note(`The kernel does not see ${s.missingDevices.join(', ')} yet: the mount scans the array's devices first`);

  // 4. config.sh: from the backup if it holds one, else recreated.
  let config = 'kept';
  if (!s.configPresent) {
    const { passwordRef, access } = await resticPassword(at);
    let snap: TsSnapshot | undefined;
    let contents: TsSnapshotContents | undefined;
    if (access.ok) {
      const snaps = await step('List the backups: restic snapshots', () => a.tsResticSnapshots({ ...at, ...(passwordRef ? { passwordRef } : {}) }), {
        describe: ((l: TsSnapshot[]) => `${l.length} snapshot(s)${l.length ? `, latest ${l.at(-1)!.shortId} at ${l.at(-1)!.time}` : ''}`) as never,
      });
      snap = input.params.snapshot ? snaps.find((x) => x.id === input.params.snapshot || x.shortId === input.params.snapshot) : snaps.at(-1);
      if (input.params.snapshot && !snap) throw ApplicationFailure.nonRetryable(`snapshot ${input.params.snapshot} is not in the repository (have: ${snaps.map((x) => x.shortId).join(', ') || 'none'})`, 'InvalidArgument');
      if (snap) {
        const id = snap.id;
        contents = await step(`Look into backup ${snap.shortId}: is config.sh in it? (restic find, restic ls)`, () => a.tsResticContents({ ...at, snapshot: id, ...(passwordRef ? { passwordRef } : {}) }), {
          describe: ((c: TsSnapshotContents) => `paths ${c.paths.join(' ')}; config.sh ${c.config ?? 'not backed up'}; homes of ${c.users.join(', ') || 'nobody'}`) as never,
        });
      }
    }
    config = await restoreConfig(at, contents, snap, passwordRef);
  }

  // 5-6. The existing array.
  const dev = s.devices?.[0] ?? 'the array';
  await step(`Mount the existing BTRFS array (mount ${dev} /mnt/storage; never formatted)`, () => a.tsMountStorage(at), {
    hint: 'a bad superblock means corruption: run train-server.btrfs-corruption',
  });
  await step('Add the array to /etc/fstab by UUID', () => a.tsFstabStorage(at), { onFailure: 'ask' });

  // 7. Setup scripts, without storage.
  const plan = await setupPlan(at);
  const storage = plan.scripts.find((x) => x.role === 'storage');
  note(`Skipping ${storage?.name ?? 'the storage script'}: the array is already mounted`);
  const byHand = await runSetupScripts(at, plan);
  if (byHand.length) fact('run by hand', byHand.join(', '));

  // 8. Containers.
  await step('Generate the compose file (./generate-compose.sh)', () => a.tsCompose({ ...at, action: 'generate' }), { onFailure: 'ask' });
  await step('docker compose build', () => a.tsCompose({ ...at, action: 'build' }), { onFailure: 'ask' });
  await step('docker compose up -d', () => a.tsCompose({ ...at, action: 'up' }), { onFailure: 'ask' });

  // 9. Verify.
  const tests = plan.scripts.find((x) => x.role === 'tests')?.name;
  const v = await step(`Verify: docker ps, nvidia-smi, df -h${tests ? `, ${tests}` : ''}`, async () => {
    const r = await a.tsVerify({ ...at, ...(tests ? { testsScript: tests } : {}) });
    if (!r.ok && !isDryRun()) throw ApplicationFailure.retryable(r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`).join('; '), 'VerifyFailed');
    return r;
  }, { onFailure: 'ask', describe: ((r: TsVerifyResult) => r.checks.map((c) => `${c.name}: ${c.ok ? 'ok' : 'FAILED'} (${c.detail})`).join('; ')) as never });
  fact('resolution', `new OS; config.sh ${config}; array ${s.arrayUuid} mounted and in fstab; setup scripts re-run${byHand.length ? ` (${byHand.join(', ')} by hand)` : ''}; containers rebuilt`);
  fact('data loss', 'none (the BTRFS array was intact)');
  return `Server back on a new OS disk: array ${s.arrayUuid} mounted (not formatted), config.sh ${config}, setup re-run${byHand.length ? ` (${byHand.length} by hand)` : ''}, containers up; ${v?.checks.length ?? 0} checks passed.`;
}
