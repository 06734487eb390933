/**
 * The production stack without Docker, for the conformance suite's stack test:
 * PostgreSQL (Debian's, run as the `postgres` user when the test is root) on a
 * loopback port with its own data directory, Temporal's schemas applied by
 * deploy/temporal/setup-postgres.sh with temporal-sql-tool, and the real
 * Temporal server (`temporal-server`, go.temporal.io/server, built by
 * scripts/setup-temporal-server.sh) started with deploy/temporal/config.yaml and
 * deploy/temporal/dynamicconfig.yaml: the files docker-compose.yml mounts.
 * The namespace and the search attributes are registered by
 * deploy/temporal/bootstrap.sh, the compose stack's bootstrap job.
 *
 * Everything lives under `$TMPDIR/lb-stack-<pid>-*`; a crashed run's
 * directory, and the processes recorded in it, are removed at the next start
 * ({@link removeLeftovers}).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { PROJECT_ROOT, temporalCliPath } from '../../src/tools';
import { freePort } from './stack';

/** Temp dirs, and nothing else, start with this. */
export const STACK_PREFIX = 'lb-stack-';
export const TEMPORAL_SERVER_VERSION = '1.32.0';
const TOOLS = path.join(PROJECT_ROOT, '.tools', 'temporal-server');
/** The files the compose stack mounts (docker-compose.yml). */
export const DEPLOY_TEMPORAL = path.join(PROJECT_ROOT, 'deploy', 'temporal');
export const SERVER_CONFIG = path.join(DEPLOY_TEMPORAL, 'config.yaml');
export const DYNAMIC_CONFIG = path.join(DEPLOY_TEMPORAL, 'dynamicconfig.yaml');

const HOW_TO_BUILD = 'run `npm run setup` (scripts/setup-temporal-server.sh builds go.temporal.io/server v1.32.0 with Go >= 1.26.8 and installs postgresql from apt)';

/** The server, the schema tool and the schemas setup put in .tools/temporal-server; fails saying how to get them. */
export function temporalServerTools(): { server: string; sqlTool: string; schemaDir: string } {
  const server = path.join(TOOLS, 'temporal-server');
  const sqlTool = path.join(TOOLS, 'temporal-sql-tool');
  const schemaDir = path.join(TOOLS, 'schema');
  for (const [what, p] of [['temporal-server', server], ['temporal-sql-tool', sqlTool], ['the PostgreSQL schemas', path.join(schemaDir, 'postgresql', 'v12')]] as const) {
    if (!existsSync(p)) throw new Error(`${what} is missing at ${p}: ${HOW_TO_BUILD}`);
  }
  return { server, sqlTool, schemaDir };
}

/** Debian's PostgreSQL server binaries (the newest installed major version). */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  const v = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!v) throw new Error(`PostgreSQL is not installed (no ${root}/<version>/bin/initdb): ${HOW_TO_BUILD}, or apt-get install postgresql`);
  return path.join(root, v, 'bin');
}

