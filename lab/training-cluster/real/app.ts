/**
 * The REAL ai-service app of RingRift 2aa9f89b5 (`app/main.py`, run as
 * `uvicorn app.main:app` on port 8001) in the coordinator's namespaces,
 * beside its real orchestrator: the sync surface of seed 001 (`GET /metrics`
 * with the label-less `ringrift_sync_hosts_*` gauges, `GET /admin/sync/status`
 * and `POST /admin/sync/trigger` with `X-Admin-Key`). It imports without
 * torch with the packages `npm run setup` puts into `.tools/ringrift-venv`
 * (fastapi, uvicorn, prometheus_client, numpy besides the orchestrator's).
 *
 * `ADMIN_API_KEY` is a random key of the lab: written 0600 into the lab's
 * secrets directory (Lifeboat's `syncAdminKey` names that file) and into an
 * env file in the coordinator's tree that the start command sources, so it
 * is never on a command line, in the effect log or in the app's log.
 *
 * The machine reaches the app only through the lab's proxy (./python
 * PROXY_PY, the same as the orchestrators'), which logs each request; a
 * `POST /admin/sync/trigger` answered 2xx is the effect `sync.trigger`.
 *
 * It runs with `RINGRIFT_INFERENCE_ONLY=true` (below): without the
 * cluster's coordination daemons, one of which fights the recoveries.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { run } from './namespaces';
import { pidsInNamespace, startProxy } from './procs';

/** The app's port inside the coordinator's node (`app/main.py`'s default, the runbooks' 8001). */
export const APP_PORT = 8001;
/** What identifies the app's process (uvicorn's argument). */
export const APP_PATTERN = 'app.main:app';

/** Sources the env file (`$1`) and runs uvicorn with the tree's python (`$2`): the key stays off the command line. */
const APP_START_SH = 'set -a; . "$1"; set +a; exec "$2" -m uvicorn app.main:app --host 0.0.0.0 --port "$RINGRIFT_AI_SERVICE_PORT"';

export interface RealAppOptions {
  cluster: string;
  /** The coordinator's node name (for errors and effects). */
  node: string;
  /** Its `ai-service` tree (the app runs from it). */
  tree: string;
  /** The virtualenv's python on the machine (runs the proxy). */
  python: string;
  /** Where the key file goes (0700). */
  secretsDir: string;
  /** `/run/netns/<name>` of the coordinator's network namespace. */
  netnsPath(): string;
  /** The nsenter prefix into the coordinator's namespaces; undefined while they are down. */
  prefix(): string[] | undefined;
  /** The machine's pid of the coordinator's PID 1 (to find the app in its PID namespace). */
  initPid(): number | undefined;
  /** The lab's proxy script (./python PROXY_PY), already written. */
  proxyScript: string;
  record(node: string, effect: string, detail?: Record<string, unknown>): void;
}

/** The real ai-service app of the coordinator. */
export class RealApp {
  private readonly key = randomBytes(24).toString('hex');
  private proxy?: ChildProcess;
  private proxyPort?: number;
  readonly keyPath: string;

  constructor(private readonly o: RealAppOptions) {
    this.keyPath = join(o.secretsDir, `${o.cluster}-ai-service-admin-key`);
  }

  /** The env file the start command sources, in the tree. */
  envFile(): string {
    return join(this.o.tree, 'config', 'ai_service.env');
  }

  /** Where the machine reaches the app (the proxy on 127.0.0.1). */
  baseUrl(): string {
    return `http://127.0.0.1:${this.proxyPort ?? 0}`;
  }

