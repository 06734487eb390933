/**
 * The selfplay games databases (SQLite, seed 000 §3 and §4): their state and
 * integrity, backups on NFS, quarantine, re-sync from peers, restore, and
 * the cluster-wide aggregate and its backup.
 *
 * @module
 */
import type { ClusterSpec } from '../../inventory/schema';
import type { EffectResult, NodeRef } from '../common/types';
import { lastLines } from '../context';
import { TransportError } from '../transport/errors';
import type { RemoteCommand } from '../transport/shell';
import type { TrainingClusterContext } from './context';
import { sh, where } from './host';
import { selfplayPids } from './selfplay';
import type { GamesBackupInfo, GamesDbStatus } from './types';

/** The seed §3 option 1 snippet, for one host. */
function syncSnippet(host: string): string {
  return [
    'from app.coordination.auto_sync_daemon import AutoSyncDaemon',
    'import asyncio',
    'daemon = AutoSyncDaemon()',
    `asyncio.run(daemon.sync_to_host(${JSON.stringify(host).replace(/"/g, "'")}))`,
  ].join('\n');
}

/** The seed §6 load check, for one file. */
export function loadSnippet(path: string): string {
  return [
    'import torch',
    'try:',
    `    checkpoint = torch.load(${JSON.stringify(path).replace(/"/g, "'")}, weights_only=True)`,
    "    print(f'Model keys: {list(checkpoint.keys())}')",
    "    print('Model OK')",
    'except Exception as e:',
    "    print(f'Model CORRUPTED: {e}')",
  ].join('\n');
}

async function sqliteCount(ctx: TrainingClusterContext, ref: NodeRef, cwd: string | undefined, db: string): Promise<{ count?: number; integrity: string; byConfig: Record<string, number> }> {
  const test = await sh(ctx, ref, cwd, ['test', '-f', db]);
  if (test.exitCode !== 0) return { integrity: 'missing', byConfig: {} };
  const ic = await sh(ctx, ref, cwd, ['sqlite3', db, 'PRAGMA integrity_check']);
  const icOut = `${ic.stdout}${ic.stderr}`.trim();
  const integrity = ic.exitCode === 0 ? lastLines(icOut, 5) || 'ok' : sqliteError(icOut);
  const c = await sh(ctx, ref, cwd, ['sqlite3', db, 'SELECT COUNT(*) FROM games']);
  const count = c.exitCode === 0 && /^\d+$/.test(c.stdout.trim()) ? Number(c.stdout.trim()) : undefined;
  const byConfig: Record<string, number> = {};
  if (count !== undefined) {
    const g = await sh(ctx, ref, cwd, ['sqlite3', '-separator', ' ', db, "SELECT board_type || '_' || num_players || 'p', COUNT(*) FROM games GROUP BY 1"]);
    for (const line of g.exitCode === 0 ? g.stdout.split('\n') : []) {
      const [k, v] = line.trim().split(' ');
      if (k && v && /^\d+$/.test(v)) byConfig[k] = Number(v);
    }
  }
  return { count, integrity, byConfig };
}

/** sqlite3's complaint in a few words ("file is not a database"). */
function sqliteError(out: string): string {
  const line = out.split('\n').find((l) => /error/i.test(l)) ?? out.split('\n')[0] ?? 'unreadable';
  return line.replace(/^(Error|Parse error)[^:]*:\s*/i, '').replace(/^in prepare,\s*/, '').trim() || 'unreadable';
}

function backupPath(ctx: TrainingClusterContext, cluster: ClusterSpec, node: string): string {
  return ctx.setting(cluster, 'gamesBackup').replace(/\{node\}/g, node);
}