function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 60_000, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${String(stdout).slice(-2000)}${String(stderr).slice(-3000)}`));
      else resolve(String(stdout) + String(stderr));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** SIGKILLs `pid` if it still runs and its command line contains `expect` (a recycled pid is left alone). */
function killRecorded(pid: number, expect: string): void {
  if (pid > 0 && alive(pid) && cmdline(pid).includes(expect)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/**
 * A crashed run's leftovers: every `lb-stack-<pid>-*` directory whose test
 * process is gone loses its Temporal server and PostgreSQL (by the pids they
 * recorded there), then the directory itself.
 */
export function removeLeftovers(): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(tmpdir())) {
    const m = new RegExp(`^${STACK_PREFIX}(\\d+)-`).exec(name);
    if (!m || (Number(m[1]) !== process.pid && alive(Number(m[1])))) continue;
    const dir = path.join(tmpdir(), name);
    const pidIn = (f: string): number => {
      try {
        return Number(readFileSync(path.join(dir, f), 'utf8').split('\n')[0]);
      } catch {
        return 0;
      }
    };
    killRecorded(pidIn('temporal-server.pid'), 'temporal-server');
    // Worker processes of that run outlive it (they retry against the dead server forever): found by
    // the frontend address they were given, which only that run's server had.
    try {
      const address = readFileSync(path.join(dir, 'temporal-address'), 'utf8').trim();
      if (address) for (const pid of workersOf(address)) killRecorded(pid, 'worker.js');
    } catch {
      // no address recorded: the run died before its server started
    }
    // The postmaster's pid file; its backends end when it does.
    killRecorded(pidIn('pg/data/postmaster.pid'), 'postgres');
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}

/** Pids of Lifeboat worker processes (`dist/src/worker.js`) whose TEMPORAL_ADDRESS is `address`. */
function workersOf(address: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid || !cmdline(pid).includes('worker.js')) continue;
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`TEMPORAL_ADDRESS=${address}`)) pids.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** A new stack directory, `$TMPDIR/lb-stack-<pid>-XXXXXX`, traversable by the postgres user. */
export function stackDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), `${STACK_PREFIX}${process.pid}-`));
  chmodSync(dir, 0o711);
  return dir;
}

export interface Postgres {
  port: number;
  user: string;
  /** Random, per run; it reaches the server config through POSTGRES_PWD, never argv. */
  password: string;
  start(): Promise<void>;
  /** `pg_ctl stop -m fast` (disconnects every client), bounded. */
  stop(): Promise<void>;
  /** stop, then start on the same port and data directory. */
  restart(): Promise<void>;
  /** Runs one SQL statement in `db` with psql, returning its unaligned output. */
  query(db: string, sql: string): Promise<string>;
}

/** initdb in `<dir>/pg` (superuser `temporal` with a random password, scram over TCP), started on a free loopback port. */
export async function startPostgres(dir: string): Promise<Postgres> {
  const bin = postgresBinDir();
  const pgDir = path.join(dir, 'pg');
  const data = path.join(pgDir, 'data');
  mkdirSync(pgDir, { mode: 0o700 });
  // PostgreSQL refuses to run as root: as root, run it as the postgres user the package created.
  let as: string[] = [];
  let owner: { uid: number; gid: number } | undefined;
  let uid = -1;
  let gid = -1;
  if (process.getuid?.() === 0) {
    try {
      uid = Number((await run('id', ['-u', 'postgres'])).trim());
      gid = Number((await run('id', ['-g', 'postgres'])).trim());
    } catch {
      throw new Error('PostgreSQL must not run as root and there is no postgres user to run it as: apt-get install postgresql creates one');
    }
    chownSync(pgDir, uid, gid);
    owner = { uid, gid };
    as = ['runuser', '-u', 'postgres', '--'];
  }
  const user = 'temporal';
  const password = randomBytes(18).toString('base64url');
  const pwFile = path.join(pgDir, 'pwfile');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (owner) chownSync(pwFile, owner.uid, owner.gid);
  const asUser = (file: string, args: string[], timeoutMs = 60_000): Promise<string> =>
    as.length ? run(as[0]!, [...as.slice(1), file, ...args], { timeoutMs }) : run(file, args, { timeoutMs });
  try {
    await asUser(path.join(bin, 'initdb'), ['-D', data, '-U', user, `--pwfile=${pwFile}`, '--auth-host=scram-sha-256', '--auth-local=trust', '-E', 'UTF8', '--no-sync']);
  } finally {
    rmSync(pwFile, { force: true });
  }
  const port = await freePort();
  const pgCtl = path.join(bin, 'pg_ctl');
  const pg: Postgres = {
    port,
    user,
    password,
    async start() {
      await asUser(pgCtl, ['start', '-w', '-t', '60', '-D', data, '-l', path.join(pgDir, 'postgres.log'), '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${pgDir} -c synchronous_commit=off`], 90_000);
    },
    async stop() {
      await asUser(pgCtl, ['stop', '-w', '-t', '60', '-m', 'fast', '-D', data], 90_000);
    },
    async restart() {
      await pg.stop();
      await pg.start();
    },
    query(db: string, sql: string) {
      return run(path.join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', db, '-tAc', sql], { env: { ...process.env, PGPASSWORD: password } });
    },
  };
  await pg.start();
  return pg;
}

/**
 * deploy/temporal/setup-postgres.sh, as the compose stack's temporal-schema job
 * runs it: creates the temporal and temporal_visibility databases and brings
 * both schemas to this server's versions (create, setup-schema -v 0.0,
 * update-schema -d .../versioned).
 */
export async function setupSchemas(pg: Postgres): Promise<string> {
  const tools = temporalServerTools();
  return run('sh', [path.join(DEPLOY_TEMPORAL, 'setup-postgres.sh')], {
    timeoutMs: 180_000,
    env: {
      ...process.env,
      PATH: [TOOLS, postgresBinDir(), process.env.PATH].join(':'),
      POSTGRES_SEEDS: '127.0.0.1',
      DB_PORT: String(pg.port),
      POSTGRES_USER: pg.user,
      SQL_PASSWORD: pg.password,
      TEMPORAL_SCHEMA_DIR: tools.schemaDir,
    },
  });
}

