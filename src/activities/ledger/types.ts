/**
 * The ledger's activities (seed 002), as types: what workflows import (with
 * `import type`) and proxy. The implementations are the sibling modules,
 * put together by `./index.ts`.
 *
 * @module
 */
import type { EffectResult, Effectful, NodeRef } from '../common/types';

export interface LedgerMember {
  node: string;
  role: string;
  reachable: boolean;
}

export interface LedgerNodeInfo {
  node: string;
  reachable: boolean;
  error?: string;
  clusterId?: string;
  leader?: string;
  term?: number;
  mode?: 'cluster' | 'single';
  commitIndex?: number;
  members?: LedgerMember[];
  serving?: boolean;
}

export interface LedgerVault {
  organization: string;
  vault: string;
  status: string;
  height: number;
}

export interface LedgerIntegrity {
  organization: string;
  vault: string;
  ok: boolean;
  blocksChecked: number;
  problems: string[];
}

export interface LedgerBackupInfo {
  source: string;
  exists: boolean;
  sizeBytes?: number;
  /** When the backup object was written (ISO), as `aws s3 ls` shows it (UTC). */
  takenAt?: string;
}

export interface LedgerDeterminismBugs {
  node: string;
  /** False when the metrics endpoint did not answer (then `bugs` is empty). */
  reachable: boolean;
  error?: string;
  /** Series with a count above zero. */
  bugs: Array<{ organization: string; vault: string; count: number }>;
}

export type LedgerStartMode =
  /** `inferadb-ledger --single --data DIR`: a NEW cluster from this node's data. */
  | { mode: 'single'; dataDir?: string }
  /** `INFERADB__LEDGER__CLUSTER=N INFERADB__LEDGER__PEERS=... inferadb-ledger`. */
  | { mode: 'cluster'; size: number; peers: string[]; dataDir?: string }
  /** `INFERADB__LEDGER__JOIN=true INFERADB__LEDGER__PEERS=seed:port inferadb-ledger`. */
  | { mode: 'join'; peers: string[] };

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
  /** Replicated snapshots (`settings.replicaSource`, default s3://ledger-primary-backups/latest/). */
  replicaSource: string;
  /** What the engine is switched to (`settings.drEndpoint`, default ledger.dr-region.internal:50051). */
  endpoint: string;
  /** The engine's ConfigMap, key and Deployment (`engineConfigMap`, `endpointKey`, `engineDeployment`). */
  configMap: string;
  endpointKey: string;
  deployment: string;
  /** The DR voters' data directory (`settings.dataDir`, the runbook's ./data) and working directory (ssh.workdir, /dr-region). */
  dataDir: string;
  workdir?: string;
}

/** `aws s3 ls <prefix>`: what the replicated prefix holds and when it was last written. */
export interface LedgerReplicaInfo {
  source: string;
  exists: boolean;
  objects: number;
  sizeBytes: number;
  /** Newest object's time (ISO, UTC): the last replication, so the RPO. */
  lastModified?: string;
}

/** The engine's `kubectl rollout status`. */
export interface LedgerEngineRollout {
  deployment: string;
  complete: boolean;
  /** Last lines of kubectl's output. */
  detail: string;
}

