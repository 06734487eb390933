/**
 * What a ledger node says about itself: its identity, the GLOBAL group as it
 * sees it and its health over gRPC; its data directory over SSH; its metrics;
 * whether its own backups can be used. Reads only; a node that does not
 * answer is a finding, not a failure.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { NodeRef } from '../common/types';
import { HTTP_READ_MS } from '../context';
import { TransportError } from '../transport/errors';
import { httpText, parsePrometheus } from '../transport/http';
import type { LedgerContext } from './context';
import { serviceActive } from './service';
import { id } from './wire';
import type { LedgerBackupStatus, LedgerClusterMember, LedgerDataDir, LedgerMetricsReport, LedgerNodeState } from './types';

type NodeInfo = { node_id?: string; address?: string; cluster_id?: string; state?: string; term?: string };
type ClusterInfo = { members?: Array<{ node_id?: string; address?: string; role?: string; is_leader?: boolean }>; leader_id?: string; term?: string };
type Health = { status?: string; message?: string; details?: Record<string, string> };

/** GetNodeInfo, GetClusterInfo and the node's HealthService.Check; members mapped to inventory nodes by address. */
export async function ledgerNodeState(ctx: LedgerContext, ref: NodeRef): Promise<LedgerNodeState> {
  return ctx.run(async () => {
    try {
      const [info, cluster, health] = await Promise.all([
        ctx.grpcCall<NodeInfo>(ref, 'AdminService', 'GetNodeInfo', {}),
        ctx.grpcCall<ClusterInfo>(ref, 'AdminService', 'GetClusterInfo', {}),
        ctx.grpcCall<Health>(ref, 'HealthService', 'Check', {}),
      ]);
      const members: LedgerClusterMember[] = (cluster.members ?? []).map((m) => ({
        nodeId: m.node_id ?? '',
        address: m.address ?? '',
        role: m.role === 'CLUSTER_MEMBER_ROLE_VOTER' ? 'voter' : m.role === 'CLUSTER_MEMBER_ROLE_LEARNER' ? 'learner' : 'unknown',
        isLeader: !!m.is_leader,
        node: m.address ? ctx.nodeAt(ref.cluster, m.address) : undefined,
      }));
      const peers = health.details?.['dep:peer_reachable'];
      return {
        node: ref.node,
        reachable: true,
        nodeId: id(info.node_id),
        address: info.address,
        clusterId: id(info.cluster_id),
        state: info.state,
        term: Number(cluster.term ?? info.term ?? 0),
        members,
        leaderId: id(cluster.leader_id),
        health: healthWord(health.status),
        healthMessage: health.message,
        peers,
        peersOk: peers === undefined ? undefined : /^ok\b/i.test(peers),
      };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message };
      throw err;
    }
  });
}

/** HEALTH_STATUS_DEGRADED -> degraded. */
export function healthWord(status: string | undefined): 'healthy' | 'degraded' | 'unavailable' | 'unknown' {
  switch (status) {
    case 'HEALTH_STATUS_HEALTHY':
      return 'healthy';
    case 'HEALTH_STATUS_DEGRADED':
      return 'degraded';
    case 'HEALTH_STATUS_UNAVAILABLE':
      return 'unavailable';
    default:
      return 'unknown';
  }
}

/** The node's data directory over SSH: present, `node_id`, `cluster_id`, and whether the service runs. */
export async function ledgerDataDir(ctx: LedgerContext, ref: NodeRef): Promise<LedgerDataDir> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(ref);
    const dataDir = ctx.setting(cluster, 'dataDir').replace(/\/+$/, '');
    const sudo = ctx.setting(cluster, 'sudo');
    try {
      const active = await serviceActive(ctx, ref, cluster);
      // One round: the listing, then each id file (absent ones print nothing).
      const res = await ctx.exec(
        ref,
        [
          { argv: ctx.root(['find', dataDir, '-mindepth', '1', '-maxdepth', '1'], sudo), ignoreExit: true },
          { argv: ['echo', '--ids--'] },
          { argv: ctx.root(['cat', `${dataDir}/node_id`], sudo), ignoreExit: true },
          { argv: ['echo'] },
          { argv: ctx.root(['cat', `${dataDir}/cluster_id`], sudo), ignoreExit: true },
          { argv: ['echo', '--version--'] },
          { argv: [ctx.setting(cluster, 'binary'), '--version'], ignoreExit: true },
        ],
        30_000,
      );
      const [listing = '', rest = ''] = res.stdout.split('--ids--\n');
      const [ids = '', version = ''] = rest.split('--version--\n');
      const [nodeId = '', clusterId = ''] = ids.split('\n').map((l) => l.trim());
      return {
        node: ref.node,
        sshReachable: true,
        dataDir,
        present: listing.trim() !== '',
        nodeId: /^\d+$/.test(nodeId) ? nodeId : undefined,
        clusterId: /^\d+$/.test(clusterId) ? clusterId : undefined,
        serviceActive: active,
        version: /inferadb-ledger (\S+)/.exec(version)?.[1],
      };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { node: ref.node, sshReachable: false, error: (err as Error).message, dataDir, present: false, serviceActive: false };
      throw err;
    }
  });
}

/** The node's Prometheus metrics: flowing, determinism bugs, diverged vaults. */
export async function ledgerMetrics(ctx: LedgerContext, ref: NodeRef): Promise<LedgerMetricsReport> {
  return ctx.run(async () => {
    const { node } = ctx.lookup(ref);
    if (!node.metricsUrl) throw ctx.missing(ref, 'metricsUrl', 'metricsUrl: "http://host:9090/metrics" (the node runs with --metrics)');
    try {
      const res = await httpText({ url: node.metricsUrl, timeoutMs: HTTP_READ_MS, signal: Context.current().cancellationSignal });
      const samples = parsePrometheus(res.body);
      const sum = (pred: (s: (typeof samples)[number]) => boolean): number => samples.filter(pred).reduce((n, s) => n + s.value, 0);
      return {
        node: ref.node,
        reachable: true,
        flowing: samples.some((s) => s.name.startsWith('ledger_') || s.name.startsWith('inferadb_ledger_')),
        determinismBugs: sum((s) => s.name === 'ledger_determinism_bug_total'),
        divergedVaults: sum((s) => s.name === 'ledger_vault_health' && s.labels.state === 'diverged'),
      };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message, flowing: false, determinismBugs: 0, divergedVaults: 0 };
      throw err;
    }
  });
}

/** AdminService.ListBackups: whether the server's own backups can be used, and which exist. */
export async function ledgerBackupStatus(ctx: LedgerContext, ref: NodeRef): Promise<LedgerBackupStatus> {
  return ctx.run(async () => {
    type List = { backups?: Array<{ backup_id?: string; backup_path?: string; size_bytes?: string }> };
    try {
      const res = await ctx.grpcCall<List>(ref, 'AdminService', 'ListBackups', { limit: 20 }, 10_000);
      return {
        node: ref.node,
        available: true,
        backups: (res.backups ?? []).map((b) => ({ id: b.backup_id ?? '', path: b.backup_path ?? '', sizeBytes: Number(b.size_bytes ?? 0) })),
      };
    } catch (err) {
      // Not configured (FAILED_PRECONDITION), or a server without the RPC: a finding, not a failure.
      if (err instanceof TransportError && (err.type === 'FailedPrecondition' || err.type === 'Unimplemented')) {
        return { node: ref.node, available: false, reason: err.message.split(': ').slice(2).join(': ').split('; ')[0] || err.message, backups: [] };
      }
      throw err;
    }
  });
}
