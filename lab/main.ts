/**
 * The `lab` command: `node dist/lab/main.js <cmd> [--dir D]`, also reached as
 * `lifeboat lab <cmd>`.
 *
 * | command | what it does |
 * |---|---|
 * | `serve [--ephemeral] [--boot-ms N] [--families a,b] [--fleet N]` | run the lab in the foreground (fixed ports unless `--ephemeral`), write `<dir>/state.json`, stop on SIGINT/SIGTERM or POST /shutdown |
 * | `up [same flags]` | start `serve` in the background (log: `<dir>/lab.log`), wait until it answers, print the clusters and the inventory path |
 * | `down` | ask the lab to shut down and wait until its process is gone |
 * | `status [--json]` | health of every simulated cluster |
 * | `break <fault>` | inject a fault (`lab status` shows the effect) |
 * | `effects [--json] [--cluster C] [--node N] [--effect E]` | what the simulated targets received |
 *
 * `--dir` defaults to `.lifeboat/lab` under the current directory. Fixed ports
 * are those of {@link FIXED_PORTS}: control 8760, SSH 2220+, training HTTP 8770+,
 * ledger gRPC 50051+.
 *
 * Exit codes: 0 ok, 1 the lab is not running / refused the request / failed to start, 2 usage.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import Table from 'cli-table3';
import { EffectLog, type Effect } from './effects';
import type { ClusterHealth } from './family';
import { FIXED_PORTS, LAB_FAMILY_NAMES, OPT_IN_FAMILY_NAMES, startLab, type LabFamilyName } from './index';

/** What `serve` writes to `<dir>/state.json` so the other commands can find it. */
export interface LabState {
  pid: number;
  controlUrl: string;
  inventoryPath: string;
  startedAt: string;
}

const DEFAULT_DIR = '.lifeboat/lab';
const UP_TIMEOUT_MS = 30_000;
const UP_TIMEOUT_REAL_MS = 330_000;
const DOWN_TIMEOUT_MS = 15_000;

/**
 * Run one `lab` command.
 *
 * @param argv the arguments after the program name, e.g. `['up', '--dir', '/tmp/lab']`.
 * @returns the process exit code; only the entry point exits.
 */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command('lab')
    .description('Simulated target clusters on loopback for rehearsing recoveries')
    .exitOverride()
    .showHelpAfterError();
  const dirOpt = () => new Option('--dir <dir>', 'lab directory').default(DEFAULT_DIR);
  const serveOpts = (c: Command) =>
    c
      .addOption(dirOpt())
      .option('--ephemeral', 'ephemeral ports instead of the fixed ones (parallel labs, tests)')
      .option('--boot-ms <ms>', 'mesh/election settle time of the simulated systems', '2000')
      .option('--families <list>', 'comma-separated families: ledger,training-cluster,gossip,train-server,ledger-dr (default all of these), fleet (opt-in)')
      .option('--fleet <hosts>', 'add the fleet (lab/fleet/: N identical hosts over SSH, for scale tests and bench/fanout; opt-in) with this many hosts')
      .option('--fleet-restart-ms <ms>', 'how long the fleet\'s `systemctl restart app` takes on a host (default 0)')
      .option('--ledger-backend <sim|real>', 'the ledger: the simulation, or real inferadb-ledger processes (default $LIFEBOAT_LAB_LEDGER_BACKEND or sim)')
      .option('--training-backend <sim|real>', 'the training cluster: the simulation, or real RingRift orchestrators in namespaces of their own, as root (default $LIFEBOAT_LAB_TRAINING_BACKEND or sim)')
      .option('--train-backend <sim|real>', 'the train server\'s storage: simulated, or real BTRFS on loop devices (needs root; default $LIFEBOAT_LAB_TRAIN_BACKEND or sim)')
      .option('--gossip-backend <sim|real>', 'the gossip cluster: the simulation, or real plumtree-node processes in network namespaces, as root (default $LIFEBOAT_LAB_GOSSIP_BACKEND or sim)');

  serveOpts(program.command('serve').description('run the lab in the foreground')).action(async (o: ServeFlags) => {
    code = await serve(o);
  });
  serveOpts(program.command('up').description('start the lab in the background and wait until it answers')).action(
    async (o: ServeFlags) => {
      code = await up(o);
    },
  );
  program
    .command('down')
    .description('stop a running lab')
    .addOption(dirOpt())
    .action(async (o: { dir: string }) => {
      code = await down(resolve(o.dir));
    });
  program
    .command('status')
    .description('health of every simulated cluster')
    .addOption(dirOpt())
    .option('--json', 'machine-readable output')
    .action(async (o: { dir: string; json?: boolean }) => {
      code = await status(resolve(o.dir), !!o.json);
    });
  program
    .command('break')
    .description('inject a fault, e.g. training-cluster.mesh-collapse or host.hang:lab-training/tc-node2')
    .argument('<fault>')
    .addOption(dirOpt())
    .action(async (fault: string, o: { dir: string }) => {
      code = await breakCmd(resolve(o.dir), fault);
    });
  program
    .command('effects')
    .description('effects the simulated targets received')
    .addOption(dirOpt())
    .option('--json', 'machine-readable output')
    .option('--cluster <cluster>')
    .option('--node <node>')
    .option('--effect <effect>')
    .action(async (o: { dir: string; json?: boolean; cluster?: string; node?: string; effect?: string }) => {
      code = await effectsCmd(resolve(o.dir), o);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  return code;
}

interface ServeFlags {
  dir: string;
  ephemeral?: boolean;
  bootMs: string;
  families?: string;
  fleet?: string;
  fleetRestartMs?: string;
  ledgerBackend?: string;
  trainingBackend?: string;
  trainBackend?: string;
  gossipBackend?: string;
}

function parseFamilies(list: string | undefined): LabFamilyName[] | undefined {
  if (!list) return undefined;
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!LAB_FAMILY_NAMES.includes(n as LabFamilyName) && !OPT_IN_FAMILY_NAMES.includes(n as LabFamilyName)) {
      throw new Error(`unknown family "${n}"; known: ${[...LAB_FAMILY_NAMES, ...OPT_IN_FAMILY_NAMES].join(', ')}`);
    }
  }
  return names as LabFamilyName[];
}

