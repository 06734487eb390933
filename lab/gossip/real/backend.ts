/**
 * Real memberlist-plumtree nodes as a {@link GossipBackend}: each node's
 * unit runs `plumtree-node` (plumtree-control/node: memberlist-plumtree
 * 0.1.6 with Lifeboat's control API, sled storage, anti-entropy) in its own
 * network namespace on the lab's switch (./net), its control API on
 * 127.0.0.1. Its output goes to `<lab>/logs/gossip-<node>.log`; the
 * `LIFEBOAT-EFFECT` lines it prints for accepted admin calls become the
 * lab's effects.
 *
 * `systemctl stop` sends SIGTERM (the node leaves the cluster gracefully)
 * and SIGKILLs after 10 s; faults SIGKILL. A node whose message store is
 * damaged exits at start (3) and its unit fails, as a real one would.
 *
 * The unit is the one docs/gossip.md gives operators: `Restart=no` (a node
 * that crashed stays down until someone starts it, which the failure
 * scenarios are about) with `RestartForceExitStatus=75`, `RestartSec=1`,
 * `StartLimitBurst=5` in `StartLimitIntervalSec=60`: a node that exits 75
 * (run with `--exit-on-panic`, a task panicked) is started again by the
 * unit itself, at most 5 times a minute, then the unit fails. The lab's
 * nodes run without `--exit-on-panic` unless PLUMTREE_NODE_EXIT_ON_PANIC=1
 * (docs/gossip.md says why).
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AdminListener, GossipBackend, GossipProcessInfo } from '../backend';
import { call } from '../client';
import { cacheDirOf, dataDirOf, RUNBOOK_SEED_PORT, type GossipNodeSpec } from '../spec';
import { GossipNet, netUnavailable, removeLeftovers } from './net';

/** Where plumtree-node is: `LIFEBOAT_PLUMTREE_NODE`, else `<cargo target>/release/plumtree-node` (scripts/setup.sh builds it). */
export function plumtreeNodePath(): string {
  if (process.env.LIFEBOAT_PLUMTREE_NODE) return resolve(process.env.LIFEBOAT_PLUMTREE_NODE);
  const target = process.env.LIFEBOAT_CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'lifeboat', 'plumtree-target');
  return join(target, 'release', 'plumtree-node');
}

/** The binary's path, or an error that says how to get one. */
export function requirePlumtreeNode(): string {
  const path = plumtreeNodePath();
  if (!existsSync(path)) {
    throw new Error(
      `lab gossip: the real backend runs plumtree-node, not found at ${path}. ` +
        'Build it with `npm run setup` (needs Rust >= 1.89 from https://rustup.rs: it runs `cargo build --release --locked -p plumtree-node` ' +
        'in plumtree-control/ with CARGO_TARGET_DIR=~/.cache/lifeboat/plumtree-target), or point LIFEBOAT_PLUMTREE_NODE at a built binary.',
    );
  }
  return path;
}

/**
 * The first panic in a node log since its last start (the lab's `=== lab
 * <time>: <path>/plumtree-node --name ...` line), as `<file>:<line>:
 * <message>`, the file shortened to the crate (`memberlist-core-0.7.0/src/
 * state.rs`); undefined when the current process has not panicked. Rust
 * prints `thread '<name>' panicked at <file>:<line>:<col>:` and the message
 * on the next line.
 */
export function panicSinceStart(log: string): string | undefined {
  const lines = log.split('\n');
  let from = 0;
  lines.forEach((l, i) => {
    if (/^=== lab \S+: \S*plumtree-node /.test(l)) from = i + 1;
  });
  for (let i = from; i < lines.length; i++) {
    const m = /panicked at (.+?):(\d+):\d+:?$/.exec(lines[i]!);
    if (!m) continue;
    const path = m[1]!;
    const file = /[\w.-]+-\d+\.\d+\.\d+[\w.-]*\/src\/.*$/.exec(path)?.[0] ?? /src\/.*$/.exec(path)?.[0] ?? path;
    const message = (lines[i + 1] ?? '').trim();
    return `${file}:${m[2]}${message ? `: ${message}` : ''}`;
  }
  return undefined;
}

interface Proc {
  child: ChildProcess;
  pid: number;
  since: Date;
  exit: Promise<void>;
  done: boolean;
}

const STOP_GRACE_MS = 10_000;
const START_TIMEOUT_MS = 15_000;
/** plumtree-node's exit code when a task panicked: the unit restarts it (`RestartForceExitStatus=75`). */
const EXIT_RESTART = 75;
/** `RestartSec=1`. */
const RESTART_SEC_MS = 1_000;
/** `StartLimitBurst=5` in `StartLimitIntervalSec=60`. */
const START_LIMIT = { burst: 5, intervalMs: 60_000 };

