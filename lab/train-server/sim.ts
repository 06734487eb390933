/**
 * The simulated storage of the train server: BTRFS RAID1 over two HDDs behind
 * bcache (`/dev/bcache0` on `/dev/sdb`, `/dev/bcache1` on `/dev/sdc`), the
 * OS on `/dev/nvme0n1p2` and the bcache cache partition `/dev/nvme0n1p3`
 * next to it, as the repository's HEAD lays out a server with bcache. Every
 * storage tool answers from this state in the real tools' output formats
 * (`lsblk --json`, `blkid -p -o export`, `findmnt --json`, `btrfs scrub
 * status`, ...), and the faults reproduce what the real backend (./real)
 * makes happen on real devices, so the same cases pass on both.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ShimResult } from '../family';
import { err, LABEL, MOUNT, ok, relFrom, SETUP_MOUNT_OPTS, type DeviceLayout, type TrainHost } from './host';
import { operands, optionValue, type StorageFault, type TrainStorage } from './storage';

const TIB = 1024 ** 4;
const GIB = 1024 ** 3;

/** The simulated disks: path, kind, size, serial, parent. */
const DISKS = {
  nvme: { path: '/dev/nvme0n1', type: 'disk', size: 1000204886016, serial: 'S5GXNF0R812345', model: 'Samsung SSD 980 PRO 1TB' },
  efi: { path: '/dev/nvme0n1p1', type: 'part', size: 512 * 1024 ** 2, parent: '/dev/nvme0n1' },
  os: { path: '/dev/nvme0n1p2', type: 'part', size: 100 * GIB, parent: '/dev/nvme0n1' },
  cache: { path: '/dev/nvme0n1p3', type: 'part', size: 1000204886016 - 100 * GIB - 512 * 1024 ** 2 - 2 * 1024 ** 2, parent: '/dev/nvme0n1' },
  sdb: { path: '/dev/sdb', type: 'disk', size: 8001563222016, serial: 'WD-WX11D1234567', model: 'WDC WD80EFZZ' },
  sdc: { path: '/dev/sdc', type: 'disk', size: 8001563222016, serial: 'WD-WX21D7654321', model: 'WDC WD80EFZZ' },
} as const;
const HDDS: string[] = [DISKS.sdb.path, DISKS.sdc.path];
const FS_DEVS: string[] = ['/dev/bcache0', '/dev/bcache1'];
const OS_UUID = '5f3a9c1e-0b7d-4e52-9a61-2c8f4d7b1e90';
const EFI_UUID = 'A1B2-C3D4';

type Corruption = 'none' | 'root' | 'roots' | 'repairable';

interface Scrub {
  startedAt: number;
  corrected: number;
  finishedAt?: number;
}

/** The simulated BTRFS RAID1 over two HDDs behind bcache. */
export class SimStorage implements TrainStorage {
  readonly kind = 'sim';
  /** Which HDDs carry a bcache backing superblock (their /dev/bcacheN exists). */
  private backing: Record<string, boolean> = { [DISKS.sdb.path]: true, [DISKS.sdc.path]: true };
  private uuid: string | null = null;
  private subs: Record<string, string> = {};
  private mounted: { options: string; source: string } | null = null;
  /** Blocks damaged on one mirror that no scrub has repaired yet. */
  private damaged = 0;
  /** The kernel's corruption counter of the first device (`btrfs device stats`); kept until reset, as the kernel does. */
  private corruptErrs = 0;
  private corruption: Corruption = 'none';
  private scrub: Scrub | null = null;
  /** A detached array disk (its fs device is missing). */
  private missing: string | null = null;
  private lines: string[] = [];
  private generation = 4242;

  constructor(private readonly host: TrainHost) {}

  layout(): DeviceLayout {
    return { hdds: [...HDDS], fs: [...FS_DEVS], ssd: DISKS.cache.path, ids: { [DISKS.sdb.path]: `serial:${DISKS.sdb.serial}`, [DISKS.sdc.path]: `serial:${DISKS.sdc.serial}` } };
  }

  async prepare(): Promise<void> {
    /* nothing to check or clean: no device is touched */
  }

  async create(): Promise<void> {
    this.makeArray(FS_DEVS);
    mkdirSync(this.host.p(MOUNT), { recursive: true });
    this.mounted = { options: `rw,relatime,${SETUP_MOUNT_OPTS}`, source: FS_DEVS[0]! };
    this.lines.push(`[    1.204] BTRFS: device label ${LABEL} devid 1 transid ${this.generation} /dev/bcache0 scanned by (udev-worker) (312)`);
  }

  mountOptions(): string | null {
    return this.mounted?.options ?? null;
  }

  arrayUuid(): string | null {
    return this.uuid;
  }

  dmesg(): string[] {
    return [...this.lines];
  }

  ssdSignatures(): string[] | 'io-error' {
    const s = this.host.s.ssd;
    if (s === 'failed') return 'io-error';
    return s === 'blank' ? [] : ['bcache'];
  }

