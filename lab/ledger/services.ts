/**
 * A ledger node's servers: the `ledger.v1` gRPC services (AdminService,
 * ReadService, WriteService, HealthService) and the Prometheus metrics
 * endpoint, bound on loopback while the node's process runs.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { LedgerCluster, NodeRuntime } from './cluster';
import { appendBlock, checkChain, cloneState, loadState, rememberKey, STATE_FILE, vaultHeight, vaultTipHash, type VaultState } from './state';

/** A gRPC failure with its status code. */
class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

/** Binds a node's gRPC services and metrics endpoint (an ephemeral port on first start, the same one after). */
export async function bind(sim: LedgerCluster, rt: NodeRuntime): Promise<void> {
  const pkg = sim.pkg!;
  const svc = (name: string) => (pkg[name] as grpc.ServiceClientConstructor).service;
  const server = new grpc.Server();
  server.addService(svc('AdminService'), {
    GetClusterInfo: unary(sim, rt, () => getClusterInfo(sim, rt)),
    LeaveCluster: unary(sim, rt, (r) => leaveCluster(sim, rt, r), true),
    ListOrganizations: unary(sim, rt, () => ({
      organizations: Object.entries(rt.state.organizations).map(([id, o]) => ({ slug: { id }, name: o.name })),
    })),
    ListVaults: unary(sim, rt, (r) => listVaults(sim, rt, r)),
    GetVault: unary(sim, rt, (r) => {
      const { org, slug, vault } = vaultRef(rt, r);
      return { vault: vaultMessage(org, slug, vault) };
    }),
    CheckIntegrity: unary(sim, rt, (r) => checkIntegrity(sim, rt, r)),
    RecoverVault: unary(sim, rt, (r) => recoverVault(sim, rt, r), true),
    CreateSnapshot: unary(sim, rt, (r) => createSnapshot(sim, rt, r), true),
  });
  server.addService(svc('ReadService'), {
    GetTip: unary(sim, rt, (r) => {
      const { vault } = vaultRef(rt, r);
      return { height: vaultHeight(vault), hash: vaultTipHash(vault) };
    }),
  });
  server.addService(svc('WriteService'), { Write: unary(sim, rt, (r) => write(sim, rt, r), true) });
  server.addService(svc('HealthService'), {
    Check: unary(sim, rt, () => ({ status: sim.leaderOf(rt) ? 'SERVING' : 'NOT_SERVING' })),
  });
  const port = await new Promise<number>((ok, ko) =>
    server.bindAsync(`127.0.0.1:${rt.grpcPort}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? ko(err) : ok(p))),
  );
  rt.grpcPort = port;
  rt.grpcServer = server;

  const http = createServer((req, res) => serveMetrics(sim, rt, req, res));
  try {
    await new Promise<void>((ok, ko) => {
      http.once('error', ko);
      http.listen(rt.metricsPort, '127.0.0.1', () => {
        http.off('error', ko);
        ok();
      });
    });
  } catch (e) {
    server.forceShutdown();
    rt.grpcServer = undefined;
    throw e;
  }
  rt.metricsPort = (http.address() as AddressInfo).port;
  rt.httpServer = http;
}

function unary<Req>(sim: LedgerCluster, rt: NodeRuntime, fn: (req: Req) => object, admin = false): grpc.handleUnaryCall<Req, object> {
  return (call, cb) => {
    try {
      if (!rt.running) throw new RpcError(grpc.status.UNAVAILABLE, `${rt.name} is shutting down`);
      if (admin && sim.hostCtl?.apiRefused(rt.name)) throw new RpcError(grpc.status.UNAUTHENTICATED, 'invalid credentials');
      cb(null, fn(call.request));
    } catch (e) {
      const code = e instanceof RpcError ? e.code : grpc.status.INTERNAL;
      cb({ code, details: (e as Error).message, name: 'RpcError', message: (e as Error).message });
    }
  };
}

function getClusterInfo(sim: LedgerCluster, rt: NodeRuntime): object {
  const leader = sim.leaderOf(rt);
  return {
    cluster_id: rt.state.cluster_id,
    leader_id: leader ? { id: leader } : null,
    term: sim.termOf(rt),
    members: rt.state.members.map((name) => {
      const m = sim.nodes.get(name);
      return {
        node_id: { id: name },
        address: m ? `127.0.0.1:${m.grpcPort}` : '',
        role: 'voter',
        reachable: name === rt.name || (!!m?.running && m.state.cluster_id === rt.state.cluster_id),
      };
    }),
    mode: rt.state.mode,
    commit_index: rt.state.commit_index,
  };
}

function leaveCluster(sim: LedgerCluster, rt: NodeRuntime, req: { node_id?: { id?: string } | null }): object {
  const id = req.node_id?.id;
  if (!id) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'node_id.id is required (the member to remove)');
  const cid = rt.state.cluster_id;
  if (!rt.state.members.includes(id)) return { removed: false };
  if (id === rt.name) throw new RpcError(grpc.status.FAILED_PRECONDITION, `${rt.name} cannot remove itself; send LeaveCluster to another member`);
  if (!sim.leaderOf(rt)) throw new RpcError(grpc.status.UNAVAILABLE, `no quorum: cluster ${cid || '(none)'} has no leader to commit the membership change`);
  const members = rt.state.members.filter((m) => m !== id);
  for (const m of sim.nodes.values()) {
    if (m.running && m.state.cluster_id === cid && m.name !== id) {
      m.state.members = [...members];
      sim.persist(m);
      sim.logLine(m, `membership: ${id} removed (voters ${members.join(', ')})`);
    }
  }
  sim.record(id, 'ledger.leave', { via: rt.name, clusterId: cid });
  const gone = sim.nodes.get(id);
  if (gone?.running && gone.state.cluster_id === cid) {
    // A removed voter learns it from the log and shuts down.
    void sim.serial(gone, () => sim.halt(gone, `removed from cluster ${cid}`));
  }
  sim.reconcile();
  return { removed: true };
}

function listVaults(sim: LedgerCluster, rt: NodeRuntime, req: { organization_slug?: { id?: string } | null }): object {
  const only = req.organization_slug?.id;
  if (only && !rt.state.organizations[only]) throw new RpcError(grpc.status.NOT_FOUND, `organization ${only} not found on ${rt.name}`);
  const vaults: object[] = [];
  for (const [org, o] of Object.entries(rt.state.organizations)) {
    if (only && org !== only) continue;
    for (const [slug, v] of Object.entries(o.vaults)) vaults.push({ vault: vaultMessage(org, slug, v) });
  }
  return { vaults };
}

function vaultMessage(org: string, slug: string, v: VaultState): object {
  return { vault: { slug }, organization_slug: { id: org }, status: v.status, height: vaultHeight(v) };
}

function vaultRef(rt: NodeRuntime, req: { organization_slug?: { id?: string } | null; vault?: { slug?: string } | null }) {
  const org = req.organization_slug?.id;
  const slug = req.vault?.slug;
  if (!org || !slug) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'organization_slug.id and vault.slug are required');
  const vault = rt.state.organizations[org]?.vaults[slug];
  if (!vault) throw new RpcError(grpc.status.NOT_FOUND, `vault ${org}/${slug} not found on ${rt.name}`);
  return { org, slug, vault };
}

/** Verifies the chain as stored in the data file (not the process's memory), so on-disk damage shows. */
function checkIntegrity(sim: LedgerCluster, rt: NodeRuntime, req: { organization_slug?: { id?: string } | null; vault?: { slug?: string } | null; full_check?: boolean }): object {
  const { org, slug } = vaultRef(rt, req);
  const loaded = loadState(rt.config.dataDir);
  if (loaded.kind !== 'ok') {
    return { ok: false, blocks_checked: 0, problems: [`data file ${sim.hostPath(rt, rt.config.dataDir)}/${STATE_FILE} ${loaded.kind === 'missing' ? 'is missing' : `is unreadable: ${loaded.error}`}`] };
  }
  const onDisk = loaded.state.organizations[org]?.vaults[slug];
  if (!onDisk) return { ok: false, blocks_checked: 0, problems: [`vault ${org}/${slug} is missing from the data file`] };
  const r = checkChain(onDisk, !!req.full_check);
  return { ok: r.ok, blocks_checked: r.blocksChecked, problems: r.problems };
}

/** Rebuilds a diverged vault from an intact replica in the same cluster (the leader first). */
function recoverVault(sim: LedgerCluster, rt: NodeRuntime, req: { organization_slug?: { id?: string } | null; vault?: { slug?: string } | null }): object {
  const { org, slug, vault } = vaultRef(rt, req);
  const intact = checkChain(vault, true).ok && vault.status === 'ACTIVE';
  if (intact) {
    sim.record(rt.name, 'ledger.recover-vault', { organization: org, vault: slug, recovered: true, changed: false });
    return { recovered: true, status: 'ACTIVE' };
  }
  const cid = rt.state.cluster_id;
  const leader = sim.leaderOf(rt);
  const replicas = [...sim.nodes.values()]
    .filter((m) => m !== rt && m.running && m.state.cluster_id === cid)
    .sort((a, b) => (a.name === leader ? -1 : b.name === leader ? 1 : a.name.localeCompare(b.name)));
  const good = replicas.find((m) => {
    const v = m.state.organizations[org]?.vaults[slug];
    return v && v.status === 'ACTIVE' && checkChain(v, true).ok;
  });
  if (!good) {
    sim.record(rt.name, 'ledger.recover-vault', { organization: org, vault: slug, recovered: false });
    sim.logLine(rt, `recovery of ${org}/${slug} failed: no intact replica reachable`);
    return { recovered: false, status: vault.status };
  }
  const copy = cloneState(good.state.organizations[org]!.vaults[slug]!);
  rt.state.organizations[org]!.vaults[slug] = copy;
  sim.persist(rt);
  sim.logLine(rt, `vault ${org}/${slug} recovered from ${good.name} (height ${vaultHeight(copy)})`);
  sim.record(rt.name, 'ledger.recover-vault', { organization: org, vault: slug, recovered: true, changed: true, from: good.name });
  return { recovered: true, status: copy.status };
}

function createSnapshot(sim: LedgerCluster, rt: NodeRuntime, req: { organization_slug?: { id?: string } | null; vault?: { slug?: string } | null }): object {
  const { org, slug, vault } = vaultRef(rt, req);
  const height = vaultHeight(vault);
  const id = `snap-${org}-${slug}-${height}-${Date.now().toString(36)}`;
  const dir = join(rt.config.dataDir, 'snapshots');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${id}.json`), JSON.stringify({ cluster_id: rt.state.cluster_id, organization: org, vault: slug, height, blocks: vault.blocks }) + '\n');
  sim.record(rt.name, 'ledger.snapshot', { organization: org, vault: slug, height, snapshotId: id });
  return { snapshot_id: id, height };
}

