/**
 * The train server's storage array: BTRFS on the HDDs (`btrfs` device stats,
 * scrub, check, restore, filesystem show; `mount`; mkfs's new array), its
 * line in `/etc/fstab`, and the polls that notice an fstab edit and a scrub
 * that finished.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ShimResult } from '../family';
import { DISKS, err, MOUNT, ok, relFrom, type TrainHost } from './host';

const MOUNT_OPTS = 'defaults,noatime,compress=zstd:3';

/** The array's `/etc/fstab` line. */
export function fstabLine(host: TrainHost): string {
  return `UUID=${host.s.arrayUuid} ${MOUNT} btrfs ${MOUNT_OPTS} 0 0`;
}

/** A fresh OS's `/etc/fstab`, with or without the array's line. */
export function writeFstab(host: TrainHost, withStorage: boolean): void {
  const path = host.p('/etc/fstab');
  mkdirSync(dirname(path), { recursive: true });
  const text = `# /etc/fstab\nUUID=${randomUUID()} / ext4 errors=remount-ro 0 1\n${withStorage ? fstabLine(host) + '\n' : ''}`;
  writeFileSync(path, text);
  host.seen.set(path, text);
}

/** A new, empty array on `devs` (mkfs, or 01-setup-storage.sh); whatever was there is gone. */
export function createArray(host: TrainHost, devs: string[]): void {
  host.s.arrayUuid = randomUUID();
  host.s.corruption = 'none';
  host.s.dirty = false;
  host.record('btrfs.created', { devices: devs, uuid: host.s.arrayUuid });
}

/** `mount` (lists without operands); only the array on `/mnt/storage`, refused as the kernel would when it is damaged. */
export function mount(host: TrainHost, a: string[], path: (x: string) => string): ShimResult {
  const ops = a.filter((x, i) => !x.startsWith('-') && a[i - 1] !== '-o');
  if (ops.length === 0) {
    const lines = host.s.mounted ? [`${DISKS[0]} on ${host.p(MOUNT)} type btrfs (${host.s.mounted.options})`] : [];
    return ok(lines.join('\n') + (lines.length ? '\n' : ''));
  }
  const oi = a.indexOf('-o');
  const options = oi >= 0 ? (a[oi + 1] ?? '') : 'rw';
  const [dev, target] = ops;
  if (!dev || !target || !DISKS.includes(dev) || path(target) !== host.p(MOUNT)) return err(`mount: lab simulates only ${DISKS[0]} on ${MOUNT}`, 32);
  if (!existsSync(host.p(MOUNT))) return err(`mount: ${MOUNT}: mount point does not exist.`, 32);
  if (!host.s.arrayUuid) return err(`mount: ${MOUNT}: wrong fs type, bad option, bad superblock on ${dev}, missing codepage or helper program.`, 32);
  if (host.s.mounted) return err(`mount: ${MOUNT}: ${dev} already mounted on ${MOUNT}.`, 32);
  const opts = options.split(',');
  const ro = opts.includes('ro');
  if (host.s.corruption === 'severe' && !opts.includes('usebackuproot') && !opts.includes('recovery')) return err(`mount: ${MOUNT}: can't read superblock on ${dev}.`, 32);
  if (host.s.corruption !== 'none' && !ro) return err(`mount: ${MOUNT}: wrong fs type, bad option, bad superblock on ${dev} (BTRFS: open_ctree failed).`, 32);
  host.s.mounted = { options: ro || opts.includes('rw') ? options : `rw,${options}` };
  host.record('mount', { device: dev, target: MOUNT, options });
  return ok('');
}

