/**
 * A training node's P2P orchestrator HTTP API: `GET /status`, `GET /health`,
 * `GET /jobs`, and with `Authorization: Bearer <token>` (else 401):
 * `POST /admin/election/reset`, `POST /admin/set-leader {node_id}`.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { drain, json } from '../http-util';
import type { NodeState, TrainingMesh } from './mesh';

/** Serves one request to node `n` (its server runs only while its orchestrator does). */
export async function handleHttp(mesh: TrainingMesh, n: NodeState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  mesh.evaluate();
  const proc = n.proc;
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const route = `${req.method ?? 'GET'} ${path}`;
  const now = Date.now();
  const inMesh = mesh.inMesh(n, now);
  const alive = mesh.nodes.filter((x) => mesh.inMesh(x, now)).map((x) => x.name);
  switch (route) {
    case 'GET /status':
      return json(res, 200, {
        node_id: n.name,
        leader_id: inMesh ? mesh.leader : null,
        alive_peers: inMesh ? alive : [],
        election_state: !proc?.hearing ? 'stalled' : !inMesh ? 'joining' : mesh.leader ? 'stable' : mesh.electionBlocked ? 'stalled' : 'electing',
        voters: mesh.nodes.filter((x) => x.roles.includes('voter')).map((x) => x.name),
        role: n.roles[0],
        started_at: proc ? new Date(proc.startedAt).toISOString() : null,
      });
    case 'GET /health':
      return proc?.hearing
        ? json(res, 200, { status: 'ok', node_id: n.name })
        : json(res, 503, { status: 'unhealthy', node_id: n.name, reason: 'no heartbeats received from peers' });
    case 'GET /jobs': {
      const workers = mesh.nodes.filter((x) => alive.includes(x.name) && x.name !== mesh.leader);
      const active = inMesh && mesh.leader ? workers.map((x, i) => ({ job_id: `selfplay-${i + 1}`, node_id: x.name, type: 'selfplay', board: 'hex8' })) : [];
      return json(res, 200, { active_jobs: active });
    }
    case 'POST /admin/election/reset':
      if (!authorized(mesh, req) || mesh.hostCtl?.apiRefused(n.name)) return json(res, 401, { error: 'unauthorized' });
      await drain(req);
      mesh.leader = null;
      mesh.electionBlocked = false;
      mesh.record(n, 'election.reset');
      mesh.evaluate();
      return json(res, 200, { ok: true, election_state: 'electing' });
    case 'POST /admin/set-leader': {
      if (!authorized(mesh, req) || mesh.hostCtl?.apiRefused(n.name)) return json(res, 401, { error: 'unauthorized' });
      let body: { node_id?: unknown };
      try {
        body = JSON.parse((await drain(req)) || '{}') as { node_id?: unknown };
      } catch {
        return json(res, 400, { error: 'body must be JSON {"node_id": "..."}' });
      }
      const target = mesh.nodes.find((x) => x.name === body.node_id);
      if (!target) return json(res, 400, { error: `unknown node_id ${JSON.stringify(body.node_id)}` });
      if (!mesh.inMesh(target)) return json(res, 409, { error: `${target.name} is not alive in the mesh` });
      mesh.leader = target.name;
      mesh.electionBlocked = false;
      mesh.record(n, 'election.set-leader', { node_id: target.name });
      return json(res, 200, { ok: true, leader_id: target.name });
    }
    default:
      return json(res, 404, { error: `no route ${route}` });
  }
}

function authorized(mesh: TrainingMesh, req: IncomingMessage): boolean {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const got = Buffer.from(m[1]!.trim());
  const want = Buffer.from(mesh.token);
  return got.length === want.length && timingSafeEqual(got, want);
}
