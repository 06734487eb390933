/**
 * restic on the server: the password, snapshots, what a snapshot holds, and
 * restores of backed-up directories or of config.sh.
 *
 * The password: references tried in order — the operator's (given at a gate,
 * by reference), then `settings.resticPassword`'s: `env:NAME` / `file:/path`
 * read on the worker, `host:/path` read on the server (where the setup
 * scripts keep it: `/root/.restic-password`, which an OS disk failure takes
 * with it). Its value is sent on restic's stdin: never in argv, history,
 * heartbeats or logs.
 *
 * What to restore comes from the repository itself: `restic snapshots
 * --json` gives each snapshot's paths (`/mnt/storage/homes` at 5a02c9d,
 * `/mnt/storage/snapshots/backup_<ts>/homes` at HEAD), `restic find`
 * whether config.sh was backed up (it is not, at 5a02c9d), `restic ls` the
 * users with a home. `restore --json` progress becomes heartbeats; a
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
import { env, MARKERS, read, sh, type TsEnv } from './host';
import type { TsResticAccess, TsRestoreResult, TsSnapshot, TsSnapshotContents } from './types';

/** A password reference: `env:NAME`, `file:/abs/path` (worker), `host:/abs/path` (server). */
export const PASSWORD_REF = /^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/[^\s,]*|host:\/[^\s,]*)$/;

/** The directories the backup script backs up, by their place under the mount point. */
export const BACKED_UP_DIRS = ['homes', 'docker-volumes', 'shared/tensorboard'];

const quiet = (): void => undefined;

/** The references to try, in order: the operator's, then settings.resticPassword's. */
function passwordRefs(ctx: TrainServerContext, e: TsEnv, override?: string): string[] {
  return [...(override ? [override] : []), ...ctx.setting(e.cluster, 'resticPassword').split(',').map((s) => s.trim()).filter(Boolean)];
}

/** Reads one reference; the reason it failed otherwise (never the value). */
async function readRef(ctx: TrainServerContext, ref: NodeRef, e: TsEnv, r: string): Promise<{ password: string } | { why: string }> {
  // A string that is not a reference may be a pasted password: never echoed.
  if (!PASSWORD_REF.test(r)) return { why: 'a value that is not a reference (env:NAME, file:/path, host:/path)' };
  if (r.startsWith('host:')) {
    const path = r.slice(5);
    // Its output is the password: no heartbeat tail, redacted once known.
    const res = await sh(ctx, ref, [{ argv: e.as(['cat', e.p(path)]) }], 30_000, undefined, quiet);
    if (res.exitCode !== 0) return { why: `${r}: not on ${ref.node} (${lastLines(res.stderr, 1) || `exit ${res.exitCode}`}); the setup scripts keep it on the OS disk` };
    const password = res.stdout.replace(/\r?\n$/, '');
    return password ? { password } : { why: `${r}: empty` };
  }
  try {
    const password = (await resolveSecret(r)).replace(/\r?\n$/, '');
    return password ? { password } : { why: `${r}: empty` };
  } catch (err) {
    return { why: `${r}: ${(err as Error).message}` };
  }
}

function base(ctx: TrainServerContext, e: TsEnv): string[] {
  const limit = ctx.setting(e.cluster, 'resticLimitDownloadKiB');
  const bin = e.p(ctx.setting(e.cluster, 'resticBinary'));
  return e.as(['env', 'RESTIC_PROGRESS_FPS=1', bin, '-r', ctx.setting(e.cluster, 'resticRepository'), ...(limit > 0 ? ['--limit-download', String(limit)] : [])]);
}

/** `restic snapshots --json` with one password; the parsed list, or why it did not open. */
async function listSnapshots(ctx: TrainServerContext, ref: NodeRef, e: TsEnv, password: string): Promise<{ list: TsSnapshot[] } | { why: string; exitCode: number | null }> {
  const res = await sh(ctx, ref, [{ argv: [...base(ctx, e), 'snapshots', '--json'] }], 120_000, `${password}\n`, undefined, [password]);
  if (res.exitCode !== 0) return { why: lastLines(res.stderr || res.stdout, 2) || `exit ${res.exitCode}`, exitCode: res.exitCode };
  type S = { id: string; short_id?: string; time: string; paths?: string[]; tags?: string[] };
  let list: S[];
  try {
    // restic announces "reading repository password from stdin" before the JSON.
    list = JSON.parse(res.stdout.split('\n').find((l) => l.startsWith('[')) ?? '') as S[];
  } catch {
    throw new TransportError('CommandFailed', `restic snapshots --json printed no JSON: ${lastLines(res.stdout + res.stderr, 3)}`, false);
  }
  return { list: list.map((s) => ({ id: s.id, shortId: s.short_id ?? s.id.slice(0, 8), time: s.time, paths: s.paths ?? [], tags: s.tags ?? [] })).sort((a, b) => a.time.localeCompare(b.time)) };
}

