/**
 * The per-recovery state of the kit: one {@link Progress} record, the input,
 * and the operator messages received but not yet consumed. Each workflow
 * execution runs in its own isolate, so module state is per recovery.
 *
 * Internal to the kit: scenarios use the verbs in {@link ./index}.
 *
 * @module
 */
import { patched, setCurrentDetails, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { ScenarioMeta } from '../scenarios';
import {
  SA_AWAITING_APPROVAL,
  SA_STEP,
  type ApproveArgs,
  type DecideArgs,
  type Progress,
  type RecoveryInput,
  type RejectArgs,
  type TimelineKind,
} from './defs';
import { MEMO_KEY, recoveryMemo } from './memo';
import { VISIBILITY_MEMO } from './versions';

export interface Runtime {
  meta: ScenarioMeta;
  input: RecoveryInput;
  progress: Progress;
  /** Decisions received by the update handlers, keyed by gate name. */
  gateAnswers: Record<string, { approved: boolean; args: ApproveArgs | RejectArgs }>;
  decision?: DecideArgs;
  /** The key that signed {@link decision} (signed mode). */
  decisionKey?: string;
  nextStepId: number;
  /** Signed mode: digests of the signatures already accepted (each statement is used once). */
  usedSignatures: string[];
  /** How many times each gate was opened (a reopened gate is a new attempt). */
  gateAttempts: Record<string, number>;
  /** How many decision points the recovery has asked so far. */
  decisionSeq: number;
  /** Whether search attributes are kept up to date (off only where the server lacks them). */
  searchAttributes: boolean;
  /** The memo last written (JSON), so that only a change is written (./memo.ts). */
  lastMemo?: string;
}

let rt: Runtime | undefined;

/** The current recovery's runtime; throws when a kit verb is used outside {@link runRecovery}. */
export function runtime(): Runtime {
  if (!rt) throw new Error('Lifeboat kit used outside runRecovery(): wrap the scenario body in runRecovery');
  return rt;
}

export function initRuntime(r: Runtime): void {
  rt = r;
}

/** Workflow-clock time as ISO text (deterministic inside a workflow). */
export function nowIso(): string {
  return new Date().toISOString();
}

export function timeline(kind: TimelineKind, text: string): void {
  runtime().progress.timeline.push({ at: nowIso(), kind, text });
}

/** Scales a duration in ms by the recovery's `timeScale` (rehearsals run faster). */
export function scaled(ms: number): number {
  const scale = runtime().input.options?.timeScale ?? 1;
  return Math.max(1, Math.round(ms * scale));
}

export function isDryRun(): boolean {
  return runtime().input.dryRun === true;
}

/**
 * Why a step's result is missing from an outcome: in a dry run the step only
 * planned (nothing to verify), otherwise the operator skipped it.
 * `skipped('verification')` → "verification skipped by the operator" or
 * "verification not run (dry run)".
 */
export function skipped(what: string): string {
  return isDryRun() ? `${what} not run (dry run)` : `${what} skipped by the operator`;
}

/**
 * Pushes the state to the UI and to visibility: current details (Markdown),
 * search attributes, and (behind the {@link VISIBILITY_MEMO} patch) the memo
 * that `lifeboat approvals` and `lifeboat list` read without a worker,
 * written only when it changed. Called at every step, wait and gate
 * transition.
 */
export function publish(): void {
  const { progress, searchAttributes } = runtime();
  const waitingGates = progress.gates.filter((g) => g.status === 'waiting');
  const lines = [
    `**${progress.title}** on \`${progress.cluster}\`${progress.dryRun ? ' (dry run)' : ''}`,
    '',
    `Status: ${progress.status}${progress.currentStep ? ` — step: ${progress.currentStep}` : ''}`,
  ];
  if (progress.wait) {
    lines.push(`Waiting: ${progress.wait.title}${progress.wait.until ? ` (until ${progress.wait.until})` : ''}`);
  }
  if (progress.approvalMode === 'unsigned') lines.push('Approvals: by name, identity not verified (the cluster declares unsigned approvals)');
  if (progress.approvalMode === 'signed') lines.push(`Approvals: signed with SSH keys, verified by the workflow (started by ${progress.startedBy}, key ${progress.startedByKey ?? '?'})`);
  for (const g of waitingGates) {
    const more = (g.required ?? 1) > 1 ? ` (${g.approvals?.length ?? 0} of ${g.required} approvals)` : '';
    lines.push(
      `Approval needed: \`${g.gate}\` — ${g.title}${more}. ` +
        `\`lifeboat approve ${workflowInfo().workflowId} ${g.gate} --as NAME --reason TEXT${g.dangerous ? ` --confirm ${progress.cluster}` : ''}\``,
    );
  }
  if (progress.pendingDecision) {
    lines.push(
      `Step failed: ${progress.pendingDecision.step}: ${progress.pendingDecision.error}. ` +
        `Decide: \`lifeboat decide ${workflowInfo().workflowId} ${(progress.pendingDecision.choices ?? ['retry', 'skip', 'abort']).join('|')} --as NAME\``,
    );
  }
  lines.push(`Steps done: ${progress.steps.filter((s) => s.endedAt).length}`);
  setCurrentDetails(lines.join('\n'));
  if (searchAttributes) {
    upsertSearchAttributes([
      { key: SA_STEP, value: progress.currentStep ?? progress.status },
      { key: SA_AWAITING_APPROVAL, value: waitingGates.length > 0 },
    ]);
  }
  if (patched(VISIBILITY_MEMO)) {
    const r = runtime();
    const memo = recoveryMemo(progress, workflowInfo().workflowId);
    const text = JSON.stringify(memo);
    if (text !== r.lastMemo) {
      upsertMemo({ [MEMO_KEY]: memo });
      r.lastMemo = text;
    }
  }
}