  async snapshot(name: string): Promise<string> {
    if (!this.mounted) throw new Error('lab: the array is not mounted; no snapshot');
    const dir = this.host.p(`${MOUNT}/snapshots/${name}`);
    for (const sub of ['homes', 'docker-volumes', 'shared/tensorboard']) {
      const from = this.host.p(`${MOUNT}/${sub}`);
      if (existsSync(from)) cpSync(from, join(dir, sub), { recursive: true });
    }
    return dir;
  }

  async deleteSnapshot(path: string): Promise<void> {
    rmSync(path, { recursive: true, force: true });
  }

  problems(): string[] {
    this.finishScrub();
    const out: string[] = [];
    if (!this.uuid) out.push('no btrfs array');
    if (this.corruption !== 'none') out.push(`btrfs corruption (${this.corruption === 'roots' ? 'tree root and backup roots' : this.corruption === 'root' ? 'tree root' : 'repairable'})`);
    if (this.missing) out.push(`array degraded: ${this.missing} missing`);
    if (!this.mounted) out.push(`${MOUNT} not mounted`);
    else if (this.mounted.options.split(',').includes('ro')) out.push(`${MOUNT} mounted read-only`);
    if (this.damaged > 0) out.push('filesystem dirty: scrub needed');
    return out;
  }

  async stop(): Promise<void> {
    /* nothing real to release */
  }

  async breakFault(fault: StorageFault): Promise<void> {
    switch (fault) {
      case 'os-disk':
        this.mounted = null;
        return;
      case 'wiped':
        this.mounted = null;
        this.uuid = null;
        this.corruption = 'none';
        this.damaged = this.corruptErrs = 0;
        this.scrub = null;
        for (const h of HDDS) this.backing[h] = false;
        return;
      case 'power-outage':
        if (!this.mounted) throw new Error('lab: the array must be mounted for a power outage');
        // Three blocks overwritten on the first mirror; the boot's first reads found one and repaired it from the mirror.
        this.damaged = 2;
        this.corruptErrs += 1;
        this.scrub = null;
        this.lines.push(
          `[    3.402] BTRFS warning (device bcache0): csum failed root 5 ino 263 off 0 csum 0x93413794 expected csum 0xecb0b415 mirror 1`,
          `[    3.402] BTRFS error (device bcache0): bdev /dev/bcache0 errs: wr 0, rd 0, flush 0, corrupt ${this.corruptErrs}, gen 0`,
          `[    3.410] BTRFS info (device bcache0): read error corrected: ino 263 off 0 (dev /dev/bcache0 sector 172160)`,
        );
        return;
      case 'corrupt-root':
      case 'corrupt-roots':
      case 'corrupt-repairable':
        this.mounted = null;
        this.corruption = fault === 'corrupt-root' ? 'root' : fault === 'corrupt-roots' ? 'roots' : 'repairable';
        this.generation += 5;
        this.lines.push(
          `[   12.004] BTRFS error (device bcache0): bad tree block start, mirror 1 want 165167104 have 0`,
          `[   12.004] BTRFS error (device bcache0): bad tree block start, mirror 2 want 165167104 have 0`,
          `[   12.010] BTRFS error (device bcache0): open_ctree failed: -5`,
        );
        return;
      case 'degraded':
        this.mounted = null;
        this.missing = FS_DEVS[1]!;
        this.lines.push(`[   14.101] BTRFS error (device bcache0): devid 2 uuid ${this.subs[FS_DEVS[1]!] ?? randomUUID()} is missing`, `[   14.102] BTRFS error (device bcache0): failed to read chunk tree: -2`);
        return;
      case 'reattach':
        this.missing = null;
        return;
      case 'ssd-failed':
      case 'ssd-swapped':
        return; // the cache's state is the family's (host.s.ssd); the simulated partition follows it
    }
  }

  // ------------------------------------------------------------ tools ----

  async shim(tool: string, a: string[], cwd: string): Promise<ShimResult> {
    const path = (x: string): string => this.host.hostPath(x, cwd);
    switch (tool) {
      case 'btrfs':
        return this.btrfs(a, path);
      case 'btrfs-find-root':
        return this.findRoot(a);
      case 'mount':
        return this.mount(a, path);
      case 'umount':
        return this.umount(a, path);
      case 'blkid':
        return this.blkid(a);
      case 'mkfs.btrfs':
        return this.mkfs(a);
      case 'wipefs':
        return this.wipefs(a);
      case 'lsblk':
        return this.lsblk(a);
      case 'findmnt':
        return this.findmnt(a);
      case 'swapon':
        return ok('');
      case 'losetup':
        return ok(a.includes('--json') || a.includes('-J') ? '{"loopdevices": []}\n' : '');
      case 'make-bcache':
        return this.makeBcache(a);
      case 'bcache-super-show':
        return this.superShow(a);
      case 'dmesg':
        return ok([...this.host.s.dmesg, ...this.lines].join('\n') + '\n');
      default:
        return err(`lab: ${tool} is not a storage tool`, 127);
    }
  }

