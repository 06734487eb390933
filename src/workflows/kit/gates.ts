/**
 * Human gates and operator decisions: `approve(gate)` waits for an approve or
 * reject update; a step that failed under the `ask` policy waits for
 * `retry | skip | abort`. Both are Temporal Updates whose synchronous
 * validators refuse bad requests at once, so the caller learns immediately
 * whether it was accepted.
 *
 * @module
 */
import { ApplicationFailure, condition, workflowInfo } from '@temporalio/workflow';
import { decisionEvidence, digestOf, gateEvidence, verifySignedRequest, type SignedStatement, type VerifiedRequest } from '../../approvals';
import { activities } from './activities';
import type { ApprovalRecord, ApproveArgs, Decision, DecideArgs, GateRecord, PendingDecision, RejectArgs } from './defs';
import { isDryRun, nowIso, publish, runtime, timeline } from './state';

export interface ApproveOptions {
  /** What the approver is asked to allow, in words. */
  title: string;
  /** Facts the approver needs: what will happen, evidence, risks. */
  evidence?: Record<string, string>;
  /** Overrides the catalogue's dangerous-gate list. Dangerous gates need the cluster name typed back and a second person. */
  dangerous?: boolean;
  /** Options the approver picks from (e.g. which node becomes leader); the approval must name one. */
  choices?: string[];
  /**
   * The approver answers with a value of this form instead (or besides one of
   * `choices`), e.g. a secret *reference*: `pattern` is a regular expression
   * the whole value must match, `example` shows the form. The value is
   * recorded in history: never ask for a secret itself.
   */
  choiceFormat?: { pattern: string; example: string };
  /** How long to wait before escalating; default the recovery's `approvalTimeout` or 30 minutes. */
  timeout?: string;
  /** After escalating: fail the recovery, or ask the operator (retry the wait, abort; skip only when `skippable`). */
  onTimeout?: 'fail' | 'ask';
  /**
   * How many distinct approvers (distinct keys and principals) the gate needs;
   * the cluster's `approvals.required` may raise it. Default 1.
   */
  approvers?: number;
  /**
   * Whether an operator may `skip` this gate after its approval timed out. The
   * gate then returns `approved: false` and the scenario must not do the gated
   * action (it checks `approved`). Default false: a gate that guards an action
   * the scenario would still take can only be waited for again or aborted.
   */
  skippable?: boolean;
}

/** The approver's answer. */
export interface Approval {
  approved: boolean;
  by: string;
  reason: string;
  choice?: string;
}

const DEFAULT_APPROVAL_TIMEOUT = '30 minutes';

/** Parses the small set of duration strings the kit accepts ("90s", "30m", "2h", "30 minutes", ms number). */
export function durationMs(d: string | number): number {
  if (typeof d === 'number') return d;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)?\s*$/.exec(d);
  if (!m) throw ApplicationFailure.nonRetryable(`invalid duration "${d}": use e.g. "90s", "30m", "2h"`, 'InvalidArgument');
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  if (unit === 'ms') return n;
  if (unit.startsWith('s')) return n * 1000;
  if (unit.startsWith('m')) return n * 60_000;
  return n * 3_600_000;
}

/**
 * In signed mode, verifies an answer's signed statement against the waiting
 * gate or decision point (see {@link verifySignedRequest}) and that it was not
 * used before. Unsigned mode (and recoveries started before signed
 * approvals): undefined, the name is taken as given.
 */
function verifyAnswer(
  kind: 'approve' | 'reject' | 'decide',
  args: { by: string; reason?: string; choice?: string; decision?: string; signed?: SignedStatement },
  target: string,
  attempt: number | undefined,
  evidence: string | undefined,
): VerifiedRequest | undefined {
  const r = runtime();
  const policy = r.input.approvals;
  if (policy?.mode !== 'signed') return undefined;
  const info = workflowInfo();
  const v = verifySignedRequest(
    policy,
    args.signed,
    {
      kind,
      namespace: info.namespace,
      workflowId: info.workflowId,
      runId: info.runId,
      cluster: r.progress.cluster,
      target,
      attempt,
      decision: kind === 'decide' ? args.decision : kind,
      choice: args.choice,
      reason: args.reason,
      evidence,
      principal: args.by.trim(),
    },
    nowIso(),
  );
  if (r.usedSignatures.includes(v.signatureDigest)) throw new Error('this signed statement was already used once: sign a new one (the lifeboat CLI does at every command)');
  return v;
}

