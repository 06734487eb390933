/**
 * The training cluster's data and models (seed 000 §3, §4, §6) activities:
 * the runbook's commands over SSH in each node's workdir — `sqlite3` on the
 * game database, `find`, `scp` from the backup mount, the selfplay,
 * aggregation and sync scripts, the model load check, `sha256sum` against the
 * manifest, and `python -m app.training.train --resume`.
 *
 * Idempotency: every effect checks before it acts. A quarantine finds the
 * database already moved, a restore finds identical files (same sha256), a
 * swap or restore of the model finds the canonical model already matching its
 * manifest, selfplay found running is not started twice, a dated backup that
 * exists is not copied again, a model fetch finds the staged copy (or the
 * canonical model) already verified, sync and aggregation only insert missing
 * games; a re-sync and a resumed training leave once-per-step markers so a
 * retried attempt does not sync or train twice.
 *
 * @module
 */
import type { ClusterSpec } from '../inventory/schema';
import { lastLines, type ActivityContext } from './context';
import { TransportError } from './errors';
import type { RemoteCommand } from './shell';
import type { EffectResult, NodeRef } from './types';
import type { GamesBackupInfo, GamesDbStatus, ModelCheck, TrainingDataActivities } from './types-training-data';

/** Per-cluster settings of the data scenarios, with their defaults (the runbook's values). */
export const TRAINING_DATA_DEFAULTS = {
  gamesDir: 'data/games',
  gamesDb: 'data/games/selfplay.db',
  /** The NFS backup root (seed: /lambda/nfs/RingRift/backups). */
  backupRoot: '/lambda/nfs/RingRift/backups',
  /** The node's games backup; `{node}` is replaced by the node's name. */
  gamesBackup: '/lambda/nfs/RingRift/backups/games/selfplay_latest.db',
  selfplayStart: 'python scripts/selfplay.py --board hex8 --num-players 2 --engine gumbel',
  selfplayPattern: 'scripts/selfplay.py',
  selfplayLog: 'logs/selfplay.log',
  aggregateScript: 'scripts/aggregate_cluster_data.py',
  launchSelfplayScript: 'scripts/launch_selfplay_cluster.py',
  model: 'models/canonical_hex8_2p.pth',
  modelManifest: 'models/MANIFEST.sha256',
  modelBackupDir: 'models/backup',
  checkpointsDir: 'models/checkpoints',
  /** The checkpoint family of the canonical model (`ls models/checkpoints | grep hex8_2p`). */
  checkpointPrefix: 'hex8_2p',
  trainArgs: '--board-type hex8 --num-players 2',
  /** Longest a resumed training may run (it heartbeats meanwhile). */
  trainTimeoutSeconds: 4 * 3600,
};

