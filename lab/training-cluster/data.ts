/**
 * The training cluster's data and models (seed 000 §3, §4, §6), simulated on
 * real files in each node's workdir (`<host root>/ai-service`), beside the
 * P2P mesh of ./family (which delegates its shims, faults, start and
 * health here).
 *
 * Files per node (real, read by the real `sqlite3`, `sha256sum`, `find`, `cp`):
 * - `data/games/selfplay.db`: SQLite, table `games(game_id, board_type, num_players,
 *   winner, num_moves, created_at, source_host)`. Each node holds its own games
 *   (1000 + 100·i) plus a replica of the first 100 games of the previous node (the
 *   sync daemon's lag: most games live on one node only).
 * - `models/canonical_hex8_2p.pth` (the same bytes on every node), `models/MANIFEST.sha256`
 *   (`sha256sum` format), `models/backup/canonical_hex8_2p.pth`, `models/checkpoints/hex8_2p_epoch_{40,45}.pth`.
 *   A model "loads" when its first line is the header `RRPTH1 {json}`.
 * - The NFS backups shared by every node (`settings.backupRoot`, `<cluster dir>/nfs/RingRift/backups`):
 *   `games/<node>/selfplay_latest.db`, a backup taken 6 h before the lab started with 90% of the node's games.
 *
 * Selfplay runs on every node and writes 2 games/s into its database while it runs
 * (written lazily, when a `sqlite3` on that node or the lab reads it).
 *
 * Shims (anything else falls through to ./family, then the real tool):
 * - `python scripts/selfplay.py ...` (start), `pgrep|pkill -f selfplay`;
 * - `python -c "...AutoSyncDaemon()...sync_to_host('HOST')..."` (seed §3 option 1): copies HOST's
 *   games from every readable peer into HOST's database;
 * - `python scripts/aggregate_cluster_data.py --target-host T`: merges every readable node's
 *   games into T's database; refuses while a source is still being written (stop writes first);
 * - `python scripts/launch_selfplay_cluster.py --all-nodes`: starts selfplay where it does not run;
 * - `python -c "...torch.load('PATH'...)..."` (seed §6): prints `Model keys: [...]` / `Model OK`
 *   or `Model CORRUPTED: ...` like the seed's snippet;
 * - `python -m app.training.train --board-type hex8 --num-players 2 --resume CKPT`: trains a few
 *   epochs from a loadable checkpoint, then writes a new canonical model and its manifest line;
 * - `scp SRC HOST:DST` / `scp HOST:SRC DST` between lab nodes (hosts share one machine, so paths are real);
 * - `sqlite3`: writes the pending selfplay games of the node, then runs the real sqlite3.
 *
 * Effects: `selfplay.start`, `selfplay.stop`, `games.sync-to-host`, `games.aggregate`,
 * `games.restore` (an scp onto a node's `selfplay.db`), `model.pull` (an scp of a model
 * from another node), `training.resume`.
 *
 * Faults: `training-cluster.node-data-loss` (the last node's selfplay.db corrupted, its selfplay
 * crashed), `training-cluster.multi-node-data-loss` (node2's databases gone, node3's corrupted,
 * node4 left with 150 games; selfplay crashed on node2 and node3),
 * `training-cluster.model-corruption` (the coordinator's canonical model does not load and its
 * models/backup copy is a stale epoch that does not match the manifest).
 *
 * @module
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { EffectLog } from '../effects';
import type { ShimCall, ShimResult } from '../family';
import { corrupt, GAMES_DB, generate, readDb, SCHEMA, sqlite, sqlString } from './games';
import { CHECKPOINTS, MODEL, MODEL_BACKUP, modelBytes, modelCheck, sha256, SIDECAR, sidecarLine, sidecarSha } from './models';

/** Games per second a running selfplay writes. */
const SELFPLAY_RATE = 2;
/** At most this many games per lazy write (keeps a long-idle lab quick). */
const MAX_BATCH = 40;
const BACKUP_AGE_MS = 6 * 3600_000;

