/**
 * A plumtree node's HTTP API as Lifeboat reads it: peers, Prometheus
 * metrics, health, and admin POSTs with the cluster's bearer token (resolved
 * on the worker, never shown). An unreachable node is a result, not a failure.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { NodeSpec } from '../../inventory/schema';
import type { NodeRef } from '../common/types';
import { HTTP_READ_MS } from '../context';
import { TransportError } from '../transport/errors';
import { httpJson, httpText, parsePrometheus } from '../transport/http';
import { resolveSecret } from '../transport/secrets';
import type { GossipContext } from './context';
import type { GossipHealth, GossipMetrics, GossipPeers, GossipSync } from './types';
import { ROUTES, VERSION_HINT, type HealthBody, type PeersBody, type SyncBody } from './wire';

/** Pause between the two reads of the malformed-message counter. */
export const MALFORMED_SAMPLE_MS = 1_500;

function baseUrl(ctx: GossipContext, ref: NodeRef, node: NodeSpec): string {
  if (!node.http) throw ctx.missing(ref, 'http baseUrl', 'http: {baseUrl: "http://host:8080", authToken: "env:GOSSIP_ADMIN_TOKEN"}');
  return node.http.baseUrl;
}

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** `GET /debug/peers`: eager, lazy and member lists; an unreachable node is a result. */
export async function peers(ctx: GossipContext, ref: NodeRef): Promise<GossipPeers> {
  const { node } = ctx.lookup(ref);
  const url = new URL(ROUTES.peers, baseUrl(ctx, ref, node)).toString();
  try {
    const res = await httpJson<PeersBody>({ url, timeoutMs: HTTP_READ_MS, signal: Context.current().cancellationSignal });
    const b = res.body;
    return {
      node: ref.node,
      reachable: true,
      eager: list(b?.peers?.eager),
      lazy: list(b?.peers?.lazy),
      members: list(b?.members),
      ...(typeof b?.left === 'boolean' ? { left: b.left } : {}),
    };
  } catch (err) {
    if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message, eager: [], lazy: [], members: [] };
    throw err;
  }
}

/** `GET /metrics`: the `plumtree_*` series, summed over labels. */
export async function metrics(ctx: GossipContext, ref: NodeRef): Promise<GossipMetrics> {
  const { node } = ctx.lookup(ref);
  const url = node.metricsUrl ?? new URL('/metrics', baseUrl(ctx, ref, node)).toString();
  try {
    const res = await httpText({ url, timeoutMs: HTTP_READ_MS, signal: Context.current().cancellationSignal });
    const values: Record<string, number> = {};
    for (const s of parsePrometheus(res.body)) {
      if (s.name.startsWith('plumtree_') && Number.isFinite(s.value)) values[s.name] = (values[s.name] ?? 0) + s.value;
    }
    return { node: ref.node, reachable: true, values };
  } catch (err) {
    if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message, values: {} };
    throw err;
  }
}

/** `GET /health`: the library's report; 503 (unhealthy) is an answer, an unreachable node a result. */
export async function health(ctx: GossipContext, ref: NodeRef): Promise<GossipHealth> {
  const { node } = ctx.lookup(ref);
  const url = new URL(ROUTES.health, baseUrl(ctx, ref, node)).toString();
  try {
    const res = await httpJson<HealthBody>({ url, timeoutMs: HTTP_READ_MS, signal: Context.current().cancellationSignal, answerStatuses: [503] });
    const b = res.body;
    const status = b?.status === 'healthy' || b?.status === 'degraded' || b?.status === 'unhealthy' ? b.status : undefined;
    if (!status) {
      throw new TransportError('BadResponse', `${ref.node}: GET ${ROUTES.health} answered ${res.status} without a health status; ${VERSION_HINT}`, false, { status: res.status });
    }
    return { node: ref.node, reachable: true, status, message: String(b?.message ?? ''), eager: num(b?.peers?.eager), lazy: num(b?.peers?.lazy) };
  } catch (err) {
    if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message, status: 'down', message: 'the API does not answer', eager: 0, lazy: 0 };
    throw err;
  }
}

/** `GET /debug/sync`: anti-entropy configured, root hash, messages held; an unreachable node is a result. */
export async function syncState(ctx: GossipContext, ref: NodeRef): Promise<GossipSync> {
  const { node } = ctx.lookup(ref);
  const url = new URL(ROUTES.sync, baseUrl(ctx, ref, node)).toString();
  try {
    const res = await httpJson<SyncBody>({ url, timeoutMs: HTTP_READ_MS, signal: Context.current().cancellationSignal });
    const b = res.body;
    if (typeof b?.enabled !== 'boolean' || typeof b.rootHash !== 'string') {
      throw new TransportError('BadResponse', `${ref.node}: GET ${ROUTES.sync} answered without enabled/rootHash; ${VERSION_HINT}`, false);
    }
    return { node: ref.node, reachable: true, enabled: b.enabled, rootHash: b.rootHash, messages: num(b.messages) };
  } catch (err) {
    if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message, enabled: false, rootHash: '', messages: 0 };
    throw err;
  }
}

/** `GET /health` answers 2xx. */
export async function healthOk(ctx: GossipContext, ref: NodeRef): Promise<boolean> {
  const { node } = ctx.lookup(ref);
  try {
    await httpJson({ url: new URL('/health', baseUrl(ctx, ref, node)).toString(), timeoutMs: HTTP_READ_MS, signal: Context.current().cancellationSignal });
    return true;
  } catch (err) {
    if (err instanceof TransportError) return false; // 503 degraded, or down: not healthy either way
    throw err;
  }
}

/** A POST to the node's admin API with the cluster token (resolved here, never shown). */
export async function admin<T>(ctx: GossipContext, ref: NodeRef, path: string, body: unknown): Promise<T> {
  const { node } = ctx.lookup(ref);
  const base = baseUrl(ctx, ref, node);
  if (!node.http?.authToken) throw ctx.missing(ref, 'http.authToken', 'http: {authToken: "env:GOSSIP_ADMIN_TOKEN"}');
  const res = await httpJson<T>({
    url: new URL(path, base).toString(),
    method: 'POST',
    body: body ?? {},
    bearer: await resolveSecret(node.http.authToken),
    authRef: node.http.authToken,
    timeoutMs: 15_000,
    signal: Context.current().cancellationSignal,
  });
  return res.body;
}

/** The admin call as the curl command an operator would type (token by name, never its value). */
export function adminPlan(ctx: GossipContext, ref: NodeRef, path: string, body?: unknown): string {
  const { node } = ctx.lookup(ref);
  const url = new URL(path, baseUrl(ctx, ref, node)).toString();
  return `${ref.node}: curl -X POST ${url} -H "Authorization: Bearer $GOSSIP_ADMIN_TOKEN"${body === undefined ? '' : ` -d '${JSON.stringify(body)}'`}`;
}
