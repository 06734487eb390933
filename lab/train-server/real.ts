/**
 * The train server's storage on real devices: BTRFS RAID1 (data and
 * metadata) over two loop devices backed by sparse files, mounted at the
 * host's `/mnt/storage`, and a third loop device standing in for the bcache
 * cache partition. The host's storage tools run for real on them (`mount`,
 * `btrfs scrub|check|restore|device stats`, `mkfs.btrfs`, `wipefs`, `lsblk`,
 * `blkid -p`, `findmnt`, `btrfs-find-root`); bcache itself has no kernel
 * module here, so `make-bcache` and `bcache-super-show` answer from the
 * family's simulated cache state (over the real device's presence and
 * signatures).
 *
 * Faults are made for real: a disk detached (`losetup -d`), blocks of home
 * files overwritten on one mirror (the boot's reads find one and repair it
 * from the other mirror; a scrub finds the rest), the tree root (and its
 * backups) zeroed on both mirrors, the disks wiped (`wipefs -a`), the cache
 * device detached and a new one with an old partition table put in its
 * place.
 *
 * Safety: every device operand of a mutating tool must be one of this lab's
 * loop devices, and every path operand is mapped under the host root, so
 * nothing a host command says can reach another disk or mount point.
 * Everything lives under `$TMPDIR/lb-ts-<pid>-*`: a lab that crashed leaves
 * loops whose backing files name a dead pid, which the next start unmounts,
 * detaches and removes.
 *
 * Needs root, loop devices and btrfs-progs; without them {@link prepare}
 * says what is missing and how to get it.
 *
 * @module
 */
import { execFile, spawnSync } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { ShimResult } from '../family';
import { err, LABEL, MOUNT, ok, SETUP_MOUNT_OPTS, TRAIN_USERS, type DeviceLayout, type TrainHost } from './host';
import { cacheCreate, superShow } from './sim';
import { operands, type StorageFault, type TrainStorage } from './storage';

/** Prefix of everything this backend creates (backing files' directory, hence the loops' BACK-FILE). */
export const LOOP_PREFIX = 'lb-ts-';
const HDD_MIB = 384;
const SSD_MIB = 64;
const TOOLS = ['losetup', 'mkfs.btrfs', 'btrfs', 'btrfs-find-root', 'blkid', 'wipefs', 'mount', 'umount', 'findmnt', 'lsblk', 'blockdev', 'dd'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runSync(cmd: string, args: string[], timeoutMs = 120_000): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status ?? (r.error ? 127 : 1), stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? `${r.error.message}\n` : '') };
}

function run(cmd: string, args: string[], cwd?: string, timeoutMs = 600_000): Promise<Run> {
  return new Promise((resolvePromise) => {
    execFile(cmd, args, { encoding: 'utf8', cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 127) : 0;
      resolvePromise({ code, stdout: stdout ?? '', stderr: (stderr ?? '') + (error && code === 127 ? `${error.message}\n` : '') });
    });
  });
}

