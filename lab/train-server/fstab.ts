/**
 * The train server's `/etc/fstab` (under the host root): a fresh OS's, with
 * or without the array's line, and the poll that records each line a shell
 * appends.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MOUNT, type TrainHost } from './host';

/** The seed's fstab options for the array. */
export const FSTAB_OPTS = 'defaults,noatime,compress=zstd:3';

/** The array's `/etc/fstab` line. */
export function fstabLine(uuid: string): string {
  return `UUID=${uuid} ${MOUNT} btrfs ${FSTAB_OPTS} 0 0`;
}

/** A fresh OS's `/etc/fstab`, with the array's line when `arrayUuid` is given. */
export function writeFstab(host: TrainHost, arrayUuid: string | null): void {
  const path = host.p('/etc/fstab');
  mkdirSync(dirname(path), { recursive: true });
  const text = `# /etc/fstab\nUUID=${randomUUID()} / ext4 errors=remount-ro 0 1\n${arrayUuid ? fstabLine(arrayUuid) + '\n' : ''}`;
  writeFileSync(path, text);
  host.seen.set(path, text);
}

/** Records each line a shell appended to `/etc/fstab`. */
export function pollFstab(host: TrainHost): void {
  const path = host.p('/etc/fstab');
  const before = (host.seen.get(path) ?? '').split('\n');
  const now = host.changed(path);
  if (now === undefined) return;
  for (const line of now.split('\n')) {
    if (line.trim() && !line.trim().startsWith('#') && !before.includes(line)) host.record('fstab.appended', { line });
  }
}
