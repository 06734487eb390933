/**
 * The activities recovery workflows call. {@link createActivities} returns
 * one object per worker, composed of one folder per target system
 * (`ledger/`, `training-cluster/`, `gossip/`, `train-server/`) and the
 * common activities, over the transports of `transport/` (which know no
 * target system) and the shared plumbing of {@link ./context}.
 *
 * Each system's activities are small named functions over the system's
 * context; they resolve the cluster and node of each call from the inventory
 * file, resolve secrets only here, stream remote output into heartbeats,
 * honour cancellation, and map every failure to an `ApplicationFailure` that
 * is non-retryable when retrying cannot help. Each system's `index.ts` says
 * how its effects stay idempotent.
 *
 * @module
 */
import { commonActivities } from './common';
import { createContext, type ActivityDeps } from './context';
import { gossipActivities } from './gossip';
import { ledgerActivities } from './ledger';
import { trainServerActivities } from './train-server';
import { trainingClusterActivities } from './training-cluster';
import type { LifeboatActivities } from './types';

export type { LifeboatActivities } from './types';
export type { ActivityDeps } from './context';

/** The activities plus the pools behind them, to close on worker shutdown. */
export interface ActivitySet {
  activities: LifeboatActivities;
  close(): Promise<void>;
}

/**
 * Builds the activities of one worker.
 *
 * @example
 * const { activities, close } = createActivities({ inventoryPath: 'clusters.yaml' });
 * const worker = await Worker.create({ ..., activities });
 */
export function createActivities(deps: ActivityDeps): ActivitySet {
  const ctx = createContext(deps);
  const activities: LifeboatActivities = {
    ...commonActivities(ctx),
    ...ledgerActivities(ctx),
    ...trainingClusterActivities(ctx),
    ...gossipActivities(ctx),
    ...trainServerActivities(ctx),
  };
  return { activities, close: () => ctx.close() };
}