  private makeArray(devs: string[]): void {
    this.uuid = randomUUID();
    this.subs = Object.fromEntries(devs.map((d) => [d, randomUUID()]));
    this.corruption = 'none';
    this.damaged = this.corruptErrs = 0;
    this.scrub = null;
    this.missing = null;
  }

  /** The fs devices that exist now: a bcache device exists while its HDD carries a backing superblock. */
  private fsDevices(): string[] {
    return FS_DEVS.filter((_, i) => this.backing[HDDS[i]!]);
  }

  private fsDeviceOk(dev: string): boolean {
    return this.fsDevices().includes(dev) && dev !== this.missing;
  }

  /** Lines of `mount -o` options as the kernel shows them after mounting. */
  private shownOptions(opts: string[]): string {
    const ro = opts.includes('ro');
    const rest = opts.filter((o) => !['ro', 'rw', 'defaults'].includes(o));
    return [ro ? 'ro' : 'rw', 'relatime', ...rest.filter((o) => o !== 'relatime' && o !== 'noatime'), ...(rest.includes('noatime') ? ['noatime'] : []), 'space_cache=v2', 'subvolid=5', 'subvol=/'].join(',');
  }

  private mount(a: string[], path: (x: string) => string): ShimResult {
    const ops = operands(a);
    if (ops.length === 0) {
      const lines = this.mounted ? [`${this.mounted.source} on ${this.host.p(MOUNT)} type btrfs (${this.mounted.options})`] : [];
      return ok(`/dev/nvme0n1p2 on / type ext4 (rw,relatime,errors=remount-ro)\n/dev/nvme0n1p1 on /boot/efi type vfat (rw,relatime)\n${lines.join('\n')}${lines.length ? '\n' : ''}`);
    }
    const options = (optionValue(a, '-o') ?? 'rw').split(',').filter(Boolean);
    const [dev, target] = ops;
    if (!dev || !target) return err('mount: bad usage', 1);
    const t = path(target);
    if (t !== this.host.p(MOUNT)) return err(`mount: the lab mounts only the array on ${MOUNT} (got ${target})`, 32);
    if (!existsSync(t)) return err(`mount: ${target}: mount point does not exist.`, 32);
    const device = dev.startsWith('UUID=') ? (dev.slice(5) === this.uuid ? FS_DEVS[0]! : '') : dev;
    if (!this.fsDeviceOk(device)) return err(`mount: ${target}: special device ${dev} does not exist.`, 32);
    if (this.mounted) return err(`mount: ${target}: ${this.mounted.source} already mounted on ${target}.`, 32);
    if (options.includes('recovery')) return err(`mount: ${target}: wrong fs type, bad option, bad superblock on ${dev}, missing codepage or helper program, or other error.`, 32);
    if (!this.uuid) return err(`mount: ${target}: wrong fs type, bad option, bad superblock on ${dev}, missing codepage or helper program, or other error.`, 32);
    const ro = options.includes('ro');
    const backup = options.includes('usebackuproot') || options.some((o) => o === 'rescue=usebackuproot' || o === 'rescue=all');
    const cantRead = `mount: ${target}: can't read superblock on ${dev}.`;
    if (this.corruption === 'roots') return err(cantRead, 32);
    if (this.corruption === 'root' && !backup) return err(cantRead, 32);
    if (this.corruption === 'repairable' && !ro) return err(`mount: ${target}: wrong fs type, bad option, bad superblock on ${dev}, missing codepage or helper program, or other error.`, 32);
    if (this.missing && !options.includes('degraded')) return err(`mount: ${target}: wrong fs type, bad option, bad superblock on ${dev}, missing codepage or helper program, or other error.`, 32);
    this.mounted = { options: this.shownOptions(options), source: device };
    this.host.record('mount', { device: dev, target: MOUNT, options: options.join(',') || 'rw' });
    return ok('');
  }

  private umount(a: string[], path: (x: string) => string): ShimResult {
    const target = operands(a)[0];
    if (!target || (path(target) !== this.host.p(MOUNT) && target !== this.mounted?.source)) return err(`umount: ${target ?? ''}: not mounted.`, 32);
    if (!this.mounted) return err(`umount: ${MOUNT}: not mounted.`, 32);
    this.mounted = null;
    this.host.record('umount', { target: MOUNT });
    return ok('');
  }

  private mountArg(a: string[], path: (x: string) => string): boolean {
    const t = operands(a).at(-1);
    return !!t && (path(t) === this.host.p(MOUNT) || FS_DEVS.includes(t));
  }