interface DataNode {
  name: string;
  roles: string[];
  /** Absolute workdir (`<host root>/ai-service`). */
  dir: string;
  selfplay: { pid: number; since: number; lastWrite: number } | null;
  /** Next game number this node's selfplay writes. */
  seq: number;
}

export interface TrainingDataOptions {
  cluster: string;
  nodes: Array<{ name: string; roles: string[] }>;
  /** The node's workdir relative to its host root ("ai-service"). */
  workdir: string;
}

/** Health of the data and models, merged into the training cluster's `lab status`. */
export interface DataHealth {
  healthy: boolean;
  summary: string;
  /** Per node: problems in words (empty: fine). */
  problems: Record<string, string[]>;
}

/** The training cluster's game databases, backups and models. */
export class TrainingData {
  readonly tools = ['scp', 'sqlite3'];
  readonly faults = ['training-cluster.node-data-loss', 'training-cluster.multi-node-data-loss', 'training-cluster.model-corruption'];
  private readonly nodes: DataNode[];
  private effects?: EffectLog;
  private backupRoot = '';
  private nextPid = 30000 + Math.floor(Math.random() * 10000);
  /** The canonical model's bytes (what a healthy node holds). */
  private canonical: Buffer = Buffer.alloc(0);

  constructor(private readonly opts: TrainingDataOptions) {
    this.nodes = opts.nodes.map((n) => ({ name: n.name, roles: n.roles, dir: '', selfplay: null, seq: 0 }));
  }

  async start(ctx: { hostRoot(node: string): string; effects: EffectLog }): Promise<void> {
    this.effects = ctx.effects;
    const first = this.nodes[0]!;
    // The NFS share every node mounts: beside the hosts of this cluster.
    this.backupRoot = resolve(ctx.hostRoot(first.name), '..', 'nfs', 'RingRift', 'backups');
    this.canonical = modelBytes(50, 'canonical');
    const now = Date.now();
    for (const [i, n] of this.nodes.entries()) {
      n.dir = join(ctx.hostRoot(n.name), this.opts.workdir);
      for (const d of ['data/games', 'models/backup', CHECKPOINTS, 'logs', 'scripts']) mkdirSync(join(n.dir, d), { recursive: true });
      const own = 1000 + 100 * i;
      const prev = this.nodes[(i + this.nodes.length - 1) % this.nodes.length]!;
      rmSync(join(n.dir, GAMES_DB), { force: true });
      await sqlite(join(n.dir, GAMES_DB), `${SCHEMA}\n${generate(n.name, 1, own, now - 24 * 3600_000)}\n${generate(prev.name, 1, 100, now - 24 * 3600_000)}`);
      n.seq = own + 1;
      // The NFS backup: 6 h old, 90% of the node's games.
      const bdir = join(this.backupRoot, 'games', n.name);
      mkdirSync(bdir, { recursive: true });
      const backup = join(bdir, 'selfplay_latest.db');
      rmSync(backup, { force: true });
      await sqlite(backup, `${SCHEMA}\n${generate(n.name, 1, Math.floor(own * 0.9), now - 24 * 3600_000)}`);
      const t = new Date(now - BACKUP_AGE_MS);
      utimesSync(backup, t, t);
      // Models.
      writeFileSync(join(n.dir, MODEL), this.canonical);
      writeFileSync(join(n.dir, MODEL_BACKUP), this.canonical);
      writeFileSync(join(n.dir, CHECKPOINTS, 'hex8_2p_epoch_40.pth'), modelBytes(40, 'checkpoint'));
      writeFileSync(join(n.dir, CHECKPOINTS, 'hex8_2p_epoch_45.pth'), modelBytes(45, 'checkpoint'));
      writeFileSync(join(n.dir, SIDECAR), sidecarLine(this.canonical));
      n.selfplay = { pid: this.nextPid++, since: now, lastWrite: now };
    }
  }

  /** Inventory settings of the data scenarios. */
  settings(): Record<string, string> {
    return {
      backupRoot: this.backupRoot,
      gamesBackup: join(this.backupRoot, 'games', '{node}', 'selfplay_latest.db'),
    };
  }

