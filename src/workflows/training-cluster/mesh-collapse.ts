/**
 * Seed 000 §2, "P2P Mesh Collapse", on the real P2P orchestrator (RingRift
 * 2aa9f89b5).
 *
 * Symptoms: most/all nodes "retired" or unreachable in the mesh, no
 * heartbeats, SSH still works. Diagnosis: SSH reachability across hosts, P2P
 * daemon status. Recovery: restart P2P on the coordinator first, wait 30 s,
 * restart the other voters in parallel, let the mesh reform (60 s), verify
 * alive peers and leader. Nodes that still have not rejoined are restarted
 * last. On the real code a restart is the unit's (or its ExecStart from the
 * env file, see the p2pRestart activity), `/health` answers 200 with
 * `healthy`, alive peers come from `/status`'s `peers`, and a formed mesh
 * agrees on its leader only after about a minute: the verification waits
 * up to 3 min, then checks that the one leader stays. RTO 15-30 min.
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { MeshCollapseParams } from '../../catalog';
import type { P2pStatus, SshCheckResult } from '../../activities/types';
import { activities, fact, fanOut, recoveryInput, runRecovery, stabilize, step, waitFor, type RecoveryInput, type RecoveryResult } from '../kit';
import { TRAINING_CLUSTER_MESH_COLLAPSE } from '../scenarios';
import { legacyMeshCollapse } from './legacy/mesh-collapse';
import { describeLeaders, leadership, waitForStableLeader } from './mesh';
import { REAL_P2P_API } from './versions';

export type MeshCollapseInput = RecoveryInput<Partial<MeshCollapseParams>>;

export async function trainingClusterMeshCollapse(input: MeshCollapseInput): Promise<RecoveryResult> {
  if (!patched(REAL_P2P_API)) return legacyMeshCollapse(input);
  return runRecovery(TRAINING_CLUSTER_MESH_COLLAPSE, input, meshCollapse);
}

async function meshCollapse(): Promise<string> {
  const input = recoveryInput<Partial<MeshCollapseParams>>();
  const cluster = input.cluster.name;
  const all = input.cluster.nodes;
  const { sshCheck, p2pDaemonStatus, p2pStatus, p2pRestart } = activities();

  const coordinator = input.params.coordinator ?? all.find((n) => n.roles.includes('coordinator'))?.name;
  if (!coordinator || !all.some((n) => n.name === coordinator)) {
    throw ApplicationFailure.nonRetryable(
      `no coordinator: give the inventory node the "coordinator" role or pass --set coordinator=NODE`,
      'InvalidArgument',
    );
  }

  // Diagnosis: the runbook's `timeout 5 ssh $host "echo OK"` loop.
  const ssh = await step(
    'Check which nodes are reachable via SSH',
    () => Promise.all(all.map((n) => sshCheck({ cluster, node: n.name }))),
    { describe: ((r: SshCheckResult[]) => r.map((x) => `${x.node}: ${x.reachable ? 'OK' : 'UNREACHABLE'}`).join(', ')) as never },
  );
  const reachable = ssh.filter((r) => r.reachable).map((r) => r.node);
  const unreachable = ssh.filter((r) => !r.reachable).map((r) => r.node);
  if (reachable.length === 0) {
    throw ApplicationFailure.nonRetryable(
      'no node answers over SSH: this is a cluster outage, not a mesh collapse. Run training-cluster.cluster-outage',
      'ScenarioMismatch',
    );
  }
  if (!reachable.includes(coordinator)) {
    throw ApplicationFailure.nonRetryable(
      `the coordinator ${coordinator} is unreachable over SSH; restore it first or pick another with --set coordinator=NODE`,
      'ScenarioMismatch',
    );
  }

  await step(
    'Check P2P daemon status on nodes',
    () => Promise.all(reachable.map((node) => p2pDaemonStatus({ cluster, node }))),
    { describe: ((r: Array<{ node: string; running: boolean; healthy: boolean }>) => r.map((x) => `${x.node}: ${x.running ? (x.healthy ? 'running, healthy' : 'running, unhealthy') : 'stopped'}`).join(', ')) as never },
  );
  const before = await step(
    'Check the mesh: alive peers and leader',
    () => Promise.all(reachable.map((node) => p2pStatus({ cluster, node }))),
    { describe: ((r: P2pStatus[]) => describeLeaders(r)) as never },
  );
  if (meshHealthy(before, reachable)) {
    fact('root cause', 'none found: the mesh is healthy');
    return `Mesh is healthy (leader ${leadership(before).leader}, ${reachable.length} nodes alive): nothing restarted.`;
  }
  fact('root cause', 'P2P mesh collapse: nodes stopped hearing heartbeats (retired/unreachable in the mesh) while SSH works');
  fact('impact', 'all inter-node coordination stopped; jobs not distributed');
  fact('nodes affected', `${reachable.length} reachable, ${unreachable.length} unreachable over SSH${unreachable.length ? ` (${unreachable.join(', ')})` : ''}`);

  // Recovery, in the runbook's order.
  await step(`Restart P2P on the coordinator ${coordinator} first`, () => p2pRestart({ cluster, node: coordinator }), {
    onFailure: 'ask',
  });
  await stabilize('30s', 'wait for the coordinator to stabilize');

  const voters = all.filter((n) => n.roles.includes('voter') && n.name !== coordinator && reachable.includes(n.name)).map((n) => n.name);
  await fanOut('Restart P2P on the other voter nodes', voters, (node) => p2pRestart({ cluster, node }), {
    concurrency: voters.length, // the runbook restarts them in parallel
    onFailure: 'ask',
  });
  await stabilize('60s', 'let the mesh reform');

  // Nodes that are not back in the mesh after the voters' restart get theirs too.
  // A node that does not answer itself is out, whatever the coordinator's peer table says: the real one
  // counts a killed peer alive until its peer timeout (60-180 s).
  const afterVoters = await p2pStatus({ cluster, node: coordinator });
  const restarted = new Set([coordinator, ...voters]);
  const others = reachable.filter((n) => !restarted.has(n));
  const own = await Promise.all(others.map((node) => p2pStatus({ cluster, node })));
  const stragglers = others.filter((n, i) => !own[i]!.reachable || !(afterVoters.alivePeers ?? []).includes(n));
  if (stragglers.length > 0) {
    await fanOut('Restart P2P on nodes that did not rejoin', stragglers, (node) => p2pRestart({ cluster, node }), {
      concurrency: Math.max(1, Math.ceil(stragglers.length / 2)),
      maxFailures: Math.floor(stragglers.length / 4),
      onFailure: 'ask',
    });
  }

  const final = await step(
    'Verify mesh health: alive peers and leader',
    () =>
      waitFor(
        'every reachable node is alive in the mesh with one leader',
        async () => {
          const statuses = await Promise.all(reachable.map((node) => p2pStatus({ cluster, node })));
          const l = leadership(statuses);
          const view = statuses.find((s) => s.node === (l.leader ?? coordinator));
          const peers = view?.alivePeers ?? [];
          // Name who is missing and why (down itself, or dead / retired in the leader's view): what the operator checks next.
          const missing = reachable.filter((n) => !peers.includes(n)).map((n) => {
            const own = statuses.find((s) => s.node === n);
            return `${n} (${!own?.reachable ? 'does not answer' : view?.retiredPeers?.includes(n) ? `retired in ${view.node}'s view` : view?.deadPeers?.includes(n) ? `dead in ${view.node}'s view` : view ? `not in ${view.node}'s view` : 'no view to read'})`;
          });
          return {
            done: meshHealthy(statuses, reachable),
            detail: `${l.leader ? `leader ${l.leader}` : l.split.length > 1 ? `SPLIT BRAIN ${l.split.join('/')}` : 'no agreed leader'}, alive ${peers.filter((p) => reachable.includes(p)).length}/${reachable.length}${missing.length ? `; missing ${missing.join(', ')}` : ''}`,
          };
        },
        { every: '5s', within: '3m' },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );
  const stays = final
    ? await step('Verify: the leader stays (four probes in a row)', () => waitForStableLeader(cluster, reachable, { within: '60s' }), {
        onFailure: 'ask',
        describe: ((r: { detail: string }) => r.detail) as never,
      })
    : undefined;
  fact('resolution', `restarted P2P on ${coordinator}, then ${voters.length} voter(s)${stragglers.length ? ` and ${stragglers.length} straggler(s)` : ''}`);
  return `Mesh re-formed: ${final?.detail ?? 'verified'}${stays?.value ? `; ${stays.value} stays the leader` : ''}${unreachable.length ? `; still unreachable over SSH: ${unreachable.join(', ')}` : ''}`;
}

/** One leader that says it leads and that every node follows, whose view lists every reachable node as alive. */
function meshHealthy(statuses: P2pStatus[], reachable: string[]): boolean {
  if (statuses.some((s) => !s.reachable)) return false;
  const leader = leadership(statuses).leader;
  if (!leader) return false;
  const alive = new Set(statuses.find((s) => s.node === leader)?.alivePeers ?? []);
  return reachable.every((n) => alive.has(n));
}
