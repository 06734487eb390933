/**
 * The ledger's activities (seed 002) against the real inferadb ledger, as
 * types: what workflows import (with `import type`) and proxy. The
 * implementations are the sibling modules, put together by `./index.ts`.
 *
 * Identifiers are the server's 64-bit Snowflake ids, carried as decimal
 * strings ({@link LedgerId}): organization and vault slugs, node ids, cluster
 * ids. Node ids are read from the servers (or from a node's `{data}/node_id`
 * file) and mapped to inventory nodes by address, never guessed.
 *
 * @module
 */
import type { EffectResult, Effectful, NodeRef } from '../common/types';
import type { LegacyLedgerActivities } from './legacy-types';

export type * from './legacy-types';

/** A 64-bit id as the ledger sends it: decimal digits (`"387995586469514240"`). */
export type LedgerId = string;

/** One vault, by its organization's and its own slug. */
export interface LedgerVaultRef {
  organization: LedgerId;
  vault: LedgerId;
}

/** A member of the GLOBAL (control-plane) group, as one node sees it. */
export interface LedgerClusterMember {
  nodeId: LedgerId;
  /** The address the member advertises (`--listen`/`--advertise`). */
  address: string;
  role: 'voter' | 'learner' | 'unknown';
  isLeader: boolean;
  /** The inventory node whose gRPC address it is, when one is. */
  node?: string;
}

/**
 * One node's own view: GetNodeInfo, GetClusterInfo and the node-level
 * HealthService.Check. A node that does not answer is a result
 * (`reachable: false`), not a failure.
 */
export interface LedgerNodeState {
  node: string;
  reachable: boolean;
  error?: string;
  nodeId?: LedgerId;
  /** The address the node advertises to its peers. */
  address?: string;
  /** Undefined until the cluster is initialized (the server says 0). */
  clusterId?: LedgerId;
  /** "uninitialized" or "running". */
  state?: string;
  term?: number;
  members?: LedgerClusterMember[];
  /** The GLOBAL leader this node believes in (it may be a dead node for a while after a failure). */
  leaderId?: LedgerId;
  /** The node-level health: healthy, degraded or unavailable. */
  health?: 'healthy' | 'degraded' | 'unavailable' | 'unknown';
  healthMessage?: string;
  /** `dep:peer_reachable`, e.g. "ok: 2/2 peers reachable" or "FAIL: 0/2 peers reachable". */
  peers?: string;
  /** Whether `dep:peer_reachable` says ok. */
  peersOk?: boolean;
}

/** A node's data directory over SSH: is it there, whose is it, does the service run. */
export interface LedgerDataDir {
  node: string;
  sshReachable: boolean;
  error?: string;
  dataDir: string;
  /** The directory exists and holds something. */
  present: boolean;
  /** `{data}/node_id`: the id the node had in the cluster. */
  nodeId?: LedgerId;
  /** `{data}/cluster_id`: the cluster it belonged to. */
  clusterId?: LedgerId;
  /** `systemctl is-active <service>`. */
  serviceActive: boolean;
  /** `inferadb-ledger --version` on the node (Lifeboat speaks 0.1.0, 21345c4). */
  version?: string;
}

/** An organization as the discovery service lists it. */
export interface LedgerOrganization {
  slug: LedgerId;
  name: string;
  region: string;
  /** e.g. ACTIVE, PROVISIONING. */
  status: string;
}

/** A vault on one node. */
export interface LedgerVaultInfo extends LedgerVaultRef {
  /** ACTIVE, READ_ONLY, DELETED (VaultService). */
  status: string;
  /** This node's replica's last applied Raft index (AdminListVaults), when the node holds the vault; it starts over when the node restarts. */
  lastAppliedIndex?: number;
  /** The block height this node's replica answers at (ListEntities, eventual read); kept across restarts. */
  height?: number;
  /** The vault group's leader as this node sees it. */
  leaderNodeId?: LedgerId;
}

/** What one node holds: organizations and vaults. */
export interface LedgerVaults {
  node: string;
  reachable: boolean;
  error?: string;
  organizations: LedgerOrganization[];
  vaults: LedgerVaultInfo[];
}

/** A vault's health on one node (HealthService.Check with the vault). */
export interface LedgerVaultHealth extends LedgerVaultRef {
  node: string;
  reachable: boolean;
  error?: string;
  /** healthy, diverged, recovering, or unknown (the node does not hold the vault). */
  status: 'healthy' | 'diverged' | 'recovering' | 'unknown';
  message?: string;
  divergedAtHeight?: number;
  recoveryAttempt?: number;
}

/** CheckIntegrity of one vault on one node. */
export interface LedgerIntegrityReport extends LedgerVaultRef {
  node: string;
  healthy: boolean;
  issues: string[];
}

/** A vault's replica on one node, from a verified read: the height and hashes it answers at. */
export interface LedgerReplicaTip extends LedgerVaultRef {
  node: string;
  reachable: boolean;
  error?: string;
  height?: number;
  blockHash?: string;
  stateRoot?: string;
}

