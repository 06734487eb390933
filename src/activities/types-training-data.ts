/**
 * The training cluster's data and models (seed 000 §3, §4, §6) activities, as types only (workflows import them with
 * `import type`). See {@link ./types} for the conventions.
 *
 * @module
 */

/** The training-data activities a workflow may proxy. */
export interface TrainingDataActivities {}
