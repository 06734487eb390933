/**
 * What every system's activities share, as types: how a call names its node
 * ({@link NodeRef}), the dry-run flag of effectful activities and what they
 * return, and the common activities (SSH reachability, notifications).
 *
 * Every activity takes one object argument naming the cluster and node by
 * their inventory names; addresses, ports, users and secrets are resolved on
 * the worker, never in the workflow. Effectful activities take `dryRun` and
 * then return the exact command, request or call they would have made.
 *
 * @module
 */
/** Addresses one node of one inventory cluster. */
export interface NodeRef {
  cluster: string;
  node: string;
}

/** Common to every effectful activity. */
export interface Effectful {
  /** Describe the exact effect instead of performing it. */
  dryRun?: boolean;
}

/** What an effectful activity did, or (dry run) would have done. */
export interface EffectResult {
  /** True when nothing was done because the effect had already happened (idempotency). */
  alreadyDone?: boolean;
  dryRun?: boolean;
  /** The command line / request / call, secrets redacted. */
  plan: string;
  /** Bounded tail of the output. */
  output?: string;
}

export interface SshCheckResult {
  node: string;
  reachable: boolean;
  latencyMs?: number;
  error?: string;
}

export interface NotifyInput {
  cluster: string;
  severity: 'info' | 'warning' | 'critical';
  subject: string;
  text: string;
}

export interface CommonActivities {
  /** `echo OK` over SSH within a short deadline (the runbook's `timeout 5 ssh host "echo OK"`). */
  sshCheck(input: NodeRef): Promise<SshCheckResult>;
  /** Tell humans: worker log always, plus the inventory's notification hook if configured. */
  notify(input: NotifyInput): Promise<void>;
}
