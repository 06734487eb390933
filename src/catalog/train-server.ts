/**
 * The train server (seed 004) scenarios: input schemas and parameter help.
 *
 * @module
 */
import type { ScenarioSpec } from './spec';

export const TRAIN_SERVER_SCENARIOS: readonly ScenarioSpec[] = [];
