/**
 * The train server's host `train1` as the lab holds it: the runbook's paths
 * and users, the state both storage backends share (bcache sysfs, the cache
 * SSD, containers, owners), its device layout, and {@link TrainHost}, which
 * the other files of this folder act on.
 *
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { EffectLog } from '../effects';
import type { ShimResult } from '../family';
import type { TrainStorage } from './storage';

export const TRAIN_USERS = ['alice', 'bob', 'charlie', 'dave', 'eve'];
export const NODE = 'train1';
export const MOUNT = '/mnt/storage';
export const REPO_DIR = '/root/train-server';
/** Where the real 07/09-setup-backups.sh keep the repository password: on the OS disk. */
export const PASSWORD_FILE = '/root/.restic-password';
/** The filesystem label 01-setup-storage.sh gives the array (`mkfs.btrfs -L ml-storage`). */
export const LABEL = 'ml-storage';
/** The host's restic: a wrapper that tells the lab about restores, then execs the pinned restic. */
export const RESTIC_WRAPPER = '/usr/local/bin/restic';
/** The options the lab mounts the array with at start (01-setup-storage.sh at HEAD). */
export const SETUP_MOUNT_OPTS = 'compress=zstd:3,space_cache=v2,relatime';

/**
 * Where the array and cache live. The simulation: two HDDs behind bcache
 * (`/dev/bcache0`, `/dev/bcache1` carry the filesystem, as at HEAD with
 * bcache) and the cache partition `${NVME_DEVICE}p3` next to the OS on the
 * NVMe. The real backend: two loop devices carry the filesystem directly and
 * a third stands in for the cache partition.
 */
export interface DeviceLayout {
  /** The disks 01-setup-storage.sh wipes (HDD_DEVICES). */
  hdds: string[];
  /** The devices the BTRFS filesystem lives on. */
  fs: string[];
  /** The bcache cache partition on the SSD. */
  ssd: string;
  /** Identity pins for the inventory (`settings.deviceIds`): device → `serial:…` / `backing:…`. */
  ids: Record<string, string>;
}

export interface BcacheDev {
  name: string;
  backing: string;
  attached: boolean;
  dirty: boolean;
  mode: string;
  writebackRunning: boolean;
}

/** What both backends share: the cache (simulated), containers, users, kernel lines of the simulated parts. */
export interface State {
  ssd: 'ok' | 'failed' | 'new-stale-signature' | 'blank';
  csetUuid: string;
  bcache: BcacheDev[];
  owners: Record<string, string>;
  containers: Record<string, boolean>;
  built: boolean;
  /** Kernel lines of the simulated parts (bcache, nvme), shown by `dmesg` with the backend's own. */
  dmesg: string[];
}

/** A fresh host: the cache attached and clean, every container running. */
export function freshState(layout: DeviceLayout): State {
  return {
    ssd: 'ok',
    csetUuid: randomUUID(),
    bcache: layout.hdds.map((hdd, i) => ({ name: `bcache${i}`, backing: hdd, attached: true, dirty: false, mode: 'writeback', writebackRunning: true })),
    owners: Object.fromEntries(TRAIN_USERS.map((u) => [u, u])),
    containers: Object.fromEntries(TRAIN_USERS.map((u) => [`${u}-workspace`, true])),
    built: true,
    dmesg: [`[    2.311] bcache: bcache_device_init() bcache0: attached`],
  };
}

/** The lab's host: its root directory, shared state, storage backend and the restic repository it backs up to. */
export class TrainHost {
  password = randomBytes(18).toString('hex');
  /** The operator's copy of the restic password (outside the server: what a password manager holds). */
  passwordPath = '';
  repo = '';
  root = '';
  effects?: EffectLog;
  /** Last seen content of the polled files (sysfs writes, fstab). */
  seen = new Map<string, string>();
  /** Content of each backed-up file at start (what a complete restore must give back), by path under the root. */
  manifest = new Map<string, string>();
  snapshotIds: string[] = [];
  s!: State;
  storage!: TrainStorage;

  constructor(
    readonly cluster: string,
    readonly scrubMs: number,
    readonly homeBytes: number,
  ) {}

  /** The device layout of the backend (valid after the backend started). */
  get layout(): DeviceLayout {
    return this.storage.layout();
  }

  /** A runbook path (`/mnt/storage`) under the host root. */
  p(abs: string): string {
    return join(this.root, abs);
  }

  record(effect: string, detail?: Record<string, unknown>): void {
    this.effects?.record({ cluster: this.cluster, node: NODE, effect, ...(detail ? { detail } : {}) });
  }

  /** Host path of a runbook path: already under the root, else absolute under it, else relative to cwd. */
  hostPath(x: string, cwd: string): string {
    if (x === this.root || x.startsWith(this.root + '/')) return x.replace(/\/+$/, '') || x;
    if (isAbsolute(x)) return join(this.root, x).replace(/\/+$/, '');
    return resolve(cwd, x);
  }

  /** A polled file's content when it changed since last seen (and remembers it); undefined otherwise. */
  changed(path: string): string | undefined {
    if (!existsSync(path)) return undefined;
    const now = readFileSync(path, 'utf8');
    if (now === this.seen.get(path)) return undefined;
    this.seen.set(path, now);
    return now;
  }
}

/** A shim's answers: success with its output, or a failure with its message and exit code. */
export function ok(stdout: string): ShimResult {
  return { stdout, exitCode: 0 };
}
export function err(stderr: string, exitCode: number): ShimResult {
  return { stdout: '', stderr: stderr.endsWith('\n') ? stderr : stderr + '\n', exitCode };
}

/** A host path as the host sees it (`/mnt/storage/...`), for effects and messages. */
export function relFrom(root: string, p: string): string {
  return '/' + relative(root, p);
}

/** Every file under a directory (none when it is missing). */
export function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}
