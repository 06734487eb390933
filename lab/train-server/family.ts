/**
 * The train-server family as the lab core sees it ({@link LabFamily}): one
 * host `train1`, started with its storage (simulated, or real BTRFS on loop
 * devices), OS checkout, homes, sysfs, fstab and restic repository;
 * endpoints, inventory settings, the 50 ms poll, health, and the shim and
 * fault entry points.
 *
 * @module
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { resticPath } from '../../src/tools';
import type { EffectLog } from '../effects';
import type { ClusterHealth, LabFamily, LabNodeEndpoint, NodeHealth, ShimCall, ShimResult } from '../family';
import { bcacheState, pollSysfs, writeSysfs } from './bcache';
import { shim, TRAIN_TOOLS } from './commands';
import { breakFault, TRAIN_SERVER_FAULTS } from './faults';
import { pollFstab, writeFstab } from './fstab';
import { freshState, MOUNT, NODE, PASSWORD_FILE, REPO_DIR, RESTIC_WRAPPER, TRAIN_USERS, TrainHost } from './host';
import { RealStorage } from './real';
import { fileProblems, makeBackups, rememberFiles } from './restic';
import { installOs, LAB_SETUP_ANSWERS, writeHomes } from './setup';
import { SimStorage } from './sim';
import type { TrainBackendKind } from './storage';

export interface TrainServerOptions {
  cluster?: string;
  /** Where the operator's copy of the restic password is written (a `file:` reference for the gate that asks for it). */
  secretsDir: string;
  /** `sim` (default): the simulated storage; `real`: BTRFS on loop devices (root, btrfs-progs). */
  backend?: TrainBackendKind;
  /** How long a simulated scrub runs; default 1500 ms. */
  scrubMs?: number;
  /** Bytes of random data per user home (the restore's size); default 256 KiB. */
  homeBytes?: number;
}

/** The ML train server (seed 004) of the lab. */
export class TrainServerFamily implements LabFamily {
  readonly system = 'train-server';
  readonly cluster: string;
  readonly nodeNames = [NODE];
  readonly tools = [...TRAIN_TOOLS];
  readonly faults = [...TRAIN_SERVER_FAULTS];
  readonly backendKind: TrainBackendKind;

  private readonly secretsDir: string;
  private tick?: NodeJS.Timeout;
  /** The host's state and files (./host), which the shims, polls and faults act on. */
  private readonly host: TrainHost;

  constructor(opts: TrainServerOptions) {
    this.cluster = opts.cluster ?? 'lab-train';
    this.secretsDir = opts.secretsDir;
    this.backendKind = opts.backend ?? 'sim';
    this.host = new TrainHost(this.cluster, opts.scrubMs ?? 1500, opts.homeBytes ?? 256 * 1024);
    this.host.storage = this.backendKind === 'real' ? new RealStorage(this.host) : new SimStorage(this.host);
  }

  /** The restic repository, the operator's copy of its password, and the snapshots taken at start (tests use them). */
  resticRepo(): { repository: string; passwordFile: string; snapshots: string[] } {
    return { repository: this.host.repo, passwordFile: this.host.passwordPath, snapshots: [...this.host.snapshotIds] };
  }

  /** The host's devices (tests aim guards at them). */
  devices(): { hdds: string[]; fs: string[]; ssd: string } {
    const l = this.host.layout;
    return { hdds: [...l.hdds], fs: [...l.fs], ssd: l.ssd };
  }

  async start(ctx: { hostRoot(node: string): string; effects: EffectLog }): Promise<void> {
    this.host.effects = ctx.effects;
    this.host.root = resolve(ctx.hostRoot(NODE));
    this.host.repo = resolve(this.host.root, '..', '..', '..', 'restic', 'ml-train-server');
    await this.host.storage.prepare();
    mkdirSync(this.secretsDir, { recursive: true, mode: 0o700 });
    this.host.passwordPath = join(this.secretsDir, `${this.cluster}-restic-password`);
    // A restarted lab keeps its repository (lab dir reused): keep its password too.
    if (existsSync(this.host.passwordPath) && existsSync(join(this.host.repo, 'config'))) this.host.password = readFileSync(this.host.passwordPath, 'utf8').trim();
    else rmSync(this.host.repo, { recursive: true, force: true });
    writeFileSync(this.host.passwordPath, this.host.password + '\n', { mode: 0o600 });
    chmodSync(this.host.passwordPath, 0o600);
    await this.host.storage.create();
    this.host.s = freshState(this.host.layout);
    installOs(this.host, true);
    // The password where 09-setup-backups.sh writes it: on the OS disk.
    mkdirSync(dirname(this.host.p(PASSWORD_FILE)), { recursive: true });
    writeFileSync(this.host.p(PASSWORD_FILE), this.host.password + '\n', { mode: 0o600 });
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
    writeFstab(this.host, this.host.storage.arrayUuid());
    await makeBackups(this.host);
    rememberFiles(this.host);
    // For tests: what a restore or a rescue must give back (paths under the mount, sha256).
    writeFileSync(join(dirname(this.secretsDir), `${this.cluster}-manifest.json`), JSON.stringify(Object.fromEntries(this.host.manifest), null, 1) + '\n');
    this.tick = setInterval(() => this.onTick(), 50);
    this.tick.unref();
  }

