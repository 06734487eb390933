/**
 * Two things both the orchestrators (./nodes.ts) and the ai-service app
 * (./app.ts) need from the machine's side of a node's namespaces: the lab's
 * proxy into the node's network (./python PROXY_PY), and the processes
 * running inside the node's PID namespace.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** One request the proxy passed on (never its headers: they may hold a key). */
export interface ProxiedRequest {
  method?: string;
  path?: string;
  status?: number;
  body?: string;
}

/**
 * Starts the proxy to `port` inside the network namespace at `netnsPath`; resolves with the loopback port
 * it listens on, and hands every request it logs to `onRequest`. Rejects when it exits or is silent for 10 s.
 */
export function startProxy(
  o: { python: string; script: string; netnsPath: string; port: number; what: string },
  onRequest: (r: ProxiedRequest) => void,
): { child: ChildProcess; listening: Promise<number> } {
  const child = spawn(o.python, [o.script, o.netnsPath, String(o.port)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err += b.toString('utf8')));
  const listening = new Promise<number>((resolvePromise, reject) => {
    let port = 0;
    const timer = setTimeout(() => reject(new Error(`${o.what} did not start in 10 s: ${err.trim()}`)), 10_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!port) reject(new Error(`${o.what} exited (${code}): ${err.trim()}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: ProxiedRequest & { listening?: number };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        return;
      }
      if (entry.listening) {
        clearTimeout(timer);
        port = entry.listening;
        resolvePromise(port);
        return;
      }
      onRequest(entry);
    });
  });
  return { child, listening };
}

/** Live (not zombie) processes in the PID namespace of `initPid` whose argv `matches`, by the machine's pids. */
export function pidsInNamespace(initPid: number, matches: (argv: string[]) => boolean): number[] {
  let ns: string;
  try {
    ns = readlinkSync(`/proc/${initPid}/ns/pid`);
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/ns/pid`) !== ns) continue;
      if (matches(readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0')) && !/\) Z /.test(readFileSync(`/proc/${d}/stat`, 'utf8'))) out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}
