/**
 * The ledger's scenario faults (seed 002): quorum loss, one node lost, a
 * diverged vault, and the whole cluster lost (only the backup bucket left).
 * A fault's own changes record no effect.
 *
 * @module
 */
import type { LedgerCluster } from './cluster';
import { launch, loseMachine } from './lifecycle';

/** The faults of the ledger family, in the order `lab break` lists them. */
export const LEDGER_FAULTS = ['ledger.quorum-loss', 'ledger.node-failure', 'ledger.vault-divergence', 'ledger.full-restore'];

/** Injects one of {@link LEDGER_FAULTS}; throws on an unknown name or before the lab started. */
export async function breakFault(sim: LedgerCluster, fault: string): Promise<void> {
  if (!sim.started) throw new Error('lab ledger: start the lab before breaking it');
  const all = [...sim.nodes.values()];
  switch (fault) {
    case 'ledger.quorum-loss': {
      // Keep the largest minority that still lacks a majority (1 of 3, 2 of 5).
      const keep = Math.max(1, Math.ceil(all.length / 2) - 1);
      if (all.length < 2) throw new Error('lab ledger: quorum loss needs at least 2 nodes');
      for (const rt of all.slice(keep)) await sim.serial(rt, () => loseMachine(sim, rt));
      for (const rt of all.slice(0, keep)) {
        if (!rt.running) await sim.serial(rt, () => launch(sim, rt, { ...rt.config, mode: 'cluster' }, 'lab', false));
      }
      return;
    }
    case 'ledger.full-restore': {
      // Total cluster loss: every machine and its data is gone; only the backup bucket remains.
      for (const rt of all) await sim.serial(rt, () => loseMachine(sim, rt));
      return;
    }
    case 'ledger.node-failure': {
      const victim = all[all.length - 1]!;
      await sim.serial(victim, () => loseMachine(sim, victim));
      return;
    }
    case 'ledger.vault-divergence': {
      const leader = [...sim.leaders.values()][0]?.leader;
      const victim = all.filter((rt) => rt.running && rt.name !== leader).pop() ?? all[all.length - 1]!;
      const vault = victim.state.organizations['1']?.vaults['payments'];
      if (!victim.running || !vault || vault.blocks.length < 2) throw new Error(`lab ledger: ${victim.name} has no running payments vault to corrupt`);
      // A non-deterministic apply: the block's content differs from what was hashed.
      const b = vault.blocks[1]!;
      b.payload = Buffer.from(JSON.stringify({ vault: 'payments', seq: 2, op: 'seed', amount: 999_999 })).toString('base64');
      vault.status = 'DIVERGED';
      victim.bugs.set('1/payments', (victim.bugs.get('1/payments') ?? 0) + 1);
      sim.persist(victim);
      sim.logLine(victim, 'ERROR determinism check failed: vault 1/payments state root differs from the leader; vault marked DIVERGED');
      return;
    }
    default:
      throw new Error(`lab ledger: unknown fault "${fault}"; known: ${LEDGER_FAULTS.join(', ')}`);
  }
}
