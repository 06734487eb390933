/**
 * A training node's P2P orchestrator HTTP API, simulated as the real one
 * answers (RingRift 2aa9f89b5, scripts/p2p/routes.py; the fields Lifeboat
 * reads, see src/activities/training-cluster/wire.ts):
 * `GET /status` (`role`, `is_leader`, `leader_id`, `effective_leader_id`,
 * `leaders_reported`, `voter_node_ids`, `voters_alive`, `voter_quorum_ok`,
 * the integer `alive_peers`, the `peers` dict without the node itself, the
 * integer `active_jobs`), `GET /health` (always 200, `healthy: bool`),
 * `GET /api/jobs` (`{success, jobs, total}`), and with `Authorization:
 * Bearer <token>` (every POST; 401 `{"error": "unauthorized"}` otherwise):
 * `POST /election/reset`, `POST /election/force_leader {"leader_id"}`,
 * `POST /admin/unretire?node_id=`.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { drain, json } from '../http-util';
import { FORCED_LEAD_MS, type NodeState, type TrainingMesh } from './mesh';

/** Serves one request to node `n` (its server runs only while its orchestrator does). */
export async function handleHttp(mesh: TrainingMesh, n: NodeState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  mesh.evaluate();
  const proc = n.proc;
  const url = new URL(req.url ?? '/', 'http://x');
  const route = `${req.method ?? 'GET'} ${url.pathname}`;
  const now = Date.now();
  const inMesh = mesh.inMesh(n, now);
  const alive = mesh.nodes.filter((x) => mesh.inMesh(x, now) && !mesh.retired.has(x.name));
  // Every non-GET route wants the cluster token, as the real auth middleware does.
  if (req.method !== 'GET' && req.method !== 'HEAD' && (!authorized(mesh, req) || mesh.hostCtl?.apiRefused(n.name))) {
    await drain(req);
    return json(res, 401, { error: 'unauthorized' });
  }
  const leaderView = inMesh ? (mesh.leader ?? mesh.staleLeader) : null;
  const jobs = inMesh && mesh.leader ? mesh.nodes.filter((x) => alive.includes(x) && x.name !== mesh.leader).map((x, i) => ({ job_id: `selfplay-${i + 1}`, node_id: x.name, job_type: 'selfplay', status: 'running' })) : [];
  switch (route) {
    case 'GET /status': {
      const isLeader = inMesh && mesh.leader === n.name;
      const voters = mesh.nodes.filter((x) => x.roles.includes('voter'));
      const votersAlive = voters.filter((x) => alive.includes(x)).length;
      const peers: Record<string, unknown> = {};
      for (const x of mesh.nodes) {
        if (x === n) continue;
        const up = inMesh && alive.includes(x);
        if (!up && url.searchParams.get('alive_only') !== 'false') continue;
        peers[x.name] = { node_id: x.name, is_alive: up, retired: mesh.retired.has(x.name), last_heartbeat: up ? now / 1000 : 0, role: x.name === mesh.leader ? 'leader' : 'follower' };
      }
      return json(res, 200, {
        node_id: n.name,
        role: isLeader ? 'leader' : 'follower',
        is_leader: isLeader,
        leader_id: leaderView,
        effective_leader_id: inMesh ? mesh.leader : null,
        leaders_reported: inMesh && mesh.leader && mesh.leader !== n.name ? [mesh.leader] : [],
        voter_node_ids: voters.map((x) => x.name),
        voter_quorum_size: Math.floor(voters.length / 2) + 1,
        voters_alive: inMesh ? votersAlive : 0,
        voter_quorum_ok: inMesh && votersAlive * 2 > voters.length,
        alive_peers: inMesh ? alive.filter((x) => x !== n).length : 0,
        peers,
        active_jobs: isLeader ? jobs.length : 0,
      });
    }
    case 'GET /health':
      return json(res, 200, { healthy: !!proc?.hearing, node_id: n.name, role: inMesh && mesh.leader === n.name ? 'leader' : 'follower', leader_id: leaderView });
    case 'GET /api/jobs':
      return json(res, 200, { success: true, jobs, total: jobs.length });
    case 'POST /election/reset':
      await drain(req);
      // Clears the (stale) leader this node follows; a new election needs the coordinator.
      if (mesh.leader !== n.name) mesh.staleLeader = null;
      if (mesh.leader === n.name) mesh.leader = null;
      mesh.electionBlocked = false;
      mesh.record(n, 'election.reset');
      mesh.evaluate();
      return json(res, 200, { status: 'reset', node_id: n.name, message: 'Election state cleared. New election will start on next heartbeat cycle.' });
    case 'POST /election/force_leader': {
      let body: { leader_id?: unknown };
      try {
        body = JSON.parse((await drain(req)) || '{}') as { leader_id?: unknown };
      } catch {
        return json(res, 400, { error: 'Invalid JSON body' });
      }
      const target = typeof body.leader_id === 'string' ? body.leader_id.trim() : '';
      if (!target) return json(res, 400, { error: 'leader_id required' });
      mesh.record(n, 'election.set-leader', { node_id: target });
      if (target !== n.name) return json(res, 200, { status: 'leader_accepted', node_id: n.name, forced_leader: target, role: 'follower' });
      mesh.leader = n.name;
      mesh.staleLeader = null;
      mesh.electionBlocked = false;
      if (!n.roles.includes('coordinator')) mesh.forced = { node: n.name, until: Date.now() + FORCED_LEAD_MS };
      return json(res, 200, { status: 'leader_forced', node_id: n.name, role: 'leader', warning: 'Leadership was forced without normal election. Use with caution.' });
    }
    case 'POST /admin/unretire': {
      await drain(req);
      const id = url.searchParams.get('node_id')?.trim() ?? '';
      if (!id) return json(res, 400, { error: 'node_id parameter is required' });
      if (!mesh.nodes.some((x) => x.name === id && x !== n)) return json(res, 404, { error: `Node '${id}' not found in peer registry` });
      if (!mesh.retired.has(id)) return json(res, 200, { success: true, message: `Node '${id}' was not retired`, already_active: true });
      mesh.retired.delete(id);
      mesh.record(n, 'p2p.unretire', { node_id: id });
      return json(res, 200, { success: true, message: `Node '${id}' unretired`, node_id: id });
    }
    default:
      await drain(req);
      return json(res, 404, { error: `no route ${route}` });
  }
}

function authorized(mesh: TrainingMesh, req: IncomingMessage): boolean {
  const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const got = Buffer.from(m[1]!.trim());
  const want = Buffer.from(mesh.token);
  return got.length === want.length && timingSafeEqual(got, want);
}