/** `btrfs device stats | scrub start|status | filesystem show | check [--repair] | restore`. */
export function btrfs(host: TrainHost, a: string[], path: (x: string) => string): ShimResult {
  const [group, verb] = a;
  const mountArg = (): boolean => {
    const t = a.filter((x) => !x.startsWith('-')).at(-1);
    return !!t && (path(t) === host.p(MOUNT) || DISKS.includes(t));
  };
  const requireMounted = (): ShimResult | undefined =>
    !mountArg() ? err(`ERROR: not a btrfs filesystem: ${a.at(-1) ?? ''}`, 1) : !host.s.mounted ? err(`ERROR: ${MOUNT} is not mounted`, 1) : undefined;
  if (group === 'device' && verb === 'stats') {
    const e = requireMounted();
    if (e) return e;
    const corr = host.s.dirty ? 3 : 0;
    return ok(
      DISKS.map((d, i) =>
        ['write_io_errs', 'read_io_errs', 'flush_io_errs', 'corruption_errs', 'generation_errs'].map((k) => `[${d}].${k.padEnd(16)}${k === 'corruption_errs' && i === 0 ? corr : 0}`).join('\n'),
      ).join('\n') + '\n',
    );
  }
  if (group === 'scrub' && verb === 'start') {
    const e = requireMounted();
    if (e) return e;
    if (host.s.scrub && host.s.scrub.finishedAt === undefined) return err(`ERROR: scrub is already running on ${MOUNT}`, 1);
    host.s.scrub = { startedAt: Date.now(), corrected: host.s.dirty ? 3 : 0 };
    host.record('btrfs.scrub-started', { target: MOUNT });
    return ok(`scrub started on ${MOUNT}, fsid ${host.s.arrayUuid}\n`);
  }
  if (group === 'scrub' && verb === 'status') {
    const e = requireMounted();
    if (e) return e;
    const sc = host.s.scrub;
    if (!sc) return ok(`UUID:             ${host.s.arrayUuid}\n\tno stats available\n`);
    const running = sc.finishedAt === undefined;
    return ok(
      `UUID:             ${host.s.arrayUuid}\nScrub started:    ${new Date(sc.startedAt).toUTCString()}\nStatus:           ${running ? 'running' : 'finished'}\n` +
        `Duration:         0:00:0${Math.min(9, Math.round(((sc.finishedAt ?? Date.now()) - sc.startedAt) / 1000))}\n` +
        (running ? '' : sc.corrected ? `Error summary:    csum=${sc.corrected}\n  Corrected:      ${sc.corrected}\n  Uncorrectable:  0\n  Unverified:     0\n` : 'Error summary:    no errors found\n'),
    );
  }
  if (group === 'filesystem' && verb === 'show') {
    if (!host.s.arrayUuid) return ok('');
    return ok(`Label: 'storage'  uuid: ${host.s.arrayUuid}\n\tTotal devices 3 FS bytes used 1.21TiB\n${DISKS.map((d, i) => `\tdevid    ${i + 1} size 7.28TiB used 0.81TiB path ${d}`).join('\n')}\n`);
  }
  if (group === 'check') {
    const dev = a.find((x) => x.startsWith('/dev/'));
    if (!dev || !DISKS.includes(dev)) return err(`ERROR: cannot open ${dev ?? '(no device)'}`, 1);
    if (!host.s.arrayUuid) return err(`ERROR: ${dev}: no btrfs filesystem`, 1);
    const repair = a.includes('--repair');
    if (host.s.mounted && (repair || !host.s.mounted.options.split(',').includes('ro'))) return err(`ERROR: ${dev} is currently mounted, unmount it first`, 1);
    const findings =
      host.s.corruption === 'none'
        ? 'found 1329814683648 bytes used, no error found\n'
        : `parent transid verify failed on 30425088 wanted 4243 found 4241\nERROR: errors found in extent allocation tree or chunk allocation\nERROR: ${host.s.corruption === 'severe' ? 12 : 2} errors found in fs roots\n`;
    if (!repair) return { stdout: `Opening filesystem to check...\nChecking filesystem on ${dev}\nUUID: ${host.s.arrayUuid}\n${findings}`, exitCode: host.s.corruption === 'none' ? 0 : 1 };
    host.record('btrfs.repair', { device: dev, severity: host.s.corruption });
    if (host.s.corruption === 'moderate') {
      host.s.corruption = 'none';
      return ok(`enabling repair mode\nChecking filesystem on ${dev}\nfixed 2 errors\nfound 1329814683648 bytes used, no error found\n`);
    }
    if (host.s.corruption === 'severe') return err(`enabling repair mode\nERROR: failed to repair: extent tree damaged beyond repair`, 1);
    return ok('no error found\n');
  }
  if (group === 'restore') {
    const ops = a.filter((x) => !x.startsWith('-'));
    const dev = ops[1];
    const out = ops[2];
    if (!dev || !DISKS.includes(dev) || !out) return err('usage: btrfs restore <device> <path>', 1);
    const dst = path(out);
    mkdirSync(dst, { recursive: true });
    cpSync(host.p(`${MOUNT}/homes`), join(dst, 'homes'), { recursive: true });
    host.record('btrfs.restore', { device: dev, to: relFrom(host.root, dst) });
    return ok(`Restoring ${relFrom(host.root, dst)}/homes\n`);
  }
  return err(`lab: btrfs ${a.join(' ')} is not simulated`, 1);
}

/** Records each line a shell appended to `/etc/fstab`. */
export function pollFstab(host: TrainHost): void {
  const path = host.p('/etc/fstab');
  const before = (host.seen.get(path) ?? '').split('\n');
  const now = host.changed(path);
  if (now === undefined) return;
  for (const line of now.split('\n')) {
    if (line.trim() && !before.includes(line)) host.record('fstab.appended', { line });
  }
}

/** Finishes a scrub after `scrubMs`: the filesystem is clean again. */
export function pollScrub(host: TrainHost): void {
  const sc = host.s.scrub;
  if (sc && sc.finishedAt === undefined && Date.now() - sc.startedAt >= host.scrubMs) {
    sc.finishedAt = Date.now();
    host.s.dirty = false;
  }
}