  /** Writes the key and env file, starts the proxy and the app, and waits until it answers `/live`. */
  async start(timeoutMs = 120_000): Promise<void> {
    mkdirSync(this.o.secretsDir, { recursive: true, mode: 0o700 });
    writeFileSync(this.keyPath, this.key + '\n', { mode: 0o600 });
    chmodSync(this.keyPath, 0o600);
    const env: Record<string, string> = {
      ADMIN_API_KEY: this.key,
      RINGRIFT_AI_SERVICE_PORT: String(APP_PORT),
      PYTHONPATH: this.o.tree,
      XDG_RUNTIME_DIR: '/tmp',
      // The app's own setting for a server that is not to run the cluster's coordination daemons (app/main.py's
      // lifespan): without it, its P2PRecoveryDaemon (app/coordination/p2p_recovery_daemon.py) kills and restarts
      // the local orchestrator after 3 failed health checks (45-60 s apart). Seen in the lab: during a mesh collapse
      // it killed the orchestrator Lifeboat had just restarted and started one that never listened. Its own switch,
      // RINGRIFT_P2P_RECOVERY_ENABLED=0, is read into its config and never checked (2aa9f89b5). The sync routes do
      // not need the daemons (the SyncCoordinator is made on the first request).
      RINGRIFT_INFERENCE_ONLY: 'true',
    };
    writeFileSync(this.envFile(), Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
    chmodSync(this.envFile(), 0o600);
    await this.startProxy();
    await this.launch();
    await this.ready(timeoutMs);
  }

  /** Starts the app in the coordinator's namespaces (no-op while it runs). */
  async launch(): Promise<void> {
    if (this.pid() !== undefined) return;
    const prefix = this.o.prefix();
    if (!prefix) throw new Error(`${this.o.node}: its namespaces are not up; the ai-service app cannot start`);
    const cmd = `cd ${shq(this.o.tree)} && nohup sh -c ${shq(APP_START_SH)} ai-service-start ${shq(this.envFile())} venv/bin/python > logs/ai-service.log 2>&1 &`;
    await run(prefix[0]!, [...prefix.slice(1), '/bin/sh', '-c', cmd]);
  }

  /** Until `GET /live` answers 200 through the proxy; the app gone or the time up fails with its log's last lines. */
  private async ready(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    let last = '';
    let seen = false;
    while (Date.now() < deadline) {
      const pid = this.pid();
      if (pid !== undefined) seen = true;
      else if (seen || Date.now() > deadline - ms + 15_000) throw new Error(`${this.o.node}: the ai-service app exited: ${this.logTail()}`);
      try {
        const res = await fetch(`${this.baseUrl()}/live`, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${this.o.node}: the ai-service app did not answer /live in ${ms / 1000} s (${last}): ${this.logTail()}`);
  }

  private logTail(): string {
    try {
      return readFileSync(join(this.o.tree, 'logs', 'ai-service.log'), 'utf8').trim().split('\n').slice(-5).join(' | ');
    } catch {
      return 'no logs/ai-service.log';
    }
  }

  /** The app's process (the machine's numbering) in the coordinator's PID namespace, if it runs. */
  pid(): number | undefined {
    const init = this.o.initPid();
    if (!init) return undefined;
    return pidsInNamespace(init, (argv) => argv.includes(APP_PATTERN) && argv.includes('uvicorn'))[0];
  }


  private async startProxy(): Promise<void> {
    const { child, listening } = startProxy(
      { python: this.o.python, script: this.o.proxyScript, netnsPath: this.o.netnsPath(), port: APP_PORT, what: `${this.o.node}: the ai-service app's proxy` },
      (entry) => {
        // Only the path and status: the request's headers (the key) are never logged by the proxy.
        if (entry.method === 'POST' && entry.path?.split('?')[0] === '/admin/sync/trigger' && entry.status && entry.status < 300) {
          this.o.record(this.o.node, 'sync.trigger', { status: entry.status });
        }
      },
    );
    this.proxy = child;
    this.proxyPort = await listening;
  }

  /** Stops the proxy and the app (the namespace's end stops the app too; this does it first). */
  stop(): void {
    this.proxy?.kill('SIGKILL');
    const pid = this.pid();
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
