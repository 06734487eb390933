/**
 * The activity policies every system's options table draws from: explicit
 * timeouts and retries per kind of call.
 *
 * @module
 */
import type { ActivityOptions } from '@temporalio/workflow';

/**
 * Reads and diagnosis: short, retried a few times. An unreachable node is a
 * result of these activities, not a failure, so retries cover only
 * transport hiccups of the worker itself.
 */
export const READ: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 },
};

/**
 * Effects (stop, start, restart, clear): idempotent on the activity side,
 * so retried more; heartbeating so a dead worker is noticed within 20 s and
 * the retry starts 1 s later (the crash matrix's resume gap: kill → retried
 * attempt running within heartbeatTimeout + 2 s; activities heartbeat at
 * least every few seconds, see ActivityContext.beating).
 * Failures retrying cannot fix are marked non-retryable by the activities.
 */
export const EFFECT: ActivityOptions = {
  startToCloseTimeout: '5m',
  heartbeatTimeout: '20s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
};

/** Notifications must never hold a recovery up. */
export const NOTIFY: ActivityOptions = {
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', maximumAttempts: 3 },
};

/** A long effect (a restore, a scrub, a copy): hours allowed, dead workers noticed by the heartbeat. */
export function long(startToCloseTimeout: ActivityOptions['startToCloseTimeout']): ActivityOptions {
  return { ...EFFECT, startToCloseTimeout };
}