  private btrfs(a: string[], path: (x: string) => string): ShimResult {
    const [group, verb] = a;
    const rest = a.slice(2);
    const requireMounted = (): ShimResult | undefined =>
      !this.mountArg(rest, path) ? err(`ERROR: not a btrfs filesystem: ${a.at(-1) ?? ''}`, 1) : !this.mounted ? err(`ERROR: cannot access '${operands(rest).at(-1) ?? ''}': not a mounted btrfs filesystem`, 1) : undefined;
    if (group === 'device' && verb === 'scan') return ok(operands(rest).map((d) => `Scanning for btrfs filesystems on '${d}'`).join('\n') + '\n');
    if (group === 'device' && verb === 'stats') {
      const e = requireMounted();
      if (e) return e;
      return ok(
        this.fsDevices()
          .map((d, i) => ['write_io_errs', 'read_io_errs', 'flush_io_errs', 'corruption_errs', 'generation_errs'].map((k) => `[${d}].${k.padEnd(16)} ${k === 'corruption_errs' && i === 0 ? this.corruptErrs : 0}`).join('\n'))
          .join('\n') + '\n',
      );
    }
    if (group === 'scrub' && verb === 'start') {
      const e = requireMounted();
      if (e) return e;
      if (this.scrub && this.scrub.finishedAt === undefined) return err(`ERROR: scrub is already running.\nTo cancel use 'btrfs scrub cancel ${operands(rest).at(-1)}'.`, 1);
      this.scrub = { startedAt: Date.now(), corrected: this.damaged };
      this.host.record('btrfs.scrub-started', { target: MOUNT });
      return ok(`scrub started on ${operands(rest).at(-1)}, fsid ${this.uuid} (pid=4711)\n`);
    }
    if (group === 'scrub' && verb === 'status') {
      const e = requireMounted();
      if (e) return e;
      this.finishScrub();
      const sc = this.scrub;
      if (!sc) return ok(`UUID:             ${this.uuid}\n\tno stats available\n`);
      const running = sc.finishedAt === undefined;
      return ok(
        `UUID:             ${this.uuid}\nScrub started:    ${new Date(sc.startedAt).toString().slice(0, 24)}\nStatus:           ${running ? 'running' : 'finished'}\n` +
          `Duration:         0:00:0${Math.min(9, Math.round(((sc.finishedAt ?? Date.now()) - sc.startedAt) / 1000))}\nTotal to scrub:   1.21TiB\n` +
          (running ? '' : sc.corrected ? `Error summary:    csum=${sc.corrected}\n  Corrected:      ${sc.corrected}\n  Uncorrectable:  0\n  Unverified:     0\n` : 'Error summary:    no errors found\n'),
      );
    }
    if (group === 'filesystem' && verb === 'show') {
      if (!this.uuid) return ok('');
      const devs = FS_DEVS.map((d, i) => (d === this.missing ? `\t*** Some devices missing` : `\tdevid    ${i + 1} size 7.28TiB used 0.81TiB path ${d}`));
      return ok(`Label: '${LABEL}'  uuid: ${this.uuid}\n\tTotal devices 2 FS bytes used 1.21TiB\n${devs.join('\n')}\n\n`);
    }
    if (group === 'filesystem' && verb === 'df') {
      const e = requireMounted();
      if (e) return e;
      return ok('Data, RAID1: total=0.85TiB, used=0.81TiB\nSystem, RAID1: total=32.00MiB, used=144.00KiB\nMetadata, RAID1: total=5.00GiB, used=3.12GiB\nGlobalReserve, single: total=512.00MiB, used=0.00B\n');
    }
    if (group === 'filesystem' && verb === 'sync') return ok('');
    if (group === 'check') return this.check(a);
    if (group === 'restore') return this.restore(a, path);
    if (group === 'subvolume') return ok('');
    return err(`lab: btrfs ${a.join(' ')} is not simulated`, 1);
  }

  private finishScrub(): void {
    const sc = this.scrub;
    if (sc && sc.finishedAt === undefined && Date.now() - sc.startedAt >= this.host.scrubMs) {
      sc.finishedAt = Date.now();
      this.corruptErrs += sc.corrected;
      this.damaged = 0;
    }
  }

  private readonly badRoot = `checksum verify failed on 165167104 wanted 0x00000000 found 0xb6bde3e4\nbad tree block 165167104, bytenr mismatch, want=165167104, have=0\nCouldn't read tree root\n`;

