/**
 * One simulated node's SSH server: a real SSH endpoint (ssh2's `Server`) on
 * 127.0.0.1 whose `exec` requests run as real `/bin/sh -c` child processes in
 * the node's host directory, with the family's shims first on `PATH`.
 *
 * Behaviour an SSH client can rely on, as with OpenSSH:
 * - publickey authentication only, with the lab client key; anything else is refused;
 * - stdout/stderr are streamed, then `exit-status` (or `exit-signal`) is sent;
 * - a `signal` request is delivered to the command's process group;
 * - closing the channel while the command runs kills its process group
 *   (SIGTERM, then SIGKILL after 2 s). Background jobs that outlive their
 *   shell (`nohup ... &`) are left alone, as sshd does.
 *
 * Per-host faults (see {@link HostFaults}) simulate a host that hangs before
 * the SSH banner, drops connections, answers slowly or refuses every key.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { userInfo } from 'node:os';
import { Server as SshServer, utils, type Connection, type ParsedKey, type ServerChannel } from 'ssh2';

/** Faults a lab host can be given, toggled through the lab's `break` (`host.<kind>:<cluster>/<node>`). */
export interface HostFaults {
  /** Accept TCP connections but never send the SSH banner. */
  hang: boolean;
  /** Destroy each connection right after accepting it. */
  drop: boolean;
  /** Delay every exec by this many milliseconds (0: no delay). */
  slowMs: number;
  /** Refuse every authentication attempt, even with the lab key; turning it on also closes the open sessions (the host was re-keyed and restarted), so a pooled connection cannot outlive it. */
  refuseAuth: boolean;
  /**
   * The node's admin API (HTTP admin routes, the ledger's gRPC admin and
   * write calls) refuses the credentials it is sent (401 / UNAUTHENTICATED):
   * a rotated admin token. Reads still answer. Checked by the families.
   */
  refuseApi: boolean;
}

export type HostFaultKind = 'hang' | 'drop' | 'slow' | 'refuse-auth' | 'refuse-api';
export const HOST_FAULT_KINDS: readonly HostFaultKind[] = ['hang', 'drop', 'slow', 'refuse-auth', 'refuse-api'];

export interface SshHostOptions {
  cluster: string;
  node: string;
  /** The host's root directory: cwd and HOME of every command. */
  root: string;
  /** Directory of this host's shims, first on PATH. */
  binDir: string;
  /** Host private key (OpenSSH text). */
  hostKey: string;
  /** The one client public key accepted, as an OpenSSH line ("ssh-ed25519 AAAA..."). */
  clientPublicKey: string;
  /** TCP port to listen on; 0 picks a free one. */
  port: number;
  /** Extra environment for commands (LAB_CONTROL...), read at each exec so it can change after start. */
  env: () => Record<string, string>;
  /**
   * An argv prefix each command runs under, read at each exec (e.g. `nsenter -t PID -n -m -p --`:
   * the node's namespaces, for a family of real processes); none: a plain `/bin/sh -c`.
   */
  wrap?: () => string[] | undefined;
}

/** Grace between SIGTERM and SIGKILL when a channel closes under a running command. */
const KILL_GRACE_MS = 2000;

/** A simulated node reachable over real SSH on loopback. */
export class SshHost {
  readonly cluster: string;
  readonly node: string;
  readonly root: string;
  readonly faults: HostFaults = { hang: false, drop: false, slowMs: 0, refuseAuth: false, refuseApi: false };
  private readonly ssh: SshServer;
  private readonly listener: NetServer;
  private readonly clientKey: ParsedKey;
  private readonly sockets = new Set<Socket>();
  private readonly children = new Set<ChildProcess>();
  private boundPort = 0;

  constructor(private readonly opts: SshHostOptions) {
    this.cluster = opts.cluster;
    this.node = opts.node;
    this.root = opts.root;
    const parsed = utils.parseKey(opts.clientPublicKey);
    if (parsed instanceof Error) throw new Error(`lab client public key does not parse: ${parsed.message}`);
    this.clientKey = parsed;
    this.ssh = new SshServer({ hostKeys: [opts.hostKey] }, (conn) => this.onClient(conn));
    this.ssh.on('error', () => undefined);
    // Our own TCP listener decides, per connection, whether the SSH server sees it (faults).
    this.listener = createServer((socket) => this.onSocket(socket));
  }

  /** The port the host listens on (valid after {@link start}). */
  get port(): number {
    return this.boundPort;
  }

