/**
 * Scenario metadata of the gossip cluster (seed 003).
 *
 * @module
 */
import type { ScenarioMeta } from '../scenario-meta';

export const GOSSIP_METAS: readonly ScenarioMeta[] = [];
