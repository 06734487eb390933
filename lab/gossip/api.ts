/**
 * A gossip node's HTTP API: `GET /debug/peers`, `GET /metrics` (Prometheus
 * text), `GET /health`, and with `Authorization: Bearer <token>`: `POST
 * /admin/leave`, `POST /admin/join {seeds}`, `POST /admin/rebalance`, `POST
 * /admin/cache/clear`, `POST /admin/sync/enable`.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { drain, json } from '../http-util';
import type { GNode, GossipCluster } from './cluster';

function metrics(sim: GossipCluster, n: GNode): string {
  const p = sim.peersOf(n);
  const groupsConverge = sim.split !== 'split-brain';
  const lines = [
    ['plumtree_eager_peers', 'gauge', 'Peers in the eager push set', p.eager.length],
    ['plumtree_lazy_peers', 'gauge', 'Peers in the lazy push set', p.lazy.length],
    ['plumtree_total_peers', 'gauge', 'Known live peers', p.eager.length + p.lazy.length],
    ['plumtree_members', 'gauge', 'Members in this node\'s view', p.members.length],
    ['plumtree_graft_failed_total', 'counter', 'GRAFT requests that failed', n.graftFailed],
    ['plumtree_messages_partitioned_total', 'counter', 'Messages dropped across a partition', n.partitioned],
    ['plumtree_messages_delivered_total', 'counter', 'Messages delivered', n.delivered],
    ['plumtree_malformed_messages_total', 'counter', 'Malformed messages read from the cache', n.malformed],
    ['plumtree_sync_enabled', 'gauge', 'Anti-entropy sync enabled', n.syncEnabled ? 1 : 0],
    ['plumtree_sync_pending', 'gauge', 'Divergent state awaiting anti-entropy', groupsConverge ? 0 : 1],
    ['plumtree_sync_converged', 'gauge', 'State converged with every member', groupsConverge ? 1 : 0],
    ['plumtree_state_version', 'gauge', 'Version of the replicated state', n.stateVersion],
  ] as const;
  return lines.map(([name, type, help, v]) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name}{node="${n.name}"} ${v}\n`).join('');
}

/** Serves one request to node `n` (its server runs only while its process does). */
export async function handleHttp(sim: GossipCluster, n: GNode, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const route = `${req.method ?? 'GET'} ${path}`;
  if (route.startsWith('POST /admin/')) {
    if (!authorized(sim, req) || sim.hostCtl?.apiRefused(n.name)) return json(res, 401, { error: 'unauthorized' });
  }
  switch (route) {
    case 'GET /debug/peers': {
      const p = sim.peersOf(n);
      return json(res, 200, { node: n.name, peers: { eager: p.eager, lazy: p.lazy }, members: p.members });
    }
    case 'GET /metrics': {
      const body = metrics(sim, n);
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    case 'GET /health': {
      const p = sim.peersOf(n);
      const ok = p.eager.length > 0 && !sim.cacheCorrupt(n);
      return json(res, ok ? 200 : 503, { status: ok ? 'ok' : 'degraded', node: n.name, eager_peers: p.eager.length });
    }
    case 'POST /admin/leave':
      await drain(req);
      if (!n.left) {
        n.left = true;
        n.isolated = false; // leaving drops the stale network state
        sim.record(n, 'gossip.leave');
      }
      return json(res, 200, { ok: true, node: n.name, members: [] });
    case 'POST /admin/join': {
      let body: { seeds?: unknown };
      try {
        body = JSON.parse((await drain(req)) || '{}') as { seeds?: unknown };
      } catch {
        return json(res, 400, { error: 'body must be JSON {"seeds": ["host:port", ...]}' });
      }
      const seeds = Array.isArray(body.seeds) ? body.seeds.map(String) : [];
      const reachable = sim.nodes.filter(
        (s) => s !== n && s.proc && s.proc.seed && !s.left && seeds.some((a) => a.endsWith(`:${s.seedPort}`) || a === s.name),
      );
      if (n.isolated || reachable.length === 0) return json(res, 503, { error: 'no seed reachable', seeds });
      if (n.left) {
        n.left = false;
        sim.record(n, 'gossip.join', { via: reachable.map((s) => s.name) });
      }
      return json(res, 200, { ok: true, node: n.name, ...sim.peersOf(n) });
    }
    case 'POST /admin/rebalance':
      await drain(req);
      if (sim.split === 'partition' && n.group !== null && !n.rebalanced) {
        n.rebalanced = true;
        sim.record(n, 'gossip.rebalance');
        if (sim.nodes.every((x) => x.rebalanced || !x.proc)) sim.heal();
      }
      return json(res, 200, { ok: true, node: n.name, ...sim.peersOf(n) });
    case 'POST /admin/cache/clear':
      await drain(req);
      if (sim.cacheCorrupt(n)) {
        writeFileSync(sim.cachePath(n), `plumtree-cache v1 ${n.name}\n`);
        sim.record(n, 'gossip.cache-clear');
      }
      return json(res, 200, { ok: true, node: n.name });
    case 'POST /admin/sync/enable':
      await drain(req);
      if (!n.syncEnabled) {
        n.syncEnabled = true;
        sim.record(n, 'gossip.sync-enable');
        if (sim.split === 'split-brain') {
          const groups = new Set(sim.nodes.filter((x) => x.proc).map((x) => x.group));
          const synced = new Set(sim.nodes.filter((x) => x.proc && x.syncEnabled).map((x) => x.group));
          if ([...groups].every((g) => synced.has(g))) sim.heal();
        }
      }
      return json(res, 200, { ok: true, node: n.name, sync: 'enabled' });
    default:
      return json(res, 404, { error: `no route ${route}` });
  }
}

function authorized(sim: GossipCluster, req: IncomingMessage): boolean {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const got = Buffer.from(m[1]!.trim());
  const want = Buffer.from(sim.token);
  return got.length === want.length && timingSafeEqual(got, want);
}
