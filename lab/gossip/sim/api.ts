/**
 * A simulated node's HTTP API: Lifeboat's control API as plumtree-control
 * serves it (docs/gossip-contract.md), with the same answers, statuses and
 * refusals, plus the lab application's `/app/broadcast` and `/app/messages`.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { drain, json } from '../../http-util';
import type { SimModel, SimNode } from './model';

/** What the API needs besides the model. */
export interface ApiContext {
  model: SimModel;
  token: string;
  /** Whether the host's `refuse-api` fault is on (the node then refuses the token). */
  apiRefused(node: string): boolean;
  onAdmin(node: string, action: string, changed: boolean): void;
}

/** memberlist-plumtree's `HealthReport` rules (health.rs) over the node's peers. */
function health(model: SimModel, n: SimNode): { status: string; message: string; total: number; eager: number; lazy: number } {
  const p = model.peersOf(n);
  const total = p.eager.length + p.lazy.length;
  const [status, message] =
    total === 0 ? ['unhealthy', 'No peers connected'] : p.eager.length === 0 ? ['degraded', 'No eager peers - tree may not be formed'] : total < 3 ? ['degraded', `Low peer count: ${total} peers`] : ['healthy', 'Operating normally'];
  return { status, message, total, eager: p.eager.length, lazy: p.lazy.length };
}

