/**
 * The training cluster's outage and sync (seed 000 §5, seed 001) activities, as types only (workflows import them with
 * `import type`). See {@link ./types} for the conventions.
 *
 * Reads go to the sync coordinator (its metrics endpoint and host statuses, on
 * the coordinator node) or to one host over SSH; an unreachable host or
 * coordinator is a result (`reachable: false`), not a failure.
 *
 * @module
 */
import type { Effectful, EffectResult, NodeRef } from './types';

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
  /** Option 3a: `rsync -avz host:<selfplay>/ <recovered>/<host>/` on the coordinator (`node`). */
  syncRecoverData(input: SyncHostRef & Effectful): Promise<EffectResult & { recoveredDir: string; files: number }>;
  /** Option 3b: `python scripts/import_orphaned_databases.py --data-dir <dir> --trigger-sync` on the coordinator. */
  syncImport(input: SyncHostRef & Effectful & { dataDir: string }): Promise<EffectResult & { imported: number }>;
  /** Option 4: `POST /admin/unretire {host_id}` (X-Admin-Key); a host that is not retired counts as done. */
  syncUnretire(input: SyncHostRef & Effectful): Promise<EffectResult>;
  /** Option 5 (gate `retire-host`): `POST /admin/retire-host {host_id, reason: data_loss, acknowledge_loss: true}`. */
  syncRetireHost(input: SyncHostRef & Effectful & { reason?: string }): Promise<EffectResult>;

  // ---------------------------------------------------------- seed 000 §5 ----
  /** `python scripts/sync_cluster_data.py --full` in the coordinator's workdir. */
  clusterFullSync(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `python scripts/launch_daemons.py --all` in the coordinator's workdir. */
  clusterLaunchDaemons(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `ps aux | grep selfplay` on a node. */
  selfplayRunning(input: NodeRef): Promise<{ node: string; reachable: boolean; running: boolean; processes: number; error?: string }>;
  /** `ls -la models/canonical_*.pth` in the node's workdir. */
  modelsAccessible(input: NodeRef): Promise<{ node: string; reachable: boolean; models: Array<{ name: string; bytes: number }>; error?: string }>;
}