const READ_MS = 30_000;

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
function loadSnippet(path: string): string {
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

/** The training-data activities of one worker. */
export function trainingDataActivities(ctx: ActivityContext): TrainingDataActivities {
  const { lookup, missing, exec, check, sleep, run, isUnreachable, stableKey } = ctx;
  const setting = <K extends keyof typeof TRAINING_DATA_DEFAULTS>(cluster: ClusterSpec, key: K): (typeof TRAINING_DATA_DEFAULTS)[K] =>
    ctx.setting(cluster, key, TRAINING_DATA_DEFAULTS[key]);
  const words = (s: string) => s.split(/\s+/).filter(Boolean);

  /** The node's workdir and settings; a node without SSH is an inventory error. */
  function where(ref: NodeRef): { cluster: ClusterSpec; cwd?: string; workdir: string } {
    const { cluster, node } = lookup(ref);
    if (!node.ssh) throw missing(ref, 'ssh block', 'ssh: {host, user, privateKey, hostKeys, workdir}');
    return { cluster, cwd: node.ssh.workdir, workdir: node.ssh.workdir ?? '.' };
  }

  const sh = (ref: NodeRef, cwd: string | undefined, argv: string[], ms = READ_MS) => exec(ref, [{ argv, cwd }], ms);

  async function sqliteCount(ref: NodeRef, cwd: string | undefined, db: string): Promise<{ count?: number; integrity: string; byConfig: Record<string, number> }> {
    const test = await sh(ref, cwd, ['test', '-f', db]);
    if (test.exitCode !== 0) return { integrity: 'missing', byConfig: {} };
    const ic = await sh(ref, cwd, ['sqlite3', db, 'PRAGMA integrity_check']);
    const icOut = `${ic.stdout}${ic.stderr}`.trim();
    const integrity = ic.exitCode === 0 ? lastLines(icOut, 5) || 'ok' : sqliteError(icOut);
    const c = await sh(ref, cwd, ['sqlite3', db, 'SELECT COUNT(*) FROM games']);
    const count = c.exitCode === 0 && /^\d+$/.test(c.stdout.trim()) ? Number(c.stdout.trim()) : undefined;
    const byConfig: Record<string, number> = {};
    if (count !== undefined) {
      const g = await sh(ref, cwd, ['sqlite3', '-separator', ' ', db, "SELECT board_type || '_' || num_players || 'p', COUNT(*) FROM games GROUP BY 1"]);
      for (const line of g.exitCode === 0 ? g.stdout.split('\n') : []) {
        const [k, v] = line.trim().split(' ');
        if (k && v && /^\d+$/.test(v)) byConfig[k] = Number(v);
      }
    }
    return { count, integrity, byConfig };
  }

  async function selfplayPids(ref: NodeRef, cluster: ClusterSpec, cwd: string | undefined): Promise<string[]> {
    const r = await sh(ref, cwd, ['pgrep', '-f', setting(cluster, 'selfplayPattern')]);
    return r.exitCode === 0 ? r.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p)) : [];
  }

  async function gamesDbStatus(ref: NodeRef): Promise<GamesDbStatus> {
    return run(async () => {
      const { cluster, cwd } = where(ref);
      const db = setting(cluster, 'gamesDb');
      try {
        const f = await sh(ref, cwd, ['find', setting(cluster, 'gamesDir'), '-name', '*.db', '-exec', 'du', '-h', '{}', ';']);
        const databases = f.stdout
          .split('\n')
          .map((l) => l.trim().split(/\s+/))
          .filter((p) => p.length === 2)
          .map(([size, path]) => ({ path: path!, size: size! }));
        const c = await sqliteCount(ref, cwd, db);
        const pids = await selfplayPids(ref, cluster, cwd);
        return { node: ref.node, reachable: true, databases, exists: c.integrity !== 'missing', ...c, selfplayRunning: pids.length > 0 };
      } catch (err) {
        if (isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message, databases: [], exists: false, integrity: 'unknown', byConfig: {}, selfplayRunning: false };
        throw err;
      }
    });
  }

  function backupPath(cluster: ClusterSpec, node: string): string {
    return setting(cluster, 'gamesBackup').replace(/\{node\}/g, node);
  }

  async function gamesBackupInfo(input: NodeRef & { via?: string }): Promise<GamesBackupInfo> {
    return run(async () => {
      const { cluster } = where(input);
      const ref = { cluster: input.cluster, node: input.via ?? input.node };
      const { cwd } = where(ref);
      const path = backupPath(cluster, input.node);
      const st = await sh(ref, cwd, ['stat', '-c', '%Y', path]);
      if (st.exitCode !== 0) return { node: input.node, path, exists: false, integrity: 'missing' };
      const takenAt = new Date(Number(st.stdout.trim()) * 1000).toISOString();
      const c = await sqliteCount(ref, cwd, path);
      return { node: input.node, path, exists: true, count: c.count, integrity: c.integrity, takenAt };
    });
  }

  async function gamesQuarantine(input: NodeRef & { dryRun?: boolean; suffix: string }): Promise<EffectResult & { movedTo?: string }> {
    return run(async () => {
      const { cluster, cwd } = where(input);
      const db = setting(cluster, 'gamesDb');
      const to = `${db}.corrupt-${input.suffix.replace(/[^A-Za-z0-9._-]/g, '_')}`;
      const plan = `${input.node}: mv ${db} ${to}`;
      if (input.dryRun) return { dryRun: true, plan, movedTo: to };
      const there = await sh(input, cwd, ['test', '-f', db]);
      if (there.exitCode !== 0) {
        const moved = await sh(input, cwd, ['test', '-f', to]);
        return { plan, alreadyDone: true, movedTo: moved.exitCode === 0 ? to : undefined, output: moved.exitCode === 0 ? `already moved to ${to}` : `${db} does not exist: nothing to move aside` };
      }
      check(input, await sh(input, cwd, ['mv', '-n', db, to]), `moving ${db} aside`, `check the permissions of ${setting(cluster, 'gamesDir')} on ${input.node}`);
      return { plan, movedTo: to, output: `kept the unreadable database as ${to}` };
    });
  }

  async function gamesSyncToHost(input: NodeRef & { dryRun?: boolean; via: string }): Promise<EffectResult & { copied?: number }> {
    return run(async () => {
      where(input); // the affected host must be in the inventory
      const via = { cluster: input.cluster, node: input.via };
      const { cwd } = where(via);
      const code = syncSnippet(input.node);
      const plan = `${input.via}: python -c "${code.split('\n').join('; ')}"`;
      if (input.dryRun) return { dryRun: true, plan };
      // Once per step: a completion marker on the coordinator, touched in the same command chain right
      // after the sync, keyed by workflow, run and activity id (stable across retries).
      const dir = '.lifeboat/syncs';
      const marker = `${dir}/${stableKey(`sync-${input.node}`)}`;
      if ((await sh(via, cwd, ['test', '-f', marker])).exitCode === 0) return { plan, alreadyDone: true, output: `this step already synced ${input.node} from the cluster` };
      const cmds: RemoteCommand[] = [
        { argv: ['python', '-c', code], cwd },
        { argv: ['mkdir', '-p', dir], cwd },
        { argv: ['touch', marker], cwd },
      ];
      const res = await exec(via, cmds, 30 * 60_000);
      const out = check(via, res, `the sync to ${input.node}`, `check that the sync daemon's peers are reachable from ${input.via}, then retry`);
      const m = /synced (\d+) games/i.exec(out);
      return { plan, output: out, copied: m ? Number(m[1]) : undefined };
    });
  }

  async function gamesRestoreBackup(input: NodeRef & { dryRun?: boolean; via: string }): Promise<EffectResult> {
    return run(async () => {
      const { cluster, workdir, cwd } = where(input);
      const via = { cluster: input.cluster, node: input.via };
      const viaCwd = where(via).cwd;
      const src = backupPath(cluster, input.node);
      const db = setting(cluster, 'gamesDb');
      const dst = `${input.node}:${db.startsWith('/') ? db : `${workdir.replace(/\/$/, '')}/${db}`}`;
      const plan = `${input.via}: scp ${src} ${dst}`;
      if (input.dryRun) return { dryRun: true, plan };
      const sum = async (ref: NodeRef, dir: string | undefined, path: string) => {
        const r = await sh(ref, dir, ['sha256sum', path]);
        return r.exitCode === 0 ? r.stdout.trim().split(/\s+/)[0] : undefined;
      };
      const want = await sum(via, viaCwd, src);
      if (!want) throw new TransportError('BackupMissing', `no backup at ${src} on ${input.via}; check the backup mount, or choose another option`, false);
      if ((await sum(input, cwd, db)) === want) return { plan, alreadyDone: true, output: `${db} on ${input.node} is already the backup (sha256 ${want.slice(0, 12)})` };
      const out = check(via, await exec(via, [{ argv: ['scp', src, dst], cwd: viaCwd }], 30 * 60_000), 'copying the backup', `check that ${input.via} can reach ${input.node} over SSH and retry`);
      const got = await sum(input, cwd, db);
      if (got !== want) throw new TransportError('RestoreMismatch', `the restored ${db} on ${input.node} does not match the backup (sha256 ${got ?? 'none'} vs ${want}); retry the step`, true);
      return { plan, output: out || `restored ${src} onto ${input.node} (sha256 ${want.slice(0, 12)})` };
    });
  }

  async function selfplayStart(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(async () => {
      const { cluster, cwd } = where(input);
      const argv = words(setting(cluster, 'selfplayStart'));
      const log = setting(cluster, 'selfplayLog');
      const plan = `${input.node}: ${cwd ? `cd ${cwd} && ` : ''}nohup ${argv.join(' ')} > ${log} 2>&1 &`;
      if (input.dryRun) return { dryRun: true, plan };
      const before = await selfplayPids(input, cluster, cwd);
      if (before.length > 0) return { plan, alreadyDone: true, output: `selfplay already running (pid ${before.join(',')})` };
      const logDir = log.includes('/') ? log.slice(0, log.lastIndexOf('/')) : '.';
      const cmds: RemoteCommand[] = [
        { argv: ['mkdir', '-p', logDir], cwd },
        { argv, cwd, detach: { logFile: log } },
      ];
      check(input, await exec(input, cmds, 60_000), 'starting selfplay', `check ${log} on ${input.node}`);
      for (let i = 0; i < 15; i++) {
        const pids = await selfplayPids(input, cluster, cwd);
        if (pids.length > 0) return { plan, output: `selfplay running (pid ${pids.join(',')})` };
        // A start that already failed says so in its log (the launch truncated it): no need to wait it out.
        const early = await sh(input, cwd, ['tail', '-n', '5', log]);
        if (early.exitCode === 0 && /Error|Traceback/.test(early.stdout)) break;
        await sleep(1_000);
      }
      const tail = await sh(input, cwd, ['tail', '-n', '20', log]).catch(() => undefined);
      throw new TransportError(
        'SelfplayFailed',
        `selfplay on ${input.node} is not running after its start${tail ? `; ${log}: ${lastLines(tail.stdout + tail.stderr, 6)}` : ''}; fix the cause (an unreadable database must be moved aside), then retry the step`,
        false,
      );
    });
  }

  async function selfplayStop(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(async () => {
      const { cluster, cwd } = where(input);
      const pattern = setting(cluster, 'selfplayPattern');
      const plan = `${input.node}: pkill -f ${pattern}`;
      if (input.dryRun) return { dryRun: true, plan };
      const before = await selfplayPids(input, cluster, cwd);
      if (before.length === 0) return { plan, alreadyDone: true, output: 'selfplay not running: no writes to stop' };
      await sh(input, cwd, ['pkill', '-f', pattern]);
      for (let i = 0; i < 10; i++) {
        if ((await selfplayPids(input, cluster, cwd)).length === 0) return { plan, output: `stopped selfplay (pid ${before.join(',')})` };
        await sleep(1_000);
      }
      throw new TransportError('StopFailed', `selfplay on ${input.node} still runs after pkill; stop it by hand (kill ${before.join(' ')}) and retry`, false);
    });
  }

  async function gamesAggregate(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult & { total?: number }> {
    return run(async () => {
      const { cluster, cwd } = where(input);
      const argv = ['python', setting(cluster, 'aggregateScript'), '--target-host', input.node];
      const plan = `${input.node}: ${argv.join(' ')}`;
      if (input.dryRun) return { dryRun: true, plan };
      const out = check(input, await exec(input, [{ argv, cwd }], 60 * 60_000), 'aggregating the cluster data', 'stop writes on every node that still has data, then retry');
      const m = /:\s*(\d+) games/.exec(out);
      return { plan, output: out, total: m ? Number(m[1]) : undefined };
    });
  }

  async function gamesBackupAggregate(input: NodeRef & { dryRun?: boolean; date: string }): Promise<EffectResult & { path: string }> {
    return run(async () => {
      if (!/^\d{8}$/.test(input.date)) throw new TransportError('InvalidArgument', `backup date must be YYYYMMDD, got "${input.date}"`, false);
      const { cluster, cwd } = where(input);
      const dir = setting(cluster, 'gamesDir');
      const path = `${setting(cluster, 'backupRoot').replace(/\/$/, '')}/games_${input.date}`;
      const plan = `${input.node}: cp -r ${dir} ${path}`;
      if (input.dryRun) return { dryRun: true, plan, path };
      if ((await sh(input, cwd, ['test', '-e', path])).exitCode === 0) return { plan, path, alreadyDone: true, output: `${path} exists already` };
      // Copy under a temporary name, then rename: a half-copied backup never carries the final name.
      const tmp = `${path}.partial`;
      const cmds: RemoteCommand[] = [
        { argv: ['rm', '-rf', tmp], cwd },
        { argv: ['cp', '-r', dir, tmp], cwd },
        { argv: ['mv', tmp, path], cwd },
      ];
      check(input, await exec(input, cmds, 60 * 60_000), `backing up ${dir}`, `check the backup mount ${setting(cluster, 'backupRoot')} on ${input.node}`);
      const du = await sh(input, cwd, ['du', '-sh', path]);
      return { plan, path, output: du.stdout.trim() || `copied ${dir} to ${path}` };
    });
  }

  async function selfplayLaunchCluster(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(async () => {
      const { cluster, cwd } = where(input);
      const argv = ['python', setting(cluster, 'launchSelfplayScript'), '--all-nodes'];
      const plan = `${input.node}: ${argv.join(' ')}`;
      if (input.dryRun) return { dryRun: true, plan };
      const out = check(input, await exec(input, [{ argv, cwd }], 10 * 60_000), 'launching selfplay across the cluster', 'see which node failed in the output, fix it, then retry');
      return { plan, output: out };
    });
  }

  async function checkModel(ref: NodeRef, cluster: ClusterSpec, cwd: string | undefined, path: string): Promise<ModelCheck> {
    const model = setting(cluster, 'model');
    const base: ModelCheck = { node: ref.node, reachable: true, path, exists: false, loads: false, checksumOk: false };
    if ((await sh(ref, cwd, ['test', '-f', path])).exitCode !== 0) return { ...base, loadError: `${path} does not exist` };
    const load = await sh(ref, cwd, ['python', '-c', loadSnippet(path)], 120_000);
    const out = load.stdout + load.stderr;
    const loads = load.exitCode === 0 && /^Model OK$/m.test(out);
    const keys = /^Model keys: \[(.*)\]$/m.exec(out)?.[1]?.split(',').map((k) => k.trim().replace(/^'|'$/g, '')).filter(Boolean);
    const sum = await sh(ref, cwd, ['sha256sum', path]);
    const sha256 = sum.exitCode === 0 ? sum.stdout.trim().split(/\s+/)[0] : undefined;
    const manifest = await sh(ref, cwd, ['cat', setting(cluster, 'modelManifest')]);
    const name = model.slice(model.lastIndexOf('/') + 1);
    const line = manifest.exitCode === 0 ? manifest.stdout.split('\n').find((l) => l.trim().split(/\s+/)[1]?.replace(/^\*/, '').endsWith(name)) : undefined;
    const expectedSha256 = line?.trim().split(/\s+/)[0];
    return {
      ...base,
      exists: true,
      loads,
      keys,
      loadError: loads ? undefined : lastLines(/Model CORRUPTED: .*/.exec(out)?.[0] ?? out, 3),
      sha256,
      expectedSha256,
      checksumOk: !!sha256 && sha256 === expectedSha256,
    };
  }

  const backupModel = (cluster: ClusterSpec): string => {
    const model = setting(cluster, 'model');
    return `${setting(cluster, 'modelBackupDir').replace(/\/$/, '')}/${model.slice(model.lastIndexOf('/') + 1)}`;
  };

  async function modelCheck(input: NodeRef & { path?: string; backup?: boolean }): Promise<ModelCheck> {
    return run(async () => {
      const { cluster, cwd } = where(input);
      const path = input.path ?? (input.backup ? backupModel(cluster) : setting(cluster, 'model'));
      try {
        return await checkModel(input, cluster, cwd, path);
      } catch (err) {
        if (isUnreachable(err)) return { node: input.node, reachable: false, error: (err as Error).message, path, exists: false, loads: false, checksumOk: false };
        throw err;
      }
    });
  }

  /** Replaces the canonical model with `from` (a path on the node) once `from` loads and matches the manifest. */
  async function replaceModel(input: NodeRef, cluster: ClusterSpec, cwd: string | undefined, from: string, verb: 'cp' | 'mv', plan: string): Promise<EffectResult> {
    const model = setting(cluster, 'model');
    const now = await checkModel(input, cluster, cwd, model);
    if (now.loads && now.checksumOk) return { plan, alreadyDone: true, output: `${model} already matches the manifest (sha256 ${now.sha256?.slice(0, 12)})` };
    const src = await checkModel(input, cluster, cwd, from);
    if (!src.loads || !src.checksumOk) {
      throw new TransportError(
        'ModelUnverified',
        `refusing to put ${from} in place of ${model} on ${input.node}: ${!src.exists ? 'it does not exist' : !src.loads ? `it does not load (${src.loadError ?? '?'})` : `its sha256 ${src.sha256?.slice(0, 12)} does not match the manifest's ${src.expectedSha256?.slice(0, 12) ?? '(none)'}`}`,
        false,
      );
    }
    check(input, await sh(input, cwd, [verb, '-f', from, model]), `${verb} ${from} ${model}`, `check the permissions of models/ on ${input.node}`);
    const after = await checkModel(input, cluster, cwd, model);
    if (!after.checksumOk) throw new TransportError('ModelUnverified', `${model} on ${input.node} does not match the manifest after the copy; retry the step`, true);
    return { plan, output: `${model} replaced; loads, sha256 ${after.sha256?.slice(0, 12)} matches the manifest` };
  }

  async function modelRestoreBackup(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(async () => {
      const { cluster, cwd } = where(input);
      const model = setting(cluster, 'model');
      const backup = backupModel(cluster);
      const plan = `${input.node}: cp ${backup} ${model}`;
      if (input.dryRun) return { dryRun: true, plan };
      return replaceModel(input, cluster, cwd, backup, 'cp', plan);
    });
  }

  async function modelFetch(input: NodeRef & { dryRun?: boolean; from: string }): Promise<EffectResult & { check?: ModelCheck }> {
    return run(async () => {
      const { cluster, cwd } = where(input);
      const src = where({ cluster: input.cluster, node: input.from });
      const model = setting(cluster, 'model');
      const remote = `${input.from}:${model.startsWith('/') ? model : `${src.workdir.replace(/\/$/, '')}/${model}`}`;
      const incoming = `${model}.incoming`;
      const plan = `${input.node}: scp ${remote} ${incoming}`;
      if (input.dryRun) return { dryRun: true, plan };
      // Check first: a staged copy that verifies (an earlier attempt's) is not pulled again; nor is
      // anything when the canonical model already verifies. A partial or bad copy is pulled over.
      const staged = await checkModel(input, cluster, cwd, incoming);
      if (staged.loads && staged.checksumOk) return { plan, alreadyDone: true, output: `${incoming} is already staged and verified (sha256 ${staged.sha256?.slice(0, 12)})`, check: staged };
      const now = await checkModel(input, cluster, cwd, model);
      if (now.loads && now.checksumOk) return { plan, alreadyDone: true, output: `${model} already loads and matches the manifest: nothing to fetch`, check: now };
      const out = check(input, await exec(input, [{ argv: ['scp', remote, incoming], cwd }], 30 * 60_000), `copying the model from ${input.from}`, `check that ${input.node} reaches ${input.from} over SSH, or choose another node`);
      return { plan, output: out || `copied to ${incoming}`, check: await checkModel(input, cluster, cwd, incoming) };
    });
  }

  async function modelSwap(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(async () => {
      const { cluster, cwd } = where(input);
      const model = setting(cluster, 'model');
      const plan = `${input.node}: mv ${model}.incoming ${model}`;
      if (input.dryRun) return { dryRun: true, plan };
      return replaceModel(input, cluster, cwd, `${model}.incoming`, 'mv', plan);
    });
  }

  async function modelCheckpoints(input: NodeRef): Promise<{ node: string; checkpoints: Array<{ path: string; epoch: number }> }> {
    return run(async () => {
      const { cluster, cwd } = where(input);
      const dir = setting(cluster, 'checkpointsDir').replace(/\/$/, '');
      const prefix = setting(cluster, 'checkpointPrefix');
      const ls = await sh(input, cwd, ['ls', '-1', dir]);
      const checkpoints = (ls.exitCode === 0 ? ls.stdout.split('\n') : [])
        .map((l) => l.trim())
        .filter((l) => l.includes(prefix))
        .map((name) => ({ path: `${dir}/${name}`, epoch: Number(/epoch_(\d+)/.exec(name)?.[1] ?? -1) }))
        .filter((c) => c.epoch >= 0)
        .sort((a, b) => b.epoch - a.epoch);
      return { node: input.node, checkpoints };
    });
  }

  async function modelResumeTraining(input: NodeRef & { dryRun?: boolean; checkpoint: string }): Promise<EffectResult> {
    return run(async () => {
      const { cluster, cwd } = where(input);
      const argv = ['python', '-m', 'app.training.train', ...words(setting(cluster, 'trainArgs')), '--resume', input.checkpoint];
      const plan = `${input.node}: ${argv.join(' ')}`;
      if (input.dryRun) return { dryRun: true, plan };
      const dir = '.lifeboat/training';
      const marker = `${dir}/${stableKey('train')}`;
      if ((await sh(input, cwd, ['test', '-f', marker])).exitCode === 0) return { plan, alreadyDone: true, output: 'this step already resumed the training' };
      const res = await exec(input, [{ argv, cwd }], setting(cluster, 'trainTimeoutSeconds') * 1000);
      const out = check(input, res, 'resuming the training', `read the training log on ${input.node}; pick an earlier checkpoint if this one is bad`);
      await exec(input, [{ argv: ['mkdir', '-p', dir], cwd }, { argv: ['touch', marker], cwd }], READ_MS);
      return { plan, output: lastLines(out, 4) };
    });
  }

  return {
    gamesDbStatus,
    gamesBackupInfo,
    gamesQuarantine,
    gamesSyncToHost,
    gamesRestoreBackup,
    selfplayStart,
    selfplayStop,
    gamesAggregate,
    gamesBackupAggregate,
    selfplayLaunchCluster,
    modelCheck,
    modelRestoreBackup,
    modelFetch,
    modelSwap,
    modelCheckpoints,
    modelResumeTraining,
  };
}

/** sqlite3's complaint in a few words ("file is not a database"). */
function sqliteError(out: string): string {
  const line = out.split('\n').find((l) => /error/i.test(l)) ?? out.split('\n')[0] ?? 'unreadable';
  return line.replace(/^(Error|Parse error)[^:]*:\s*/i, '').replace(/^in prepare,\s*/, '').trim() || 'unreadable';
}
