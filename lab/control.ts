/**
 * The lab's control API: plain HTTP on 127.0.0.1, used by the shims, the
 * `lab` CLI and tests.
 *
 * | route | body / query | answer |
 * |---|---|---|
 * | `POST /shim` | `{cluster, node, tool, argv, env, cwd}` | `{stdout, stderr, exitCode}` or `{passthrough: {argv?}}` |
 * | `GET /health` | | `ClusterHealth[]` |
 * | `POST /break` | `{fault}` | `{ok: true, fault}`; 400 naming the known faults |
 * | `GET /effects` | `?cluster=&node=&effect=` | `Effect[]` |
 * | `POST /effects/clear` | | `{ok: true}` |
 * | `POST /shutdown` | | 202 `{ok: true}`, then the lab stops |
 *
 * @module
 */
import { rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { EffectFilter, EffectLog } from './effects';
import type { ClusterHealth } from './family';

/** A shim invocation as the shim client sends it. */
export interface ShimRequest {
  cluster: string;
  node: string;
  tool: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
}

/** What the control API answers to a shim. */
export interface ShimAnswer {
  stdout?: string;
  stderr?: string;
  exitCode?: number;
  passthrough?: { argv?: string[] };
}

/** An error whose message is safe and useful to return to the caller with this HTTP status. */
export class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ControlHandlers {
  shim(req: ShimRequest): Promise<ShimAnswer>;
  health(): Promise<ClusterHealth[]>;
  breakFault(fault: string): Promise<void>;
  effects: EffectLog;
  /** Called after the 202 answer to POST /shutdown has been sent. */
  shutdown(): void;
}

export interface ControlServer {
  url: string;
  port: number;
  /** `unix:<path>` when the API also listens on a unix socket. */
  socketUrl?: string;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

/**
 * Start the control API.
 *
 * @param port 0 for an ephemeral port.
 */
export async function startControl(h: ControlHandlers, port = 0, socketPath?: string): Promise<ControlServer> {
  const server: Server = createServer((req, res) => {
    handle(h, req, res).catch((err: unknown) => {
      const status = err instanceof ControlError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      send(res, status, { error: message });
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  // The same API on a unix socket, for shims inside a network namespace that reaches no loopback of ours.
  let unix: Server | undefined;
  if (socketPath) {
    rmSync(socketPath, { force: true });
    const u = createServer((req, res) => {
      handle(h, req, res).catch((err: unknown) => send(res, err instanceof ControlError ? err.status : 500, { error: err instanceof Error ? err.message : String(err) }));
    });
    await new Promise<void>((resolve, reject) => {
      u.once('error', reject);
      u.listen(socketPath, () => {
        u.off('error', reject);
        resolve();
      });
    });
    unix = u;
  }
  const closeOne = (s: Server) =>
    new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    ...(socketPath ? { socketUrl: `unix:${socketPath}` } : {}),
    close: async () => {
      await Promise.all([closeOne(server), ...(unix ? [closeOne(unix)] : [])]);
      if (socketPath) rmSync(socketPath, { force: true });
    },
  };
}

async function handle(h: ControlHandlers, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://lab');
  const route = `${req.method ?? 'GET'} ${url.pathname}`;
  switch (route) {
    case 'POST /shim': {
      const body = (await readJson(req)) as Partial<ShimRequest>;
      if (typeof body.cluster !== 'string' || typeof body.node !== 'string' || typeof body.tool !== 'string') {
        throw new ControlError(400, 'shim call needs cluster, node and tool (set LAB_CLUSTER and LAB_NODE)');
      }
      const answer = await h.shim({
        cluster: body.cluster,
        node: body.node,
        tool: body.tool,
        argv: Array.isArray(body.argv) ? body.argv.map(String) : [],
        env: body.env && typeof body.env === 'object' ? body.env : {},
        cwd: typeof body.cwd === 'string' ? body.cwd : '',
      });
      return send(res, 200, answer);
    }
    case 'GET /health':
      return send(res, 200, await h.health());
    case 'POST /break': {
      const body = (await readJson(req)) as { fault?: unknown };
      if (typeof body.fault !== 'string' || !body.fault) throw new ControlError(400, 'POST /break needs {"fault": "<name>"}');
      await h.breakFault(body.fault);
      return send(res, 200, { ok: true, fault: body.fault });
    }
    case 'GET /effects': {
      const filter: EffectFilter = {};
      for (const k of ['cluster', 'node', 'effect'] as const) {
        const v = url.searchParams.get(k);
        if (v) filter[k] = v;
      }
      return send(res, 200, h.effects.list(filter));
    }
    case 'POST /effects/clear':
      h.effects.clear();
      return send(res, 200, { ok: true });
    case 'POST /shutdown':
      res.once('finish', () => setImmediate(() => h.shutdown()));
      return send(res, 202, { ok: true });
    default:
      throw new ControlError(404, `no route ${route}; see lab/control.ts for the API`);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new ControlError(413, 'request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ControlError(400, 'request body is not JSON');
  }
}
