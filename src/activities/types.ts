/**
 * The activities a recovery workflow can call, as types only: workflows import
 * this module (or one system's `./<system>/types`) with `import type` and
 * proxy it; the implementations live in each system's folder and are built
 * by {@link ./index.createActivities}.
 *
 * Every activity takes one object argument naming the cluster and node by
 * their inventory names; addresses, ports, users and secrets are resolved on
 * the worker, never in the workflow. Effectful activities take `dryRun` and
 * then return the exact command, request or call they would have made.
 *
 * @module
 */
import type { CommonActivities } from './common/types';
import type { GossipActivities } from './gossip/types';
import type { AllLedgerActivities } from './ledger/types';
import type { TrainServerActivities } from './train-server/types';
import type { AllTrainingClusterActivities } from './training-cluster/types';

export type * from './common/types';
export type * from './gossip/types';
export type * from './ledger/types';
export type * from './train-server/types';
export type * from './training-cluster/types';

/** Everything a workflow may proxy. */
export type LifeboatActivities = CommonActivities & AllLedgerActivities & AllTrainingClusterActivities & GossipActivities & TrainServerActivities;
