/**
 * The network of the real backend, made with `ip netns` (root): one network
 * namespace per node, named `lb-tc-<lab>-<i>`, with only `lo` and an `eth0`
 * holding `10.213.0.<i>/24`; the `eth0`s are joined by a bridge inside a
 * hub namespace `lb-tc-<lab>-hub`. No namespace has a default route and no
 * link leads to the machine's own namespace, so a node reaches its own
 * loopback and the other nodes' addresses, and nothing else. (The machine
 * reaches a node only through the lab's proxy, ./python PROXY_PY.)
 *
 * Leftovers of a crashed lab (namespaces of this prefix with no process in
 * them) are removed before a start.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';

/** Every namespace of the real training backend starts with this. */
export const NETNS_PREFIX = 'lb-tc-';
/** The nodes' subnet (inside the namespaces only). */
export const SUBNET = '10.213.0';

/** Runs a command; rejects with its stderr. */
export function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
  });
}

/** A short id for one lab directory, so two labs on one machine do not share namespaces. */
export function labId(dir: string): string {
  return createHash('sha256').update(dir).digest('hex').slice(0, 6);
}

/** The namespace names of one lab: its hub and its nodes (1-based). */
export function names(id: string, nodes: number): { hub: string; nodes: string[] } {
  return { hub: `${NETNS_PREFIX}${id}-hub`, nodes: Array.from({ length: nodes }, (_, i) => `${NETNS_PREFIX}${id}-${i + 1}`) };
}

/** The namespaces of this prefix that exist now. */
export function existing(): string[] {
  try {
    return readdirSync('/run/netns').filter((n) => n.startsWith(NETNS_PREFIX));
  } catch {
    return [];
  }
}

/** Removes namespaces of this prefix that hold no process (a crashed lab's), and every one of `id`. */
export async function removeLeftovers(id?: string): Promise<string[]> {
  const removed: string[] = [];
  for (const ns of existing()) {
    const mine = id !== undefined && ns.startsWith(`${NETNS_PREFIX}${id}-`);
    const pids = mine ? '' : await run('ip', ['netns', 'pids', ns]).catch(() => '');
    if (mine || pids.trim() === '') {
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
      removed.push(ns);
    }
  }
  return removed;
}

/** Creates the hub and the node namespaces of one lab, wired as described above. */
export async function createNetwork(id: string, nodes: number): Promise<{ hub: string; nodes: string[] }> {
  const n = names(id, nodes);
  await run('ip', ['netns', 'add', n.hub]);
  await run('ip', ['-n', n.hub, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', n.hub, 'link', 'add', 'br0', 'type', 'bridge']);
  await run('ip', ['-n', n.hub, 'link', 'set', 'br0', 'up']);
  for (const [i, ns] of n.nodes.entries()) {
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // Both ends made inside their namespaces: nothing of it ever sits in the machine's.
    await run('ip', ['link', 'add', `v${i + 1}`, 'netns', n.hub, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await run('ip', ['-n', n.hub, 'link', 'set', `v${i + 1}`, 'master', 'br0', 'up']);
    await run('ip', ['-n', ns, 'addr', 'add', `${SUBNET}.${i + 1}/24`, 'dev', 'eth0']);
    await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  }
  return n;
}

/** Deletes the lab's namespaces (the processes in them must be gone first). */
export async function removeNetwork(id: string): Promise<void> {
  for (const ns of existing().filter((x) => x.startsWith(`${NETNS_PREFIX}${id}-`))) {
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}
