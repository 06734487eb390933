/**
 * A private OpenSSH server for tests: its own host key, client key, config,
 * port and temp directory, listening on 127.0.0.1 only. It never touches the
 * system sshd, /etc/ssh or ~/.ssh. Integration, lab and e2e tests share it.
 *
 * @example
 * ```ts
 * const sshd = await startSshd();
 * t.after(() => sshd.stop());
 * const target = { host: sshd.host, port: sshd.port, user: sshd.user,
 *                  privateKey: 'env:UNUSED', hostKeys: [sshd.hostKey] };
 * ```
 * @module
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const SSHD_PATH = process.env.LIFEBOAT_SSHD ?? '/usr/sbin/sshd';

/** A running test sshd. */
export interface TestSshd {
  host: '127.0.0.1';
  port: number;
  /** The login user: the user running the tests. */
  user: string;
  privateKeyPath: string;
  /** The client private key (OpenSSH format, no passphrase) authorised on this server. */
  privateKey: string;
  /** The server's public host key, "ssh-ed25519 AAAA...", ready to pin. */
  hostKey: string;
  /** Pid of the listening sshd. */
  pid: number;
  /** The temp directory holding keys, config and pid file. */
  dir: string;
  /** Stops the server and every session it forked, then removes the temp directory. Idempotent. */
  stop(): Promise<void>;
  /**
   * Sends `sig` to the listener and to every per-connection sshd process
   * (not to the users' commands), e.g. SIGSTOP to make the peer go silent
   * without closing its sockets, then SIGCONT to revive it.
   */
  stopProcess(sig: NodeJS.Signals): void;
  /** Pids of all descendants of the listener (connection handlers and the commands they run). */
  descendants(): number[];
  /** Pids of the per-connection sshd processes (one or two per TCP connection, by privilege separation). */
  sessionPids(): number[];
  /** Pids of every process started through this server, orphans of dead connections included (by SSH_CONNECTION). */
  sessionProcesses(): number[];
  /** What sshd wrote to stderr so far (bounded), for assertion messages. */
  log(): string;
}

/** A fresh ed25519 key pair made by ssh-keygen. */
export interface KeyPair {
  privateKeyPath: string;
  privateKey: string;
  /** "ssh-ed25519 AAAA..." without the comment. */
  publicKey: string;
}

/** Generates an ed25519 key pair in `dir` (no passphrase unless given). */
export async function makeKeyPair(dir: string, name: string, passphrase = ''): Promise<KeyPair> {
  const keyPath = path.join(dir, name);
  await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', `lifeboat-test-${name}`, '-f', keyPath]);
  const pub = fs.readFileSync(`${keyPath}.pub`, 'utf8').trim().split(/\s+/);
  return {
    privateKeyPath: keyPath,
    privateKey: fs.readFileSync(keyPath, 'utf8'),
    publicKey: `${pub[0]} ${pub[1]}`,
  };
}

/** A port that was free a moment ago on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Reads ppid and comm of every process from /proc (Linux only). */
function processTable(): Map<number, { ppid: number; comm: string }> {
  const table = new Map<number, { ppid: number; comm: string }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ..." — comm may contain spaces and parentheses.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      table.set(Number(entry), { ppid: Number(fields[1]), comm });
    } catch {
      // The process exited while we looked.
    }
  }
  return table;
}

function descendantsOf(root: number): Array<{ pid: number; comm: string }> {
  const table = processTable();
  const out: Array<{ pid: number; comm: string }> = [];
  const queue = [root];
  for (let guard = 0; queue.length > 0 && guard < 10_000; guard++) {
    const parent = queue.shift()!;
    for (const [pid, p] of table) {
      if (p.ppid === parent) {
        out.push({ pid, comm: p.comm });
        queue.push(pid);
      }
    }
  }
  return out;
}

/**
 * Pids of processes started through the sshd on `port`, found by the
 * SSH_CONNECTION variable sshd puts in every session's environment. Catches
 * commands orphaned when their connection died (sshd does not kill them).
 */
function sessionProcessesOf(port: number): number[] {
  const suffix = ` 127.0.0.1 ${port}`;
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = fs.readFileSync(`/proc/${entry}/environ`, 'latin1').split('\0');
      if (env.some((v) => v.startsWith('SSH_CONNECTION=') && v.endsWith(suffix))) pids.push(Number(entry));
    } catch {
      // Exited, or not ours to read.
    }
  }
  return pids;
}

