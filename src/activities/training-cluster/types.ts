/**
 * The training cluster's activities (seeds 000 and 001), as types only:
 * what workflows import (with `import type`) and proxy. Three groups:
 * - {@link TrainingClusterActivities}: the P2P orchestrator (leader, mesh, restarts);
 * - {@link TrainingDataActivities}: games databases, selfplay and models
 *   (seed 000 §3, §4, §6). Paths are relative to the node's workdir
 *   (`ssh.workdir` in the inventory); the cluster's `settings` override the
 *   runbook's defaults (`gamesDb`, `gamesBackup`, `backupRoot`, `model`, ...);
 * - {@link TrainingOpsActivities}: outages and sync (seed 000 §5, seed 001).
 *   Reads go to the sync coordinator (its metrics and host statuses) or to
 *   one host over SSH.
 * An unreachable node, host or coordinator is a result (`reachable: false`),
 * not a failure.
 *
 * @module
 */
import type { EffectResult, Effectful, NodeRef } from '../common/types';

// ---------------------------------------------------------- orchestrator ----

/**
 * One node's `GET /status` (RingRift 2aa9f89b5, scripts/p2p_orchestrator.py
 * `_compute_status`, see ./wire): who it follows, what it is, whom it sees.
 */
export interface P2pStatus {
  node: string;
  reachable: boolean;
  error?: string;
  /** `leader_id`: the leader this node follows (itself when it leads); null: none. */
  leaderId?: string | null;
  /** The answering node and the peers it sees alive and not retired (the keys of `peers`). */
  alivePeers?: string[];
  /** The node's `role` ("leader", "follower", ...); v1 histories call it the election state. */
  electionState?: string;
  /** `voter_node_ids`. */
  voters?: string[];
  /** `role` as the node reports it: "leader", "follower", "candidate", "provisional_leader"... */
  role?: string;
  /** `is_leader` (or `role` = leader): this node says it leads. */
  isLeader?: boolean;
  /** `effective_leader_id`: the leader as this node's peer table resolves it. */
  effectiveLeaderId?: string | null;
  /** `alive_peers`: how many peers the node counts alive (an integer, itself excluded). */
  alivePeerCount?: number;
  /** Peers the node has retired (`peers[*].retired`). */
  retiredPeers?: string[];
  /** Peers the node knows but counts dead (`peers[*].is_alive` false); with `alive_only=false`. */
  deadPeers?: string[];
  /** `voters_alive`, `voter_quorum_ok`. */
  votersAlive?: number;
  voterQuorumOk?: boolean;
  /** `leaders_reported`: the alive peers that report themselves leader. */
  leadersReported?: string[];
  /** `active_jobs` (an integer on the real orchestrator). */
  activeJobs?: number;
}