/** restic exits 12 on a wrong password (0.17: "wrong password or no key found"). */
const wrongPassword = (r: { why: string; exitCode: number | null }): boolean => r.exitCode === 12 || /wrong password|no key found/i.test(r.why);

/**
 * The first password that opens the repository, trying each reference in
 * order; throws `PasswordUnavailable` listing what was tried when none does.
 */
async function openRepo(ctx: TrainServerContext, ref: NodeRef, e: TsEnv, override?: string): Promise<{ password: string; source: string; list: TsSnapshot[]; tried: string[] }> {
  const tried: string[] = [];
  for (const r of passwordRefs(ctx, e, override)) {
    const got = await readRef(ctx, ref, e, r);
    if ('why' in got) {
      tried.push(got.why);
      continue;
    }
    const opened = await listSnapshots(ctx, ref, e, got.password);
    if ('list' in opened) return { password: got.password, source: r, list: opened.list, tried };
    if (wrongPassword(opened)) tried.push(`${r}: the repository refuses it (wrong password)`);
    else throw new TransportError('CommandFailed', `restic snapshots on ${ref.node} failed: ${opened.why}; check settings.resticRepository and that the server reaches it (rclone config)`, false, { node: ref.node });
  }
  throw new TransportError(
    'PasswordUnavailable',
    `no password opens the restic repository of ${ref.cluster}: ${tried.length ? tried.join('; ') : 'settings.resticPassword is empty'}; give a reference to the password (env:NAME or file:/path on the worker)`,
    false,
    { node: ref.node },
  );
}

function checkRef(passwordRef: string | undefined): void {
  if (passwordRef !== undefined && !PASSWORD_REF.test(passwordRef)) {
    throw new TransportError('InvalidArgument', 'passwordRef must be a reference (env:NAME, file:/path, host:/path), never the password itself', false);
  }
}

/** Opens the repository with the first password reference that works (the operator's, then settings.resticPassword's). */
export async function tsResticAccess(ctx: TrainServerContext, input: NodeRef & { passwordRef?: string }): Promise<TsResticAccess> {
  return ctx.run(async () => {
    checkRef(input.passwordRef);
    const e = env(ctx, input);
    try {
      const r = await openRepo(ctx, input, e, input.passwordRef);
      return { ok: true, source: r.source, tried: r.tried, snapshots: r.list.length };
    } catch (err) {
      if (err instanceof TransportError && err.type === 'PasswordUnavailable') return { ok: false, tried: [err.message] };
      throw err;
    }
  });
}

/** `restic snapshots --json` of the backup repository (password on stdin). */
export async function tsResticSnapshots(ctx: TrainServerContext, input: NodeRef & { passwordRef?: string }): Promise<TsSnapshot[]> {
  return ctx.run(async () => {
    checkRef(input.passwordRef);
    return (await openRepo(ctx, input, env(ctx, input), input.passwordRef)).list;
  });
}

/** What a snapshot holds: its paths by role, config.sh if backed up, the users (restic snapshots / find / ls). */
export async function tsResticContents(ctx: TrainServerContext, input: NodeRef & { snapshot: string; passwordRef?: string }): Promise<TsSnapshotContents> {
  return ctx.run(async () => {
    checkRef(input.passwordRef);
    if (!/^(latest|[0-9a-f]{8,64})$/.test(input.snapshot)) throw new TransportError('InvalidArgument', `not a snapshot id: ${JSON.stringify(input.snapshot)}`, false);
    const e = env(ctx, input);
    const { password, list } = await openRepo(ctx, input, e, input.passwordRef);
    const snap = input.snapshot === 'latest' ? list.at(-1) : list.find((s) => s.id === input.snapshot || s.shortId === input.snapshot || s.id.startsWith(input.snapshot));
    if (!snap) throw new TransportError('InvalidArgument', `snapshot ${input.snapshot} is not in the repository (have: ${list.map((s) => s.shortId).join(', ') || 'none'})`, false);
    const dirs: Record<string, string> = {};
    for (const p of snap.paths) {
      const d = BACKED_UP_DIRS.find((x) => p === `/${x}` || p.endsWith(`/${x}`));
      if (d && !dirs[d]) dirs[d] = p;
    }
    const found = await sh(ctx, input, [{ argv: [...base(ctx, e), 'find', '--json', '--snapshot', snap.id, 'config.sh'] }], 10 * 60_000, `${password}\n`, undefined, [password]);
    ctx.check(input, found, 'restic find config.sh', 'check the repository (restic check)');
    type F = { matches?: Array<{ path: string; type?: string }> };
    const matches = (found.stdout.split('\n').filter((l) => l.startsWith('[') || l.startsWith('{')).flatMap((l) => {
      try {
        const v = JSON.parse(l) as F | F[];
        return Array.isArray(v) ? v : [v];
      } catch {
        return [];
      }
    }) as F[]).flatMap((f) => f.matches ?? []);
    const config = matches.find((m) => m.path.endsWith('/config.sh') && (m.type ?? 'file') === 'file')?.path;
    const users: string[] = [];
    if (dirs.homes) {
      const ls = await sh(ctx, input, [{ argv: [...base(ctx, e), 'ls', '--json', snap.id, dirs.homes] }], 10 * 60_000, `${password}\n`, undefined, [password]);
      ctx.check(input, ls, 'restic ls', 'check the repository (restic check)');
      for (const l of ls.stdout.split('\n')) {
        if (!l.startsWith('{')) continue;
        const n = JSON.parse(l) as { path?: string; type?: string };
        const m = n.path && n.type === 'dir' ? new RegExp(`^${dirs.homes.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/([^/]+)$`).exec(n.path) : null;
        if (m) users.push(m[1]!);
      }
    }
    return { snapshot: snap.id, paths: snap.paths, dirs, ...(config ? { config } : {}), users: users.sort() };
  });
}