function trySignal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** Waits until `host:port` sends an SSH banner, or throws after `timeoutMs`. */
async function waitForBanner(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 200 && Date.now() < deadline; attempt++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('sshd exited during startup');
    const banner = await new Promise<string>((resolve) => {
      const sock = net.connect({ host: '127.0.0.1', port });
      let data = '';
      const done = (v: string): void => {
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(1000, () => done(''));
      sock.on('data', (d) => {
        data += d.toString('latin1');
        if (data.includes('\n')) done(data);
      });
      sock.on('error', () => done(''));
      sock.on('close', () => done(data));
    });
    if (banner.startsWith('SSH-2.0-')) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not send a banner on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

const running = new Set<number>();
const runningPorts = new Set<number>();
let exitHookInstalled = false;

/** Last resort if a test process dies without stopping its servers: kill them synchronously. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of running) {
      for (const d of descendantsOf(pid)) trySignal(d.pid, 'SIGKILL');
      trySignal(pid, 'SIGKILL');
    }
    for (const port of runningPorts) for (const p of sessionProcessesOf(port)) trySignal(p, 'SIGKILL');
  });
}

/**
 * Starts a private sshd on 127.0.0.1 and a free port, authorising a freshly
 * generated client key for the current user. Resolves once the server sends
 * its banner (within 10 s). Call `stop()` in an after hook.
 *
 * @param opts.dir - parent directory for the temp directory (default: the OS temp dir).
 */
export async function startSshd(opts: { dir?: string } = {}): Promise<TestSshd> {
  const dir = fs.mkdtempSync(path.join(opts.dir ?? os.tmpdir(), 'lifeboat-sshd-'));
  try {
    return await startIn(dir);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startIn(dir: string): Promise<TestSshd> {
  // sshd refuses to start without its privilege-separation directory.
  if (!fs.existsSync('/run/sshd')) fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const [hostKeyPair, clientKeyPair] = await Promise.all([
    makeKeyPair(dir, 'ssh_host_ed25519_key'),
    makeKeyPair(dir, 'client_ed25519'),
  ]);
  const authorizedKeys = path.join(dir, 'authorized_keys');
  fs.writeFileSync(authorizedKeys, `${clientKeyPair.publicKey}\n`, { mode: 0o600 });
  const user = os.userInfo().username;

  let lastError: unknown;
  // The free port can be taken between probing and binding; try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = path.join(dir, 'sshd_config');
    fs.writeFileSync(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKeyPair.privateKeyPath}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        'StrictModes no',
        'UsePAM no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'PermitRootLogin prohibit-password',
        `AllowUsers ${user}`,
        'MaxStartups 100',
        'MaxSessions 50',
        'UseDNS no',
        'PrintMotd no',
        'LogLevel ERROR',
        '',
      ].join('\n'),
    );
    const child = spawn(SSHD_PATH, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (d: Buffer) => {
      log = (log + d.toString('utf8')).slice(-16_384);
    });
    const spawned = await new Promise<boolean>((resolve) => {
      child.once('spawn', () => resolve(true));
      child.once('error', (err) => {
        lastError = err;
        resolve(false);
      });
    });
    if (!spawned || child.pid === undefined) continue;
    const pid = child.pid;
    running.add(pid);
    runningPorts.add(port);
    installExitHook();
    try {
      await waitForBanner(port, child, 10_000);
    } catch (err) {
      lastError = new Error(`${(err as Error).message}; sshd said: ${log.trim() || '(nothing)'}`);
      trySignal(pid, 'SIGKILL');
      running.delete(pid);
      runningPorts.delete(port);
      continue;
    }

    let stopped = false;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    const sshd: TestSshd = {
      host: '127.0.0.1',
      port,
      user,
      privateKeyPath: clientKeyPair.privateKeyPath,
      privateKey: clientKeyPair.privateKey,
      hostKey: hostKeyPair.publicKey,
      pid,
      dir,
      log: () => log,
      sessionProcesses: () => sessionProcessesOf(port),
      descendants: () => descendantsOf(pid).map((d) => d.pid),
      sessionPids: () => descendantsOf(pid).filter((d) => d.comm === 'sshd').map((d) => d.pid),
      stopProcess(sig) {
        trySignal(pid, sig);
        for (const d of descendantsOf(pid)) if (d.comm === 'sshd') trySignal(d.pid, sig);
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        // Revive anything a test froze, or SIGTERM would stay pending forever.
        const all = [pid, ...new Set([...descendantsOf(pid).map((d) => d.pid), ...sessionProcessesOf(port)])];
        for (const p of all) trySignal(p, 'SIGCONT');
        // Sessions outlive a SIGTERMed listener, so end them first, while the
        // snapshot is fresh (their pids cannot have been reused yet).
        for (const p of all.slice(1)) trySignal(p, 'SIGKILL');
        trySignal(pid, 'SIGTERM');
        const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000).unref());
        if ((await Promise.race([exited, timer])) === 'timeout') trySignal(pid, 'SIGKILL');
        await exited;
        // Late orphans: sessions that were exiting while we looked.
        for (const p of sessionProcessesOf(port)) trySignal(p, 'SIGKILL');
        running.delete(pid);
        runningPorts.delete(port);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
    return sshd;
  }
  throw lastError instanceof Error ? lastError : new Error('could not start sshd');
}
