/**
 * Seed 000 §1, "Leader Node Failure": P2P status shows no leader, jobs are
 * not distributed.
 *
 * Diagnosis: `/status` on every node (leader_id, alive_peers,
 * election_state, voters). Recovery, safest first:
 * 1. wait for the automatic leader election (durable polling, 60 s);
 * 2. force an election restart: `POST /admin/election/reset` on a voter,
 *    then wait again;
 * 3. manual leader designation (emergency only), behind the gate
 *    `set-leader`: the approver picks the node among the live voters.
 * Verification: a leader is elected and jobs are being distributed again.
 * Then the cluster is made whole: the nodes that were down at diagnosis (the
 * crashed old leader) and are still out of the mesh get their P2P restarted
 * (seed 000 §2's restart), with a bounded wait until they are alive in the
 * mesh again; one that does not come back leaves a `<node>: follow-up` fact
 * and is named in the outcome, without failing the restored leadership.
 * RTO 5 min target, 10 min max.
 *
 * Frozen v1 (before Lifeboat spoke RingRift 2aa9f89b5's real P2P API): recoveries
 * recorded before `patched('training-cluster/real-p2p-api')` replay this code.
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { LeaderFailureParams } from '../../../catalog';
import type { P2pStatus } from '../../../activities/types';
import { activities, approve, fact, fanOut, isDryRun, note, recoveryInput, runRecovery, step, waitFor, type RecoveryInput, type RecoveryResult } from '../../kit';
import { TRAINING_CLUSTER_LEADER_FAILURE } from '../../scenarios';

/** The patch that added the restart of the nodes down at diagnosis (docs/versioning.md). */
const RESTART_FAILED_LEADER = 'training-cluster.leader-failure/restart-failed-leader';

export type LeaderFailureInput = RecoveryInput<Partial<LeaderFailureParams>>;

export async function legacyLeaderFailure(input: LeaderFailureInput): Promise<RecoveryResult> {
  return runRecovery(TRAINING_CLUSTER_LEADER_FAILURE, input, leaderFailure);
}

