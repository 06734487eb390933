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
import type { GossipMetrics, GossipPeers } from './types';

/** Pause between the two reads of the malformed-message counter. */
export const MALFORMED_SAMPLE_MS = 1_500;

function baseUrl(ctx: GossipContext, ref: NodeRef, node: NodeSpec): string {
  if (!node.http) throw ctx.missing(ref, 'http baseUrl', 'http: {baseUrl: "http://host:8080", authToken: "env:GOSSIP_ADMIN_TOKEN"}');
  return node.http.baseUrl;
}

/** `GET /debug/peers`: eager, lazy and member lists; an unreachable node is a result. */
export async function peers(ctx: GossipContext, ref: NodeRef): Promise<GossipPeers> {
  const { node } = ctx.lookup(ref);
  const url = new URL('/debug/peers', baseUrl(ctx, ref, node)).toString();
  type P = { peers?: { eager?: unknown; lazy?: unknown }; members?: unknown };
  try {
    const res = await httpJson<P>({ url, timeoutMs: HTTP_READ_MS, signal: Context.current().cancellationSignal });
    const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
    return { node: ref.node, reachable: true, eager: list(res.body?.peers?.eager), lazy: list(res.body?.peers?.lazy), members: list(res.body?.members) };
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
