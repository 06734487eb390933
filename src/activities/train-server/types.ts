/**
 * The train server (seed 004) activities, as types only (workflows import them with
 * `import type`). See {@link ./types} for the conventions.
 *
 * @module
 */
import type { EffectResult, Effectful, NodeRef } from './types';

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
  tsStorageStatus(input: NodeRef): Promise<TsStorageStatus>;
  tsScrubStatus(input: NodeRef): Promise<TsScrubStatus>;
  tsScrubStart(input: NodeRef & Effectful): Promise<EffectResult>;
  tsBcacheStatus(input: NodeRef): Promise<TsBcacheDevice[]>;
  tsCacheDevice(input: NodeRef): Promise<TsCacheDevice>;
  tsBcacheDetach(input: NodeRef & Effectful & { device: string }): Promise<EffectResult>;
  tsBcacheAttach(input: NodeRef & Effectful & { device: string; csetUuid: string }): Promise<EffectResult>;
  tsBcacheCacheMode(input: NodeRef & Effectful & { device: string; mode: 'writeback' | 'writethrough' }): Promise<EffectResult>;
  tsBcacheResumeWriteback(input: NodeRef & Effectful & { device: string }): Promise<EffectResult>;
  tsWipeCacheDevice(input: NodeRef & Effectful): Promise<EffectResult>;
  tsMakeCache(input: NodeRef & Effectful): Promise<EffectResult & { csetUuid?: string }>;
  tsRunSetupScript(input: NodeRef & Effectful & { script: string }): Promise<EffectResult>;
  tsMountStorage(input: NodeRef & Effectful & { options?: string }): Promise<EffectResult>;
  tsUnmountStorage(input: NodeRef & Effectful): Promise<EffectResult>;
  tsFstabStorage(input: NodeRef & Effectful): Promise<EffectResult>;
  tsResticSnapshots(input: NodeRef): Promise<TsSnapshot[]>;
  tsResticRestore(input: NodeRef & Effectful & { snapshot: string; what: 'homes' | 'config' }): Promise<TsRestoreResult>;
  tsChownHome(input: NodeRef & Effectful & { user: string }): Promise<EffectResult>;
  tsContainers(input: NodeRef): Promise<TsContainer[]>;
  tsCompose(input: NodeRef & Effectful & { action: 'generate' | 'build' | 'up' }): Promise<EffectResult>;
  tsVerify(input: NodeRef): Promise<TsVerifyResult>;
  tsBtrfsCheck(input: NodeRef & Effectful & { repair: boolean }): Promise<TsBtrfsCheck & EffectResult>;
  tsRsync(input: NodeRef & Effectful & { from: string; to: string }): Promise<EffectResult>;
  tsBtrfsRestore(input: NodeRef & Effectful & { to: string }): Promise<EffectResult>;
}