/** The recorded form of one answer. */
function answerRecord(args: { by: string; reason?: string; choice?: string }, v: VerifiedRequest | undefined): ApprovalRecord {
  return {
    by: args.by.trim(),
    at: nowIso(),
    reason: args.reason ?? '',
    ...(args.choice !== undefined ? { choice: args.choice } : {}),
    ...(v ? { keyFingerprint: v.key.fingerprint, keyType: v.key.type, signedAt: v.statement.signedAt } : {}),
  };
}

/** Marks a verified statement used and lists it among the recovery's signed decisions. */
function recordSigned(kind: 'approve' | 'reject' | 'decide', target: string, attempt: number | undefined, by: string, v: VerifiedRequest | undefined): void {
  const r = runtime();
  if (v) r.usedSignatures.push(v.signatureDigest);
  if (r.progress.approvalMode) {
    (r.progress.signatures ??= []).push({ kind, target, ...(attempt !== undefined ? { attempt } : {}), by, ...(v ? { keyFingerprint: v.key.fingerprint } : {}), at: nowIso() });
  }
}

/** " (key SHA256:...)" for the timeline, when the answer was signed. */
function keyNote(v: { keyFingerprint?: string } | undefined): string {
  return v?.keyFingerprint ? ` (key ${v.keyFingerprint})` : '';
}

/** Validator of the `approve` update (synchronous: throws to refuse). */
export function validateApprove(args: ApproveArgs): void {
  const { progress, input } = runtime();
  const gate = findWaitingGate(args?.gate);
  requireIdentity(args.by);
  if (!args.reason || !args.reason.trim()) throw new Error('a reason is required: say why this is safe (--reason)');
  if (gate.dangerous) {
    if (args.by.trim() === input.startedBy) {
      throw new Error(
        `gate "${gate.gate}" is dangerous: ${args.by} started this recovery and cannot also approve it; ask a second person`,
      );
    }
    if (args.confirm !== progress.cluster) {
      throw new Error(
        `gate "${gate.gate}" is dangerous: type the cluster's name back to confirm (--confirm ${progress.cluster})`,
      );
    }
  }
  if (gate.choiceFormat) {
    const fits = typeof args.choice === 'string' && (new RegExp(`^(?:${gate.choiceFormat.pattern})$`).test(args.choice) || (gate.choices ?? []).includes(args.choice));
    // The value is not echoed: a mistyped answer may be the secret itself.
    if (!fits) throw new Error(`gate "${gate.gate}" needs --choice in the form ${gate.choiceFormat.example}${gate.choices?.length ? ` or one of ${gate.choices.join(', ')}` : ''} (what was given does not fit)`);
  } else if (gate.choices && gate.choices.length > 0) {
    if (!args.choice || !gate.choices.includes(args.choice)) {
      throw new Error(`gate "${gate.gate}" needs a choice: one of ${gate.choices.join(', ')} (--choice)`);
    }
  } else if (args.choice !== undefined) {
    throw new Error(`gate "${gate.gate}" offers no choices; drop --choice`);
  }
  const v = verifyAnswer('approve', args, gate.gate, gate.attempt, gate.evidenceDigest);
  const prior = gate.approvals ?? [];
  const left = (gate.required ?? 1) - prior.length;
  if (v && gate.dangerous && progress.startedByKey === v.key.fingerprint) {
    throw new Error(
      `gate "${gate.gate}" is dangerous: key ${v.key.fingerprint} started this recovery (as ${input.startedBy}) and cannot also approve it under any name; a second person must approve with their own key`,
    );
  }
  const sameKey = v ? prior.find((a) => a.keyFingerprint === v.key.fingerprint) : undefined;
  if (sameKey) throw new Error(`key ${v!.key.fingerprint} already approved "${gate.gate}" (as ${sameKey.by}); it needs ${left} more approval(s), each by another person's key`);
  const samePerson = prior.find((a) => a.by === args.by.trim());
  if (samePerson) throw new Error(`${samePerson.by} already approved "${gate.gate}"; it needs ${left} more approval(s), each by another person`);
}

/** Validator of the `reject` update. */
export function validateReject(args: RejectArgs): void {
  const gate = findWaitingGate(args?.gate);
  requireIdentity(args.by);
  if (!args.reason || !args.reason.trim()) throw new Error('a reason is required when rejecting (--reason)');
  verifyAnswer('reject', args, gate.gate, gate.attempt, gate.evidenceDigest);
}

