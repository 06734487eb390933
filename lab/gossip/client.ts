/**
 * The family's own HTTP client for its nodes' control API (the lab's faults
 * and health read the nodes as Lifeboat does, whatever runs them).
 *
 * @module
 */
import { request } from 'node:http';

export interface PeersAnswer {
  node: string;
  peers: { eager: string[]; lazy: string[] };
  members: string[];
  left: boolean;
}

export interface SyncAnswer {
  enabled: boolean;
  rootHash: string;
  messages: number;
}

/** One HTTP call to 127.0.0.1:`port`; `undefined` when the node does not answer. */
export function call(port: number, method: 'GET' | 'POST', path: string, body?: unknown, token?: string, timeoutMs = 3000): Promise<{ status: number; body: unknown } | undefined> {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | number> = {};
    if (data) Object.assign(headers, { 'content-type': 'application/json', 'content-length': data.length });
    if (token) headers.authorization = `Bearer ${token}`;
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* text */
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', () => resolve(undefined));
    });
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end(data);
  });
}

export async function peersOf(port: number): Promise<PeersAnswer | undefined> {
  const r = await call(port, 'GET', '/debug/peers');
  return r?.status === 200 ? (r.body as PeersAnswer) : undefined;
}

export async function syncOf(port: number): Promise<SyncAnswer | undefined> {
  const r = await call(port, 'GET', '/debug/sync');
  return r?.status === 200 ? (r.body as SyncAnswer) : undefined;
}

export async function messagesOf(port: number): Promise<string[] | undefined> {
  const r = await call(port, 'GET', '/app/messages');
  return r?.status === 200 ? (r.body as { messages: string[] }).messages : undefined;
}

export async function broadcast(port: number, token: string, text: string): Promise<void> {
  const r = await call(port, 'POST', '/app/broadcast', { text }, token);
  if (r?.status !== 200) throw new Error(`lab gossip: broadcast on 127.0.0.1:${port} failed (${r ? `${r.status} ${JSON.stringify(r.body)}` : 'no answer'})`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `pred` every 100 ms until it holds; throws with `what` after `timeoutMs`. */
export async function until(what: string, pred: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) throw new Error(`lab gossip: ${what} did not happen within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(100);
  }
}