  async stop(): Promise<void> {
    if (this.tick) clearInterval(this.tick);
    await this.host.storage.stop();
  }

  endpoints(): LabNodeEndpoint[] {
    return [{ name: NODE, roles: ['train-server', 'gpu'] }];
  }

  hostWorkdir(): string {
    return '';
  }

  settings(): Record<string, string | number | boolean> {
    const l = this.host.layout;
    return {
      root: this.host.root,
      storageMount: MOUNT,
      storageDevice: l.fs[0]!,
      storageDevices: l.fs.join(','),
      hddDevices: l.hdds.join(','),
      cacheDevice: l.ssd,
      deviceIds: Object.entries(l.ids).map(([d, id]) => `${d}=${id}`).join(','),
      repoDir: REPO_DIR,
      users: TRAIN_USERS.join(','),
      setupAnswers: JSON.stringify(LAB_SETUP_ANSWERS),
      resticBinary: RESTIC_WRAPPER,
      resticRepository: this.host.repo,
      // Where the server's setup keeps it: on the OS disk (gone after an OS disk or total loss).
      resticPassword: `host:${PASSWORD_FILE}`,
    };
  }

  // -------------------------------------------------------------- poll ----

  private onTick(): void {
    try {
      pollSysfs(this.host);
      pollFstab(this.host);
    } catch {
      /* a half-written file: next tick */
    }
  }

  async breakFault(fault: string): Promise<void> {
    return breakFault(this.host, fault);
  }

  async health(): Promise<ClusterHealth> {
    const problems: string[] = [...this.host.storage.problems()];
    if (this.host.s.ssd !== 'ok') problems.push(`cache SSD ${this.host.s.ssd}`);
    for (const b of this.host.s.bcache) {
      const st = bcacheState(this.host, b);
      if (st !== 'clean') problems.push(`${b.name} ${st}`);
      if (b.mode !== 'writeback') problems.push(`${b.name} cache mode ${b.mode}`);
    }
    const uuid = this.host.storage.arrayUuid();
    const fstab = existsSync(this.host.p('/etc/fstab')) ? readFileSync(this.host.p('/etc/fstab'), 'utf8') : '';
    if (uuid && !fstab.includes(`UUID=${uuid} ${MOUNT}`)) problems.push('storage missing from /etc/fstab');
    if (!existsSync(this.host.p(`${REPO_DIR}/config.sh`))) problems.push('config.sh missing');
    if (this.host.storage.mountOptions() !== null) {
      const files = fileProblems(this.host);
      if (files.length) problems.push(`${files.length} backed-up file(s) missing or different (${files.slice(0, 3).join(', ')})`);
    }
    const badOwners = TRAIN_USERS.filter((u) => this.host.s.owners[u] !== u);
    if (badOwners.length) problems.push(`homes not owned by their users: ${badOwners.join(', ')}`);
    const down = Object.entries(this.host.s.containers).filter(([, up]) => !up).map(([c]) => c);
    if (down.length) problems.push(`containers down: ${down.join(', ')}`);
    const node: NodeHealth = { node: NODE, state: problems.length ? 'degraded' : 'up', detail: problems.join('; ') || `storage (${this.backendKind}), cache, containers ok` };
    return { cluster: this.cluster, system: this.system, healthy: problems.length === 0, summary: problems.length ? problems.join('; ') : 'healthy', nodes: [node] };
  }

  async shim(call: ShimCall): Promise<ShimResult> {
    return shim(this.host, call);
  }
}