function must(r: Run, what: string): string {
  if (r.code !== 0) throw new Error(`lab (real storage): ${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface LoopRow {
  name: string;
  'back-file': string | null;
}

function loopList(): LoopRow[] {
  const r = runSync('losetup', ['--list', '--json', '--output', 'NAME,BACK-FILE']);
  if (r.code !== 0 || !r.stdout.trim()) return [];
  return (JSON.parse(r.stdout) as { loopdevices?: LoopRow[] }).loopdevices ?? [];
}

interface MountRow {
  source: string;
  target: string;
  options?: string;
  fstype?: string;
}

function mountList(): MountRow[] {
  const r = runSync('findmnt', ['--json', '--list', '--output', 'SOURCE,TARGET,FSTYPE,OPTIONS']);
  if (r.code !== 0 || !r.stdout.trim()) return [];
  return (JSON.parse(r.stdout) as { filesystems?: MountRow[] }).filesystems ?? [];
}

/** The pid a backing file's directory names (`…/lb-ts-<pid>-…/…`), if it is one of ours. */
function ownerPid(backFile: string | null): number | undefined {
  const m = backFile ? new RegExp(`/${LOOP_PREFIX}(\\d+)-[^/]*/`).exec(backFile) : null;
  return m ? Number(m[1]) : undefined;
}

/**
 * Removes what a crashed lab left: loops whose backing files sit in a
 * `lb-ts-<pid>-*` directory of a process that is gone (their mounts first),
 * then those directories. Returns what it cleaned, for the lab's log.
 */
export function cleanLeftovers(): string[] {
  const done: string[] = [];
  const stale = loopList().filter((l) => {
    const pid = ownerPid(l['back-file']);
    return pid !== undefined && !alive(pid);
  });
  const names = new Set(stale.map((l) => l.name));
  for (const m of mountList()) {
    if (!names.has(m.source)) continue;
    if (runSync('umount', [m.target]).code !== 0) runSync('umount', ['-l', m.target]);
    done.push(`unmounted ${m.target}`);
  }
  for (const l of stale) {
    runSync('losetup', ['--detach', l.name]);
    done.push(`detached ${l.name} (${l['back-file']})`);
  }
  for (const e of readdirSync(tmpdir())) {
    const m = new RegExp(`^${LOOP_PREFIX}(\\d+)-`).exec(e);
    if (m && !alive(Number(m[1]))) {
      rmSync(join(tmpdir(), e), { recursive: true, force: true });
      done.push(`removed ${join(tmpdir(), e)}`);
    }
  }
  return done;
}

/** Real BTRFS on loop devices (see the module's overview). */
export class RealStorage implements TrainStorage {
  readonly kind = 'real';
  private dir = '';
  private images = { hdd1: '', hdd2: '', ssd: '' };
  private loops = { hdd1: '', hdd2: '', ssd: '' };
  private detached = { hdd2: false, ssd: false };
  /** Seconds since boot when the lab started: older kernel lines are not this host's. */
  private since = 0;
  private corruption: 'none' | 'root' | 'roots' = 'none';
  /** After a power outage: damage on one mirror until a scrub started since has finished without uncorrectable errors. */
  private damage: { scrubbed: boolean } | null = null;
  /** What the last start cleaned of a crashed lab. */
  cleaned: string[] = [];

  constructor(private readonly host: TrainHost) {}

  layout(): DeviceLayout {
    const { hdd1, hdd2, ssd } = this.loops;
    return { hdds: [hdd1, hdd2], fs: [hdd1, hdd2], ssd, ids: { [hdd1]: `backing:${this.images.hdd1}`, [hdd2]: `backing:${this.images.hdd2}` } };
  }

  async prepare(): Promise<void> {
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      throw new Error(
        'lab: the train server on real storage needs root (losetup, mkfs.btrfs and mount on loop devices); run the lab (or the conformance suite) as root, or use the simulation (--train-backend sim)',
      );
    }
    const missing = TOOLS.filter((t) => runSync('sh', ['-c', `command -v ${t}`]).code !== 0);
    if (missing.length) {
      throw new Error(`lab: the train server on real storage needs ${missing.join(', ')}: install btrfs-progs and util-linux (npm run setup installs btrfs-progs with apt-get), then try again`);
    }
    if (!existsSync('/dev/loop-control')) {
      throw new Error('lab: this machine has no loop devices (/dev/loop-control is missing): load the loop module (modprobe loop) or run where loop devices are available');
    }
    if (!readFileSync('/proc/filesystems', 'utf8').includes('btrfs')) {
      runSync('modprobe', ['btrfs']);
      if (!readFileSync('/proc/filesystems', 'utf8').includes('btrfs')) throw new Error('lab: the kernel has no btrfs support (not in /proc/filesystems, modprobe btrfs failed)');
    }
    this.cleaned = cleanLeftovers();
  }

  async create(): Promise<void> {
    this.since = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    this.dir = mkdtempSync(join(tmpdir(), `${LOOP_PREFIX}${process.pid}-`));
    this.images = { hdd1: join(this.dir, 'hdd1.img'), hdd2: join(this.dir, 'hdd2.img'), ssd: join(this.dir, 'ssd.img') };
    sparse(this.images.hdd1, HDD_MIB);
    sparse(this.images.hdd2, HDD_MIB);
    sparse(this.images.ssd, SSD_MIB);
    for (const k of ['hdd1', 'hdd2', 'ssd'] as const) this.loops[k] = must(runSync('losetup', ['--find', '--show', this.images[k]]), `losetup ${this.images[k]}`).trim();
    const { hdd1, hdd2 } = this.loops;
    must(runSync('mkfs.btrfs', ['-f', '-L', LABEL, '-d', 'raid1', '-m', 'raid1', hdd1, hdd2]), 'mkfs.btrfs');
    must(runSync('btrfs', ['device', 'scan', hdd1, hdd2]), 'btrfs device scan');
    mkdirSync(this.host.p(MOUNT), { recursive: true });
    must(runSync('mount', ['-o', SETUP_MOUNT_OPTS, hdd1, this.host.p(MOUNT)]), 'mount');
  }

  private mine(): string[] {
    return [this.loops.hdd1, this.loops.hdd2, this.loops.ssd].filter(Boolean);
  }

  mountOptions(): string | null {
    return mountList().find((m) => m.target === this.host.p(MOUNT))?.options ?? null;
  }

  arrayUuid(): string | null {
    if (this.detached.hdd2 && !this.loops.hdd1) return null;
    const r = runSync('blkid', ['-p', '-o', 'export', this.loops.hdd1]);
    const tags = Object.fromEntries(r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    return r.code === 0 && tags.TYPE === 'btrfs' ? (tags.UUID ?? null) : null;
  }

  dmesg(): string[] {
    const r = runSync('dmesg', []);
    const names = this.mine().map((d) => basename(d));
    return r.stdout.split('\n').filter((line) => {
      const t = /^\[\s*(\d+\.\d+)\]/.exec(line);
      return !!t && Number(t[1]) >= this.since && names.some((n) => new RegExp(`\\b${n}\\b`).test(line));
    });
  }

  ssdSignatures(): string[] | 'io-error' {
    if (this.detached.ssd) return 'io-error';
    const r = runSync('blkid', ['-p', '-o', 'export', this.loops.ssd]);
    return r.stdout
      .split('\n')
      .filter((l) => /^(TYPE|PTTYPE)=/.test(l))
      .map((l) => l.slice(l.indexOf('=') + 1));
  }

  async snapshot(name: string): Promise<string> {
    const dir = this.host.p(`${MOUNT}/snapshots`);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, name);
    must(runSync('btrfs', ['subvolume', 'snapshot', '-r', this.host.p(MOUNT), path]), 'btrfs subvolume snapshot');
    return path;
  }

  async deleteSnapshot(path: string): Promise<void> {
    must(runSync('btrfs', ['subvolume', 'delete', path]), 'btrfs subvolume delete');
  }

  problems(): string[] {
    const out: string[] = [];
    if (!this.arrayUuid()) out.push('no btrfs array');
    if (this.corruption !== 'none') out.push(`btrfs corruption (${this.corruption === 'roots' ? 'tree root and backup roots' : 'tree root'} damaged on both mirrors)`);
    if (this.detached.hdd2) out.push(`array degraded: ${this.loops.hdd2} missing`);
    const opts = this.mountOptions();
    if (opts === null) out.push(`${MOUNT} not mounted`);
    else if (opts.split(',').includes('ro')) out.push(`${MOUNT} mounted read-only`);
    if (this.damage && opts !== null) {
      const st = runSync('btrfs', ['scrub', 'status', this.host.p(MOUNT)]).stdout;
      if (this.damage.scrubbed && /Status:\s+finished/.test(st) && /Uncorrectable:\s+0\b|no errors found/.test(st)) this.damage = null;
    }
    if (this.damage) out.push('filesystem dirty: scrub needed');
    return out;
  }

  async stop(): Promise<void> {
    const mine = new Set(this.mine());
    for (const m of mountList()) {
      if (mine.has(m.source) || m.target.startsWith(this.host.root + '/')) {
        if (runSync('umount', [m.target]).code !== 0) runSync('umount', ['-l', m.target]);
      }
    }
    for (const l of loopList()) {
      if (this.dir && l['back-file']?.startsWith(this.dir + '/')) runSync('losetup', ['--detach', l.name]);
    }
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------ faults ----

  private unmount(): void {
    const target = this.host.p(MOUNT);
    if (mountList().some((m) => m.target === target)) must(runSync('umount', [target]), `umount ${target}`);
  }

  async breakFault(fault: StorageFault): Promise<void> {
    const { hdd1, hdd2, ssd } = this.loops;
    switch (fault) {
      case 'os-disk':
        this.unmount();
        return;
      case 'wiped':
        this.unmount();
        if (this.detached.hdd2) await this.breakFault('reattach');
        must(runSync('wipefs', ['--all', hdd1]), 'wipefs hdd1');
        must(runSync('wipefs', ['--all', hdd2]), 'wipefs hdd2');
        runSync('btrfs', ['device', 'scan', '--forget']);
        this.corruption = 'none';
        this.damage = null;
        return;
      case 'power-outage':
        return this.powerOutage();
      case 'corrupt-root':
      case 'corrupt-roots':
        return this.corruptRoots(fault === 'corrupt-roots');
      case 'corrupt-repairable':
        throw new Error('lab: train-server.btrfs-corruption.repairable exists only in the simulation (no real damage is known that btrfs check --repair is sure to fix)');
      case 'degraded':
        this.unmount();
        must(runSync('losetup', ['--detach', hdd2]), 'losetup --detach hdd2');
        this.detached.hdd2 = true;
        runSync('btrfs', ['device', 'scan', '--forget']);
        return;
      case 'reattach':
        if (!this.detached.hdd2) return;
        must(runSync('losetup', [hdd2, this.images.hdd2]), `losetup ${hdd2} (the loop device may have been taken by another process: start the lab again)`);
        this.detached.hdd2 = false;
        must(runSync('btrfs', ['device', 'scan', hdd1, hdd2]), 'btrfs device scan');
        return;
      case 'ssd-failed':
        if (this.detached.ssd) return;
        must(runSync('losetup', ['--detach', ssd]), 'losetup --detach ssd');
        this.detached.ssd = true;
        return;
      case 'ssd-swapped': {
        // The new SSD comes with an old (empty) DOS partition table: a signature wipefs really finds and erases.
        const img = join(this.dir, `ssd-${Date.now()}.img`);
        sparse(img, SSD_MIB);
        const mbr = Buffer.alloc(512);
        mbr.writeUInt32LE(0x1234abcd, 440);
        mbr[510] = 0x55;
        mbr[511] = 0xaa;
        const fd = openSync(img, 'r+');
        writeSync(fd, mbr, 0, 512, 0);
        closeSync(fd);
        if (!this.detached.ssd) must(runSync('losetup', ['--detach', ssd]), 'losetup --detach ssd');
        must(runSync('losetup', [ssd, img]), `losetup ${ssd} (the loop device may have been taken by another process: start the lab again)`);
        this.images.ssd = img;
        this.detached.ssd = false;
        return;
      }
    }
  }

  /** The corruption counter of the array's devices (`btrfs device stats`). */
  private corruptErrs(): number {
    const r = runSync('btrfs', ['device', 'stats', this.host.p(MOUNT)]);
    return r.stdout.split('\n').reduce((n, l) => n + (/corruption_errs\s+(\d+)/.exec(l) ? Number(/corruption_errs\s+(\d+)/.exec(l)![1]) : 0), 0);
  }

  private async powerOutage(): Promise<void> {
    if (this.mountOptions() === null) throw new Error('lab: the array must be mounted for a power outage');
    const files = TRAIN_USERS.slice(0, 3).map((u) => this.host.p(`${MOUNT}/homes/${u}/projects/weights.bin`));
    const heads = files.map((f) => readFileSync(f).subarray(0, 4096));
    if (heads.some((h) => h.length < 4096)) throw new Error('lab: the home files are too small to damage one block (homeBytes >= 4096)');
    this.unmount();
    // One block of each file overwritten on the first mirror only: the second keeps a good copy.
    for (const head of heads) {
      const at = findOnDevice(this.loops.hdd1, head.subarray(0, 64));
      if (at < 0) throw new Error(`lab: a home file's data was not found on ${this.loops.hdd1}`);
      writeDevice(this.loops.hdd1, at, Buffer.alloc(4096, 0xab));
    }
    runSync('blockdev', ['--flushbufs', this.loops.hdd1]);
    must(runSync('mount', ['-o', SETUP_MOUNT_OPTS, this.loops.hdd1, this.host.p(MOUNT)]), 'mount after the outage');
    // The boot's first reads: the kernel reads alice's file from the damaged mirror (a fresh process
    // picks a mirror by its pid), finds the checksum wrong and repairs it from the good one.
    const before = this.corruptErrs();
    // The kernel counts the error from its completion worker: give it a moment after each read.
    const counted = (): boolean => {
      for (let k = 0; k < 10; k++) {
        if (this.corruptErrs() !== before) return true;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      }
      return false;
    };
    for (let i = 0; i < 8; i++) {
      // Two readers in a row: consecutive pids, so one of them likely reads the other mirror.
      // Each read from the disk (its cached pages dropped first), by a fresh process.
      // The page cache is dropped without a process of its own (a `dd iflag=nocache` between the reads
      // made every reader's pid of the same parity on a quiet machine, so all read the same mirror).
      for (let j = 0; j < 2; j++) {
        if (!dropPageCache()) runSync('dd', [`if=${files[0]}`, 'iflag=nocache', 'count=0', 'status=none']);
        runSync('dd', [`if=${files[0]}`, 'of=/dev/null', 'bs=64k', 'status=none']);
      }
      if (counted()) break;
    }
    if (this.corruptErrs() === before) throw new Error('lab: the damaged block was never read from the damaged mirror; the power-outage fault is incomplete');
    this.damage = { scrubbed: false };
  }

  private async corruptRoots(all: boolean): Promise<void> {
    if (this.mountOptions() === null) throw new Error('lab: the array must be mounted to damage it');
    // A few transactions, so the superblock's backup roots are the newest ones and older roots remain on disk.
    for (let i = 1; i <= 5; i++) {
      writeFileSync(this.host.p(`${MOUNT}/.lab-generation`), `${Date.now()} ${i}\n`);
      must(runSync('btrfs', ['filesystem', 'sync', this.host.p(MOUNT)]), 'btrfs filesystem sync');
    }
    this.unmount();
    const { hdd1, hdd2 } = this.loops;
    const sup = must(runSync('btrfs', ['inspect-internal', 'dump-super', '-f', hdd1]), 'dump-super');
    const root = Number(/^root\s+(\d+)/m.exec(sup)?.[1] ?? NaN);
    const backups = [...sup.matchAll(/backup_tree_root:\s+(\d+)\s+gen:/g)].map((m) => Number(m[1]));
    const targets = [...new Set(all ? [root, ...backups] : [root])].filter((n) => Number.isFinite(n));
    // Map every block on both mirrors first (from the chunk tree: old roots are free space to
    // btrfs-map-logical), while the tree root is still readable.
    const chunks = chunkMap(hdd1);
    const places: Array<{ device: string; physical: number }> = [];
    for (const logical of targets) {
      const c = chunks.find((x) => logical >= x.logical && logical < x.logical + x.length);
      if (!c) throw new Error(`lab: no chunk maps tree root ${logical}`);
      for (const st of c.stripes) places.push({ device: st.device, physical: st.offset + (logical - c.logical) });
    }
    if (places.length < 2 * targets.length) throw new Error(`lab: expected two mirrors of each tree root, found ${places.length} places for ${targets.length} roots`);
    for (const p of places) {
      if (p.device !== hdd1 && p.device !== hdd2) throw new Error(`lab: refusing to write to ${p.device}: not one of this lab's devices`);
      writeDevice(p.device, p.physical, Buffer.alloc(16384));
    }
    for (const d of [hdd1, hdd2]) runSync('blockdev', ['--flushbufs', d]);
    this.corruption = all ? 'roots' : 'root';
  }

  // ------------------------------------------------------------- tools ----

  /** Refuses a device operand that is not one of this lab's loops. */
  private ownDevices(argv: string[], allowed: string[]): string | undefined {
    for (const a of argv) {
      for (const d of a.match(/\/dev\/[A-Za-z0-9/_-]+/g) ?? []) {
        if (!allowed.includes(d)) return `lab: ${d} is not one of this lab's devices (${allowed.join(', ')}); refused`;
      }
    }
    return undefined;
  }

  /** Absolute path operands mapped under the host root (devices and kernel files left alone). */
  private mapPaths(argv: string[], cwd: string): string[] {
    return argv.map((a) => (isAbsolute(a) && !a.startsWith('/dev/') && !a.startsWith('/proc/') && !a.startsWith('/sys/') ? this.host.hostPath(a, cwd) : a));
  }

  private underRoot(p: string, cwd: string): boolean {
    const abs = resolve(cwd, p);
    return abs === this.host.root || abs.startsWith(this.host.root + '/');
  }

  async shim(tool: string, a: string[], cwd: string): Promise<ShimResult> {
    const result = (r: Run): ShimResult => ({ stdout: r.stdout, stderr: r.stderr, exitCode: r.code });
    const array = [this.loops.hdd1, this.loops.hdd2];
    switch (tool) {
      case 'lsblk':
      case 'findmnt':
      case 'blkid':
      case 'swapon':
        // Read-only: the machine's real view (the OS disk is this machine's).
        return result(await run(tool, a, cwd));
      case 'losetup': {
        if (!a.some((x) => x === '--list' || x === '-l') || a.some((x) => /^(-d|--detach|-D|--detach-all|-f|--find|-c|--set-capacity|-r)$/.test(x))) return err('lab: only `losetup --list` is allowed on this host', 1);
        return result(await run('losetup', a, cwd));
      }
      case 'dmesg':
        return ok([...this.host.s.dmesg, ...this.dmesg()].join('\n') + '\n');
      case 'btrfs-find-root': {
        const bad = this.ownDevices(a, array);
        return bad ? err(bad, 1) : result(await run(tool, a, cwd));
      }
      case 'mount': {
        if (operands(a).length === 0) return result(await run('mount', a, cwd));
        const bad = this.ownDevices(a, array);
        if (bad) return err(bad, 32);
        const argv = this.mapPaths(a, cwd);
        const target = operands(argv).at(-1) ?? '';
        if (!this.underRoot(target, cwd)) return err(`lab: mount target ${target} is outside this host`, 32);
        const r = await run('mount', argv, cwd);
        if (r.code === 0) this.host.record('mount', { device: operands(a)[0], target: MOUNT, options: optionValueOf(a) ?? 'rw' });
        return result(r);
      }
      case 'umount': {
        const bad = this.ownDevices(a, array);
        if (bad) return err(bad, 32);
        const argv = this.mapPaths(a, cwd);
        const target = operands(argv)[0] ?? '';
        if (!target.startsWith('/dev/') && !this.underRoot(target, cwd)) return err(`lab: ${target} is outside this host`, 32);
        const r = await run('umount', argv, cwd);
        if (r.code === 0) this.host.record('umount', { target: MOUNT });
        return result(r);
      }
      case 'btrfs':
        return this.btrfs(a, cwd, array);
      case 'mkfs.btrfs': {
        const bad = this.ownDevices(a, array);
        if (bad) return err(bad, 1);
        const r = await run('mkfs.btrfs', a, cwd);
        if (r.code === 0) {
          this.corruption = 'none';
          this.damage = null;
          this.host.record('btrfs.created', { devices: operands(a).filter((x) => x.startsWith('/dev/')), uuid: /UUID:\s+(\S+)/.exec(r.stdout)?.[1] });
        }
        return result(r);
      }
      case 'wipefs': {
        // Listing signatures (no -a) is read-only: any device, as lsblk.
        const erase = a.some((x) => x === '--all' || /^-[a-zA-Z]*a/.test(x) || x === '--offset' || /^-[a-zA-Z]*o/.test(x));
        if (!erase) return result(await run('wipefs', a, cwd));
        const bad = this.ownDevices(a, [...array, this.loops.ssd]);
        if (bad) return err(bad, 1);
        const dev = operands(a).find((x) => x.startsWith('/dev/'));
        if (dev === this.loops.ssd && this.detached.ssd) return err(`wipefs: error: ${dev}: probing initialization failed: No such device or address`, 1);
        const r = await run('wipefs', a, cwd);
        if (r.code === 0 && /bytes were erased/.test(r.stdout)) {
          if (dev === this.loops.ssd) {
            this.host.s.ssd = 'blank';
            this.host.record('ssd.wiped', { device: dev });
          } else {
            this.host.record('disk.wiped', { device: dev });
          }
        }
        return result(r);
      }
      case 'make-bcache': {
        const dev = operands(a).find((x) => x.startsWith('/dev/'));
        if (a.includes('-B') && dev && array.includes(dev)) return ok(`lab: bcache is simulated on this host; the filesystem goes on ${dev} itself\n`);
        return cacheCreate(this.host, a, dev === this.loops.ssd ? dev : undefined, this.ssdSignatures());
      }
      case 'bcache-super-show': {
        const dev = operands(a).find((x) => x.startsWith('/dev/'));
        if (dev !== this.loops.ssd) return err(`${dev ?? ''}: bad magic (not a bcache device)`, 1);
        return superShow(this.host, dev, this.ssdSignatures());
      }
      default:
        return err(`lab: ${tool} is not a storage tool`, 127);
    }
  }

  private async btrfs(a: string[], cwd: string, array: string[]): Promise<ShimResult> {
    const result = (r: Run): ShimResult => ({ stdout: r.stdout, stderr: r.stderr, exitCode: r.code });
    const [group, verb] = a;
    const allowed: Record<string, string[]> = {
      device: ['stats', 'scan', 'usage'],
      scrub: ['start', 'status', 'cancel', 'resume'],
      filesystem: ['show', 'df', 'usage', 'sync'],
      subvolume: ['list', 'show', 'snapshot', 'delete'],
      'inspect-internal': ['dump-super'],
    };
    if (group !== 'check' && group !== 'restore' && !(group && allowed[group]?.includes(verb ?? ''))) return err(`lab: btrfs ${a.slice(0, 2).join(' ')} is not allowed on this host`, 1);
    const bad = this.ownDevices(a, array);
    if (bad) return err(bad, 1);
    const argv = this.mapPaths(a, cwd);
    for (const p of operands(argv.slice(group === 'check' || group === 'restore' ? 1 : 2))) {
      if (isAbsolute(p) && !p.startsWith('/dev/') && !this.underRoot(p, cwd)) return err(`lab: ${p} is outside this host`, 1);
    }
    const r = await run('btrfs', argv, cwd);
    if (r.code === 0 && group === 'scrub' && verb === 'start') {
      if (this.damage) this.damage.scrubbed = true;
      this.host.record('btrfs.scrub-started', { target: MOUNT });
    }
    if (group === 'check' && a.includes('--repair')) this.host.record('btrfs.repair', { device: operands(a.slice(1)).find((x) => x.startsWith('/dev/')), result: r.code === 0 ? 'fixed' : 'failed' });
    if (group === 'restore' && r.code === 0) {
      const ops = operands(argv.slice(1), ['-t', '-f', '-r', '-d']);
      this.host.record('btrfs.restore', { device: ops[0], to: ops[1] ? `/${ops[1].slice(this.host.root.length + 1)}` : undefined });
    }
    return result(r);
  }
}