  private check(a: string[]): ShimResult {
    const dev = operands(a.slice(1)).find((x) => x.startsWith('/dev/'));
    if (!dev || !this.fsDevices().includes(dev)) return err(`ERROR: cannot open ${dev ?? '(no device)'}: No such file or directory`, 1);
    if (!this.uuid) return err(`ERROR: ${dev}: no valid btrfs filesystem found`, 1);
    const repair = a.includes('--repair');
    if (this.mounted && (repair || !this.mounted.options.split(',').includes('ro'))) return err(`ERROR: ${dev} is currently mounted, use --force if you really intend to check the filesystem`, 1);
    const head = `${repair ? 'Starting repair.\n' : ''}Opening filesystem to check...\n`;
    if (this.corruption === 'root' || this.corruption === 'roots') {
      if (repair) this.host.record('btrfs.repair', { device: dev, result: 'failed' });
      return { stdout: head, stderr: `${this.badRoot}ERROR: cannot open file system\n`, exitCode: 1 };
    }
    const clean = `Checking filesystem on ${dev}\nUUID: ${this.uuid}\n[1/7] checking root items\n[2/7] checking extents\n[3/7] checking free space tree\n[4/7] checking fs roots\nfound 1329814683648 bytes used, no error found\n`;
    if (this.corruption === 'none') {
      if (repair) this.host.record('btrfs.repair', { device: dev, result: 'nothing to repair' });
      return ok(head + clean);
    }
    if (!repair) return { stdout: `${head}Checking filesystem on ${dev}\nUUID: ${this.uuid}\n[1/7] checking root items\n`, stderr: 'parent transid verify failed on 30425088 wanted 4243 found 4241\nERROR: errors found in extent allocation tree or chunk allocation\nERROR: 2 errors found in fs roots\n', exitCode: 1 };
    this.corruption = 'none';
    this.host.record('btrfs.repair', { device: dev, result: 'fixed' });
    return ok(`${head}Checking filesystem on ${dev}\nUUID: ${this.uuid}\nfixed 2 errors\nfound 1329814683648 bytes used, no error found\n`);
  }

  /** Tree roots btrfs-find-root finds: the damaged ones are missing; older ones remain. */
  private findRoot(a: string[]): ShimResult {
    const dev = operands(a).find((x) => x.startsWith('/dev/'));
    if (!dev || !this.fsDevices().includes(dev) || !this.uuid) return err(`ERROR: cannot open ${dev ?? '(no device)'}`, 1);
    const gen = this.generation;
    const lines = [`Superblock thinks the generation is ${gen}`, 'Superblock thinks the level is 0'];
    if (this.corruption === 'none' || this.corruption === 'repairable') lines.push(`Found tree root at 165167104 gen ${gen} level 0`);
    for (const [bytenr, g] of this.goodRoots()) lines.push(`Well block ${bytenr}(gen: ${g} level: 0) seems good, but generation/level doesn't match, want gen: ${gen} level: 0`);
    return ok(lines.join('\n') + '\n');
  }

  /** Older tree roots that are still intact, newest first: [bytenr, generation]. */
  private goodRoots(): Array<[number, number]> {
    const gen = this.generation;
    const gens = this.corruption === 'roots' ? [gen - 5, gen - 6] : this.corruption === 'root' ? [gen - 1, gen - 2, gen - 3, gen - 4] : [];
    return gens.map((g) => [164757504 - (gen - 5 - g) * 98304, g]);
  }

  private restore(a: string[], path: (x: string) => string): ShimResult {
    const ops = operands(a.slice(1));
    const dev = ops[0];
    const out = ops[1];
    if (!dev || !this.fsDevices().includes(dev) || !out) return err('usage: btrfs restore [options] <device> <path>', 1);
    if (this.mounted) return err(`ERROR: ${dev} is currently mounted, cannot continue`, 1);
    const root = optionValue(a, '-t');
    const damaged = this.corruption === 'root' || this.corruption === 'roots';
    const unreadable = damaged && !(root && this.goodRoots().some(([b]) => b === Number(root)));
    if (!this.uuid || unreadable) return err(`${this.badRoot}Could not open root, trying backup super\n${this.badRoot}Could not open root, trying backup super\nERROR: superblock bytenr 274877906944 is larger than device size 8001563222016\nCould not open root, trying backup super`, 1);
    const dst = path(out);
    mkdirSync(dst, { recursive: true });
    cpSync(this.host.p(`${MOUNT}/homes`), join(dst, 'homes'), { recursive: true });
    this.host.record('btrfs.restore', { device: dev, to: relFrom(this.host.root, dst), ...(root ? { root: Number(root) } : {}) });
    return ok(root ? 'parent transid verify failed on 164757504 wanted 4247 found 4242\nIgnoring transid failure\n' : '');
  }

  private blkid(a: string[]): ShimResult {
    const label = optionValue(a, '-t');
    if (label) {
      const want = label.replace(/^LABEL=/, '');
      const devs = want === LABEL && this.uuid ? this.fsDevices().filter((d) => d !== this.missing) : [];
      return devs.length ? ok(devs.join('\n') + '\n') : { stdout: '', exitCode: 2 };
    }
    const dev = operands(a).find((x) => x.startsWith('/dev/'));
    if (!dev) return { stdout: '', exitCode: 2 };
    const sig = this.signature(dev);
    if (sig === 'io-error') return err(`blkid: error: ${dev}: Input/output error`, 2);
    if (!sig) return { stdout: '', exitCode: 2 };
    const fmt = optionValue(a, '-o');
    const tag = optionValue(a, '-s');
    if (fmt === 'value' && tag) return sig[tag] ? ok(`${sig[tag]}\n`) : { stdout: '', exitCode: 2 };
    if (fmt === 'export') return ok(`DEVNAME=${dev}\n${Object.entries(sig).map(([k, v]) => `${k}=${v}`).join('\n')}\n`);
    return ok(`${dev}: ${Object.entries(sig).filter(([k]) => k !== 'USAGE').map(([k, v]) => `${k}="${v}"`).join(' ')}\n`);
  }