async function leaderFailure(): Promise<string> {
  const input = recoveryInput<Partial<LeaderFailureParams>>();
  const cluster = input.cluster.name;
  const all = input.cluster.nodes.map((n) => n.name);
  const votersByRole = input.cluster.nodes.filter((n) => n.roles.includes('voter')).map((n) => n.name);
  const { p2pStatus, p2pJobs, p2pElectionReset, p2pSetLeader } = activities();

  const statuses = await step('Diagnose: P2P status on every node (leader_id, alive_peers, election_state, voters)', () => Promise.all(all.map((node) => p2pStatus({ cluster, node }))), {
    describe: ((s: P2pStatus[]) => s.map((x) => `${x.node}: ${x.reachable ? `leader=${x.leaderId ?? 'none'} ${x.electionState ?? '?'}` : 'down'}`).join(', ')) as never,
  });
  const live = statuses.filter((s) => s.reachable);
  if (live.length === 0) {
    throw ApplicationFailure.nonRetryable('no node answers /status: this is a cluster outage or a mesh collapse, not a leader failure; run training-cluster.mesh-collapse', 'ScenarioMismatch');
  }
  const leaderNow = agreedLeader(live);
  if (leaderNow) {
    fact('root cause', `no leader failure: ${leaderNow} leads`);
    return `Leader present (${leaderNow}): nothing to recover.`;
  }
  const voters = (live.find((s) => s.voters?.length)?.voters ?? votersByRole).filter((v) => all.includes(v));
  const liveVoters = voters.filter((v) => live.some((s) => s.node === v));
  const down = statuses.filter((s) => !s.reachable).map((s) => s.node);
  fact('root cause', `no leader; election ${live.map((s) => s.electionState ?? '?').filter((v, i, a) => a.indexOf(v) === i).join('/')}${down.length ? `; down: ${down.join(', ')}` : ''}`);
  fact('impact', 'cluster coordination stopped: jobs are not distributed');
  if (liveVoters.length === 0) {
    throw ApplicationFailure.nonRetryable(`no voter answers (${voters.join(', ')}): no election can succeed; bring the voters back first (training-cluster.mesh-collapse)`, 'NoVoters');
  }

  const leaderElected = (title: string, within: string, only?: string) =>
    waitFor(
      title,
      async () => {
        const now = (await Promise.all(liveVoters.map((node) => p2pStatus({ cluster, node })))).filter((s) => s.reachable);
        const l = agreedLeader(now);
        return { done: !!l && (!only || l === only), detail: l ? `leader ${l}` : `no leader (${now.map((s) => `${s.node}:${s.electionState ?? '?'}`).join(', ')})` };
      },
      { every: '5s', within },
    );

  // Option 1: automatic election.
  let how = 'automatic election';
  const auto = await step('Option 1: wait for the automatic leader election (60 s)', () => leaderElected('a leader elected on its own', '60s'), {
    onFailure: 'continue',
    describe: ((r: { detail: string }) => r.detail) as never,
  });
  if (!auto) {
    // Option 2: force an election restart on a voter.
    const voter = liveVoters[0]!;
    how = `election reset on ${voter}`;
    await step(`Option 2: force an election restart (POST /admin/election/reset on ${voter})`, () => p2pElectionReset({ cluster, node: voter }), { onFailure: 'ask' });
    const reset = await step('Wait for the new election (60 s)', () => leaderElected('a leader elected after the reset', '60s'), {
      onFailure: 'continue',
      describe: ((r: { detail: string }) => r.detail) as never,
    });
    if (!reset) {
      // Option 3: manual designation, by a human.
      note('the election did not converge after a reset: manual leader designation needed');
      const a = await approve('set-leader', {
        title: 'Manually designate the P2P leader (emergency only): choose a live voter',
        evidence: { 'live voters': liveVoters.join(', '), down: down.join(', ') || 'none', 'election state': live.map((s) => `${s.node}:${s.electionState ?? '?'}`).join(', ') },
        choices: liveVoters,
      });
      const chosen = a.choice ?? liveVoters[0]!;
      how = `manual designation of ${chosen} by ${a.by}`;
      await step(`Option 3: set ${chosen} as leader (POST /admin/set-leader)`, () => p2pSetLeader({ cluster, node: chosen, leader: chosen }), { onFailure: 'ask' });
      await step(`Wait until ${chosen} leads`, () => leaderElected(`${chosen} leads`, '60s', chosen), { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never });
    }
  }

  const final = await step(
    'Verify: leader elected and jobs distributed again',
    () =>
      waitFor(
        'jobs being distributed',
        async () => {
          const now = (await Promise.all(liveVoters.map((node) => p2pStatus({ cluster, node })))).filter((s) => s.reachable);
          const l = agreedLeader(now);
          const jobs = l ? await p2pJobs({ cluster, node: l }) : undefined;
          return { done: !!l && (jobs?.activeJobs ?? 0) > 0, detail: `leader ${l ?? 'none'}, ${jobs?.activeJobs ?? 0} active job(s)`, value: l };
        },
        { every: '5s', within: '2m' },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );
  const verified = final?.detail ?? (isDryRun() ? 'not checkable in a dry run' : 'verification skipped by the operator');

  // The crashed old leader (and any node down at diagnosis) stays down after the election:
  // restart its P2P and wait for it to rejoin, or say plainly what is still broken.
  const rejoin = down.length > 0 && patched(RESTART_FAILED_LEADER) ? await restartDownNodes(cluster, all.length, down, final?.value) : undefined;

  if (isDryRun()) {
    const plan =
      `wait up to 60 s for the automatic election, else reset the election on ${liveVoters[0]}, else ask an approver (gate set-leader) to designate one of ${liveVoters.join(', ')}; ` +
      `then verify a leader and jobs distributed (now: ${verified})${rejoin ? `; then ${rejoin.text}` : ''}`;
    fact('plan', plan);
    return `Dry run, nothing changed: would ${plan}`;
  }
  fact('resolution', `${how}; ${verified}${rejoin ? `; ${rejoin.text}` : ''}`);
  if (rejoin && rejoin.out.length > 0) {
    return `Leader restored by ${how}: ${verified}; NOT whole: ${rejoin.text} (follow-up recorded for ${rejoin.out.join(', ')})`;
  }
  return `Leader restored by ${how}: ${verified}${rejoin ? `; ${rejoin.text}` : ''}`;
}

/** The leader every answering node agrees on, if any. */
function agreedLeader(statuses: P2pStatus[]): string | undefined {
  const ids = new Set(statuses.map((s) => s.leaderId ?? ''));
  const [only] = [...ids];
  return ids.size === 1 && only ? only : undefined;
}

/**
 * After the election: P2P restarted on the nodes down at diagnosis (the
 * crashed old leader) that are still out of the mesh, then a bounded durable
 * wait until they are alive in it again. A node that does not come back does
 * not fail a recovery that already restored the leader: it gets a
 * `<node>: follow-up` fact naming what to do next.
 *
 * @param total how many nodes the cluster has (for "5/5 alive")
 * @param leader the leader verified just before; without one, each node's own status counts
 * @returns the result in words, and the nodes still out of the mesh
 */
async function restartDownNodes(cluster: string, total: number, nodes: string[], leader: string | undefined): Promise<{ text: string; out: string[] }> {
  const { p2pStatus, p2pRestart } = activities();
  const aliveInMesh = async (of: string[]): Promise<{ alive: string[]; peers?: number }> => {
    if (leader) {
      const s = await p2pStatus({ cluster, node: leader });
      const peers = s.reachable ? (s.alivePeers ?? []) : [];
      return { alive: of.filter((n) => peers.includes(n)), peers: peers.length };
    }
    const own = await Promise.all(of.map((node) => p2pStatus({ cluster, node })));
    return { alive: own.filter((s) => s.reachable && !!s.leaderId && (s.alivePeers ?? []).includes(s.node)).map((s) => s.node) };
  };
  const where = leader ? `${leader}'s alive_peers` : 'their own /status';
  const seen = await step(`Check whether the node(s) down at diagnosis are back in the mesh (${where}): ${nodes.join(', ')}`, () => aliveInMesh(nodes), {
    onFailure: 'continue', // the leader is back whatever this read says; unknown counts as out of the mesh
    describe: ((r: { alive: string[] }) => `back: ${r.alive.join(', ') || 'none'}; still out: ${nodes.filter((n) => !r.alive.includes(n)).join(', ') || 'none'}`) as never,
  });
  const out = nodes.filter((n) => !(seen?.alive ?? []).includes(n));
  if (out.length === 0) return { text: `${nodes.join(', ')} back in the mesh on ${nodes.length > 1 ? 'their' : 'its'} own`, out: [] };

  const restart = await fanOut(`Restart P2P on the node(s) still out of the mesh: ${out.join(', ')}`, out, (node) => p2pRestart({ cluster, node }), {
    concurrency: out.length, // out of the mesh already: restarting them disrupts nothing
    onFailure: 'continue', // the leader is back; a node that does not restart becomes a follow-up
  });
  const restarted = out.filter((n) => n in restart.succeeded);
  let missing = [...restarted];
  let peers: number | undefined;
  if (restarted.length > 0) {
    await step(
      `Wait until ${restarted.join(', ')} ${restarted.length > 1 ? 'are' : 'is'} alive in the mesh again (2 min)`,
      () =>
        waitFor(
          `${restarted.join(', ')} alive in the mesh`,
          async () => {
            const r = await aliveInMesh(restarted);
            missing = restarted.filter((n) => !r.alive.includes(n));
            peers = r.peers;
            const counted = peers === undefined ? '' : ` (${peers}/${total} alive)`;
            return { done: missing.length === 0, detail: missing.length ? `not yet in the mesh: ${missing.join(', ')}${counted}` : `${restarted.join(', ')} alive in the mesh${counted}` };
          },
          { every: '5s', within: '2m' },
        ),
      { onFailure: 'continue', describe: ((r: { detail: string }) => r.detail) as never },
    );
  }
  if (isDryRun()) {
    return { text: `restart P2P on ${out.join(', ')} (still out of the mesh) and wait up to 2 min until ${out.length > 1 ? 'they are' : 'it is'} alive in the mesh again`, out: [] };
  }

  const failed = out.filter((n) => !(n in restart.succeeded));
  for (const n of failed) {
    fact(`${n}: follow-up`, `P2P restart failed (${restart.failed[n] ?? 'unknown error'}): check the host (SSH, the orchestrator's log), then run training-cluster.mesh-collapse`);
  }
  for (const n of missing) {
    fact(`${n}: follow-up`, 'P2P restarted but the node is not alive in the mesh after 2 min: check its orchestrator log and network, then run training-cluster.mesh-collapse');
  }
  const stillOut = [...failed, ...missing];
  if (stillOut.length > 0) note(`still out of the mesh after the recovery: ${stillOut.join(', ')} (see the follow-up facts)`);
  const back = restarted.filter((n) => !missing.includes(n));
  const counted = peers === undefined ? '' : ` (${peers}/${total} alive)`;
  const parts = [
    back.length ? `P2P restarted on ${back.join(', ')}, back in the mesh${counted}` : '',
    failed.length ? `P2P restart failed on ${failed.join(', ')}` : '',
    missing.length ? `${missing.join(', ')} restarted but not alive in the mesh after 2 min` : '',
  ].filter(Boolean);
  return { text: parts.join('; '), out: stillOut };
}
