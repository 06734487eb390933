/**
 * The real sync surface of seed 001 (RingRift 2aa9f89b5): the ai-service
 * app's sync gauges, `GET /admin/sync/status` and `POST /admin/sync/trigger`
 * (X-Admin-Key, resolved on the worker), and the critical hosts named from
 * the P2P orchestrator's peers. The shapes are in {@link ./wire}.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { Effectful, EffectResult, NodeRef } from '../common/types';
import { TransportError } from '../transport/errors';
import { httpJson, httpText, parsePrometheus } from '../transport/http';
import { resolveSecret } from '../transport/secrets';
import type { TrainingClusterContext } from './context';
import type { SyncAppStatus, SyncCriticalHost, SyncCriticalHosts, SyncGauges } from './types';
import { SYNC_GAUGES, type WireStatus, type WireSyncStatus, type WireSyncTrigger } from './wire';

type Cluster = Parameters<TrainingClusterContext['setting']>[0];

/** `settings.aiServiceUrl` as a base URL, refused (naming the setting and the fix) when it is not an http(s) URL. */
export function appUrl(ctx: TrainingClusterContext, ref: NodeRef, cluster: Cluster, path: string): string {
  const base = ctx.setting(cluster, 'aiServiceUrl');
  if (!base) throw ctx.missing(ref, 'settings.aiServiceUrl (the ai-service app, app/main.py)', 'settings: {aiServiceUrl: "http://coordinator:8001"}');
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    url = new URL('invalid:');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username || url.password) {
    throw new TransportError(
      'InvalidArgument',
      `settings.aiServiceUrl of cluster ${ref.cluster} must be the ai-service app's base URL, http(s)://host:port without query or credentials (got ${url.username || url.password ? 'a URL with credentials, not shown' : `"${base.slice(0, 80)}"`}): set it in the inventory, e.g. http://coordinator:8001, then retry the step`,
      false,
    );
  }
  return new URL(path, url).toString();
}

/** The secret reference of `ADMIN_API_KEY` (`settings.syncAdminKey`) and its value, resolved on the worker. */
async function adminKey(ctx: TrainingClusterContext, ref: NodeRef, cluster: Cluster): Promise<{ key: string; refName: string }> {
  const refName = ctx.setting(cluster, 'syncAdminKey');
  if (!refName) throw ctx.missing(ref, 'settings.syncAdminKey (the reference of the app\'s ADMIN_API_KEY)', 'settings: {syncAdminKey: "env:ADMIN_API_KEY"}');
  return { key: await resolveSecret(refName), refName };
}

/** The label-less `ringrift_sync_hosts_{total,healthy,stale,critical}` gauges of a Prometheus text answer. */
export function parseSyncGauges(text: string): Omit<SyncGauges, 'reachable'> {
  const out: Omit<SyncGauges, 'reachable'> = {};
  for (const s of parsePrometheus(text)) {
    const key = (Object.keys(SYNC_GAUGES) as Array<keyof typeof SYNC_GAUGES>).find((k) => SYNC_GAUGES[k] === s.name);
    if (key && Object.keys(s.labels).length === 0 && Number.isFinite(s.value)) out[key] = s.value;
  }
  return out;
}

/** `GET /metrics` of the ai-service app: the sync gauges (counts, no host names); unreachable is a result. */
export async function syncGauges(ctx: TrainingClusterContext, ref: NodeRef): Promise<SyncGauges> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(ref);
    const url = appUrl(ctx, ref, cluster, '/metrics');
    try {
      const res = await httpText({ url, timeoutMs: 30_000, signal: Context.current().cancellationSignal });
      return { reachable: true, ...parseSyncGauges(res.body) };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { reachable: false, error: (err as Error).message };
      throw err;
    }
  });
}

/** The answer of `GET /admin/sync/status` as Lifeboat reads it. */
export function syncStatusOf(b: WireSyncStatus): Omit<SyncAppStatus, 'reachable'> {
  const sync = b.sync ?? {};
  const times = Object.fromEntries(Object.entries(sync.last_sync_times ?? {}).filter(([, t]) => typeof t === 'number')) as Record<string, number>;
  return {
    status: typeof b.status === 'string' ? b.status : 'unknown',
    ...(b.error ? { error: String(b.error) } : {}),
    ...(typeof sync.provider === 'string' ? { provider: sync.provider } : {}),
    ...(typeof sync.running === 'boolean' ? { running: sync.running } : {}),
    transports: Object.entries(sync.transports ?? {}).filter(([, on]) => on === true).map(([t]) => t),
    lastSyncTimes: times,
  };
}

/** `GET /admin/sync/status` (X-Admin-Key): the app's SyncCoordinator; a refused key fails naming its reference. */
export async function syncAppStatus(ctx: TrainingClusterContext, ref: NodeRef): Promise<SyncAppStatus> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(ref);
    const url = appUrl(ctx, ref, cluster, '/admin/sync/status');
    const { key, refName } = await adminKey(ctx, ref, cluster);
    try {
      const res = await httpJson<WireSyncStatus>({ url, headers: { 'X-Admin-Key': key }, authRef: refName, timeoutMs: 30_000, signal: Context.current().cancellationSignal });
      return { reachable: true, ...syncStatusOf(res.body ?? {}) };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { reachable: false, status: 'unreachable', transports: [], lastSyncTimes: {}, error: (err as Error).message };
      throw err;
    }
  });
}

