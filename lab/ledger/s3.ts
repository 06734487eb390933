/**
 * The lab's "S3": one directory per bucket under `<lab>/s3`, and the `aws
 * s3` shim that reads and writes them over SSH: `ls s3://B/PREFIX`, `cp
 * s3://B/KEY DEST` (download), `cp SRC s3://B/KEY` (upload, recorded as
 * `ledger.archive-push`), `sync s3://B/PREFIX/ DEST/` (recorded as
 * `ledger.dr-sync` when it copied something). Local paths resolve inside
 * the host's root (relative ones under the caller's cwd).
 *
 * @module
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { ShimCall, ShimResult } from '../family';

/** The buckets of the lab ledger (seed 002's). */
export const BACKUP_BUCKET = 'ledger-backups';
export const REPLICA_BUCKET = 'ledger-primary-backups';
/** The object an archive lives at in its bucket. */
export const ARCHIVE_KEY = 'latest/ledger-export.jsonl';

/** Where the lab's buckets live, from a host root (`<lab>/hosts/<cluster>/<node>` -> `<lab>/s3`). */
export function labS3Root(hostRoot: string): string {
  return resolve(hostRoot, '..', '..', '..', 's3');
}

const usage = (m: string): ShimResult => ({ stdout: '', stderr: m + '\n', exitCode: 2 });
const fail = (m: string): ShimResult => ({ stdout: '', stderr: m + '\n', exitCode: 1 });

/** A host path: absolute ones under the host root, relative ones under the caller's cwd; undefined when it escapes the host. */
export function hostPath(root: string, cwd: string, raw: string): string | undefined {
  const inside = (p: string): boolean => p === root || p.startsWith(root + sep);
  const base = inside(resolve(cwd)) ? resolve(cwd) : root;
  const p = isAbsolute(raw) ? resolve(inside(resolve(raw)) ? raw : join(root, raw)) : resolve(base, raw);
  return inside(p) ? p : undefined;
}

/** `aws s3 ls|cp|sync` over `<lab>/s3/<bucket>`. */
export function aws(s3Root: string, call: ShimCall, record: (effect: string, detail: Record<string, unknown>) => void): ShimResult {
  const [svc, verb, a, b, ...rest] = call.argv;
  if (svc !== 's3' || (verb !== 'ls' && verb !== 'cp' && verb !== 'sync')) return usage('lab aws: only `aws s3 ls|cp|sync` are simulated');
  if (rest.length) return usage(`lab aws: unexpected argument "${rest[0]}"`);
  const upload = verb === 'cp' && !!a && !a.startsWith('s3://') && !!b?.startsWith('s3://');
  const url = upload ? b! : (a ?? '');
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) return usage(`lab aws: expected an s3:// URL, got "${url}"`);
  const bucketDir = join(s3Root, m[1]!);
  if (!/^[a-z0-9][a-z0-9.-]{1,62}$/.test(m[1]!) || !existsSync(bucketDir)) {
    return fail(`An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation: The specified bucket does not exist (${m[1]})`);
  }
  const key = m[2] ?? '';
  const file = resolve(bucketDir, key);
  if (file !== bucketDir && !file.startsWith(bucketDir + sep)) return usage(`lab aws: key "${key}" is outside the bucket`);
  if (verb === 'ls') return ls(file, key);
  const local = upload ? a! : b;
  if (!local) return usage(`lab aws: s3 ${verb} needs a local path`);
  const target = hostPath(call.root, call.cwd, local);
  if (!target) return fail(`lab aws: ${local} is outside this host's filesystem`);
  if (upload) {
    if (!existsSync(target) || !statSync(target).isFile()) return fail(`The user-provided path ${local} does not exist.`);
    if (key === '' || key.endsWith('/')) return usage('lab aws: name the object key, e.g. s3://ledger-backups/latest/ledger-export.jsonl');
    mkdirSync(dirname(file), { recursive: true });
    copyFileSync(target, file);
    record('ledger.archive-push', { url, bytes: statSync(file).size });
    return { stdout: `upload: ${local} to ${url}\n`, exitCode: 0 };
  }
  if (verb === 'sync') return sync(file, target, url, local, record);
  if (!existsSync(file) || !statSync(file).isFile()) return fail(`fatal error: An error occurred (404) when calling the HeadObject operation: Key "${key}" does not exist`);
  const out = local.endsWith('/') || (existsSync(target) && statSync(target).isDirectory()) ? join(target, relative(dirname(file), file)) : target;
  mkdirSync(dirname(out), { recursive: true });
  copyFileSync(file, out);
  return { stdout: `download: ${url} to ${local}\n`, exitCode: 0 };
}

/** `aws s3 ls`: `2026-11-22 02:00:00       2048 name` per object (UTC); exit 1 when nothing matches. */
function ls(file: string, key: string): ShimResult {
  const dir = existsSync(file) && statSync(file).isDirectory();
  const files = dir ? readdirSync(file).map((f) => join(file, f)) : existsSync(file) ? [file] : [];
  const lines = files
    .filter((f) => statSync(f).isFile() && (dir || key !== ''))
    .map((f) => {
      const st = statSync(f);
      return `${st.mtime.toISOString().replace('T', ' ').slice(0, 19)} ${String(st.size).padStart(10)} ${relative(dirname(f), f)}`;
    });
  return lines.length ? { stdout: lines.join('\n') + '\n', exitCode: 0 } : { stdout: '', exitCode: 1 };
}

function sync(from: string, target: string, url: string, local: string, record: (effect: string, detail: Record<string, unknown>) => void): ShimResult {
  if (!existsSync(from) || !statSync(from).isDirectory()) return { stdout: '', exitCode: 0 };
  const copied: string[] = [];
  for (const rel of listFiles(from)) {
    const src = join(from, rel);
    const dst = join(target, rel);
    const x = statSync(src);
    const y = existsSync(dst) ? statSync(dst) : undefined;
    if (y && y.size === x.size && y.mtimeMs >= x.mtimeMs) continue;
    mkdirSync(dirname(dst), { recursive: true });
    copyFileSync(src, dst);
    copied.push(rel);
  }
  if (copied.length) record('ledger.dr-sync', { source: url, dest: local, files: copied });
  const shown = local.endsWith('/') ? local : `${local}/`;
  return { stdout: copied.map((rel) => `download: ${url.replace(/\/?$/, '/')}${rel} to ${shown}${rel}\n`).join(''), exitCode: 0 };
}

function listFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? join(prefix, e.name) : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, rel));
    else if (e.isFile()) out.push(rel);
  }
  return out.sort();
}