/** Game count, `PRAGMA integrity_check`, the `*.db` files and whether selfplay runs, over SSH in the node's workdir. */
export async function gamesDbStatus(ctx: TrainingClusterContext, ref: NodeRef): Promise<GamesDbStatus> {
  return ctx.run(async () => {
    const { cluster, cwd } = where(ctx, ref);
    const db = ctx.setting(cluster, 'gamesDb');
    try {
      const f = await sh(ctx, ref, cwd, ['find', ctx.setting(cluster, 'gamesDir'), '-name', '*.db', '-exec', 'du', '-h', '{}', ';']);
      const databases = f.stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((p) => p.length === 2)
        .map(([size, path]) => ({ path: path!, size: size! }));
      const c = await sqliteCount(ctx, ref, cwd, db);
      const pids = await selfplayPids(ctx, ref, cluster, cwd);
      return { node: ref.node, reachable: true, databases, exists: c.integrity !== 'missing', ...c, selfplayRunning: pids.length > 0 };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message, databases: [], exists: false, integrity: 'unknown', byConfig: {}, selfplayRunning: false };
      throw err;
    }
  });
}

/** Age, count and integrity of `node`'s backup on the shared backup directory (`settings.gamesBackup`), read on `via` (default the node). */
export async function gamesBackupInfo(ctx: TrainingClusterContext, input: NodeRef & { via?: string }): Promise<GamesBackupInfo> {
  return ctx.run(async () => {
    const { cluster } = where(ctx, input);
    const ref = { cluster: input.cluster, node: input.via ?? input.node };
    const { cwd } = where(ctx, ref);
    const path = backupPath(ctx, cluster, input.node);
    const st = await sh(ctx, ref, cwd, ['stat', '-c', '%Y', path]);
    if (st.exitCode !== 0) return { node: input.node, path, exists: false, integrity: 'missing' };
    const takenAt = new Date(Number(st.stdout.trim()) * 1000).toISOString();
    const c = await sqliteCount(ctx, ref, cwd, path);
    return { node: input.node, path, exists: true, count: c.count, integrity: c.integrity, takenAt };
  });
}

/** `mv data/games/selfplay.db data/games/selfplay.db.corrupt-<suffix>`: keeps the unreadable file for the post-mortem; absent counts as done. */
export async function gamesQuarantine(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean; suffix: string }): Promise<EffectResult & { movedTo?: string }> {
  return ctx.run(async () => {
    const { cluster, cwd } = where(ctx, input);
    const db = ctx.setting(cluster, 'gamesDb');
    const to = `${db}.corrupt-${input.suffix.replace(/[^A-Za-z0-9._-]/g, '_')}`;
    const plan = `${input.node}: mv ${db} ${to}`;
    if (input.dryRun) return { dryRun: true, plan, movedTo: to };
    const there = await sh(ctx, input, cwd, ['test', '-f', db]);
    if (there.exitCode !== 0) {
      const moved = await sh(ctx, input, cwd, ['test', '-f', to]);
      return { plan, alreadyDone: true, movedTo: moved.exitCode === 0 ? to : undefined, output: moved.exitCode === 0 ? `already moved to ${to}` : `${db} does not exist: nothing to move aside` };
    }
    ctx.check(input, await sh(ctx, input, cwd, ['mv', '-n', db, to]), `moving ${db} aside`, `check the permissions of ${ctx.setting(cluster, 'gamesDir')} on ${input.node}`);
    return { plan, movedTo: to, output: `kept the unreadable database as ${to}` };
  });
}

