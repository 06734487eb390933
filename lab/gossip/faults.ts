/**
 * The gossip cluster's scenario faults (seed 003). A fault's own changes
 * record no effect.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORRUPT, GOSSIP_DATA_DIR, type GossipCluster } from './cluster';
import { stopProc } from './process';

/** The faults of the gossip family, in the order `lab break` lists them. */
export const GOSSIP_FAULTS = [
  'gossip.isolated-node',
  'gossip.partition',
  'gossip.multi-node-failure',
  'gossip.total-loss',
  'gossip.cache-corruption',
  'gossip.split-brain',
];

/** Injects one of {@link GOSSIP_FAULTS}; throws on an unknown name. */
export async function breakFault(sim: GossipCluster, fault: string): Promise<void> {
  const running = sim.nodes.filter((n) => n.proc);
  switch (fault) {
    case 'gossip.isolated-node': {
      const victim = running.find((n) => !n.roles.includes('seed')) ?? running[0];
      if (!victim) throw new Error(`${sim.cluster}: no running node to isolate`);
      victim.isolated = true;
      return;
    }
    case 'gossip.partition':
    case 'gossip.split-brain': {
      const half = Math.ceil(sim.nodes.length / 2);
      sim.split = fault === 'gossip.partition' ? 'partition' : 'split-brain';
      sim.nodes.forEach((n, i) => {
        n.group = i < half ? 0 : 1;
        n.rebalanced = false;
        n.syncEnabled = false;
        if (sim.split === 'split-brain') n.stateVersion += n.group === 0 ? 1 : 2; // diverging state
      });
      return;
    }
    case 'gossip.multi-node-failure': {
      const members = sim.nodes.filter((n) => !n.roles.includes('seed'));
      const k = Math.max(1, Math.floor((sim.nodes.length - 1) / 2)); // a minority
      for (const n of members.slice(-k)) await stopProc(n); // a crash: no effect
      return;
    }
    case 'gossip.total-loss':
      for (const n of sim.nodes) {
        await stopProc(n);
        mkdirSync(join(sim.rootOf(n), GOSSIP_DATA_DIR), { recursive: true });
        writeFileSync(sim.statePath(n), `${CORRUPT} plumtree-state: checksum mismatch\n`);
        n.stateWasCorrupt = true;
      }
      return;
    case 'gossip.cache-corruption': {
      const victim = running.find((n) => !n.roles.includes('seed')) ?? running[0];
      if (!victim) throw new Error(`${sim.cluster}: no running node`);
      mkdirSync(join(sim.rootOf(victim), GOSSIP_DATA_DIR, 'cache'), { recursive: true });
      writeFileSync(sim.cachePath(victim), `${CORRUPT} \u0000\u0001 truncated message cache\n`);
      return;
    }
    default:
      throw new Error(`${sim.cluster} knows no fault "${fault}"; known: ${GOSSIP_FAULTS.join(', ')}`);
  }
}