  /** What `blkid -p` finds on a device: null (nothing), the I/O error of a failed SSD, or its tags. */
  private signature(dev: string): Record<string, string> | null | 'io-error' {
    if (dev === DISKS.os.path) return { UUID: OS_UUID, BLOCK_SIZE: '4096', TYPE: 'ext4', USAGE: 'filesystem' };
    if (dev === DISKS.efi.path) return { UUID: EFI_UUID, BLOCK_SIZE: '512', TYPE: 'vfat', USAGE: 'filesystem' };
    if (dev === DISKS.nvme.path) return { PTUUID: '3c1d7a52-9f0e-4b8e-8d2a-6b5e4f3a2c10', PTTYPE: 'gpt' };
    if (dev === DISKS.cache.path) {
      const s = this.ssdSignatures();
      if (s === 'io-error') return 'io-error';
      return s.length ? { UUID: this.host.s.ssd === 'ok' ? this.host.s.csetUuid : '00000000-57a1-e000-0000-000000000000', TYPE: 'bcache', USAGE: 'other' } : null;
    }
    if (HDDS.includes(dev)) return this.backing[dev] ? { UUID: randomUUIDFor(dev), TYPE: 'bcache', USAGE: 'other' } : null;
    if (FS_DEVS.includes(dev) && this.fsDevices().includes(dev) && dev !== this.missing && this.uuid) {
      return { LABEL, UUID: this.uuid, UUID_SUB: this.subs[dev] ?? randomUUIDFor(dev), BLOCK_SIZE: '4096', TYPE: 'btrfs', USAGE: 'filesystem' };
    }
    return null;
  }

  private mkfs(a: string[]): ShimResult {
    const devs = operands(a).filter((x) => x.startsWith('/dev/'));
    if (devs.length === 0) return err('ERROR: no device given', 1);
    for (const d of devs) {
      if (!this.fsDevices().includes(d) && !HDDS.includes(d)) return err(`ERROR: cannot open ${d}: No such file or directory`, 1);
      if (this.mounted && d === this.mounted.source) return err(`ERROR: ${d} is mounted`, 1);
      const sig = this.signature(d);
      if (sig && sig !== 'io-error' && !a.includes('-f')) return err(`ERROR: ${d} appears to contain an existing filesystem (${sig.TYPE ?? 'unknown'})\nERROR: use the -f option to force overwrite of ${d}`, 1);
    }
    this.makeArray(devs);
    this.host.record('btrfs.created', { devices: devs, uuid: this.uuid });
    return ok(`btrfs-progs v6.6.3\nLabel:              ${optionValue(a, '-L') ?? '(null)'}\nUUID:               ${this.uuid}\nNumber of devices:  ${devs.length}\nDevices:\n${devs.map((d, i) => `   ${i + 1}     7.28TiB ${d}`).join('\n')}\n`);
  }

  private wipefs(a: string[]): ShimResult {
    const dev = operands(a).find((x) => x.startsWith('/dev/'));
    if (!dev) return err('wipefs: no device specified', 1);
    const sig = this.signature(dev);
    if (sig === 'io-error') return err(`wipefs: error: ${dev}: probing initialization failed: Input/output error`, 1);
    const erase = a.some((x) => /^-[a-z]*a/.test(x) || x === '--all');
    if (!erase) {
      if (!sig) return ok(a.includes('-J') || a.includes('--json') ? '' : '');
      const type = sig.TYPE ?? sig.PTTYPE ?? '?';
      if (a.includes('-J') || a.includes('--json')) return ok(JSON.stringify({ signatures: [{ device: dev.replace('/dev/', ''), offset: type === 'btrfs' ? '0x10040' : '0x1018', type, uuid: sig.UUID ?? null, label: sig.LABEL ?? null }] }, null, 3) + '\n');
      return ok(`DEVICE OFFSET TYPE UUID LABEL\n${dev.replace('/dev/', '')} 0x1018 ${type} ${sig.UUID ?? ''} ${sig.LABEL ?? ''}\n`);
    }
    if (dev === DISKS.os.path || dev === DISKS.efi.path || dev === DISKS.nvme.path) {
      // What the kernel does to a mounted partition: it refuses (busy); the lab never erases its "OS".
      return err(`wipefs: error: ${dev}: probing initialization failed: Device or resource busy`, 1);
    }
    if (dev === DISKS.cache.path) {
      if (!sig) return ok('');
      this.host.s.ssd = 'blank';
      this.host.record('ssd.wiped', { device: dev });
      return ok(`${dev}: 16 bytes were erased at offset 0x00001018 (bcache): c6 85 73 f6 4e 1a 45 ca 82 65 f5 7f 48 ba 6d 81\n`);
    }
    if (HDDS.includes(dev)) {
      if (this.mounted && this.fsDevices().includes(this.mounted.source) && !a.includes('-f')) return err(`wipefs: error: ${dev}: probing initialization failed: Device or resource busy`, 1);
      if (!this.backing[dev]) return ok('');
      this.backing[dev] = false;
      if (this.fsDevices().length < FS_DEVS.length) this.uuid = null; // the bcache device and the filesystem on it are gone
      this.host.record('disk.wiped', { device: dev });
      return ok(`${dev}: 16 bytes were erased at offset 0x00001018 (bcache): c6 85 73 f6 4e 1a 45 ca 82 65 f5 7f 48 ba 6d 81\n`);
    }
    if (FS_DEVS.includes(dev)) return err(`wipefs: lab: wipe the HDD under ${dev} instead`, 1);
    return err(`wipefs: error: ${dev}: probing initialization failed: No such file or directory`, 1);
  }

