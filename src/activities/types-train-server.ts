/**
 * The train server (seed 004) activities, as types only (workflows import them with
 * `import type`). See {@link ./types} for the conventions.
 *
 * @module
 */

/** The train-server activities a workflow may proxy. */
export interface TrainServerActivities {}
