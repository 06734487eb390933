/**
 * Backups in S3, through the node's `aws` CLI: what the latest backup is, and
 * fetching and unpacking it into a restore directory.
 *
 * @module
 */
import type { EffectResult, NodeRef } from '../common/types';
import { TransportError } from '../transport/errors';
import { type RemoteCommand, renderScript } from '../transport/shell';
import type { LedgerContext } from './context';
import type { LedgerBackupInfo } from './types';

/** `aws s3 ls <source>` on the node: does the backup exist, how big, how old (the RPO). */
export async function ledgerBackupInfo(ctx: LedgerContext, input: NodeRef & { source: string }): Promise<LedgerBackupInfo> {
  return ctx.run(async () => {
    const s3 = parseS3(input.source);
    const res = await ctx.exec(input, [{ argv: ['aws', 's3', 'ls', input.source] }], 60_000);
    const line = res.stdout.split('\n').find((l) => l.trim().endsWith(` ${s3.file}`));
    if (res.exitCode !== 0 || !line) {
      if (/NoSuchBucket|AccessDenied|InvalidAccessKeyId|credentials/i.test(res.stderr)) {
        ctx.check(input, res, `aws s3 ls ${input.source}`, `check the bucket name and the node's AWS credentials`);
      }
      return { source: input.source, exists: false };
    }
    const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\s+(\d+)\s/.exec(line.trim());
    return { source: input.source, exists: true, sizeBytes: m ? Number(m[3]) : undefined, takenAt: m ? `${m[1]}T${m[2]}Z` : undefined };
  });
}

/** `mkdir -p R && aws s3 cp <source> R/ && tar -xzf R/<file> -C R` on the node; R defaults to `<dataDir>/restore`. */
export async function ledgerFetchBackup(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean; source: string; restoreDir?: string }): Promise<EffectResult & { restoreDir: string }> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    const s3 = parseS3(input.source);
    const restoreDir = input.restoreDir ?? `${ctx.setting(cluster, 'dataDir').replace(/\/+$/, '')}/restore`;
    const sudo = ctx.setting(cluster, 'sudo');
    const archive = `${restoreDir}/${s3.file}`;
    const cmds: RemoteCommand[] = [
      { argv: ctx.root(['mkdir', '-p', restoreDir], sudo) },
      { argv: ctx.root(['aws', 's3', 'cp', input.source, `${restoreDir}/`], sudo) },
      { argv: ctx.root(['tar', '-xzf', archive, '-C', restoreDir], sudo) },
    ];
    const plan = `${input.node}: ${renderScript(cmds)}`;
    if (input.dryRun) return { dryRun: true, plan, restoreDir };
    const res = await ctx.exec(input, cmds, 25 * 60_000);
    const output = ctx.check(input, res, `fetching ${input.source}`, `check the backup path, the node's AWS credentials and free space in ${restoreDir}`);
    return { plan, output, restoreDir };
  });
}

/** `s3://bucket/key/file.tar.gz` -> its parts; anything else is refused with the expected shape. */
function parseS3(source: string): { bucket: string; key: string; file: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,62})\/(.*[^/])$/.exec(source);
  if (!m) throw new TransportError('InvalidArgument', `backup must be an S3 object URL like s3://ledger-backups/latest/snapshot.tar.gz, got ${JSON.stringify(source)}`, false);
  const key = m[2]!;
  return { bucket: m[1]!, key, file: key.slice(key.lastIndexOf('/') + 1) };
}
