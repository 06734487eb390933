/**
 * restic on the server: snapshots, and restores of the user homes or the
 * configuration. The password comes from the secret reference
 * `settings.resticPassword`, resolved on the worker and sent on stdin: never
 * in argv, history or logs. `restore --json` progress becomes heartbeats; a
 * cancelled restore kills restic and a retry restores again over the partial
 * files; a completed one leaves a once-per-step marker.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { EffectResult, NodeRef } from '../common/types';
import { lastLines } from '../context';
import { TransportError } from '../transport/errors';
import { resolveSecret } from '../transport/secrets';
import { quoteArgv, type RemoteCommand } from '../transport/shell';
import type { TrainServerContext } from './context';
import { env, MARKERS, read, sh } from './host';
import type { TsRestoreResult, TsSnapshot } from './types';

async function resticBase(ctx: TrainServerContext, ref: NodeRef, e: ReturnType<typeof env>): Promise<{ argv: string[]; password: string }> {
  const ref0 = ctx.setting(e.cluster, 'resticPassword');
  if (!ref0) throw ctx.missing(ref, 'restic password', 'settings.resticPassword: "file:/etc/lifeboat/restic-password"');
  const password = (await resolveSecret(ref0)).replace(/\r?\n$/, '');
  const limit = ctx.setting(e.cluster, 'resticLimitDownloadKiB');
  const bin = e.p(ctx.setting(e.cluster, 'resticBinary'));
  return {
    argv: e.as(['env', 'RESTIC_PROGRESS_FPS=1', bin, '-r', ctx.setting(e.cluster, 'resticRepository'), ...(limit > 0 ? ['--limit-download', String(limit)] : [])]),
    password,
  };
}

/** `restic snapshots --json` of the backup repository (password on stdin). */
export async function tsResticSnapshots(ctx: TrainServerContext, ref: NodeRef): Promise<TsSnapshot[]> {
  return ctx.run(async () => {
    const e = env(ctx, ref);
    const { argv, password } = await resticBase(ctx, ref, e);
    const res = await sh(ctx, ref, [{ argv: [...argv, 'snapshots', '--json'] }], 120_000, `${password}\n`, undefined, [password]);
    ctx.check(ref, res, 'restic snapshots', 'check settings.resticRepository and the password secret (settings.resticPassword)');
    type S = { id: string; short_id?: string; time: string; paths?: string[]; tags?: string[] };
    let list: S[];
    try {
      // restic announces "reading repository password from stdin" before the JSON.
      list = JSON.parse(res.stdout.split('\n').find((l) => l.startsWith('[')) ?? '') as S[];
    } catch {
      throw new TransportError('CommandFailed', `restic snapshots --json printed no JSON: ${lastLines(res.stdout + res.stderr, 3)}`, false);
    }
    return list
      .map((s) => ({ id: s.id, shortId: s.short_id ?? s.id.slice(0, 8), time: s.time, paths: s.paths ?? [], tags: s.tags ?? [] }))
      .sort((a, b) => a.time.localeCompare(b.time));
  });
}

