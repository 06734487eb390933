/**
 * The scenario catalogue: scenario id -> workflow type, input schema, title,
 * seed reference and recovery-time objective. The CLI validates `--set`
 * inputs against these schemas before anything starts, and the workflow
 * carries the RTO figures into its progress and report.
 *
 * @module
 */
import { GOSSIP_SCENARIOS } from './gossip';
import { LEDGER_SCENARIOS } from './ledger';
import type { ScenarioSpec } from './spec';
import { TRAIN_SERVER_SCENARIOS } from './train-server';
import { TRAINING_CLUSTER_SCENARIOS } from './training-cluster';

export type { ScenarioSpec } from './spec';
export * from './gossip';
export * from './ledger';
export * from './train-server';
export * from './training-cluster';

/** Every scenario of the catalogue, one file per system. */
export const SCENARIOS: readonly ScenarioSpec[] = [...LEDGER_SCENARIOS, ...TRAINING_CLUSTER_SCENARIOS, ...GOSSIP_SCENARIOS, ...TRAIN_SERVER_SCENARIOS];

/** Looks a scenario up by id; `undefined` when unknown. */
export function findScenario(id: string): ScenarioSpec | undefined {
  return SCENARIOS.find((s) => s.id === id);
}
