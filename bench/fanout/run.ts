/**
 * The same restart on every host of the lab's fleet (lab/fleet/: N hosts over
 * real SSH on loopback, `systemctl restart app` records one `app.restart`
 * effect per host), done three ways in one run (issue 18):
 *
 * - `loop`: the seed's own way, a sequential `for host in ...; do ssh $host ...; done`
 *   in bash with the real OpenSSH client (the lab's ssh_config: batch mode, strict
 *   host key checking against the lab's known_hosts);
 * - `ansible`: Debian's `ansible` (installed here if missing, apt-get), ad hoc
 *   `ansible fleet -m command -a 'systemctl restart app' -f 50`, each host by its
 *   ansible_port, host key checking on;
 * - `lifeboat`: a recovery whose one step is the runbook kit's `fanOut` with
 *   concurrency 50, one activity per host over Lifeboat's SSH transport (the host
 *   key pinned), on a real Temporal dev server, one worker process.
 *
 * Each mode must restart every host exactly once (checked on the lab's effect log).
 * Lifeboat's history is read back: events (parent and any `lifeboatFanOutBatch`
 * children), and per target the time from the activity's scheduling to its
 * completion minus the SSH call's own time (the orchestration overhead).
 * Worker RSS is sampled during the run. Results are merged into
 * bench/results/fanout.json under the host count.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/fanout/run.js [--hosts 200] [--concurrency 50] [--restart-ms 1000] [--modes loop,ansible,lifeboat] [--form activityCall|closure]
 *
 * `--form`: how the workflow names the fan-out's function (bench/fanout/workflows.ts): `activityCall`
 * (default; past the kit's threshold of 100 targets, child workflows of bounded batches) or a plain
 * closure (every target in the recovery's own history, the only way before issue 18 item 3).
 *
 * `--restart-ms`: how long the restart holds on a host before it answers (the lab fleet's
 * `--fleet-restart-ms`: a service's stop and start, waited out by the simulated host without
 * CPU); 0 answers at once, so only connection, authentication and orchestration costs remain,
 * all of them, the hosts' side of SSH included, on this machine's CPUs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import type { RecoveryInput } from '../../src/workflows/kit/defs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PROJECT_ROOT } from '../../src/tools';
import { devServerEnv } from '../../test/helpers/temporal';
import type { FleetManifest } from '../../lab/fleet';
import type { FanOutBenchParams, FanOutForm } from './types';

const TMP_PREFIX = 'lb-fanout-';
type Mode = 'loop' | 'ansible' | 'lifeboat';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}

function intArg(name: string, dflt: number): number {
  const v = Number(arg(name, String(dflt)));
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

function stats(xs: number[]): { median: number; p95: number; max: number } {
  return { median: percentile(xs, 50), p95: percentile(xs, 95), max: Math.max(...xs) };
}

function rssMiB(pid: number | undefined, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number | undefined {
  if (!pid) return undefined;
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds of a process: its own (utime + stime) and, with `children`, that of its children it has waited for. */
function cpuSec(pid: number | undefined | 'self', children = true): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number); // fields from 3 (state) on
    const ticks = f[11]! + f[12]! + (children ? f[13]! + f[14]! : 0); // utime stime cutime cstime
    return ticks / 100; // CLK_TCK is 100 on Linux
  } catch {
    return 0;
  }
}

/** Direct children of this process whose command name matches (the dev server the SDK spawned). */
function childPidsNamed(re: RegExp): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && re.test(comm)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs a command to its end (bounded), returning its output and wall time. */
function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number }): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => killGroup(child), opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

