/**
 * The HTTP transport against a real node:http server on 127.0.0.1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import { TransportError } from '../../src/activities/transport/errors';
import { httpJson, httpText, parsePrometheus } from '../../src/activities/transport/http';
import { tcpProbe } from '../../src/activities/transport/probe';

const TOKEN = 'tok-7f3a9c2e-very-secret';
let server: http.Server;
let base: string;
const seen: Array<{ method?: string; url?: string; authorization?: string; body: string }> = [];

const METRICS = `# HELP ledger_commit_index Last committed index.
# TYPE ledger_commit_index gauge
ledger_commit_index{node="n1",cluster="c-1"} 42
ledger_is_leader{node="n1"} 1
ledger_up 1 1712345678000
weird_label{msg="a \\"quoted\\" \\\\ value\\n"} +Inf
`;

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
      const json = (status: number, value: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      switch (req.url) {
        case '/echo':
          json(200, { method: req.method, received: body ? JSON.parse(body) : null, contentType: req.headers['content-type'] });
          return;
        case '/auth':
          // A careless server that echoes the credential back: it must not reach the message.
          if (req.headers.authorization !== 'Bearer right-token') {
            json(401, { error: `invalid credentials: ${req.headers.authorization ?? 'none'}` });
            return;
          }
          json(200, { ok: true });
          return;
        case '/forbidden':
          json(403, { error: 'forbidden' });
          return;
        case '/missing':
          json(404, { error: 'no such vault' });
          return;
        case '/conflict':
          json(409, { error: 'already retired' });
          return;
        case '/down':
          json(503, { error: 'leader election in progress' });
          return;
        case '/busy':
          json(429, { error: 'slow down' });
          return;
        case '/hang':
          return; // accepts, reads, never answers
        case '/stall':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"partial":'); // headers and half a body, then nothing
          return;
        case '/empty':
          res.writeHead(204);
          res.end();
          return;
        case '/html':
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<html>proxy login</html>');
          return;
        case '/metrics':
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
          res.end(METRICS);
          return;
        default:
          json(500, { error: 'unexpected path' });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Runs `fn`, asserts it throws a TransportError, returns it. */
