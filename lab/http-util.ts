/**
 * The small HTTP helpers every simulated service of the lab shares: a JSON
 * answer and a bounded request body read.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Answers `body` as JSON with `status` (once; a second answer is ignored). */
export function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

/** Reads a request body as text, at most 64 KiB (the rest is dropped). */
export async function drain(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > 64 * 1024) break;
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}
