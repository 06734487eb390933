/**
 * The training-cluster scenarios' `patched()` ids (docs/versioning.md).
 *
 * @module
 */

/**
 * Recoveries started after Lifeboat spoke the real RingRift P2P orchestrator
 * (synaptent/RingRift 2aa9f89b5): histories recorded before replay the v1
 * code in `./legacy/`.
 */
export const REAL_P2P_API = 'training-cluster/real-p2p-api';

/**
 * Leader failure with the coordinator down: the automatic-election wait is 30 s, not 60 (RingRift elects only
 * the coordinator: while it is down only its unit restarting it can end the wait), then Lifeboat restarts it.
 */
export const COORDINATOR_FIRST = 'training-cluster.leader-failure/coordinator-down-restart-first';

/**
 * Cluster outage: a node is back once the coordinator sees it alive and it answers /status itself (a real
 * coordinator just started can count a peer alive before its host is up).
 */
export const NODES_ANSWER_THEMSELVES = 'training-cluster.cluster-outage/nodes-answer-themselves';

/**
 * Leader failure: when the final verification finds the leader back but an answering node that lost it (a real
 * follower clears a leader it learned without a lease, scripts/p2p/orchestrators/peer_network_orchestrator.py,
 * and only a fresh /coordinator from an election brings it back), the election is reset on every answering
 * voter once and the verification runs again, before anyone is asked.
 */
export const RESET_WHEN_FOLLOWERS_LOSE_LEADER = 'training-cluster.leader-failure/reset-when-followers-lose-leader';
