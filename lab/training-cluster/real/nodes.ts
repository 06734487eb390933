/**
 * Real RingRift P2P orchestrators (`scripts/p2p_orchestrator.py` of
 * synaptent/RingRift 2aa9f89b5), one per lab node, each inside its own
 * namespaces: network (./namespaces), PID and mount (a private `/tmp` and
 * `/dev/shm`; ./python INIT_PY is PID 1). The code kills processes by
 * pattern and carries public bootstrap addresses: inside these namespaces
 * it sees only its own node's processes and reaches only the other nodes.
 *
 * Each node gets its own copy of the `ai-service` tree (hard links of one
 * unpacked copy of the tarball) as its host's workdir, a `venv` link to the
 * pinned virtualenv (`.tools/ringrift-venv`, scripts/setup.sh), and the
 * env file the systemd unit reads (`config/p2p_orchestrator.env`, here in
 * the tree). The orchestrator starts as the unit's `ExecStart` does, from
 * that env file: {@link P2P_START_SH}, the same command Lifeboat's restart
 * runs over SSH on a node without the unit.
 *
 * What the lab records: a request of the node's HTTP API that changed
 * something (through the proxy: `election.reset`, `election.set-leader`,
 * `p2p.unretire`, `p2p.admin-restart`), and the orchestrator processes it
 * sees come and go (`orchestrator.start`, `orchestrator.stop`,
 * `orchestrator.restart` for a start within 10 s of a stop); kills made by
 * a fault are not a stop anyone asked for and record nothing.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createNetwork, labId, removeLeftovers, removeNetwork, run, SUBNET } from './namespaces';
import { pidsInNamespace, startProxy, type ProxiedRequest } from './procs';
import { INIT_PY, PROXY_PY } from './python';

/** The port every orchestrator listens on inside its node (the runbooks' 8770). */
export const P2P_PORT = 8770;
/** A start within this long after a stop counts as one restart. */
const RESTART_WINDOW_MS = 10_000;
/** What identifies an orchestrator process (its script). */
export const P2P_PATTERN = 'scripts/p2p_orchestrator.py';

/**
 * The systemd unit's ExecStart, run from its env file (`$1`) with the
 * tree's python (`$2`): what a node without the unit runs.
 */
export const P2P_START_SH =
  'set -a; . "$1"; set +a; exec "$2" -u scripts/p2p_orchestrator.py --node-id "$RINGRIFT_NODE_ID" --host "$RINGRIFT_P2P_HOST" ' +
  '--port "$RINGRIFT_P2P_PORT" --ringrift-path "$RINGRIFT_PATH" --peers "$RINGRIFT_P2P_PEERS"';

/**
 * Timeouts shortened for the lab, through the orchestrator's own settings
 * (app/p2p/constants.py reads them from the environment): heartbeats every
 * 5 s instead of 15 s, peers judged dead after 60 s instead of 180 s (the
 * code insists on at least ten heartbeats) and retired after 90 s instead of
 * 240 s, and the voters' heartbeat timeout 30 s instead of 60 s.
 */
export const LAB_TIMEOUTS: Record<string, string> = {
  RINGRIFT_P2P_HEARTBEAT_INTERVAL: '5',
  RINGRIFT_P2P_PEER_TIMEOUT: '60',
  RINGRIFT_P2P_PEER_TIMEOUT_FAST: '60',
  RINGRIFT_P2P_PEER_RETIRE_AFTER_SECONDS: '90',
  RINGRIFT_P2P_VOTER_HEARTBEAT_TIMEOUT: '30',
};

export interface RealNodeSpec {
  name: string;
  roles: string[];
  /** The node's host root; its tree goes to `<root>/ai-service`. */
  root: string;
}

interface NodeRt extends RealNodeSpec {
  index: number;
  tree: string;
  address: string;
  netns: string;
  /** The machine's pid of the node's PID 1. */
  initPid?: number;
  init?: ChildProcess;
  proxy?: ChildProcess;
  proxyPort?: number;
  /** The orchestrator pid the watcher saw last (the machine's numbering). */
  pid?: number;
  lastStopAt?: number;
  /** Pids killed by a fault: their end is not an operator's stop. */
  killed: Set<number>;
  /** The next start is the lab's own (a unit starting at boot), not an operator's. */
  labStart?: boolean;
}

export interface RealNodesOptions {
  cluster: string;
  labDir: string;
  nodes: RealNodeSpec[];
  /** The virtualenv's python (`.tools/ringrift-venv/bin/python`). */
  python: string;
  /** `ai-service.tar.gz` of RingRift 2aa9f89b5. */
  tarball: string;
  /** The cluster's bearer token (RINGRIFT_CLUSTER_AUTH_TOKEN). */
  token: string;
  /** Directories that must stay visible inside the nodes' private /tmp (the lab, the checkout). */
  keep: string[];
  /** An effect for the lab's log. */
  record(node: string, effect: string, detail?: Record<string, unknown>): void;
}

