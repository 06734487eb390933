/**
 * Many recoveries parked on an approval gate at once, for the visibility test
 * (test/e2e/parked.test.ts) and the benchmark (bench/parked/): the lab's
 * gossip cluster, listed N times in an inventory of its own under the names
 * `lb-park-001...` (one recovery per cluster, and each name is a cluster
 * Lifeboat may recover: the same five lab nodes behind every one), broken
 * whole (`gossip.total-loss`), and a `gossip.total-loss` recovery started on
 * every name: each stops the (already dead) nodes and parks on its dangerous
 * gate `clear-persistent-state`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { listRecoveries, planRecovery, startPlanned } from '../../src/client';
import { loadInventory } from '../../src/inventory/load';
import type { Stack } from './stack';

export const PARK_GATE = 'clear-persistent-state';
export const PARK_SCENARIO = 'gossip.total-loss';
export const PARK_STARTER = 'parker';

/** `lb-park-001`, ... */
export function parkCluster(i: number): string {
  return `lb-park-${String(i + 1).padStart(3, '0')}`;
}

/**
 * Writes an inventory with `n` copies of the lab's `lab-gossip` cluster
 * (approvals by name: the test approves nothing) and returns its path.
 */
export function writeParkInventory(stack: Stack, n: number): string {
  const lab = parse(readFileSync(stack.lab.inventoryPath, 'utf8')) as { clusters: Record<string, unknown> };
  const gossip = lab.clusters['lab-gossip'];
  if (!gossip) throw new Error(`the lab inventory ${stack.lab.inventoryPath} has no lab-gossip cluster: start the stack with families: ['gossip']`);
  const clusters: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) clusters[parkCluster(i)] = gossip;
  const file = path.join(stack.dir, `park-inventory-${n}.yaml`);
  writeFileSync(file, stringify({ approvals: { mode: 'unsigned' }, clusters }, { lineWidth: 0, aliasDuplicateObjects: false }));
  return file;
}

/**
 * Starts a `gossip.total-loss` recovery on each of the `n` clusters, `concurrency` starts at a time.
 *
 * @returns the workflow ids
 */
export async function startParked(client: Client, inventoryPath: string, n: number, concurrency = 16): Promise<string[]> {
  const inventory = loadInventory(inventoryPath);
  const ids: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const plan = planRecovery(inventory, { scenario: PARK_SCENARIO, cluster: parkCluster(i), set: {}, dryRun: false, startedBy: PARK_STARTER });
      plan.input.approvals = { mode: 'unsigned' };
      const started = await startPlanned(client, plan);
      ids[i] = started.workflowId;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return ids;
}

/** Waits (bounded) until `n` open recoveries await an approval, as visibility sees them. */
export async function waitParked(client: Client, n: number, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  let seen = 0;
  while (Date.now() - t0 < timeoutMs) {
    const rows = await listRecoveries(client, { open: true, limit: n + 50 });
    seen = rows.filter((r) => r.awaitingApproval).length;
    if (seen >= n) return Date.now() - t0;
    const failed = (await listRecoveries(client, { open: false, limit: n + 50 })).filter((r) => r.status !== 'RUNNING');
    if (failed.length) throw new Error(`${failed.length} recoveries ended instead of parking on ${PARK_GATE}, e.g. ${failed[0]!.workflowId}: ${failed[0]!.status} (read it: lifeboat report ${failed[0]!.workflowId})`);
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`only ${seen} of ${n} recoveries parked on ${PARK_GATE} within ${timeoutMs} ms`);
}
