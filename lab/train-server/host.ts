/**
 * The train server's host `train1` as the simulation holds it: the runbook's
 * devices, paths and users, the simulated storage and container state, and
 * {@link TrainHost}, which the other files of this folder act on.
 *
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { EffectLog } from '../effects';
import type { ShimResult } from '../family';

export const TRAIN_USERS = ['alice', 'bob', 'charlie', 'dave', 'eve'];
export const NODE = 'train1';
export const DISKS = ['/dev/sdb', '/dev/sdc', '/dev/sdd'];
export const SSD = '/dev/nvme0n1p2';
export const MOUNT = '/mnt/storage';
export const REPO_DIR = '/root/train-server';
const BCACHE = ['bcache0', 'bcache1'];
/** The host's restic: a wrapper that tells the lab about restores, then execs the pinned restic. */
export const RESTIC_WRAPPER = '/usr/local/bin/restic';

export type Corruption = 'none' | 'moderate' | 'severe';

export interface BcacheDev {
  name: string;
  backing: string;
  attached: boolean;
  dirty: boolean;
  mode: string;
  writebackRunning: boolean;
}

export interface State {
  arrayUuid: string | null;
  mounted: { options: string } | null;
  /** Power loss left unscrubbed damage (device stats count corruption errors until a scrub). */
  dirty: boolean;
  corruption: Corruption;
  scrub: { startedAt: number; corrected: number; finishedAt?: number } | null;
  ssd: 'ok' | 'failed' | 'new-stale-signature' | 'blank';
  csetUuid: string;
  bcache: BcacheDev[];
  owners: Record<string, string>;
  containers: Record<string, boolean>;
  built: boolean;
  dmesg: string[];
}

/** A fresh host: the array mounted, the cache attached and clean, every container running. */
export function freshState(): State {
  return {
    arrayUuid: randomUUID(),
    mounted: { options: 'rw,noatime,compress=zstd:3' },
    dirty: false,
    corruption: 'none',
    scrub: null,
    ssd: 'ok',
    csetUuid: randomUUID(),
    bcache: BCACHE.map((name, i) => ({ name, backing: DISKS[i]!, attached: true, dirty: false, mode: 'writeback', writebackRunning: true })),
    owners: Object.fromEntries(TRAIN_USERS.map((u) => [u, u])),
    containers: Object.fromEntries(TRAIN_USERS.map((u) => [`${u}-workspace`, true])),
    built: true,
    dmesg: ['[    1.204] BTRFS: device fsid ... devid 1 transid 4242 /dev/sdb', '[    2.311] bcache: bcache_device_init() bcache0: attached'],
  };
}

/** The simulated host: its root directory, its state, and the restic repository it backs up to. */
export class TrainHost {
  password = randomBytes(18).toString('hex');
  passwordPath = '';
  repo = '';
  root = '';
  effects?: EffectLog;
  /** Last seen content of the polled files (sysfs writes, fstab). */
  seen = new Map<string, string>();
  /** sha of each restored home file at start (what a complete restore must give back). */
  manifest = new Map<string, string>();
  snapshotIds: string[] = [];
  s: State = freshState();

  constructor(
    readonly cluster: string,
    readonly scrubMs: number,
    readonly homeBytes: number,
  ) {}

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
