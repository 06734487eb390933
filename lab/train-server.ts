/**
 * The simulated ML train server (seed 004): one host `train1` with BTRFS on
 * HDDs (`/dev/sdb`, `/dev/sdc`, `/dev/sdd`), a bcache cache on an SSD
 * (`/dev/nvme0n1p2`), docker compose, GPUs, and a real restic repository.
 *
 * What is real: files under the host root — user homes
 * (`mnt/storage/homes/<user>/...`), workspaces, `etc/fstab`, the checkout
 * `root/train-server/` (config.sh, `scripts/0X-*.sh`, `docker/`), and the
 * bcache sysfs files `sys/block/bcache<N>/bcache/{state,cache_mode,attach,detach,writeback_running}`
 * (a shell write such as `echo 1 > .../detach` or `... | tee .../attach` is
 * picked up by a 50 ms poll, as the kernel would) — and the restic
 * repository, created at lab start with the restic binary and holding real
 * snapshots of the homes and config.sh; its password is a secret file.
 *
 * What is simulated (shims acting on this module's state): `btrfs`
 * (device stats, scrub start/status, check --readonly/--repair, restore,
 * filesystem show), `mount`/`umount`/`blkid`, `mkfs.btrfs`, `wipefs`,
 * `make-bcache`, `bcache-super-show`, `docker` (compose ps/build/up -d, ps),
 * `nvidia-smi`, `dmesg`, `chown`, `rsync` (copies for real), and `lab-setup`
 * (what every setup script calls to record its run).
 *
 * Paths: the host is a directory, not a chroot, so the inventory's cluster
 * setting `root` holds the host root; activities prepend it to every runbook
 * path (`/mnt/storage` is `<root>/mnt/storage`). Shims accept both forms.
 *
 * Effects: btrfs.scrub-started, btrfs.repair, btrfs.restore, mount, umount,
 * btrfs.created (mkfs), fstab.appended, bcache.detached, bcache.attached,
 * bcache.cache-mode, bcache.writeback-resumed, ssd.wiped, bcache.cache-created,
 * restic.restore (a restore started: the host's restic wrapper reports it
 * before restic runs), restic.restored (that restore completed: restic exited
 * 0), chown, docker.build, docker.up, setup-script.run, rsync.
 *
 * Faults: train-server.os-disk, train-server.total-data-loss,
 * train-server.cache-ssd, train-server.power-outage,
 * train-server.btrfs-corruption; and `train-server.swap-ssd`, the
 * technician's hands: puts a new SSD (with a stale signature) in place of
 * the failed one.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { resticPath } from '../src/tools';
import type { EffectLog } from './effects';
import type { ClusterHealth, LabFamily, LabNodeEndpoint, NodeHealth, ShimCall, ShimResult } from './family';
import { passthrough } from './shims';

export interface TrainServerOptions {
  cluster?: string;
  /** Where the restic password file is written (referenced as `file:`). */
  secretsDir: string;
  /** How long a scrub runs; default 1500 ms. */
  scrubMs?: number;
  /** Bytes of random data per user home (the restore's size); default 256 KiB. */
  homeBytes?: number;
}

export const TRAIN_USERS = ['alice', 'bob', 'charlie', 'dave', 'eve'];
const NODE = 'train1';
const DISKS = ['/dev/sdb', '/dev/sdc', '/dev/sdd'];
const SSD = '/dev/nvme0n1p2';
const MOUNT = '/mnt/storage';
const REPO_DIR = '/root/train-server';
const BCACHE = ['bcache0', 'bcache1'];
const SCRIPTS = [
  '01-setup-storage',
  '01b-setup-gdrive-shared',
  '02-setup-users',
  '03-setup-docker',
  '04-setup-cloudflare-tunnel',
  '05-setup-firewall',
  '06-setup-monitoring',
  '07-setup-backups',
  '08-setup-data-pipeline',
  '09-run-tests',
];
const MOUNT_OPTS = 'defaults,noatime,compress=zstd:3';
/** The host's restic: a wrapper that tells the lab about restores, then execs the pinned restic. */
const RESTIC_WRAPPER = '/usr/local/bin/restic';

type Corruption = 'none' | 'moderate' | 'severe';

interface BcacheDev {
  name: string;
  backing: string;
  attached: boolean;
  dirty: boolean;
  mode: string;
  writebackRunning: boolean;
}

interface State {
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
  readonly faults = [
    'train-server.os-disk',
    'train-server.total-data-loss',
    'train-server.cache-ssd',
    'train-server.power-outage',
    'train-server.btrfs-corruption',
    'train-server.swap-ssd',
  ];

  private readonly secretsDir: string;
  private readonly scrubMs: number;
  private readonly homeBytes: number;
  private password = randomBytes(18).toString('hex');
  private passwordPath = '';
  private repo = '';
  private root = '';
  private effects?: EffectLog;
  private tick?: NodeJS.Timeout;
  /** Last seen content of the polled files (sysfs writes, fstab). */
  private seen = new Map<string, string>();
  /** sha of each restored home file at start (what a complete restore must give back). */
  private manifest = new Map<string, string>();
  private snapshotIds: string[] = [];
  private s: State;