interface Chunk {
  logical: number;
  length: number;
  stripes: Array<{ device: string; offset: number }>;
}

/** The filesystem's chunk map (`dump-tree -t chunk`), stripes by device path (`filesystem show`). */
function chunkMap(device: string): Chunk[] {
  const show = must(runSync('btrfs', ['filesystem', 'show', device]), 'btrfs filesystem show');
  const paths = new Map([...show.matchAll(/devid\s+(\d+)\s+size.*path (\S+)/g)].map((m) => [Number(m[1]), m[2]!]));
  const tree = must(runSync('btrfs', ['inspect-internal', 'dump-tree', '-t', 'chunk', device]), 'dump-tree -t chunk');
  const out: Chunk[] = [];
  for (const part of tree.split(/\n\s*item \d+ key /).slice(1)) {
    const head = /^\(FIRST_CHUNK_TREE CHUNK_ITEM (\d+)\)/.exec(part);
    const len = /length (\d+)/.exec(part);
    if (!head || !len) continue;
    const stripes = [...part.matchAll(/stripe \d+ devid (\d+) offset (\d+)/g)].map((m) => ({ device: paths.get(Number(m[1])) ?? `devid ${m[1]}`, offset: Number(m[2]) }));
    out.push({ logical: Number(head[1]), length: Number(len[1]), stripes });
  }
  return out;
}

