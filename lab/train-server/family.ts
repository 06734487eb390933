/**
 * The train-server family as the lab core sees it ({@link LabFamily}): one
 * host `train1`, started with its OS, homes, sysfs, fstab and restic
 * repository; endpoints, inventory settings, the 50 ms poll, health, and the
 * shim and fault entry points.
 *
 * @module
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { resticPath } from '../../src/tools';
import type { EffectLog } from '../effects';
import type { ClusterHealth, LabFamily, LabNodeEndpoint, NodeHealth, ShimCall, ShimResult } from '../family';
import { bcacheState, pollSysfs, writeSysfs } from './bcache';
import { pollFstab, pollScrub, writeFstab } from './btrfs';
import { shim } from './commands';
import { breakFault, TRAIN_SERVER_FAULTS } from './faults';
import { DISKS, MOUNT, NODE, REPO_DIR, RESTIC_WRAPPER, SSD, TRAIN_USERS, TrainHost } from './host';
import { homeProblems, makeBackups, rememberFiles } from './restic';
import { installOs, writeHomes } from './setup';

export interface TrainServerOptions {
  cluster?: string;
  /** Where the restic password file is written (referenced as `file:`). */
  secretsDir: string;
  /** How long a scrub runs; default 1500 ms. */
  scrubMs?: number;
  /** Bytes of random data per user home (the restore's size); default 256 KiB. */
  homeBytes?: number;
}

/** The simulated ML train server (seed 004). */
export class TrainServerFamily implements LabFamily {
  readonly system = 'train-server';
  readonly cluster: string;
  readonly nodeNames = [NODE];
  readonly tools = [
    'btrfs',
    'mount',
    'umount',
    'blkid',
    'mkfs.btrfs',
    'wipefs',
    'make-bcache',
    'bcache-super-show',
    'docker',
    'nvidia-smi',
    'dmesg',
    'chown',
    'rsync',
    'lab-setup',
    'lab-restic-note',
  ];
  readonly faults = [...TRAIN_SERVER_FAULTS];

  private readonly secretsDir: string;
  private tick?: NodeJS.Timeout;
  /** The host's state and files (./host), which the shims, polls and faults act on. */
  private readonly host: TrainHost;

  constructor(opts: TrainServerOptions) {
    this.cluster = opts.cluster ?? 'lab-train';
    this.secretsDir = opts.secretsDir;
    this.host = new TrainHost(this.cluster, opts.scrubMs ?? 1500, opts.homeBytes ?? 256 * 1024);
  }

  /** The restic repository directory and password file (tests use them). */
  resticRepo(): { repository: string; passwordFile: string; snapshots: string[] } {
    return { repository: this.host.repo, passwordFile: this.host.passwordPath, snapshots: [...this.host.snapshotIds] };
  }

  async start(ctx: { hostRoot(node: string): string; effects: EffectLog }): Promise<void> {
    this.host.effects = ctx.effects;
    this.host.root = resolve(ctx.hostRoot(NODE));
    this.host.repo = resolve(this.host.root, '..', '..', '..', 'restic', 'ml-train-server');
    mkdirSync(this.secretsDir, { recursive: true, mode: 0o700 });
    this.host.passwordPath = join(this.secretsDir, `${this.cluster}-restic-password`);
    // A restarted lab keeps its repository (lab dir reused): keep its password too.
    if (existsSync(this.host.passwordPath) && existsSync(join(this.host.repo, 'config'))) this.host.password = readFileSync(this.host.passwordPath, 'utf8').trim();
    else rmSync(this.host.repo, { recursive: true, force: true });
    writeFileSync(this.host.passwordPath, this.host.password + '\n', { mode: 0o600 });
    chmodSync(this.host.passwordPath, 0o600);
    installOs(this.host, true);
    const wrapper = this.host.p(RESTIC_WRAPPER);
    mkdirSync(dirname(wrapper), { recursive: true });
    // Records a restore when it starts and again when restic exits 0 (stdin, the password, goes to restic).
    writeFileSync(
      wrapper,
      `#!/bin/sh\n# Lifeboat lab: restic on train1 (the lab records restores: started, and completed)\nlab-restic-note "$@" </dev/null\n'${resticPath()}' "$@"\nrc=$?\nif [ "$rc" -eq 0 ]; then lab-restic-note --completed "$@" </dev/null; fi\nexit "$rc"\n`,
      { mode: 0o755 },
    );
    writeHomes(this.host);
    writeSysfs(this.host);
    writeFstab(this.host, true);
    await makeBackups(this.host);
    rememberFiles(this.host);
    this.tick = setInterval(() => this.onTick(), 50);
    this.tick.unref();
  }

