/**
 * The training cluster's data and models (seed 000 §3, §4, §6) activities, as types only (workflows import them with
 * `import type`). See {@link ./types} for the conventions.
 *
 * Paths are relative to the node's workdir (`ssh.workdir` in the inventory, the
 * runbook's `/workspace/ringrift/ai-service`); the cluster's `settings` override
 * the runbook's defaults (`gamesDb`, `gamesBackup`, `backupRoot`, `model`, ...).
 *
 * @module
 */
import type { EffectResult, Effectful, NodeRef } from './types';

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
  /** `python scripts/selfplay.py --board hex8 --num-players 2 --engine gumbel &` in the node's workdir; running counts as done. */
  selfplayStart(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `pkill -f scripts/selfplay.py`: stop writes on the node; not running counts as done. */
  selfplayStop(input: NodeRef & Effectful): Promise<EffectResult>;
  /** Seed §4 step 1 on the target: `python scripts/aggregate_cluster_data.py --target-host <node>`. */
  gamesAggregate(input: NodeRef & Effectful): Promise<EffectResult & { total?: number }>;
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
