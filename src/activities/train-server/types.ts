/**
 * The train server (seed 004) activities, as types only (workflows import them with
 * `import type`). See {@link ./types} for the conventions.
 *
 * @module
 */
import type { EffectResult, Effectful, NodeRef } from '../common/types';

/** The storage stack as the runbook's diagnosis sees it. */
export interface TsStorageStatus {
  node: string;
  reachable: boolean;
  error?: string;
  /** Mount options of the storage mount, when mounted. */
  mounted: boolean;
  mountOptions?: string;
  /** UUID of the BTRFS array on the storage device (blkid); undefined: no filesystem. */
  arrayUuid?: string;
  /** `btrfs device stats`: sum of every error counter (0 when clean); undefined when not mounted. */
  deviceErrors?: number;
  /** Counter lines that are not zero. */
  errorCounters: string[];
  /** `dmesg | grep -i error` lines (at most 20). */
  kernelErrors: string[];
  /** /etc/fstab mounts the array by UUID. */
  fstabHasStorage: boolean;
  /** config.sh is present in the checkout. */
  configPresent: boolean;
  /** Users configured for the server (settings.users). */
  users: string[];
  /** The devices the array lives on (settings.storageDevices). */
  devices?: string[];
  /** Where the array is mounted (settings.storageMount, the runbook's path). */
  mount?: string;
  /** Array devices the kernel does not see (`btrfs filesystem show`: missing, or absent). */
  missingDevices?: string[];
}

/** `btrfs scrub status`. */
export interface TsScrubStatus {
  state: 'none' | 'running' | 'finished';
  corrected: number;
  uncorrectable: number;
  summary: string;
}

export interface TsBcacheDevice {
  name: string;
  /** `clean`, `dirty`, `no cache`, `inconsistent`. */
  state: string;
  cacheMode: string;
  writebackRunning: boolean;
}

/** The cache SSD as `bcache-super-show` sees it. */
export interface TsCacheDevice {
  device: string;
  /** `failed` (I/O error), `blank` (no bcache superblock), `bcache` (a cache set superblock). */
  state: 'failed' | 'blank' | 'bcache';
  csetUuid?: string;
  detail: string;
}

export interface TsContainer {
  name: string;
  state: string;
}

export interface TsSnapshot {
  id: string;
  shortId: string;
  time: string;
  paths: string[];
  tags: string[];
}

export interface TsRestoreResult extends EffectResult {
  filesRestored?: number;
  bytesRestored?: number;
  totalFiles?: number;
}

export interface TsVerifyResult {
  ok: boolean;
  checks: Array<{ name: string; ok: boolean; detail: string }>;
}

export interface TsBtrfsCheck {
  clean: boolean;
  findings: string;
}

/** What the host reports about one block device (lsblk, wipefs --json, findmnt, swapon, losetup). */
export interface TsDeviceFacts {
  path: string;
  exists: boolean;
  /** disk, part, loop... */
  type?: string;
  size?: number;
  serial?: string;
  wwn?: string;
  model?: string;
  /** A loop device's backing file. */
  backingFile?: string;
  /** Every signature on it (filesystems, bcache, partition tables). */
  signatures: Array<{ type: string; uuid?: string; label?: string }>;
  /** Where it, a partition of it, or the filesystem it is a member of is mounted. */
  mounts: string[];
  /** The OS mounts (/, /boot, ..., swap) on it or a partition of it. */
  os: string[];
  /** Set when the device exists but cannot be read (a failed disk). */
  readError?: string;
}

/** What a destructive device step is about to do. */
export type TsGuardPurpose = 'wipe-cache' | 'make-cache' | 'new-array' | 'repair';

/** The guard's findings for the devices of one destructive step. */
export interface TsDeviceCheck {
  purpose: TsGuardPurpose;
  /** Every device may be touched. */
  ok: boolean;
  devices: Array<{ path: string; ok: boolean; reasons: string[]; found: string; pin?: string }>;
  /** One line per device, for the gate's evidence. */
  summary: string;
}

/** One setup script of the plan (settings.setupScripts, with what Lifeboat knows of it). */
export interface TsSetupScript {
  name: string;
  /** `storage` creates the array; `validate` checks config.sh; `tests` is the final test run. */
  role?: 'storage' | 'validate' | 'tests';
  /** The questions it asks (from the repository's code at HEAD), in order. */
  prompts: string[];
  /** The questions the inventory answers (settings.setupAnswers). */
  answered: string[];
  /** Why it needs a person when it stops at a question (a browser login...). */
  human?: string;
  /** What Lifeboat checks after it ran by hand. */
  checks: string[];
  /** Present in the checkout's scripts/. */
  present: boolean;
}