/** Validator of the `decide` update. */
export function validateDecide(args: DecideArgs): void {
  const { progress } = runtime();
  if (!progress.pendingDecision) {
    throw new Error('nothing is waiting for a decision: no step has failed awaiting retry|skip|abort');
  }
  if (!['retry', 'skip', 'abort'].includes(args?.decision)) {
    throw new Error(`decision must be retry, skip or abort (got "${String(args?.decision)}")`);
  }
  const allowed = progress.pendingDecision.choices;
  if (allowed && !allowed.includes(args.decision)) {
    throw new Error(
      `"${args.decision}" is not possible on "${progress.pendingDecision.step}": answer ${allowed.join(' or ')}` +
        (args.decision === 'skip' ? ' (skipping this gate would run the step it guards without an approval)' : ''),
    );
  }
  requireIdentity(args.by);
  verifyAnswer('decide', args, progress.pendingDecision.step, progress.pendingDecision.attempt, progress.pendingDecision.evidenceDigest);
}

function requireIdentity(by: unknown): void {
  if (typeof by !== 'string' || !by.trim()) throw new Error('an identity is required: who decides (--as NAME)');
}

function findWaitingGate(name: unknown): GateRecord {
  const { progress } = runtime();
  const waiting = progress.gates.filter((g) => g.status === 'waiting');
  const gate = progress.gates.filter((g) => g.gate === name).at(-1);
  if (!gate) {
    const known = waiting.map((g) => g.gate);
    throw new Error(
      `unknown gate "${String(name)}"; ${known.length ? `waiting: ${known.join(', ')}` : 'no gate is waiting'}`,
    );
  }
  if (gate.status !== 'waiting') {
    const who = gate.by ? ` by ${gate.by}` : '';
    throw new Error(`gate "${gate.gate}" is no longer waiting: it was ${gate.status}${who} at ${gate.decidedAt ?? '?'}`);
  }
  return gate;
}

/**
 * Handler of the `approve` / `reject` updates: records the answer (and, signed,
 * the key it was verified with: the validator does not run on replay, so the
 * handler derives the key itself); the waiting `approve()` goes on once the
 * gate has all the approvals it needs, or at the first rejection.
 */
export function answerGate(approved: boolean, args: ApproveArgs | RejectArgs): GateRecord {
  const r = runtime();
  const gate = findWaitingGate(args.gate);
  const v = verifyAnswer(approved ? 'approve' : 'reject', args, gate.gate, gate.attempt, gate.evidenceDigest);
  const record = answerRecord(args, v);
  recordSigned(approved ? 'approve' : 'reject', gate.gate, gate.attempt, record.by, v);
  if (!approved) {
    gate.rejection = record;
    r.gateAnswers[gate.gate] = { approved, args };
    return gate;
  }
  gate.approvals = [...(gate.approvals ?? []), record];
  const required = gate.required ?? 1;
  if (gate.approvals.length >= required) {
    r.gateAnswers[gate.gate] = { approved, args };
  } else {
    timeline('note', `${record.by} approved "${gate.gate}"${keyNote(record)} (${gate.approvals.length} of ${required}): ${record.reason}`);
    publish();
  }
  return gate;
}

/** Handler of the `decide` update. */
export function answerDecision(args: DecideArgs): PendingDecision {
  const r = runtime();
  const pending = r.progress.pendingDecision;
  if (!pending) throw new Error('nothing is waiting for a decision');
  const v = verifyAnswer('decide', args, pending.step, pending.attempt, pending.evidenceDigest);
  recordSigned('decide', pending.step, pending.attempt, args.by.trim(), v);
  r.decision = args;
  r.decisionKey = v?.key.fingerprint;
  return pending;
}

/**
 * A human gate. Waits for an `approve` or `reject` update carrying who and
 * why; escalates when nobody answers within the timeout (notify, then fail or
 * ask the operator). In a dry run the gate is recorded and passes.
 *
 * @param gate stable gate name (what operators type), e.g. "single-node-bootstrap"
 * @returns the approval; a rejection throws `GateRejected` (nothing after it runs)
 *
 * @example
 * ```ts
 * await approve('single-node-bootstrap', {
 *   title: 'Start node1 with --single: a NEW cluster identity',
 *   evidence: { survivor: 'node1', 'commit index': '1042' },
 * });
 * ```
 */
