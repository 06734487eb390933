/**
 * `runRecovery`: the frame every scenario workflow runs in. It sets up the
 * progress record, the update and query handlers, the live RTO budget
 * (crossing the target or the maximum is recorded and notified), and turns
 * the scenario body's end into a clear outcome.
 *
 * @module
 */
import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { digestOf, verifySignedRequest } from '../../approvals';
import type { ScenarioMeta } from '../scenarios';
import {
  approvalPolicyQuery,
  approveUpdate,
  decideUpdate,
  progressQuery,
  rejectUpdate,
  SA_SCENARIO,
  type Progress,
  type RecoveryInput,
} from './defs';
import { answerDecision, answerGate, notifyQuietly, validateApprove, validateDecide, validateReject } from './gates';
import { errorMessage } from './steps';
import { initRuntime, nowIso, publish, runtime, timeline } from './state';

/** What a recovery workflow returns when it completes. */
export interface RecoveryResult {
  status: 'completed';
  outcome: string;
  dryRun: boolean;
  elapsedMs: number;
  rtoTargetMet: boolean;
  facts: Record<string, string>;
}

/** Records a fact for the report (impact, root cause, findings): plain strings only. */
export function fact(key: string, value: string): void {
  runtime().progress.facts[key] = value;
}

/** Adds a free-text line to the incident timeline. */
export function note(text: string): void {
  timeline('note', text);
}

/** The recovery's input (cluster topology, parameters, who started it). */
export function recoveryInput<P>(): RecoveryInput<P> {
  return runtime().input as RecoveryInput<P>;
}

/**
 * Runs a scenario body inside the runbook kit.
 *
 * @param meta the scenario's catalogue entry (title, seed, RTO, dangerous gates)
 * @param input the workflow's one input object
 * @param body the runbook, written with `step`, `approve`, `waitFor`, `stabilize`, `fanOut`; returns the outcome in words
 *
 * @example
 * ```ts
 * export async function ledgerQuorumLoss(input: RecoveryInput<Params>): Promise<RecoveryResult> {
 *   return runRecovery(LEDGER_QUORUM_LOSS, input, async () => { ...; return 'cluster rebuilt'; });
 * }
 * ```
 */
export async function runRecovery<P>(
  meta: ScenarioMeta,
  input: RecoveryInput<P>,
  body: () => Promise<string>,
): Promise<RecoveryResult> {
  const startedAtMs = Date.now();
  const progress: Progress = {
    scenario: meta.id,
    title: meta.title,
    seed: meta.seed,
    cluster: input.cluster.name,
    startedBy: input.startedBy,
    startedAt: new Date(startedAtMs).toISOString(),
    dryRun: input.dryRun === true,
    status: 'running',
    steps: [],
    gates: [],
    rto: { ...meta.rto },
    elapsedMs: 0,
    timeline: [],
    facts: {},
  };
  initRuntime({
    meta,
    input: input as RecoveryInput,
    progress,
    gateAnswers: {},
    nextStepId: 1,
    usedSignatures: [],
    gateAttempts: {},
    decisionSeq: 0,
    // Keep search attributes current only when started with them (the server has them registered).
    searchAttributes: workflowInfo().typedSearchAttributes.get(SA_SCENARIO) !== undefined,
  });

  setHandler(progressQuery, () => ({ ...progress, elapsedMs: Date.now() - startedAtMs }));
  setHandler(approvalPolicyQuery, () => input.approvals);
  setHandler(approveUpdate, (args) => answerGate(true, args), { validator: validateApprove });
  setHandler(rejectUpdate, (args) => answerGate(false, args), { validator: validateReject });
  setHandler(decideUpdate, (args) => answerDecision(args), { validator: validateDecide });

  timeline(
    'started',
    `${input.dryRun ? 'Dry run of' : 'Recovery'} ${meta.id} on ${input.cluster.name} started by ${input.startedBy} ` +
      `(workflow ${workflowInfo().workflowId})`,
  );
  publish();

  // The live RTO budget runs beside the runbook and ends with it.
  const rtoScope = new CancellationScope();
  const rtoWatch = rtoScope.run(() => watchRto(startedAtMs)).catch((err) => {
    if (!isCancellation(err)) throw err;
  });

  try {
    verifyStart(meta, input as RecoveryInput);
    const planned = await body();
    // A dry run changed nothing: its outcome is what the plan leads to, never a claim that it happened.
    const outcome = progress.dryRun ? dryRunOutcome(planned) : planned;
    progress.status = 'completed';
    progress.outcome = outcome;
    return finish(startedAtMs, outcome);
  } catch (err) {
    const failure = err instanceof ApplicationFailure ? err : undefined;
    progress.status = isCancellation(err) || failure?.type === 'RecoveryAborted' || failure?.type === 'GateRejected' ? 'aborted' : 'failed';
    progress.outcome = isCancellation(err) ? 'cancelled by an operator' : errorMessage(err);
    progress.endedAt = nowIso();
    progress.currentStep = undefined;
    timeline('finished', `Recovery ${progress.status}: ${progress.outcome}`);
    if (!isCancellation(err)) {
      publish();
      await notifyQuietly('critical', `Recovery ${progress.status} on ${progress.cluster}`, progress.outcome);
    }
    throw err;
  } finally {
    rtoScope.cancel();
    await rtoWatch;
  }
}