/** `restic restore <snapshot>` of the homes or the configuration, with `--json` progress in heartbeats; once per step. */
export async function tsResticRestore(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean; snapshot: string; what: 'homes' | 'config' }): Promise<TsRestoreResult> {
  return ctx.run(async () => {
    if (!/^(latest|[0-9a-f]{8,64})$/.test(input.snapshot)) throw new TransportError('InvalidArgument', `not a snapshot id: ${JSON.stringify(input.snapshot)}`, false);
    const e = env(ctx, input);
    const homes = `${e.mount}/homes`;
    const scratch = e.p('/tmp/restore');
    const restore =
      input.what === 'homes'
        ? ['restore', `${input.snapshot}:${homes}`, '--target', homes, '--json']
        : ['restore', `${input.snapshot}:${e.repo}`, '--target', scratch, '--include', '/config.sh', '--json'];
    const shown = `restic -r ${ctx.setting(e.cluster, 'resticRepository')} ${restore.join(' ')}${input.what === 'config' ? ` && cp ${scratch}/config.sh ${e.repo}/` : ''}`;
    const plan = `${input.node}: ${shown} (password from ${ctx.setting(e.cluster, 'resticPassword') || 'settings.resticPassword'} on stdin)`;
    if (input.dryRun) return { dryRun: true, plan };
    // Once per step: a completion marker, touched in the same remote chain right after the restore
    // (for config.sh: after its copy into the checkout). A restore the worker's death interrupted
    // leaves none, and its retry restores again over the partial files (restic converges).
    const marker = `${MARKERS}/${ctx.stableKey(`restore-${input.what}`)}`;
    if ((await read(ctx, input, ['test', '-e', marker])).exitCode === 0) {
      return { alreadyDone: true, plan, output: `this step already restored ${input.what === 'homes' ? 'the homes' : 'config.sh'} from ${input.snapshot}` };
    }
    const { argv, password } = await resticBase(ctx, input, e);
    const cmds: RemoteCommand[] = [
      { argv: e.as(['mkdir', '-p', input.what === 'homes' ? homes : scratch]) },
      { argv: ['mkdir', '-p', MARKERS] },
      { argv: [...argv, ...restore] },
      ...(input.what === 'homes' ? [{ argv: ['touch', marker] }] : []),
    ];
    const c = Context.current();
    let last: Record<string, number> = {};
    const res = await sh(ctx, 
      input,
      cmds,
      12 * 3600_000,
      `${password}\n`,
      (tail) => {
        const status = tail
          .split('\n')
          .filter((l) => l.startsWith('{') && l.includes('"message_type":"status"'))
          .at(-1);
        if (status) {
          try {
            last = JSON.parse(status) as Record<string, number>;
          } catch {
            /* partial line */
          }
        }
        c.heartbeat({
          node: input.node,
          restoring: input.what,
          percent: Math.round((last.percent_done ?? 0) * 100),
          filesRestored: last.files_restored,
          totalFiles: last.total_files,
          bytesRestored: last.bytes_restored,
          totalBytes: last.total_bytes,
        });
      },
      [password],
    );
    ctx.check(input, res, `restic restore ${input.what}`, 'check the repository and snapshot (restic snapshots), then retry: a retry restores over the partial files');
    const summaryLine = res.stdout.split('\n').filter((l) => l.includes('"message_type":"summary"')).at(-1);
    const summary = summaryLine ? (JSON.parse(summaryLine) as Record<string, number>) : {};
    if (input.what === 'config') {
      const cp = await sh(ctx, input, [{ argv: e.as(['cp', `${scratch}/config.sh`, `${e.repo}/config.sh`]) }, { argv: ['touch', marker] }]);
      ctx.check(input, cp, 'copying config.sh into the checkout', `check ${ctx.setting(e.cluster, 'repoDir')} exists (git clone first)`);
    }
    return {
      plan,
      filesRestored: summary.files_restored,
      bytesRestored: summary.bytes_restored,
      totalFiles: summary.total_files,
      output: `restored ${summary.files_restored ?? '?'} files (${summary.bytes_restored ?? '?'} bytes) from ${input.snapshot}`,
    };
  });
}

/** `chown -R <user>:<user>` of a restored home (a second run changes nothing). */
export async function tsChownHome(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean; user: string }): Promise<EffectResult> {
  return ctx.run(async () => {
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(input.user)) throw new TransportError('InvalidArgument', `not a user name: ${JSON.stringify(input.user)}`, false);
    const e = env(ctx, input);
    // chown -R is idempotent by nature: a second run changes nothing.
    const argv = e.as(['chown', '-R', `${input.user}:${input.user}`, `${e.mount}/homes/${input.user}`]);
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    const res = await sh(ctx, input, [{ argv }], 30 * 60_000);
    return { plan, output: ctx.check(input, res, `chown of ${input.user}'s home`, `check the user exists (02-setup-users.sh) and the home was restored`) };
  });
}
