/**
 * `lifeboat inventory check [--probe]`: validates the clusters file and,
 * with `--probe`, opens a TCP connection to every endpoint of every node
 * (ssh, gRPC, HTTP, metrics) to show what a worker would reach from here.
 *
 * @module
 */
import type { Command } from 'commander';
import type { Inventory } from '../inventory/load';
import { table as newTable, type Context } from './context';
import { approvalPolicy } from './signing';

/** One endpoint of one node. */
export interface Endpoint {
  cluster: string;
  node: string;
  kind: 'ssh' | 'grpc' | 'http' | 'metrics';
  host: string;
  port: number;
}

export interface ProbeRow extends Endpoint {
  open: boolean;
  latencyMs?: number;
  error?: string;
}

type TcpProbe = (host: string, port: number, opts: { timeoutMs: number; signal?: AbortSignal }) => Promise<{ open: boolean; latencyMs?: number; error?: string }>;

/** Every TCP endpoint the inventory names. */
export function endpointsOf(inv: Inventory): Endpoint[] {
  const out: Endpoint[] = [];
  for (const [cluster, c] of Object.entries(inv.clusters)) {
    for (const n of c.nodes) {
      if (n.ssh) out.push({ cluster, node: n.name, kind: 'ssh', host: n.ssh.host, port: n.ssh.port });
      if (n.grpc) {
        const hp = splitHostPort(n.grpc.address);
        if (hp) out.push({ cluster, node: n.name, kind: 'grpc', ...hp });
      }
      if (n.http) out.push({ cluster, node: n.name, kind: 'http', ...urlHostPort(n.http.baseUrl) });
      if (n.metricsUrl) out.push({ cluster, node: n.name, kind: 'metrics', ...urlHostPort(n.metricsUrl) });
    }
  }
  return out;
}

function splitHostPort(address: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  return m ? { host: m[1] as string, port: Number(m[2]) } : undefined;
}

function urlHostPort(u: string): { host: string; port: number } {
  const url = new URL(u);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

/** Probes endpoints with bounded concurrency. */
async function probeAll(endpoints: Endpoint[], probe: TcpProbe, timeoutMs: number): Promise<ProbeRow[]> {
  const rows: ProbeRow[] = new Array(endpoints.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < endpoints.length) {
      const i = next++;
      const e = endpoints[i] as Endpoint;
      try {
        rows[i] = { ...e, ...(await probe(e.host, e.port, { timeoutMs })) };
      } catch (err) {
        rows[i] = { ...e, open: false, error: err instanceof Error ? err.message : String(err) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, endpoints.length) }, worker));
  return rows;
}

export function register(program: Command, ctx: Context): void {
  const inventory = program.command('inventory').description('the clusters file');
  inventory
    .command('check')
    .description('validate the clusters file; --probe also tests every endpoint over TCP')
    .option('--probe', 'open a TCP connection to every ssh/grpc/http/metrics endpoint')
    .option('--timeout <ms>', 'per-endpoint probe timeout', '2000')
    .option('--json', 'print JSON')
    .action(async (flags: { probe?: boolean; timeout: string; json?: boolean }) => {
      const file = ctx.config().inventoryPath;
      const inv = ctx.inventory();
      const clusters = Object.entries(inv.clusters).map(([name, c]) => ({
        name,
        system: c.system,
        taskQueue: c.taskQueue,
        nodes: c.nodes.map((n) => ({ name: n.name, roles: n.roles })),
        approvals: approvalsOf(inv, file, name),
      }));
      let probes: ProbeRow[] | undefined;
      if (flags.probe) {
        const timeoutMs = Number(flags.timeout);
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { tcpProbe } = require('../activities/transport/probe') as { tcpProbe: TcpProbe };
        probes = await probeAll(endpointsOf(inv), tcpProbe, Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 2000);
      }
      const closed = probes?.filter((p) => !p.open) ?? [];
      if (closed.length) ctx.exitCode = 1;
      if (flags.json) return ctx.json({ path: file, valid: true, clusters, probes });

      ctx.line(`Inventory ${file} is valid: ${clusters.length} cluster${clusters.length === 1 ? '' : 's'}.`);
      const table = newTable(ctx, ['cluster', 'system', 'task queue', 'nodes', 'approvals']);
      for (const c of clusters) table.push([c.name, c.system, c.taskQueue, c.nodes.map((n) => (n.roles.length ? `${n.name} (${n.roles.join(',')})` : n.name)).join('\n'), c.approvals]);
      ctx.line(table.toString());
      if (probes) {
        const pt = newTable(ctx, ['cluster', 'node', 'endpoint', 'address', 'result']);
        for (const p of probes) pt.push([p.cluster, p.node, p.kind, `${p.host}:${p.port}`, p.open ? `open (${p.latencyMs ?? '?'} ms)` : `CLOSED: ${p.error ?? 'no answer'}`]);
        ctx.line(pt.toString());
        ctx.line(
          closed.length
            ? `${closed.length} of ${probes.length} endpoints unreachable from here; workers on this cluster's task queue must reach them.`
            : `All ${probes.length} endpoints reachable.`,
        );
      }
    });
}

/** How a cluster's recoveries are approved, in a few words (a problem is shown, not thrown: `run` refuses it with the fix). */
function approvalsOf(inv: Inventory, file: string, cluster: string): string {
  try {
    const p = approvalPolicy(inv, file, cluster);
    if (p.mode === 'unsigned') return 'unsigned: identity not verified';
    const who = [...new Set((p.signers ?? []).flatMap((s) => s.principals))];
    const required = Object.entries(p.required ?? {}).map(([g, n]) => `${g}: ${n}`);
    return `signed by ${who.join(', ')}${required.length ? `; ${required.join(', ')} approvers` : ''}`;
  } catch (err) {
    return `NONE: ${(err as Error).message} (lifeboat run refuses it)`;
  }
}
