/**
 * The sync coordinator (seed 001) and its hosts: host statuses and metrics,
 * the admin API (X-Admin-Key resolved on the worker), a host's storage,
 * process and log, its sync agent, and recovering and importing its data.
 *
 * @module
 */
import type { Effectful, EffectResult, NodeRef } from '../common/types';
import { HTTP_READ_MS, lastLines } from '../context';
import { TransportError } from '../transport/errors';
import { httpJson, httpText, parsePrometheus } from '../transport/http';
import { resolveSecret } from '../transport/secrets';
import type { RemoteCommand } from '../transport/shell';
import type { TrainingClusterContext } from './context';
import { SCRIPT_MS, signal, tryExec } from './host';
import type { WireImportResult } from './wire';
import type { SyncHostRef, SyncHostStatus, SyncHostStorage, SyncLogTail, SyncOverview, SyncProcessInfo } from './types';

function adminUrl(ctx: TrainingClusterContext, ref: NodeRef, path: string): string {
  const { cluster } = ctx.lookup(ref);
  const base = ctx.setting(cluster, 'syncAdminUrl');
  if (!base) throw ctx.missing(ref, 'sync coordinator admin URL', 'settings: {syncAdminUrl: "http://coordinator:5001"}');
  return new URL(path, base).toString();
}

async function adminKey(ctx: TrainingClusterContext, ref: NodeRef): Promise<{ key: string; refName: string }> {
  const { cluster } = ctx.lookup(ref);
  const refName = ctx.setting(cluster, 'syncAdminKey');
  if (!refName) throw ctx.missing(ref, 'sync admin key reference', 'settings: {syncAdminKey: "env:ADMIN_KEY"}');
  return { key: await resolveSecret(refName), refName };
}

async function statuses(ctx: TrainingClusterContext, ref: NodeRef): Promise<SyncHostStatus[]> {
  type H = { state?: string; retired?: boolean; last_sync?: string | null; last_seen?: string | null; pending_games?: number };
  const res = await httpJson<{ hosts?: Record<string, H> }>({ url: adminUrl(ctx, ref, '/hosts'), timeoutMs: HTTP_READ_MS, signal: signal() });
  return Object.entries(res.body?.hosts ?? {}).map(([host, h]) => ({
    host,
    state: h.state ?? 'unknown',
    retired: h.retired === true || h.state === 'retired',
    lastSync: h.last_sync ?? undefined,
    lastSeen: h.last_seen ?? undefined,
    pendingGames: typeof h.pending_games === 'number' ? h.pending_games : undefined,
  }));
}

async function hostStatus(ctx: TrainingClusterContext, ref: SyncHostRef): Promise<SyncHostStatus | undefined> {
  return (await statuses(ctx, ref)).find((h) => h.host === ref.host);
}

/** A POST to the coordinator's admin API; a 4xx/5xx refusal is returned, not thrown. */
export async function admin(ctx: TrainingClusterContext, ref: NodeRef, path: string, body: Record<string, unknown>, dryRun?: boolean): Promise<{ plan: string; ok: boolean; status?: number; body?: unknown; error?: string; dryRun?: true }> {
  const url = adminUrl(ctx, ref, path);
  const plan = `curl -X POST ${url} -H "X-Admin-Key: $ADMIN_KEY" -d '${JSON.stringify(body)}'`;
  if (dryRun) return { plan, ok: true, dryRun: true };
  const { key, refName } = await adminKey(ctx, ref);
  try {
    const res = await httpJson({ url, method: 'POST', body, headers: { 'X-Admin-Key': key }, authRef: refName, timeoutMs: 15_000, signal: signal() });
    return { plan, ok: true, status: res.status, body: res.body };
  } catch (err) {
    const status = err instanceof TransportError ? (err.details?.status as number | undefined) : undefined;
    // The coordinator's own refusals (host retired, agent not answering) are findings for the workflow.
    if (status !== undefined && status !== 401 && status !== 403 && status !== 404) return { plan, ok: false, status, error: (err as Error).message };
    throw err;
  }
}

/** The coordinator's `ringrift_sync_hosts` metrics and host statuses (`node`: the coordinator). */
export async function syncHosts(ctx: TrainingClusterContext, ref: NodeRef): Promise<SyncOverview> {
  return ctx.run(async () => {
    const { node } = ctx.lookup(ref);
    if (!node.metricsUrl) throw ctx.missing(ref, 'metricsUrl (the sync coordinator metrics)', 'metricsUrl: "http://coordinator:8001/metrics"');
    try {
      const text = await httpText({ url: node.metricsUrl, timeoutMs: HTTP_READ_MS, signal: signal() });
      const counts: Record<string, number> = {};
      for (const s of parsePrometheus(text.body)) if (s.name === 'ringrift_sync_hosts' && s.labels.state) counts[s.labels.state] = s.value;
      return { reachable: true, counts, hosts: await statuses(ctx, ref) };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { reachable: false, error: (err as Error).message, counts: {}, hosts: [] };
      throw err;
    }
  });
}

