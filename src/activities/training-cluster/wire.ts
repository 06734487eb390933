/**
 * The wire of the real training cluster, as Lifeboat speaks it: RingRift
 * `ai-service` at commit 2aa9f89b5 (synaptent/RingRift, 2026-03-11).
 *
 * P2P orchestrator (`scripts/p2p_orchestrator.py`; routes in
 * `scripts/p2p/routes.py`, port 8770):
 * - `GET /status` (no token; cached 5 s, `?no_cache=true` recomputes;
 *   `?alive_only=false` lists dead peers too; 10-60 s under load):
 *   `node_id`, `role` ("leader" | "follower" | ...), `is_leader`, `leader_id`,
 *   `effective_leader_id`, `leaders_reported`, `voter_node_ids`,
 *   `voters_alive`, `voter_quorum_ok`, `alive_peers` (an integer), `peers`
 *   (node id -> `{is_alive, retired, last_heartbeat, ...}`, itself excluded),
 *   `active_jobs` (an integer).
 * - `GET /health`: always 200, `{healthy: bool, role, leader_id, ...}`.
 * - `GET /api/jobs`: `{success, jobs: [{status, ...}], total}`.
 * - With `Authorization: Bearer $RINGRIFT_CLUSTER_AUTH_TOKEN` (every
 *   non-GET route; 401 `{"error": "unauthorized"}` otherwise):
 *   `POST /election/reset`, `POST /election/force_leader {"leader_id"}`
 *   (on the named node it takes the lead; elsewhere the node adopts it),
 *   `POST /admin/unretire?node_id=`, `POST /admin/restart` (also
 *   `X-Admin-Token: $RINGRIFT_ADMIN_TOKEN` when that is set).
 * - Started by the systemd unit `ringrift-p2p-orchestrator`
 *   (`Restart=always`), whose ExecStart is {@link P2P_EXEC_START} with the
 *   variables of its EnvironmentFile.
 *
 * ai-service app (`app/main.py`, port 8001; run here in the lab's isolation):
 * - `GET /metrics` (no key): the label-less gauges
 *   `ringrift_sync_hosts_{total,healthy,stale,critical}` (`app/metrics/coordinator.py`,
 *   values like `0.0`). They are set only from `SyncFacade.get_stats()`, whose
 *   dict has no `*_hosts` keys at 2aa9f89b5: on the real app they read 0.
 * - `GET /admin/sync/status` (`X-Admin-Key: $ADMIN_API_KEY`; 401
 *   `{"detail": "X-Admin-Key header required"}`, 403 `{"detail": "Invalid admin key"}`):
 *   `{status: "ok", timestamp, sync: {provider, shared_storage, running,
 *   data_server, transports: {aria2, p2p, gossip, ssh}, sources_discovered,
 *   last_sync_times, config, quality}}` (`SyncCoordinator.get_status()`;
 *   `last_sync_times` is never filled at 2aa9f89b5), or `{status: "unavailable", error}`.
 * - `POST /admin/sync/trigger` (same key; no body: games, training, models):
 *   `SyncCoordinator.full_cluster_sync()`, answering `{status: "ok", timestamp,
 *   results: {<category>: {files_synced, bytes_transferred, transport_used,
 *   duration_seconds}}, total_files, total_bytes}` (or `unavailable`).
 * No route retires a host; nothing listens on 5001.
 *
 * Data and models: `scripts/selfplay.py --board hex8 --num-players 2
 * --engine-mode gumbel-mcts`; model checksums are `<model>.sha256`
 * sidecars (`<sha256>  <file name>`, app/utils/torch_utils.py).
 *
 * @module
 */

/** The real code's version this wire is read from. */
export const RINGRIFT_VERSION = 'synaptent/RingRift 2aa9f89b5 (ai-service)';

/** The unit's ExecStart, from its EnvironmentFile (`$1`) with the tree's python (`$2`), for `sh -c`. */
export const P2P_EXEC_START =
  'set -a; . "$1"; set +a; exec "$2" -u scripts/p2p_orchestrator.py --node-id "$RINGRIFT_NODE_ID" --host "$RINGRIFT_P2P_HOST" ' +
  '--port "$RINGRIFT_P2P_PORT" --ringrift-path "$RINGRIFT_PATH" --peers "$RINGRIFT_P2P_PEERS"';

/** `GET /status` as far as Lifeboat reads it. */
export interface WireStatus {
  node_id?: string;
  role?: string;
  is_leader?: boolean;
  leader_id?: string | null;
  effective_leader_id?: string | null;
  leaders_reported?: string[];
  voter_node_ids?: string[];
  voters_alive?: number;
  voter_quorum_ok?: boolean;
  alive_peers?: number | string[];
  peers?: Record<string, { is_alive?: boolean; retired?: boolean; last_heartbeat?: number }>;
  active_jobs?: number | unknown[];
  /** Older answers (the seed's): not on the real orchestrator. */
  election_state?: string;
  voters?: string[];
}

/** `GET /api/jobs`. */
export interface WireJobs {
  success?: boolean;
  jobs?: Array<{ status?: string }>;
  total?: number;
}

/** Job states that are over. */
export const FINISHED_JOB_STATES = ['completed', 'failed', 'cancelled', 'canceled', 'timeout', 'error'];

/** The ai-service app's sync gauges (label-less, `app/metrics/coordinator.py`). */
export const SYNC_GAUGES = {
  total: 'ringrift_sync_hosts_total',
  healthy: 'ringrift_sync_hosts_healthy',
  stale: 'ringrift_sync_hosts_stale',
  critical: 'ringrift_sync_hosts_critical',
} as const;

/** `GET /admin/sync/status` of the ai-service app. */
export interface WireSyncStatus {
  status?: string;
  timestamp?: string;
  error?: string;
  sync?: {
    provider?: string;
    shared_storage?: boolean;
    running?: boolean;
    transports?: Record<string, boolean>;
    sources_discovered?: number;
    last_sync_times?: Record<string, unknown>;
  };
}

/** `POST /admin/sync/trigger` of the ai-service app. */
export interface WireSyncTrigger {
  status?: string;
  error?: string;
  results?: Record<string, { files_synced?: number; bytes_transferred?: number; transport_used?: string; duration_seconds?: number } | undefined>;
  total_files?: number;
  total_bytes?: number;
}

/** `scripts/import_orphaned_databases.py --json`'s last line. */
export interface WireImportResult {
  databases_found?: number;
  databases_imported?: number;
  games_registered?: number;
  errors?: string[];
  dry_run?: boolean;
}