export interface TsSetupPlan {
  repoDir: string;
  scripts: TsSetupScript[];
  /** Scripts in the checkout that settings.setupScripts does not name. */
  unlisted: string[];
}

/** One run of a setup script: completed, or stopped at a question nobody answered (then `command` is what a person runs). */
export interface TsSetupRun extends EffectResult {
  outcome: 'done' | 'prompt';
  /** The question it stopped at. */
  prompt?: string;
  /** The exact command to run on the host, in its directory. */
  command: string;
}

export interface TsCheckList {
  ok: boolean;
  checks: Array<{ name: string; ok: boolean; detail: string }>;
}

/** Whether the repository opens, with which password reference, and what was tried. */
export interface TsResticAccess {
  ok: boolean;
  /** The reference that worked. */
  source?: string;
  /** Every reference tried, with why it did not work. */
  tried: string[];
  snapshots?: number;
}

/** What one snapshot holds (restic ls / find): its paths by role, config.sh if any, the users with a home. */
export interface TsSnapshotContents {
  snapshot: string;
  paths: string[];
  /** Path in the snapshot of each backed-up directory, by its place under the mount (homes, docker-volumes, shared/tensorboard). */
  dirs: Record<string, string>;
  /** Path of config.sh in the snapshot, when it was backed up. */
  config?: string;
  users: string[];
}

/** config.sh rebuilt from config.sh.example with what is known; the rest left for a person. */
export interface TsConfigDraft extends EffectResult {
  draft: string;
  filled: Record<string, string>;
  /** Variables still at the example's values (passwords, tokens, domain). */
  left: string[];
}