  /** Listen on 127.0.0.1. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.listener.once('error', reject);
      this.listener.listen(this.opts.port, '127.0.0.1', () => {
        this.listener.off('error', reject);
        resolve();
      });
    });
    const addr = this.listener.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : this.opts.port;
  }

  /** Stop listening, drop every connection and kill every command still running. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    for (const child of this.children) killGroup(child, 'SIGKILL');
    await closed;
  }

  /** Set or clear one fault; `slow` takes the delay in ms (default 3000). */
  setFault(kind: HostFaultKind, on: boolean, value?: number): void {
    switch (kind) {
      case 'hang':
        this.faults.hang = on;
        break;
      case 'drop':
        this.faults.drop = on;
        break;
      case 'slow':
        this.faults.slowMs = on ? (value ?? 3000) : 0;
        break;
      case 'refuse-auth':
        this.faults.refuseAuth = on;
        if (on) this.disconnectAll();
        break;
      case 'refuse-api':
        this.faults.refuseApi = on;
        break;
    }
  }

  /** Close every open connection now (a host that goes down takes its sessions with it). */
  disconnectAll(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** Clear every fault (connections already hung stay hung until their client gives up). */
  heal(): void {
    Object.assign(this.faults, { hang: false, drop: false, slowMs: 0, refuseAuth: false, refuseApi: false });
  }

  private onSocket(socket: Socket): void {
    socket.on('error', () => undefined);
    if (this.faults.drop) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.faults.hang) return; // accepted, silent: the client waits for a banner that never comes
    this.ssh.injectSocket(socket);
  }

  private onClient(conn: Connection): void {
    conn.on('error', () => undefined);
    conn.on('authentication', (ctx) => {
      if (this.faults.refuseAuth || ctx.method !== 'publickey') return ctx.reject(['publickey']);
      const want = this.clientKey.getPublicSSH();
      const ok =
        ctx.key.algo === this.clientKey.type && ctx.key.data.length === want.length && timingSafeEqual(ctx.key.data, want);
      if (!ok) return ctx.reject(['publickey']);
      // Without a signature the client only asks whether this key would do.
      if (!ctx.signature || !ctx.blob) return ctx.accept();
      return this.clientKey.verify(ctx.blob, ctx.signature, ctx.hashAlgo) ? ctx.accept() : ctx.reject(['publickey']);
    });
    conn.on('ready', () => {
      conn.on('session', (acceptSession) => {
        const session = acceptSession();
        let running: ChildProcess | undefined;
        session.on('env', (accept) => accept?.()); // accepted and ignored: the lab controls the environment
        session.on('pty', (_accept, reject) => reject?.());
        session.on('shell', (_accept, reject) => reject?.());
        session.on('signal', (accept, _reject, info) => {
          accept?.();
          if (running) killGroup(running, `SIG${info.name}` as NodeJS.Signals);
        });
        session.on('exec', (accept, _reject, info) => {
          const channel = accept();
          void this.exec(channel, info.command, (child) => (running = child));
        });
      });
    });
  }

  private async exec(channel: ServerChannel, command: string, onSpawn: (c: ChildProcess) => void): Promise<void> {
    let channelClosed = false;
    channel.on('close', () => (channelClosed = true));
    channel.on('error', () => undefined);
    if (this.faults.slowMs > 0) await sleep(this.faults.slowMs);
    if (channelClosed) return;

    const user = safeUser();
    const wrap = this.opts.wrap?.() ?? [];
    const argv = [...wrap, '/bin/sh', '-c', command];
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: this.root,
      detached: true, // own process group: a channel close kills the whole pipeline
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        PATH: `${this.opts.binDir}:/usr/local/bin:/usr/bin:/bin`,
        HOME: this.root,
        USER: user,
        LOGNAME: user,
        SHELL: '/bin/sh',
        LANG: 'C.UTF-8',
        ...this.opts.env(),
        LAB_CLUSTER: this.cluster,
        LAB_NODE: this.node,
        LAB_ROOT: this.root,
      },
    });
    this.children.add(child);
    onSpawn(child);
    let shellExited = false;
    let killTimer: NodeJS.Timeout | undefined;

    child.stdin?.on('error', () => undefined);
    channel.on('data', (d: Buffer) => child.stdin?.write(d));
    channel.on('end', () => child.stdin?.end());
    child.stdout?.on('data', (d: Buffer) => !channelClosed && channel.write(d));
    child.stderr?.on('data', (d: Buffer) => !channelClosed && channel.stderr.write(d));
    child.on('exit', () => (shellExited = true));
    child.on('error', (err) => {
      this.children.delete(child);
      if (channelClosed) return;
      channel.stderr.write(`lab: cannot run /bin/sh: ${err.message}\n`);
      channel.exit(127);
      channel.end();
    });
    child.on('close', (code, signal) => {
      this.children.delete(child);
      if (killTimer) clearTimeout(killTimer);
      if (channelClosed) return;
      if (signal) channel.exit(signal.replace(/^SIG/, ''), false, '');
      else channel.exit(code ?? 0);
      channel.end();
    });
    channel.on('close', () => {
      if (shellExited || child.exitCode !== null) return;
      killGroup(child, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    });
  }
}

/** Signal a child's whole process group, ignoring "already gone". */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'lab';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