  /** The shim calls of the data scenarios; `undefined` when the call is not one of them. */
  async shim(call: ShimCall): Promise<ShimResult | undefined> {
    const n = this.nodes.find((x) => x.name === call.node);
    if (!n) return undefined;
    const args = call.argv;
    switch (call.tool) {
      case 'sqlite3': {
        // The pending selfplay games land before anyone reads the database; then the real sqlite3 runs.
        const db = args.find((a) => !a.startsWith('-'));
        if (db && resolve(call.cwd, db) === join(n.dir, GAMES_DB)) await this.writeSelfplay(n);
        return undefined;
      }
      case 'pgrep':
      case 'pkill': {
        const pattern = [...args].reverse().find((a) => !a.startsWith('-'));
        if (!args.includes('-f') || !pattern || !/selfplay/.test(pattern)) return undefined;
        if (call.tool === 'pgrep') return n.selfplay ? { stdout: `${n.selfplay.pid}\n`, exitCode: 0 } : { stdout: '', exitCode: 1 };
        if (!n.selfplay) return { stdout: '', exitCode: 1 };
        await this.writeSelfplay(n);
        const pid = n.selfplay.pid;
        n.selfplay = null;
        this.record(n, 'selfplay.stop', { pid, how: `pkill ${args.join(' ')}` });
        return { stdout: '', exitCode: 0 };
      }
      case 'python':
      case 'python3':
        return this.python(n, call);
      case 'scp':
        return this.scp(n, call);
      default:
        return undefined;
    }
  }

  async breakFault(fault: string): Promise<boolean> {
    const coordinator = this.nodes.find((n) => n.roles.includes('coordinator')) ?? this.nodes[0]!;
    switch (fault) {
      case 'training-cluster.node-data-loss': {
        const n = this.nodes.at(-1)!;
        await this.writeSelfplay(n);
        corrupt(join(n.dir, GAMES_DB));
        this.crashSelfplay(n, 'sqlite3.DatabaseError: file is not a database');
        return true;
      }
      case 'training-cluster.multi-node-data-loss': {
        if (this.nodes.length < 4) throw new Error(`${this.opts.cluster}: multi-node data loss needs at least 4 nodes`);
        const [, gone, bad, low] = this.nodes as [DataNode, DataNode, DataNode, DataNode];
        for (const n of this.nodes) await this.writeSelfplay(n);
        rmSync(join(gone.dir, 'data', 'games'), { recursive: true, force: true });
        mkdirSync(join(gone.dir, 'data', 'games'), { recursive: true });
        this.crashSelfplay(gone, 'FileNotFoundError: data/games/selfplay.db vanished under the writer');
        corrupt(join(bad.dir, GAMES_DB));
        this.crashSelfplay(bad, 'sqlite3.DatabaseError: file is not a database');
        await sqlite(join(low.dir, GAMES_DB), 'DELETE FROM games WHERE rowid NOT IN (SELECT rowid FROM games ORDER BY rowid LIMIT 150);');
        return true;
      }
      case 'training-cluster.model-corruption': {
        const model = readFileSync(join(coordinator.dir, MODEL));
        // Bytes flipped from the start: the header no longer parses, the checksum no longer matches.
        for (let i = 0; i < 48 && i < model.length; i++) model[i] = model[i]! ^ 0x5a;
        writeFileSync(join(coordinator.dir, MODEL), model);
        writeFileSync(join(coordinator.dir, MODEL_BACKUP), modelBytes(38, 'stale-backup'));
        return true;
      }
      default:
        return false;
    }
  }