/** The train-server activities a workflow may proxy. */
export interface TrainServerActivities {
  /** The array as the runbook's diagnosis reads it: devices, mount, `btrfs device stats` error counters, kernel errors, fstab, config, users. */
  tsStorageStatus(input: NodeRef): Promise<TsStorageStatus>;
  /** `btrfs scrub status <mount>`: running, finished, errors found. */
  tsScrubStatus(input: NodeRef): Promise<TsScrubStatus>;
  /** `btrfs scrub start <mount>`, once per step: a scrub already running, or started by this step, counts as done. */
  tsScrubStart(input: NodeRef & Effectful): Promise<EffectResult>;
  /** Every bcache backing device with its `state`, `cache_mode` and dirty data, from sysfs. */
  tsBcacheStatus(input: NodeRef): Promise<TsBcacheDevice[]>;
  /** The cache SSD (`settings.cacheDevice`): present, and the cache set it carries. */
  tsCacheDevice(input: NodeRef): Promise<TsCacheDevice>;
  /** `echo 1 > /sys/block/<device>/bcache/detach`; an already detached device counts as done. */
  tsBcacheDetach(input: NodeRef & Effectful & { device: string }): Promise<EffectResult>;
  /** `echo <cset uuid> > /sys/block/<device>/bcache/attach`; already attached to that set counts as done. */
  tsBcacheAttach(input: NodeRef & Effectful & { device: string; csetUuid: string }): Promise<EffectResult>;
  /** `echo <mode> > /sys/block/<device>/bcache/cache_mode`; the mode already set counts as done. */
  tsBcacheCacheMode(input: NodeRef & Effectful & { device: string; mode: 'writeback' | 'writethrough' }): Promise<EffectResult>;
  /** Re-enables writeback on a device whose cache came back (`writeback_running`). */
  tsBcacheResumeWriteback(input: NodeRef & Effectful & { device: string }): Promise<EffectResult>;
  /** `wipefs -a` on the new cache SSD (destructive: the workflow gates it). */
  tsWipeCacheDevice(input: NodeRef & Effectful & { arrayUuid?: string }): Promise<EffectResult>;
  /** `make-bcache -C` on the wiped SSD; answers the new cache set's UUID. */
  tsMakeCache(input: NodeRef & Effectful & { arrayUuid?: string }): Promise<EffectResult & { csetUuid?: string }>;
  /** Runs one of the repository's setup scripts (`./<script>`) in `settings.repoDir`. */
  tsRunSetupScript(input: NodeRef & Effectful & { script: string }): Promise<EffectResult>;
  /** Mounts the array at `settings.storageMount` (options such as `ro,degraded`); already mounted counts as done. */
  tsMountStorage(input: NodeRef & Effectful & { options?: string }): Promise<EffectResult>;
  /** Unmounts the array; not mounted counts as done. */
  tsUnmountStorage(input: NodeRef & Effectful): Promise<EffectResult>;
  /** Adds the array's fstab line (by UUID) when it is missing. */
  tsFstabStorage(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `restic snapshots --json` of the backup repository (password on stdin). */
  tsResticSnapshots(input: NodeRef & { passwordRef?: string }): Promise<TsSnapshot[]>;
  /** `restic restore <snapshot>` of a backed-up directory (`path` in the snapshot, into `to`; the homes by default) or of config.sh, with `--json` progress in heartbeats; once per step. */
  tsResticRestore(input: NodeRef & Effectful & { snapshot: string; what: 'homes' | 'config' | 'dir'; path?: string; to?: string; passwordRef?: string }): Promise<TsRestoreResult>;
  /** `chown -R <user>:<user>` of a restored home (a second run changes nothing). */
  tsChownHome(input: NodeRef & Effectful & { user: string }): Promise<EffectResult>;
  /** The stack's containers and their state. */
  tsContainers(input: NodeRef): Promise<TsContainer[]>;
  /** `./generate-compose.sh`, `docker compose build` or `up -d` in the repository's docker/; `up` with every container running counts as done. */
  tsCompose(input: NodeRef & Effectful & { action: 'generate' | 'build' | 'up' }): Promise<EffectResult>;
  /** The runbook's final verification: containers running, `nvidia-smi`, the storage mounted read-write, and the repository's test script. */
  tsVerify(input: NodeRef & { testsScript?: string }): Promise<TsVerifyResult>;
  /** `btrfs check --readonly`, or `--repair` (destructive: the workflow gates it), on the unmounted device. */
  tsBtrfsCheck(input: NodeRef & Effectful & { repair: boolean; arrayUuid?: string }): Promise<TsBtrfsCheck & EffectResult>;
  /** `rsync -a` from a read-only mount to a safe place (the runbook's copy-off before a repair). */
  tsRsync(input: NodeRef & Effectful & { from: string; to: string }): Promise<EffectResult>;
  /** `btrfs restore` of the files from a device that no longer mounts, into a target directory; older tree roots (btrfs-find-root) when the current one is unreadable. */
  tsBtrfsRestore(input: NodeRef & Effectful & { to: string }): Promise<EffectResult>;
  /** The guard's view of the devices a destructive step would touch (read-only; the gate's evidence). */
  tsCheckDevices(input: NodeRef & { purpose: TsGuardPurpose; arrayUuid?: string; oldArrayUuid?: string }): Promise<TsDeviceCheck>;
  /** The setup scripts to run (settings.setupScripts, HEAD's by default), what each asks and what the inventory answers. */
  tsSetupPlan(input: NodeRef): Promise<TsSetupPlan>;
  /** Runs one setup script with the inventory's answers; a question nobody answered ends it as `prompt`, with the command a person runs. */
  tsSetupScript(input: NodeRef & Effectful & { script: string; confirmDestroy?: boolean; oldArrayUuid?: string }): Promise<TsSetupRun>;
  /** Checks what a setup script leaves behind (after a person ran it). */
  tsSetupVerify(input: NodeRef & { script: string }): Promise<TsCheckList>;
  /** Opens the repository with the first password reference that works (the operator's, then settings.resticPassword's). */
  tsResticAccess(input: NodeRef & { passwordRef?: string }): Promise<TsResticAccess>;
  /** What a snapshot holds: its paths by role, config.sh if backed up, the users (restic snapshots / find / ls). */
  tsResticContents(input: NodeRef & { snapshot: string; passwordRef?: string }): Promise<TsSnapshotContents>;
  /** Writes config.sh.lifeboat-draft: config.sh.example with what is known filled in. */
  tsConfigDraft(input: NodeRef & Effectful): Promise<TsConfigDraft>;
  /** config.sh present, parses, names the mount point and users, and has its restic password set. */
  tsConfigCheck(input: NodeRef): Promise<TsCheckList>;
}
