/**
 * What the workflows and the client's catalogue know of a scenario: plain
 * data, safe in the workflow bundle.
 *
 * @module
 */

export interface ScenarioMeta {
  id: string;
  /** Exported workflow function name in src/workflows/index.ts. */
  workflowType: string;
  system: 'ledger' | 'gossip' | 'training-cluster' | 'train-server';
  title: string;
  /** Seed runbook and section the workflow follows. */
  seed: string;
  /** Recovery-time objective from the seed, minutes (target 0 = "automatic"). */
  rto: { targetMinutes: number; maxMinutes: number };
  /** Gates that need the cluster's name typed back. */
  dangerousGates: string[];
}
