/**
 * What the train-server family needs from whatever holds its storage: the
 * simulation (./sim) or real BTRFS on loop devices (./real). The family's
 * shims, faults and health speak only this interface, so the same host,
 * scripts and recoveries run on both.
 *
 * @module
 */
import type { ShimResult } from '../family';
import type { DeviceLayout } from './host';

export type TrainBackendKind = 'sim' | 'real';

/** The storage tools a backend answers (the family shims them on the host). */
export const STORAGE_TOOLS = ['btrfs', 'mount', 'umount', 'blkid', 'mkfs.btrfs', 'wipefs', 'lsblk', 'findmnt', 'swapon', 'losetup'] as const;

/** Storage faults a backend makes (the family adds the OS, cache and container side). */
export type StorageFault =
  | 'os-disk' // the array intact, unmounted (the new OS has not mounted it)
  | 'wiped' // every array disk blank
  | 'power-outage' // blocks of three home files overwritten on one mirror; one of them read since (found and repaired from the mirror)
  | 'corrupt-root' // the current tree root damaged on both mirrors: no normal mount; usebackuproot mounts
  | 'corrupt-roots' // the tree root and every backup root damaged: nothing mounts; btrfs restore with an older root reads it
  | 'corrupt-repairable' // (simulation only) damage `btrfs check --repair` fixes
  | 'degraded' // one array disk detached: only a degraded mount works
  | 'reattach' // the detached disk is back
  | 'ssd-failed' // the cache partition gone (I/O errors)
  | 'ssd-swapped'; // a new SSD with a stale signature (an old partition table) in its place

export interface TrainStorage {
  readonly kind: TrainBackendKind;
  /** Before anything: refuse clearly when this machine cannot run the backend; clean what a crashed lab left. */
  prepare(): Promise<void>;
  /** A fresh array on the disks, mounted at the host's `/mnt/storage` (lab start). */
  create(): Promise<void>;
  layout(): DeviceLayout;
  /** Mount options of the array on the host's `/mnt/storage`; null when it is not mounted there. */
  mountOptions(): string | null;
  /** UUID of the filesystem on the array's first device; null when there is none. */
  arrayUuid(): string | null;
  /** A storage tool's invocation ({@link STORAGE_TOOLS}, `dmesg`). */
  shim(tool: string, argv: string[], cwd: string): Promise<ShimResult>;
  /** Kernel log lines of the storage since the lab started. */
  dmesg(): string[];
  /** The storage part of a fault. */
  breakFault(fault: StorageFault): Promise<void>;
  /** Whether the cache partition can be read, and what signatures it carries (for bcache-super-show, make-bcache -C). */
  ssdSignatures(): string[] | 'io-error';
  /** A read-only snapshot of the mounted array under `<mount>/snapshots/<name>` (what 09-setup-backups.sh backs up from at HEAD); returns its host path. */
  snapshot(name: string): Promise<string>;
  deleteSnapshot(path: string): Promise<void>;
  /** Storage problems for the lab's health (empty: healthy). */
  problems(): string[];
  /** Unmount and detach everything this backend made; idempotent. */
  stop(): Promise<void>;
}

/** Reads `-o value` style options out of an argv: the value after `flag`. */
export function optionValue(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** Operands of an argv: words that are neither options nor the value of one of `valued`. */
export function operands(argv: string[], valued: string[] = ['-o', '-t', '-s', '-L', '-d', '-m', '-O', '-S', '-T', '-u', '-r']): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (valued.includes(a)) {
      i += 1;
      continue;
    }
    if (!a.startsWith('-')) out.push(a);
  }
  return out;
}
