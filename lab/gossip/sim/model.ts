/**
 * The simulated gossip cluster's model, mirroring what the lab's real
 * memberlist-plumtree 0.1.6 nodes were seen to do (plumtree-control's
 * tests, test/conformance/lab-gossip-real.test.ts):
 *
 * - each running node has a membership view; two nodes that cannot reach
 *   each other (a node down, a cut link, a split switch) drop each other at
 *   the next tick, and a healed link does NOT merge them back: memberlist
 *   merges again only through a join (at start, or `POST /admin/join`);
 * - a join through a reachable seed merges the two views;
 * - a leave is final for the process: the node keeps its last peers, the
 *   others drop it, and it refuses joins until restarted;
 * - eager peers are the first {@link EAGER_FANOUT} of the others (sorted),
 *   lazy the rest;
 * - a broadcast reaches the members the sender can reach; with
 *   anti-entropy, members that reach each other exchange what they hold;
 *   the root hash is a digest of the message ids a node holds;
 * - messages persist in `<cacheDir>/store.db` (JSON lines); a store that
 *   does not read back whole refuses the start, as the real node's sled
 *   store does.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EAGER_FANOUT, cacheDirOf, type GossipNodeSpec } from '../spec';

/** One message a node holds. */
export interface SimMessage {
  id: string;
  text: string;
}

export interface SimNode {
  spec: GossipNodeSpec;
  running: boolean;
  pid?: number;
  since?: Date;
  exited?: string;
  /** Members this node sees, itself included. */
  view: Set<string>;
  left: boolean;
  /** The peers a node that left keeps (the real library keeps its peer state after a leave). */
  frozen?: { eager: string[]; lazy: string[] };
  messages: Map<string, string>;
  /** Retry the start-up join through the seeds until then (ms since epoch). */
  joinUntil: number;
  graftFailed: number;
  delivered: number;
}

/** How the model was told the network is. */
export interface SimNet {
  cut: Set<string>;
  /** Group of each node while the switch is split. */
  group: Map<string, number>;
}

const STORE = 'store.db';

export class SimModel {
  readonly nodes: SimNode[];
  readonly net: SimNet = { cut: new Set(), group: new Map() };
  private nextPid = 7000 + Math.floor(Math.random() * 20000);

  constructor(
    specs: GossipNodeSpec[],
    readonly sync: boolean,
  ) {
    this.nodes = specs.map((spec) => ({ spec, running: false, view: new Set(), left: false, messages: new Map(), joinUntil: 0, graftFailed: 0, delivered: 0 }));
  }

  get(name: string): SimNode {
    const n = this.nodes.find((x) => x.spec.name === name);
    if (!n) throw new Error(`lab gossip: no node ${name}`);
    return n;
  }

  /** Whether packets flow between a and b. */
  reach(a: SimNode, b: SimNode): boolean {
    if (a === b) return a.running;
    return a.running && b.running && !this.net.cut.has(a.spec.name) && !this.net.cut.has(b.spec.name) && (this.net.group.get(a.spec.name) ?? 0) === (this.net.group.get(b.spec.name) ?? 0);
  }

  peersOf(n: SimNode): { eager: string[]; lazy: string[] } {
    if (n.left && n.frozen) return n.frozen;
    const others = [...n.view].filter((x) => x !== n.spec.name).sort();
    return { eager: others.slice(0, EAGER_FANOUT), lazy: others.slice(EAGER_FANOUT) };
  }

  membersOf(n: SimNode): string[] {
    return [...n.view].filter((x) => !(n.left && x === n.spec.name)).sort();
  }

  /** Reads the node's store; throws the real node's refusal when it does not read back whole. */
  load(n: SimNode): void {
    const dir = cacheDirOf(n.spec);
    const file = join(dir, STORE);
    n.messages = new Map();
    if (!existsSync(file)) return;
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    for (const [i, line] of lines.entries()) {
      try {
        const m = JSON.parse(line) as SimMessage;
        if (typeof m.id !== 'string' || typeof m.text !== 'string') throw new Error('not a record');
        n.messages.set(m.id, m.text);
      } catch {
        throw new Error(`message store ${dir} cannot be opened (record ${i + 1} is unreadable): it is corrupted; stop the node, clear the directory, start it again`);
      }
    }
  }

