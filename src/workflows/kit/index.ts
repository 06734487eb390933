/**
 * The runbook kit: the few verbs every Lifeboat scenario is written in, so
 * that all recoveries read alike and behave alike.
 *
 * - {@link runRecovery}: the frame (progress, handlers, RTO budget, outcome).
 * - {@link step}: one runbook step with a failure policy (`fail | continue | ask`).
 * - {@link approve}: a human gate (Update with a synchronous validator, timeout, escalation).
 * - {@link waitFor}: "watch until ...", a bounded durable poll; a {@link probeCall} probe that needs more
 *   than {@link LONG_WAIT_PROBES} probes waits in a child workflow that continues-as-new.
 * - {@link stabilize}: a durable timer with a reason.
 * - {@link fanOut}: the same step on many nodes, bounded concurrency, error budget;
 *   past {@link FANOUT_CHILD_THRESHOLD} targets of an {@link activityCall}, in child workflows.
 * - {@link activities}: the typed activity proxies (summaries, dry-run flag).
 *
 * Deterministic code only: no I/O, no Node APIs. Everything here runs inside
 * the workflow sandbox.
 *
 * @module
 */
export { runRecovery, fact, note, recoveryInput, type RecoveryResult } from './recovery';
export { step, fanOut, waitFor, stabilize, errorMessage, type StepOptions, type FanOutOptions, type FanOutResult, type WaitForOptions, type ProbeResult } from './steps';
export { approve, askOperator, durationMs, type ApproveOptions, type Approval } from './gates';
export { activities } from './activities';
export { probeCall, lifeboatLongWait, LONG_WAIT_PROBES, type ProbeCall, type LongWaitInput, type LongWaitResult } from './long-wait';
export { activityCall, lifeboatFanOutBatch, FANOUT_CHILD_THRESHOLD, type ActivityCall, type FanOutBatchInput, type FanOutBatchResult } from './fanout';
export { isDryRun, skipped } from './state';
export * from './defs';
