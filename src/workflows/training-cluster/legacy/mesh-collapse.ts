/**
 * Seed 000 §2, "P2P Mesh Collapse".
 *
 * Symptoms: most/all nodes "retired" or unreachable in the mesh, no
 * heartbeats, SSH still works. Diagnosis: SSH reachability across hosts, P2P
 * daemon status. Recovery: restart P2P on the coordinator first, wait 30 s,
 * restart the other voters in parallel, let the mesh reform (60 s), verify
 * alive peers and leader. Nodes that still have not rejoined are restarted
 * last. RTO 15-30 min.
 *
 * Frozen v1 (before Lifeboat spoke RingRift 2aa9f89b5's real P2P API): recoveries
 * recorded before `patched('training-cluster/real-p2p-api')` replay this code.
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { MeshCollapseParams } from '../../../catalog';
import type { P2pStatus, SshCheckResult } from '../../../activities/types';
import { activities, fact, fanOut, recoveryInput, runRecovery, stabilize, step, waitFor, type RecoveryInput, type RecoveryResult } from '../../kit';
import { TRAINING_CLUSTER_MESH_COLLAPSE } from '../../scenarios';

export type MeshCollapseInput = RecoveryInput<Partial<MeshCollapseParams>>;

export async function legacyMeshCollapse(input: MeshCollapseInput): Promise<RecoveryResult> {
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
    { describe: ((r: P2pStatus[]) => r.map((x) => `${x.node}: leader ${x.leaderId ?? 'none'}, ${x.alivePeers?.length ?? 0} peers`).join('; ')) as never },
  );
  if (meshHealthy(before, reachable)) {
    fact('root cause', 'none found: the mesh is healthy');
    return `Mesh is healthy (leader ${before[0]?.leaderId}, ${reachable.length} nodes alive): nothing restarted.`;
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
  const afterVoters = await p2pStatus({ cluster, node: coordinator });
  const restarted = new Set([coordinator, ...voters]);
  const stragglers = reachable.filter((n) => !restarted.has(n) && !(afterVoters.alivePeers ?? []).includes(n));
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
          const leaders = new Set(statuses.map((s) => s.leaderId).filter(Boolean));
          const peers = statuses.find((s) => s.node === coordinator)?.alivePeers ?? [];
          return {
            done: meshHealthy(statuses, reachable),
            detail: `leader ${[...leaders].join('/') || 'none'}, alive ${peers.length}/${reachable.length}`,
          };
        },
        { every: '5s', within: '2m' },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );
  fact('resolution', `restarted P2P on ${coordinator}, then ${voters.length} voter(s)${stragglers.length ? ` and ${stragglers.length} straggler(s)` : ''}`);
  return `Mesh re-formed: ${final?.detail ?? 'verified'}${unreachable.length ? `; still unreachable over SSH: ${unreachable.join(', ')}` : ''}`;
}

/** One leader seen by every node, and the leader's view lists every reachable node as alive. */
function meshHealthy(statuses: P2pStatus[], reachable: string[]): boolean {
  const leaders = new Set(statuses.map((s) => s.leaderId ?? null));
  if (leaders.size !== 1 || leaders.has(null)) return false;
  const leader = [...leaders][0]!;
  const view = statuses.find((s) => s.node === leader) ?? statuses[0];
  const alive = new Set(view?.alivePeers ?? []);
  return reachable.every((n) => alive.has(n));
}
