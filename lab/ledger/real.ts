/**
 * Real `inferadb-ledger` processes as a {@link LedgerBackend}: each node's
 * unit runs the binary on loopback with the node's data directory, its
 * output appended to `<lab>/logs/ledger-<node>.log`. `systemctl stop` sends
 * SIGTERM and SIGKILLs after 35 s (the server drains for up to 30 s);
 * faults SIGKILL. Every pid is written to `<lab>/ledger-pids`, so a lab that
 * crashed leaves nothing running for long: the next start kills the
 * processes listed there (only those still running this binary on that
 * node's data directory).
 *
 * @module
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import type { ShimResult } from '../family';
import type { LedgerBackend, ProcessInfo } from './backend';
import { unitArgv, type LedgerUnit } from './units';

/** Where the real binary is: `LIFEBOAT_LEDGER_BIN`, else `../shared/targets/inferadb-ledger/bin/inferadb-ledger` from the repository root. */
export function ledgerBinaryPath(explicit?: string): string {
  if (explicit) return resolve(explicit);
  if (process.env.LIFEBOAT_LEDGER_BIN) return resolve(process.env.LIFEBOAT_LEDGER_BIN);
  // dist/lab/ledger -> the repository root -> its sibling `shared`.
  return resolve(__dirname, '..', '..', '..', '..', 'shared', 'targets', 'inferadb-ledger', 'bin', 'inferadb-ledger');
}

/** The binary's path, or an error that says how to get one. */
export function requireLedgerBinary(explicit?: string): string {
  const path = ledgerBinaryPath(explicit);
  if (!existsSync(path)) {
    throw new Error(
      `lab ledger: the real backend needs the inferadb-ledger binary, not found at ${path}. ` +
        'Build it from github.com/inferadb/ledger at commit 21345c44769040b857139d2729510401df4994b0 ' +
        '(`cargo build --release -p inferadb-ledger-server --bin inferadb-ledger`, see ../shared/targets/inferadb-ledger/BUILD.md) ' +
        'and put it there, or point LIFEBOAT_LEDGER_BIN at it.',
    );
  }
  return path;
}

interface Proc {
  child: ChildProcess;
  pid: number;
  since: Date;
  exit: Promise<void>;
  done: boolean;
}

const STOP_GRACE_MS = 35_000;

export class RealBackend implements LedgerBackend {
  readonly kind = 'real' as const;
  private readonly procs = new Map<string, Proc>();
  private readonly exited = new Map<string, string>();
  private readonly units = new Map<string, LedgerUnit>();
  private readonly pidFile: string;
  private readonly logDir: string;

  constructor(
    private readonly cluster: string,
    private readonly binary: string,
    labDir: string,
  ) {
    this.pidFile = join(labDir, 'ledger-pids');
    this.logDir = join(labDir, 'logs');
  }

  logPath(node: string): string {
    return join(this.logDir, `ledger-${node}.log`);
  }

  async prepare(units: LedgerUnit[]): Promise<void> {
    mkdirSync(this.logDir, { recursive: true });
    for (const u of units) this.units.set(u.node, u);
    // Leftovers of a lab that crashed: processes listed for this cluster, if they still run this binary on that data.
    for (const line of this.pidLines()) {
      const [cluster, node, pid, data] = line.split('\t');
      if (cluster !== this.cluster || !pid) continue;
      const cmd = cmdline(Number(pid));
      if (cmd && cmd.includes('inferadb-ledger') && data && cmd.includes(data)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone meanwhile */
        }
        for (let i = 0; i < 100 && existsSync(`/proc/${pid}`) && !isZombie(Number(pid)); i++) await sleep(50);
      }
      this.setPid(node ?? '', undefined);
    }
  }

  running(node: string): boolean {
    const p = this.procs.get(node);
    return !!p && !p.done;
  }

  async start(unit: LedgerUnit): Promise<void> {
    if (this.running(unit.node)) return;
    mkdirSync(unit.data, { recursive: true });
    const argv = unitArgv(unit);
    const fd = openSync(this.logPath(unit.node), 'a');
    writeSync(fd, `\n=== lab ${new Date().toISOString()}: ${this.binary} ${argv.join(' ')}\n`);
    const child = spawn(this.binary, argv, { cwd: unit.root, stdio: ['ignore', fd, fd], env: { ...process.env, NO_COLOR: '1' } });
    closeSync(fd);
    const pid = child.pid;
    if (pid === undefined) throw new Error(`lab ledger: could not start ${this.binary} on ${unit.node}`);
    let markDone!: () => void;
    const proc: Proc = { child, pid, since: new Date(), exit: new Promise<void>((r) => (markDone = r)), done: false };
    child.once('exit', (code, signal) => {
      proc.done = true;
      this.exited.set(unit.node, signal ? `killed by ${signal}` : `exit ${code ?? '?'}`);
      this.setPid(unit.node, undefined);
      markDone();
    });
    this.procs.set(unit.node, proc);
    this.exited.delete(unit.node);
    this.setPid(unit.node, `${pid}\t${unit.data}`);
    // Like a Type=notify unit: started once it listens (the server does within ~60 ms), failed if it exits first.
    const [host, port] = unit.listen.split(':');
    for (let i = 0; i < 200; i++) {
      if (proc.done) throw new Error(`inferadb-ledger on ${unit.node} exited at start (${this.exited.get(unit.node)}); see ${this.logPath(unit.node)}`);
      if (await listening(host!, Number(port))) return;
      await sleep(50);
    }
    throw new Error(`inferadb-ledger on ${unit.node} does not listen on ${unit.listen} after 10 s; see ${this.logPath(unit.node)}`);
  }

  async stop(node: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
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

  async cli(node: string, argv: string[]): Promise<ShimResult> {
    const cwd = this.units.get(node)?.root;
    return new Promise((ok) => {
      execFile(this.binary, argv, { cwd, timeout: 60_000, maxBuffer: 4 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        ok({ stdout: String(stdout), stderr: String(stderr), exitCode: code });
      });
    });
  }

  describe(node: string): ProcessInfo {
    const p = this.procs.get(node);
    let log: string[] = [];
    try {
       
      log = readFileSync(this.logPath(node), 'utf8').replace(/\x1b\[[0-9;]*m/g, '').trimEnd().split('\n').slice(-10);
    } catch {
      /* no log yet */
    }
    return { pid: p && !p.done ? p.pid : undefined, since: p?.since, exited: this.exited.get(node), log };
  }

  async shutdown(): Promise<void> {
    await Promise.all([...this.procs.keys()].map((n) => this.stop(n, 'SIGKILL')));
  }

  private pidLines(): string[] {
    try {
      return readFileSync(this.pidFile, 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  /** Rewrites this node's line of the pid file (several families share it; one lab process writes it). */
  private setPid(node: string, rest: string | undefined): void {
    const lines = this.pidLines().filter((l) => !l.startsWith(`${this.cluster}\t${node}\t`));
    if (rest) lines.push(`${this.cluster}\t${node}\t${rest}`);
    writeFileSync(this.pidFile, lines.map((l) => l + '\n').join(''));
  }
}

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

function isZombie(pid: number): boolean {
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

function listening(host: string, port: number): Promise<boolean> {
  return new Promise((ok) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      ok(true);
    });
    s.once('error', () => ok(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
