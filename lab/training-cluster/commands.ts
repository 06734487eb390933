/**
 * What an operator does to a node's orchestrator over SSH: `pkill -f
 * p2p_orchestrator`, `python -m app.p2p.orchestrator`, `systemctl
 * start|stop|restart|status|is-active p2p-orchestrator`, and `curl` to the
 * runbook's `localhost:8770`. Records `orchestrator.stop`,
 * `orchestrator.start`, and one `orchestrator.restart` when a start follows a
 * stop within 10 s.
 *
 * @module
 */
import type { ShimResult } from '../family';
import { RESTART_WINDOW_MS, RUNBOOK_P2P_PORT, SERVICE, type NodeState, type TrainingMesh } from './mesh';
import { rejoinAfterCoordinator } from './ops';
import { startProc, stopProc } from './orchestrator';

/** An operator's stop (`pkill`, `systemctl stop`): records `orchestrator.stop`; false when nothing ran. */
export async function stopByOperator(mesh: TrainingMesh, n: NodeState, how: string): Promise<boolean> {
  const pid = n.proc?.pid;
  if (!(await stopProc(mesh, n))) return false;
  n.lastStopAt = Date.now();
  mesh.record(n, 'orchestrator.stop', { pid, how });
  return true;
}

/** An operator's start (`python -m ...`, `systemctl start`): refused while one runs, as the port is taken. */
export async function startByOperator(mesh: TrainingMesh, n: NodeState, how: string): Promise<ShimResult> {
  if (n.proc) {
    // What a second python process does when the first holds the port.
    return { stdout: '', stderr: `OSError: [Errno 98] Address already in use: ('0.0.0.0', ${RUNBOOK_P2P_PORT})\n`, exitCode: 1 };
  }
  try {
    const proc = await startProc(mesh, n);
    mesh.record(n, 'orchestrator.start', { pid: proc.pid, how });
    if (n.lastStopAt !== undefined && Date.now() - n.lastStopAt <= RESTART_WINDOW_MS) {
      mesh.record(n, 'orchestrator.restart', { pid: proc.pid });
    }
    n.lastStopAt = undefined;
    if (mesh.outage && !mesh.outage.rejoining && n.roles.includes('coordinator')) rejoinAfterCoordinator(mesh);
    return { stdout: `P2P orchestrator ${n.name} listening on 127.0.0.1:${n.port} (pid ${proc.pid})\n`, exitCode: 0 };
  } catch (err) {
    return { stdout: '', stderr: `orchestrator failed to start: ${(err as Error).message}\n`, exitCode: 1 };
  }
}

/** `systemctl start|stop|restart|status|is-active p2p-orchestrator`. */
export async function systemctl(mesh: TrainingMesh, n: NodeState, args: string[]): Promise<ShimResult> {
  const verb = args.find((a) => !a.startsWith('-'));
  const unit = args.filter((a) => !a.startsWith('-'))[1]?.replace(/\.service$/, '');
  if (!verb || unit !== SERVICE) {
    return { stdout: '', stderr: `Unit ${unit ?? ''}.service could not be found.\n`, exitCode: 5 };
  }
  switch (verb) {
    case 'start':
      return n.proc ? { stdout: '', exitCode: 0 } : startByOperator(mesh, n, `systemctl start ${SERVICE}`);
    case 'stop':
      await stopByOperator(mesh, n, `systemctl stop ${SERVICE}`);
      return { stdout: '', exitCode: 0 };
    case 'restart':
      await stopByOperator(mesh, n, `systemctl restart ${SERVICE}`);
      return startByOperator(mesh, n, `systemctl restart ${SERVICE}`);
    case 'is-active':
      return n.proc ? { stdout: 'active\n', exitCode: 0 } : { stdout: 'inactive\n', exitCode: 3 };
    case 'status':
      return n.proc
        ? { stdout: `● ${SERVICE}.service - P2P orchestrator\n     Active: active (running)\n   Main PID: ${n.proc.pid}\n`, exitCode: 0 }
        : { stdout: `○ ${SERVICE}.service - P2P orchestrator\n     Active: inactive (dead)\n`, exitCode: 3 };
    default:
      return { stdout: '', stderr: `lab: systemctl ${verb} is not simulated\n`, exitCode: 1 };
  }
}

/** The runbook's `http://localhost:8770/...` pointed at this node's real port. */
export function rewriteLocalUrl(n: NodeState, arg: string): string {
  return arg.replace(new RegExp(`^(https?://)(localhost|127\\.0\\.0\\.1):${RUNBOOK_P2P_PORT}(?=/|$)`), `$1127.0.0.1:${n.port}`);
}
