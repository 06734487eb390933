/**
 * The kit's `patched()` ids (docs/versioning.md). A kit change that issues
 * new commands changes every scenario's command sequence, so it is patched
 * like a scenario change.
 *
 * @module
 */

/**
 * Recoveries keep what `lifeboat approvals` and `lifeboat list` show in their
 * memo (./memo.ts), one `upsertMemo` at each change of it. Histories recorded
 * before have no such commands and replay without them; a recovery started
 * before the change writes its memo from the first workflow task a new worker
 * runs for it.
 */
export const VISIBILITY_MEMO = 'kit/visibility-memo';
/**
 * `fanOut` over more targets than FANOUT_CHILD_THRESHOLD, with an
 * `activityCall`, runs them in child workflows (./fanout.ts). No recorded
 * history reaches that branch (the catalogue's fan-outs are a few nodes);
 * a history that ran such a fan-out inline before it replays inline.
 */
export const FANOUT_CHILDREN = 'kit/fanout-children';
/**
 * `waitFor` with a `probeCall` probe that needs more than LONG_WAIT_PROBES
 * probes runs in a child workflow that continues-as-new (./long-wait.ts).
 * Like FANOUT_CHILDREN, no recorded history reaches it.
 */
export const LONG_WAIT_CHILD = 'kit/long-wait-child';