/** Seed §3 option 1 on `via` (the coordinator): `AutoSyncDaemon().sync_to_host(node)`, healthy peers' copies of the node's games. */
export async function gamesSyncToHost(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean; via: string }): Promise<EffectResult & { copied?: number }> {
  return ctx.run(async () => {
    where(ctx, input); // the affected host must be in the inventory
    const via = { cluster: input.cluster, node: input.via };
    const { cwd } = where(ctx, via);
    const code = syncSnippet(input.node);
    const plan = `${input.via}: python -c "${code.split('\n').join('; ')}"`;
    if (input.dryRun) return { dryRun: true, plan };
    // Once per step: a completion marker on the coordinator, touched in the same command chain right
    // after the sync, keyed by workflow, run and activity id (stable across retries).
    const dir = '.lifeboat/syncs';
    const marker = `${dir}/${ctx.stableKey(`sync-${input.node}`)}`;
    if ((await sh(ctx, via, cwd, ['test', '-f', marker])).exitCode === 0) return { plan, alreadyDone: true, output: `this step already synced ${input.node} from the cluster` };
    const cmds: RemoteCommand[] = [
      { argv: ['python', '-c', code], cwd },
      { argv: ['mkdir', '-p', dir], cwd },
      { argv: ['touch', marker], cwd },
    ];
    const res = await ctx.exec(via, cmds, 30 * 60_000);
    const out = ctx.check(via, res, `the sync to ${input.node}`, `check that the sync daemon's peers are reachable from ${input.via}, then retry`);
    const m = /synced (\d+) games/i.exec(out);
    return { plan, output: out, copied: m ? Number(m[1]) : undefined };
  });
}

/** Seed §3 option 2 on `via` (a host with the backup mount): `scp <backup> node:<workdir>/data/games/selfplay.db`; identical files count as done. */
export async function gamesRestoreBackup(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean; via: string }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster, workdir, cwd } = where(ctx, input);
    const via = { cluster: input.cluster, node: input.via };
    const viaCwd = where(ctx, via).cwd;
    const src = backupPath(ctx, cluster, input.node);
    const db = ctx.setting(cluster, 'gamesDb');
    const dst = `${input.node}:${db.startsWith('/') ? db : `${workdir.replace(/\/$/, '')}/${db}`}`;
    const plan = `${input.via}: scp ${src} ${dst}`;
    if (input.dryRun) return { dryRun: true, plan };
    const sum = async (ref: NodeRef, dir: string | undefined, path: string) => {
      const r = await sh(ctx, ref, dir, ['sha256sum', path]);
      return r.exitCode === 0 ? r.stdout.trim().split(/\s+/)[0] : undefined;
    };
    const want = await sum(via, viaCwd, src);
    if (!want) throw new TransportError('BackupMissing', `no backup at ${src} on ${input.via}; check the backup mount, or choose another option`, false);
    if ((await sum(input, cwd, db)) === want) return { plan, alreadyDone: true, output: `${db} on ${input.node} is already the backup (sha256 ${want.slice(0, 12)})` };
    const out = ctx.check(via, await ctx.exec(via, [{ argv: ['scp', src, dst], cwd: viaCwd }], 30 * 60_000), 'copying the backup', `check that ${input.via} can reach ${input.node} over SSH and retry`);
    const got = await sum(input, cwd, db);
    if (got !== want) throw new TransportError('RestoreMismatch', `the restored ${db} on ${input.node} does not match the backup (sha256 ${got ?? 'none'} vs ${want}); retry the step`, true);
    return { plan, output: out || `restored ${src} onto ${input.node} (sha256 ${want.slice(0, 12)})` };
  });
}

/**
 * Seed §4 step 1 on the coordinator (`node`). v2 (`from` given): the survivors' databases are copied
 * to `data/games/collected_<date>/` on it (`scp <host>:<workdir>/<gamesDb>`), then merged by the real
 * `python scripts/aggregate_cluster_dbs.py --input-dir <that> --output data/games/cluster_aggregated_<date>.db`.
 * v1 (histories recorded before): the seed's `aggregate_cluster_data.py --target-host <node>`.
 */