  private makeBcache(a: string[]): ShimResult {
    const dev = operands(a).find((x) => x.startsWith('/dev/'));
    if (a.includes('-B') && dev && HDDS.includes(dev)) {
      if (this.backing[dev] && !a.includes('--wipe-bcache')) return err(`Already a bcache device on ${dev}, overwrite with --wipe-bcache`, 1);
      this.backing[dev] = true;
      return ok(`UUID:\t\t\t${randomUUID()}\nSet UUID:\t\t${randomUUID()}\nversion:\t\t1\nblock_size:\t\t1\ndata_offset:\t\t16\n`);
    }
    return cacheCreate(this.host, a, dev === DISKS.cache.path ? dev : undefined, this.ssdSignatures());
  }

  private superShow(a: string[]): ShimResult {
    const dev = operands(a).find((x) => x.startsWith('/dev/'));
    if (dev === DISKS.cache.path) return superShow(this.host, dev, this.ssdSignatures());
    if (dev && HDDS.includes(dev) && this.backing[dev]) return ok(`sb.magic\t\tok\nsb.version\t\t1 [backing device]\ndev.uuid\t\t${randomUUIDFor(dev)}\n`);
    return err(`${dev ?? ''}: bad magic (not a bcache device)`, 1);
  }

  private lsblk(a: string[]): ShimResult {
    const wanted = operands(a).filter((x) => x.startsWith('/dev/'));
    const tree = this.blockTree();
    const flat = (n: BlockNode): BlockNode[] => [n, ...(n.children ?? []).flatMap(flat)];
    const all = tree.flatMap(flat);
    const chosen = wanted.length ? wanted.map((w) => all.find((n) => n.path === w)) : tree;
    if (chosen.some((n) => !n)) return err(`lsblk: ${wanted.find((w) => !all.some((n) => n.path === w))}: not a block device`, 32);
    if (a.includes('-J') || a.includes('--json')) return ok(JSON.stringify({ blockdevices: chosen }, null, 3) + '\n');
    const rows = (n: BlockNode, depth: number): string[] => [`${'  '.repeat(depth)}${n.name} ${n.type} ${n.size} ${n.mountpoint ?? ''}`, ...(n.children ?? []).flatMap((c) => rows(c, depth + 1))];
    return ok(`NAME TYPE SIZE MOUNTPOINT\n${(chosen as BlockNode[]).flatMap((n) => rows(n, 0)).join('\n')}\n`);
  }

  /** `lsblk --json --bytes --paths` of the simulated machine. */
  private blockTree(): BlockNode[] {
    const node = (d: { path: string; type: string; size: number; serial?: string; model?: string }, pk: string | null, extra: Partial<BlockNode> = {}): BlockNode => {
      const sig = this.signature(d.path);
      const tags = sig && sig !== 'io-error' ? sig : {};
      return { name: d.path, path: d.path, type: d.type, size: d.size, serial: d.serial ?? null, wwn: null, model: d.model ?? null, fstype: tags.TYPE ?? null, uuid: tags.UUID ?? null, label: tags.LABEL ?? null, mountpoint: null, pkname: pk, ...extra };
    };
    const mp = (dev: string): string | null => (this.mounted?.source === dev ? this.host.p(MOUNT) : null);
    const nvme = node(DISKS.nvme, null, {
      children: [node(DISKS.efi, DISKS.nvme.path, { mountpoint: '/boot/efi' }), node(DISKS.os, DISKS.nvme.path, { mountpoint: '/' }), ...(this.host.s.ssd === 'failed' ? [] : [node(DISKS.cache, DISKS.nvme.path)])],
    });
    const hdd = (d: typeof DISKS.sdb | typeof DISKS.sdc, i: number): BlockNode => {
      const fs = FS_DEVS[i]!;
      const kids = this.backing[d.path] && fs !== this.missing ? [node({ path: fs, type: 'disk', size: d.size - 8192 }, d.path, { mountpoint: mp(fs) })] : [];
      return node(d, null, kids.length ? { children: kids } : {});
    };
    return [hdd(DISKS.sdb, 0), ...(this.missing ? [] : [hdd(DISKS.sdc, 1)]), nvme];
  }

