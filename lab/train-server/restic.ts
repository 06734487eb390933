/**
 * The train server's real restic repository: created and filled at lab start
 * with two nightly snapshots of the homes and config.sh, and the manifest of
 * what a complete restore must give back.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { resticPath } from '../../src/tools';
import { MOUNT, NODE, REPO_DIR, walk, type TrainHost } from './host';

function restic(host: TrainHost, args: string[], cwd?: string): string {
  return execFileSync(resticPath(), ['-r', host.repo, ...args], {
    env: { ...process.env, RESTIC_PASSWORD_FILE: host.passwordPath, RESTIC_CACHE_DIR: join(host.repo, '..', 'cache') },
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Creates the repository if missing and takes the two nightly snapshots (the latest has one file more). */
export async function makeBackups(host: TrainHost): Promise<void> {
  if (!existsSync(join(host.repo, 'config'))) {
    mkdirSync(host.repo, { recursive: true });
    restic(host, ['init']);
  }
  const config = host.p(`${REPO_DIR}/config.sh`);
  // Two nightly backups: an older one, then the latest (with one more file).
  const older = JSON.parse(restic(host, ['backup', '--json', '--tag', 'nightly', '--host', NODE, host.p(`${MOUNT}/homes`), config]).trim().split('\n').at(-1)!) as { snapshot_id: string };
  writeFileSync(host.p(`${MOUNT}/homes/alice/projects/notes.md`), '# experiment notes\nlr=3e-4 works best\n');
  const latest = JSON.parse(restic(host, ['backup', '--json', '--tag', 'nightly', '--host', NODE, host.p(`${MOUNT}/homes`), config]).trim().split('\n').at(-1)!) as { snapshot_id: string };
  host.snapshotIds = [older.snapshot_id, latest.snapshot_id];
}

/** Remembers the homes and config.sh as backed up: what a complete restore must give back. */
export function rememberFiles(host: TrainHost): void {
  host.manifest.clear();
  for (const f of walk(host.p(`${MOUNT}/homes`))) host.manifest.set(relative(host.root, f), readFileSync(f).toString('base64'));
  host.manifest.set(relative(host.root, host.p(`${REPO_DIR}/config.sh`)), readFileSync(host.p(`${REPO_DIR}/config.sh`)).toString('base64'));
}

/** Homes whose files differ from what was backed up (missing or changed). */
export function homeProblems(host: TrainHost): string[] {
  const bad: string[] = [];
  for (const [rel, content] of host.manifest) {
    const f = join(host.root, rel);
    if (!existsSync(f) || readFileSync(f).toString('base64') !== content) bad.push(rel);
  }
  return bad;
}