/** What the metrics endpoint says. */
export interface LedgerMetricsReport {
  node: string;
  reachable: boolean;
  error?: string;
  /** Any `ledger_` / `inferadb_ledger_` series. */
  flowing: boolean;
  /** `ledger_determinism_bug_total` (no labels at 21345c4). */
  determinismBugs: number;
  /** `ledger_vault_health{state="diverged"}`. */
  divergedVaults: number;
}

/** A post-recovery write and its read-back on every node. */
export interface LedgerWriteCheck extends LedgerVaultRef {
  /** The node that took the write (the vault's leader). */
  leader: string;
  height: number;
  key: string;
  /** Nodes that read the value back. */
  readBack: string[];
  /** Nodes that did not (yet). */
  missing: string[];
}

/** Where an export file lives: a path on one node of the inventory. */
export interface LedgerFileRef {
  node: string;
  path: string;
}

/** What an export holds. */
export interface LedgerExportSummary {
  file: LedgerFileRef;
  /** The export's id (also the prefix of the import's idempotency keys). */
  exportId: string;
  organizations: number;
  vaults: number;
  entities: number;
  relationships: number;
  bytes: number;
  sha256: string;
  /** The highest block height a vault answered at, per `org/vault`. */
  heights: Record<string, number>;
}

/** The per-organization backups of the real backup RPCs, or why they cannot be used. */
export interface LedgerBackupStatus {
  node: string;
  available: boolean;
  /** The server's reason when not (e.g. "Backup destination directory is not configured on this node"). */
  reason?: string;
  backups: Array<{ id: string; path: string; sizeBytes: number }>;
}

/** `aws s3 ls` of an archived export: does it exist, how big, how old (the RPO). */
export interface LedgerArchiveInfo {
  source: string;
  exists: boolean;
  sizeBytes?: number;
  /** ISO time of the object (UTC). */
  takenAt?: string;
}

/**
 * A primary ledger cluster's DR region, from the inventory: the primary's
 * `settings.drCluster` names a cluster of its own whose voters take over and
 * whose `bastion` node runs `kubectl` against the engine's Kubernetes cluster.
 */
export interface LedgerDrTopology {
  primaryCluster: string;
  drCluster: string;
  /** The DR cluster's ledger voters (nodes with role `voter`, or every node but the bastion). */
  voters: string[];
  /** The node with role `bastion`, where kubectl runs. */
  bastion: string;
  /** The primary's replicated export (`settings.replicaSource` of the DR cluster). */
  replicaSource: string;
  /** What the engine is switched to (`settings.drEndpoint`, default ledger.dr-region.internal:50051). */
  endpoint: string;
  /** The engine's ConfigMap, key and Deployment (`engineConfigMap`, `endpointKey`, `engineDeployment`). */
  configMap: string;
  endpointKey: string;
  deployment: string;
  /** The DR voters' data directory (`settings.dataDir`) and working directory (ssh.workdir). */
  dataDir: string;
  workdir?: string;
}

/** The engine's `kubectl rollout status`. */
export interface LedgerEngineRollout {
  deployment: string;
  complete: boolean;
  /** Last lines of kubectl's output. */
  detail: string;
}

export interface LedgerActivities {
  // ---------------------------------------------------------------- reads --
  /** GetNodeInfo, GetClusterInfo and the node's HealthService.Check; members mapped to inventory nodes by address. */
  ledgerNodeState(input: NodeRef): Promise<LedgerNodeState>;
  /** The node's data directory over SSH: present, `node_id`, `cluster_id`, whether the service runs, the binary's version. */
  ledgerDataDir(input: NodeRef): Promise<LedgerDataDir>;
  /** Organizations (SystemDiscoveryService.GetSystemState) and vaults (ListVaults, AdminListVaults) on one node. */
  ledgerVaults(input: NodeRef): Promise<LedgerVaults>;
  /** HealthService.Check of one vault on one node: healthy, diverged or recovering. */
  ledgerVaultHealth(input: NodeRef & LedgerVaultRef): Promise<LedgerVaultHealth>;
  /** AdminService.CheckIntegrity of one vault (the seed's integrity check; see docs/ledger.md for what it checks at 21345c4). */
  ledgerIntegrity(input: NodeRef & LedgerVaultRef & { fullCheck: boolean }): Promise<LedgerIntegrityReport>;
  /** ReadService.VerifiedRead on one node: the height and hashes its replica answers at. */
  ledgerReplicaTip(input: NodeRef & LedgerVaultRef): Promise<LedgerReplicaTip>;
  /** The node's Prometheus metrics: flowing, determinism bugs, diverged vaults. */
  ledgerMetrics(input: NodeRef): Promise<LedgerMetricsReport>;
  /** AdminService.ListBackups: whether the server's own backups can be used, and which exist. */
  ledgerBackupStatus(input: NodeRef): Promise<LedgerBackupStatus>;
  /** `aws s3 ls <source>` on the node: the archived export, its size and age (source default: the cluster's settings.backupSource). */
  ledgerArchiveInfo(input: NodeRef & { source?: string }): Promise<LedgerArchiveInfo>;