function write(sim: LedgerCluster, rt: NodeRuntime, req: { organization_slug?: { id?: string } | null; vault?: { slug?: string } | null; idempotency_key?: string; payload?: Buffer }): object {
  const { org, slug } = vaultRef(rt, req);
  const cid = rt.state.cluster_id;
  const leader = sim.leaderOf(rt);
  const l = leader ? sim.nodes.get(leader) : undefined;
  if (!l || !l.running) {
    throw new RpcError(
      grpc.status.UNAVAILABLE,
      `no quorum: cluster ${cid || '(none)'} has no leader (${sim.votes(rt)} of ${rt.state.members.length} voters reachable); writes resume when a majority runs`,
    );
  }
  const key = req.idempotency_key ?? '';
  const seen = key ? l.state.idempotency[key] : undefined;
  if (seen) return { height: seen.height, duplicate: true };
  const lv = l.state.organizations[org]?.vaults[slug];
  if (!lv) throw new RpcError(grpc.status.NOT_FOUND, `vault ${org}/${slug} not found on leader ${l.name}`);
  const block = appendBlock(lv, Buffer.from(req.payload ?? Buffer.alloc(0)), key || undefined);
  l.state.commit_index++;
  if (key) rememberKey(l.state, key, { organization: org, vault: slug, height: block.height });
  sim.persist(l);
  for (const m of sim.nodes.values()) {
    if (m === l || !m.running || m.state.cluster_id !== cid || !l.state.members.includes(m.name)) continue;
    const mv = m.state.organizations[org]?.vaults[slug];
    if (mv && vaultHeight(mv) === block.height - 1) {
      mv.blocks.push({ ...block });
      m.state.commit_index = l.state.commit_index;
      if (key) rememberKey(m.state, key, { organization: org, vault: slug, height: block.height });
    } else {
      m.state = sim.replicaOf(l.state);
    }
    sim.persist(m);
  }
  sim.record(rt.name, 'ledger.write', { organization: org, vault: slug, height: block.height, leader: l.name, idempotencyKey: key || undefined });
  return { height: block.height, duplicate: false };
}