/** Option 1: force a sync of `host` through the coordinator's admin API; a refusal is a result (`synced: false`). */
export async function syncForce(ctx: TrainingClusterContext, input: SyncHostRef & Effectful): Promise<EffectResult & { synced: boolean; detail: string }> {
  return ctx.run(async () => {
    ctx.lookup({ cluster: input.cluster, node: input.host });
    const r0 = input.dryRun ? undefined : await hostStatus(ctx, input);
    // Check before acting: a host the coordinator no longer calls critical needs no forced sync (a retried
    // attempt whose first one forced it, or the agent caught up on its own).
    if (r0 && !r0.retired && r0.state !== 'critical') {
      const detail = `${input.host} is ${r0.state}${r0.lastSync ? ` (last sync ${r0.lastSync})` : ''}: no forced sync needed`;
      return { plan: `curl -X POST ${adminUrl(ctx, input, '/admin/sync-host')} (not sent)`, alreadyDone: true, synced: true, detail, output: detail };
    }
    const r = await admin(ctx, input, '/admin/sync-host', { host_id: input.host, force: true }, input.dryRun);
    if (r.dryRun) return { dryRun: true, plan: r.plan, synced: false, detail: 'dry run' };
    const detail = r.ok ? `sync forced: ${JSON.stringify(r.body)}` : `coordinator refused (${r.status}): ${r.error ?? ''}`;
    return { plan: r.plan, synced: r.ok, detail, output: detail };
  });
}

/** Option 4: `POST /admin/unretire {host_id}` (X-Admin-Key); a host that is not retired counts as done. */
export async function syncUnretire(ctx: TrainingClusterContext, input: SyncHostRef & Effectful): Promise<EffectResult> {
  return ctx.run(async () => {
    const body = { host_id: input.host };
    if (!input.dryRun) {
      const now = await hostStatus(ctx, input);
      if (now && !now.retired) return { plan: `POST /admin/unretire ${JSON.stringify(body)}`, alreadyDone: true, output: `${input.host} is not retired (${now.state})` };
    }
    const r = await admin(ctx, input, '/admin/unretire', body, input.dryRun);
    if (r.dryRun) return { dryRun: true, plan: r.plan };
    if (!r.ok) throw new TransportError('FailedPrecondition', `the coordinator refused to unretire ${input.host} (${r.status}): ${r.error ?? ''}; check the host's status`, false);
    return { plan: r.plan, output: JSON.stringify(r.body) };
  });
}

/** Option 5 (gate `retire-host`): `POST /admin/retire-host {host_id, reason: data_loss, acknowledge_loss: true}`. */
export async function syncRetireHost(ctx: TrainingClusterContext, input: SyncHostRef & Effectful & { reason?: string }): Promise<EffectResult> {
  return ctx.run(async () => {
    const body = { host_id: input.host, reason: input.reason ?? 'data_loss', acknowledge_loss: true };
    if (!input.dryRun) {
      const now = await hostStatus(ctx, input);
      if (now?.retired) return { plan: `POST /admin/retire-host ${JSON.stringify(body)}`, alreadyDone: true, output: `${input.host} is already retired` };
    }
    const r = await admin(ctx, input, '/admin/retire-host', body, input.dryRun);
    if (r.dryRun) return { dryRun: true, plan: r.plan };
    if (!r.ok) throw new TransportError('FailedPrecondition', `the coordinator refused to retire ${input.host} (${r.status}): ${r.error ?? ''}`, false);
    return { plan: r.plan, output: JSON.stringify(r.body) };
  });
}

