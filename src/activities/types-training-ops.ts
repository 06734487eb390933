/**
 * The training cluster's outage and sync (seed 000 §5, seed 001) activities, as types only (workflows import them with
 * `import type`). See {@link ./types} for the conventions.
 *
 * @module
 */

/** The training-ops activities a workflow may proxy. */
export interface TrainingOpsActivities {}
