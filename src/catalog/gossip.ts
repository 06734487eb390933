/**
 * The gossip cluster (seed 003) scenarios: input schemas and parameter help.
 *
 * @module
 */
import type { ScenarioSpec } from './spec';

export const GOSSIP_SCENARIOS: readonly ScenarioSpec[] = [];
