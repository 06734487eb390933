/**
 * The ledger's systemd unit on each lab node, as the project's deployments
 * write it: fixed per node, like a unit file. It holds the node's gRPC and
 * metrics addresses, its data directory, every node of the cluster as a
 * `--join` seed and the email blinding key:
 * ```
 * inferadb-ledger --listen 127.0.0.1:P --data <host>/data --metrics 127.0.0.1:M
 *   --join 127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3 --email-blinding-key <64 hex>
 * ```
 * Ports come from the lab's allocator: fixed ones, or free loopback ports
 * picked once at the family's start (the inventory names them before any
 * process runs).
 *
 * @module
 */
import { restartablePort } from '../ports';
import { join, resolve } from 'node:path';

/** The version every lab ledger node reports (`inferadb-ledger --version`). */
export const LEDGER_VERSION = '0.1.0';

/** The key every lab node's unit passes as `--email-blinding-key` (onboarding needs one; any 64 hex digits do). */
export const EMAIL_BLINDING_KEY = '6c6966656230617420'.padEnd(64, '0').slice(0, 64);

/** The systemd unit name of the ledger on every node. */
export const SERVICE_UNIT = 'ledger';

/** One node's unit: where it listens and keeps its data, and the seeds it joins through. */
export interface LedgerUnit {
  node: string;
  /** The host's root directory. */
  root: string;
  /** `--listen`: 127.0.0.1:port, the inventory's grpc.address. */
  listen: string;
  /** `--metrics`: 127.0.0.1:port (the inventory's metricsUrl is http://<it>/metrics). */
  metrics: string;
  /** `--data`: absolute, inside the host root. */
  data: string;
  /** `--join`: every node's listen address, this one's included. */
  join: string[];
  /** `--email-blinding-key`. */
  blindingKey: string;
}

/** The server's command line for a unit (what `systemctl start ledger` runs). */
export function unitArgv(u: LedgerUnit): string[] {
  return ['--listen', u.listen, '--data', u.data, '--metrics', u.metrics, '--join', u.join.join(','), '--email-blinding-key', u.blindingKey];
}

/** The unit file's ExecStart line, for `systemctl status`. */
export function execStart(u: LedgerUnit): string {
  return ['/usr/local/bin/inferadb-ledger', ...unitArgv(u)].join(' ');
}

/** A free loopback port for a node's unit, which restarts on it (below the ephemeral range: ../ports). */
export function freeLoopbackPort(): Promise<number> {
  return restartablePort();
}

/**
 * The units of a cluster's nodes.
 *
 * @param basePort 0: free ports; else node i gets gRPC basePort+i and metrics basePort+100+i
 * @param workdir where the data lives under the host root (the DR region's `dr-region`), '' for the root itself
 */
export async function planUnits(nodes: string[], hostRoot: (node: string) => string, basePort: number, workdir: string): Promise<LedgerUnit[]> {
  const ports: Array<{ grpc: number; metrics: number }> = [];
  for (let i = 0; i < nodes.length; i++) {
    ports.push(basePort ? { grpc: basePort + i, metrics: basePort + 100 + i } : { grpc: await freeLoopbackPort(), metrics: await freeLoopbackPort() });
  }
  const seeds = ports.map((p) => `127.0.0.1:${p.grpc}`);
  return nodes.map((node, i) => {
    const root = resolve(hostRoot(node));
    return {
      node,
      root,
      listen: seeds[i]!,
      metrics: `127.0.0.1:${ports[i]!.metrics}`,
      data: workdir ? join(root, workdir, 'data') : join(root, 'data'),
      join: seeds,
      blindingKey: EMAIL_BLINDING_KEY,
    };
  });
}

/** Where the lab keeps its own files, from a host root (`<lab>/hosts/<cluster>/<node>` -> `<lab>`). */
export function labDirOf(hostRoot: string): string {
  return resolve(hostRoot, '..', '..', '..');
}

/** `http://127.0.0.1:50051` or `127.0.0.1:50051` -> `127.0.0.1:50051`. */
export function bare(endpoint: string): string {
  return endpoint.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
}
