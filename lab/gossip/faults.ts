/**
 * The gossip cluster's scenario faults (seed 003), made the same way on
 * both backends and observed through the nodes' own API, so that a fault
 * returns once the cluster shows it. A fault's own changes record no effect.
 *
 * - `gossip.isolated-node`: gossip3's link is cut until it and the others
 *   have dropped each other and memberlist stopped gossiping to the dead,
 *   then the link comes back: gossip3 stays alone (memberlist does not merge
 *   back by itself).
 * - `gossip.partition`: the switch splits {gossip1-3} | {gossip4-5}, the
 *   same wait, then it is whole again: two components remain.
 * - `gossip.split-brain`: the same split, and each side processes its own
 *   message (gossip1 and gossip4 broadcast) before the switch is whole:
 *   two components holding different messages.
 * - `gossip.multi-node-failure`: kill -9 of the last non-seed nodes (a
 *   minority).
 * - `gossip.total-loss`: kill -9 of every node and a damaged message store
 *   on each: no node starts until its state is cleared.
 * - `gossip.cache-corruption`: gossip3 crashes (kill -9) and its message
 *   store is damaged; its unit tries to start it again and fails.
 *
 * @module
 */
import type { GossipBackend } from './backend';
import { broadcast, messagesOf, peersOf, sleep, until } from './client';
import type { GossipNodeSpec } from './spec';

/** The faults of the gossip family, in the order `lab break` lists them. */
export const GOSSIP_FAULTS = [
  'gossip.isolated-node',
  'gossip.partition',
  'gossip.multi-node-failure',
  'gossip.total-loss',
  'gossip.cache-corruption',
  'gossip.split-brain',
];

/** What the faults act with. */
export interface FaultContext {
  cluster: string;
  nodes: GossipNodeSpec[];
  backend: GossipBackend;
  token: string;
  /** The unit's start as systemd would run it (records the failure reason, no effect). */
  unitStart(node: string): Promise<void>;
  /** A crash: SIGKILL, the unit failed (no effect). */
  crash(node: string): Promise<void>;
}

/**
 * How long a fault waits for the cluster to show it: usually seconds, more
 * on a loaded machine. A view that never settles (on real nodes, the
 * memberlist-core 0.7.0 panic docs/gossip.md describes) fails naming the
 * views that had not.
 */
const SHOW_MS = 150_000;

const running = (c: FaultContext) => c.nodes.filter((n) => c.backend.running(n.name));

/** Waits until each group sees exactly its running members (everything else dropped). */
async function groupsSettle(c: FaultContext, groups: string[][], what: string): Promise<void> {
  const seen: Record<string, string> = {};
  const settled = async (): Promise<boolean> => {
    let ok = true;
    for (const g of groups) {
      const up = g.filter((n) => c.backend.running(n));
      for (const name of up) {
        const p = await peersOf(c.nodes.find((x) => x.name === name)!.httpPort);
        seen[name] = p ? [...p.members].sort().join(',') : 'no answer';
        if (!p || [...p.members].sort().join() !== [...up].sort().join()) ok = false;
      }
    }
    return ok;
  };
  try {
    await until(what, settled, SHOW_MS);
  } catch (err) {
    // Which views had not settled: a node that is slow to declare the others dead, or one the others keep.
    throw new Error(`${(err as Error).message}; members seen: ${Object.entries(seen).map(([n, m]) => `${n}: ${m}`).join('; ')}`);
  }
  // memberlist still gossips to the nodes it declared dead for a while: past that, a healed link merges nothing.
  await sleep(c.backend.deadTimeMs);
}

/** Injects one of {@link GOSSIP_FAULTS}; throws on an unknown name. */
export async function breakFault(c: FaultContext, fault: string): Promise<void> {
  const names = c.nodes.map((n) => n.name);
  const members = c.nodes.filter((n) => !n.seed);
  switch (fault) {
    case 'gossip.isolated-node': {
      const victim = running(c).find((n) => !n.seed) ?? running(c)[0];
      if (!victim) throw new Error(`${c.cluster}: no running node to isolate`);
      await c.backend.cut(victim.name);
      try {
        await groupsSettle(c, [[victim.name], names.filter((n) => n !== victim.name)], `${victim.name} and the others dropping each other`);
      } finally {
        await c.backend.heal();
      }
      return;
    }
    case 'gossip.partition':
    case 'gossip.split-brain': {
      const half = Math.ceil(names.length / 2);
      const groups = [names.slice(0, half), names.slice(half)];
      await c.backend.split(groups);
      try {
        await groupsSettle(c, groups, `the two sides ${groups.map((g) => `{${g.join(', ')}}`).join(' | ')} dropping each other`);
        if (fault === 'gossip.split-brain') {
          const stamp = Date.now().toString(36);
          for (const [i, g] of groups.entries()) {
            const sender = c.nodes.find((n) => n.name === g.find((x) => c.backend.running(x)))!;
            const text = `side-${i === 0 ? 'a' : 'b'}-${stamp}`;
            await broadcast(sender.httpPort, c.token, text);
            const others = g.filter((x) => c.backend.running(x)).map((x) => c.nodes.find((n) => n.name === x)!);
            await until(`${text} reaching ${g.join(', ')}`, async () => (await Promise.all(others.map((n) => messagesOf(n.httpPort)))).every((m) => m?.includes(text)), SHOW_MS);
          }
        }
      } finally {
        await c.backend.heal();
      }
      return;
    }
    case 'gossip.multi-node-failure': {
      const k = Math.max(1, Math.floor((names.length - 1) / 2)); // a minority
      const victims = members.slice(-k);
      for (const n of victims) await c.crash(n.name);
      const survivors = names.filter((n) => !victims.some((v) => v.name === n));
      await groupsSettle(c, [survivors], `the survivors dropping ${victims.map((v) => v.name).join(', ')}`);
      return;
    }
    case 'gossip.total-loss':
      for (const n of c.nodes) await c.crash(n.name);
      for (const n of c.nodes) c.backend.corruptStore(n.name);
      return;
    case 'gossip.cache-corruption': {
      const victim = running(c).find((n) => !n.seed) ?? running(c)[0];
      if (!victim) throw new Error(`${c.cluster}: no running node`);
      await c.crash(victim.name);
      c.backend.corruptStore(victim.name);
      await c.unitStart(victim.name); // Restart=on-failure: it fails on the damaged store
      await groupsSettle(c, [names.filter((n) => n !== victim.name)], `the others dropping ${victim.name}`);
      return;
    }
    default:
      throw new Error(`${c.cluster} knows no fault "${fault}"; known: ${GOSSIP_FAULTS.join(', ')}`);
  }
}