/**
 * Signed mode: the start must carry the starter's signed statement for this
 * recovery (scenario, cluster, parameters), fresh when the workflow started,
 * by a key the cluster allows for the principal it names. Its key is the
 * starter's: it may not approve this recovery's dangerous gates under any
 * name. Refused: the recovery fails before its first step.
 */
function verifyStart(meta: ScenarioMeta, input: RecoveryInput): void {
  const r = runtime();
  const policy = input.approvals;
  if (!policy) return;
  r.progress.approvalMode = policy.mode;
  if (policy.mode !== 'signed') {
    timeline('note', `Approvals on ${input.cluster.name} are by name: identity not verified (the cluster declares unsigned approvals)`);
    return;
  }
  const info = workflowInfo();
  let v;
  try {
    v = verifySignedRequest(
      policy,
      input.startSigned,
      { kind: 'start', namespace: info.namespace, workflowId: info.workflowId, scenario: meta.id, cluster: input.cluster.name, principal: input.startedBy, evidence: digestOf(input.params), reason: undefined, choice: undefined },
      r.progress.startedAt,
    );
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`the start of this recovery is refused: ${(err as Error).message}; nothing was done`, 'StartNotVerified');
  }
  r.usedSignatures.push(v.signatureDigest);
  r.progress.startedByKey = v.key.fingerprint;
  (r.progress.signatures ??= []).push({ kind: 'start', by: input.startedBy, keyFingerprint: v.key.fingerprint, at: r.progress.startedAt });
  timeline('note', `Started by ${input.startedBy}, signed with key ${v.key.fingerprint} (${v.key.type}); allowed signers: ${policy.source ?? 'in the input'}${policy.sourceDigest ? ` (${policy.sourceDigest})` : ''}`);
}

/** The outcome of a dry run: the scenario's outcome, stated as the plan's end and not as a fact. */
export function dryRunOutcome(outcome: string): string {
  return /^dry run\b/i.test(outcome) ? outcome : `Dry run, nothing was changed. Every effect is planned in the steps above; a real run would end: ${outcome}`;
}

function finish(startedAtMs: number, outcome: string): RecoveryResult {
  const { progress } = runtime();
  const elapsedMs = Date.now() - startedAtMs;
  progress.endedAt = nowIso();
  progress.currentStep = undefined;
  progress.wait = undefined;
  const targetMs = progress.rto.targetMinutes * 60_000;
  const met = targetMs === 0 ? elapsedMs <= progress.rto.maxMinutes * 60_000 : elapsedMs <= targetMs;
  timeline(
    'finished',
    `Recovery completed in ${Math.round(elapsedMs / 1000)} s (RTO target ${progress.rto.targetMinutes} min, ` +
      `max ${progress.rto.maxMinutes} min: ${met ? 'met' : 'missed'}): ${outcome}`,
  );
  publish();
  return { status: 'completed', outcome, dryRun: progress.dryRun, elapsedMs, rtoTargetMet: met, facts: progress.facts };
}

/** Records and notifies the crossing of the RTO target, then of the maximum. */
async function watchRto(startedAtMs: number): Promise<void> {
  const { progress } = runtime();
  const marks: Array<{ minutes: number; kind: 'rto-target-crossed' | 'rto-max-crossed'; key: 'targetCrossedAt' | 'maxCrossedAt' }> = [
    { minutes: progress.rto.targetMinutes, kind: 'rto-target-crossed', key: 'targetCrossedAt' },
    { minutes: progress.rto.maxMinutes, kind: 'rto-max-crossed', key: 'maxCrossedAt' },
  ];
  for (const mark of marks) {
    if (mark.minutes <= 0) continue; // "automatic": no target to cross
    const left = startedAtMs + mark.minutes * 60_000 - Date.now();
    if (left > 0) await sleep(left, { summary: `RTO ${mark.key === 'targetCrossedAt' ? 'target' : 'maximum'} of ${mark.minutes} min` });
    progress.rto[mark.key] = nowIso();
    const text = `Recovery has run ${mark.minutes} min: RTO ${mark.key === 'targetCrossedAt' ? 'target' : 'MAXIMUM'} crossed`;
    timeline(mark.kind, text);
    publish();
    await notifyQuietly(mark.kind === 'rto-max-crossed' ? 'critical' : 'warning', `${progress.cluster}: ${text}`, `Recovery ${progress.scenario}, now at: ${progress.currentStep ?? progress.status}`);
  }
}