  constructor(opts: TrainServerOptions) {
    this.cluster = opts.cluster ?? 'lab-train';
    this.secretsDir = opts.secretsDir;
    this.scrubMs = opts.scrubMs ?? 1500;
    this.homeBytes = opts.homeBytes ?? 256 * 1024;
    this.s = this.freshState();
  }

  private freshState(): State {
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

  /** The restic repository directory and password file (tests use them). */
  resticRepo(): { repository: string; passwordFile: string; snapshots: string[] } {
    return { repository: this.repo, passwordFile: this.passwordPath, snapshots: [...this.snapshotIds] };
  }

  async start(ctx: { hostRoot(node: string): string; effects: EffectLog }): Promise<void> {
    this.effects = ctx.effects;
    this.root = resolve(ctx.hostRoot(NODE));
    this.repo = resolve(this.root, '..', '..', '..', 'restic', 'ml-train-server');
    mkdirSync(this.secretsDir, { recursive: true, mode: 0o700 });
    this.passwordPath = join(this.secretsDir, `${this.cluster}-restic-password`);
    // A restarted lab keeps its repository (lab dir reused): keep its password too.
    if (existsSync(this.passwordPath) && existsSync(join(this.repo, 'config'))) this.password = readFileSync(this.passwordPath, 'utf8').trim();
    else rmSync(this.repo, { recursive: true, force: true });
    writeFileSync(this.passwordPath, this.password + '\n', { mode: 0o600 });
    chmodSync(this.passwordPath, 0o600);
    this.installOs(true);
    const wrapper = this.p(RESTIC_WRAPPER);
    mkdirSync(dirname(wrapper), { recursive: true });
    // Records a restore when it starts and again when restic exits 0 (stdin, the password, goes to restic).
    writeFileSync(
      wrapper,
      `#!/bin/sh\n# Lifeboat lab: restic on train1 (the lab records restores: started, and completed)\nlab-restic-note "$@" </dev/null\n'${resticPath()}' "$@"\nrc=$?\nif [ "$rc" -eq 0 ]; then lab-restic-note --completed "$@" </dev/null; fi\nexit "$rc"\n`,
      { mode: 0o755 },
    );
    this.writeHomes();
    this.writeSysfs();
    this.writeFstab(true);
    await this.makeBackups();
    this.rememberFiles();
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
      root: this.root,
      storageMount: MOUNT,
      storageDevice: DISKS[0]!,
      storageDevices: DISKS.join(','),
      cacheDevice: SSD,
      repoDir: REPO_DIR,
      users: TRAIN_USERS.join(','),
      resticBinary: RESTIC_WRAPPER,
      resticRepository: this.repo,
      resticPassword: `file:${this.passwordPath}`,
    };
  }

  // ------------------------------------------------------------- setup ----

  private p(abs: string): string {
    return join(this.root, abs);
  }

