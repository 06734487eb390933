/**
 * The training-ops faults (seed 000 §5, seed 001): the whole cluster's
 * outage, after which the coordinator's host returns first and the others
 * rejoin one by one once its orchestrator runs, and the sync hosts gone
 * critical (./sync-coordinator).
 *
 * @module
 */
import type { TrainingMesh } from './mesh';
import { startProc, stopProc } from './orchestrator';
import type { SyncCoordinator } from './sync-coordinator';

/** Faults of the outage and sync scenarios (seed 000 §5, seed 001). */
export const TRAINING_OPS_FAULTS = [
  'training-cluster.cluster-outage',
  /** The last node's data unsynced for 2 h and its orchestrator killed (its heartbeats stop): a full sync and a restart heal it. */
  'training-cluster.sync-host-critical',
  /** The seed's symptom only (v1 activities): the last node's sync agent crashed 2 h ago, its orchestrator runs. */
  'training-cluster.sync-host-critical.agent-crashed',
  /** Its data cannot be pulled (the agent will not start; the full sync skips it): only rsync + import recovers the games. */
  'training-cluster.sync-host-critical.agent-broken',
  /** The host is gone (SSH refused, orchestrator dead): only retiring it ends the alert. */
  'training-cluster.sync-host-critical.host-lost',
  /**
   * The last node's orchestrator killed and retired by the mesh (the real one: until the coordinator's /status
   * says `retired`, 300 s after its last heartbeat at 2aa9f89b5): seed 001's option 4 (unretire) applies.
   */
  'training-cluster.sync-host-critical.retired',
  /** The last two nodes' data unsynced and their orchestrators killed: the seed's Escalation. */
  'training-cluster.sync-host-critical.multi',
  /** A person's hands: the last node taken out of the cluster (no route retires a host; seed 001's option 5 is a human step). */
  'training-cluster.by-hand.retire-host',
];

/** Injects one of {@link TRAINING_OPS_FAULTS}. */
export async function breakOps(mesh: TrainingMesh, sync: SyncCoordinator, fault: string): Promise<void> {
  const workers = mesh.nodes.filter((n) => !n.roles.includes('coordinator'));
  const last = workers.at(-1)!;
  switch (fault) {
    case 'training-cluster.cluster-outage': {
      // Every host drops off at once (crash: no stop effect); the coordinator's host is back first.
      for (const n of mesh.nodes) {
        await stopProc(mesh, n);
        mesh.setOffline(n.name, true);
      }
      mesh.leader = null;
      mesh.electionBlocked = false;
      sync.outage();
      const coordinator = mesh.nodes.find((n) => n.roles.includes('coordinator'))!;
      const t = setTimeout(() => mesh.setOffline(coordinator.name, false), mesh.outageReturnMs);
      t.unref();
      mesh.outage = { rejoining: false, timers: [t] };
      return;
    }
    case 'training-cluster.sync-host-critical':
      sync.makeCritical(last.name, 'dead');
      await stopProc(mesh, last); // a crash: no stop effect
      return;
    case 'training-cluster.sync-host-critical.agent-crashed':
      return sync.makeCritical(last.name, 'dead');
    case 'training-cluster.sync-host-critical.agent-broken':
      return sync.makeCritical(last.name, 'broken');
    case 'training-cluster.sync-host-critical.host-lost':
      sync.makeCritical(last.name, 'dead', { lostAt: Date.now() - 90 * 60_000 });
      await stopProc(mesh, last);
      mesh.setOffline(last.name, true);
      return;
    case 'training-cluster.sync-host-critical.retired':
      // A crash, then the mesh's retirement of the dead peer (no sync symptom: the real app's gauges count nothing).
      await stopProc(mesh, last);
      mesh.retired.add(last.name);
      return;
    case 'training-cluster.by-hand.retire-host':
      return sync.retireByHand(last.name);
    case 'training-cluster.sync-host-critical.multi':
      for (const n of workers.slice(-2)) {
        sync.makeCritical(n.name, 'dead');
        await stopProc(mesh, n);
      }
      return;
  }
}

/** The other nodes come online one by one once the coordinator's orchestrator runs; their orchestrators boot by themselves. */
export function rejoinAfterCoordinator(mesh: TrainingMesh): void {
  const outage = mesh.outage!;
  outage.rejoining = true;
  const rest = mesh.nodes.filter((n) => !n.roles.includes('coordinator'));
  rest.forEach((n, i) => {
    const t = setTimeout(() => {
      mesh.setOffline(n.name, false);
      if (!n.proc) void startProc(mesh, n).catch(() => undefined);
      if (i === rest.length - 1) mesh.outage = undefined;
    }, (i + 1) * mesh.rejoinEveryMs);
    t.unref();
    outage.timers.push(t);
  });
}
