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
 * RTO 5 min target, 10 min max.
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { LeaderFailureParams } from '../../catalog';
import type { P2pStatus } from '../../activities/types';
import { activities, approve, fact, note, recoveryInput, runRecovery, step, waitFor, type RecoveryInput, type RecoveryResult } from '../kit';
import { TRAINING_CLUSTER_LEADER_FAILURE } from '../scenarios';

export type LeaderFailureInput = RecoveryInput<Partial<LeaderFailureParams>>;

export async function trainingClusterLeaderFailure(input: LeaderFailureInput): Promise<RecoveryResult> {
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
  fact('resolution', `${how}; ${final?.detail ?? 'verification skipped'}`);
  return `Leader restored by ${how}: ${final?.detail ?? 'verification skipped by the operator'}`;
}

/** The leader every answering node agrees on, if any. */
function agreedLeader(statuses: P2pStatus[]): string | undefined {
  const ids = new Set(statuses.map((s) => s.leaderId ?? ''));
  const [only] = [...ids];
  return ids.size === 1 && only ? only : undefined;
}