async function failure(fn: () => Promise<unknown>): Promise<TransportError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof TransportError, `expected TransportError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

test('JSON round trip: body sent as JSON, answer parsed', async () => {
  const res = await httpJson<{ method: string; received: unknown; contentType: string }>({
    url: `${base}/echo`,
    method: 'PUT',
    body: { node: 'n2', force: true, peers: ['a', 'b'] },
    timeoutMs: 2_000,
  });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { method: 'PUT', received: { node: 'n2', force: true, peers: ['a', 'b'] }, contentType: 'application/json' });

  // POST is the default with a body; GET without.
  assert.equal((await httpJson<{ method: string }>({ url: `${base}/echo`, body: {}, timeoutMs: 2_000 })).body.method, 'POST');
  assert.equal((await httpJson<{ method: string }>({ url: `${base}/echo`, timeoutMs: 2_000 })).body.method, 'GET');
});

test('bearer token is sent as the Authorization header', async () => {
  seen.length = 0;
  const res = await httpJson<{ ok: boolean }>({ url: `${base}/auth`, bearer: 'right-token', timeoutMs: 2_000 });
  assert.deepEqual(res.body, { ok: true });
  assert.equal(seen[0]?.authorization, 'Bearer right-token');
});

test('401 -> AuthFailed, non-retryable, token nowhere in the message', async () => {
  const err = await failure(() => httpJson({ url: `${base}/auth`, bearer: TOKEN, authRef: 'env:P2P_TOKEN', timeoutMs: 2_000 }));
  assert.equal(err.type, 'AuthFailed');
  assert.equal(err.retryable, false);
  assert.match(err.message, /^GET http:\/\/127\.0\.0\.1:\d+\/auth -> 401/);
  assert.match(err.message, /check the token reference \(env:P2P_TOKEN\)/);
  // The server echoed "Bearer <token>" in its body; the excerpt is redacted.
  assert.match(err.message, /\[redacted\]/);
  assert.ok(!err.message.includes(TOKEN), err.message);
  assert.ok(!JSON.stringify(err.details).includes(TOKEN));

  // The same for a credential in a custom header (X-Admin-Key style).
  const viaHeader = await failure(() =>
    httpJson({ url: `${base}/auth`, headers: { authorization: `Bearer ${TOKEN}` }, timeoutMs: 2_000 }),
  );
  assert.equal(viaHeader.type, 'AuthFailed');
  assert.ok(!viaHeader.message.includes(TOKEN), viaHeader.message);

  const forbidden = await failure(() => httpJson({ url: `${base}/forbidden`, timeoutMs: 2_000 }));
  assert.equal(forbidden.type, 'AuthFailed');
  assert.equal(forbidden.retryable, false);
});

test('404 and 409 -> HttpClientError, non-retryable, with a body excerpt', async () => {
  const notFound = await failure(() => httpJson({ url: `${base}/missing`, method: 'DELETE', timeoutMs: 2_000 }));
  assert.equal(notFound.type, 'HttpClientError');
  assert.equal(notFound.retryable, false);
  assert.match(notFound.message, /^DELETE http:\/\/127\.0\.0\.1:\d+\/missing -> 404: \{"error":"no such vault"\}/);
  assert.equal(notFound.details?.status, 404);

  const conflict = await failure(() => httpJson({ url: `${base}/conflict`, body: {}, timeoutMs: 2_000 }));
  assert.equal(conflict.type, 'HttpClientError');
  assert.equal(conflict.retryable, false);
});

test('503 and 429 -> HttpServerError, retryable', async () => {
  const down = await failure(() => httpJson({ url: `${base}/down`, timeoutMs: 2_000 }));
  assert.equal(down.type, 'HttpServerError');
  assert.equal(down.retryable, true);
  assert.match(down.message, /-> 503: .*leader election in progress/);

  const busy = await failure(() => httpText({ url: `${base}/busy`, timeoutMs: 2_000 }));
  assert.equal(busy.type, 'HttpServerError');
  assert.equal(busy.retryable, true);
});

test('a server that accepts and never answers -> Timeout within the deadline', async () => {
  const started = Date.now();
  const err = await failure(() => httpJson({ url: `${base}/hang`, timeoutMs: 300 }));
  const elapsed = Date.now() - started;
  assert.equal(err.type, 'Timeout');
  assert.equal(err.retryable, true);
  assert.match(err.message, /within 300 ms/);
  assert.ok(elapsed >= 250 && elapsed < 1_500, `took ${elapsed} ms`);
});

test('headers then a stalled body -> Timeout too (the deadline covers the body)', async () => {
  const started = Date.now();
  const err = await failure(() => httpJson({ url: `${base}/stall`, timeoutMs: 300 }));
  assert.equal(err.type, 'Timeout');
  assert.ok(Date.now() - started < 1_500);
});

test('refused port -> Unavailable, retryable', async () => {
  // A port that was just free: bind, note, close.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  const err = await failure(() => httpJson({ url: `http://127.0.0.1:${port}/status`, timeoutMs: 2_000 }));
  assert.equal(err.type, 'Unavailable');
  assert.equal(err.retryable, true);
  assert.match(err.message, /ECONNREFUSED/);
  assert.match(err.message, /check that the service is running/);
});

test("caller's abort -> Cancelled, non-retryable, promptly", async () => {
  const controller = new AbortController();
  const started = Date.now();
  setTimeout(() => controller.abort(), 100);
  const err = await failure(() => httpJson({ url: `${base}/hang`, timeoutMs: 10_000, signal: controller.signal }));
  assert.equal(err.type, 'Cancelled');
  assert.equal(err.retryable, false);
  assert.ok(Date.now() - started < 2_000);

  // Already aborted: nothing is sent.
  seen.length = 0;
  const early = await failure(() => httpJson({ url: `${base}/echo`, timeoutMs: 1_000, signal: controller.signal }));
  assert.equal(early.type, 'Cancelled');
  assert.equal(seen.length, 0);
});

