/**
 * The guard of every destructive device step (`wipefs -a`, `make-bcache -C`,
 * `mkfs.btrfs` through 01-setup-storage.sh, `btrfs check --repair`): what a
 * device must be before the step may touch it, as a pure function of what
 * the host reports ({@link TsDeviceFacts}: `lsblk`, `wipefs --json`,
 * `findmnt`, `swapon`, `losetup`). A refusal names each reason and what to do.
 *
 * The rules, per purpose:
 * - every purpose: the device exists and can be read; it does not hold the
 *   operating system (`/`, `/boot`, `/boot/efi`, `/usr`, `/var`, swap) on
 *   itself or a partition of it; when `settings.deviceIds` pins it (serial,
 *   wwn, size, loop backing file, filesystem UUID), it matches the pin;
 * - `wipe-cache`: not mounted; no filesystem on it (a bcache superblock or
 *   an empty partition table, what a new or reused SSD carries, is fine);
 *   not a member of the storage array;
 * - `make-cache`: as `wipe-cache`, and blank (wiped first);
 * - `new-array` (the disks 01-setup-storage.sh wipes): pinned by identity
 *   (a name like /dev/sdb can point at another disk after a swap or a new
 *   OS), not mounted, and carrying nothing but bcache backing superblocks or
 *   the old array the approver was shown;
 * - `repair`: carries the array's BTRFS filesystem (its UUID), which is
 *   mounted nowhere.
 *
 * @module
 */
import type { TsDeviceFacts, TsGuardPurpose } from './types';

/** Mount points that make a device the OS's. */
export const OS_MOUNTS = ['/', '/boot', '/boot/efi', '/usr', '/var'];

/** Signatures a cache SSD may carry before it is wiped: a stale bcache superblock or an empty partition table. */
const CACHE_LEFTOVERS = ['bcache', 'dos', 'gpt'];

/** One identity pin of `settings.deviceIds` (`/dev/sdb=serial:WD-123`). */
export interface DevicePin {
  kind: 'serial' | 'wwn' | 'size' | 'backing' | 'uuid';
  value: string;
}

export const PIN_KINDS: ReadonlyArray<DevicePin['kind']> = ['serial', 'wwn', 'size', 'backing', 'uuid'];

/**
 * Parses `settings.deviceIds` (`/dev/sdb=serial:WD-1,/dev/sdc=serial:WD-2`).
 *
 * @returns pins by device path
 * @throws Error naming the bad entry and the expected form
 */
export function parsePins(text: string): Map<string, DevicePin> {
  const out = new Map<string, DevicePin>();
  for (const raw of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\/dev\/[A-Za-z0-9/_.-]+)=([a-z]+):(.+)$/.exec(raw);
    if (!m || !PIN_KINDS.includes(m[2] as DevicePin['kind'])) {
      throw new Error(`settings.deviceIds: "${raw}" is not <device>=<kind>:<value> with kind one of ${PIN_KINDS.join(', ')} (e.g. /dev/sdb=serial:WD-WX11D1234567)`);
    }
    out.set(m[1]!, { kind: m[2] as DevicePin['kind'], value: m[3]! });
  }
  return out;
}

/** What a pin compares against, as found. */
export function pinFound(f: TsDeviceFacts, kind: DevicePin['kind']): string | undefined {
  switch (kind) {
    case 'serial':
      return f.serial;
    case 'wwn':
      return f.wwn;
    case 'size':
      return f.size === undefined ? undefined : String(f.size);
    case 'backing':
      return f.backingFile;
    case 'uuid':
      return f.signatures.find((s) => s.uuid)?.uuid;
  }
}

/** One line of what was found, for gate evidence and refusals. */
export function describeFacts(f: TsDeviceFacts): string {
  if (!f.exists) return `${f.path}: not present`;
  if (f.readError) return `${f.path}: cannot be read (${f.readError})`;
  const size = f.size === undefined ? '?' : humanBytes(f.size);
  const who = [f.type, size, f.model, f.serial ? `serial ${f.serial}` : undefined, f.backingFile ? `backed by ${f.backingFile}` : undefined].filter(Boolean).join(', ');
  const sig = f.signatures.length ? f.signatures.map((s) => `${s.type}${s.label ? ` "${s.label}"` : ''}${s.uuid ? ` ${s.uuid}` : ''}`).join(' + ') : 'no signature';
  const where = f.mounts.length ? `mounted at ${f.mounts.join(', ')}` : 'not mounted';
  return `${f.path}: ${who}; ${sig}; ${where}${f.os.length ? `; holds the OS (${f.os.join(', ')})` : ''}`;
}

