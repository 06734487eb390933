/**
 * Scenario metadata shared by the workflows (RTO, gates) and the client's
 * catalogue (which adds the input schemas), one file per system. Plain data:
 * safe in the workflow bundle.
 *
 * @module
 */
import { GOSSIP_METAS } from './gossip/meta';
import { LEDGER_METAS } from './ledger/meta';
import type { ScenarioMeta } from './scenario-meta';
import { TRAIN_SERVER_METAS } from './train-server/meta';
import { TRAINING_CLUSTER_METAS } from './training-cluster/meta';

export type { ScenarioMeta } from './scenario-meta';
export * from './gossip/meta';
export * from './ledger/meta';
export * from './train-server/meta';
export * from './training-cluster/meta';

/** Every scenario of the catalogue. */
export const SCENARIO_METAS: readonly ScenarioMeta[] = [...LEDGER_METAS, ...TRAINING_CLUSTER_METAS, ...GOSSIP_METAS, ...TRAIN_SERVER_METAS];