export async function approve(gate: string, opts: ApproveOptions): Promise<Approval> {
  const r = runtime();
  const { progress, meta, input } = r;
  const dangerous = opts.dangerous ?? meta.dangerousGates.includes(gate);
  const timeoutMs = durationMs(opts.timeout ?? input.options?.approvalTimeout ?? DEFAULT_APPROVAL_TIMEOUT);
  const onTimeout = opts.onTimeout ?? input.options?.approvalEscalation ?? 'ask';
  const required = Math.max(opts.approvers ?? 1, input.approvals?.required?.[gate] ?? 1);
  const record: GateRecord = {
    gate,
    title: opts.title,
    dangerous,
    status: 'waiting',
    requestedAt: nowIso(),
    deadline: new Date(Date.now() + timeoutMs).toISOString(),
    evidence: opts.evidence ?? {},
    choices: opts.choices,
    ...(opts.choiceFormat ? { choiceFormat: opts.choiceFormat } : {}),
    escalations: 0,
  };
  // What a signed answer must name: this opening of the gate and what the approver is shown.
  record.attempt = r.gateAttempts[gate] = (r.gateAttempts[gate] ?? 0) + 1;
  record.evidenceDigest = digestOf(gateEvidence(record));
  if (required > 1) record.required = required;
  progress.gates.push(record);
  delete r.gateAnswers[gate];

  if (isDryRun()) {
    record.status = 'approved';
    record.by = 'dry-run';
    record.reason = 'dry run: gates are recorded, not awaited';
    record.decidedAt = nowIso();
    record.choice = opts.choices?.[0];
    timeline('gate-approved', `Dry run: would ask for approval of "${gate}" (${opts.title})`);
    return { approved: true, by: 'dry-run', reason: record.reason, choice: record.choice };
  }

  timeline('gate-requested', `Approval requested: ${gate} — ${opts.title}${dangerous ? ' (dangerous)' : ''}`);
  // Waiting from now on, also while the notification goes out: a query then sees the gate and the status together.
  progress.status = 'waiting-approval';
  await notifyQuietly(
    dangerous ? 'critical' : 'warning',
    `Approval needed on ${progress.cluster}: ${gate}`,
    `${opts.title}\nApprove: lifeboat approve ${workflowInfo().workflowId} ${gate} --as NAME --reason TEXT` +
      (dangerous ? ` --confirm ${progress.cluster}` : ''),
  );

  for (;;) {
    const answered = await waitUntil(
      { kind: 'approval', title: `approval of ${gate}`, until: record.deadline, status: 'waiting-approval' },
      () => r.gateAnswers[gate] !== undefined,
      timeoutMs,
    );
    if (answered) break;
    record.escalations += 1;
    timeline('gate-timed-out', `No answer on "${gate}" within ${Math.round(timeoutMs / 60000)} min: escalated`);
    await notifyQuietly(
      'critical',
      `ESCALATION: approval of ${gate} on ${progress.cluster} is overdue`,
      `Nobody answered "${opts.title}" since ${record.requestedAt}.`,
    );
    if (onTimeout === 'fail') {
      record.status = 'timed-out';
      record.decidedAt = nowIso();
      publish();
      throw ApplicationFailure.nonRetryable(
        `Approval of "${gate}" timed out after ${record.escalations} escalation(s); nothing after this gate was done. ` +
          `Start the recovery again when an approver is available.`,
        'ApprovalTimedOut',
      );
    }
    const skippable = opts.skippable === true;
    const { decision, by } = await askOperator(
      `approval of "${gate}" timed out`,
      skippable
        ? `Nobody approved "${gate}". retry = wait again for approval, skip = go on without this gate's action, abort = stop`
        : `Nobody approved "${gate}". retry = wait again for approval, abort = stop (this gate cannot be skipped: the step it guards needs an approval)`,
      skippable ? undefined : ['retry', 'abort'],
    );
    if (decision === 'abort') {
      record.status = 'timed-out';
      record.decidedAt = nowIso();
      publish();
      throw ApplicationFailure.nonRetryable(`Recovery aborted by the operator at gate "${gate}"`, 'RecoveryAborted');
    }
    if (decision === 'skip') {
      record.status = 'timed-out';
      record.decidedAt = nowIso();
      publish();
      return { approved: false, by, reason: 'gate skipped by the operator after its approval timed out' };
    }
    record.deadline = new Date(Date.now() + timeoutMs).toISOString();
    // Reopened: a new attempt; answers signed for the earlier one no longer count.
    record.attempt = r.gateAttempts[gate] = (r.gateAttempts[gate] ?? 0) + 1;
    record.approvals = [];
  }

  const answer = r.gateAnswers[gate]!;
  const answers = record.approvals ?? [];
  record.decidedAt = nowIso();
  if (!answer.approved) {
    record.by = answer.args.by.trim();
    record.reason = answer.args.reason;
    record.status = 'rejected';
    timeline('gate-rejected', `${record.by} rejected "${gate}"${keyNote(record.rejection)}: ${record.reason}`);
    publish();
    throw ApplicationFailure.nonRetryable(
      `${record.by} rejected "${gate}" (${record.reason}); the recovery stopped before "${opts.title}". ` +
        `The cluster is as the steps before the gate left it: see the report.`,
      'GateRejected',
    );
  }
  const approvers = answers.length ? answers : [answerRecord(answer.args, undefined)];
  record.by = approvers.map((a) => a.by).join(' and ');
  record.reason = approvers.map((a) => a.reason).join(' / ');
  record.status = 'approved';
  record.choice = (answer.args as ApproveArgs).choice;
  timeline(
    'gate-approved',
    `${approvers.map((a) => `${a.by}${keyNote(a)}`).join(' and ')} approved "${gate}"${record.choice ? ` choosing ${record.choice}` : ''}: ${record.reason}`,
  );
  publish();
  return { approved: true, by: record.by, reason: record.reason, choice: record.choice };
}