function metrics(model: SimModel, n: SimNode): string {
  const p = model.peersOf(n);
  const lines: Array<[string, string, string, number]> = [
    ['plumtree_eager_peers', 'gauge', 'Current number of eager peers', p.eager.length],
    ['plumtree_lazy_peers', 'gauge', 'Current number of lazy peers', p.lazy.length],
    ['plumtree_peer_count', 'gauge', 'Current total number of peers', p.eager.length + p.lazy.length],
    ['plumtree_cache_size', 'gauge', 'Current number of messages in cache', n.messages.size],
    ['plumtree_messages_delivered_total', 'counter', 'Total number of messages delivered to application', n.delivered],
  ];
  if (n.graftFailed > 0) lines.push(['plumtree_graft_failed_total', 'counter', 'Total number of failed Graft requests', n.graftFailed]);
  return lines.map(([name, type, help, v]) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${v}\n`).join('');
}

function authorized(ctx: ApiContext, req: IncomingMessage): boolean {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const got = Buffer.from(m[1]!.trim());
  const want = Buffer.from(ctx.token);
  return got.length === want.length && timingSafeEqual(got, want);
}

function parse(text: string): { ok: true; value: Record<string, unknown> } | { ok: false; error: string } {
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return { ok: true, value: v as Record<string, unknown> };
    return { ok: false, error: 'not an object' };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

const IP_PORT = /^(\d{1,3}\.){3}\d{1,3}:\d{1,5}$/;

/** Serves one request to node `n` (its server runs only while its process does). */
export async function handleHttp(ctx: ApiContext, n: SimNode, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { model } = ctx;
  const name = n.spec.name;
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const route = `${req.method ?? 'GET'} ${path}`;
  if (route.startsWith('POST /admin/') || route === 'POST /app/broadcast') {
    const body = await drain(req);
    if (!authorized(ctx, req) || ctx.apiRefused(name)) return json(res, 401, { error: 'admin calls need `Authorization: Bearer <token>` with the node\'s admin token' });
    return admin(ctx, n, route, body, res);
  }
  switch (route) {
    case 'GET /debug/peers': {
      const members = model.membersOf(n);
      return json(res, 200, {
        node: name,
        peers: model.peersOf(n),
        members,
        memberAddresses: members.map((m) => ({ name: m, address: model.get(m).spec.addr })),
        left: n.left,
      });
    }
    case 'GET /health': {
      const h = health(model, n);
      return json(res, h.status === 'unhealthy' ? 503 : 200, {
        status: h.status,
        message: h.message,
        peers: { total: h.total, eager: h.eager, lazy: h.lazy, targetEager: 3 },
        delivery: { pendingGrafts: 0, graftFailureRate: 0, successfulGrafts: 0, failedGrafts: 0 },
        cache: { cachedMessages: n.messages.size, maxCapacity: 10000 },
        shutdown: false,
      });
    }
    case 'GET /metrics': {
      const body = metrics(model, n);
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    case 'GET /debug/cache':
      return json(res, 200, { entries: n.messages.size, capacity: 10000, ttlSeconds: 30 });
    case 'GET /debug/sync':
      return json(res, 200, { enabled: model.sync, rootHash: model.rootHash(n), messages: n.messages.size, storedMessages: n.messages.size });
    case 'GET /app/messages':
      return json(res, 200, { messages: [...new Set(n.messages.values())].sort() });
    default:
      return json(res, 404, { error: `no route ${path}; the control API serves /debug/peers, /health, /metrics, /debug/cache, /debug/sync and POST /admin/{leave,join,rebalance}` });
  }
}

function admin(ctx: ApiContext, n: SimNode, route: string, body: string, res: ServerResponse): void {
  const { model } = ctx;
  const name = n.spec.name;
  switch (route) {
    case 'POST /admin/leave': {
      const b = body.trim() ? parse(body) : { ok: true as const, value: {} };
      if (!b.ok) return json(res, 400, { error: `the body must be JSON {"timeoutMs": 5000} (${b.error})` });
      const ms = b.value.timeoutMs ?? 5000;
      if (typeof ms !== 'number' || ms < 1 || ms > 60_000) return json(res, 400, { error: `timeoutMs must be between 1 and 60000 (got ${JSON.stringify(ms)})` });
      const changed = model.leave(n);
      ctx.onAdmin(name, 'leave', changed);
      return json(res, 200, { node: name, left: true, alreadyLeft: !changed });
    }
    case 'POST /admin/join': {
      const b = parse(body);
      const shape = '{"seeds": ["10.0.0.1:7946", ...]}';
      if (!b.ok || !Array.isArray(b.value.seeds)) return json(res, 400, { error: `the body must be JSON ${shape} (${b.ok ? 'missing field `seeds`' : b.error})` });
      const seeds = b.value.seeds.map(String);
      if (seeds.length === 0) return json(res, 400, { error: `seeds is empty: give at least one seed as ip:port, ${shape}` });
      const bad = seeds.find((s) => !IP_PORT.test(s.trim()));
      if (bad !== undefined) return json(res, 400, { error: `seed ${JSON.stringify(bad)} is not ip:port (memberlist addresses are resolved IPs, e.g. 10.0.0.1:7946)` });
      if (n.left) return json(res, 409, { error: `${name} has left the cluster and memberlist does not rejoin after a leave: restart its process to join again` });
      const r = model.join(n, seeds.map((s) => s.trim()));
      if (r.joined.length === 0) {
        return json(res, 502, { error: `${name} could not join: no seed took the join: ${r.failed.join('; ')}; check that the seeds run and that their memberlist port is reachable from ${name}` });
      }
      ctx.onAdmin(name, 'join', true);
      return json(res, 200, { joined: r.joined, failed: r.failed, members: model.membersOf(n).length });
    }
    case 'POST /admin/rebalance': {
      const p = model.peersOf(n);
      const counts = { eager: p.eager.length, lazy: p.lazy.length };
      ctx.onAdmin(name, 'rebalance', false);
      return json(res, 200, { node: name, before: counts, after: counts });
    }
    case 'POST /admin/cache/clear':
      return json(res, 501, { error: 'memberlist-plumtree 0.1.6 has no clear_cache(): the message cache is in memory and a restart of the node clears it' });
    case 'POST /admin/sync/enable':
      return json(res, 501, {
        error:
          'anti-entropy sync is configuration in memberlist-plumtree 0.1.6 (PlumtreeConfig::with_sync(SyncConfig::enabled())), not a runtime call: enable it in the application and restart; GET /debug/sync says whether it runs',
      });
    case 'POST /app/broadcast': {
      const b = parse(body);
      if (!b.ok || typeof b.value.text !== 'string') return json(res, 400, { error: 'the body must be JSON {"text": "..."}' });
      const id = model.broadcast(n, b.value.text);
      return json(res, 200, { id });
    }
    default:
      return json(res, 404, { error: `no route ${route.slice(5)}; the control API serves /debug/peers, /health, /metrics, /debug/cache, /debug/sync and POST /admin/{leave,join,rebalance}` });
  }
}