/** deploy/temporal/bootstrap.sh, the compose stack's temporal-bootstrap job: the namespace and Lifeboat's search attributes. */
export function bootstrapNamespace(address: string, namespace = 'default'): Promise<string> {
  return run('sh', [path.join(DEPLOY_TEMPORAL, 'bootstrap.sh')], {
    timeoutMs: 180_000,
    env: { ...process.env, PATH: [path.dirname(temporalCliPath()), process.env.PATH].join(':'), TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace },
  });
}

/** A free loopback port in 20000-32767 (random, checked by binding it). */
async function freeLowPort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free loopback port in 20000-32767 after 100 tries');
}

export interface TemporalServer {
  /** `127.0.0.1:<frontend port>`. */
  address: string;
  proc(): ChildProcess | undefined;
  /** Everything the current process printed. */
  output(): string;
  /** Starts it (again, same ports and config) and waits until the frontend answers health checks (bounded: 90 s). */
  start(): Promise<void>;
  /** SIGKILL, as a machine dying would. Resolves when it is gone. */
  kill(): Promise<void>;
  /** SIGTERM, SIGKILL after 15 s. */
  stop(): Promise<void>;
}

/**
 * The real server with the shipped config (templated from the environment: ports, PostgreSQL, dynamic config path).
 * `dynamicConfig` replaces the shipped dynamic config file (the orchestration bench's "server defaults" run).
 */
export async function temporalServer(dir: string, pg: Postgres, opts: { dynamicConfig?: string } = {}): Promise<TemporalServer> {
  const { server } = temporalServerTools();
  const ports: Record<string, number> = {};
  for (const k of ['FRONTEND_GRPC_PORT', 'FRONTEND_HTTP_PORT', 'FRONTEND_MEMBERSHIP_PORT', 'HISTORY_GRPC_PORT', 'HISTORY_MEMBERSHIP_PORT', 'MATCHING_GRPC_PORT', 'MATCHING_MEMBERSHIP_PORT', 'WORKER_GRPC_PORT', 'WORKER_MEMBERSHIP_PORT']) {
    // The membership table stores ports as a smallint: above 32767 the server dies at start
    // ("value ... is out of range for type smallint"), so these come from below the ephemeral range.
    const pick = k.endsWith('_MEMBERSHIP_PORT') ? freeLowPort : freePort;
    let p = await pick();
    while (Object.values(ports).includes(p)) p = await pick();
    ports[k] = p;
  }
  const address = `127.0.0.1:${ports.FRONTEND_GRPC_PORT}`;
  // For removeLeftovers: a crashed run's workers are found by this address.
  writeFileSync(path.join(dir, 'temporal-address'), `${address}\n`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    BIND_ON_IP: '127.0.0.1',
    POSTGRES_SEEDS: '127.0.0.1',
    DB_PORT: String(pg.port),
    POSTGRES_USER: pg.user,
    POSTGRES_PWD: pg.password,
    DYNAMIC_CONFIG_FILE_PATH: opts.dynamicConfig ?? DYNAMIC_CONFIG,
    LOG_LEVEL: 'warn',
  };
  let proc: ChildProcess | undefined;
  let out = '';
  let gone: Promise<void> = Promise.resolve();

  const healthy = async (): Promise<boolean> => {
    let c: Connection | undefined;
    try {
      c = await Connection.connect({ address, connectTimeout: 2_000 });
      const r = await c.healthService.check({});
      return r.status === 1; // SERVING
    } catch {
      return false;
    } finally {
      await c?.close().catch(() => undefined);
    }
  };

  const self: TemporalServer = {
    address,
    proc: () => proc,
    output: () => out,
    async start() {
      if (proc && proc.exitCode === null && proc.signalCode === null) throw new Error('temporal-server is already running');
      out = '';
      const p = spawn(server, ['--config-file', SERVER_CONFIG, '--allow-no-auth', 'start'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      proc = p;
      writeFileSync(path.join(dir, 'temporal-server.pid'), `${p.pid}\n`);
      gone = new Promise((resolve) => p.once('exit', () => resolve()));
      const onData = (b: Buffer): void => {
        out = (out + b.toString('utf8')).slice(-200_000);
      };
      p.stdout!.on('data', onData);
      p.stderr!.on('data', onData);
      const deadline = Date.now() + 90_000;
      while (Date.now() < deadline) {
        if (p.exitCode !== null || p.signalCode !== null) throw new Error(`temporal-server exited (${p.exitCode ?? p.signalCode}) while starting:\n${out.slice(-4000)}`);
        if (await healthy()) return;
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new Error(`temporal-server did not answer health checks at ${address} within 90 s:\n${out.slice(-4000)}`);
    },
    async kill() {
      if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await gone;
    },
    async stop() {
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const p = proc;
      const t = setTimeout(() => p.kill('SIGKILL'), 15_000);
      await gone;
      clearTimeout(t);
    },
  };
  return self;
}