export class RealGossipBackend implements GossipBackend {
  readonly kind = 'real' as const;
  /** The nodes' memberlist gossip-to-the-dead time in the lab profile (15 s), plus margin. */
  readonly deadTimeMs = 16_000;
  private readonly net = new GossipNet();
  private readonly procs = new Map<string, Proc>();
  private readonly exited = new Map<string, string>();
  private readonly specs = new Map<string, GossipNodeSpec>();
  private readonly cutNodes = new Set<string>();
  /** Automatic restarts pending (the unit's `RestartSec`). */
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  /** When each node's unit restarted itself, for the start limit and the restart counter. */
  private readonly autoRestarts = new Map<string, number[]>();
  private closed = false;
  private readonly logDir: string;
  private tokenFile = '';
  private binary = '';
  private seeds = '';

  constructor(
    labDir: string,
    private readonly onAdmin: AdminListener,
  ) {
    this.logDir = join(labDir, 'logs');
  }

  logPath(node: string): string {
    return join(this.logDir, `gossip-${node}.log`);
  }

  /** The namespace a node runs in (for the conformance tests). */
  namespaceOf(node: string): string {
    return this.net.nsOf(node);
  }

  async prepare(nodes: GossipNodeSpec[], tokenFile: string): Promise<void> {
    const why = netUnavailable();
    if (why) throw new Error(`lab gossip: ${why}`);
    this.binary = requirePlumtreeNode();
    this.tokenFile = tokenFile;
    mkdirSync(this.logDir, { recursive: true });
    await removeLeftovers();
    const addrs = await this.net.create(nodes.map((n) => n.name));
    for (const n of nodes) {
      n.addr = `${addrs.get(n.name)}:${RUNBOOK_SEED_PORT}`;
      this.specs.set(n.name, n);
    }
    this.seeds = nodes.filter((n) => n.seed).map((n) => n.addr).join(',');
  }

  running(node: string): boolean {
    const p = this.procs.get(node);
    return !!p && !p.done;
  }