async function serve(o: ServeFlags): Promise<number> {
  const dir = resolve(o.dir);
  const bootMs = Number(o.bootMs);
  if (!Number.isFinite(bootMs) || bootMs < 0) {
    console.error(`--boot-ms must be a number of milliseconds (got "${o.bootMs}")`);
    return 2;
  }
  if (o.ledgerBackend !== undefined && o.ledgerBackend !== 'sim' && o.ledgerBackend !== 'real') {
    console.error(`--ledger-backend must be sim or real (got "${o.ledgerBackend}")`);
    return 2;
  }
  if (o.trainingBackend !== undefined && o.trainingBackend !== 'sim' && o.trainingBackend !== 'real') {
    console.error(`--training-backend must be sim or real (got "${o.trainingBackend}")`);
    return 2;
  }
  if (o.trainBackend !== undefined && o.trainBackend !== 'sim' && o.trainBackend !== 'real') {
    console.error(`--train-backend must be sim or real (got "${o.trainBackend}")`);
    return 2;
  }
  if (o.gossipBackend !== undefined && o.gossipBackend !== 'sim' && o.gossipBackend !== 'real') {
    console.error(`--gossip-backend must be sim or real (got "${o.gossipBackend}")`);
    return 2;
  }
  const fleetHosts = o.fleet === undefined ? undefined : Number(o.fleet);
  if (fleetHosts !== undefined && !(Number.isInteger(fleetHosts) && fleetHosts >= 1)) {
    console.error(`--fleet must be a number of hosts, e.g. --fleet 200 (got "${o.fleet}")`);
    return 2;
  }
  let lab;
  try {
    lab = await startLab({
      ...(fleetHosts !== undefined ? { fleetHosts } : {}),
      ...(o.fleetRestartMs !== undefined ? { fleetRestartMs: Number(o.fleetRestartMs) } : {}),
      dir,
      fixedPorts: !o.ephemeral,
      bootMs,
      families: parseFamilies(o.families),
      ...(o.ledgerBackend ? { ledgerBackend: o.ledgerBackend as 'sim' | 'real' } : {}),
      ...(o.trainBackend ? { trainBackend: o.trainBackend as 'sim' | 'real' } : {}),
      ...(o.gossipBackend ? { gossipBackend: o.gossipBackend as 'sim' | 'real' } : {}),
      ...(o.trainingBackend ? { trainingBackend: o.trainingBackend as 'sim' | 'real' } : {}),
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { port?: number };
    if (e.code === 'EADDRINUSE') {
      console.error(
        `lab: a fixed port is already in use (${e.message}). Another lab is probably running: ` +
          `\`lab down --dir ...\` it, or start this one with --ephemeral.`,
      );
    } else {
      console.error(`lab: failed to start: ${e.message}`);
    }
    return 1;
  }
  const statePath = join(dir, 'state.json');
  const state: LabState = { pid: process.pid, controlUrl: lab.controlUrl, inventoryPath: lab.inventoryPath, startedAt: new Date().toISOString() };
  writeFileSync(statePath, JSON.stringify(state, null, 2) + '\n');
  const onSignal = () => void lab.stop();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  console.log(`lab: serving ${lab.clusters.join(', ')}; control ${lab.controlUrl}; inventory ${lab.inventoryPath}`);
  await lab.done;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (readState(dir)?.pid === process.pid) rmSync(statePath, { force: true });
  console.log('lab: stopped');
  return 0;
}

async function up(o: ServeFlags): Promise<number> {
  const dir = resolve(o.dir);
  const running = await runningLab(dir);
  if (running) {
    console.log(`lab already running (pid ${running.pid}).`);
    return printHealth(running, await getJson<ClusterHealth[]>(running, '/health'));
  }
  rmSync(join(dir, 'state.json'), { force: true });
  mkdirSync(dir, { recursive: true });
  const logPath = join(dir, 'lab.log');
  const log = openSync(logPath, 'a');
  const args = [__filename, 'serve', '--dir', dir, '--boot-ms', o.bootMs];
  if (o.ephemeral) args.push('--ephemeral');
  if (o.families) args.push('--families', o.families);
  if (o.fleet) args.push('--fleet', o.fleet);
  if (o.fleetRestartMs) args.push('--fleet-restart-ms', o.fleetRestartMs);
  if (o.ledgerBackend) args.push('--ledger-backend', o.ledgerBackend);
  if (o.trainingBackend) args.push('--training-backend', o.trainingBackend);
  if (o.trainBackend) args.push('--train-backend', o.trainBackend);
  if (o.gossipBackend) args.push('--gossip-backend', o.gossipBackend);
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  let exited: number | null = null;
  child.on('exit', (c) => (exited = c ?? 1));
  child.unref();

  // Real ledger processes are formed and seeded at start (the server's own sagas take seconds each); real
  // RingRift orchestrators take a minute or two to agree on a leader.
  const real = (o.ledgerBackend ?? process.env.LIFEBOAT_LAB_LEDGER_BACKEND) === 'real' || (o.trainingBackend ?? process.env.LIFEBOAT_LAB_TRAINING_BACKEND) === 'real';
  const upTimeoutMs = real ? UP_TIMEOUT_REAL_MS : UP_TIMEOUT_MS;
  const deadline = Date.now() + upTimeoutMs;
  while (Date.now() < deadline) {
    if (exited !== null) {
      console.error(`lab: serve exited with code ${exited} before it was ready. Last lines of ${logPath}:\n${tail(logPath)}`);
      return 1;
    }
    const state = readState(dir);
    if (state && state.pid === child.pid) {
      const health = await getJson<ClusterHealth[]>(state, '/health').catch(() => undefined);
      if (health) return printHealth(state, health);
    }
    await sleep(200);
  }
  console.error(`lab: not ready within ${upTimeoutMs / 1000} s (pid ${child.pid}); see ${logPath}. Stopping it.`);
  try {
    if (child.pid) process.kill(child.pid, 'SIGTERM');
  } catch {
    /* gone */
  }
  return 1;
}

async function down(dir: string): Promise<number> {
  const state = readState(dir);
  if (!state || !alive(state.pid)) {
    rmSync(join(dir, 'state.json'), { force: true });
    console.log('lab is not running.');
    return 0;
  }
  try {
    await fetch(`${state.controlUrl}/shutdown`, { method: 'POST', signal: AbortSignal.timeout(5000) });
  } catch {
    // The control API does not answer: fall back to a signal.
    try {
      process.kill(state.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const deadline = Date.now() + DOWN_TIMEOUT_MS;
  while (alive(state.pid) && Date.now() < deadline) await sleep(100);
  if (alive(state.pid)) {
    console.error(`lab: pid ${state.pid} did not stop within ${DOWN_TIMEOUT_MS / 1000} s; killing it.`);
    try {
      process.kill(state.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    await sleep(200);
  }
  rmSync(join(dir, 'state.json'), { force: true });
  if (alive(state.pid)) {
    console.error(`lab: pid ${state.pid} is still alive; stop it by hand.`);
    return 1;
  }
  console.log('lab stopped.');
  return 0;
}

async function status(dir: string, json: boolean): Promise<number> {
  const state = await runningLab(dir);
  if (!state) return notRunning(dir);
  const health = await getJson<ClusterHealth[]>(state, '/health');
  if (json) {
    console.log(JSON.stringify({ ...state, clusters: health }, null, 2));
    return 0;
  }
  return printHealth(state, health);
}

async function breakCmd(dir: string, fault: string): Promise<number> {
  const state = await runningLab(dir);
  if (!state) return notRunning(dir);
  const res = await fetch(`${state.controlUrl}/break`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ fault }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { error?: string };
  if (!res.ok) {
    console.error(`lab: ${body.error ?? `HTTP ${res.status}`}`);
    return 1;
  }
  console.log(`broke: ${fault}. See \`lab status\`.`);
  return 0;
}

async function effectsCmd(dir: string, o: { json?: boolean; cluster?: string; node?: string; effect?: string }): Promise<number> {
  const filter = { cluster: o.cluster, node: o.node, effect: o.effect };
  const state = await runningLab(dir);
  let list: Effect[];
  if (state) {
    const q = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => !!e[1]));
    list = await getJson<Effect[]>(state, `/effects?${q.toString()}`);
  } else {
    const file = join(dir, 'effects.jsonl');
    if (!existsSync(file)) return notRunning(dir);
    list = new EffectLog(file).list(Object.fromEntries(Object.entries(filter).filter(([, v]) => v)));
  }
  if (o.json) {
    console.log(JSON.stringify(list, null, 2));
    return 0;
  }
  const table = new Table({ head: ['at', 'cluster', 'node', 'effect', 'detail'], ...plain() });
  for (const e of list) table.push([e.at, e.cluster, e.node, e.effect, e.detail ? JSON.stringify(e.detail) : '']);
  console.log(list.length ? table.toString() : 'no effects recorded.');
  return 0;
}

// ------------------------------------------------------------- helpers ----

function printHealth(state: LabState, health: ClusterHealth[]): number {
  const table = new Table({ head: ['cluster', 'system', 'healthy', 'summary', 'nodes'], ...plain() });
  for (const c of health) {
    table.push([c.cluster, c.system, c.healthy ? 'yes' : 'NO', c.summary, c.nodes.map((n) => `${n.node}:${n.state}`).join(' ')]);
  }
  console.log(table.toString());
  console.log(`inventory: ${state.inventoryPath}`);
  console.log(`control:   ${state.controlUrl}`);
  return 0;
}

/** No colours when the output is not a terminal (logs, pipes, tests). */
function plain(): { style?: { head: string[]; border: string[] } } {
  return process.stdout.isTTY ? {} : { style: { head: [], border: [] } };
}

function notRunning(dir: string): number {
  console.error(`lab is not running in ${dir}; start it with \`lifeboat lab up --dir ${dir}\`.`);
  return 1;
}

function readState(dir: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

/** The state of a lab whose process is alive and whose control API answers. */
async function runningLab(dir: string): Promise<LabState | undefined> {
  const state = readState(dir);
  if (!state || !alive(state.pid)) return undefined;
  try {
    await getJson(state, '/health');
    return state;
  } catch {
    return undefined;
  }
}

async function getJson<T>(state: LabState, path: string): Promise<T> {
  const res = await fetch(`${state.controlUrl}${path}`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`lab control API ${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** True while the process exists and is not a zombie (an exited lab whose parent has not reaped it yet). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '(no log)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export { FIXED_PORTS };

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`lab: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