function optionValueOf(a: string[]): string | undefined {
  const i = a.indexOf('-o');
  return i >= 0 ? a[i + 1] : undefined;
}

function sparse(path: string, mib: number): void {
  writeFileSync(path, '');
  const fd = openSync(path, 'r+');
  try {
    // A sparse file: one byte at the end.
    writeSync(fd, Buffer.alloc(1), 0, 1, mib * 1024 * 1024 - 1);
  } finally {
    closeSync(fd);
  }
}

/** The first offset of `pattern` on a block device (read in 16 MiB chunks); -1 when absent. */
function findOnDevice(device: string, pattern: Buffer): number {
  const fd = openSync(device, 'r');
  try {
    const buf = Buffer.alloc(16 * 1024 * 1024);
    for (let off = 0; ; off += buf.length - pattern.length) {
      const n = readSync(fd, buf, 0, buf.length, off);
      if (n <= 0) return -1;
      const i = buf.subarray(0, n).indexOf(pattern);
      if (i >= 0) return off + i;
      if (n < buf.length) return -1;
    }
  } finally {
    closeSync(fd);
  }
}

/** Writes bytes at an offset of a block device, through to its backing file. */
function writeDevice(device: string, offset: number, data: Buffer): void {
  const fd = openSync(device, 'r+');
  try {
    writeSync(fd, data, 0, data.length, offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Drops the clean page cache (root: the real backend runs as root), so the next read goes to a disk; false when it cannot. */
function dropPageCache(): boolean {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '1');
    return true;
  } catch {
    return false;
  }
}
