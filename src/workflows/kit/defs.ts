/**
 * The message contract of every recovery workflow: the updates an operator
 * sends (approve, reject, decide), the queries the CLI and UI read (progress,
 * report), the search attributes that make recoveries listable, and the plain
 * JSON records they carry. Client, CLI and tests import these constants; the
 * workflow side registers handlers for them in {@link ./recovery}.
 *
 * Everything here is plain data: it travels through workflow history and
 * continue-as-new, so no Maps, Dates or class instances.
 *
 * @module
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ApprovalPolicy, SignedStatement } from '../../approvals';

export type { ApprovalPolicy, SignedStatement };

/** What a step does when its activity failed after all of its retries. */
export type FailurePolicy = 'fail' | 'continue' | 'ask';

/** An operator's answer to a step that failed under the `ask` policy. */
export type Decision = 'retry' | 'skip' | 'abort';

export type StepStatus = 'running' | 'succeeded' | 'failed' | 'skipped' | 'continued' | 'dry-run';

/** One runbook step as it appears in `lifeboat watch` and in the report. */
export interface StepRecord {
  id: number;
  title: string;
  status: StepStatus;
  /** ISO timestamps from the workflow clock. */
  startedAt: string;
  endedAt?: string;
  /** How many times the kit ran the step (operator retries add one each). */
  attempts: number;
  /** Last failure message, if any. */
  error?: string;
  /** Short result or the dry-run plan, for the report. */
  detail?: string;
  /** For fan-out steps: per-target outcome. */
  targets?: Record<string, 'pending' | 'running' | 'succeeded' | 'failed'>;
}

export type GateStatus = 'waiting' | 'approved' | 'rejected' | 'timed-out';

/** A human gate (`approve`). */
export interface GateRecord {
  gate: string;
  title: string;
  dangerous: boolean;
  status: GateStatus;
  requestedAt: string;
  deadline: string;
  /** Facts shown to the approver: what will happen and why. */
  evidence: Record<string, string>;
  /** When the gate asks the approver to pick one of several options. */
  choices?: string[];
  /** When the approver answers with a value of their own (`--choice`): its form (a regex, full match) and an example. Never a secret: it is recorded. */
  choiceFormat?: { pattern: string; example: string };
  decidedAt?: string;
  by?: string;
  reason?: string;
  choice?: string;
  escalations: number;
  /** Which opening of this gate (1, then 2 after a timed-out gate is reopened...): signed answers name it. */
  attempt?: number;
  /** `sha256:...` of what the approver is shown (gate, title, dangerous, evidence, choices): signed answers name it. */
  evidenceDigest?: string;
  /** How many distinct approvers (keys and principals) the gate needs; default 1. */
  required?: number;
  /** Each approval received, with the key that signed it (signed mode). */
  approvals?: ApprovalRecord[];
  /** The rejection, with the key that signed it (signed mode). */
  rejection?: ApprovalRecord;
}

/** One approver's answer on a gate (or a decision), as recorded. */
export interface ApprovalRecord {
  by: string;
  at: string;
  reason: string;
  choice?: string;
  /** The signing key's `SHA256:...` fingerprint and type; absent when the identity was not verified (unsigned mode). */
  keyFingerprint?: string;
  keyType?: string;
  signedAt?: string;
}

export type WaitKind = 'approval' | 'decision' | 'timer' | 'poll';

/** What the recovery is waiting for right now. */
export interface WaitRecord {
  kind: WaitKind;
  title: string;
  since: string;
  /** When the wait ends on its own (timer end, approval deadline, poll bound). */
  until?: string;
  /** For a poll: when the durable sleep before the next probe ends. */
  nextProbeAt?: string;
}

/** A step that failed after its retries and waits for `retry | skip | abort`. */
export interface PendingDecision {
  stepId: number;
  step: string;
  error: string;
  since: string;
  /** The decisions accepted here; absent means all three. */
  choices?: Decision[];
  /** Which decision point of the recovery this is (1, 2, ...): signed answers name it. */
  attempt?: number;
  /** `sha256:...` of what the operator is shown (step, error, choices): signed answers name it. */
  evidenceDigest?: string;
}

export type TimelineKind =
  | 'started'
  | 'step-started'
  | 'step-succeeded'
  | 'step-failed'
  | 'step-skipped'
  | 'gate-requested'
  | 'gate-approved'
  | 'gate-rejected'
  | 'gate-timed-out'
  | 'decision'
  | 'stabilize'
  | 'wait'
  | 'rto-target-crossed'
  | 'rto-max-crossed'
  | 'note'
  | 'finished';

export interface TimelineEntry {
  at: string;
  kind: TimelineKind;
  text: string;
}

export type RecoveryStatus = 'running' | 'waiting-approval' | 'waiting-decision' | 'completed' | 'failed' | 'aborted';