/**
 * `restic restore <snapshot>` of a backed-up directory (`path` in the
 * snapshot, into `to`; the homes by default) or of config.sh (from `path`,
 * else next to the checkout), with `--json` progress in heartbeats; once per
 * step.
 */
export async function tsResticRestore(
  ctx: TrainServerContext,
  input: NodeRef & { dryRun?: boolean; snapshot: string; what: 'homes' | 'config' | 'dir'; path?: string; to?: string; passwordRef?: string },
): Promise<TsRestoreResult> {
  return ctx.run(async () => {
    if (!/^(latest|[0-9a-f]{8,64})$/.test(input.snapshot)) throw new TransportError('InvalidArgument', `not a snapshot id: ${JSON.stringify(input.snapshot)}`, false);
    checkRef(input.passwordRef);
    for (const p of [input.path, input.to]) if (p !== undefined && (!p.startsWith('/') || p.includes('..'))) throw new TransportError('InvalidArgument', `restore paths must be absolute: ${JSON.stringify(p)}`, false);
    if (input.what === 'dir' && (!input.path || !input.to)) throw new TransportError('InvalidArgument', 'restoring a directory needs its path in the snapshot and a target (path, to)', false);
    const e = env(ctx, input);
    const target = input.to ? e.p(input.to) : `${e.mount}/homes`;
    const scratch = e.p('/tmp/restore');
    const configDir = input.path ? input.path.replace(/\/config\.sh$/, '') : e.repo;
    const restore =
      input.what === 'config'
        ? ['restore', `${input.snapshot}:${configDir}`, '--target', scratch, '--include', '/config.sh', '--json']
        : ['restore', `${input.snapshot}:${input.path ?? `${e.mount}/homes`}`, '--target', target, '--json'];
    const shown = `restic -r ${ctx.setting(e.cluster, 'resticRepository')} ${restore.join(' ')}${input.what === 'config' ? ` && cp ${scratch}/config.sh ${e.repo}/` : ''}`;
    const from = input.passwordRef ?? (ctx.setting(e.cluster, 'resticPassword') || 'settings.resticPassword');
    const plan = `${input.node}: ${shown} (password from ${from} on stdin)`;
    if (input.dryRun) return { dryRun: true, plan };
    // Once per step: a completion marker, touched in the same remote chain right after the restore
    // (for config.sh: after its copy into the checkout). A restore the worker's death interrupted
    // leaves none, and its retry restores again over the partial files (restic converges).
    const marker = `${MARKERS}/${ctx.stableKey(`restore-${input.what}`)}`;
    if ((await read(ctx, input, ['test', '-e', marker])).exitCode === 0) {
      return { alreadyDone: true, plan, output: `this step already restored ${input.what === 'config' ? 'config.sh' : (input.path ?? 'the homes')} from ${input.snapshot}` };
    }
    const { password } = await openRepo(ctx, input, e, input.passwordRef);
    const argv = base(ctx, e);
    const cmds: RemoteCommand[] = [
      { argv: e.as(['mkdir', '-p', input.what === 'config' ? scratch : target]) },
      { argv: ['mkdir', '-p', MARKERS] },
      { argv: [...argv, ...restore] },
      ...(input.what !== 'config' ? [{ argv: ['touch', marker] }] : []),
    ];
    const c = Context.current();
    let last: Record<string, number> = {};
    const res = await sh(
      ctx,
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
          restoring: input.what === 'config' ? 'config.sh' : (input.path ?? 'homes'),
          percent: Math.round((last.percent_done ?? 0) * 100),
          filesRestored: last.files_restored,
          totalFiles: last.total_files,
          bytesRestored: last.bytes_restored,
          totalBytes: last.total_bytes,
        });
      },
      [password],
    );
    ctx.check(input, res, `restic restore ${input.what === 'config' ? 'config.sh' : (input.path ?? 'homes')}`, 'check the repository and snapshot (restic snapshots), then retry: a retry restores again over the partial files');
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
    return { plan, output: ctx.check(input, res, `chown of ${input.user}'s home`, `check the user exists (the setup-users script) and the home was restored`) };
  });
}