export async function gamesAggregate(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean; from?: string[]; date?: string }): Promise<EffectResult & { total?: number; path?: string }> {
  return ctx.run(async () => {
    const { cluster, cwd } = where(ctx, input);
    if (!input.from) {
      const argv = ['python', ctx.setting(cluster, 'aggregateScript'), '--target-host', input.node];
      const plan = `${input.node}: ${argv.join(' ')}`;
      if (input.dryRun) return { dryRun: true, plan };
      const out = ctx.check(input, await ctx.exec(input, [{ argv, cwd }], 60 * 60_000), 'aggregating the cluster data', 'stop writes on every node that still has data, then retry');
      const m = /:\s*(\d+) games/.exec(out);
      return { plan, output: out, total: m ? Number(m[1]) : undefined };
    }
    const date = input.date ?? '';
    if (!/^\d{8}$/.test(date)) throw new TransportError('InvalidArgument', `aggregation date must be YYYYMMDD, got "${date}"`, false);
    const db = ctx.setting(cluster, 'gamesDb');
    const dir = `${ctx.setting(cluster, 'gamesDir').replace(/\/$/, '')}/collected_${date}`;
    const output = `${ctx.setting(cluster, 'gamesDir').replace(/\/$/, '')}/cluster_aggregated_${date}.db`;
    const script = ['python', ctx.setting(cluster, 'aggregateDbsScript'), '--input-dir', dir, '--output', output];
    const copies: RemoteCommand[] = input.from.map((host) => {
      if (host === input.node) return { argv: ['cp', db, `${dir}/${host}.db`], cwd };
      const src = where(ctx, { cluster: input.cluster, node: host });
      return { argv: ['scp', `${host}:${db.startsWith('/') ? db : `${src.workdir.replace(/\/$/, '')}/${db}`}`, `${dir}/${host}.db`], cwd };
    });
    const plan = `${input.node}: mkdir -p ${dir}; ${copies.map((c) => c.argv.join(' ')).join('; ')}; ${script.join(' ')}`;
    if (input.dryRun) return { dryRun: true, plan, path: output };
    const res = await ctx.exec(input, [{ argv: ['rm', '-rf', dir], cwd }, { argv: ['mkdir', '-p', dir], cwd }, ...copies, { argv: script, cwd }], 60 * 60_000);
    const out = ctx.check(input, res, 'aggregating the surviving databases', `check that ${input.node} reaches ${input.from.join(', ')} over SSH and that writes are stopped, then retry`);
    const count = await sh(ctx, input, cwd, ['sqlite3', output, 'SELECT COUNT(*) FROM games']);
    const total = count.exitCode === 0 && /^\d+$/.test(count.stdout.trim()) ? Number(count.stdout.trim()) : undefined;
    return { plan, path: output, total, output: lastLines(out, 4) };
  });
}

/** Seed §4 step 2 on the node: `cp -r data/games <backupRoot>/games_<date>`; an existing backup of that name counts as done. */
export async function gamesBackupAggregate(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean; date: string }): Promise<EffectResult & { path: string }> {
  return ctx.run(async () => {
    if (!/^\d{8}$/.test(input.date)) throw new TransportError('InvalidArgument', `backup date must be YYYYMMDD, got "${input.date}"`, false);
    const { cluster, cwd } = where(ctx, input);
    const dir = ctx.setting(cluster, 'gamesDir');
    const path = `${ctx.setting(cluster, 'backupRoot').replace(/\/$/, '')}/games_${input.date}`;
    const plan = `${input.node}: cp -r ${dir} ${path}`;
    if (input.dryRun) return { dryRun: true, plan, path };
    if ((await sh(ctx, input, cwd, ['test', '-e', path])).exitCode === 0) return { plan, path, alreadyDone: true, output: `${path} exists already` };
    // Copy under a temporary name, then rename: a half-copied backup never carries the final name.
    const tmp = `${path}.partial`;
    const cmds: RemoteCommand[] = [
      { argv: ['rm', '-rf', tmp], cwd },
      { argv: ['cp', '-r', dir, tmp], cwd },
      { argv: ['mv', tmp, path], cwd },
    ];
    ctx.check(input, await ctx.exec(input, cmds, 60 * 60_000), `backing up ${dir}`, `check the backup mount ${ctx.setting(cluster, 'backupRoot')} on ${input.node}`);
    const du = await sh(ctx, input, cwd, ['du', '-sh', path]);
    return { plan, path, output: du.stdout.trim() || `copied ${dir} to ${path}` };
  });
}