  /** Writes the OS side: checkout, config.sh, scripts, docker dir, fstab. */
  private installOs(withConfig: boolean): void {
    const repo = this.p(REPO_DIR);
    mkdirSync(join(repo, 'scripts'), { recursive: true });
    mkdirSync(join(repo, 'docker'), { recursive: true });
    writeFileSync(join(repo, 'config.sh.example'), 'USERS="alice bob"\nSTORAGE_DEVICES="/dev/sdb /dev/sdc /dev/sdd"\n');
    if (withConfig) writeFileSync(join(repo, 'config.sh'), this.configText());
    for (const name of SCRIPTS) {
      writeFileSync(
        join(repo, 'scripts', `${name}.sh`),
        [
          '#!/bin/sh',
          `# ${name}: train-server setup (Lifeboat lab)`,
          'set -e',
          'here="$(cd "$(dirname "$0")/.." && pwd)"',
          '[ -f "$here/config.sh" ] || { echo "config.sh not found in $here: copy it from the backup or config.sh.example" >&2; exit 1; }',
          '. "$here/config.sh"',
          `exec lab-setup ${name} "$@"`,
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
    }
    writeFileSync(
      join(repo, 'docker', 'generate-compose.sh'),
      '#!/bin/sh\nset -e\ncd "$(dirname "$0")"\n. ../config.sh\n{ echo "services:"; for u in $USERS; do echo "  $u-workspace:"; echo "    build: ."; echo "    volumes: [\\"/mnt/storage/homes/$u:/home/$u\\"]"; done; } > docker-compose.yml\n',
      { mode: 0o755 },
    );
    writeFileSync(join(repo, 'docker', 'docker-compose.yml'), 'services: {}\n');
  }

  private configText(): string {
    return `# train-server configuration\nUSERS="${TRAIN_USERS.join(' ')}"\nSTORAGE_DEVICES="${DISKS.join(' ')}"\nCACHE_DEVICE="${SSD}"\nRESTIC_REPOSITORY="gdrive:backups/ml-train-server"\n`;
  }

  private writeHomes(): void {
    for (const u of TRAIN_USERS) {
      const home = this.p(`${MOUNT}/homes/${u}`);
      mkdirSync(join(home, 'projects'), { recursive: true });
      writeFileSync(join(home, '.bashrc'), `# ${u}'s shell\nexport PATH=$HOME/bin:$PATH\n`);
      writeFileSync(join(home, 'projects', 'train.py'), `print("training for ${u}")\n`);
      writeFileSync(join(home, 'projects', 'weights.bin'), randomBytes(this.homeBytes));
      const ws = this.p(`${MOUNT}/workspaces/${u}`);
      mkdirSync(ws, { recursive: true });
      writeFileSync(join(ws, 'dataset.tar'), randomBytes(1024));
    }
  }

  private writeSysfs(): void {
    for (const b of this.s.bcache) {
      const dir = this.p(`/sys/block/${b.name}/bcache`);
      mkdirSync(dir, { recursive: true });
      this.putSys(b, 'state', this.bcacheState(b));
      this.putSys(b, 'cache_mode', modeLine(b.mode));
      this.putSys(b, 'attach', '');
      this.putSys(b, 'detach', '');
      this.putSys(b, 'writeback_running', b.writebackRunning ? '1' : '0');
      writeFileSync(join(dir, 'backing_dev_name'), `${b.backing.replace('/dev/', '')}\n`);
    }
  }

  private putSys(b: BcacheDev, file: string, value: string): void {
    const path = this.p(`/sys/block/${b.name}/bcache/${file}`);
    const text = value === '' ? '' : `${value}\n`;
    writeFileSync(path, text);
    this.seen.set(path, text);
  }

  private bcacheState(b: BcacheDev): string {
    if (!b.attached) return 'no cache';
    if (this.s.ssd === 'failed') return 'inconsistent';
    return b.dirty ? 'dirty' : 'clean';
  }

  private fstabLine(): string {
    return `UUID=${this.s.arrayUuid} ${MOUNT} btrfs ${MOUNT_OPTS} 0 0`;
  }

  private writeFstab(withStorage: boolean): void {
    const path = this.p('/etc/fstab');
    mkdirSync(dirname(path), { recursive: true });
    const text = `# /etc/fstab\nUUID=${randomUUID()} / ext4 errors=remount-ro 0 1\n${withStorage ? this.fstabLine() + '\n' : ''}`;
    writeFileSync(path, text);
    this.seen.set(path, text);
  }

  private restic(args: string[], cwd?: string): string {
    return execFileSync(resticPath(), ['-r', this.repo, ...args], {
      env: { ...process.env, RESTIC_PASSWORD_FILE: this.passwordPath, RESTIC_CACHE_DIR: join(this.repo, '..', 'cache') },
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  private async makeBackups(): Promise<void> {
    if (!existsSync(join(this.repo, 'config'))) {
      mkdirSync(this.repo, { recursive: true });
      this.restic(['init']);
    }
    const config = this.p(`${REPO_DIR}/config.sh`);
    // Two nightly backups: an older one, then the latest (with one more file).
    const older = JSON.parse(this.restic(['backup', '--json', '--tag', 'nightly', '--host', NODE, this.p(`${MOUNT}/homes`), config]).trim().split('\n').at(-1)!) as { snapshot_id: string };
    writeFileSync(this.p(`${MOUNT}/homes/alice/projects/notes.md`), '# experiment notes\nlr=3e-4 works best\n');
    const latest = JSON.parse(this.restic(['backup', '--json', '--tag', 'nightly', '--host', NODE, this.p(`${MOUNT}/homes`), config]).trim().split('\n').at(-1)!) as { snapshot_id: string };
    this.snapshotIds = [older.snapshot_id, latest.snapshot_id];
  }

  private rememberFiles(): void {
    this.manifest.clear();
    for (const f of walk(this.p(`${MOUNT}/homes`))) this.manifest.set(relative(this.root, f), readFileSync(f).toString('base64'));
    this.manifest.set(relative(this.root, this.p(`${REPO_DIR}/config.sh`)), readFileSync(this.p(`${REPO_DIR}/config.sh`)).toString('base64'));
  }

  // -------------------------------------------------------------- poll ----

  private onTick(): void {
    try {
      this.pollSysfs();
      this.pollFstab();
      this.pollScrub();
    } catch {
      /* a half-written file: next tick */
    }
  }

  private changed(path: string): string | undefined {
    if (!existsSync(path)) return undefined;
    const now = readFileSync(path, 'utf8');
    if (now === this.seen.get(path)) return undefined;
    this.seen.set(path, now);
    return now;
  }

  private pollSysfs(): void {
    for (const b of this.s.bcache) {
      const base = `/sys/block/${b.name}/bcache`;
      const detach = this.changed(this.p(`${base}/detach`));
      if (detach !== undefined && detach.trim() === '1') {
        if (b.attached) {
          b.attached = false;
          b.dirty = false;
          this.record('bcache.detached', { device: b.name });
        }
        this.putSys(b, 'detach', '');
      }
      const attach = this.changed(this.p(`${base}/attach`));
      if (attach !== undefined && attach.trim() !== '') {
        const uuid = attach.trim();
        if (!b.attached && this.s.ssd === 'ok' && uuid === this.s.csetUuid) {
          b.attached = true;
          b.dirty = false;
          this.record('bcache.attached', { device: b.name, cset: uuid });
        }
        this.putSys(b, 'attach', '');
      }
      const mode = this.changed(this.p(`${base}/cache_mode`));
      if (mode !== undefined) {
        const want = mode.trim();
        if (['writethrough', 'writeback', 'writearound', 'none'].includes(want) && want !== b.mode) {
          b.mode = want;
          this.record('bcache.cache-mode', { device: b.name, mode: want });
        }
        this.putSys(b, 'cache_mode', modeLine(b.mode));
      }
      const wb = this.changed(this.p(`${base}/writeback_running`));
      if (wb !== undefined) {
        const on = wb.trim() === '1';
        if (on && !b.writebackRunning) {
          b.writebackRunning = true;
          this.record('bcache.writeback-resumed', { device: b.name });
        }
        if (on && b.dirty) b.dirty = false; // the dirty data is written back
        this.putSys(b, 'writeback_running', b.writebackRunning ? '1' : '0');
      }
      const state = this.bcacheState(b);
      const statePath = this.p(`${base}/state`);
      if (this.seen.get(statePath) !== `${state}\n`) this.putSys(b, 'state', state);
    }
  }

  private pollFstab(): void {
    const path = this.p('/etc/fstab');
    const before = (this.seen.get(path) ?? '').split('\n');
    const now = this.changed(path);
    if (now === undefined) return;
    for (const line of now.split('\n')) {
      if (line.trim() && !before.includes(line)) this.record('fstab.appended', { line });
    }
  }

  private pollScrub(): void {
    const sc = this.s.scrub;
    if (sc && sc.finishedAt === undefined && Date.now() - sc.startedAt >= this.scrubMs) {
      sc.finishedAt = Date.now();
      this.s.dirty = false;
    }
  }

  // ------------------------------------------------------------ faults ----

  async breakFault(fault: string): Promise<void> {
    switch (fault) {
      case 'train-server.os-disk':
        // The OS disk died and was replaced: a fresh OS, the repo cloned without config.sh,
        // nothing mounted, fstab without the array, no containers; the HDD array is intact.
        rmSync(this.p('/root'), { recursive: true, force: true });
        this.installOs(false);
        this.writeFstab(false);
        this.s.mounted = null;
        this.s.built = false;
        for (const c of Object.keys(this.s.containers)) this.s.containers[c] = false;
        this.s.dmesg.push('[    0.913] nvme nvme0: new OS disk; no btrfs filesystem mounted');
        return;
      case 'train-server.total-data-loss':
        // Every disk lost: new hardware and OS, blank HDDs, nothing of the homes left.
        rmSync(this.p('/root'), { recursive: true, force: true });
        rmSync(this.p(MOUNT), { recursive: true, force: true });
        mkdirSync(this.p(MOUNT), { recursive: true });
        this.installOs(false);
        this.writeFstab(false);
        this.s.arrayUuid = null;
        this.s.mounted = null;
        this.s.built = false;
        for (const u of TRAIN_USERS) this.s.owners[u] = 'missing';
        for (const c of Object.keys(this.s.containers)) this.s.containers[c] = false;
        return;
      case 'train-server.cache-ssd':
        this.s.ssd = 'failed';
        this.s.dmesg.push('[ 8123.554] nvme0n1: I/O error, dev nvme0n1, sector 2048 op 0x1:(WRITE)', '[ 8123.560] bcache: bch_cache_set_error() error on cache set: IO error, disabling caching');
        this.writeSysfs();
        return;
      case 'train-server.swap-ssd':
        if (this.s.ssd !== 'failed') throw new Error(`${this.cluster}: the SSD has not failed (state ${this.s.ssd})`);
        this.s.ssd = 'new-stale-signature';
        this.writeSysfs();
        return;
      case 'train-server.power-outage':
        this.s.dirty = true;
        this.s.scrub = null;
        for (const b of this.s.bcache) {
          b.dirty = true;
          b.writebackRunning = false;
        }
        for (const c of Object.keys(this.s.containers)) this.s.containers[c] = false;
        this.s.dmesg.push('[    3.402] BTRFS error (device sdb): parent transid verify failed on 30408704 wanted 4243 found 4241', '[    3.410] BTRFS info (device sdb): read error corrected: ino 257 off 0');
        this.writeSysfs();
        return;
      case 'train-server.btrfs-corruption':
        this.s.corruption = 'moderate';
        this.s.mounted = null;
        for (const c of Object.keys(this.s.containers)) this.s.containers[c] = false;
        this.s.dmesg.push('[   12.004] BTRFS error (device sdb): bad tree block start, want 30425088 have 0', '[   12.010] BTRFS error (device sdb): open_ctree failed');
        return;
      default:
        throw new Error(`${this.cluster} knows no fault "${fault}"; known: ${this.faults.join(', ')}`);
    }
  }

  // ------------------------------------------------------------ health ----

  /** Homes whose files differ from what was backed up (missing or changed). */
  private homeProblems(): string[] {
    const bad: string[] = [];
    for (const [rel, content] of this.manifest) {
      const f = join(this.root, rel);
      if (!existsSync(f) || readFileSync(f).toString('base64') !== content) bad.push(rel);
    }
    return bad;
  }

  async health(): Promise<ClusterHealth> {
    const problems: string[] = [];
    if (!this.s.arrayUuid) problems.push('no btrfs array');
    if (this.s.corruption !== 'none') problems.push(`btrfs corruption (${this.s.corruption})`);
    if (!this.s.mounted) problems.push(`${MOUNT} not mounted`);
    else if (this.s.mounted.options.split(',').includes('ro')) problems.push(`${MOUNT} mounted read-only`);
    if (this.s.dirty) problems.push('filesystem dirty: scrub needed');
    if (this.s.ssd !== 'ok') problems.push(`cache SSD ${this.s.ssd}`);
    for (const b of this.s.bcache) {
      const st = this.bcacheState(b);
      if (st !== 'clean') problems.push(`${b.name} ${st}`);
      if (b.mode !== 'writeback') problems.push(`${b.name} cache mode ${b.mode}`);
    }
    const fstab = existsSync(this.p('/etc/fstab')) ? readFileSync(this.p('/etc/fstab'), 'utf8') : '';
    if (this.s.arrayUuid && !fstab.includes(`UUID=${this.s.arrayUuid} ${MOUNT}`)) problems.push('storage missing from /etc/fstab');
    if (!existsSync(this.p(`${REPO_DIR}/config.sh`))) problems.push('config.sh missing');
    const files = this.homeProblems();
    if (files.length) problems.push(`${files.length} backed-up file(s) missing or different (${files.slice(0, 3).join(', ')})`);
    const badOwners = TRAIN_USERS.filter((u) => this.s.owners[u] !== u);
    if (badOwners.length) problems.push(`homes not owned by their users: ${badOwners.join(', ')}`);
    const down = Object.entries(this.s.containers).filter(([, up]) => !up).map(([c]) => c);
    if (down.length) problems.push(`containers down: ${down.join(', ')}`);
    const node: NodeHealth = { node: NODE, state: problems.length ? 'degraded' : 'up', detail: problems.join('; ') || 'storage, cache, containers ok' };
    return { cluster: this.cluster, system: this.system, healthy: problems.length === 0, summary: problems.length ? problems.join('; ') : 'healthy', nodes: [node] };
  }

  // ------------------------------------------------------------- shims ----

  async shim(call: ShimCall): Promise<ShimResult> {
    const a = call.argv;
    const path = (x: string): string => this.hostPath(x, call.cwd);
    switch (call.tool) {
      case 'btrfs':
        return this.btrfs(a, path);
      case 'mount':
        return this.mount(a, path);
      case 'umount': {
        const target = a.find((x) => !x.startsWith('-'));
        if (!target || (path(target) !== this.p(MOUNT) && !DISKS.includes(target))) return err(`umount: ${target ?? ''}: not mounted.`, 32);
        if (!this.s.mounted) return err(`umount: ${MOUNT}: not mounted.`, 32);
        this.s.mounted = null;
        this.record('umount', { target: MOUNT });
        return ok('');
      }
      case 'blkid': {
        const dev = a.find((x) => x.startsWith('/dev/'));
        if (!dev || !DISKS.includes(dev) || !this.s.arrayUuid) return { stdout: '', exitCode: 2 };
        if (a.includes('-o') && a[a.indexOf('-o') + 1] === 'value') return ok(`${this.s.arrayUuid}\n`);
        return ok(`${dev}: UUID="${this.s.arrayUuid}" UUID_SUB="${randomUUID()}" BLOCK_SIZE="4096" TYPE="btrfs"\n`);
      }
      case 'mkfs.btrfs': {
        const devs = a.filter((x) => x.startsWith('/dev/'));
        if (this.s.arrayUuid && !a.includes('-f')) return err(`ERROR: ${devs[0] ?? '/dev/sdb'} appears to contain an existing filesystem (btrfs); use -f to force`, 1);
        this.createArray(devs);
        return ok(`btrfs-progs v6.6.3\nLabel: (null)\nUUID: ${this.s.arrayUuid}\nDevices: ${devs.join(' ')}\n`);
      }
      case 'wipefs': {
        const dev = a.find((x) => x.startsWith('/dev/'));
        if (dev !== SSD) return err(`wipefs: lab refuses to wipe ${dev ?? '(nothing)'} (only ${SSD} is simulated)`, 1);
        if (this.s.ssd === 'failed') return err(`wipefs: error: ${SSD}: probing initialization failed: Input/output error`, 1);
        if (this.s.ssd === 'new-stale-signature') {
          this.s.ssd = 'blank';
          this.record('ssd.wiped', { device: SSD });
          return ok(`${SSD}: 16 bytes were erased at offset 0x00001018 (bcache): c6 85 73 f6 4e 1a 45 ca 82 65 f5 7f 48 ba 6d 81\n`);
        }
        return ok('');
      }
      case 'make-bcache': {
        const dev = a.find((x) => x.startsWith('/dev/'));
        if (!a.includes('-C') || dev !== SSD) return err(`make-bcache: only -C ${SSD} is simulated`, 1);
        if (this.s.ssd === 'failed') return err(`make-bcache: cannot open ${SSD}: Input/output error`, 1);
        if (this.s.ssd === 'new-stale-signature') return err(`Already a bcache device on ${SSD}, overwrite with --wipe-bcache`, 1);
        if (this.s.ssd === 'blank') {
          this.s.ssd = 'ok';
          this.s.csetUuid = randomUUID();
          this.record('bcache.cache-created', { device: SSD, cset: this.s.csetUuid });
          this.writeSysfs();
        }
        return ok(`UUID:\t\t\t${randomUUID()}\nSet UUID:\t\t${this.s.csetUuid}\nversion:\t\t0\nnbuckets:\t\t953869\n`);
      }
      case 'bcache-super-show': {
        const dev = a.find((x) => x.startsWith('/dev/'));
        if (dev === SSD) {
          if (this.s.ssd === 'failed') return err(`${SSD}: Input/output error`, 1);
          if (this.s.ssd === 'blank') return err(`${SSD}: bad magic (not a bcache device)`, 1);
          const cset = this.s.ssd === 'ok' ? this.s.csetUuid : '00000000-stale-0000-0000-000000000000';
          return ok(`sb.magic\t\tok\nsb.version\t\t3 [cache device]\ndev.uuid\t\t${randomUUID()}\ncset.uuid\t\t${cset}\n`);
        }
        return err(`${dev ?? ''}: not simulated`, 1);
      }
      case 'docker':
        return this.docker(a);
      case 'nvidia-smi':
        return ok(
          '+-----------------------------------------------------------------------------+\n| NVIDIA-SMI 550.54.14    Driver Version: 550.54.14    CUDA Version: 12.4     |\n' +
            '|   0  NVIDIA RTX A6000     On   | 00000000:01:00.0 Off |                  Off |\n|   1  NVIDIA RTX A6000     On   | 00000000:02:00.0 Off |                  Off |\n+-----------------------------------------------------------------------------+\n',
        );
      case 'dmesg':
        return ok(this.s.dmesg.join('\n') + '\n');
      case 'chown': {
        const spec = a.find((x) => !x.startsWith('-'));
        const target = a.filter((x) => !x.startsWith('-')).slice(1)[0];
        if (!spec || !target) return err('chown: missing operand', 1);
        const t = path(target);
        if (!existsSync(t)) return err(`chown: cannot access '${target}': No such file or directory`, 1);
        const user = TRAIN_USERS.find((u) => t === this.p(`${MOUNT}/homes/${u}`));
        if (user) {
          const owner = spec.split(':')[0]!;
          this.s.owners[user] = owner;
          this.record('chown', { path: `${MOUNT}/homes/${user}`, owner: spec, recursive: a.includes('-R') });
        }
        return ok('');
      }
      case 'rsync': {
        const ops = a.filter((x) => !x.startsWith('-'));
        if (ops.length !== 2) return err('rsync: lab supports `rsync -av SRC/ DST/`', 1);
        const src = path(ops[0]!);
        const dst = path(ops[1]!);
        if (src.startsWith(this.p(MOUNT)) && !this.s.mounted) return err(`rsync: change_dir "${ops[0]}" failed: No such file or directory (2)`, 23);
        if (!existsSync(src)) return err(`rsync: link_stat "${ops[0]}" failed: No such file or directory (2)`, 23);
        mkdirSync(dst, { recursive: true });
        cpSync(src, dst, { recursive: true });
        const n = walk(dst).length;
        this.record('rsync', { from: relFrom(this.root, src), to: relFrom(this.root, dst), files: n });
        return ok(`sending incremental file list\n\nsent ${n} files\n`);
      }
      case 'lab-setup':
        return this.setupScript(a[0] ?? '');
      case 'lab-restic-note': {
        // Called by the host's restic wrapper before it runs the real restic, and with --completed after restic exited 0.
        const i = a.indexOf('restore');
        if (i >= 0) {
          const t = a.indexOf('--target');
          this.record(a[0] === '--completed' ? 'restic.restored' : 'restic.restore', { snapshot: a[i + 1], target: t >= 0 ? relFrom(this.root, path(a[t + 1] ?? '')) : undefined });
        }
        return ok('');
      }
      default:
        return passthrough();
    }
  }

  /** Host path of a runbook path: already under the root, else absolute under it, else relative to cwd. */
  private hostPath(x: string, cwd: string): string {
    if (x === this.root || x.startsWith(this.root + '/')) return x.replace(/\/+$/, '') || x;
    if (isAbsolute(x)) return join(this.root, x).replace(/\/+$/, '');
    return resolve(cwd, x);
  }

  private createArray(devs: string[]): void {
    this.s.arrayUuid = randomUUID();
    this.s.corruption = 'none';
    this.s.dirty = false;
    this.record('btrfs.created', { devices: devs, uuid: this.s.arrayUuid });
  }

  private setupScript(name: string): ShimResult {
    if (!SCRIPTS.includes(name)) return err(`lab-setup: unknown script ${name}`, 1);
    this.record('setup-script.run', { script: `${name}.sh` });
    switch (name) {
      case '01-setup-storage': {
        // Creates a NEW array on the HDDs (whatever was there is gone), mounts it and adds it to fstab.
        this.createArray(DISKS);
        mkdirSync(this.p(`${MOUNT}/homes`), { recursive: true });
        mkdirSync(this.p(`${MOUNT}/workspaces`), { recursive: true });
        this.s.mounted = { options: 'rw,noatime,compress=zstd:3' };
        const fstab = this.p('/etc/fstab');
        writeFileSync(fstab, readFileSync(fstab, 'utf8') + this.fstabLine() + '\n');
        return ok(`storage: created btrfs raid1 on ${DISKS.join(' ')} (UUID ${this.s.arrayUuid}), mounted at ${MOUNT}\n`);
      }
      case '02-setup-users':
        if (!this.s.mounted) return err(`02-setup-users: ${MOUNT} is not mounted; run 01-setup-storage.sh or mount the array`, 1);
        for (const u of TRAIN_USERS) {
          mkdirSync(this.p(`${MOUNT}/homes/${u}`), { recursive: true });
          mkdirSync(this.p(`${MOUNT}/workspaces/${u}`), { recursive: true });
          if (this.s.owners[u] === 'missing') this.s.owners[u] = 'root';
        }
        return ok(`users: ${TRAIN_USERS.join(' ')}\n`);
      case '09-run-tests': {
        const fails: string[] = [];
        if (!this.s.mounted) fails.push(`${MOUNT} not mounted`);
        if (Object.values(this.s.containers).some((x) => !x)) fails.push('containers not running');
        return fails.length ? err(`tests FAILED: ${fails.join('; ')}`, 1) : ok('tests: storage ok, docker ok, gpu ok (10/10 passed)\n');
      }
      default:
        return ok(`${name}: done\n`);
    }
  }

  private mount(a: string[], path: (x: string) => string): ShimResult {
    const ops = a.filter((x, i) => !x.startsWith('-') && a[i - 1] !== '-o');
    if (ops.length === 0) {
      const lines = this.s.mounted ? [`${DISKS[0]} on ${this.p(MOUNT)} type btrfs (${this.s.mounted.options})`] : [];
      return ok(lines.join('\n') + (lines.length ? '\n' : ''));
    }
    const oi = a.indexOf('-o');
    const options = oi >= 0 ? (a[oi + 1] ?? '') : 'rw';
    const [dev, target] = ops;
    if (!dev || !target || !DISKS.includes(dev) || path(target) !== this.p(MOUNT)) return err(`mount: lab simulates only ${DISKS[0]} on ${MOUNT}`, 32);
    if (!existsSync(this.p(MOUNT))) return err(`mount: ${MOUNT}: mount point does not exist.`, 32);
    if (!this.s.arrayUuid) return err(`mount: ${MOUNT}: wrong fs type, bad option, bad superblock on ${dev}, missing codepage or helper program.`, 32);
    if (this.s.mounted) return err(`mount: ${MOUNT}: ${dev} already mounted on ${MOUNT}.`, 32);
    const opts = options.split(',');
    const ro = opts.includes('ro');
    if (this.s.corruption === 'severe' && !opts.includes('usebackuproot') && !opts.includes('recovery')) return err(`mount: ${MOUNT}: can't read superblock on ${dev}.`, 32);
    if (this.s.corruption !== 'none' && !ro) return err(`mount: ${MOUNT}: wrong fs type, bad option, bad superblock on ${dev} (BTRFS: open_ctree failed).`, 32);
    this.s.mounted = { options: ro || opts.includes('rw') ? options : `rw,${options}` };
    this.record('mount', { device: dev, target: MOUNT, options });
    return ok('');
  }

  private btrfs(a: string[], path: (x: string) => string): ShimResult {
    const [group, verb] = a;
    const mountArg = (): boolean => {
      const t = a.filter((x) => !x.startsWith('-')).at(-1);
      return !!t && (path(t) === this.p(MOUNT) || DISKS.includes(t));
    };
    const requireMounted = (): ShimResult | undefined =>
      !mountArg() ? err(`ERROR: not a btrfs filesystem: ${a.at(-1) ?? ''}`, 1) : !this.s.mounted ? err(`ERROR: ${MOUNT} is not mounted`, 1) : undefined;
    if (group === 'device' && verb === 'stats') {
      const e = requireMounted();
      if (e) return e;
      const corr = this.s.dirty ? 3 : 0;
      return ok(
        DISKS.map((d, i) =>
          ['write_io_errs', 'read_io_errs', 'flush_io_errs', 'corruption_errs', 'generation_errs'].map((k) => `[${d}].${k.padEnd(16)}${k === 'corruption_errs' && i === 0 ? corr : 0}`).join('\n'),
        ).join('\n') + '\n',
      );
    }
    if (group === 'scrub' && verb === 'start') {
      const e = requireMounted();
      if (e) return e;
      if (this.s.scrub && this.s.scrub.finishedAt === undefined) return err(`ERROR: scrub is already running on ${MOUNT}`, 1);
      this.s.scrub = { startedAt: Date.now(), corrected: this.s.dirty ? 3 : 0 };
      this.record('btrfs.scrub-started', { target: MOUNT });
      return ok(`scrub started on ${MOUNT}, fsid ${this.s.arrayUuid}\n`);
    }
    if (group === 'scrub' && verb === 'status') {
      const e = requireMounted();
      if (e) return e;
      const sc = this.s.scrub;
      if (!sc) return ok(`UUID:             ${this.s.arrayUuid}\n\tno stats available\n`);
      const running = sc.finishedAt === undefined;
      return ok(
        `UUID:             ${this.s.arrayUuid}\nScrub started:    ${new Date(sc.startedAt).toUTCString()}\nStatus:           ${running ? 'running' : 'finished'}\n` +
          `Duration:         0:00:0${Math.min(9, Math.round(((sc.finishedAt ?? Date.now()) - sc.startedAt) / 1000))}\n` +
          (running ? '' : sc.corrected ? `Error summary:    csum=${sc.corrected}\n  Corrected:      ${sc.corrected}\n  Uncorrectable:  0\n  Unverified:     0\n` : 'Error summary:    no errors found\n'),
      );
    }
    if (group === 'filesystem' && verb === 'show') {
      if (!this.s.arrayUuid) return ok('');
      return ok(`Label: 'storage'  uuid: ${this.s.arrayUuid}\n\tTotal devices 3 FS bytes used 1.21TiB\n${DISKS.map((d, i) => `\tdevid    ${i + 1} size 7.28TiB used 0.81TiB path ${d}`).join('\n')}\n`);
    }
    if (group === 'check') {
      const dev = a.find((x) => x.startsWith('/dev/'));
      if (!dev || !DISKS.includes(dev)) return err(`ERROR: cannot open ${dev ?? '(no device)'}`, 1);
      if (!this.s.arrayUuid) return err(`ERROR: ${dev}: no btrfs filesystem`, 1);
      const repair = a.includes('--repair');
      if (this.s.mounted && (repair || !this.s.mounted.options.split(',').includes('ro'))) return err(`ERROR: ${dev} is currently mounted, unmount it first`, 1);
      const findings =
        this.s.corruption === 'none'
          ? 'found 1329814683648 bytes used, no error found\n'
          : `parent transid verify failed on 30425088 wanted 4243 found 4241\nERROR: errors found in extent allocation tree or chunk allocation\nERROR: ${this.s.corruption === 'severe' ? 12 : 2} errors found in fs roots\n`;
      if (!repair) return { stdout: `Opening filesystem to check...\nChecking filesystem on ${dev}\nUUID: ${this.s.arrayUuid}\n${findings}`, exitCode: this.s.corruption === 'none' ? 0 : 1 };
      this.record('btrfs.repair', { device: dev, severity: this.s.corruption });
      if (this.s.corruption === 'moderate') {
        this.s.corruption = 'none';
        return ok(`enabling repair mode\nChecking filesystem on ${dev}\nfixed 2 errors\nfound 1329814683648 bytes used, no error found\n`);
      }
      if (this.s.corruption === 'severe') return err(`enabling repair mode\nERROR: failed to repair: extent tree damaged beyond repair`, 1);
      return ok('no error found\n');
    }
    if (group === 'restore') {
      const ops = a.filter((x) => !x.startsWith('-'));
      const dev = ops[1];
      const out = ops[2];
      if (!dev || !DISKS.includes(dev) || !out) return err('usage: btrfs restore <device> <path>', 1);
      const dst = path(out);
      mkdirSync(dst, { recursive: true });
      cpSync(this.p(`${MOUNT}/homes`), join(dst, 'homes'), { recursive: true });
      this.record('btrfs.restore', { device: dev, to: relFrom(this.root, dst) });
      return ok(`Restoring ${relFrom(this.root, dst)}/homes\n`);
    }
    return err(`lab: btrfs ${a.join(' ')} is not simulated`, 1);
  }

  private docker(a: string[]): ShimResult {
    const compose = a[0] === 'compose';
    const verb = compose ? a.find((x, i) => i > 0 && !x.startsWith('-')) : a[0];
    const rows = () =>
      Object.entries(this.s.containers)
        .map(([c, up]) => `${c.padEnd(20)} train-server-${c}   ${up ? 'running' : 'exited (255)'}`)
        .join('\n');
    switch (verb) {
      case 'ps':
        if (compose && a.includes('--format') && a.includes('json')) {
          return ok(Object.entries(this.s.containers).map(([c, up]) => JSON.stringify({ Name: c, Service: c, State: up ? 'running' : 'exited' })).join('\n') + '\n');
        }
        return ok(`NAME                 IMAGE                      STATUS\n${rows()}\n`);
      case 'build':
        if (!compose) return err('docker build: lab simulates docker compose build', 1);
        this.s.built = true;
        this.record('docker.build', {});
        return ok(`[+] Building ${Object.keys(this.s.containers).length} services: done\n`);
      case 'up': {
        if (!compose) return err('docker: unknown command', 1);
        if (!this.s.mounted) return err(`Error response from daemon: invalid mount config: bind source path does not exist: ${MOUNT}/homes/alice`, 1);
        if (!this.s.built) return err('Error: no such image: train-server-workspace; run `docker compose build` first', 1);
        const started = Object.entries(this.s.containers).filter(([, up]) => !up).map(([c]) => c);
        for (const c of started) this.s.containers[c] = true;
        if (started.length) this.record('docker.up', { started });
        return ok(started.map((c) => ` Container ${c}  Started`).join('\n') + '\n');
      }
      default:
        return err(`lab: docker ${a.join(' ')} is not simulated`, 1);
    }
  }

  private record(effect: string, detail?: Record<string, unknown>): void {
    this.effects?.record({ cluster: this.cluster, node: NODE, effect, ...(detail ? { detail } : {}) });
  }
}

function modeLine(mode: string): string {
  return ['writethrough', 'writeback', 'writearound', 'none'].map((m) => (m === mode ? `[${m}]` : m)).join(' ');
}

function ok(stdout: string): ShimResult {
  return { stdout, exitCode: 0 };
}
function err(stderr: string, exitCode: number): ShimResult {
  return { stdout: '', stderr: stderr.endsWith('\n') ? stderr : stderr + '\n', exitCode };
}

function relFrom(root: string, p: string): string {
  return '/' + relative(root, p);
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}
