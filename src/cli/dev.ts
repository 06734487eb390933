/**
 * `lifeboat dev`: the embedded default on one machine. Starts the Temporal
 * dev server (SQLite under .lifeboat/, so recoveries survive a restart), the
 * lab (simulated clusters on loopback) and a worker, prints where to look,
 * and on Ctrl-C stops every process it started. `--detach` leaves them
 * running and records their pids in .lifeboat/dev.json for `dev --stop`.
 *
 * `lifeboat worker` runs a worker in this process.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import * as path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../client';
import { ConfigError, type LifeboatConfig } from '../config';
import { devServerDynamicConfigArgs, PROJECT_ROOT, temporalCliPath } from '../tools';
import { SEARCH_ATTRIBUTES } from '../workflows/kit/defs';
import type { Context } from './context';

/** A process `dev` started. */
export interface DevChild {
  name: 'temporal' | 'lab' | 'worker';
  pid: number;
  log: string;
}

/** Contents of .lifeboat/dev.json (detached mode). */
export interface DevState {
  startedAt: string;
  children: DevChild[];
  uiUrl: string;
  inventoryPath: string;
}

const STOP_GRACE_MS = 10_000;

/** The detached dev stack's state file, or undefined when it is not valid JSON of that shape (cut short by a crash). */
function readDevState(file: string): DevState | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as DevState;
    return Array.isArray(v?.children) ? v : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether something accepts TCP connections at host:port (one try, bounded). */
function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Polls until `check` is true or the deadline passes. */
async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await delay(everyMs);
  }
  return check();
}

/**
 * Stops processes by process group: SIGTERM, a bounded wait, then SIGKILL.
 * Children are stopped in reverse start order (worker before the server).
 */