/** `ls -la <selfplay dir> | tail -20` and `du -sh` on a host over SSH. */
export async function syncHostStorage(ctx: TrainingClusterContext, ref: NodeRef): Promise<SyncHostStorage> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(ref);
    const dir = ctx.setting(cluster, 'selfplayDir');
    const slash = dir.endsWith('/') ? dir : `${dir}/`;
    const { res, error } = await tryExec(ctx, ref, [
      { argv: ['ls', '-la', slash] },
      { argv: ['echo', '--du--'] },
      { argv: ['du', '-sh', slash] },
      { argv: ['echo', '--find--'] },
      { argv: ['find', slash, '-maxdepth', '1', '-type', 'f', '-printf', '%T@\\n'] },
    ]);
    if (!res) return { node: ref.node, reachable: false, error, dir };
    if (res.exitCode !== 0) return { node: ref.node, reachable: true, dir, error: lastLines(res.stdout + res.stderr, 3), files: 0 };
    const [ls = '', rest = ''] = res.stdout.split('--du--\n');
    const [du = '', found = ''] = rest.split('--find--\n');
    const times = found.split('\n').map(Number).filter((t) => Number.isFinite(t) && t > 0).sort((a, b) => a - b);
    return {
      node: ref.node,
      reachable: true,
      dir,
      size: du.trim().split(/\s+/)[0],
      files: times.length,
      oldest: times.length ? new Date(times[0]! * 1000).toISOString() : undefined,
      newest: times.length ? new Date(times.at(-1)! * 1000).toISOString() : undefined,
      listing: ls.trim().split('\n').slice(-20).join('\n'),
    };
  });
}

/** `ps aux | grep sync` on a host over SSH. */
export async function syncProcess(ctx: TrainingClusterContext, ref: NodeRef): Promise<SyncProcessInfo> {
  return ctx.run(async () => {
    const { res, error } = await tryExec(ctx, ref, [{ argv: ['ps', 'aux'] }]);
    if (!res) return { node: ref.node, reachable: false, error, running: false, lines: [] };
    const lines = res.stdout.split('\n').filter((l) => /sync/.test(l)).slice(0, 20);
    return { node: ref.node, reachable: true, running: lines.some((l) => /sync_agent|sync-agent/.test(l)), lines };
  });
}

/** `tail -100 <sync log>` on a node over SSH; with `match`, only the lines naming it (`grep host sync.log | tail -50`). */
export async function syncLogTail(ctx: TrainingClusterContext, ref: NodeRef & { match?: string; lines?: number }): Promise<SyncLogTail> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(ref);
    const log = ctx.setting(cluster, 'syncLog');
    const n = Math.min(Math.max(ref.lines ?? (ref.match ? 50 : 100), 1), 500);
    const cmd: RemoteCommand = ref.match ? { argv: ['grep', '-F', '--', ref.match, log], ignoreExit: true } : { argv: ['tail', '-n', String(n), log] };
    const { res, error } = await tryExec(ctx, ref, [cmd]);
    if (!res) return { node: ref.node, reachable: false, error, tail: '', errors: 0 };
    const lines = res.stdout.trim().split('\n').filter(Boolean).slice(-n);
    const errs = lines.filter((l) => /ERROR|CRITICAL/.test(l));
    const tail = lines.slice(-20).join('\n');
    if (res.exitCode !== 0 && !ref.match) return { node: ref.node, reachable: true, tail: lastLines(res.stderr, 2), errors: 0, error: `tail ${log} exited ${res.exitCode}` };
    return { node: ref.node, reachable: true, tail, errors: errs.length, lastError: errs.at(-1) };
  });
}

/** Option 2: `systemctl restart ringrift-sync-agent` on the host (`node`), then `is-active`; a failed restart is a result. */
export async function syncAgentRestart(ctx: TrainingClusterContext, input: NodeRef & Effectful): Promise<EffectResult & { active: boolean; reachable: boolean; detail: string }> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    const svc = ctx.setting(cluster, 'syncAgentService');
    const sudo = ctx.setting(cluster, 'sudo');
    const plan = `${input.node}: systemctl restart ${svc}`;
    if (input.dryRun) return { dryRun: true, plan, active: false, reachable: true, detail: 'dry run' };
    // Once per step: a marker in the login directory keyed by workflow, run and activity id (stable across
    // retries), so a retried attempt whose first one restarted the agent only checks it.
    const marker = `.lifeboat/restarts/${ctx.stableKey('sync-agent')}`;
    const seen = await tryExec(ctx, input, [{ argv: ['test', '-e', marker] }]);
    if (!seen.res) return { plan, active: false, reachable: false, detail: `unreachable: ${seen.error ?? ''}` };
    const again = seen.res.exitCode === 0;
    const { res, error } = await tryExec(ctx, 
      input,
      again
        ? [{ argv: ['systemctl', 'is-active', svc], ignoreExit: true }]
        : [{ argv: ['mkdir', '-p', '.lifeboat/restarts'] }, { argv: ctx.root(['systemctl', 'restart', svc], sudo), ignoreExit: true }, { argv: ['touch', marker] }, { argv: ['systemctl', 'is-active', svc], ignoreExit: true }],
      120_000,
    );
    if (!res) return { plan, active: false, reachable: false, detail: `unreachable: ${error ?? ''}` };
    const active = /^active\s*$/m.test(res.stdout);
    if (again) return { plan, alreadyDone: true, active, reachable: true, detail: `this step already restarted ${svc}; now ${active ? 'active' : 'not active'}`, output: lastLines(res.stdout, 2) };
    const detail = active ? `${svc} active` : `${svc} not active after the restart: ${lastLines(res.stdout + res.stderr, 3)}`;
    return { plan, active, reachable: true, detail, output: lastLines(res.stdout + res.stderr, 5) };
  });
}