function serveMetrics(sim: LedgerCluster, rt: NodeRuntime, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n');
    return;
  }
  const leader = sim.leaderOf(rt);
  const lines = [
    '# HELP ledger_up Whether the ledger process is up.',
    '# TYPE ledger_up gauge',
    `ledger_up ${rt.running ? 1 : 0}`,
    '# HELP ledger_is_leader Whether this node is the Raft leader of its cluster.',
    '# TYPE ledger_is_leader gauge',
    `ledger_is_leader ${leader === rt.name ? 1 : 0}`,
    '# HELP ledger_commit_index Highest committed log index on this node.',
    '# TYPE ledger_commit_index gauge',
    `ledger_commit_index ${rt.state.commit_index}`,
    '# HELP ledger_term Current Raft term.',
    '# TYPE ledger_term gauge',
    `ledger_term ${sim.termOf(rt)}`,
    '# HELP ledger_determinism_bug_total Vault state divergences detected (state root differs from the leader).',
    '# TYPE ledger_determinism_bug_total counter',
  ];
  for (const [org, o] of Object.entries(rt.state.organizations)) {
    for (const slug of Object.keys(o.vaults)) {
      lines.push(`ledger_determinism_bug_total{organization="${org}",vault="${slug}"} ${rt.bugs.get(`${org}/${slug}`) ?? 0}`);
    }
  }
  if (!Object.keys(rt.state.organizations).length) lines.push('ledger_determinism_bug_total 0');
  lines.push('# HELP ledger_vault_height Height of each vault\'s tip.', '# TYPE ledger_vault_height gauge');
  for (const [org, o] of Object.entries(rt.state.organizations)) {
    for (const [slug, v] of Object.entries(o.vaults)) lines.push(`ledger_vault_height{organization="${org}",vault="${slug}"} ${vaultHeight(v)}`);
  }
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(lines.join('\n') + '\n');
}