export async function stopChildren(children: DevChild[], log: (s: string) => void): Promise<void> {
  for (const c of [...children].reverse()) {
    if (!isAlive(c.pid)) continue;
    log(`stopping ${c.name} (pid ${c.pid})`);
    signalGroup(c.pid, 'SIGTERM');
    if (!(await waitUntil(() => !isAlive(c.pid), STOP_GRACE_MS, 100))) {
      log(`${c.name} (pid ${c.pid}) did not stop within ${STOP_GRACE_MS / 1000} s; killing it`);
      signalGroup(c.pid, 'SIGKILL');
      await waitUntil(() => !isAlive(c.pid), 2000, 100);
    }
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal); // the child leads its own group (spawned detached)
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

interface DevFlags {
  lab: boolean;
  worker: boolean;
  detach?: boolean;
  stop?: boolean;
}

/** host and port of a loopback TEMPORAL_ADDRESS; the dev server only serves those. */
function localAddress(config: LifeboatConfig): { host: string; port: number } {
  const m = /^(127\.0\.0\.1|localhost|\[::1\]):(\d+)$/.exec(config.temporal.address);
  if (!m) {
    throw new ConfigError(
      `TEMPORAL_ADDRESS=${config.temporal.address} is not on this machine; \`lifeboat dev\` runs a local server`,
      'unset TEMPORAL_ADDRESS (or set it to 127.0.0.1:7233) to use the embedded server, or run only a worker: `lifeboat worker`',
    );
  }
  return { host: m[1] === 'localhost' ? '127.0.0.1' : (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

function uiPort(config: LifeboatConfig, grpcPort: number): number {
  try {
    const u = new URL(config.uiUrl);
    if (u.port) return Number(u.port);
  } catch {
    // Fall through to the server's own default.
  }
  return grpcPort + 1000;
}

async function runDev(ctx: Context, flags: DevFlags): Promise<number> {
  const config = ctx.config();
  const stateFile = path.join(config.stateDir, 'dev.json');
  if (flags.stop) return stopDetached(ctx, stateFile);

  if (existsSync(stateFile)) {
    const prev = readDevState(stateFile);
    if (!prev) ctx.line(`Note: ${stateFile} was unreadable (a crash while it was written?); starting afresh.`);
    const alive = prev?.children.filter((c) => isAlive(c.pid)) ?? [];
    if (alive.length) {
      throw new UsageError(
        `lifeboat dev is already running (${alive.map((c) => `${c.name} pid ${c.pid}`).join(', ')})`,
        'stop it with `lifeboat dev --stop`, or use it as it is',
        'dev',
      );
    }
    rmSync(stateFile, { force: true });
  }

  const { host, port } = localAddress(config);
  const logs = path.join(config.stateDir, 'logs');
  mkdirSync(logs, { recursive: true });
  const children: DevChild[] = [];
  const say = (s: string): void => ctx.line(s);

  const start = (name: DevChild['name'], cmd: string, args: string[], env: NodeJS.ProcessEnv = ctx.io.env): DevChild => {
    const log = path.join(logs, `${name}.log`);
    const fd = openSync(log, 'a');
    try {
      // Own process group: Ctrl-C in the terminal reaches only us, and we stop the whole group.
      const child = spawn(cmd, args, { cwd: ctx.io.cwd, env, detached: true, stdio: ['ignore', fd, fd] });
      if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
      child.on('error', () => undefined); // reported through the readiness checks below
      if (flags.detach) child.unref();
      const c: DevChild = { name, pid: child.pid, log };
      children.push(c);
      return c;
    } finally {
      closeSync(fd);
    }
  };

  const fail = async (message: string, fix: string): Promise<never> => {
    await stopChildren(children, say);
    throw new ConfigError(message, fix);
  };

  // 1. Temporal.
  if (await portOpen(host, port)) {
    say(`Temporal already listening at ${host}:${port}; using it.`);
  } else {
    const dbFile = path.join(config.stateDir, 'temporal.db');
    const args = ['server', 'start-dev', '--db-filename', dbFile, '--ip', host, '--port', String(port), '--ui-port', String(uiPort(config, port)), '--log-level', 'warn'];
    for (const sa of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${sa.name}=${sa.type}`);
    // Without these a workflow's steps are paced at one per ~50 ms by the server's transfer-queue read rate (see src/tools.ts).
    args.push(...devServerDynamicConfigArgs());
    const t = start('temporal', temporalCliPath(), args);
    say(`Starting Temporal (pid ${t.pid}, database ${dbFile}) ...`);
    if (!(await waitUntil(async () => !isAlive(t.pid) ? true : portOpen(host, port), 60_000, 300)) || !isAlive(t.pid)) {
      await fail(`Temporal did not start listening on ${host}:${port}`, `read ${t.log}`);
    }
  }

  // 2. The lab.
  let inventoryPath = config.inventoryPath;
  if (flags.lab) {
    const labDir = path.join(config.stateDir, 'lab');
    const labState = path.join(labDir, 'state.json');
    const labMain = path.join(PROJECT_ROOT, 'dist', 'lab', 'main.js');
    if (!existsSync(labMain)) await fail(`the lab is not built (${labMain} is missing)`, 'run `npm run setup` first, or pass --no-lab');
    const readLab = (): { pid: number; inventoryPath: string } | undefined => {
      try {
        return JSON.parse(readFileSync(labState, 'utf8')) as { pid: number; inventoryPath: string };
      } catch {
        return undefined;
      }
    };
    const existing = readLab();
    if (existing && isAlive(existing.pid)) {
      say(`Lab already running (pid ${existing.pid}); using it.`);
      inventoryPath = existing.inventoryPath;
    } else {
      rmSync(labState, { force: true });
      mkdirSync(labDir, { recursive: true });
      // LIFEBOAT_LAB_EPHEMERAL=1: ephemeral ports, so a second stack (tests) can run beside a user's lab.
      const labArgs = [labMain, 'serve', '--dir', labDir, ...(ctx.io.env.LIFEBOAT_LAB_EPHEMERAL === '1' ? ['--ephemeral'] : [])];
      const l = start('lab', process.execPath, labArgs);
      say(`Starting the lab (pid ${l.pid}) ...`);
      const ready = await waitUntil(() => !isAlive(l.pid) || readLab() !== undefined, 60_000);
      const st = readLab();
      if (!ready || !st || !isAlive(l.pid)) await fail('the lab did not start', `read ${l.log}`);
      inventoryPath = st?.inventoryPath ?? path.join(labDir, 'inventory.yaml');
    }
  }

  // 3. The worker.
  if (flags.worker) {
    const workerMain = path.join(PROJECT_ROOT, 'dist', 'src', 'worker.js');
    if (!existsSync(workerMain)) await fail(`the worker is not built (${workerMain} is missing)`, 'run `npm run setup` first, or pass --no-worker');
    const w = start('worker', process.execPath, [workerMain], { ...ctx.io.env, LIFEBOAT_INVENTORY: inventoryPath, TEMPORAL_ADDRESS: config.temporal.address });
    say(`Starting a worker (pid ${w.pid}) ...`);
    // A worker that dies at once (bad inventory, bundle error) should be reported now, not discovered later.
    await delay(2000);
    if (!isAlive(w.pid)) await fail('the worker exited right after starting', `read ${w.log}`);
  }

  const state: DevState = { startedAt: new Date().toISOString(), children, uiUrl: config.uiUrl, inventoryPath };
  mkdirSync(config.stateDir, { recursive: true });
  writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);

  say('');
  say(`Temporal Web UI:  ${config.uiUrl}/namespaces/${config.temporal.namespace}/workflows`);
  say(`Inventory:        ${inventoryPath}`);
  say(`Logs:             ${logs}/`);
  say('');
  // The CLI finds the lab's inventory by default from this directory; elsewhere it must be named.
  const inv = inventoryPath === config.inventoryPath ? '' : `LIFEBOAT_INVENTORY=${inventoryPath} `;
  say('Try:');
  say(`  ${inv}lifeboat run ledger.quorum-loss --cluster lab-ledger --dry-run`);
  if (flags.lab) say('  lifeboat lab break ledger.quorum-loss');
  say(`  ${inv}lifeboat run ledger.quorum-loss --cluster lab-ledger`);
  say('  lifeboat approvals');
  say('');

  if (flags.detach) {
    say(`Running in the background (${stateFile}). Stop with: lifeboat dev --stop`);
    return 0;
  }
  say('Press Ctrl-C to stop everything.');
  let onSignal: (sig: string) => void = () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const reason = await new Promise<string>((resolve) => {
    onSignal = (sig: string): void => resolve(`received ${sig}`);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    timer = setInterval(() => {
      const dead = children.find((c) => !isAlive(c.pid));
      if (dead) resolve(`${dead.name} (pid ${dead.pid}) exited; see ${dead.log}`);
    }, 1000);
  });
  clearInterval(timer);
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
  say(`\n${reason}: stopping.`);
  await stopChildren(children, say);
  rmSync(stateFile, { force: true });
  return reason.startsWith('received') ? 0 : 1;
}

async function stopDetached(ctx: Context, stateFile: string): Promise<number> {
  if (!existsSync(stateFile)) {
    ctx.line('Nothing to stop: no detached `lifeboat dev` recorded.');
    return 0;
  }
  const state = readDevState(stateFile);
  if (!state) {
    throw new UsageError(
      `${stateFile} is unreadable, so the detached processes it listed cannot be found from it`,
      `stop them by hand (\`pgrep -af 'lifeboat|temporal server start-dev'\`, then kill the pids), then delete ${stateFile}`,
      'dev',
    );
  }
  await stopChildren(state.children, (s) => ctx.line(s));
  rmSync(stateFile, { force: true });
  ctx.line('Stopped. The database under .lifeboat/ keeps every recovery for the next `lifeboat dev`.');
  return 0;
}

export function register(program: Command, ctx: Context): void {
  program
    .command('dev')
    .description('run Temporal (dev server), the lab and a worker on this machine')
    .option('--no-lab', 'do not start the simulated clusters')
    .option('--no-worker', 'do not start a worker')
    .option('--detach', 'start in the background and return (stop with --stop)')
    .option('--stop', 'stop what `dev --detach` started')
    .action(async (flags: DevFlags) => {
      ctx.exitCode = await runDev(ctx, flags);
    });

  program
    .command('worker')
    .description("run a worker in this process (task queues: every cluster's in the inventory)")
    .option('--task-queue <name...>', 'only these task queues')
    .action(async (flags: { taskQueue?: string[] }) => {
      // Lazy: the worker (and its bundler) is heavy and not needed by any other command.
      let runWorker: (config: LifeboatConfig, opts?: { taskQueues?: string[]; maxCachedWorkflows?: number }) => Promise<void>;
      let maxCachedWorkflowsFrom: (env: NodeJS.ProcessEnv) => number;
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        ({ runWorker, maxCachedWorkflowsFrom } = require('../worker') as { runWorker: typeof runWorker; maxCachedWorkflowsFrom: typeof maxCachedWorkflowsFrom });
      } catch (err) {
        if (!/Cannot find module '\.\.\/worker'/.test((err as Error).message)) throw err;
        throw new ConfigError('the worker is not built (dist/src/worker.js is missing)', 'run `npm run setup` first');
      }
      // Checked before anything connects: a bad cache size is refused naming the variable.
      const maxCachedWorkflows = maxCachedWorkflowsFrom(ctx.io.env);
      await runWorker(ctx.config(), { taskQueues: flags.taskQueue, maxCachedWorkflows });
    });
}