  async start(node: string): Promise<void> {
    this.cancelRestart(node);
    if (this.running(node)) return;
    const spec = this.specs.get(node);
    if (!spec) throw new Error(`lab gossip: no node ${node}`);
    mkdirSync(dataDirOf(spec), { recursive: true });
    const argv = [
      '--name', node,
      '--bind', spec.addr,
      '--http', `127.0.0.1:${spec.httpPort}`,
      '--token-file', this.tokenFile,
      '--seeds', this.seeds,
      '--storage', 'sled',
      '--data-dir', dataDirOf(spec),
      '--sync',
      '--profile', 'lab',
      '--netns', this.net.nsPath(node),
    ];
    const fd = openSync(this.logPath(node), 'a');
    writeSync(fd, `\n=== lab ${new Date().toISOString()}: ${this.binary} ${argv.join(' ')}\n`);
    const child = spawn(this.binary, argv, { cwd: spec.root, stdio: ['ignore', 'pipe', fd], env: { ...process.env, RUST_BACKTRACE: '0', NO_COLOR: '1' } });
    closeSync(fd);
    const pid = child.pid;
    if (pid === undefined) throw new Error(`lab gossip: could not start ${this.binary} on ${node}`);
    let markDone!: () => void;
    const proc: Proc = { child, pid, since: new Date(), exit: new Promise<void>((r) => (markDone = r)), done: false };
    let ready = false;
    let buf = '';
    child.stdout!.on('data', (b: Buffer) => {
      buf += b.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.appendLog(node, line);
        if (line.startsWith('LIFEBOAT-READY ')) ready = true;
        const m = /^LIFEBOAT-EFFECT (.*)$/.exec(line);
        if (m) {
          try {
            const e = JSON.parse(m[1]!) as { action: string; changed: boolean };
            this.onAdmin(node, e.action, e.changed);
          } catch {
            /* not ours */
          }
        }
      }
    });
    child.once('exit', (code, signal) => {
      proc.done = true;
      this.exited.set(node, signal ? `killed by ${signal}` : `exit ${code ?? '?'}${code === EXIT_RESTART ? ' (a task panicked)' : ''}`);
      markDone();
      if (code === EXIT_RESTART && ready) this.scheduleRestart(node);
    });
    this.procs.set(node, proc);
    this.exited.delete(node);
    // Like a Type=notify unit: started once it serves, failed if it exits first.
    const end = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < end) {
      if (proc.done) throw new Error(`plumtree-node on ${node} exited at start (${this.exited.get(node)}): ${this.lastError(node)}`);
      if (ready && (await call(spec.httpPort, 'GET', '/health', undefined, undefined, 1000))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`plumtree-node on ${node} does not serve on 127.0.0.1:${spec.httpPort} after ${START_TIMEOUT_MS / 1000} s; see ${this.logPath(node)}`);
  }

  /** `RestartForceExitStatus=75`: the unit starts the node again after `RestartSec`, within its start limit. */
  private scheduleRestart(node: string): void {
    if (this.closed || this.restartTimers.has(node)) return;
    const now = Date.now();
    const recent = (this.autoRestarts.get(node) ?? []).filter((t) => now - t < START_LIMIT.intervalMs);
    if (recent.length >= START_LIMIT.burst) {
      this.exited.set(node, `${this.exited.get(node) ?? 'exit 75'}; start request repeated too quickly (${START_LIMIT.burst} restarts in ${START_LIMIT.intervalMs / 1000} s): the unit failed`);
      this.appendLog(node, `=== lab ${new Date().toISOString()}: ${node}: exited 75 again; start request repeated too quickly, the unit failed (StartLimitBurst=${START_LIMIT.burst})`);
      return;
    }
    recent.push(now);
    this.autoRestarts.set(node, recent);
    this.appendLog(node, `=== lab ${new Date().toISOString()}: ${node}: exited 75; the unit restarts it in ${RESTART_SEC_MS / 1000} s (RestartForceExitStatus=75, restart ${recent.length})`);
    const timer = setTimeout(() => {
      this.restartTimers.delete(node);
      if (this.closed || this.running(node)) return;
      this.start(node).catch((err: Error) => this.exited.set(node, `the automatic restart failed: ${err.message}`));
    }, RESTART_SEC_MS);
    timer.unref();
    this.restartTimers.set(node, timer);
  }

  private cancelRestart(node: string): void {
    const t = this.restartTimers.get(node);
    if (t) clearTimeout(t);
    this.restartTimers.delete(node);
  }

  private appendLog(node: string, line: string): void {
    try {
      const fd = openSync(this.logPath(node), 'a');
      writeSync(fd, line + '\n');
      closeSync(fd);
    } catch {
      /* the log is best effort */
    }
  }

  /** The process's own last words (`plumtree-node: ...` on stderr). */
  private lastError(node: string): string {
    const lines = this.describe(node).log;
    return [...lines].reverse().find((l) => l.startsWith('plumtree-node: ')) ?? lines.at(-1) ?? 'no output';
  }

  async stop(node: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    this.cancelRestart(node);
    const p = this.procs.get(node);
    if (!p || p.done) return;
    p.child.kill(signal);
    if (signal === 'SIGTERM') {
      const grace = new Promise<void>((r) => setTimeout(r, STOP_GRACE_MS).unref());
      await Promise.race([p.exit, grace]);
      if (!p.done) p.child.kill('SIGKILL');
    }
    await p.exit;
  }

  describe(node: string): GossipProcessInfo {
    const p = this.procs.get(node);
    let text = '';
    try {
      text = readFileSync(this.logPath(node), 'utf8');
    } catch {
      /* no log yet */
    }
    const log = text ? text.trimEnd().split('\n').slice(-12) : [];
    const running = !!p && !p.done;
    return { pid: running ? p.pid : undefined, since: p?.since, exited: this.exited.get(node), restarting: this.restartTimers.has(node), restarts: this.autoRestarts.get(node)?.length ?? 0, log, panicked: running ? panicSinceStart(text) : undefined };
  }

  async cut(node: string): Promise<void> {
    await this.net.cut(node);
    this.cutNodes.add(node);
  }

  async split(groups: string[][]): Promise<void> {
    await this.net.splitInto(groups);
  }

  async heal(): Promise<void> {
    await this.net.heal();
    this.cutNodes.clear();
  }

  isCut(node: string): boolean {
    return this.cutNodes.has(node);
  }

  inNetwork(node: string, argv: string[]): string[] {
    return ['/usr/sbin/ip', 'netns', 'exec', this.net.nsOf(node), ...argv];
  }

  corruptStore(node: string): void {
    const spec = this.specs.get(node);
    if (!spec) throw new Error(`lab gossip: no node ${node}`);
    const conf = join(cacheDirOf(spec), 'conf');
    if (!existsSync(conf)) throw new Error(`lab gossip: ${node} has no message store at ${cacheDirOf(spec)} yet`);
    // sled checks its config record's checksum at open: a damaged one refuses the store
    // (damage to the first log segment can instead be taken for a torn tail and dropped silently).
    const fd = openSync(conf, 'r+');
    try {
      writeSync(fd, Buffer.from('lifeboat-lab: damaged sector....'), 0, 32, 0);
    } finally {
      closeSync(fd);
    }
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    for (const n of [...this.restartTimers.keys()]) this.cancelRestart(n);
    await Promise.all([...this.procs.keys()].map((n) => this.stop(n, 'SIGKILL')));
    await this.net.destroy();
  }
}
