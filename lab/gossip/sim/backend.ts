/**
 * The simulation as a {@link GossipBackend}: each node's process is an HTTP
 * server on 127.0.0.1 (the control API, ./api) and a TCP listener on its
 * memberlist port (what the runbook's `nc -zv seed 7946` reaches), up only
 * while the process runs; the network is the model's flags (./model).
 *
 * @module
 */
import { restartablePort } from '../../ports';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { json } from '../../http-util';
import type { AdminListener, GossipBackend, GossipProcessInfo } from '../backend';
import { cacheDirOf, type GossipNodeSpec } from '../spec';
import { handleHttp } from './api';
import { SimModel, type SimNode } from './model';

interface Proc {
  server: Server;
  tcp: TcpServer;
  sockets: Set<Socket>;
}

export interface SimBackendOptions {
  /** First memberlist port (node i gets base + i - 1); 0: ephemeral, kept across restarts. */
  memberlistBasePort?: number;
  /** Anti-entropy configured on every node (default true, as the lab's real nodes). */
  sync?: boolean;
  /** Model tick; default 100 ms. */
  tickMs?: number;
  apiRefused?: (node: string) => boolean;
  onAdmin: AdminListener;
}

export class SimBackend implements GossipBackend {
  readonly kind = 'sim' as const;
  readonly deadTimeMs = 0;
  private model?: SimModel;
  private readonly procs = new Map<string, Proc>();
  private tick?: NodeJS.Timeout;
  private token = '';
  private readonly ports = new Map<string, number>();

  constructor(private readonly opts: SimBackendOptions) {}

  private m(): SimModel {
    if (!this.model) throw new Error('lab gossip: the simulation is not prepared');
    return this.model;
  }

  async prepare(nodes: GossipNodeSpec[], tokenFile: string): Promise<void> {
    this.token = readFileSync(tokenFile, 'utf8').trim();
    for (const [i, n] of nodes.entries()) {
      const port = this.opts.memberlistBasePort ? this.opts.memberlistBasePort + i : await restartablePort();
      this.ports.set(n.name, port);
      n.addr = `127.0.0.1:${port}`;
    }
    this.model = new SimModel(nodes, this.opts.sync ?? true);
    this.tick = setInterval(() => this.model?.tick(), this.opts.tickMs ?? 100);
    this.tick.unref();
  }

  running(node: string): boolean {
    return this.m().get(node).running;
  }

  async start(node: string): Promise<void> {
    const model = this.m();
    const n = model.get(node);
    if (n.running) return;
    try {
      model.load(n);
    } catch (err) {
      n.exited = 'exit 3';
      throw err;
    }
    const ctx = { model, token: this.token, apiRefused: (x: string) => this.opts.apiRefused?.(x) ?? false, onAdmin: this.opts.onAdmin };
    const server = createServer((req, res) => {
      handleHttp(ctx, n, req, res).catch((err: unknown) => json(res, 500, { error: (err as Error).message }));
    });
    server.keepAliveTimeout = 500;
    await listen(server, n.spec.httpPort);
    n.spec.httpPort = (server.address() as { port: number }).port;
    const sockets = new Set<Socket>();
    const tcp = createTcpServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      s.end();
    });
    try {
      await listen(tcp, this.ports.get(node) ?? 0);
    } catch (err) {
      await new Promise<void>((r) => server.close(() => r()));
      throw err;
    }
    this.procs.set(node, { server, tcp, sockets });
    model.started(n);
  }

  async stop(node: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const model = this.m();
    const n = model.get(node);
    const proc = this.procs.get(node);
    if (!proc || !n.running) return;
    if (signal === 'SIGTERM') model.leave(n);
    this.procs.delete(node);
    model.stopped(n, signal === 'SIGKILL' ? 'killed by SIGKILL' : 'exit 0');
    for (const s of proc.sockets) s.destroy();
    await Promise.all([
      new Promise<void>((r) => {
        proc.server.close(() => r());
        proc.server.closeAllConnections();
      }),
      new Promise<void>((r) => proc.tcp.close(() => r())),
    ]);
  }

  describe(node: string): GossipProcessInfo {
    const n = this.m().get(node);
    return { pid: n.running ? n.pid : undefined, since: n.since, exited: n.exited, log: [] };
  }

  async cut(node: string): Promise<void> {
    this.m().net.cut.add(node);
  }

  async split(groups: string[][]): Promise<void> {
    groups.forEach((g, i) => g.forEach((n) => this.m().net.group.set(n, i)));
  }

  async heal(): Promise<void> {
    this.m().net.cut.clear();
    this.m().net.group.clear();
  }

  isCut(node: string): boolean {
    const net = this.m().net;
    return net.cut.has(node);
  }

  inNetwork(_node: string, argv: string[]): string[] {
    return argv;
  }

  corruptStore(node: string): void {
    const n: SimNode = this.m().get(node);
    const dir = cacheDirOf(n.spec);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'store.db');
    const rest = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
    writeFileSync(file, Buffer.concat([Buffer.from('\u0000\u0001\u00ff corrupted page\n'), rest]));
  }

  /** The simulated nodes, for the simulation-only tests. */
  get state(): SimModel {
    return this.m();
  }

  async shutdown(): Promise<void> {
    if (this.tick) clearInterval(this.tick);
    if (this.model) await Promise.all(this.model.nodes.map((n) => this.stop(n.spec.name, 'SIGKILL')));
  }
}

function listen(server: Server | TcpServer, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