/** Option 3a: `rsync -avz host:<selfplay>/ <recovered>/<host>/` on the coordinator (`node`). */
export async function syncRecoverData(ctx: TrainingClusterContext, input: SyncHostRef & Effectful & { dir?: string }): Promise<EffectResult & { recoveredDir: string; files: number }> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    ctx.lookup({ cluster: input.cluster, node: input.host });
    // A relative `dir` is in the host's workdir (its ssh.workdir, e.g. ~/ringrift/ai-service); rsync's would be its home.
    const hostWorkdir = ctx.lookup({ cluster: input.cluster, node: input.host }).node.ssh?.workdir;
    const dir = input.dir && !input.dir.startsWith('/') && hostWorkdir ? `${hostWorkdir.replace(/\/$/, '')}/${input.dir}` : input.dir;
    const src = (dir ?? ctx.setting(cluster, 'selfplayDir')).replace(/\/?$/, '/');
    const dest = `${ctx.setting(cluster, 'recoveredDir').replace(/\/$/, '')}/${input.host}/`;
    const argv = ['rsync', '-avz', `${input.host}:${src}`, dest];
    const plan = `${input.node}: mkdir -p ${dest} && ${argv.join(' ')}`;
    if (input.dryRun) return { dryRun: true, plan, recoveredDir: dest, files: 0 };
    const res = await ctx.exec(input, [{ argv: ['mkdir', '-p', dest] }, { argv }], SCRIPT_MS);
    const out = ctx.check(input, res, `rsync from ${input.host}`, `check that ${input.node} can reach ${input.host} over SSH, or go on with the next option`);
    const files = res.stdout.split('\n').filter((l) => l.trim() && !/^(sending|receiving|sent|total|created|\.\/$)/.test(l.trim()) && !l.endsWith('/')).length;
    return { plan, recoveredDir: dest, files, output: out };
  });
}

/** Option 3b: `python scripts/import_orphaned_databases.py --data-dir <dir> --trigger-sync` on the coordinator. */
export async function syncImport(ctx: TrainingClusterContext, input: SyncHostRef & Effectful & { dataDir: string; json?: boolean }): Promise<EffectResult & { imported: number; games?: number }> {
  return ctx.run(async () => {
    const { cluster, node } = ctx.lookup(input);
    const argv = [...ctx.setting(cluster, 'importCommand').split(/\s+/).filter(Boolean), '--data-dir', input.dataDir, '--trigger-sync', ...(input.json ? ['--json'] : [])];
    const cwd = node.ssh?.workdir;
    const plan = `${input.node}: ${cwd ? `cd ${cwd} && ` : ''}${argv.join(' ')}`;
    if (input.dryRun) return { dryRun: true, plan, imported: 0 };
    const res = await ctx.exec(input, [{ argv, cwd }], SCRIPT_MS);
    const out = ctx.check(input, res, 'importing the recovered databases', `read the output above; the data stays in ${input.dataDir}`);
    const parsed = input.json ? importResultOf(res.stdout) : undefined;
    if (parsed) return { plan, imported: parsed.imported, games: parsed.games, output: out };
    const m = /imported (\d+)/i.exec(res.stdout);
    return { plan, imported: m ? Number(m[1]) : 0, output: out };
  });
}

/** The JSON line `import_orphaned_databases.py --json` prints last (`databases_imported`, `games_registered`). */
export function importResultOf(stdout: string): { imported: number; games: number } | undefined {
  const line = stdout.trim().split('\n').reverse().find((l) => l.trim().startsWith('{'));
  if (!line) return undefined;
  try {
    const b = JSON.parse(line) as WireImportResult;
    return { imported: typeof b.databases_imported === 'number' ? b.databases_imported : 0, games: typeof b.games_registered === 'number' ? b.games_registered : 0 };
  } catch {
    return undefined;
  }
}
