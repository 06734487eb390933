/**
 * The gossip cluster (seed 003) activities, as types only (workflows import them with
 * `import type`). See {@link ./types} for the conventions.
 *
 * @module
 */

/** The gossip activities a workflow may proxy. */
export interface GossipActivities {}
