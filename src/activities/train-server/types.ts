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
  tsWipeCacheDevice(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `make-bcache -C` on the wiped SSD; answers the new cache set's UUID. */
  tsMakeCache(input: NodeRef & Effectful): Promise<EffectResult & { csetUuid?: string }>;
  /** Runs one of the repository's setup scripts (`./<script>`) in `settings.repoDir`. */
  tsRunSetupScript(input: NodeRef & Effectful & { script: string }): Promise<EffectResult>;
  /** Mounts the array at `settings.storageMount` (options such as `ro,degraded`); already mounted counts as done. */
  tsMountStorage(input: NodeRef & Effectful & { options?: string }): Promise<EffectResult>;
  /** Unmounts the array; not mounted counts as done. */
  tsUnmountStorage(input: NodeRef & Effectful): Promise<EffectResult>;
  /** Adds the array's fstab line (by UUID) when it is missing. */
  tsFstabStorage(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `restic snapshots --json` of the backup repository (password on stdin). */
  tsResticSnapshots(input: NodeRef): Promise<TsSnapshot[]>;
  /** `restic restore <snapshot>` of the homes or the configuration, with `--json` progress in heartbeats; once per step. */
  tsResticRestore(input: NodeRef & Effectful & { snapshot: string; what: 'homes' | 'config' }): Promise<TsRestoreResult>;
  /** `chown -R <user>:<user>` of a restored home (a second run changes nothing). */
  tsChownHome(input: NodeRef & Effectful & { user: string }): Promise<EffectResult>;
  /** The stack's containers and their state. */
  tsContainers(input: NodeRef): Promise<TsContainer[]>;
  /** `./generate-compose.sh`, `docker compose build` or `up -d` in the repository's docker/; `up` with every container running counts as done. */
  tsCompose(input: NodeRef & Effectful & { action: 'generate' | 'build' | 'up' }): Promise<EffectResult>;
  /** The runbook's final verification: containers running, `nvidia-smi`, the storage mounted read-write, and the repository's test script. */
  tsVerify(input: NodeRef): Promise<TsVerifyResult>;
  /** `btrfs check --readonly`, or `--repair` (destructive: the workflow gates it), on the unmounted device. */
  tsBtrfsCheck(input: NodeRef & Effectful & { repair: boolean }): Promise<TsBtrfsCheck & EffectResult>;
  /** `rsync -a` from a read-only mount to a safe place (the runbook's copy-off before a repair). */
  tsRsync(input: NodeRef & Effectful & { from: string; to: string }): Promise<EffectResult>;
  /** `btrfs restore` of the files from a device that no longer mounts, into a target directory. */
  tsBtrfsRestore(input: NodeRef & Effectful & { to: string }): Promise<EffectResult>;
}
