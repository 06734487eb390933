/**
 * The codec server: lets the Temporal Web UI (and `temporal workflow show
 * --codec-endpoint`) show encrypted recoveries in clear, without the Temporal
 * server ever holding the key. It speaks Temporal's remote codec protocol:
 *
 * - `POST /decode` and `POST /encode`, body and answer
 *   `{"payloads":[{"metadata":{"encoding":"<base64>"},"data":"<base64>"}]}`
 *   (the proto JSON form of payloads; the UI also sends `X-Namespace`);
 * - CORS for the Web UI's origin(s) (preflight `OPTIONS`, credentials allowed);
 * - optional `Authorization: Bearer <token>` (token from a secret reference),
 *   compared in constant time; the UI forwards its user's access token when
 *   `TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true`, the CLI sends `--codec-auth`.
 *
 * Bodies are bounded (4 MiB: Temporal's own payload size limit is 2 MiB);
 * errors answer JSON `{"error": "..."}` with 400/401/403/404/405/413, never
 * key material.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';

/** Largest request body accepted. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Origins allowed by CORS (the Web UI's, e.g. `http://127.0.0.1:8080`); `*` allows any (no credentials then). */
  corsOrigins: string[];
  /** Required bearer token; absent = no authentication (bind to loopback then). */
  authToken?: string;
  /** Called on every request (method, path, status), for the log. */
  log?: (line: string) => void;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

/** Converts between the proto JSON form (base64 strings) and SDK payloads. */
export function fromJson(p: JsonPayload): Payload {
  if (typeof p !== 'object' || p === null) throw new BadRequest('each payload must be an object with "metadata" and "data"');
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) {
    if (typeof v !== 'string') throw new BadRequest(`payload metadata "${k}" must be a base64 string`);
    metadata[k] = new Uint8Array(Buffer.from(v, 'base64'));
  }
  if (p.data !== undefined && typeof p.data !== 'string') throw new BadRequest('payload "data" must be a base64 string');
  return { metadata, data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')) };
}

export function toJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

class BadRequest extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/**
 * Creates (does not start) the codec server.
 *
 * @example
 * ```ts
 * const server = createCodecServer({ codec, corsOrigins: ['http://127.0.0.1:8080'] });
 * server.listen(8888, '127.0.0.1');
 * ```
 */
export function createCodecServer(opts: CodecServerOptions): Server {
  const token = opts.authToken ? Buffer.from(`Bearer ${opts.authToken}`) : undefined;
  return createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      const status = err instanceof BadRequest ? err.status : 500;
      // A decryption failure (unknown key id, tampered payload) is the caller's data, not a server bug: 400.
      const s = status === 500 && (err as Error)?.name === 'CodecError' ? 400 : status;
      send(res, s, { error: err instanceof Error ? err.message : String(err) });
      opts.log?.(`${req.method} ${req.url} ${s}`);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    cors(req, res);
    const url = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '');
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    if (url !== '/encode' && url !== '/decode') throw new BadRequest(`no such endpoint ${url || '/'}; use POST /encode or POST /decode`, 404);
    if (req.method !== 'POST') throw new BadRequest(`${req.method} ${url}: use POST`, 405);
    if (token) {
      const given = Buffer.from(req.headers.authorization ?? '');
      if (!given.length) throw new BadRequest('missing Authorization: Bearer <token>', 401);
      if (given.length !== token.length || !timingSafeEqual(given, token)) throw new BadRequest('wrong bearer token', 403);
    }
    const body = await readBody(req);
    let parsed: { payloads?: unknown };
    try {
      parsed = JSON.parse(body) as { payloads?: unknown };
    } catch {
      throw new BadRequest('the body is not JSON; send {"payloads": [...]}');
    }
    if (!parsed || !Array.isArray(parsed.payloads)) throw new BadRequest('the body has no "payloads" array; send {"payloads": [...]}');
    const payloads = (parsed.payloads as JsonPayload[]).map(fromJson);
    const out = url === '/encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
    send(res, 200, { payloads: out.map(toJson) });
    opts.log?.(`${req.method} ${url} 200 (${payloads.length} payloads)`);
  }

  function cors(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    if (!origin) return;
    if (opts.corsOrigins.includes('*')) {
      res.setHeader('Access-Control-Allow-Origin', '*');
    } else if (opts.corsOrigins.includes(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    } else {
      return;
    }
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
    res.setHeader('Access-Control-Max-Age', '600');
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        // Keep draining (so the 413 reaches the caller), but stop buffering.
        if (!tooLarge) reject(new BadRequest(`request body over ${MAX_BODY_BYTES} bytes`, 413));
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => !tooLarge && resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}