  private findmnt(a: string[]): ShimResult {
    const list: Array<{ source: string; target: string; fstype: string; uuid: string | null; options: string }> = [
      { source: DISKS.os.path, target: '/', fstype: 'ext4', uuid: OS_UUID, options: 'rw,relatime,errors=remount-ro' },
      { source: DISKS.efi.path, target: '/boot/efi', fstype: 'vfat', uuid: EFI_UUID, options: 'rw,relatime' },
      ...(this.mounted ? [{ source: this.mounted.source, target: this.host.p(MOUNT), fstype: 'btrfs', uuid: this.uuid, options: this.mounted.options }] : []),
    ];
    const target = operands(a, ['-o', '--output', '-t', '--types', '-S', '--source', '-T', '--target'])[0] ?? optionValue(a, '--target') ?? optionValue(a, '-T');
    const rows = target ? list.filter((m) => m.target === target || m.source === target || this.host.p(target) === m.target) : list;
    if (target && rows.length === 0) return { stdout: '', exitCode: 1 };
    if (a.includes('-J') || a.includes('--json')) return ok(JSON.stringify({ filesystems: rows }, null, 3) + '\n');
    const cols = (optionValue(a, '-o') ?? optionValue(a, '--output') ?? 'TARGET,SOURCE,FSTYPE,OPTIONS').split(',').map((c) => c.toLowerCase()) as Array<keyof (typeof list)[number]>;
    return ok(rows.map((r) => cols.map((c) => r[c] ?? '').join(' ')).join('\n') + '\n');
  }
}

interface BlockNode {
  name: string;
  path: string;
  type: string;
  size: number;
  serial: string | null;
  wwn: string | null;
  model: string | null;
  fstype: string | null;
  uuid: string | null;
  label: string | null;
  mountpoint: string | null;
  pkname: string | null;
  children?: BlockNode[];
}

/** A stable made-up UUID per device (bcache backing superblocks). */
function randomUUIDFor(dev: string): string {
  let h = 0;
  for (const c of dev) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const hex = h.toString(16).padStart(8, '0');
  return `${hex}-0000-4000-8000-${hex}${hex.slice(0, 4)}`;
}

/** `make-bcache -C <ssd>` over the family's cache state, on either backend: only a blank partition takes a new cache set. */
export function cacheCreate(host: TrainHost, a: string[], ssd: string | undefined, sigs: string[] | 'io-error'): ShimResult {
  if (!a.includes('-C') || !ssd) return err(`make-bcache: the lab makes a cache only with -C ${host.layout.ssd}`, 1);
  if (sigs === 'io-error') return err(`make-bcache: cannot open ${ssd}: Input/output error`, 1);
  if (host.s.ssd === 'ok' && sigs.length) return ok(`UUID:\t\t\t${randomUUID()}\nSet UUID:\t\t${host.s.csetUuid}\nversion:\t\t0\nnbuckets:\t\t953869\n`);
  if (sigs.length && !a.includes('--wipe-bcache')) return err(`Device ${ssd} already has a non-bcache superblock (${sigs.join(', ')}), remove it using wipefs and wipefs -a`, 1);
  host.s.ssd = 'ok';
  host.s.csetUuid = randomUUID();
  host.record('bcache.cache-created', { device: ssd, cset: host.s.csetUuid });
  return ok(`UUID:\t\t\t${randomUUID()}\nSet UUID:\t\t${host.s.csetUuid}\nversion:\t\t0\nnbuckets:\t\t953869\n`);
}

/** `bcache-super-show <ssd>` over the family's cache state. */
export function superShow(host: TrainHost, ssd: string, sigs: string[] | 'io-error'): ShimResult {
  if (sigs === 'io-error') return err(`${ssd}: Input/output error`, 1);
  if (host.s.ssd === 'ok') return ok(`sb.magic\t\tok\nsb.version\t\t3 [cache device]\ndev.uuid\t\t${randomUUIDFor(ssd)}\ncset.uuid\t\t${host.s.csetUuid}\n`);
  if (host.s.ssd === 'new-stale-signature' && sigs.includes('bcache')) return ok(`sb.magic\t\tok\nsb.version\t\t3 [cache device]\ndev.uuid\t\t${randomUUIDFor(ssd)}\ncset.uuid\t\t00000000-57a1-e000-0000-000000000000\n`);
  return err(`${ssd}: bad magic (not a bcache device)`, 1);
}