  /** Every node's database readable and non-empty, selfplay running, the canonical model matching its manifest. */
  async health(): Promise<DataHealth> {
    const problems: Record<string, string[]> = {};
    for (const n of this.nodes) {
      const p: string[] = [];
      await this.writeSelfplay(n);
      const db = await readDb(join(n.dir, GAMES_DB));
      if (!db.ok) p.push(`games db ${db.error}`);
      else if (db.count === 0) p.push('games db empty');
      if (!n.selfplay) p.push('selfplay not running');
      const m = modelCheck(join(n.dir, MODEL));
      const want = sidecarSha(join(n.dir, SIDECAR));
      if (!m.ok) p.push(`model ${m.error}`);
      else if (!want || m.sha !== want) p.push('model checksum does not match its .sha256 sidecar');
      problems[n.name] = p;
    }
    const bad = Object.entries(problems).filter(([, p]) => p.length > 0);
    return {
      healthy: bad.length === 0,
      summary: bad.length === 0 ? 'game data and models intact' : `data: ${bad.map(([node, p]) => `${node} ${p.join(', ')}`).join('; ')}`,
      problems,
    };
  }

  /** Stop selfplay (lab shutdown). */
  stop(): void {
    for (const n of this.nodes) n.selfplay = null;
  }

  // ------------------------------------------------------------- python ----