test('empty 2xx body -> null; non-JSON 2xx -> BadResponse; bad URL -> InvalidArgument', async () => {
  assert.deepEqual(await httpJson({ url: `${base}/empty`, method: 'POST', timeoutMs: 2_000 }), { status: 204, body: null });

  const html = await failure(() => httpJson({ url: `${base}/html`, timeoutMs: 2_000 }));
  assert.equal(html.type, 'BadResponse');
  assert.equal(html.retryable, false);

  const bad = await failure(() => httpJson({ url: 'not a url with secret-ish stuff', timeoutMs: 1_000 }));
  assert.equal(bad.type, 'InvalidArgument');
  assert.ok(!bad.message.includes('secret-ish'));

  // user:password@ never shows in messages.
  const creds = await failure(() => httpJson({ url: `http://ops:pa55word-xyz@127.0.0.1:${new URL(base).port}/missing`, timeoutMs: 2_000 }));
  assert.equal(creds.type, 'InvalidArgument');
  assert.equal(creds.retryable, false);
  assert.ok(!creds.message.includes('pa55word-xyz'), creds.message);
});

test('metrics text fetched and parsed', async () => {
  const res = await httpText({ url: `${base}/metrics`, timeoutMs: 2_000 });
  assert.equal(res.status, 200);
  const samples = parsePrometheus(res.body);
  assert.deepEqual(samples, [
    { name: 'ledger_commit_index', labels: { node: 'n1', cluster: 'c-1' }, value: 42 },
    { name: 'ledger_is_leader', labels: { node: 'n1' }, value: 1 },
    { name: 'ledger_up', labels: {}, value: 1 },
    { name: 'weird_label', labels: { msg: 'a "quoted" \\ value\n' }, value: Infinity },
  ]);
  // Garbage lines are skipped, not fatal.
  assert.deepEqual(parsePrometheus('not a metric line {\n{bad} 1\nok_metric 2\n'), [
    { name: 'ok_metric', labels: {}, value: 2 },
  ]);
});

// ------------------------------------------------- tcpProbe (same loopback)

test('tcpProbe: open port reports latency; a freed port is refused, as a result not an error', async () => {
  const port = Number(new URL(base).port);
  const open = await tcpProbe('127.0.0.1', port, { timeoutMs: 2_000 });
  assert.equal(open.open, true);
  assert.equal(typeof open.latencyMs, 'number');
  assert.equal(open.error, undefined);

  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const freed = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  assert.deepEqual(await tcpProbe('127.0.0.1', freed, { timeoutMs: 2_000 }), { open: false, error: 'refused' });
});

test('tcpProbe: a connect that is never answered is a timeout at the deadline; abort is Cancelled', async (t) => {
  // A listener with backlog 0 that never accept()s: once its queue is full,
  // Linux drops further SYNs, so connect() hangs as with a silent host.
  // Node always accepts, so a tiny python3 process holds the socket.
  const holder = spawn('python3', ['-c', BACKLOG_HOLDER], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => holder.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    holder.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    holder.once('error', reject);
  });
  const fillers: net.Socket[] = [];
  t.after(() => fillers.forEach((s) => s.destroy()));
  for (let i = 0; i < 8; i++) {
    const s = net.connect(port, '127.0.0.1');
    fillers.push(s);
    const connected = await new Promise<boolean>((resolve) => {
      s.once('connect', () => resolve(true));
      s.once('error', () => resolve(false));
      setTimeout(() => resolve(false), 200);
    });
    if (!connected) break; // the queue is full now
  }

  const started = Date.now();
  assert.deepEqual(await tcpProbe('127.0.0.1', port, { timeoutMs: 300 }), { open: false, error: 'timeout' });
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 250 && elapsed < 1_500, `took ${elapsed} ms`);

  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const cancelled = await failure(() => tcpProbe('127.0.0.1', port, { timeoutMs: 5_000, signal: controller.signal }));
  assert.equal(cancelled.type, 'Cancelled');
  assert.equal(cancelled.retryable, false);

  const bad = await failure(() => tcpProbe('127.0.0.1', 70_000, { timeoutMs: 1_000 }));
  assert.equal(bad.type, 'InvalidArgument');
});

const BACKLOG_HOLDER = [
  'import socket, sys',
  's = socket.socket()',
  "s.bind(('127.0.0.1', 0))",
  's.listen(0)',
  'print(s.getsockname()[1], flush=True)',
  'sys.stdin.read()',
].join('\n');
