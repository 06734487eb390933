/**
 * The real gossip nodes' network: one network namespace per node, each
 * with one veth link to a bridge that lives in a namespace of its own (the
 * "switch"). Nothing of it is in the host's namespace: the nodes reach each
 * other and nothing else (the host has no address on the bridge, and no
 * route leads out). Faults act on the switch: a node's port taken down
 * (a pulled cable), a second bridge the other side's ports move to (a split
 * switch), everything put back (healed).
 *
 * Names: `lb-gossip-<pid>-<n>-sw` and `lb-gossip-<pid>-<n>-<node>`, the pid
 * of the lab process that made them; {@link removeLeftovers} removes the
 * namespaces (and kills the processes inside) of labs whose process is gone.
 * Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and `ip` (iproute2).
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** The prefix of every namespace this module makes. */
export const NETNS_PREFIX = 'lb-gossip-';
/** The nodes' subnet inside the switch (no route to it exists outside). */
export const SUBNET = '10.213.0';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p)) ?? 'ip';

/** Runs `ip ...args`; rejects with its stderr. */
export function ip(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(IP, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
  });
}

/** Why the real backend cannot run here, or undefined. */
export function netUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the real gossip backend makes network namespaces and needs root (run the lab or the conformance suite as root)';
  if (IP === 'ip' && !existsSync('/usr/sbin/ip')) return 'the real gossip backend needs `ip` (iproute2: apt-get install iproute2)';
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Namespaces of labs whose process is gone: the processes inside are killed, the namespaces removed. */
export async function removeLeftovers(): Promise<string[]> {
  const removed: string[] = [];
  const names = (await ip(['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(NETNS_PREFIX));
  for (const ns of names) {
    const pid = Number(/^lb-gossip-(\d+)-/.exec(ns)?.[1]);
    if (pid && alive(pid) && isNode(pid)) continue;
    await killInside(ns);
    await ip(['netns', 'del', ns]).catch(() => undefined);
    removed.push(ns);
  }
  return removed;
}

function isNode(pid: number): boolean {
  try {
    return /node/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false;
  }
}

async function killInside(ns: string): Promise<void> {
  const pids = (await ip(['netns', 'pids', ns]).catch(() => '')).split('\n').map(Number).filter((p) => p > 1);
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

let labSeq = 0;

/** The switch and the nodes' namespaces of one lab. */
export class GossipNet {
  readonly id = `${NETNS_PREFIX}${process.pid}-${++labSeq}`;
  readonly sw = `${this.id}-sw`;
  private readonly nodes: string[] = [];
  private split = false;

  nsOf(node: string): string {
    return `${this.id}-${node}`;
  }

  /** `/run/netns/<ns>` of a node, what plumtree-node's --netns takes. */
  nsPath(node: string): string {
    return `/run/netns/${this.nsOf(node)}`;
  }

  private port(node: string): string {
    // Interface names are per namespace: only unique inside the switch.
    return `p-${node}`.slice(0, 15);
  }

  /** Creates the switch and one namespace per node; returns each node's address. */
  async create(nodes: string[]): Promise<Map<string, string>> {
    const addrs = new Map<string, string>();
    await ip(['netns', 'add', this.sw]);
    await ip(['-n', this.sw, 'link', 'set', 'lo', 'up']);
    await ip(['-n', this.sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', this.sw, 'link', 'set', 'br0', 'up']);
    for (const [i, node] of nodes.entries()) {
      const ns = this.nsOf(node);
      const addr = `${SUBNET}.${11 + i}`;
      await ip(['netns', 'add', ns]);
      this.nodes.push(node);
      await ip(['link', 'add', this.port(node), 'netns', this.sw, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await ip(['-n', this.sw, 'link', 'set', this.port(node), 'master', 'br0', 'up']);
      await ip(['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0']);
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      addrs.set(node, addr);
    }
    return addrs;
  }

  /** The node's port on the switch goes down. */
  async cut(node: string): Promise<void> {
    await ip(['-n', this.sw, 'link', 'set', this.port(node), 'down']);
  }

  /** Group 0 stays on br0, each other group gets a bridge of its own. */
  async splitInto(groups: string[][]): Promise<void> {
    for (const [i, g] of groups.entries()) {
      if (i === 0) continue;
      const br = `br${i}`;
      await ip(['-n', this.sw, 'link', 'add', br, 'type', 'bridge']).catch((e: Error) => {
        if (!/exists/.test(e.message)) throw e;
      });
      await ip(['-n', this.sw, 'link', 'set', br, 'up']);
      for (const node of g) await ip(['-n', this.sw, 'link', 'set', this.port(node), 'master', br]);
    }
    this.split = true;
  }

  /** Every port up and on br0. */
  async heal(): Promise<void> {
    for (const node of this.nodes) {
      if (this.split) await ip(['-n', this.sw, 'link', 'set', this.port(node), 'master', 'br0']);
      await ip(['-n', this.sw, 'link', 'set', this.port(node), 'up']);
    }
    this.split = false;
  }

  /** Whether the node's port is down now. */
  async isDown(node: string): Promise<boolean> {
    const out = await ip(['-n', this.sw, '-o', 'link', 'show', this.port(node)]).catch(() => '');
    return !/[<,]UP[,>]/.test(out);
  }

  /** Kills what runs inside and removes every namespace. */
  async destroy(): Promise<void> {
    for (const ns of [...this.nodes.map((n) => this.nsOf(n)), this.sw]) {
      await killInside(ns);
      await ip(['netns', 'del', ns]).catch(() => undefined);
    }
    this.nodes.length = 0;
  }
}
