/**
 * Archived exports in S3, through the node's `aws` CLI: what the latest one
 * is (its age is the restore's RPO), fetching it onto a node's disk, and
 * pushing an export into the archive.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { EffectResult, NodeRef } from '../common/types';
import { TransportError } from '../transport/errors';
import { renderScript, type RemoteCommand } from '../transport/shell';
import type { LedgerContext } from './context';
import { checkPath } from './export';
import type { LedgerArchiveInfo } from './types';

/** `s3://bucket/key/file` -> its parts; anything else is refused with the expected shape. */
export function parseS3(source: string): { bucket: string; key: string; file: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,62})\/(.*[^/])$/.exec(source);
  if (!m) throw new TransportError('InvalidArgument', `an archived export must be an S3 object URL like s3://ledger-backups/latest/ledger-export.jsonl, got ${JSON.stringify(source)}`, false);
  const key = m[2]!;
  return { bucket: m[1]!, key, file: key.slice(key.lastIndexOf('/') + 1) };
}

const AWS_AUTH = /NoSuchBucket|AccessDenied|InvalidAccessKeyId|credentials/i;

/** `aws s3 ls <source>` on the node: the archived export, its size and age (source default: the cluster's settings.backupSource). */
export async function ledgerArchiveInfo(ctx: LedgerContext, input: NodeRef & { source?: string }): Promise<LedgerArchiveInfo> {
  return ctx.run(async () => archiveInfo(ctx, input, input.source || ctx.setting(ctx.lookup(input).cluster, 'backupSource')));
}

async function archiveInfo(ctx: LedgerContext, ref: NodeRef, source: string): Promise<LedgerArchiveInfo> {
  const s3 = parseS3(source);
  // `aws s3 ls` prints the object's time in the host's time zone: asked in UTC, the RPO is right anywhere.
  const res = await ctx.exec(ref, [{ argv: ['env', 'TZ=UTC', 'aws', 's3', 'ls', source] }], 60_000);
  const line = res.stdout.split('\n').find((l) => l.trim().endsWith(` ${s3.file}`));
  if (res.exitCode !== 0 || !line) {
    if (AWS_AUTH.test(res.stderr)) ctx.check(ref, res, `aws s3 ls ${source}`, `check the bucket name and ${ref.node}'s AWS credentials`);
    return { source, exists: false };
  }
  // "2026-11-22 02:00:00       2048 ledger-export.jsonl"
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\s+(\d+)\s/.exec(line.trim());
  return { source, exists: true, sizeBytes: m ? Number(m[3]) : undefined, takenAt: m ? `${m[1]}T${m[2]}Z` : undefined };
}

/**
 * `aws s3 cp <source> <path>` on the node: an archived export onto its disk
 * (path default: `<exportDir>/restore-<id>.jsonl`, the id stable across
 * retries); already there with the same size counts as done.
 */
export async function ledgerArchiveFetch(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean; source: string; path?: string }): Promise<EffectResult & { path: string }> {
  return ctx.run(async () => {
    parseS3(input.source);
    const { cluster } = ctx.lookup(input);
    const tag = createHash('sha256').update(ctx.stableKey('fetch')).digest('hex').slice(0, 12);
    const path = input.path || `${ctx.setting(cluster, 'exportDir').replace(/\/+$/, '')}/restore-${tag}.jsonl`;
    checkPath({ node: input.node, path });
    const sudo = ctx.setting(cluster, 'sudo');
    const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) || '/' : '.';
    const cmds: RemoteCommand[] = [{ argv: ctx.root(['mkdir', '-p', dir], sudo) }, { argv: ctx.root(['aws', 's3', 'cp', input.source, path], sudo) }];
    const plan = `${input.node}: ${renderScript(cmds)}`;
    if (input.dryRun) return { dryRun: true, plan, path };
    const info = await archiveInfo(ctx, input, input.source);
    if (!info.exists) throw new TransportError('ArchiveMissing', `${input.source} does not exist (aws s3 ls on ${input.node}); check settings.backupSource / replicaSource and the archive`, false);
    const have = await ctx.exec(input, [{ argv: ctx.root(['stat', '-c', '%s', path], sudo) }], 30_000);
    if (have.exitCode === 0 && info.sizeBytes !== undefined && Number(have.stdout.trim()) === info.sizeBytes) {
      return { alreadyDone: true, plan, path, output: `${path} already holds the ${info.sizeBytes} bytes of ${input.source}` };
    }
    const res = await ctx.exec(input, cmds, 30 * 60_000);
    return { plan, path, output: ctx.check(input, res, `aws s3 cp ${input.source}`, `check ${input.node}'s AWS credentials and free space in ${dir}`) };
  });
}

/** `aws s3 cp <path> <target>` on the node: an export into the archive. */
export async function ledgerArchivePush(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean; path: string; target: string }): Promise<EffectResult> {
  return ctx.run(async () => {
    parseS3(input.target);
    checkPath({ node: input.node, path: input.path });
    const { cluster } = ctx.lookup(input);
    const argv = ctx.root(['aws', 's3', 'cp', input.path, input.target], ctx.setting(cluster, 'sudo'));
    const plan = `${input.node}: ${renderScript({ argv })}`;
    if (input.dryRun) return { dryRun: true, plan };
    // A copy of the same file again changes nothing: idempotent by nature.
    const res = await ctx.exec(input, [{ argv }], 30 * 60_000);
    return { plan, output: ctx.check(input, res, `aws s3 cp ${input.path} ${input.target}`, `check ${input.node}'s AWS credentials and the bucket`) };
  });
}
