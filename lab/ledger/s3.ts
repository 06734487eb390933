/**
 * The lab's "S3": one directory per bucket under `<lab>/s3`, the nightly
 * backup written into `s3://ledger-backups` at start, and the `aws s3
 * ls|cp|sync` shim that reads them over SSH.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { ShimCall, ShimResult } from '../family';
import { fail, usage, type LedgerCluster, type NodeRuntime } from './cluster';
import { resolveDataDir } from './commands';
import { saveState, type LedgerState } from './state';

/** Seed 002's bucket name. */
export const BUCKET = 'ledger-backups';

/** Writes `<dir>/snapshot.tar.gz` holding a data directory with `state` (a real gzip'd tar, as the runbook extracts it). */
export function writeBackup(dir: string, state: LedgerState): void {
  const staging = join(dir, '.staging');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  saveState(staging, state);
  const r = spawnSync('tar', ['-czf', join(dir, 'snapshot.tar.gz'), '-C', staging, '.'], { encoding: 'utf8' });
  rmSync(staging, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`lab ledger: cannot write the backup (tar: ${r.stderr || r.error?.message})`);
}

/** Where the lab's buckets live, from a host root (`<lab>/hosts/<cluster>/<node>` -> `<lab>/s3`). */
export function labS3Root(hostRoot: string): string {
  return resolve(hostRoot, '..', '..', '..', 's3');
}

/**
 * `aws s3 ls s3://BUCKET/<prefix>`, `aws s3 cp s3://BUCKET/<key> <dest>` and
 * `aws s3 sync s3://BUCKET/<prefix>/ <dest>/`, served from the lab's bucket
 * directories (`<lab>/s3/<bucket>`). ls and cp are reads (no effect); a sync
 * that copied at least one file records `ledger.dr-sync` {source, dest, files}.
 */
export function aws(sim: LedgerCluster, rt: NodeRuntime, call: ShimCall): ShimResult {
  const [svc, verb, src, dest, ...rest] = call.argv;
  if (svc !== 's3' || (verb !== 'ls' && verb !== 'cp' && verb !== 'sync')) {
    return usage('lab aws: only `aws s3 ls s3://BUCKET/PREFIX`, `aws s3 cp s3://BUCKET/KEY DEST` and `aws s3 sync s3://BUCKET/PREFIX/ DEST/` are simulated');
  }
  if (rest.length) return usage(`lab aws: unexpected argument "${rest[0]}"`);
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(src ?? '');
  if (!m) return usage(`lab aws: expected an s3:// URL, got "${src ?? ''}"`);
  const bucketDir = join(sim.s3Root, m[1]!);
  if (!/^[a-z0-9][a-z0-9.-]{1,62}$/.test(m[1]!) || !existsSync(bucketDir)) {
    return fail(1, `An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation: The specified bucket does not exist (${m[1]})`);
  }
  const key = m[2] ?? '';
  const file = resolve(bucketDir, key);
  if (file !== bucketDir && !file.startsWith(bucketDir + sep)) return usage(`lab aws: key "${key}" is outside the bucket`);
  if (verb === 'ls') {
    const files = existsSync(file) && statSync(file).isDirectory() ? readdirSync(file).map((f) => join(file, f)) : existsSync(file) ? [file] : [];
    const lines = files
      .filter((f) => statSync(f).isFile())
      .map((f) => {
        const st = statSync(f);
        const t = st.mtime.toISOString().replace('T', ' ').slice(0, 19);
        return `${t} ${String(st.size).padStart(10)} ${relative(dirname(f), f)}`;
      });
    return lines.length ? { stdout: lines.join('\n') + '\n', exitCode: 0 } : { stdout: '', exitCode: 1 };
  }
  if (!dest) return usage(`lab aws: s3 ${verb} needs a destination`);
  const target = resolveDataDir(rt, call.cwd, dest);
  if (typeof target !== 'string') return target;
  if (verb === 'sync') {
    if (!existsSync(file) || !statSync(file).isDirectory()) return { stdout: '', exitCode: 0 }; // an empty prefix syncs nothing
    const copied: string[] = [];
    for (const rel of listFiles(file)) {
      const from = join(file, rel);
      const to = join(target, rel);
      const a = statSync(from);
      const b = existsSync(to) ? statSync(to) : undefined;
      // Like the real sync: copy what is missing, of another size, or newer in the bucket.
      if (b && b.size === a.size && b.mtimeMs >= a.mtimeMs) continue;
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to);
      copied.push(rel);
    }
    if (copied.length) sim.record(rt.name, 'ledger.dr-sync', { source: src, dest: sim.hostPath(rt, target), files: copied });
    const shownDest = dest.endsWith('/') ? dest : `${dest}/`;
    return { stdout: copied.map((rel) => `download: ${src!.replace(/\/?$/, '/')}${rel} to ${shownDest}${rel}\n`).join(''), exitCode: 0 };
  }
  if (!existsSync(file) || !statSync(file).isFile()) return fail(1, `fatal error: An error occurred (404) when calling the HeadObject operation: Key "${key}" does not exist`);
  const out = dest.endsWith('/') || (existsSync(target) && statSync(target).isDirectory()) ? join(target, relative(dirname(file), file)) : target;
  mkdirSync(dirname(out), { recursive: true });
  copyFileSync(file, out);
  return { stdout: `download: ${src} to ${dest}\n`, exitCode: 0 };
}

/** Every file under a directory, as paths relative to it (dot files included), sorted. */
function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? join(prefix, e.name) : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, rel));
    else if (e.isFile()) out.push(rel);
  }
  return out.sort();
}