/** Recovery-time objective of a scenario, from its seed runbook. */
export interface RtoBudget {
  /** Target recovery time in minutes (0 means "automatic" in the seed). */
  targetMinutes: number;
  /** Maximum acceptable recovery time in minutes. */
  maxMinutes: number;
  targetCrossedAt?: string;
  maxCrossedAt?: string;
}

/** The whole live state of one recovery: answer of the `progress` query. */
export interface Progress {
  scenario: string;
  title: string;
  seed: string;
  cluster: string;
  startedBy: string;
  startedAt: string;
  endedAt?: string;
  dryRun: boolean;
  status: RecoveryStatus;
  currentStep?: string;
  steps: StepRecord[];
  gates: GateRecord[];
  wait?: WaitRecord;
  pendingDecision?: PendingDecision;
  rto: RtoBudget;
  /** Milliseconds since start, on the workflow clock, at the time of the query. */
  elapsedMs: number;
  timeline: TimelineEntry[];
  /** Facts for the report: impact, root cause, resolution, findings. */
  facts: Record<string, string>;
  outcome?: string;
  /** How answers are identified: `signed` (verified keys), `unsigned` (names, "identity not verified"); absent on recoveries started before signed approvals. */
  approvalMode?: 'signed' | 'unsigned';
  /** The starter's key fingerprint (signed mode). */
  startedByKey?: string;
  /** Every decision that was recorded with who and how it was identified (start, approvals, rejections, decisions). */
  signatures?: Array<{ kind: 'start' | 'approve' | 'reject' | 'decide'; target?: string; attempt?: number; by: string; keyFingerprint?: string; at: string }>;
}

/** Arguments of the `approve` update. */
export interface ApproveArgs {
  gate: string;
  /** Who approves (required, non-empty). */
  by: string;
  reason: string;
  /** For dangerous gates: the cluster's name typed back. */
  confirm?: string;
  /** For gates with choices: the option picked. */
  choice?: string;
  /** The signed statement of this approval (required when the cluster's approvals are signed). */
  signed?: SignedStatement;
}

export interface RejectArgs {
  gate: string;
  by: string;
  reason: string;
  signed?: SignedStatement;
}

export interface DecideArgs {
  decision: Decision;
  by: string;
  reason?: string;
  signed?: SignedStatement;
}

export const approveUpdate = defineUpdate<GateRecord, [ApproveArgs]>('approve');
export const rejectUpdate = defineUpdate<GateRecord, [RejectArgs]>('reject');
export const decideUpdate = defineUpdate<PendingDecision, [DecideArgs]>('decide');
export const progressQuery = defineQuery<Progress>('progress');
/** How the recovery's answers are identified (its input's policy, public keys only); undefined on recoveries started before signed approvals. */
export const approvalPolicyQuery = defineQuery<ApprovalPolicy | undefined>('approval-policy');

/** Search attributes Lifeboat registers and keeps current on every recovery. */
export const SA_SCENARIO = defineSearchAttributeKey('LifeboatScenario', SearchAttributeType.KEYWORD);
export const SA_CLUSTER = defineSearchAttributeKey('LifeboatCluster', SearchAttributeType.KEYWORD);
export const SA_STEP = defineSearchAttributeKey('LifeboatStep', SearchAttributeType.TEXT);
export const SA_AWAITING_APPROVAL = defineSearchAttributeKey('LifeboatAwaitingApproval', SearchAttributeType.BOOL);

/** Name and type of each search attribute, for `temporal operator search-attribute create`. */
export const SEARCH_ATTRIBUTES: ReadonlyArray<{ name: string; type: 'Keyword' | 'Text' | 'Bool' }> = [
  { name: 'LifeboatScenario', type: 'Keyword' },
  { name: 'LifeboatCluster', type: 'Keyword' },
  { name: 'LifeboatStep', type: 'Text' },
  { name: 'LifeboatAwaitingApproval', type: 'Bool' },
];

/** A node of the cluster as the workflow sees it: names and roles, never addresses or secrets. */
export interface NodeTopology {
  name: string;
  roles: string[];
}

export interface ClusterTopology {
  name: string;
  system: string;
  nodes: NodeTopology[];
}

/** Operator-tunable timing of a recovery; all optional, durations as Temporal duration strings. */
export interface RecoveryOptions {
  /** How long a gate waits before escalating (default 30 minutes). */
  approvalTimeout?: string;
  /** After an escalation: fail the recovery or ask the operator (default ask). */
  approvalEscalation?: 'fail' | 'ask';
  /** Scale every stabilize/poll duration (tests, rehearsals); default 1. */
  timeScale?: number;
}

/** The one input object every scenario workflow takes. New fields stay optional. */
export interface RecoveryInput<P = Record<string, unknown>> {
  scenario: string;
  cluster: ClusterTopology;
  params: P;
  startedBy: string;
  dryRun?: boolean;
  options?: RecoveryOptions;
  /** How approvals are identified (absent on recoveries started before signed approvals: names, as then). */
  approvals?: ApprovalPolicy;
  /** The starter's signed start statement (signed mode). */
  startSigned?: SignedStatement;
}
