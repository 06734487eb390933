/**
 * What went wrong, in the words of whatever failed: Temporal wraps an
 * activity's failure in ActivityFailure ("Activity task failed") and a child
 * workflow's in ChildWorkflowFailure; the cause says what happened.
 *
 * @module
 */

/** The message of an error, unwrapping Temporal's activity and child-workflow failures to their cause. */
export function errorMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e && e.cause && typeof e.cause === 'object' && /activity task failed|Activity function .* failed|Child Workflow execution failed/i.test(e.message ?? '')) {
    e = e.cause as typeof e;
  }
  return e?.message ?? String(err);
}
