/**
 * The ledger activities Lifeboat had before it spoke the real inferadb ledger
 * (written from seed 002's text: string slugs, `--single`, `CLUSTER`/`PEERS`
 * variables, a `DIVERGED` vault status). Their names and shapes stay because
 * recorded histories hold them: the v1 scenario code under
 * `src/workflows/ledger/legacy/` replays them. The worker registers them with
 * an implementation that refuses, non-retryably, and says to start the
 * recovery again (see `./legacy.ts`).
 *
 * @deprecated for new code: see `./types.ts`.
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

/** `aws s3 ls <prefix>`: what the replicated prefix holds and when it was last written. */
export interface LedgerReplicaInfo {
  source: string;
  exists: boolean;
  objects: number;
  sizeBytes: number;
  /** Newest object's time (ISO, UTC): the last replication, so the RPO. */
  lastModified?: string;
}

export interface LegacyLedgerActivities {
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
  /** `aws s3 ls <source>` on a DR node: the replicated snapshots, their size and the time of the last replication. */
  ledgerReplicaInfo(input: NodeRef & { source: string }): Promise<LedgerReplicaInfo>;
  /** `cd <workdir> && aws s3 sync <source> <dataDir>/` on a DR node; a node whose ledger already runs on its data counts as done. */
  ledgerDrSync(input: NodeRef & Effectful & { source: string }): Promise<EffectResult & { files?: number }>;
}