  private async python(n: DataNode, call: ShimCall): Promise<ShimResult | undefined> {
    const args = call.argv;
    const how = `${call.tool} ${args.join(' ')}`;
    const c = args.indexOf('-c');
    if (c >= 0) {
      const code = args[c + 1] ?? '';
      const sync = /sync_to_host\(\s*['"]([^'"]+)['"]\s*\)/.exec(code);
      if (sync && /AutoSyncDaemon/.test(code)) return this.syncToHost(n, sync[1]!);
      const load = /torch\.load\(\s*['"]([^'"]+)['"]/.exec(code);
      if (load) {
        const m = modelCheck(resolve(call.cwd, load[1]!));
        return m.ok ? { stdout: `Model keys: [${m.keys.map((k) => `'${k}'`).join(', ')}]\nModel OK\n`, exitCode: 0 } : { stdout: `Model CORRUPTED: ${m.error}\n`, exitCode: 0 };
      }
      return undefined;
    }
    const m = args.indexOf('-m');
    if (m >= 0 && args[m + 1] === 'app.training.train') return this.train(n, call, args.slice(m + 2));
    const script = args.find((a) => !a.startsWith('-'));
    switch (script) {
      case 'scripts/selfplay.py':
        return this.startSelfplay(n, how);
      case 'scripts/aggregate_cluster_data.py':
        // The real script builds NPZ training files; the seed's --target-host was never one of its flags.
        if (args.includes('--target-host')) return { stdout: '', stderr: 'usage: aggregate_cluster_data.py [-h] [--selfplay-dir SELFPLAY_DIR] [--output-dir OUTPUT_DIR] ...\naggregate_cluster_data.py: error: unrecognized arguments: --target-host\n', exitCode: 2 };
        return undefined;
      case 'scripts/launch_selfplay_cluster.py':
        return { stdout: '', stderr: `${call.tool}: can't open file '${join(n.dir, script)}': [Errno 2] No such file or directory\n`, exitCode: 2 };
      case 'scripts/aggregate_cluster_dbs.py': {
        const opt = (k: string) => {
          const i = args.indexOf(k);
          return i >= 0 ? args[i + 1] : undefined;
        };
        const input = opt('--input-dir');
        const output = opt('--output');
        if (!input || !output) return { stdout: '', stderr: 'aggregate_cluster_dbs.py: error: the following arguments are required: --input-dir, --output\n', exitCode: 2 };
        return this.aggregateDbs(n, resolve(call.cwd, input), resolve(call.cwd, output));
      }
      default:
        return undefined;
    }
  }

  private async startSelfplay(n: DataNode, how: string): Promise<ShimResult> {
    if (n.selfplay) return { stdout: `selfplay already running on ${n.name} (pid ${n.selfplay.pid})\n`, exitCode: 0 };
    const db = join(n.dir, GAMES_DB);
    if (existsSync(db)) {
      const r = await readDb(db);
      if (!r.ok) return { stdout: '', stderr: `sqlite3.DatabaseError: ${r.error} (${GAMES_DB}); move it aside first\n`, exitCode: 1 };
    } else {
      mkdirSync(dirname(db), { recursive: true });
      await sqlite(db, SCHEMA);
    }
    const now = Date.now();
    n.selfplay = { pid: this.nextPid++, since: now, lastWrite: now };
    this.record(n, 'selfplay.start', { pid: n.selfplay.pid, how });
    return { stdout: `selfplay started on ${n.name}: board hex8, 2 players, engine gumbel (pid ${n.selfplay.pid})\n`, exitCode: 0 };
  }

  private crashSelfplay(n: DataNode, why: string): void {
    if (!n.selfplay) return;
    n.selfplay = null;
    writeFileSync(join(n.dir, 'logs', 'selfplay.log'), `Traceback (most recent call last):\n  File "scripts/selfplay.py", line 212, in write_game\n${why}\n`, { flag: 'a' });
  }

  /** Writes the games a running selfplay produced since its last write. */
  private async writeSelfplay(n: DataNode): Promise<void> {
    const sp = n.selfplay;
    if (!sp) return;
    const now = Date.now();
    const due = Math.min(MAX_BATCH, Math.floor(((now - sp.lastWrite) / 1000) * SELFPLAY_RATE));
    if (due <= 0) return;
    sp.lastWrite = now;
    const db = join(n.dir, GAMES_DB);
    try {
      await sqlite(db, `${SCHEMA}\n${generate(n.name, n.seq, due, now)}`);
      n.seq += due;
    } catch (err) {
      this.crashSelfplay(n, `sqlite3.DatabaseError: ${(err as Error).message}`);
    }
  }

  private async syncToHost(from: DataNode, host: string): Promise<ShimResult> {
    const target = this.nodes.find((x) => x.name === host);
    if (!target) return { stdout: '', stderr: `AutoSyncDaemon: unknown host ${host}\n`, exitCode: 1 };
    const db = join(target.dir, GAMES_DB);
    if (existsSync(db)) {
      const r = await readDb(db);
      if (!r.ok) return { stdout: '', stderr: `AutoSyncDaemon: sync to ${host} failed: ${r.error}\n`, exitCode: 1 };
    } else {
      mkdirSync(dirname(db), { recursive: true });
      await sqlite(db, SCHEMA);
    }
    let copied = 0;
    const peers: string[] = [];
    for (const p of this.nodes) {
      if (p === target) continue;
      await this.writeSelfplay(p);
      const src = join(p.dir, GAMES_DB);
      if (!(await readDb(src)).ok) continue;
      const out = await sqlite(db, `ATTACH ${sqlString(src)} AS peer; INSERT OR IGNORE INTO games SELECT * FROM peer.games WHERE source_host = ${sqlString(host)}; SELECT changes();`);
      const c = Number(out.trim().split('\n').at(-1) ?? 0);
      copied += c;
      if (c > 0) peers.push(p.name);
    }
    this.record(target, 'games.sync-to-host', { by: from.name, copied, from: peers });
    return { stdout: `AutoSyncDaemon: synced ${copied} games to ${host} from ${peers.length} host(s)${peers.length ? ` (${peers.join(', ')})` : ''}\n`, exitCode: 0 };
  }

  /** `aggregate_cluster_dbs.py --input-dir D --output O`: every readable `*.db` of D merged into a new O (an existing O is kept as O.backup_<time>.db, as the real script does). */
  private async aggregateDbs(n: DataNode, input: string, output: string): Promise<ShimResult> {
    if (!existsSync(input)) return { stdout: '', stderr: `ERROR - Input directory not found: ${input}\n`, exitCode: 1 };
    const dbs = readdirSync(input).filter((f) => f.endsWith('.db')).sort();
    if (dbs.length === 0) return { stdout: '', stderr: `ERROR - No databases found matching *.db in ${input}\n`, exitCode: 1 };
    mkdirSync(dirname(output), { recursive: true });
    if (existsSync(output)) renameSync(output, output.replace(/\.db$/, '') + `.backup_${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}.db`);
    await sqlite(output, SCHEMA);
    let added = 0;
    let failed = 0;
    for (const f of dbs) {
      const src = join(input, f);
      if (!(await readDb(src)).ok) {
        failed += 1;
        continue;
      }
      const out = await sqlite(output, `ATTACH ${sqlString(src)} AS src; INSERT OR IGNORE INTO games SELECT * FROM src.games; SELECT changes();`);
      added += Number(out.trim().split('\n').at(-1) ?? 0);
    }
    this.record(n, 'games.aggregate', { inputs: dbs, added, failed, output });
    return { stdout: `Aggregation Complete\nOutput: ${output}\nDBs processed: ${dbs.length - failed}\nFailed DBs: ${failed}\nGames added: ${added}\n`, exitCode: 0 };
  }

  private async train(n: DataNode, call: ShimCall, args: string[]): Promise<ShimResult> {
    const opt = (k: string) => {
      const i = args.indexOf(k);
      return i >= 0 ? args[i + 1] : undefined;
    };
    const resume = opt('--resume');
    if (opt('--board-type') !== 'hex8' || opt('--num-players') !== '2' || !resume) {
      return { stdout: '', stderr: 'usage: python -m app.training.train --board-type hex8 --num-players 2 --resume CHECKPOINT\n', exitCode: 2 };
    }
    const ck = modelCheck(resolve(call.cwd, resume));
    if (!ck.ok) return { stdout: '', stderr: `RuntimeError: cannot resume from ${resume}: ${ck.error}\n`, exitCode: 1 };
    const from = ck.epoch;
    const lines = [`Resuming hex8_2p from ${resume} (epoch ${from})`];
    for (let e = from + 1; e <= from + 3; e++) {
      await new Promise((r) => setTimeout(r, 400));
      lines.push(`epoch ${e}: loss ${(0.9 / (e - from + 1)).toFixed(4)}, policy_acc 0.${60 + e - from}`);
    }
    const model = modelBytes(from + 3, 'retrained');
    writeFileSync(join(n.dir, MODEL), model);
    writeFileSync(join(n.dir, SIDECAR), sidecarLine(model));
    lines.push(`saved ${MODEL} (epoch ${from + 3}, sha256 ${sha256(model)}); wrote ${SIDECAR}`);
    this.record(n, 'training.resume', { checkpoint: resume, fromEpoch: from, toEpoch: from + 3 });
    return { stdout: lines.join('\n') + '\n', exitCode: 0 };
  }

  // ---------------------------------------------------------------- scp ----

  private async scp(n: DataNode, call: ShimCall): Promise<ShimResult | undefined> {
    const operands = call.argv.filter((a) => !a.startsWith('-'));
    if (operands.length !== 2) return undefined;
    const [src, dst] = operands as [string, string];
    const remote = (s: string): { node: DataNode; path: string } | undefined => {
      const m = /^([A-Za-z0-9][A-Za-z0-9._-]*):(.+)$/.exec(s);
      const node = m && this.nodes.find((x) => x.name === m[1]);
      return node ? { node, path: m[2]! } : undefined;
    };
    const rs = remote(src);
    const rd = remote(dst);
    if (!rs && !rd) return undefined;
    // Lab hosts share one machine: a remote path is the real path (absolute, or relative to the remote's workdir).
    const real = (r: { node: DataNode; path: string } | undefined, s: string) => (r ? resolve(r.node.dir, r.path) : resolve(call.cwd, s));
    const from = real(rs, src);
    const to = real(rd, dst);
    if (!existsSync(from)) return { stdout: '', stderr: `scp: ${src}: No such file or directory\n`, exitCode: 1 };
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
    const toNode = rd?.node ?? n;
    const fromNode = rs?.node ?? n;
    if (to === join(toNode.dir, GAMES_DB)) this.record(toNode, 'games.restore', { from: rs ? `${fromNode.name}:${from}` : from, by: n.name });
    else if (from.endsWith('.pth') && fromNode !== toNode) this.record(toNode, 'model.pull', { from: fromNode.name, path: rs?.path ?? src, to: dst });
    return { stdout: '', exitCode: 0 };
  }

  private record(n: DataNode, effect: string, detail?: Record<string, unknown>): void {
    this.effects?.record({ cluster: this.opts.cluster, node: n.name, effect, detail });
  }
}
