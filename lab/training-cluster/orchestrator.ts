/**
 * A training node's orchestrator process: its HTTP server on the node's port
 * (kept across restarts), started and stopped. A stop by itself is a crash
 * and records nothing; ./commands records the operator's.
 *
 * @module
 */
import { createServer } from 'node:http';
import { json } from '../http-util';
import { restartablePort } from '../ports';
import { handleHttp } from './api';
import type { NodeState, Proc, TrainingMesh } from './mesh';

/** Starts a node's orchestrator (`startedAt` back-dated when the cluster comes up already formed). */
export async function startProc(mesh: TrainingMesh, n: NodeState, startedAt = Date.now()): Promise<Proc> {
  const server = createServer((req, res) => {
    handleHttp(mesh, n, req, res).catch((err: unknown) => json(res, 500, { error: (err as Error).message }));
  });
  server.keepAliveTimeout = 500;
  // Restarts listen on the same port: one from below the ephemeral range, which nothing else takes meanwhile (../ports).
  if (!n.port) n.port = await restartablePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(n.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  if (typeof addr === 'object' && addr) n.port = addr.port; // keep the first port for later restarts
  const proc: Proc = { pid: mesh.nextPid++, startedAt, hearing: true, server };
  n.proc = proc;
  // A retired peer that runs again is taken back by the mesh (as the real coordinator's dead-peer check does).
  mesh.retired.delete(n.name);
  return proc;
}

/** Stops a node's orchestrator and re-derives the leader; false when it was not running. */
export async function stopProc(mesh: TrainingMesh, n: NodeState): Promise<boolean> {
  const proc = n.proc;
  if (!proc) return false;
  n.proc = null;
  await new Promise<void>((resolve) => {
    proc.server.close(() => resolve());
    proc.server.closeAllConnections();
  });
  mesh.evaluate();
  return true;
}