function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** What the guard is shown besides the facts. */
export interface GuardContext {
  /** The pin of this device in settings.deviceIds, if any. */
  pin?: DevicePin;
  /** The storage array's filesystem UUID (repair: required on the device; wipe/make-cache: forbidden). */
  arrayUuid?: string;
  /** new-array: the old array's UUID the approver was shown (it may be overwritten). */
  oldArrayUuid?: string;
  /** The inventory field that names this device (for the fix in a refusal). */
  setting: string;
}

/**
 * Decides whether a destructive step may touch a device.
 *
 * @returns the reasons to refuse (empty: allowed)
 */
export function guardReasons(purpose: TsGuardPurpose, f: TsDeviceFacts, c: GuardContext): string[] {
  const reasons: string[] = [];
  const act = { 'wipe-cache': 'wipe', 'make-cache': 'make a cache on', 'new-array': 'create a new array on', repair: 'repair' }[purpose];
  if (!f.exists) return [`${f.path} does not exist on the host (lsblk): check the disk is connected and ${c.setting} names it`];
  if (f.readError) return [`${f.path} cannot be read (${f.readError}): a failed or missing disk; is the replacement installed, and does ${c.setting} name it?`];
  if (f.os.length) reasons.push(`${f.path} holds the operating system (${f.os.join(', ')}): never ${act} it; ${c.setting} must name the ${purpose === 'new-array' ? 'array\'s data disks' : purpose === 'repair' ? 'array\'s device' : 'cache partition (at HEAD: the NVMe\'s third partition, not the OS partition)'}`);
  if (c.pin) {
    const found = pinFound(f, c.pin.kind);
    if (found !== c.pin.value) reasons.push(`${f.path} is not the disk pinned in settings.deviceIds (${c.pin.kind} ${c.pin.value}; found ${found ?? 'none'}): a cable or device name moved; check the label on the disk and fix settings.deviceIds or ${c.setting}`);
  } else if (purpose === 'new-array') {
    const hint = f.serial ? `serial:${f.serial}` : f.wwn ? `wwn:${f.wwn}` : f.backingFile ? `backing:${f.backingFile}` : f.size !== undefined ? `size:${f.size}` : 'serial:<serial>';
    reasons.push(`${f.path} has no identity pinned in settings.deviceIds: a device name can point at another disk after a swap or a new OS; after checking the disk's label, add ${f.path}=${hint}`);
  }
  const arrayMember = c.arrayUuid ? f.signatures.find((s) => s.type === 'btrfs' && s.uuid === c.arrayUuid) : undefined;
  switch (purpose) {
    case 'wipe-cache':
    case 'make-cache': {
      if (f.mounts.length) reasons.push(`${f.path} is mounted at ${f.mounts.join(', ')}: it is in use, not a new cache SSD`);
      if (arrayMember) reasons.push(`${f.path} is a member of the storage array (btrfs ${c.arrayUuid}): wiping it destroys a mirror of the data`);
      else {
        const fs = f.signatures.filter((s) => !CACHE_LEFTOVERS.includes(s.type));
        if (fs.length) reasons.push(`${f.path} holds ${fs.map((s) => `a ${s.type} filesystem${s.uuid ? ` (UUID ${s.uuid})` : ''}${s.label ? ` labelled "${s.label}"` : ''}`).join(' and ')}: a new cache SSD holds none; if it really is the new SSD, wipe it by hand after checking`);
      }
      if (purpose === 'make-cache' && f.signatures.length && reasons.length === 0) reasons.push(`${f.path} still carries ${f.signatures.map((s) => s.type).join(', ')}: wipe it first (wipefs -a)`);
      break;
    }
    case 'new-array': {
      if (f.mounts.length) reasons.push(`${f.path} is mounted at ${f.mounts.join(', ')}: unmount it first, or it is not a disk of a lost array`);
      const other = f.signatures.filter((s) => !(s.type === 'bcache' || (s.type === 'btrfs' && c.oldArrayUuid && s.uuid === c.oldArrayUuid)));
      if (other.length) {
        reasons.push(
          `${f.path} holds ${other.map((s) => `${s.type}${s.uuid ? ` ${s.uuid}` : ''}${s.label ? ` "${s.label}"` : ''}`).join(' and ')}, which the approver was not shown${c.oldArrayUuid ? ` (the old array is ${c.oldArrayUuid})` : ''}: check what is on it before creating an array over it`,
        );
      }
      break;
    }
    case 'repair': {
      if (!arrayMember) {
        const found = f.signatures.map((s) => `${s.type}${s.uuid ? ` ${s.uuid}` : ''}`).join(', ') || 'no signature';
        reasons.push(`${f.path} does not carry the array's filesystem (btrfs ${c.arrayUuid ?? '?'}; found ${found}): ${c.setting} must name a device of the array`);
      }
      if (f.mounts.length) reasons.push(`the filesystem on ${f.path} is mounted at ${f.mounts.join(', ')}: btrfs check --repair needs it unmounted`);
      break;
    }
  }
  return reasons;
}