export interface LedgerActivities {
  /** GetClusterInfo + HealthService.Check on one node; unreachable is a result, not a failure. */
  ledgerNodeInfo(input: NodeRef): Promise<LedgerNodeInfo>;
  /** `systemctl stop ledger` over SSH; already stopped counts as done. */
  ledgerStop(input: NodeRef & Effectful): Promise<EffectResult>;
  /** Start the ledger service in the given mode over SSH; already running in that mode counts as done. */
  ledgerStart(input: NodeRef & Effectful & { start: LedgerStartMode }): Promise<EffectResult>;
  /**
   * `AdminService/LeaveCluster` for `leaving`, sent to the healthy member `node`
   * (the runbook's `grpcurl healthy-node:50051 ... LeaveCluster`); a node that is
   * no longer a member counts as done.
   */
  ledgerLeaveCluster(input: NodeRef & Effectful & { leaving: string }): Promise<EffectResult>;
  /** `rm -rf <data>/*` on a replacement node over SSH, so it can join without old state. */
  ledgerClearData(input: NodeRef & Effectful): Promise<EffectResult>;
  /** Every vault the node holds, with its organization, status and height. */
  ledgerListVaults(input: NodeRef): Promise<LedgerVault[]>;
  /** CheckIntegrity of one vault (a full check reads every block; heartbeats meanwhile). */
  ledgerCheckIntegrity(input: NodeRef & { organization: string; vault: string; fullCheck: boolean }): Promise<LedgerIntegrity>;
  /** A write with an idempotency key then a read of the tip: the checklist's "writes and reads succeed". */
  ledgerWriteRead(input: NodeRef & Effectful & { organization: string; vault: string }): Promise<EffectResult & { height?: number }>;
  /** True when the metrics endpoint answers with ledger_* series. */
  ledgerMetricsFlowing(input: NodeRef): Promise<boolean>;
  /** `aws s3 ls <source>` on the node: does the backup exist, how big, how old (the RPO). */
  ledgerBackupInfo(input: NodeRef & { source: string }): Promise<LedgerBackupInfo>;
  /** `mkdir -p R && aws s3 cp <source> R/ && tar -xzf R/<file> -C R` on the node; R defaults to `<dataDir>/restore`. */
  ledgerFetchBackup(input: NodeRef & Effectful & { source: string; restoreDir?: string }): Promise<EffectResult & { restoreDir: string }>;
  /** `ReadService/GetTip`: a vault's block height and tip hash. */
  ledgerGetTip(input: NodeRef & { organization: string; vault: string }): Promise<{ height: number; hash: string }>;
  /** `ledger_determinism_bug_total` per vault from the node's metrics (the runbook's `curl .../metrics | grep determinism_bug`). */
  ledgerDeterminismBugs(input: NodeRef): Promise<LedgerDeterminismBugs>;
  /** `AdminService/GetVault`: the vault's status (ACTIVE, DIVERGED...) and height on one node. */
  ledgerGetVault(input: NodeRef & { organization: string; vault: string }): Promise<LedgerVault>;
  /** `AdminService/RecoverVault` on the node holding the diverged vault; an intact vault is left as it is. */
  ledgerRecoverVault(input: NodeRef & Effectful & { organization: string; vault: string }): Promise<EffectResult & { recovered?: boolean; status?: string }>;
  /** `AdminService/CreateSnapshot` of a vault on a healthy node. */
  ledgerCreateSnapshot(input: NodeRef & Effectful & { organization: string; vault: string }): Promise<EffectResult & { snapshotId?: string; height?: number }>;
  /** The DR region of a primary cluster, from the inventory (`settings.drCluster`, or `drCluster` given). */
  ledgerDrTopology(input: { cluster: string; drCluster?: string }): Promise<LedgerDrTopology>;
  /** `aws s3 ls <source>` on a DR node: the replicated snapshots, their size and the time of the last replication. */
  ledgerReplicaInfo(input: NodeRef & { source: string }): Promise<LedgerReplicaInfo>;
  /** `cd <workdir> && aws s3 sync <source> <dataDir>/` on a DR node; a node whose ledger already runs on its data counts as done. */
  ledgerDrSync(input: NodeRef & Effectful & { source: string }): Promise<EffectResult & { files?: number }>;
  /** `kubectl get configmap <engineConfigMap> -o json` on the bastion: the ledger endpoint the engine is configured with. */
  ledgerEngineEndpoint(input: NodeRef): Promise<{ configMap: string; key: string; endpoint?: string }>;
  /** `kubectl patch configmap <engineConfigMap> -p '{"data":{"<endpointKey>":"<endpoint>"}}'` on the bastion; an equal value counts as done. */
  ledgerSwitchEndpoint(input: NodeRef & Effectful & { endpoint: string }): Promise<EffectResult & { previous?: string }>;
  /** `kubectl rollout restart deployment/<engineDeployment>` on the bastion, once per step (a marker on the bastion). */
  ledgerRestartEngine(input: NodeRef & Effectful): Promise<EffectResult>;
  /** `kubectl rollout status deployment/<engineDeployment> --timeout=<s>s` on the bastion (heartbeating while it waits). */
  ledgerEngineRollout(input: NodeRef & { timeoutSeconds?: number }): Promise<LedgerEngineRollout>;
}
