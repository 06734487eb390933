/**
 * The simulated training cluster (seed 000 §1-2): N nodes, each running a
 * "P2P orchestrator" whose HTTP API is up only while its process runs.
 *
 * - Nodes `tc-node1..N`: node1 is [coordinator, voter], node2-3 [voter], the rest [worker].
 * - API per node (node:http on 127.0.0.1): `GET /status`, `GET /health`, `GET /jobs`,
 *   `POST /admin/election/reset`, `POST /admin/set-leader {node_id}` (the two admin
 *   routes want `Authorization: Bearer <token>`, else 401).
 * - Mesh: a running orchestrator that hears heartbeats joins the mesh once it has
 *   been up for `bootMs`; when a majority of the voters is in the mesh they elect a
 *   leader (the coordinator if it is in, else the first voter in). A leader stays
 *   until its process stops or stops hearing.
 * - Shims: `pgrep -f p2p_orchestrator`, `pkill -f p2p_orchestrator`,
 *   `python -m app.p2p.orchestrator`, `systemctl start|stop|restart|status|is-active p2p-orchestrator`,
 *   and `curl`, whose `localhost:8770` (the runbook's port) is rewritten to the
 *   node's real port before the real curl runs. Anything else falls through to the real tool.
 * - Effects: `orchestrator.stop`, `orchestrator.start`, and one `orchestrator.restart`
 *   when a start follows a stop on the same node within 10 s; `election.reset`,
 *   `election.set-leader`.
 * - Faults: `training-cluster.mesh-collapse` (every orchestrator crashes),
 *   `training-cluster.leader-failure` (the leader's process dies; its followers keep
 *   reporting it and nobody else is elected: the coordinator role is pinned),
 *   `training-cluster.leader-failure.voters` (the leader and the next voter die: the
 *   voter left is no quorum until the down voters run again).
 * - Game databases, backups and models (seed 000 §3, §4, §6) live in ./data, which
 *   this family delegates to (its shims first, its faults, start, settings and health).
 * - Outage and sync (seed 000 §5, seed 001): the sync coordinator, agents and
 *   cluster scripts live in {@link ./sync-coordinator}; the faults
 *   `training-cluster.cluster-outage` and `training-cluster.sync-host-critical[.*]`
 *   are in ./ops.
 *
 * Files: {@link TrainingClusterFamily} in ./family (the lab core's entry
 * point), the nodes and the mesh in ./mesh, the orchestrator's HTTP API in
 * ./api, its process in ./orchestrator, the operator's commands on it in
 * ./commands, the outage and sync faults in ./ops; the game data in ./data
 * (./games, ./models), the sync coordinator in ./sync-coordinator.
 *
 * @module
 */
export { TrainingClusterFamily, type TrainingClusterOptions } from './family';
export { RUNBOOK_P2P_PORT } from './mesh';
export { TRAINING_OPS_FAULTS } from './ops';