/** The real orchestrators of one lab cluster. */
export class RealNodes {
  readonly id: string;
  private readonly nodes: NodeRt[];
  private watcher?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly o: RealNodesOptions) {
    this.id = labId(o.labDir);
    this.nodes = o.nodes.map((n, i) => ({
      ...n,
      index: i + 1,
      tree: join(n.root, 'ai-service'),
      address: `${SUBNET}.${i + 1}`,
      netns: `lb-tc-${this.id}-${i + 1}`,
      killed: new Set(),
    }));
  }

  private node(name: string): NodeRt {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`${this.o.cluster}: no node ${name}`);
    return n;
  }

  /** The node's address inside the namespaces (`10.213.0.<i>`). */
  address(name: string): string {
    return this.node(name).address;
  }

  /** The node's network namespace name. */
  netns(name: string): string {
    return this.node(name).netns;
  }

  /** Where the machine reaches the node's orchestrator (the proxy on 127.0.0.1). */
  baseUrl(name: string): string {
    const n = this.node(name);
    return `http://127.0.0.1:${n.proxyPort ?? 0}`;
  }

  /** The argv prefix that runs a command in the node's network, mount and PID namespaces. */
  prefix(name: string): string[] | undefined {
    const n = this.node(name);
    if (!n.initPid) return undefined;
    return ['nsenter', '-t', String(n.initPid), '-n', '-m', '-p', '--'];
  }

  /** The orchestrator's pid (the machine's numbering), if one runs. */
  pid(name: string): number | undefined {
    return this.node(name).pid;
  }

  /** The machine's pid of the node's PID 1 (its PID namespace), while its namespaces are up. */
  initPid(name: string): number | undefined {
    return this.node(name).initPid;
  }

  /** The node's `ai-service` tree (its host's workdir). */
  tree(name: string): string {
    return this.node(name).tree;
  }

  /** The lab's proxy script (written at start): the way in from the machine to a port inside a node. */
  proxyScript(): string {
    return join(this.o.labDir, 'ringrift', 'proxy.py');
  }

  /** The env file of the node's systemd unit, in its tree. */
  envFile(name: string): string {
    return join(this.node(name).tree, 'config', 'p2p_orchestrator.env');
  }

  async start(): Promise<void> {
    if (typeof process.getuid === 'function' && process.getuid() !== 0) {
      throw new Error(`${this.o.cluster}: the real training backend needs root (network, PID and mount namespaces); run as root`);
    }
    if (!existsSync(this.o.tarball)) {
      throw new Error(
        `${this.o.cluster}: the real training backend needs RingRift's ai-service.tar.gz (commit 2aa9f89b5), not found at ${this.o.tarball}; ` +
          'put ../shared/targets/ringrift/ beside the checkout or set LIFEBOAT_RINGRIFT_TARBALL (scripts/conformance.sh says how to make one)',
      );
    }
    if (!existsSync(this.o.python)) {
      throw new Error(`${this.o.cluster}: no python at ${this.o.python}; run \`npm run setup\` (it installs .tools/ringrift-venv)`);
    }
    await removeLeftovers(this.id);
    const src = await this.unpack();
    await createNetwork(this.id, this.nodes.length);
    const dir = join(this.o.labDir, 'ringrift');
    writeFileSync(join(dir, 'init.py'), INIT_PY);
    writeFileSync(join(dir, 'proxy.py'), PROXY_PY);
    const peers = (n: NodeRt) => this.nodes.filter((x) => x !== n).map((x) => `http://${x.address}:${P2P_PORT}`).join(',');
    const voters = this.nodes.filter((x) => x.roles.includes('voter')).map((x) => x.name).join(',');
    for (const n of this.nodes) {
      mkdirSync(n.tree, { recursive: true });
      await run('cp', ['-al', `${src}/.`, `${n.tree}/`]);
      for (const d of ['logs', 'data', 'models']) mkdirSync(join(n.tree, d), { recursive: true });
      const venv = join(n.tree, 'venv');
      if (!existsSync(venv)) symlinkSync(resolve(dirname(this.o.python), '..'), venv);
      const env: Record<string, string> = {
        RINGRIFT_NODE_ID: n.name,
        RINGRIFT_P2P_HOST: '0.0.0.0',
        RINGRIFT_P2P_PORT: String(P2P_PORT),
        RINGRIFT_PATH: n.tree,
        RINGRIFT_P2P_PEERS: peers(n),
        RINGRIFT_P2P_ADVERTISE_HOST: n.address,
        RINGRIFT_P2P_ADVERTISE_PORT: String(P2P_PORT),
        // The code's own bootstrap list names public hosts: replaced by the lab's nodes.
        RINGRIFT_P2P_BOOTSTRAP_SEEDS: peers(n),
        RINGRIFT_P2P_VOTERS: voters,
        RINGRIFT_P2P_STATE_DIR: join(n.tree, 'data', 'p2p-state'),
        RINGRIFT_P2P_STORAGE_ROOT: join(n.tree, 'data'),
        RINGRIFT_CLUSTER_AUTH_TOKEN: this.o.token,
        // Exactly one coordinator: with none no leader is elected, with several each leads itself.
        RINGRIFT_IS_COORDINATOR: n.roles.includes('coordinator') ? 'true' : 'false',
        XDG_RUNTIME_DIR: '/tmp',
        PYTHONPATH: n.tree,
        ...LAB_TIMEOUTS,
      };
      writeFileSync(this.envFile(n.name), Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
    }
    await Promise.all(this.nodes.map((n) => this.startInit(n, join(dir, 'init.py'))));
    await Promise.all(this.nodes.map((n) => this.startProxy(n, join(dir, 'proxy.py'))));
    this.watcher = setInterval(() => this.watch(), 500);
    this.watcher.unref();
    await Promise.all(this.nodes.map((n) => this.startOrchestrator(n.name)));
  }

  /** Unpacks the tarball once per lab directory; returns the `ai-service` tree. */
  private async unpack(): Promise<string> {
    const dir = join(this.o.labDir, 'ringrift');
    const src = join(dir, 'src');
    const stamp = join(dir, 'unpacked-from');
    const want = `${this.o.tarball} ${statSync(this.o.tarball).mtimeMs}`;
    if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want && existsSync(join(src, 'scripts', 'p2p_orchestrator.py'))) return src;
    rmSync(src, { recursive: true, force: true });
    mkdirSync(src, { recursive: true });
    await run('tar', ['-xzf', this.o.tarball, '-C', src], 120_000);
    writeFileSync(stamp, want);
    return src;
  }

  private startInit(n: NodeRt, script: string): Promise<void> {
    const keep = [...new Set([n.root, ...this.o.keep])];
    // stdin stays open as long as the lab lives: the init ends the namespace when it closes.
    const child = spawn('ip', ['netns', 'exec', n.netns, 'unshare', '--pid', '--fork', '--mount', '--propagation', 'private', '--mount-proc', this.o.python, script, ...keep], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    n.init = child;
    let err = '';
    child.stderr?.on('data', (b: Buffer) => (err += b.toString('utf8')));
    return new Promise<void>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`${n.name}: its namespaces did not come up in 15 s: ${err.trim()}`)), 15_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        if (!n.initPid) reject(new Error(`${n.name}: namespace init exited (${code}): ${err.trim()}`));
      });
      createInterface({ input: child.stdout! }).once('line', (line) => {
        clearTimeout(timer);
        if (line.trim() !== 'ready') return reject(new Error(`${n.name}: namespace init said "${line}"`));
        // `ip netns exec` becomes unshare, whose only child is our init.
        const found = childOf(child.pid!);
        if (!found) return reject(new Error(`${n.name}: cannot find the namespace init under pid ${child.pid}`));
        n.initPid = found;
        resolvePromise();
      });
    });
  }

  private async startProxy(n: NodeRt, script: string): Promise<void> {
    const { child, listening } = startProxy({ python: this.o.python, script, netnsPath: `/run/netns/${n.netns}`, port: P2P_PORT, what: `${n.name}: its proxy` }, (entry) => this.request(n, entry));
    n.proxy = child;
    n.proxyPort = await listening;
  }

  /** A request through the proxy: the ones that change something are effects. */
  private request(n: NodeRt, e: ProxiedRequest): void {
    if (e.method !== 'POST' || !e.status || e.status >= 300 || !e.path) return;
    const path = e.path.split('?')[0];
    const query = new URLSearchParams(e.path.split('?')[1] ?? '');
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(e.body || '{}') as Record<string, unknown>;
    } catch {
      /* not JSON */
    }
    if (path === '/election/reset') this.o.record(n.name, 'election.reset');
    else if (path === '/election/force_leader') this.o.record(n.name, 'election.set-leader', { node_id: body.leader_id });
    else if (path === '/admin/unretire') this.o.record(n.name, 'p2p.unretire', { node_id: query.get('node_id') });
    else if (path === '/admin/restart') this.o.record(n.name, 'p2p.admin-restart');
  }

  /** Starts the node's orchestrator as its unit would (no-op while one runs; not an effect: nobody asked); resolves when the process exists. */
  async startOrchestrator(name: string): Promise<void> {
    const n = this.node(name);
    if (n.pid && alive(n.pid)) return;
    n.labStart = true;
    const prefix = this.prefix(name);
    if (!prefix) throw new Error(`${name}: its namespaces are not up`);
    const cmd = `cd ${shq(n.tree)} && nohup sh -c ${shq(P2P_START_SH)} p2p-start ${shq(this.envFile(name))} venv/bin/python > logs/p2p.log 2>&1 &`;
    await run(prefix[0]!, [...prefix.slice(1), '/bin/sh', '-c', cmd]);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      this.watch();
      if (n.pid && alive(n.pid)) return;
      await sleep(100);
    }
    throw new Error(`${name}: the orchestrator did not start; see ${join(n.tree, 'logs', 'p2p.log')}`);
  }

  /** SIGKILLs the node's orchestrator (a crash, made by a fault: no stop recorded). */
  kill(name: string): boolean {
    const n = this.node(name);
    const pids = this.orchestratorPids(n);
    for (const pid of pids) {
      n.killed.add(pid);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    return pids.length > 0;
  }

  /** Waits until the node's orchestrator process is gone (after {@link kill}). */
  async gone(name: string, ms = 10_000): Promise<void> {
    const n = this.node(name);
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && this.orchestratorPids(n).length > 0) await sleep(100);
    this.watch();
  }

  /** Orchestrator processes inside the node's PID namespace (and the workers it forks, which share its command line). */
  private orchestratorPids(n: NodeRt): number[] {
    if (!n.initPid) return [];
    // An argument that IS the script: not a shell whose command text names it (the SSH session starting it).
    return pidsInNamespace(n.initPid, (argv) => argv.some((a) => a === P2P_PATTERN || a.endsWith(`/${P2P_PATTERN}`)));
  }


  /**
   * The node's orchestrator itself: of the processes matching its script, the one whose parent is not one
   * of them (the orchestrator forks workers with its own command line), the oldest if several. Not the
   * lowest pid: pids wrap, and a worker forked after the wrap has a lower pid than the orchestrator.
   */
  private mainPid(n: NodeRt): number | undefined {
    const pids = this.orchestratorPids(n);
    const stats = new Map(pids.map((p) => [p, procStat(p)] as const));
    const roots = pids.filter((p) => {
      const st = stats.get(p);
      return st !== undefined && !pids.includes(st.ppid);
    });
    return roots.sort((a, b) => stats.get(a)!.start - stats.get(b)!.start || a - b)[0];
  }

  /** Notices orchestrators coming and going; records starts, stops and restarts. */
  private watch(): void {
    if (this.stopped) return;
    for (const n of this.nodes) {
      const now = this.mainPid(n);
      if (now === n.pid) continue;
      if (n.pid !== undefined && !alive(n.pid)) {
        if (!n.killed.has(n.pid)) {
          this.o.record(n.name, 'orchestrator.stop', { pid: n.pid });
          n.lastStopAt = Date.now();
        }
        n.killed.delete(n.pid);
        n.pid = undefined;
      }
      if (now !== undefined && now !== n.pid) {
        const started = n.pid === undefined;
        n.pid = now;
        if (started && this.startsByLab === 0 && !n.labStart) {
          this.o.record(n.name, 'orchestrator.start', { pid: now });
          if (n.lastStopAt !== undefined && Date.now() - n.lastStopAt <= RESTART_WINDOW_MS) this.o.record(n.name, 'orchestrator.restart', { pid: now });
        }
        n.lastStopAt = undefined;
        n.labStart = false;
      }
    }
  }

  /** While the lab itself starts the orchestrators (at start), nothing is recorded. */
  private startsByLab = 1;

  /** From now on, starts and stops are effects (called once the cluster is formed). */
  recordFromNow(): void {
    this.watch();
    this.startsByLab = 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watcher) clearInterval(this.watcher);
    for (const n of this.nodes) {
      n.proxy?.kill('SIGKILL');
      // PID 1 gone: the kernel kills every process of the namespace.
      if (n.initPid) {
        try {
          process.kill(n.initPid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    for (const n of this.nodes) {
      const deadline = Date.now() + 10_000;
      while (n.initPid && alive(n.initPid) && Date.now() < deadline) await sleep(50);
      n.init?.kill('SIGKILL');
    }
    await removeNetwork(this.id);
  }
}

/** The first child of a process. */
function childOf(pid: number): number | undefined {
  try {
    const first = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

/** A process's parent and start time (clock ticks since boot) from /proc; undefined once it is gone. */
function procStat(pid: number): { ppid: number; start: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name in parentheses: state, ppid, ... starttime is the 20th field from there.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(f[1]), start: Number(f[19]) };
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
