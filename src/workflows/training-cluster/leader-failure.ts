/**
 * Seed 000 §1, "Leader Node Failure", on the real P2P orchestrator
 * (RingRift 2aa9f89b5): no leader, a stale one, or several at once; jobs
 * are not distributed.
 *
 * Diagnosis: `/status` on every node. A leader is a node that says it leads
 * (`role` leader), answers, and is the `leader_id` of every answering node.
 * The real cluster also shows a dead leader that its followers still report
 * (a stale leader: they keep it until their peer timeout), and several nodes
 * that each lead (a split brain): both are named in the incident record.
 *
 * Recovery, safest first (docs/training-cluster.md says why in this order):
 * 1. wait for the automatic election (60 s; 30 s while the coordinator is
 *    down: only it is ever elected, so only its unit restarting it helps);
 * 2. restart the orchestrators of the voters (the coordinator first) that are
 *    down: on the real cluster only the coordinator is ever elected, so no
 *    election succeeds while it is down (its current runbook: "restart P2P on
 *    unreachable voters");
 * 3. reset the election (`POST /election/reset`) on every answering voter
 *    and every claimant of a split brain, then wait (60 s);
 * 4. emergency, behind the gate `set-leader`: force the chosen voter
 *    (`POST /election/force_leader`, on it and then on the others).
 * Each wait ends only when one leader STAYS: the same leader, agreed by
 * every answering node, on four probes in a row (a forced leader that is
 * not the coordinator gives the lead up within seconds on the real code).
 * Verification: that leader stays, and its job API answers (`/api/jobs`).
 * Then the non-voters down at diagnosis are restarted and waited for.
 * RTO 5 min target, 10 min max.
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { LeaderFailureParams } from '../../catalog';
import type { P2pStatus } from '../../activities/types';
import { activities, approve, fact, fanOut, isDryRun, note, recoveryInput, runRecovery, step, waitFor, type RecoveryInput, type RecoveryResult } from '../kit';
import { TRAINING_CLUSTER_LEADER_FAILURE } from '../scenarios';
import { legacyLeaderFailure } from './legacy/leader-failure';
import { describeLeaders, leadership, waitForStableLeader } from './mesh';
import { COORDINATOR_FIRST, REAL_P2P_API, RESET_WHEN_FOLLOWERS_LOSE_LEADER } from './versions';

export type LeaderFailureInput = RecoveryInput<Partial<LeaderFailureParams>>;

export async function trainingClusterLeaderFailure(input: LeaderFailureInput): Promise<RecoveryResult> {
  if (!patched(REAL_P2P_API)) return legacyLeaderFailure(input);
  return runRecovery(TRAINING_CLUSTER_LEADER_FAILURE, input, leaderFailure);
}

async function leaderFailure(): Promise<string> {
  const input = recoveryInput<Partial<LeaderFailureParams>>();
  const cluster = input.cluster.name;
  const all = input.cluster.nodes.map((n) => n.name);
  const roleOf = (node: string) => input.cluster.nodes.find((n) => n.name === node)?.roles ?? [];
  const coordinator = input.cluster.nodes.find((n) => n.roles.includes('coordinator'))?.name;
  const { p2pStatus, p2pJobs, p2pElectionReset, p2pSetLeader, p2pRestart } = activities();

  const statuses = await step('Diagnose: P2P /status on every node (role, leader_id, voters, alive peers)', () => Promise.all(all.map((node) => p2pStatus({ cluster, node }))), {
    describe: ((s: P2pStatus[]) => describeLeaders(s)) as never,
  });
  const live = statuses.filter((s) => s.reachable);
  if (live.length === 0) {
    throw ApplicationFailure.nonRetryable('no node answers /status: this is a cluster outage or a mesh collapse, not a leader failure; run training-cluster.mesh-collapse', 'ScenarioMismatch');
  }
  const votersFromNodes = live.find((s) => s.voters?.length)?.voters ?? all.filter((n) => roleOf(n).includes('voter'));
  const voters = votersFromNodes.filter((v) => all.includes(v));
  const down = statuses.filter((s) => !s.reachable).map((s) => s.node);
  const state = leadership(statuses);
  if (state.leader) {
    // A leader now: does it stay? (A forced one that is not the coordinator does not.)
    const stays = await step(`Check that ${state.leader} stays the leader (four probes in a row)`, () => waitForStableLeader(cluster, all, { within: '40s' }), {
      onFailure: 'continue',
      describe: ((r: { detail: string }) => r.detail) as never,
    });
    if (stays) {
      fact('root cause', `no leader failure: ${stays.value} leads and stays`);
      return `Leader present (${stays.value}): nothing to recover.`;
    }
  }
  const cause = state.split.length > 1
    ? `SPLIT BRAIN: ${state.split.join(', ')} each lead`
    : state.stale
      ? `stale leader ${state.stale}: the followers still report it, it does not lead (${down.includes(state.stale) ? 'down' : 'answers as a follower'})`
      : 'no leader';
  fact('root cause', `${cause}${down.length ? `; down: ${down.join(', ')}` : ''}`);
  if (state.split.length > 1) fact('split brain', `${state.split.length} nodes lead at once: ${state.split.join(', ')}`);
  fact('impact', 'cluster coordination stopped: jobs are not distributed');
  const liveVoters = voters.filter((v) => live.some((s) => s.node === v));
  const downVoters = voters.filter((v) => down.includes(v)).sort((a, b) => Number(b === coordinator) - Number(a === coordinator));
  if (liveVoters.length === 0 && downVoters.length === 0) {
    throw ApplicationFailure.nonRetryable(`no voter is known (${voters.join(', ') || 'none'}): give the voters the "voter" role in the inventory`, 'NoVoters');
  }

  let how = 'automatic election';
  // Option 1: the automatic election. Only the coordinator is ever elected on the real cluster: with it down, only
  // its own unit bringing it back (Restart=always) can end the wait, within seconds; so the wait is 30 s, not 60,
  // before Lifeboat restarts it (histories from before wait 60 s).
  const coordinatorDown = !!coordinator && downVoters.includes(coordinator) && patched(COORDINATOR_FIRST);
  const firstWait = coordinatorDown ? '30s' : '60s';
  let elected = await step(
    coordinatorDown
      ? `Option 1: wait for the automatic leader election (30 s: the coordinator ${coordinator} is down and only it is ever elected, so only its unit restarting it ends this; one leader that stays)`
      : 'Option 1: wait for the automatic leader election (60 s; one leader that stays)',
    () => waitForStableLeader(cluster, all, { within: firstWait }),
    {
      onFailure: 'continue',
      describe: ((r: { detail: string }) => r.detail) as never,
    },
  );

  // Option 2 (the real cluster's own): the voters that are down, the coordinator first.
  if (!elected && downVoters.length > 0) {
    how = `P2P restarted on ${downVoters.join(', ')}`;
    await fanOut(`Restart P2P on the voter(s) that are down (${downVoters.join(', ')}; only the coordinator is ever elected)`, downVoters, (node) => p2pRestart({ cluster, node }), {
      concurrency: 1, // the coordinator first
      onFailure: 'continue',
    });
    elected = await step('Wait for the election after the restart (2 min; one leader that stays)', () => waitForStableLeader(cluster, all, { within: '2m' }), {
      onFailure: 'continue',
      describe: ((r: { detail: string }) => r.detail) as never,
    });
  }

  // Option 3: reset the election on every answering voter, and on every claimant of a split brain.
  if (!elected) {
    const resetOn = [...new Set([...liveVoters, ...state.split])];
    how = `election reset on ${resetOn.join(', ')}`;
    await fanOut(`Option 2: force an election restart (POST /election/reset on ${resetOn.join(', ')})`, resetOn, (node) => p2pElectionReset({ cluster, node }), {
      concurrency: resetOn.length,
      onFailure: 'ask',
    });
    elected = await step('Wait for the new election (60 s; one leader that stays)', () => waitForStableLeader(cluster, all, { within: '60s' }), {
      onFailure: 'continue',
      describe: ((r: { detail: string }) => r.detail) as never,
    });
  }

  // Option 4: manual designation, by a human.
  if (!elected) {
    const candidates = voters.filter((v) => !down.includes(v) || downVoters.includes(v));
    note('no leader stays after the wait, the restarts and a reset: manual leader designation needed');
    const a = await approve('set-leader', {
      title: 'Force the P2P leader (emergency only): choose a voter; on the real cluster a forced leader other than the coordinator gives the lead up within seconds',
      evidence: {
        voters: voters.join(', '),
        coordinator: coordinator ?? 'none in the inventory',
        down: down.join(', ') || 'none',
        now: describeLeaders(statuses),
      },
      choices: candidates,
    });
    const chosen = a.choice ?? (coordinator && candidates.includes(coordinator) ? coordinator : candidates[0]!);
    how = `leader forced to ${chosen} by ${a.by}`;
    await step(`Option 3: force ${chosen} as leader (POST /election/force_leader on ${chosen})`, () => p2pSetLeader({ cluster, node: chosen, leader: chosen }), { onFailure: 'ask' });
    const others = all.filter((n) => n !== chosen && live.some((s) => s.node === n));
    await fanOut(`Tell the other nodes (POST /election/force_leader {"leader_id": "${chosen}"})`, others, (node) => p2pSetLeader({ cluster, node, leader: chosen }), {
      concurrency: others.length,
      onFailure: 'continue',
    });
    elected = await step(`Wait until ${chosen} leads and stays (60 s)`, () => waitForStableLeader(cluster, all, { within: '60s', only: chosen }), {
      onFailure: 'ask',
      describe: ((r: { detail: string }) => r.detail) as never,
    });
  }

  const verify = async (): Promise<{ leader: string; detail: string }> => {
    const stable = await waitForStableLeader(cluster, all, { within: '60s' });
    const jobs = stable.value ? await p2pJobs({ cluster, node: stable.value }) : undefined;
    if (!stable.value || !jobs?.reachable) throw ApplicationFailure.retryable(`no stable leader answering /api/jobs: ${stable.detail}`, 'NotRecovered');
    return { leader: stable.value, detail: `${stable.detail}; /api/jobs on ${stable.value}: ${jobs.activeJobs} active of ${jobs.total ?? 0}` };
  };
  const VERIFY = 'Verify: one leader that stays, agreed by every answering node, and its job API answers';
  const describeVerify = { describe: ((r: { detail: string }) => r.detail) as never };
  // A real follower can lose the leader it took back (learned without a lease, it clears it at its next lease
  // check); only an election's /coordinator brings it back. So, once, before asking: reset the election.
  const resetOnce = !isDryRun() && patched(RESET_WHEN_FOLLOWERS_LOSE_LEADER);
  let final = resetOnce ? await step(VERIFY, verify, { onFailure: 'continue', ...describeVerify }) : await step(VERIFY, verify, { onFailure: 'ask', ...describeVerify });
  if (resetOnce && !final) {
    const now = await Promise.all(all.map((node) => p2pStatus({ cluster, node })));
    const answering = voters.filter((v) => now.some((s) => s.node === v && s.reachable));
    const lost = now.filter((s) => s.reachable && !s.leaderId).map((s) => s.node);
    note(`after the recovery ${lost.length ? `${lost.join(', ')} lost the leader` : 'no leader stays'}: ${describeLeaders(now)}`);
    if (answering.length > 0) {
      how = `${how}, then election reset on ${answering.join(', ')}`;
      await fanOut(`Force an election restart once more (POST /election/reset on ${answering.join(', ')}): a node lost the leader after it was back`, answering, (node) => p2pElectionReset({ cluster, node }), {
        concurrency: answering.length,
        onFailure: 'ask',
      });
    }
    final = await step(`${VERIFY} (after the reset)`, verify, { onFailure: 'ask', ...describeVerify });
  }
  const verified = final?.detail ?? (isDryRun() ? 'not checkable in a dry run' : 'verification skipped by the operator');

  // The non-voters that were down: restart them and wait until the leader sees them again.
  const downRest = down.filter((n) => !voters.includes(n));
  let rest = '';
  if (downRest.length > 0) {
    const r = await fanOut(`Restart P2P on the other node(s) down at diagnosis: ${downRest.join(', ')}`, downRest, (node) => p2pRestart({ cluster, node }), {
      concurrency: downRest.length,
      onFailure: 'continue',
    });
    const leader = final?.leader;
    const back = leader
      ? await step(
          `Wait until ${downRest.join(', ')} ${downRest.length > 1 ? 'are' : 'is'} alive in ${leader}'s view (2 min)`,
          () =>
            waitFor(
              'the restarted nodes alive in the mesh',
              async () => {
                const s = await p2pStatus({ cluster, node: leader });
                const missing = downRest.filter((n) => !(s.alivePeers ?? []).includes(n));
                return { done: missing.length === 0, detail: missing.length ? `not yet alive: ${missing.join(', ')}` : `${downRest.join(', ')} alive` };
              },
              { every: '5s', within: '2m' },
            ),
          { onFailure: 'continue', describe: ((x: { detail: string }) => x.detail) as never },
        )
      : undefined;
    const failed = downRest.filter((n) => !(n in r.succeeded));
    for (const n of failed) fact(`${n}: follow-up`, `P2P restart failed (${r.failed[n] ?? 'unknown error'}): check the host, then run training-cluster.mesh-collapse`);
    if (!back && !isDryRun()) for (const n of downRest.filter((x) => !failed.includes(x))) fact(`${n}: follow-up`, 'P2P restarted but not alive in the mesh after 2 min: read its logs/p2p.log');
    rest = isDryRun() ? `then restart P2P on ${downRest.join(', ')}` : back ? `${downRest.join(', ')} restarted and back in the mesh` : `${downRest.join(', ')} NOT back in the mesh (see the follow-up facts)`;
  }

  if (isDryRun()) {
    const plan =
      `wait up to ${firstWait.replace('s', '')} s for the automatic election${downVoters.length ? `, else restart P2P on ${downVoters.join(', ')}` : ''}, else reset the election on ${liveVoters.join(', ') || 'the voters'}, ` +
      `else ask an approver (gate set-leader) to force one of ${voters.join(', ')}; then verify one leader that stays (now: ${verified})${rest ? `; ${rest}` : ''}`;
    fact('plan', plan);
    return `Dry run, nothing changed: would ${plan}`;
  }
  fact('resolution', `${how}; ${verified}${rest ? `; ${rest}` : ''}`);
  return `Leader restored by ${how}: ${verified}${rest ? `; ${rest}` : ''}`;
}