  save(n: SimNode): void {
    const dir = cacheDirOf(n.spec);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, STORE), [...n.messages].map(([id, text]) => JSON.stringify({ id, text }) + '\n').join(''));
  }

  /** A process starts: alone, then it joins through the seeds (retrying for 30 s). */
  started(n: SimNode): void {
    n.running = true;
    n.pid = this.nextPid++;
    n.since = new Date();
    n.exited = undefined;
    n.view = new Set([n.spec.name]);
    n.left = false;
    n.frozen = undefined;
    n.graftFailed = 0;
    n.delivered = 0;
    n.joinUntil = Date.now() + 30_000;
    this.join(n, this.nodes.filter((s) => s.spec.seed).map((s) => s.spec.addr));
  }

  stopped(n: SimNode, why: string): void {
    n.running = false;
    n.exited = why;
    n.view = new Set();
    n.pid = undefined;
  }

  /** memberlist's join: a push-pull with every reachable seed merges the views. */
  join(n: SimNode, seeds: string[]): { joined: string[]; failed: string[] } {
    const joined: string[] = [];
    const failed: string[] = [];
    for (const addr of seeds) {
      const s = this.nodes.find((x) => x.spec.addr === addr);
      if (s === n) continue;
      if (!s || !s.running || s.left || !this.reach(n, s)) {
        failed.push(`${addr}: ${!s ? 'no node there' : 'no answer (i/o timeout)'}`);
        continue;
      }
      const merged = new Set([...n.view, ...s.view, n.spec.name, s.spec.name]);
      for (const name of merged) {
        const x = this.get(name);
        if (x.running && !x.left) for (const m of merged) x.view.add(m);
      }
      joined.push(addr);
    }
    // The start-up join stops retrying once a seed took it (as plumtree-node's does).
    if (joined.length) n.joinUntil = 0;
    return { joined, failed };
  }

  leave(n: SimNode): boolean {
    if (n.left) return false;
    n.frozen = this.peersOf(n);
    n.left = true;
    for (const x of this.nodes) if (x !== n) x.view.delete(n.spec.name);
    n.view = new Set(n.view);
    return true;
  }

  broadcast(n: SimNode, text: string): string {
    const id = `${Date.now().toString(16)}-${randomBytes(6).toString('hex')}`;
    n.messages.set(id, text);
    this.save(n);
    for (const name of n.view) {
      const x = this.get(name);
      if (x !== n && !x.left && this.reach(n, x) && !x.messages.has(id)) {
        x.messages.set(id, text);
        x.delivered += 1;
        this.save(x);
      }
    }
    return id;
  }

  rootHash(n: SimNode): string {
    return createHash('sha256').update([...n.messages.keys()].sort().join('\n')).digest('hex');
  }

  /** Failure detection, start-up joins and anti-entropy. */
  tick(): void {
    const now = Date.now();
    for (const a of this.nodes) {
      if (!a.running || a.left) continue;
      for (const name of [...a.view]) {
        const b = this.get(name);
        if (b !== a && (!this.reach(a, b) || b.left)) {
          a.view.delete(name);
          if (!b.running) a.graftFailed += 1;
        }
      }
      if (a.view.size === 1 && now < a.joinUntil) this.join(a, this.nodes.filter((s) => s.spec.seed).map((s) => s.spec.addr));
      if (a.view.size > 1) a.joinUntil = 0;
    }
    if (!this.sync) return;
    for (const a of this.nodes) {
      if (!a.running || a.left) continue;
      for (const name of a.view) {
        const b = this.get(name);
        if (b === a || !this.reach(a, b) || b.left) continue;
        let changed = false;
        for (const [id, text] of b.messages) {
          if (!a.messages.has(id)) {
            a.messages.set(id, text);
            a.delivered += 1;
            changed = true;
          }
        }
        if (changed) this.save(a);
      }
    }
  }
}
