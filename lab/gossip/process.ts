/**
 * A gossip node's `plumtree` process: its HTTP server and, on seeds, the TCP
 * seed listener (the runbook's `nc -zv seed 7946`), started and stopped by
 * the `systemctl` shim, whose stop and start record `gossip.stop` and
 * `gossip.start`.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { ShimResult } from '../family';
import { json } from '../http-util';
import { handleHttp } from './api';
import { GOSSIP_DATA_DIR, SERVICE, type GNode, type GossipCluster } from './cluster';

/** Starts a node's process: binds its ports (kept across restarts); it rejoins through the seeds. */
export async function startProc(sim: GossipCluster, n: GNode): Promise<void> {
  const server = createServer((req, res) => {
    handleHttp(sim, n, req, res).catch((err: unknown) => json(res, 500, { error: (err as Error).message }));
  });
  server.keepAliveTimeout = 500;
  await listen(server, n.port);
  n.port = (server.address() as { port: number }).port;
  const sockets = new Set<Socket>();
  let seed: TcpServer | undefined;
  if (n.roles.includes('seed')) {
    seed = createTcpServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      s.end();
    });
    try {
      await listen(seed, n.seedPort);
    } catch (err) {
      await new Promise<void>((r) => server.close(() => r()));
      throw err;
    }
    n.seedPort = (seed.address() as { port: number }).port;
  }
  n.proc = { pid: sim.nextPid++, server, seed, sockets };
  // A (re)started node rejoins through the seeds; its counters restart.
  n.left = false;
  n.graftFailed = 0;
  n.partitioned = 0;
  n.malformed = 0;
}

/** Stops a node's process (a crash when nobody records it); false when it was not running. */
export async function stopProc(n: GNode): Promise<boolean> {
  const proc = n.proc;
  if (!proc) return false;
  n.proc = null;
  for (const s of proc.sockets) s.destroy();
  await Promise.all([
    new Promise<void>((r) => {
      proc.server.close(() => r());
      proc.server.closeAllConnections();
    }),
    proc.seed ? new Promise<void>((r) => proc.seed!.close(() => r())) : Promise.resolve(),
  ]);
  return true;
}

/** `systemctl {start|stop|restart|is-active|status} plumtree`. */
export async function systemctl(sim: GossipCluster, n: GNode, args: string[]): Promise<ShimResult> {
  const words = args.filter((a) => !a.startsWith('-'));
  const verb = words[0];
  const unit = words[1]?.replace(/\.service$/, '');
  if (!verb || unit !== SERVICE) return { stdout: '', stderr: `Unit ${unit ?? ''}.service could not be found.\n`, exitCode: 5 };
  switch (verb) {
    case 'start':
      return n.proc ? { stdout: '', exitCode: 0 } : operatorStart(sim, n, 'systemctl start');
    case 'stop':
      await operatorStop(sim, n, 'systemctl stop');
      return { stdout: '', exitCode: 0 };
    case 'restart':
      await operatorStop(sim, n, 'systemctl restart');
      return operatorStart(sim, n, 'systemctl restart');
    case 'is-active':
      return n.proc ? { stdout: 'active\n', exitCode: 0 } : { stdout: sim.stateCorrupt(n) ? 'failed\n' : 'inactive\n', exitCode: 3 };
    case 'status':
      return n.proc
        ? { stdout: `● ${SERVICE}.service - Plumtree gossip node\n     Active: active (running)\n   Main PID: ${n.proc.pid}\n`, exitCode: 0 }
        : { stdout: `○ ${SERVICE}.service - Plumtree gossip node\n     Active: inactive (dead)\n`, exitCode: 3 };
    default:
      return { stdout: '', stderr: `lab: systemctl ${verb} is not simulated\n`, exitCode: 1 };
  }
}

async function operatorStop(sim: GossipCluster, n: GNode, how: string): Promise<void> {
  const pid = n.proc?.pid;
  if (await stopProc(n)) sim.record(n, 'gossip.stop', { pid, how });
}

async function operatorStart(sim: GossipCluster, n: GNode, how: string): Promise<ShimResult> {
  if (sim.stateCorrupt(n)) {
    return {
      stdout: '',
      stderr: `Job for ${SERVICE}.service failed: persistent state ${GOSSIP_DATA_DIR}/state.db is corrupted (checksum mismatch)\n`,
      exitCode: 1,
    };
  }
  try {
    await startProc(sim, n);
  } catch (err) {
    return { stdout: '', stderr: `${SERVICE} failed to start: ${(err as Error).message}\n`, exitCode: 1 };
  }
  sim.record(n, 'gossip.start', { pid: n.proc?.pid, how });
  return { stdout: '', exitCode: 0 };
}

function listen(server: Server | TcpServer, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}
