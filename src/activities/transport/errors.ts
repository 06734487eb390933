/**
 * Transport errors and their mapping to Temporal failures. Transports throw
 * {@link TransportError}; the activity layer turns it into an
 * `ApplicationFailure` whose `nonRetryable` flag follows `retryable`, so
 * Temporal retries what retrying can fix (timeouts, resets, 5xx, UNAVAILABLE)
 * and fails at once on what it cannot (host key mismatch, auth refused, 4xx,
 * invalid argument), with a message an operator can act on.
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/common';

/** Failure type names that retry policies list as non-retryable. */
export const NON_RETRYABLE_TYPES = [
  'HostKeyMismatch',
  'AuthFailed',
  'InvalidArgument',
  'NotFound',
  'PermissionDenied',
  'FailedPrecondition',
  'BadInventory',
  'SecretUnavailable',
  'CommandFailed',
] as const;

/** A transport-level failure. `type` is the failure type name shown in the UI. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    /** Failure type name, e.g. "HostKeyMismatch", "Timeout", "Unavailable". */
    readonly type: string,
    message: string,
    /** Whether retrying the same call may succeed. */
    readonly retryable: boolean,
    /** Extra, secret-free facts for the failure details. */
    readonly details?: Record<string, unknown>,
    /**
     * What the peer said beyond the message, for the layer above to read
     * (a gRPC `grpc-status-details-bin` trailer); never put in the failure.
     */
    readonly trailer?: Buffer,
  ) {
    super(message);
  }
}

/**
 * Converts any error thrown inside an activity into an ApplicationFailure
 * with the right retryability. Unknown errors stay retryable (the activity's
 * retry policy bounds them).
 */
export function toFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof TransportError) {
    return ApplicationFailure.create({
      type: err.type,
      message: err.message,
      nonRetryable: !err.retryable,
      details: err.details ? [err.details] : undefined,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return ApplicationFailure.create({ type: 'Unexpected', message, nonRetryable: false });
}