export interface TrainingClusterActivities {
  /** `GET /status?alive_only=false` of the node's P2P orchestrator (it may take up to a minute under load). */
  p2pStatus(input: NodeRef): Promise<P2pStatus>;
  /** `pgrep -f p2p_orchestrator` and the local `/health` (`healthy: true` in its answer) over SSH. */
  p2pDaemonStatus(input: NodeRef): Promise<{ node: string; running: boolean; healthy: boolean; detail: string }>;
  /** `GET /api/jobs` of the node's orchestrator (`{success, jobs, total}`): the jobs it distributes and how many are not finished. */
  p2pJobs(input: NodeRef): Promise<{ node: string; reachable: boolean; activeJobs: number; total?: number; error?: string }>;
  /** `POST /election/reset` on a node (bearer `RINGRIFT_CLUSTER_AUTH_TOKEN`): clears its election state and leader. */
  p2pElectionReset(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `POST /election/force_leader {"leader_id": leader}` on `node`: on the leader itself it takes the lead, elsewhere it adopts it (emergency only). */
  p2pSetLeader(input: NodeRef & Effectful & { leader: string }): Promise<EffectResult>;
  /**
   * Restarts the node's orchestrator once per step: `systemctl restart <p2pUnit>` where the node runs
   * the unit, else the unit's ExecStart from its env file (`scripts/p2p_orchestrator.py --node-id ...`),
   * or `POST /admin/restart` (X-Admin-Token) when `p2pRestartVia` is `admin`.
   */
  p2pRestart(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `POST /admin/unretire?node_id=<peer>` on `node` (bearer token): the orchestrator takes a retired peer back; not retired counts as done. */
  p2pUnretire(input: NodeRef & Effectful & { peer: string }): Promise<EffectResult>;
}

// ------------------------------------------------ data, selfplay, models ----

/** One node's game database, as the runbook's diagnosis reads it. */
export interface GamesDbStatus {
  node: string;
  /** False when the node does not answer over SSH (then nothing else is known). */
  reachable: boolean;
  error?: string;
  /** `find data/games -name '*.db' -exec du -h {} \;` */
  databases: Array<{ path: string; size: string }>;
  /** The main database (`data/games/selfplay.db`) exists. */
  exists: boolean;
  /** `SELECT COUNT(*) FROM games`; undefined when the database cannot be read. */
  count?: number;
  /** `PRAGMA integrity_check`: "ok", or what sqlite3 reported (missing, "file is not a database", ...). */
  integrity: string;
  /** Games per board config ("hex8_2p"), when readable. */
  byConfig: Record<string, number>;
  /** `pgrep -f scripts/selfplay.py` */
  selfplayRunning: boolean;
}

/** A games backup on the shared (NFS) backup directory, seen from a node that mounts it. */
export interface GamesBackupInfo {
  node: string;
  path: string;
  exists: boolean;
  count?: number;
  integrity: string;
  /** Modification time of the backup file (ISO, UTC). */
  takenAt?: string;
}

/** A model file checked the way seed §6 does: does it load, does its checksum match the manifest. */
export interface ModelCheck {
  node: string;
  reachable: boolean;
  error?: string;
  path: string;
  exists: boolean;
  /** `torch.load(path)` succeeded ("Model OK"). */
  loads: boolean;
  keys?: string[];
  /** What the load reported when it failed ("Model CORRUPTED: ..."). */
  loadError?: string;
  sha256?: string;
  /** The canonical model's checksum in the node's manifest. */
  expectedSha256?: string;
  /** `sha256 === expectedSha256`. */
  checksumOk: boolean;
}

/** The training-data activities a workflow may proxy. */
export interface TrainingDataActivities {
  /** Game count, `PRAGMA integrity_check`, the `*.db` files and whether selfplay runs, over SSH in the node's workdir. */
  gamesDbStatus(input: NodeRef): Promise<GamesDbStatus>;
  /** Age, count and integrity of `node`'s backup on the shared backup directory (`settings.gamesBackup`), read on `via` (default the node). */
  gamesBackupInfo(input: NodeRef & { via?: string }): Promise<GamesBackupInfo>;
  /** `mv data/games/selfplay.db data/games/selfplay.db.corrupt-<suffix>`: keeps the unreadable file for the post-mortem; absent counts as done. */
  gamesQuarantine(input: NodeRef & Effectful & { suffix: string }): Promise<EffectResult & { movedTo?: string }>;
  /** Seed §3 option 1 on `via` (the coordinator): `AutoSyncDaemon().sync_to_host(node)`, healthy peers' copies of the node's games. */
  gamesSyncToHost(input: NodeRef & Effectful & { via: string }): Promise<EffectResult & { copied?: number }>;
  /** Seed §3 option 2 on `via` (a host with the backup mount): `scp <backup> node:<workdir>/data/games/selfplay.db`; identical files count as done. */
  gamesRestoreBackup(input: NodeRef & Effectful & { via: string }): Promise<EffectResult>;
  /** `python scripts/selfplay.py --board hex8 --num-players 2 --engine-mode gumbel-mcts &` in the node's workdir; running counts as done. */
  selfplayStart(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `pkill -f scripts/selfplay.py`: stop writes on the node; not running counts as done. */
  selfplayStop(input: NodeRef & Effectful): Promise<EffectResult>;
  /**
   * Seed §4 step 1 on the coordinator. With `from` (v2): the survivors' databases copied to it and merged by
   * `scripts/aggregate_cluster_dbs.py --input-dir data/games/collected_<date> --output data/games/cluster_aggregated_<date>.db`;
   * without (v1 histories): the seed's `aggregate_cluster_data.py --target-host <node>`.
   */
  gamesAggregate(input: NodeRef & Effectful & { from?: string[]; date?: string }): Promise<EffectResult & { total?: number; path?: string }>;
  /** Seed §4 step 2 on the node: `cp -r data/games <backupRoot>/games_<date>`; an existing backup of that name counts as done. */
  gamesBackupAggregate(input: NodeRef & Effectful & { date: string }): Promise<EffectResult & { path: string }>;
  /** Seed §4 step 3 from the node: `python scripts/launch_selfplay_cluster.py --all-nodes`. */
  selfplayLaunchCluster(input: NodeRef & Effectful): Promise<EffectResult>;
  /** Seed §6 diagnosis of one model file (the canonical model, its models/backup copy, or `path`): loads, and its checksum against the manifest. */
  modelCheck(input: NodeRef & { path?: string; backup?: boolean }): Promise<ModelCheck>;
  /** Seed §6 option 1: `cp models/backup/<model> models/<model>`, refused unless the backup matches the manifest. */
  modelRestoreBackup(input: NodeRef & Effectful): Promise<EffectResult>;
  /** Seed §6 option 2, staging: `scp <from>:<workdir>/models/<model> models/<model>.incoming`, then checks the copy. */
  modelFetch(input: NodeRef & Effectful & { from: string }): Promise<EffectResult & { check?: ModelCheck }>;
  /** Seed §6 option 2, the swap: `mv models/<model>.incoming models/<model>`, refused unless the copy matches the manifest. */
  modelSwap(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `ls -la models/checkpoints/ | grep hex8_2p`: checkpoint paths, latest epoch first. */
  modelCheckpoints(input: NodeRef): Promise<{ node: string; checkpoints: Array<{ path: string; epoch: number }> }>;
  /** Seed §6 option 3: `python -m app.training.train --board-type hex8 --num-players 2 --resume <checkpoint>` (long, heartbeating; once per step). */
  modelResumeTraining(input: NodeRef & Effectful & { checkpoint: string }): Promise<EffectResult>;
}

// ------------------------------------------------------- outages and sync ----

/** One host as the sync coordinator sees it (`SyncCoordinator.get_host_statuses()`). */
export interface SyncHostStatus {
  host: string;
  /** "healthy", "lagging", "critical", "retired"... as the coordinator reports it. */
  state: string;
  /** The coordinator stopped collecting from it (auto-retired after failed recoveries, or by an operator). */
  retired: boolean;
  /** Last successful sync (ISO). */
  lastSync?: string;
  /** Last heartbeat of its sync agent (ISO). */
  lastSeen?: string;
  /** Games the host reported and the coordinator has not collected yet. */
  pendingGames?: number;
}

export interface SyncOverview {
  /** The coordinator answered (metrics and host statuses). */
  reachable: boolean;
  error?: string;
  /** `ringrift_sync_hosts{state=...}` from the metrics endpoint. */
  counts: Record<string, number>;
  hosts: SyncHostStatus[];
}

export interface SyncHostStorage {
  node: string;
  reachable: boolean;
  error?: string;
  /** The selfplay directory as read on the host. */
  dir: string;
  /** `du -sh` of it, e.g. "1.2G". */
  size?: string;
  files?: number;
  /** Modification time of the oldest and newest file (ISO). */
  oldest?: string;
  newest?: string;
  /** `ls -la ... | tail -20`. */
  listing?: string;
}

export interface SyncProcessInfo {
  node: string;
  reachable: boolean;
  error?: string;
  /** A sync agent process is running. */
  running: boolean;
  /** `ps aux | grep sync` lines. */
  lines: string[];
}

export interface SyncLogTail {
  node: string;
  reachable: boolean;
  error?: string;
  /** Bounded tail of the log. */
  tail: string;
  /** Lines with ERROR or CRITICAL in the tail. */
  errors: number;
  lastError?: string;
}

/** The ai-service app's sync gauges (`GET /metrics`; counts, no host names). */
export interface SyncGauges {
  reachable: boolean;
  error?: string;
  total?: number;
  healthy?: number;
  stale?: number;
  critical?: number;
}

/** The ai-service app's `GET /admin/sync/status`. */
export interface SyncAppStatus {
  reachable: boolean;
  /** "ok", "unavailable" (its SyncCoordinator did not import), "unreachable". */
  status: string;
  error?: string;
  provider?: string;
  /** Its background sync loop runs. */
  running?: boolean;
  /** The transports it has on. */
  transports: string[];
  /** `last_sync_times` (epoch seconds per key; empty at 2aa9f89b5, which never fills it). */
  lastSyncTimes: Record<string, number>;
}

/** A sync host the P2P view calls critical (or the operator named). */
export interface SyncCriticalHost {
  host: string;
  retired: boolean;
  alive: boolean;
  /** Its last heartbeat in the coordinator's peer table (ISO), and how old it was. */
  lastHeartbeat?: string;
  heartbeatAgeSeconds?: number;
  /** Alive, not retired, heartbeat within the stale limit. */
  fresh: boolean;
  /** Why it is critical ("retired", "not alive", "last heartbeat 900 s ago"), or "named by the operator". */
  why: string[];
}

export interface SyncCriticalHosts {
  /** The node whose `/status` peers were read (the coordinator). */
  node: string;
  reachable: boolean;
  error?: string;
  staleSeconds: number;
  hosts: SyncCriticalHost[];
}

/** Which sync host an effect on the coordinator is about. */
export interface SyncHostRef extends NodeRef {
  /** The critical host (inventory node name); `node` is the coordinator that acts. */
  host: string;
}

export interface TrainingOpsActivities {
  // ------------------------------------------------------------- seed 001 ----
  /** The coordinator's `ringrift_sync_hosts` metrics and host statuses (`node`: the coordinator). */
  syncHosts(input: NodeRef): Promise<SyncOverview>;
  /** `ls -la <selfplay dir> | tail -20` and `du -sh` on a host over SSH. */
  syncHostStorage(input: NodeRef): Promise<SyncHostStorage>;
  /** `ps aux | grep sync` on a host over SSH. */
  syncProcess(input: NodeRef): Promise<SyncProcessInfo>;
  /** `tail -100 <sync log>` on a node over SSH; with `match`, only the lines naming it (`grep host sync.log | tail -50`). */
  syncLogTail(input: NodeRef & { match?: string; lines?: number }): Promise<SyncLogTail>;
  /** Option 1: force a sync of `host` through the coordinator's admin API; a refusal is a result (`synced: false`). */
  syncForce(input: SyncHostRef & Effectful): Promise<EffectResult & { synced: boolean; detail: string }>;
  /** Option 2: `systemctl restart ringrift-sync-agent` on the host (`node`), then `is-active`; a failed restart is a result. */
  syncAgentRestart(input: NodeRef & Effectful): Promise<EffectResult & { active: boolean; reachable: boolean; detail: string }>;
  /** Option 3a: `rsync -avz host:<dir>/ <recovered>/<host>/` on the coordinator (`node`); `dir` default settings.selfplayDir (v1), v2 passes the games directory. */
  syncRecoverData(input: SyncHostRef & Effectful & { dir?: string }): Promise<EffectResult & { recoveredDir: string; files: number }>;
  /** Option 3b: `python scripts/import_orphaned_databases.py --data-dir <dir> --trigger-sync` on the coordinator (`json`: with `--json`, its result parsed). */
  syncImport(input: SyncHostRef & Effectful & { dataDir: string; json?: boolean }): Promise<EffectResult & { imported: number; games?: number }>;
  /** Option 4: `POST /admin/unretire {host_id}` (X-Admin-Key); a host that is not retired counts as done. */
  syncUnretire(input: SyncHostRef & Effectful): Promise<EffectResult>;
  /** Option 5 (gate `retire-host`): `POST /admin/retire-host {host_id, reason: data_loss, acknowledge_loss: true}`. */
  syncRetireHost(input: SyncHostRef & Effectful & { reason?: string }): Promise<EffectResult>;

  // The real surface (RingRift 2aa9f89b5; v2 of seed 001).
  /** `GET /metrics` of the ai-service app (settings.aiServiceUrl): the `ringrift_sync_hosts_*` gauges. */
  syncGauges(input: NodeRef): Promise<SyncGauges>;
  /** `GET /admin/sync/status` of the ai-service app (X-Admin-Key). */
  syncAppStatus(input: NodeRef): Promise<SyncAppStatus>;
  /** `POST /admin/sync/trigger` (X-Admin-Key): the app's full cluster sync; not sent when its SyncCoordinator is unavailable. */
  syncTrigger(input: NodeRef & Effectful): Promise<EffectResult & { synced: boolean; totalFiles: number; detail: string }>;
  /** The critical hosts in `node`'s P2P peers (retired, not alive, stale heartbeat), plus `host`. */
  syncCriticalHosts(input: NodeRef & { host?: string }): Promise<SyncCriticalHosts>;

  // ---------------------------------------------------------- seed 000 §5 ----
  /** The cluster's data pull (`bash scripts/sync_cluster_data.sh`, settings.fullSyncCommand) in the coordinator's workdir. */
  clusterFullSync(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `python scripts/launch_daemons.py --all` in the coordinator's workdir. */
  clusterLaunchDaemons(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `ps aux | grep selfplay` on a node. */
  selfplayRunning(input: NodeRef): Promise<{ node: string; reachable: boolean; running: boolean; processes: number; error?: string }>;
  /** `ls -la models/canonical_*.pth` in the node's workdir. */
  modelsAccessible(input: NodeRef): Promise<{ node: string; reachable: boolean; models: Array<{ name: string; bytes: number }>; error?: string }>;
}

/** Every activity of the training cluster: orchestrator, data and models, outages and sync. */
export type AllTrainingClusterActivities = TrainingClusterActivities & TrainingDataActivities & TrainingOpsActivities;
