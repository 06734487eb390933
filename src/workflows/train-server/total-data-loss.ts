/**
 * Seed 004, "Complete Data Loss Recovery" (all disks lost, or major
 * corruption; valid restic backups in GDrive), on the real server:
 * 1. new hardware and OS (a human prerequisite, recorded);
 * 3. the restic repository first: it must open (the password, by reference,
 *    when the server's copy is gone: gate `restic-password`) and hold a
 *    snapshot; the approver picks it (gate `restore-snapshot`, latest first)
 *    unless `snapshot` is given; what it holds (the backed-up directories'
 *    paths, config.sh or not, the users) is read from it;
 * 2. config.sh from that backup, or drafted and finished by a person; then
 *    the setup scripts: the storage one creates a NEW array — the disks it
 *    wipes are checked on the host first (identity pinned, not mounted, not
 *    the OS, nothing on them the approver was not shown) and shown to the
 *    dangerous gate `new-btrfs-array`, whose approval answers the script's
 *    confirmation; the others with the inventory's answers or by hand;
 * 4. restore every backed-up directory (homes first) from the paths the
 *    snapshot records, restic `--json` progress as heartbeats;
 * 5. fix ownership per user (`chown -R user:user`);
 * 6. docker compose build, up -d;
 * 7. notify the users: homes restored as of the snapshot, workspaces empty
 *    (not backed up by design), datasets to re-download.
 * RTO 4 h target, 8 h max (seed: "4-8 hours + restore time").
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { TrainServerTotalDataLossParams } from '../../catalog';
import type { TsDeviceCheck, TsRestoreResult, TsSnapshot, TsSnapshotContents, TsStorageStatus } from '../../activities/train-server/types';
import { activities, approve, fact, fanOut, isDryRun, note, recoveryInput, runRecovery, step, type RecoveryInput, type RecoveryResult } from '../kit';
import { TRAIN_SERVER_TOTAL_DATA_LOSS } from '../scenarios';
import { resticPassword, restoreConfig, runSetupScript, runSetupScripts, serverNode, setupPlan } from './common';
import { legacyTotalDataLoss } from './legacy/total-data-loss';
import { REAL_STORAGE } from './versions';

export type TotalDataLossInput = RecoveryInput<Partial<TrainServerTotalDataLossParams>>;

export async function trainServerTotalDataLoss(input: TotalDataLossInput): Promise<RecoveryResult> {
  if (!patched(REAL_STORAGE)) return legacyTotalDataLoss(input);
  return runRecovery(TRAIN_SERVER_TOTAL_DATA_LOSS, input, totalDataLoss);
}

/** Restore order: the homes first (the seed's step), then the rest of the backup. */
const ORDER = ['homes', 'docker-volumes', 'shared/tensorboard'];

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
  const mount = before.mount ?? '/mnt/storage';

  // 3 first: the backups must be there before anything is built on them.
  const { passwordRef, access } = await resticPassword(at);
  const pw = passwordRef ? { passwordRef } : {};
  const snapshots = access.ok
    ? await step('Connect to the restic repository: restic snapshots', () => a.tsResticSnapshots({ ...at, ...pw }), {
        describe: ((s: TsSnapshot[]) => `${s.length} snapshot(s)${s.length ? `, latest ${s.at(-1)!.shortId} at ${s.at(-1)!.time}` : ''}`) as never,
        hint: 'check settings.resticRepository and the password, then retry',
      })
    : [];
  if (snapshots.length === 0 && !isDryRun()) {
    throw ApplicationFailure.nonRetryable('the restic repository holds no snapshot: there is nothing to restore the homes from', 'NoBackups');
  }
  const newestFirst = [...snapshots].reverse();
  let chosen: TsSnapshot | undefined;
  if (input.params.snapshot) {
    chosen = snapshots.find((s) => s.id === input.params.snapshot || s.shortId === input.params.snapshot);
    if (!chosen && !isDryRun()) throw ApplicationFailure.nonRetryable(`snapshot ${input.params.snapshot} is not in the repository (have: ${newestFirst.map((s) => s.shortId).join(', ')})`, 'InvalidArgument');
  } else if (newestFirst.length) {
    const pick = await approve('restore-snapshot', {
      skippable: true, // a skip after a timeout restores the latest snapshot, the runbook's default
      title: 'Pick the restic snapshot the user data is restored from (the latest unless it is known bad)',
      evidence: Object.fromEntries(newestFirst.slice(0, 10).map((s, i) => [`${s.shortId}${i === 0 ? ' (latest)' : ''}`, `${s.time} ${s.paths.join(' ')}`])),
      choices: newestFirst.map((s) => s.shortId),
    });
    chosen = newestFirst.find((s) => s.shortId === pick.choice) ?? newestFirst[0]!;
  }
  let contents: TsSnapshotContents | undefined;
  if (chosen) {
    const id = chosen.id;
    fact('snapshot', `${chosen.shortId} (${chosen.time})`);
    contents = await step(`Read what backup ${chosen.shortId} holds (restic find, restic ls)`, () => a.tsResticContents({ ...at, snapshot: id, ...pw }), {
      describe: ((c: TsSnapshotContents) => `${Object.entries(c.dirs).map(([k, v]) => `${k} at ${v}`).join('; ') || 'no known directory'}; config.sh ${c.config ?? 'not backed up'}; homes of ${c.users.join(', ') || 'nobody'}`) as never,
    });
    if (contents && !contents.dirs.homes && !isDryRun()) {
      throw ApplicationFailure.nonRetryable(`snapshot ${chosen.shortId} holds no homes directory (paths: ${contents.paths.join(', ')}): pick another snapshot (--set snapshot=<id>)`, 'NoHomesInBackup');
    }
  }

  // config.sh, which every setup script reads.
  const config = before.configPresent ? 'kept' : await restoreConfig(at, contents, chosen, passwordRef);

  // 2. Setup scripts; storage first, behind its gate, after its disks are checked.
  const plan = await setupPlan(at);
  const storage = plan.scripts.find((x) => x.role === 'storage');
  if (before.mounted && before.arrayUuid) {
    note(`An array (${before.arrayUuid}) is already mounted: ${storage?.name ?? 'the storage script'} is not run over it`);
  } else if (!storage) {
    throw ApplicationFailure.nonRetryable('settings.setupScripts names no storage script (NN-setup-storage.sh): nothing would create the new array', 'SetupScriptsMismatch');
  } else {
    const old = before.arrayUuid;
    const disks = await step(`Check the disks ${storage.name} wipes (identity, mounts, OS, what is on them)`, async () => {
      const c = await a.tsCheckDevices({ ...at, purpose: 'new-array', ...(old ? { oldArrayUuid: old } : {}) });
      if (!c.ok && !isDryRun()) throw ApplicationFailure.nonRetryable(`refused: ${c.summary}`, 'DeviceRefused');
      return c;
    }, { onFailure: 'ask', describe: ((c: TsDeviceCheck) => c.summary) as never });
    const gate = await approve('new-btrfs-array', {
      skippable: true, // a skip after a timeout is handled below (approved: false)
      title: `Create a NEW BTRFS array on ${node}'s disks (${storage.name}): whatever is on them is destroyed`,
      evidence: {
        disks: disks?.summary ?? 'not checked',
        'filesystem on the array devices': old ? `UUID ${old} (NOT mounted: it will be overwritten)` : 'none found (blkid -p)',
        restore: chosen ? `the data comes back from snapshot ${chosen.shortId} (${chosen.time})` : 'no snapshot',
        'not restored': 'workspaces (not backed up by design)',
        'your approval': `answers ${storage.name}'s confirmation (Type 'YES')`,
      },
    });
    if (!gate.approved) throw ApplicationFailure.nonRetryable('new-btrfs-array was skipped: without storage nothing can be restored', 'GateSkipped');
    await runSetupScript(at, storage, { confirmDestroy: true, ...(old ? { oldArrayUuid: old } : {}), title: `Run ${storage.name} (creates the BTRFS array, mounts ${mount})` });
  }
  const byHand = await runSetupScripts(at, plan);
  if (byHand.length) fact('run by hand', byHand.join(', '));

  // 4. Restore what the snapshot holds, the homes first.
  const dirs = Object.entries(contents?.dirs ?? (isDryRun() ? { homes: `${mount}/homes` } : {})).sort(([x], [y]) => ORDER.indexOf(x) - ORDER.indexOf(y));
  let restored: TsRestoreResult | undefined;
  const snapId = chosen?.id ?? 'latest';
  for (const [dir, path] of dirs) {
    const r = await step(`Restore ${dir} from snapshot ${chosen?.shortId ?? 'latest'} (restic restore ${path} --target ${mount}/${dir})`, () =>
      a.tsResticRestore({ ...at, snapshot: snapId, what: dir === 'homes' ? 'homes' : 'dir', path, to: `${mount}/${dir}`, ...pw }),
    { onFailure: 'ask', hint: 'a retry restores again over the partial files' });
    if (dir === 'homes') restored = r;
  }

  // 5. Ownership per user.
  const users = contents?.users.length ? contents.users : before.users;
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
  const when = chosen ? `${chosen.shortId} taken ${chosen.time}` : 'the latest backup';
  const text =
    `The train server was rebuilt after a complete data loss.\n` +
    `Restored: home directories of ${users.join(', ')} as of the backup ${when}` +
    `${restored?.filesRestored !== undefined ? ` (${restored.filesRestored} files)` : ''}${dirs.length > 1 ? `, and ${dirs.slice(1).map(([d]) => d).join(', ')}` : ''}. Changes made after that backup are lost.\n` +
    `NOT restored: workspaces are empty (they are not backed up, by design); please re-download your datasets.`;
  await step('Notify users: homes restored, workspaces empty, datasets to re-download', () => a.notify({ cluster, severity: 'warning', subject: `${cluster}: server rebuilt, your home is back, workspaces are empty`, text }));
  fact('resolution', `new storage array, ${dirs.map(([d]) => d).join(', ') || 'nothing'} restored from ${chosen?.shortId ?? '?'}, config.sh ${config}, ownership fixed for ${users.length} users, ${running?.length ?? 0} containers up; users notified`);
  fact('data loss', `workspaces (expected) and changes since ${chosen?.time ?? 'the backup'}`);
  return `Server rebuilt: homes of ${users.length} users restored from snapshot ${chosen?.shortId ?? '?'} (${chosen?.time ?? '?'}); workspaces not restored (not backed up); users notified.`;
}