/**
 * Waits for an operator's `retry | skip | abort` decision (after a step failed
 * past its retries, or a gate timed out).
 */
export async function askOperator(what: string, error: string, choices?: Decision[]): Promise<DecideArgs> {
  const r = runtime();
  const { progress } = r;
  const stepId = progress.steps.at(-1)?.id ?? 0;
  progress.pendingDecision = { stepId, step: what, error, since: nowIso(), ...(choices ? { choices } : {}) };
  // What a signed decision must name: this decision point and what the operator is shown.
  progress.pendingDecision.attempt = r.decisionSeq = r.decisionSeq + 1;
  progress.pendingDecision.evidenceDigest = digestOf(decisionEvidence(progress.pendingDecision));
  r.decision = undefined;
  r.decisionKey = undefined;
  // Waiting from now on, also while the notification goes out: a query then sees the decision and the status together.
  progress.status = 'waiting-decision';
  await notifyQuietly(
    'critical',
    `Decision needed on ${progress.cluster}: ${what}`,
    `${error}\nDecide: lifeboat decide ${workflowInfo().workflowId} ${(choices ?? ['retry', 'skip', 'abort']).join('|')} --as NAME`,
  );
  await waitUntil({ kind: 'decision', title: `decision on: ${what}`, status: 'waiting-decision' }, () => r.decision !== undefined);
  const d = r.decision!;
  timeline('decision', `${d.by}${keyNote({ keyFingerprint: r.decisionKey })} decided ${d.decision} on "${what}"${d.reason ? `: ${d.reason}` : ''}`);
  progress.pendingDecision = undefined;
  r.decision = undefined;
  publish();
  return d;
}

/**
 * Parks the recovery on a condition with the wait shown in progress and UI.
 * @returns false when the timeout elapsed first
 */
async function waitUntil(
  wait: { kind: 'approval' | 'decision'; title: string; until?: string; status: 'waiting-approval' | 'waiting-decision' },
  done: () => boolean,
  timeoutMs?: number,
): Promise<boolean> {
  const { progress } = runtime();
  const before = progress.status;
  progress.status = wait.status;
  progress.wait = { kind: wait.kind, title: wait.title, since: nowIso(), until: wait.until };
  publish();
  try {
    if (timeoutMs === undefined) {
      await condition(done);
      return true;
    }
    return await condition(done, timeoutMs, { summary: `waiting for ${wait.title}` });
  } finally {
    progress.status = before === wait.status ? 'running' : before;
    progress.wait = undefined;
  }
}

/** Sends a notification; a failing notifier never fails the recovery. */
export async function notifyQuietly(severity: 'info' | 'warning' | 'critical', subject: string, text: string): Promise<void> {
  try {
    await activities().notify({ cluster: runtime().progress.cluster, severity, subject, text });
  } catch {
    timeline('note', `notification failed: ${subject}`);
  }
}
