/**
 * The activities every system uses: the SSH reachability check of the
 * runbooks and notifications to humans.
 *
 * @module
 */
import { bindActivities, type ActivityContext } from '../context';
import { notify } from './notify';
import { sshCheck } from './reachability';
import type { CommonActivities } from './types';

export type * from './types';

/** The common activities of one worker. */
export function commonActivities(ctx: ActivityContext): CommonActivities {
  return bindActivities(ctx, { sshCheck, notify });
}
