/**
 * The train server's activities (seed 004), put together for the worker: the
 * storage stack, BTRFS on HDDs ({@link ./storage}, {@link ./btrfs}) behind
 * bcache on an SSD ({@link ./bcache}), restic ({@link ./restic}), and the
 * setup scripts and docker compose ({@link ./services}), all run on the
 * server over SSH as the runbook's commands are ({@link ./host}).
 *
 * - Every command is an argv array (quoted by the shell transport), behind
 *   `sudo -n` when `settings.sudo` is set.
 * - Paths: the runbook's absolute paths (`/mnt/storage`, `/sys/block/...`,
 *   `/etc/fstab`) are prefixed with `settings.root` (default empty; the lab
 *   sets it to its host directory).
 * - Writes to sysfs and fstab go through `tee` with the value on stdin, as the
 *   runbook's `echo X | sudo tee FILE` does.
 * - Destructive device steps (`wipefs -a`, `make-bcache -C`, the storage
 *   setup script's mkfs, `btrfs check --repair`) pass the guard first
 *   ({@link ./guard}, {@link ./devices}): a wrong device is refused with the
 *   reason.
 * - Setup scripts run under a prompt guard ({@link ./setup}): answered from
 *   the inventory, or stopped at the first question, never hung.
 * - Idempotency: each effect checks first (already mounted, already detached,
 *   fstab line present, cache attached, scrub running or already started by
 *   this step, restore completed by this step, containers up, storage set up)
 *   and reports `alreadyDone`. Once-per-step markers live under
 *   `~/.lifeboat/markers/` of the SSH user, named by `ctx.stableKey`.
 *
 * @module
 */
import { bindActivities, type ActivityContext } from '../context';
import { trainServerContext } from './context';
import { tsFstabStorage, tsMountStorage, tsStorageStatus, tsUnmountStorage } from './storage';
import { tsBtrfsCheck, tsBtrfsRestore, tsRsync, tsScrubStart, tsScrubStatus } from './btrfs';
import { tsBcacheAttach, tsBcacheCacheMode, tsBcacheDetach, tsBcacheResumeWriteback, tsBcacheStatus, tsCacheDevice, tsMakeCache, tsWipeCacheDevice } from './bcache';
import { tsConfigCheck, tsConfigDraft } from './config';
import { tsCheckDevices } from './devices';
import { tsChownHome, tsResticAccess, tsResticContents, tsResticRestore, tsResticSnapshots } from './restic';
import { tsCompose, tsContainers, tsRunSetupScript, tsVerify } from './services';
import { tsSetupPlan, tsSetupScript, tsSetupVerify } from './setup';
import type { TrainServerActivities } from './types';

export type * from './types';
export { TRAIN_SERVER_DEFAULTS, type TrainServerContext } from './context';

/** The train server activities of one worker. */
export function trainServerActivities(base: ActivityContext): TrainServerActivities {
  return bindActivities(trainServerContext(base), {
    tsStorageStatus,
    tsScrubStatus,
    tsScrubStart,
    tsBcacheStatus,
    tsCacheDevice,
    tsBcacheDetach,
    tsBcacheAttach,
    tsBcacheCacheMode,
    tsBcacheResumeWriteback,
    tsWipeCacheDevice,
    tsMakeCache,
    tsRunSetupScript,
    tsMountStorage,
    tsUnmountStorage,
    tsFstabStorage,
    tsResticSnapshots,
    tsResticRestore,
    tsChownHome,
    tsContainers,
    tsCompose,
    tsVerify,
    tsBtrfsCheck,
    tsRsync,
    tsBtrfsRestore,
    tsCheckDevices,
    tsSetupPlan,
    tsSetupScript,
    tsSetupVerify,
    tsResticAccess,
    tsResticContents,
    tsConfigDraft,
    tsConfigCheck,
  });
}