/** The answer of `POST /admin/sync/trigger`: files per category and in total; `unavailable` is not a sync. */
export function triggerOf(b: WireSyncTrigger): { synced: boolean; totalFiles: number; totalBytes: number; categories: Record<string, number>; detail: string } {
  const categories = Object.fromEntries(Object.entries(b.results ?? {}).map(([c, r]) => [c, typeof r?.files_synced === 'number' ? r.files_synced : 0]));
  const totalFiles = typeof b.total_files === 'number' ? b.total_files : 0;
  const totalBytes = typeof b.total_bytes === 'number' ? b.total_bytes : 0;
  if (b.status !== 'ok') return { synced: false, totalFiles, totalBytes, categories, detail: `the app answered ${String(b.status ?? 'no status')}: ${String(b.error ?? '')}` };
  const per = Object.entries(categories).map(([c, n]) => `${c} ${n}`).join(', ');
  return { synced: true, totalFiles, totalBytes, categories, detail: `full sync: ${totalFiles} file(s), ${totalBytes} byte(s)${per ? ` (${per})` : ''}` };
}

/**
 * `POST /admin/sync/trigger` (X-Admin-Key, no body: every category): the app's full cluster sync.
 * Checked first: an app whose SyncCoordinator is unavailable is not asked. A full sync moves only what is
 * missing, so a retried attempt repeats it harmlessly.
 */
export async function syncTrigger(ctx: TrainingClusterContext, input: NodeRef & Effectful): Promise<EffectResult & { synced: boolean; totalFiles: number; detail: string }> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    const url = appUrl(ctx, input, cluster, '/admin/sync/trigger');
    const plan = `curl -X POST ${url} -H "X-Admin-Key: $ADMIN_API_KEY"`;
    if (input.dryRun) return { dryRun: true, plan, synced: false, totalFiles: 0, detail: 'dry run' };
    const { key, refName } = await adminKey(ctx, input, cluster);
    const before = await httpJson<WireSyncStatus>({ url: appUrl(ctx, input, cluster, '/admin/sync/status'), headers: { 'X-Admin-Key': key }, authRef: refName, timeoutMs: 30_000, signal: Context.current().cancellationSignal });
    const st = syncStatusOf(before.body ?? {});
    if (st.status !== 'ok') {
      const detail = `not triggered: the app's SyncCoordinator is ${st.status}${st.error ? ` (${st.error})` : ''}`;
      return { plan: `${plan} (not sent)`, synced: false, totalFiles: 0, detail, output: detail };
    }
    const res = await httpJson<WireSyncTrigger>({
      url,
      method: 'POST',
      headers: { 'X-Admin-Key': key },
      authRef: refName,
      timeoutMs: ctx.setting(cluster, 'syncTriggerTimeoutSeconds') * 1000,
      signal: Context.current().cancellationSignal,
    });
    const t = triggerOf(res.body ?? {});
    return { plan, synced: t.synced, totalFiles: t.totalFiles, detail: t.detail, output: t.detail };
  });
}

/**
 * The hosts the P2P view calls critical: retired, not alive, or whose last heartbeat is older than
 * `staleSeconds`; plus the operator's `host` (named by the operator even if it looks fresh).
 */
export function criticalPeers(peers: NonNullable<WireStatus['peers']>, nowSeconds: number, staleSeconds: number, host?: string): SyncCriticalHost[] {
  const out: SyncCriticalHost[] = [];
  const names = new Set(Object.keys(peers));
  if (host) names.add(host);
  for (const name of [...names].sort()) {
    const p = peers[name];
    const hb = typeof p?.last_heartbeat === 'number' && p.last_heartbeat > 0 ? p.last_heartbeat : undefined;
    const age = hb === undefined ? undefined : Math.max(0, Math.round(nowSeconds - hb));
    const why: string[] = [];
    if (!p) why.push('not among the peers');
    else {
      if (p.retired === true) why.push('retired');
      if (p.is_alive === false) why.push('not alive');
      if (age === undefined) why.push('no heartbeat');
      else if (age > staleSeconds) why.push(`last heartbeat ${age} s ago`);
    }
    if (why.length === 0 && name !== host) continue;
    out.push({
      host: name,
      retired: p?.retired === true,
      alive: p ? p.is_alive !== false : false,
      ...(hb !== undefined ? { lastHeartbeat: new Date(hb * 1000).toISOString(), heartbeatAgeSeconds: age } : {}),
      fresh: why.length === 0,
      why: why.length ? why : ['named by the operator'],
    });
  }
  return out;
}

/**
 * The critical hosts in `node`'s (the coordinator's) `GET /status?alive_only=false&no_cache=true` peers; with
 * `host`, that one too. `no_cache`: at 2aa9f89b5 `/status` answers from a 5 s cache that ignores the query, so
 * an `alive_only=false` read right after anyone's plain `/status` (the app's P2P integration polls it) got the
 * alive-only answer, without the dead and retired peers this is looking for (seen in the lab).
 */
export async function syncCriticalHosts(ctx: TrainingClusterContext, input: NodeRef & { host?: string }): Promise<SyncCriticalHosts> {
  return ctx.run(async () => {
    const { cluster, node } = ctx.lookup(input);
    if (input.host) ctx.lookup({ cluster: input.cluster, node: input.host });
    if (!node.http) throw ctx.missing(input, 'http baseUrl', 'http: {baseUrl: "http://host:8770"}');
    const staleSeconds = ctx.setting(cluster, 'heartbeatStaleSeconds');
    try {
      const res = await httpJson<WireStatus>({
        url: new URL('/status?alive_only=false&no_cache=true', node.http.baseUrl).toString(),
        timeoutMs: ctx.setting(cluster, 'statusTimeoutSeconds') * 1000,
        signal: Context.current().cancellationSignal,
      });
      return { node: input.node, reachable: true, staleSeconds, hosts: criticalPeers(res.body?.peers ?? {}, Date.now() / 1000, staleSeconds, input.host) };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { node: input.node, reachable: false, staleSeconds, hosts: [], error: (err as Error).message };
      throw err;
    }
  });
}
