/**
 * The context of the training cluster's activities (seeds 000, 001): the
 * shared plumbing and the cluster's settings with their defaults (the
 * runbooks' values): the P2P orchestrator, games, selfplay and models, and
 * the sync coordinator.
 *
 * @module
 */
import { systemContext, type ActivityContext, type SystemContext } from '../context';

/** Per-cluster settings of a training cluster, with their defaults (the runbooks' values). */
export const TRAINING_CLUSTER_DEFAULTS = {
  // The P2P orchestrator (RingRift 2aa9f89b5: scripts/p2p_orchestrator.py, its systemd unit).
  processPattern: 'p2p_orchestrator',
  /** v1 only (histories recorded before the real API): the runbook's start command, which never existed. */
  p2pStart: 'python -m app.p2p.orchestrator',
  p2pLog: 'logs/p2p.log',
  localP2pPort: 8770,
  restartTimeoutSeconds: 60,
  /** The orchestrator's systemd unit (config/systemd/ringrift-p2p-orchestrator.service); restarted with systemctl where the node has it. */
  p2pUnit: 'ringrift-p2p-orchestrator',
  /** The unit's EnvironmentFile: RINGRIFT_NODE_ID, RINGRIFT_P2P_HOST, RINGRIFT_P2P_PORT, RINGRIFT_PATH, RINGRIFT_P2P_PEERS. */
  p2pEnvFile: '/etc/ringrift/p2p_orchestrator.env',
  /** The unit's python, relative to the workdir (`ai-service/venv`). */
  p2pPython: 'venv/bin/python',
  /** How a restart is made: `auto` (the unit if the node has it, else the script), `systemd`, `script`, `admin` (POST /admin/restart). */
  p2pRestartVia: 'auto',
  /** Secret reference of `RINGRIFT_ADMIN_TOKEN` (X-Admin-Token of POST /admin/restart); empty: the node sets none. */
  p2pAdminToken: '',
  /** Longest wait for one `GET /status` (the real one takes 10-60 s under load). */
  statusTimeoutSeconds: 60,
  // Games, selfplay and models (seed 000 §3, §4, §6).
  gamesDir: 'data/games',
  gamesDb: 'data/games/selfplay.db',
  /** The NFS backup root (seed: /lambda/nfs/RingRift/backups). */
  backupRoot: '/lambda/nfs/RingRift/backups',
  /** The node's games backup; `{node}` is replaced by the node's name. */
  gamesBackup: '/lambda/nfs/RingRift/backups/games/selfplay_latest.db',
  /** RingRift 2aa9f89b5's flags (the seed's `--engine gumbel` is `--engine-mode gumbel-mcts` there). */
  selfplayStart: 'python scripts/selfplay.py --board hex8 --num-players 2 --engine-mode gumbel-mcts',
  selfplayPattern: 'scripts/selfplay.py',
  selfplayLog: 'logs/selfplay.log',
  /** v1 only: the seed's aggregation (`--target-host`), which the real script never had. */
  aggregateScript: 'scripts/aggregate_cluster_data.py',
  /** The real aggregation of game databases: `--input-dir D --output O` (RingRift 2aa9f89b5). */
  aggregateDbsScript: 'scripts/aggregate_cluster_dbs.py',
  /** v1 only: the seed's launcher, which does not exist at 2aa9f89b5 (v2 starts scripts/selfplay.py on each node). */
  launchSelfplayScript: 'scripts/launch_selfplay_cluster.py',
  model: 'models/canonical_hex8_2p.pth',
  /** Checksums are `<model>.sha256` sidecars on the real code; this manifest (the seed's) is read only when a model has none. */
  modelManifest: 'models/MANIFEST.sha256',
  modelBackupDir: 'models/backup',
  checkpointsDir: 'models/checkpoints',
  /** The checkpoint family of the canonical model (`ls models/checkpoints | grep hex8_2p`). */
  checkpointPrefix: 'hex8_2p',
  trainArgs: '--board-type hex8 --num-players 2',
  /** Longest a resumed training may run (it heartbeats meanwhile). */
  trainTimeoutSeconds: 4 * 3600,
  // Outages and sync (seed 000 §5, seed 001).
  /** Base URL of the ai-service app (app/main.py, port 8001): the sync gauges, /admin/sync/status and /admin/sync/trigger (v2). */
  aiServiceUrl: '',
  /** A peer whose last P2P heartbeat is older than this is a critical sync host (v2; the real peer timeout is 180 s, retirement ~300 s). */
  heartbeatStaleSeconds: 300,
  /** Longest wait for `POST /admin/sync/trigger` (a full cluster sync). */
  syncTriggerTimeoutSeconds: 1800,
  /** v1 only: base URL of the seed's sync coordinator admin API (`http://localhost:5001`), which does not exist at 2aa9f89b5. */
  syncAdminUrl: '',
  /** Secret reference of the admin key (`X-Admin-Key`): the ai-service app's `ADMIN_API_KEY` (v2; v1: the seed's coordinator's key). */
  syncAdminKey: '',
  syncAgentService: 'ringrift-sync-agent',
  selfplayDir: '/data/selfplay',
  recoveredDir: '/data/recovered',
  syncLog: '/var/log/ringrift/sync.log',
  /** The real cluster pull of game data (scripts/sync_cluster_data.sh; the seed's sync_cluster_data.py --full does not exist). */
  fullSyncCommand: 'bash scripts/sync_cluster_data.sh',
  launchDaemonsCommand: 'python scripts/launch_daemons.py --all',
  importCommand: 'python scripts/import_orphaned_databases.py',
  modelsDir: 'models',
  /** Run the host commands that need root with `sudo -n`. */
  sudo: false,
};

/** What the training cluster activities work with: the shared plumbing and these settings. */
export type TrainingClusterContext = SystemContext<typeof TRAINING_CLUSTER_DEFAULTS>;

/** Narrows the worker's context to the training cluster. */
export function trainingClusterContext(base: ActivityContext): TrainingClusterContext {
  return systemContext(base, TRAINING_CLUSTER_DEFAULTS);
}
