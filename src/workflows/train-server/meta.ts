/**
 * Scenario metadata of the train server (seed 004).
 *
 * @module
 */
import type { ScenarioMeta } from '../scenario-meta';

export const TRAIN_SERVER_METAS: readonly ScenarioMeta[] = [];