/** Waits for a line on a child's stdout (bounded), failing with its output when it exits first. */
function waitForLine(child: ChildProcess, re: RegExp, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} not ready within ${timeoutMs} ms:\n${out.slice(-2000)}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (re.test(out)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${String(code)}) before it was ready:\n${out.slice(-2000)}`));
    });
  });
}

/** Stops a child with SIGTERM, SIGKILL after `graceMs`; resolves when it is gone. */
async function stopChild(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => killGroup(child), graceMs);
  await gone;
  clearTimeout(timer);
}

/** Debian's ansible, installed with apt-get when missing (as root); the bench's own dependency, not setup.sh's. */
function ensureAnsible(): string {
  const have = () => spawnSync('ansible', ['--version'], { encoding: 'utf8' });
  let v = have();
  if (v.error || v.status !== 0) {
    const asRoot = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
    console.log('bench/fanout: installing Debian\'s ansible (apt-get install ansible)...');
    const r = spawnSync(asRoot[0] ?? 'apt-get', [...asRoot.slice(1), ...(asRoot.length ? ['apt-get'] : []), 'install', '-y', '-qq', '--no-install-recommends', 'ansible'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    v = have();
    if (r.status !== 0 || v.error || v.status !== 0) {
      throw new Error('bench/fanout: ansible is missing and apt-get could not install it; run `apt-get install ansible` as root (Debian bookworm: 7.7.0), or leave it out: --modes loop,lifeboat');
    }
  }
  return v.stdout.split('\n')[0]!.trim();
}

interface Lab {
  dir: string;
  fleet: FleetManifest;
  child: ChildProcess;
  effects(): Map<string, number>;
  stop(): Promise<void>;
}

async function startFleet(hosts: number, restartMs: number): Promise<Lab> {
  const dir = mkdtempSync(path.join(tmpdir(), TMP_PREFIX));
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist', 'lab', 'main.js'), 'serve', '--ephemeral', '--families', 'fleet', '--fleet', String(hosts), '--fleet-restart-ms', String(restartMs), '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    await waitForLine(child, /lab: serving/, 300_000, `lab with a fleet of ${hosts}`);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  const fleet = JSON.parse(readFileSync(path.join(dir, 'fleet', 'fleet.json'), 'utf8')) as FleetManifest;
  return {
    dir,
    fleet,
    child,
    effects() {
      const counts = new Map<string, number>();
      const file = path.join(dir, 'effects.jsonl');
      if (!existsSync(file)) return counts;
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        const e = JSON.parse(line) as { node: string; effect: string };
        if (e.effect === fleet.restartEffect) counts.set(e.node, (counts.get(e.node) ?? 0) + 1);
      }
      return counts;
    },
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Each host restarted exactly once since `before`? */
function effectCheck(lab: Lab, before: Map<string, number>): { restarted: number; exactlyOnce: number; twiceOrMore: number; missing: number } {
  const now = lab.effects();
  let exactlyOnce = 0;
  let twiceOrMore = 0;
  let missing = 0;
  let restarted = 0;
  for (const h of lab.fleet.hosts) {
    const d = (now.get(h.name) ?? 0) - (before.get(h.name) ?? 0);
    restarted += d;
    if (d === 1) exactlyOnce++;
    else if (d > 1) twiceOrMore++;
    else missing++;
  }
  return { restarted, exactlyOnce, twiceOrMore, missing };
}

async function runLoop(lab: Lab) {
  const before = lab.effects();
  const hostsFile = path.join(lab.dir, 'fleet', 'names.txt');
  writeFileSync(hostsFile, lab.fleet.hosts.map((h) => h.name).join('\n') + '\n');
  // The seed's procedure, verbatim in shape: one ssh after the other.
  const script = `for host in $(cat ${hostsFile}); do ssh -F ${lab.fleet.sshConfig} "$host" ${lab.fleet.restart.join(' ')} || echo "FAILED $host" >&2; done`;
  const r = await run('bash', ['-c', script], { timeoutMs: 60 * 60_000 });
  const failed = (r.stderr.match(/^FAILED /gm) ?? []).length;
  return { wallMs: r.ms, perHostMs: Math.round(r.ms / lab.fleet.hosts.length), failed, effects: effectCheck(lab, before), script: script.replace(lab.dir, '<lab>').replace(lab.dir, '<lab>') };
}

async function runAnsible(lab: Lab, forks: number) {
  const version = ensureAnsible();
  const before = lab.effects();
  const work = path.join(lab.dir, 'ansible');
  mkdirSync(work, { recursive: true });
  const f = lab.fleet;
  const inventory = path.join(work, 'inventory.ini');
  writeFileSync(
    inventory,
    [
      '[fleet]',
      ...f.hosts.map((h) => `${h.name} ansible_host=${h.host} ansible_port=${h.port}`),
      '',
      '[fleet:vars]',
      `ansible_user=${f.user}`,
      `ansible_ssh_private_key_file=${f.privateKey}`,
      `ansible_ssh_common_args='-o UserKnownHostsFile=${f.knownHosts} -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o BatchMode=yes'`,
      // The interpreter named, so no discovery round trip per host.
      'ansible_python_interpreter=/usr/bin/python3',
      '',
    ].join('\n'),
  );
  const cfg = path.join(work, 'ansible.cfg');
  writeFileSync(
    cfg,
    [
      '[defaults]',
      `forks = ${forks}`,
      'host_key_checking = True',
      `local_tmp = ${work}/tmp`,
      'nocolor = True',
      'retry_files_enabled = False',
      '[ssh_connection]',
      // Pipelining: the module goes over the ssh session's stdin, no temp files on the host (Ansible's fastest setting).
      'pipelining = True',
      // No ControlPersist: its master processes would outlive the run; one command per host has nothing to reuse.
      'ssh_args = -o ControlMaster=no',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, ANSIBLE_CONFIG: cfg, ANSIBLE_HOME: path.join(work, 'home') };
  const r = await run('ansible', ['fleet', '-i', inventory, '-f', String(forks), '-o', '-m', 'command', '-a', f.restart.join(' ')], { env, timeoutMs: 60 * 60_000 });
  const changed = (r.stdout.match(/\| CHANGED \|/g) ?? []).length;
  const failed = f.hosts.length - changed;
  if (failed > 0) console.error(`ansible: ${failed} hosts not CHANGED:\n${(r.stdout + r.stderr).split('\n').filter((l) => !/\| CHANGED \|/.test(l)).slice(0, 10).join('\n')}`);
  return {
    version,
    forks,
    command: `ansible fleet -i inventory.ini -f ${forks} -o -m command -a '${f.restart.join(' ')}'`,
    settings: 'pipelining = True, host_key_checking = True, ansible_python_interpreter=/usr/bin/python3, ssh_args = -o ControlMaster=no',
    wallMs: r.ms,
    exitCode: r.code,
    changed,
    failed,
    effects: effectCheck(lab, before),
  };
}

interface HistoryEvent {
  eventId?: unknown;
  eventType?: unknown;
  eventTime?: { seconds?: unknown; nanos?: number | null } | null;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  activityTaskStartedEventAttributes?: { scheduledEventId?: unknown } | null;
  activityTaskCompletedEventAttributes?: { scheduledEventId?: unknown; result?: { payloads?: Array<{ data?: Uint8Array | null }> | null } | null } | null;
}

function ms(t: HistoryEvent['eventTime']): number {
  return Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
}

/** Per fleetRestart activity in a history: scheduled → started and scheduled → completed minus the SSH call. */
function activityTimes(events: HistoryEvent[]): { scheduleToStart: number[]; overhead: number[]; sshMs: number[] } {
  const scheduled = new Map<string, number>();
  const out = { scheduleToStart: [] as number[], overhead: [] as number[], sshMs: [] as number[] };
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'fleetRestart') scheduled.set(String(e.eventId), ms(e.eventTime));
    const st = e.activityTaskStartedEventAttributes;
    if (st && scheduled.has(String(st.scheduledEventId))) out.scheduleToStart.push(ms(e.eventTime) - scheduled.get(String(st.scheduledEventId))!);
    const c = e.activityTaskCompletedEventAttributes;
    if (c && scheduled.has(String(c.scheduledEventId))) {
      const data = c.result?.payloads?.[0]?.data;
      const r = data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { sshMs?: number }) : {};
      if (typeof r.sshMs === 'number') {
        out.sshMs.push(r.sshMs);
        out.overhead.push(ms(e.eventTime) - scheduled.get(String(c.scheduledEventId))! - r.sshMs);
      }
    }
  }
  return out;
}

async function runLifeboat(lab: Lab, concurrency: number, form: FanOutForm) {
  const before = lab.effects();
  const work = path.join(lab.dir, 'lifeboat');
  mkdirSync(work, { recursive: true });
  const port = await freePort();
  const env = await devServerEnv({ port });
  let worker: ChildProcess | undefined;
  try {
    const bundle = await bundleWorkflowCode({
      workflowsPath: path.resolve(__dirname, 'workflows.js'),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never,
    });
    const bundlePath = path.join(work, 'workflows-bundle.js');
    writeFileSync(bundlePath, bundle.code);
    const taskQueue = `bench-fanout-${process.pid}`;
    worker = spawn(process.execPath, [path.join(__dirname, 'worker.js'), '--address', `127.0.0.1:${port}`, '--task-queue', taskQueue, '--bundle', bundlePath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let workerErr = '';
    worker.stderr?.on('data', (d: Buffer) => (workerErr = (workerErr + d.toString()).slice(-4000)));
    await waitForLine(worker, /^ready$/m, 120_000, 'bench worker');
    const rssBefore = rssMiB(worker.pid);
    const f = lab.fleet;
    const input: RecoveryInput<FanOutBenchParams> = {
      scenario: 'bench.fanout',
      cluster: { name: f.cluster, system: 'ledger', nodes: [{ name: f.hosts[0]!.name, roles: ['app'] }] },
      params: {
        hosts: f.hosts.map((h) => ({ name: h.name, host: h.host, port: h.port, user: f.user, privateKey: `file:${f.privateKey}`, hostKey: h.hostKey })),
        argv: f.restart,
        concurrency,
        form,
      },
      startedBy: 'bench',
    };
    const servers = childPidsNamed(/temporal/);
    const cpu0 = { worker: cpuSec(worker.pid), server: servers.reduce((a, p) => a + cpuSec(p), 0) };
    let rssPeak = 0;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(worker?.pid) ?? 0)), 200);
    const workflowId = `${taskQueue}-${f.hosts.length}`;
    const t0 = Date.now();
    const handle = await env.client.workflow.start('benchFanOut', { taskQueue, workflowId, args: [input] });
    const result = (await handle.result()) as { summary?: string; outcome?: string };
    const wallMs = Date.now() - t0;
    clearInterval(sampler);
    const cpu = { workerSec: round1(cpuSec(worker.pid) - cpu0.worker), temporalServerSec: round1(servers.reduce((a, p) => a + cpuSec(p), 0) - cpu0.server) };
    const rssAfter = rssMiB(worker.pid);
    const rssHwm = rssMiB(worker.pid, 'VmHWM');
    const history = (await handle.fetchHistory()).events as HistoryEvent[];
    const times = activityTimes(history);
    // Children of the fan-out (the kit's lifeboatFanOutBatch, once it runs targets in child workflows).
    const children: Array<{ workflowId: string; events: number }> = [];
    for await (const w of env.client.workflow.list({ query: `ParentWorkflowId = '${workflowId}'` })) {
      const h = await env.client.workflow.getHandle(w.workflowId, w.runId).fetchHistory();
      const evs = h.events as HistoryEvent[];
      children.push({ workflowId: w.workflowId, events: evs.length });
      const t = activityTimes(evs);
      times.scheduleToStart.push(...t.scheduleToStart);
      times.overhead.push(...t.overhead);
      times.sshMs.push(...t.sshMs);
    }
    const sumSsh = times.sshMs.reduce((a, b) => a + b, 0);
    const idealMs = Math.round(sumSsh / concurrency);
    if (workerErr.trim()) console.error(`bench worker stderr (tail):\n${workerErr.slice(-1500)}`);
    return {
      concurrency,
      form,
      wallMs,
      outcome: result.outcome,
      summary: result.summary,
      effects: effectCheck(lab, before),
      activities: times.sshMs.length,
      sshCallMs: stats(times.sshMs),
      scheduleToStartMs: stats(times.scheduleToStart),
      perTargetOverheadMs: stats(times.overhead),
      // The wall time against the SSH calls' own time spread over the slots: what orchestration cost over a perfect scheduler.
      idealWallMs: idealMs,
      overWallMs: wallMs - idealMs,
      overWallPerTargetMs: Math.round(((wallMs - idealMs) * concurrency) / f.hosts.length),
      history: {
        parentEvents: history.length,
        children: children.length,
        childEventsMax: children.length ? Math.max(...children.map((c) => c.events)) : 0,
        childEventsTotal: children.reduce((a, c) => a + c.events, 0),
      },
      cpu,
      workerRssMiB: { ready: rssBefore, peakSampled: rssPeak, highWaterMark: rssHwm, after: rssAfter },
    };
  } finally {
    if (worker) await stopChild(worker);
    await env.teardown();
  }
}

async function main(): Promise<void> {
  const hosts = intArg('hosts', 200);
  const concurrency = intArg('concurrency', 50);
  const restartMs = Number(arg('restart-ms', '1000'));
  if (!Number.isInteger(restartMs) || restartMs < 0) throw new Error('--restart-ms must be a whole number of milliseconds (0: the restart answers at once)');
  const form = arg('form', 'activityCall') as FanOutForm;
  if (form !== 'activityCall' && form !== 'closure') throw new Error('--form must be activityCall (the kit runs past 100 targets in child workflows) or closure (every target inline)');
  const modes = arg('modes', 'loop,ansible,lifeboat').split(',').map((s) => s.trim()) as Mode[];
  for (const m of modes) if (!['loop', 'ansible', 'lifeboat'].includes(m)) throw new Error(`--modes: unknown mode "${m}" (loop, ansible, lifeboat)`);
  if (spawnSync('ssh', ['-V']).error) throw new Error('the OpenSSH client (ssh) is missing: run `npm run setup` (it installs openssh-client)');
  if (modes.includes('ansible')) ensureAnsible();
  // Leftovers of a crashed run (an hour old: a run beside this one, another checkout's, keeps its own).
  for (const d of readdirSync(tmpdir())) {
    const full = path.join(tmpdir(), d);
    if (d.startsWith(TMP_PREFIX) && Date.now() - statSync(full).mtimeMs > 3_600_000) rmSync(full, { recursive: true, force: true });
  }

  const loadStart = loadavg()[0]!;
  const t0 = Date.now();
  const lab = await startFleet(hosts, restartMs);
  const labStartMs = Date.now() - t0;
  console.log(`fleet of ${hosts} hosts up in ${labStartMs} ms (lab RSS ${rssMiB(lab.child.pid)} MiB)`);
  const results: Record<string, unknown> = {};
  const loads: Record<string, number> = {};
  try {
    for (const m of modes) {
      loads[`${m}Start`] = loadavg()[0]!;
      console.log(`${m}: restarting ${hosts} hosts...`);
      const before = { clients: cpuSec('self'), hosts: cpuSec(lab.child.pid) };
      const r = m === 'loop' ? await runLoop(lab) : m === 'ansible' ? await runAnsible(lab, concurrency) : await runLifeboat(lab, concurrency, form);
      // CPU seconds: the clients this process ran (ssh, ansible and its forks), the simulated hosts (the lab: its SSH
      // servers and every command run on a host), and for lifeboat its worker and dev server.
      // (For lifeboat this process's own children are the worker and the dev server, counted by themselves.)
      const clients = m === 'lifeboat' ? {} : { clientsSec: round1(cpuSec('self') - before.clients) };
      const cpu = { ...clients, hostsSec: round1(cpuSec(lab.child.pid) - before.hosts), ...((r as { cpu?: object }).cpu ?? {}) };
      results[m] = { ...r, cpu };
      console.log(`${m}: ${JSON.stringify(r)}`);
    }
  } finally {
    await lab.stop();
  }
  const loadEnd = loadavg()[0]!;
  const wall = (m: Mode) => (results[m] as { wallMs?: number } | undefined)?.wallMs;
  const ratio = (a?: number, b?: number) => (a && b ? Math.round((a / b) * 100) / 100 : undefined);
  const entry = {
    date: new Date().toISOString(),
    hosts,
    concurrency,
    restartMs,
    command: lab.fleet.restart.join(' '),
    labStartMs,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      ssh: spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim(),
      loadAverage1m: { start: loadStart, end: loadEnd, ...loads },
    },
    modes: results,
    ratios: {
      loopOverLifeboat: ratio(wall('loop'), wall('lifeboat')),
      ansibleOverLifeboat: ratio(wall('ansible'), wall('lifeboat')),
      loopOverAnsible: ratio(wall('loop'), wall('ansible')),
    },
    targets: {
      lifeboatAtLeast10xLoop: wall('loop') && wall('lifeboat') ? wall('loop')! / wall('lifeboat')! >= 10 : undefined,
      lifeboatNoSlowerThanAnsible: wall('ansible') && wall('lifeboat') ? wall('lifeboat')! <= wall('ansible')! : undefined,
    },
  };
  const out = path.join(PROJECT_ROOT, 'bench', 'results', 'fanout.json');
  const prev = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as { runs?: Record<string, unknown> }) : {};
  const doc = {
    benchmark: 'fanout',
    what: 'the same `systemctl restart app` on every host of the lab fleet (real SSH on loopback): a sequential bash loop of OpenSSH, Ansible ad hoc with forks = concurrency, and Lifeboat\'s kit fanOut with that concurrency on a Temporal dev server; each must restart every host exactly once',
    runs: { ...(prev.runs ?? {}), [`${hosts} hosts, restart ${restartMs} ms, concurrency ${concurrency}${modes.includes('lifeboat') ? `, Lifeboat ${form}` : ''}`]: entry },
  };
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(doc, null, 2) + '\n');
  console.log(`ratios: ${JSON.stringify(entry.ratios)}; targets: ${JSON.stringify(entry.targets)}`);
  console.log(`written to ${path.relative(process.cwd(), out)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