  // -------------------------------------------------------------- effects --
  /** `systemctl stop <service>`; already stopped counts as done. */
  ledgerServiceStop(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `systemctl start <service>`, then wait until the node answers GetNodeInfo; already running counts as done. */
  ledgerServiceStart(input: NodeRef & Effectful): Promise<EffectResult & { nodeId?: LedgerId; clusterId?: LedgerId }>;
  /**
   * Moves the node's data directory aside (`<dataDir>.lifeboat-<id>`), kept for
   * forensics, so the node starts empty. Refused while the service runs or the
   * node answers; already moved by this step counts as done.
   */
  ledgerSetAside(input: NodeRef & Effectful & { reason: string }): Promise<EffectResult & { movedTo?: string }>;
  /** `inferadb-ledger init --host <its address>` on the node (the InitCluster call); an initialized node counts as done. */
  ledgerInit(input: NodeRef & Effectful): Promise<EffectResult & { clusterId?: LedgerId }>;
  /**
   * LeaveCluster for a member id, sent to the GLOBAL leader, then confirmed by
   * GetDecommissionStatus and GetClusterInfo (the response's `success` is not
   * trusted). Refused for a member whose node still answers with that id.
   */
  ledgerRemoveMember(input: { cluster: string; nodeId: LedgerId; dryRun?: boolean }): Promise<EffectResult & { via?: string }>;
  /** AdminService.RecoverVault on a node (the seed's "attempt automatic recovery"). */
  ledgerVaultRecover(input: NodeRef & Effectful & LedgerVaultRef & { force?: boolean }): Promise<EffectResult & { success?: boolean; health?: string }>;
  /**
   * A write through the vault's leader (found from any node), with an
   * idempotency key stable across retries, then a read of it on every node
   * of `nodes` (default: every node of the cluster).
   */
  ledgerWriteCheck(input: { cluster: string; dryRun?: boolean; nodes?: string[] } & LedgerVaultRef): Promise<LedgerWriteCheck & EffectResult>;
  /**
   * Copies every organization's and vault's entities and relationships out of
   * a node (eventual reads: a node without quorum still answers) into a file
   * on a node of the inventory (JSON lines; default path
   * `<exportDir>/export-<id>.jsonl`, the id stable across retries).
   */
  ledgerExport(input: NodeRef & Effectful & { to: { node: string; path?: string } }): Promise<EffectResult & LedgerExportSummary>;
  /**
   * Recreates an export in the cluster `node` belongs to: data regions, a
   * recovery admin user, organizations and vaults with their slugs, then the
   * data in batches whose idempotency keys derive from the export id; finally
   * counts what landed.
   */
  ledgerImport(input: NodeRef & Effectful & { from: LedgerFileRef }): Promise<EffectResult & { organizations: number; vaults: number; entities: number; relationships: number }>;
  /** `aws s3 cp <source> <path>` on the node (path default `<exportDir>/restore-<id>.jsonl`); already there with the same size counts as done. */
  ledgerArchiveFetch(input: NodeRef & Effectful & { source: string; path?: string }): Promise<EffectResult & { path: string }>;
  /** `aws s3 cp <path> <target>` on the node: an export into the archive. */
  ledgerArchivePush(input: NodeRef & Effectful & { path: string; target: string }): Promise<EffectResult>;

  // ---------------------------------------------------- regional failover --
  /** The DR region of a primary cluster, from the inventory (`settings.drCluster`, or `drCluster` given). */
  ledgerDrTopology(input: { cluster: string; drCluster?: string }): Promise<LedgerDrTopology>;
  /** `kubectl get configmap <engineConfigMap> -o json` on the bastion: the ledger endpoint the engine is configured with. */
  ledgerEngineEndpoint(input: NodeRef): Promise<{ configMap: string; key: string; endpoint?: string }>;
  /** `kubectl patch configmap <engineConfigMap> -p '{"data":{"<endpointKey>":"<endpoint>"}}'` on the bastion; an equal value counts as done. */
  ledgerSwitchEndpoint(input: NodeRef & Effectful & { endpoint: string }): Promise<EffectResult & { previous?: string }>;
  /** `kubectl rollout restart deployment/<engineDeployment>` on the bastion, once per step (a marker on the bastion). */
  ledgerRestartEngine(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `kubectl rollout status deployment/<engineDeployment> --timeout=<s>s` on the bastion (heartbeating while it waits). */
  ledgerEngineRollout(input: NodeRef & { timeoutSeconds?: number }): Promise<LedgerEngineRollout>;
}

/** Every ledger activity the worker registers: today's and the v1 names recorded histories hold. */
export type AllLedgerActivities = LedgerActivities & LegacyLedgerActivities;
