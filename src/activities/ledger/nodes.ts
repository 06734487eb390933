/**
 * What a ledger node says about itself: cluster membership, leader, term and
 * health over gRPC, and its metrics endpoint (series flowing, determinism
 * bugs). Reads only; a node that does not answer is a finding, not a failure.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { NodeRef } from '../common/types';
import { HTTP_READ_MS } from '../context';
import { httpText, parsePrometheus } from '../transport/http';
import type { LedgerContext } from './context';
import type { LedgerDeterminismBugs, LedgerNodeInfo } from './types';

/** GetClusterInfo + HealthService.Check on one node; unreachable is a result, not a failure. */
export async function ledgerNodeInfo(ctx: LedgerContext, ref: NodeRef): Promise<LedgerNodeInfo> {
  return ctx.run(async () => {
    type Info = {
      cluster_id?: string;
      leader_id?: { id?: string } | null;
      term?: number;
      mode?: string;
      commit_index?: number;
      members?: Array<{ node_id?: { id?: string } | null; role?: string; reachable?: boolean }>;
    };
    try {
      const [info, health] = await Promise.all([
        ctx.grpcCall<Info>(ref, 'AdminService', 'GetClusterInfo', {}),
        ctx.grpcCall<{ status?: string }>(ref, 'HealthService', 'Check', { service: '' }),
      ]);
      return {
        node: ref.node,
        reachable: true,
        clusterId: info.cluster_id || undefined,
        leader: info.leader_id?.id || undefined,
        term: info.term,
        mode: info.mode === 'single' ? 'single' : 'cluster',
        commitIndex: info.commit_index,
        members: (info.members ?? []).map((m) => ({ node: m.node_id?.id ?? '?', role: m.role ?? '', reachable: !!m.reachable })),
        serving: health.status === 'SERVING',
      };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message };
      throw err;
    }
  });
}

/** True when the metrics endpoint answers with ledger_* series. */
export async function ledgerMetricsFlowing(ctx: LedgerContext, ref: NodeRef): Promise<boolean> {
  return ctx.run(async () => {
    const { node } = ctx.lookup(ref);
    if (!node.metricsUrl) throw ctx.missing(ref, 'metricsUrl', 'metricsUrl: "http://host:9090/metrics"');
    try {
      const res = await httpText({ url: node.metricsUrl, timeoutMs: HTTP_READ_MS, signal: Context.current().cancellationSignal });
      return parsePrometheus(res.body).some((s) => s.name.startsWith('ledger_'));
    } catch (err) {
      if (ctx.isUnreachable(err)) return false;
      throw err;
    }
  });
}

/** `ledger_determinism_bug_total` per vault from the node's metrics (the runbook's `curl .../metrics | grep determinism_bug`). */
export async function ledgerDeterminismBugs(ctx: LedgerContext, ref: NodeRef): Promise<LedgerDeterminismBugs> {
  return ctx.run(async () => {
    const { node } = ctx.lookup(ref);
    if (!node.metricsUrl) throw ctx.missing(ref, 'metricsUrl', 'metricsUrl: "http://host:9090/metrics"');
    try {
      const res = await httpText({ url: node.metricsUrl, timeoutMs: HTTP_READ_MS, signal: Context.current().cancellationSignal });
      const bugs = parsePrometheus(res.body)
        .filter((s) => s.name === 'ledger_determinism_bug_total' && s.value > 0)
        .map((s) => ({ organization: s.labels.organization ?? '', vault: s.labels.vault ?? '', count: s.value }));
      return { node: ref.node, reachable: true, bugs };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message, bugs: [] };
      throw err;
    }
  });
}