  async stop(): Promise<void> {
    if (this.tick) clearInterval(this.tick);
  }

  endpoints(): LabNodeEndpoint[] {
    return [{ name: NODE, roles: ['train-server', 'gpu'] }];
  }

  hostWorkdir(): string {
    return '';
  }

  settings(): Record<string, string | number | boolean> {
    return {
      root: this.host.root,
      storageMount: MOUNT,
      storageDevice: DISKS[0]!,
      storageDevices: DISKS.join(','),
      cacheDevice: SSD,
      repoDir: REPO_DIR,
      users: TRAIN_USERS.join(','),
      resticBinary: RESTIC_WRAPPER,
      resticRepository: this.host.repo,
      resticPassword: `file:${this.host.passwordPath}`,
    };
  }

  // -------------------------------------------------------------- poll ----

  private onTick(): void {
    try {
      pollSysfs(this.host);
      pollFstab(this.host);
      pollScrub(this.host);
    } catch {
      /* a half-written file: next tick */
    }
  }

  async breakFault(fault: string): Promise<void> {
    return breakFault(this.host, fault);
  }

  async health(): Promise<ClusterHealth> {
    const problems: string[] = [];
    if (!this.host.s.arrayUuid) problems.push('no btrfs array');
    if (this.host.s.corruption !== 'none') problems.push(`btrfs corruption (${this.host.s.corruption})`);
    if (!this.host.s.mounted) problems.push(`${MOUNT} not mounted`);
    else if (this.host.s.mounted.options.split(',').includes('ro')) problems.push(`${MOUNT} mounted read-only`);
    if (this.host.s.dirty) problems.push('filesystem dirty: scrub needed');
    if (this.host.s.ssd !== 'ok') problems.push(`cache SSD ${this.host.s.ssd}`);
    for (const b of this.host.s.bcache) {
      const st = bcacheState(this.host, b);
      if (st !== 'clean') problems.push(`${b.name} ${st}`);
      if (b.mode !== 'writeback') problems.push(`${b.name} cache mode ${b.mode}`);
    }
    const fstab = existsSync(this.host.p('/etc/fstab')) ? readFileSync(this.host.p('/etc/fstab'), 'utf8') : '';
    if (this.host.s.arrayUuid && !fstab.includes(`UUID=${this.host.s.arrayUuid} ${MOUNT}`)) problems.push('storage missing from /etc/fstab');
    if (!existsSync(this.host.p(`${REPO_DIR}/config.sh`))) problems.push('config.sh missing');
    const files = homeProblems(this.host);
    if (files.length) problems.push(`${files.length} backed-up file(s) missing or different (${files.slice(0, 3).join(', ')})`);
    const badOwners = TRAIN_USERS.filter((u) => this.host.s.owners[u] !== u);
    if (badOwners.length) problems.push(`homes not owned by their users: ${badOwners.join(', ')}`);
    const down = Object.entries(this.host.s.containers).filter(([, up]) => !up).map(([c]) => c);
    if (down.length) problems.push(`containers down: ${down.join(', ')}`);
    const node: NodeHealth = { node: NODE, state: problems.length ? 'degraded' : 'up', detail: problems.join('; ') || 'storage, cache, containers ok' };
    return { cluster: this.cluster, system: this.system, healthy: problems.length === 0, summary: problems.length ? problems.join('; ') : 'healthy', nodes: [node] };
  }

  async shim(call: ShimCall): Promise<ShimResult> {
    return shim(this.host, call);
  }
}
