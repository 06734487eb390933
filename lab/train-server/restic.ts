/**
 * The train server's real restic repository, filled at lab start the way
 * the repository's backup script fills it: `homes`, `docker-volumes` and
 * `shared/tensorboard` (config.sh is not backed up), tagged `daily`. The
 * older snapshot straight from `/mnt/storage/…` (as at 5a02c9d), the latest
 * from a read-only snapshot `/mnt/storage/snapshots/backup_<ts>/…` (as at
 * HEAD), so a restore must take its paths from the snapshot, not assume
 * them. Also the manifest of what a complete restore must give back.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { resticPath } from '../../src/tools';
import { MOUNT, NODE, walk, type TrainHost } from './host';

/** What the backup script backs up, relative to the mount point. */
export const BACKED_UP = ['homes', 'docker-volumes', 'shared/tensorboard'];

function restic(host: TrainHost, args: string[], cwd?: string): string {
  return execFileSync(resticPath(), ['-r', host.repo, ...args], {
    env: { ...process.env, RESTIC_PASSWORD_FILE: host.passwordPath, RESTIC_CACHE_DIR: join(host.repo, '..', 'cache') },
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}_${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** Creates the repository if missing and takes the two daily snapshots (the latest has one file more). */
export async function makeBackups(host: TrainHost): Promise<void> {
  if (!existsSync(join(host.repo, 'config'))) {
    mkdirSync(host.repo, { recursive: true });
    restic(host, ['init']);
  }
  const backup = (base: string): string => {
    const out = restic(host, ['backup', '--json', '--tag', 'daily', '--host', NODE, ...BACKED_UP.map((d) => join(base, d))]);
    return (JSON.parse(out.trim().split('\n').at(-1)!) as { snapshot_id: string }).snapshot_id;
  };
  const older = backup(host.p(MOUNT));
  writeFileSync(host.p(`${MOUNT}/homes/alice/projects/notes.md`), '# experiment notes\nlr=3e-4 works best\n');
  const snap = await host.storage.snapshot(`backup_${stamp(new Date())}`);
  try {
    host.snapshotIds = [older, backup(snap)];
  } finally {
    await host.storage.deleteSnapshot(snap);
  }
}

const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

/** Remembers the backed-up files as they are (path under the mount → sha256): what a complete restore must give back. */
export function rememberFiles(host: TrainHost): void {
  host.manifest.clear();
  for (const d of BACKED_UP) {
    for (const f of walk(host.p(`${MOUNT}/${d}`))) host.manifest.set(relative(host.p(MOUNT), f), sha(f));
  }
}

/** Backed-up files (under the mount) that are missing or differ, in a copy of the mount at `base` (default: the mount itself). */
export function fileProblems(host: TrainHost, base = host.p(MOUNT)): string[] {
  const bad: string[] = [];
  for (const [rel, hash] of host.manifest) {
    const f = join(base, rel);
    if (!existsSync(f) || sha(f) !== hash) bad.push(rel);
  }
  return bad;
}
