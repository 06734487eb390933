/**
 * The training cluster's outage and sync activities (seed 000 §5 Complete
 * Cluster Failure, seed 001 Sync Host Critical).
 *
 * - The sync coordinator: its metrics endpoint (`ringrift_sync_hosts{state}`,
 *   the coordinator node's `metricsUrl`), its host statuses (`GET
 *   <syncAdminUrl>/hosts`) and its admin API (`/admin/sync-host`,
 *   `/admin/unretire`, `/admin/retire-host` with `X-Admin-Key` from the
 *   secret reference `settings.syncAdminKey`).
 * - Hosts over SSH: the selfplay directory, the sync agent (`systemctl`,
 *   `ps aux`), the sync log.
 * - The coordinator's scripts over SSH in its workdir: full cluster sync,
 *   daemon launch, import of recovered databases; and the rsync that pulls a
 *   host's data onto the coordinator (the coordinator reaches hosts by their
 *   inventory name, as in its SSH config).
 *
 * Idempotency: the coordinator's admin calls check the host's status first
 * (unretiring a host that is not retired, or retiring a retired one, is
 * `alreadyDone`); rsync and the import script skip what they already copied or
 * imported; a restart of the sync agent is harmless to repeat.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { ClusterSpec } from '../inventory/schema';
import { HTTP_READ_MS, lastLines, type ActivityContext } from './context';
import { TransportError } from './errors';
import { httpJson, httpText, parsePrometheus } from './http';
import { resolveSecret } from './secrets';
import type { RemoteCommand } from './shell';
import type { EffectResult, NodeRef } from './types';
import type { SyncHostRef, SyncHostStatus, SyncOverview, TrainingOpsActivities } from './types-training-ops';

/** Per-cluster settings of the outage and sync procedures, with their defaults (the runbooks' values). */
export const TRAINING_OPS_DEFAULTS = {
  /** Base URL of the sync coordinator's admin API (the runbook's `http://localhost:5001` on the coordinator). */
  syncAdminUrl: '',
  /** Secret reference of the admin key (`X-Admin-Key`). */
  syncAdminKey: '',
  syncAgentService: 'ringrift-sync-agent',
  selfplayDir: '/data/selfplay',
  recoveredDir: '/data/recovered',
  syncLog: '/var/log/ringrift/sync.log',
  fullSyncCommand: 'python scripts/sync_cluster_data.py --full',
  launchDaemonsCommand: 'python scripts/launch_daemons.py --all',
  importCommand: 'python scripts/import_orphaned_databases.py',
  modelsDir: 'models',
};

const SCRIPT_MS = 30 * 60_000;

/** The training-ops activities of one worker. */
export function trainingOpsActivities(ctx: ActivityContext): TrainingOpsActivities {
  const { lookup, missing, exec, check, run, isUnreachable, root, stableKey } = ctx;
  const setting = <K extends keyof typeof TRAINING_OPS_DEFAULTS>(cluster: ClusterSpec, key: K): (typeof TRAINING_OPS_DEFAULTS)[K] =>
    ctx.setting(cluster, key, TRAINING_OPS_DEFAULTS[key]);
  const signal = (): AbortSignal => Context.current().cancellationSignal;

  function adminUrl(ref: NodeRef, path: string): string {
    const { cluster } = lookup(ref);
    const base = setting(cluster, 'syncAdminUrl');
    if (!base) throw missing(ref, 'sync coordinator admin URL', 'settings: {syncAdminUrl: "http://coordinator:5001"}');
    return new URL(path, base).toString();
  }

  async function adminKey(ref: NodeRef): Promise<{ key: string; refName: string }> {
    const { cluster } = lookup(ref);
    const refName = setting(cluster, 'syncAdminKey');
    if (!refName) throw missing(ref, 'sync admin key reference', 'settings: {syncAdminKey: "env:ADMIN_KEY"}');
    return { key: await resolveSecret(refName), refName };
  }

  /** Runs commands on a node; an unreachable node answers `undefined` instead of failing. */
  async function tryExec(ref: NodeRef, cmds: RemoteCommand[], timeoutMs = 30_000): Promise<{ res?: Awaited<ReturnType<typeof exec>>; error?: string }> {
    try {
      return { res: await exec(ref, cmds, timeoutMs, 10_000) };
    } catch (err) {
      if (isUnreachable(err)) return { error: (err as Error).message };
      throw err;
    }
  }

  async function statuses(ref: NodeRef): Promise<SyncHostStatus[]> {
    type H = { state?: string; retired?: boolean; last_sync?: string | null; last_seen?: string | null; pending_games?: number };
    const res = await httpJson<{ hosts?: Record<string, H> }>({ url: adminUrl(ref, '/hosts'), timeoutMs: HTTP_READ_MS, signal: signal() });
    return Object.entries(res.body?.hosts ?? {}).map(([host, h]) => ({
      host,
      state: h.state ?? 'unknown',
      retired: h.retired === true || h.state === 'retired',
      lastSync: h.last_sync ?? undefined,
      lastSeen: h.last_seen ?? undefined,
      pendingGames: typeof h.pending_games === 'number' ? h.pending_games : undefined,
    }));
  }

  async function syncHosts(ref: NodeRef): Promise<SyncOverview> {
    return run(async () => {
      const { node } = lookup(ref);
      if (!node.metricsUrl) throw missing(ref, 'metricsUrl (the sync coordinator metrics)', 'metricsUrl: "http://coordinator:8001/metrics"');
      try {
        const text = await httpText({ url: node.metricsUrl, timeoutMs: HTTP_READ_MS, signal: signal() });
        const counts: Record<string, number> = {};
        for (const s of parsePrometheus(text.body)) if (s.name === 'ringrift_sync_hosts' && s.labels.state) counts[s.labels.state] = s.value;
        return { reachable: true, counts, hosts: await statuses(ref) };
      } catch (err) {
        if (isUnreachable(err)) return { reachable: false, error: (err as Error).message, counts: {}, hosts: [] };
        throw err;
      }
    });
  }

  /** A POST to the coordinator's admin API; a 4xx/5xx refusal is returned, not thrown. */
  async function admin(ref: NodeRef, path: string, body: Record<string, unknown>, dryRun?: boolean): Promise<{ plan: string; ok: boolean; status?: number; body?: unknown; error?: string; dryRun?: true }> {
    const url = adminUrl(ref, path);
    const plan = `curl -X POST ${url} -H "X-Admin-Key: $ADMIN_KEY" -d '${JSON.stringify(body)}'`;
    if (dryRun) return { plan, ok: true, dryRun: true };
    const { key, refName } = await adminKey(ref);
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

  async function hostStatus(ref: SyncHostRef): Promise<SyncHostStatus | undefined> {
    return (await statuses(ref)).find((h) => h.host === ref.host);
  }

  return {
    syncHosts,

    async syncHostStorage(ref) {
      return run(async () => {
        const { cluster } = lookup(ref);
        const dir = setting(cluster, 'selfplayDir');
        const slash = dir.endsWith('/') ? dir : `${dir}/`;
        const { res, error } = await tryExec(ref, [
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
    },

    async syncProcess(ref) {
      return run(async () => {
        const { res, error } = await tryExec(ref, [{ argv: ['ps', 'aux'] }]);
        if (!res) return { node: ref.node, reachable: false, error, running: false, lines: [] };
        const lines = res.stdout.split('\n').filter((l) => /sync/.test(l)).slice(0, 20);
        return { node: ref.node, reachable: true, running: lines.some((l) => /sync_agent|sync-agent/.test(l)), lines };
      });
    },

    async syncLogTail(ref) {
      return run(async () => {
        const { cluster } = lookup(ref);
        const log = setting(cluster, 'syncLog');
        const n = Math.min(Math.max(ref.lines ?? (ref.match ? 50 : 100), 1), 500);
        const cmd: RemoteCommand = ref.match ? { argv: ['grep', '-F', '--', ref.match, log], ignoreExit: true } : { argv: ['tail', '-n', String(n), log] };
        const { res, error } = await tryExec(ref, [cmd]);
        if (!res) return { node: ref.node, reachable: false, error, tail: '', errors: 0 };
        const lines = res.stdout.trim().split('\n').filter(Boolean).slice(-n);
        const errs = lines.filter((l) => /ERROR|CRITICAL/.test(l));
        const tail = lines.slice(-20).join('\n');
        if (res.exitCode !== 0 && !ref.match) return { node: ref.node, reachable: true, tail: lastLines(res.stderr, 2), errors: 0, error: `tail ${log} exited ${res.exitCode}` };
        return { node: ref.node, reachable: true, tail, errors: errs.length, lastError: errs.at(-1) };
      });
    },

    async syncForce(input) {
      return run(async () => {
        lookup({ cluster: input.cluster, node: input.host });
        const r0 = input.dryRun ? undefined : await hostStatus(input);
        // Check before acting: a host the coordinator no longer calls critical needs no forced sync (a retried
        // attempt whose first one forced it, or the agent caught up on its own).
        if (r0 && !r0.retired && r0.state !== 'critical') {
          const detail = `${input.host} is ${r0.state}${r0.lastSync ? ` (last sync ${r0.lastSync})` : ''}: no forced sync needed`;
          return { plan: `curl -X POST ${adminUrl(input, '/admin/sync-host')} (not sent)`, alreadyDone: true, synced: true, detail, output: detail };
        }
        const r = await admin(input, '/admin/sync-host', { host_id: input.host, force: true }, input.dryRun);
        if (r.dryRun) return { dryRun: true, plan: r.plan, synced: false, detail: 'dry run' };
        const detail = r.ok ? `sync forced: ${JSON.stringify(r.body)}` : `coordinator refused (${r.status}): ${r.error ?? ''}`;
        return { plan: r.plan, synced: r.ok, detail, output: detail };
      });
    },

    async syncAgentRestart(input) {
      return run(async () => {
        const { cluster } = lookup(input);
        const svc = setting(cluster, 'syncAgentService');
        const sudo = ctx.setting(cluster, 'sudo', false);
        const plan = `${input.node}: systemctl restart ${svc}`;
        if (input.dryRun) return { dryRun: true, plan, active: false, reachable: true, detail: 'dry run' };
        // Once per step: a marker in the login directory keyed by workflow, run and activity id (stable across
        // retries), so a retried attempt whose first one restarted the agent only checks it.
        const marker = `.lifeboat/restarts/${stableKey('sync-agent')}`;
        const seen = await tryExec(input, [{ argv: ['test', '-e', marker] }]);
        if (!seen.res) return { plan, active: false, reachable: false, detail: `unreachable: ${seen.error ?? ''}` };
        const again = seen.res.exitCode === 0;
        const { res, error } = await tryExec(
          input,
          again
            ? [{ argv: ['systemctl', 'is-active', svc], ignoreExit: true }]
            : [{ argv: ['mkdir', '-p', '.lifeboat/restarts'] }, { argv: root(['systemctl', 'restart', svc], sudo), ignoreExit: true }, { argv: ['touch', marker] }, { argv: ['systemctl', 'is-active', svc], ignoreExit: true }],
          120_000,
        );
        if (!res) return { plan, active: false, reachable: false, detail: `unreachable: ${error ?? ''}` };
        const active = /^active\s*$/m.test(res.stdout);
        if (again) return { plan, alreadyDone: true, active, reachable: true, detail: `this step already restarted ${svc}; now ${active ? 'active' : 'not active'}`, output: lastLines(res.stdout, 2) };
        const detail = active ? `${svc} active` : `${svc} not active after the restart: ${lastLines(res.stdout + res.stderr, 3)}`;
        return { plan, active, reachable: true, detail, output: lastLines(res.stdout + res.stderr, 5) };
      });
    },

    async syncRecoverData(input) {
      return run(async () => {
        const { cluster } = lookup(input);
        lookup({ cluster: input.cluster, node: input.host });
        const src = setting(cluster, 'selfplayDir').replace(/\/?$/, '/');
        const dest = `${setting(cluster, 'recoveredDir').replace(/\/$/, '')}/${input.host}/`;
        const argv = ['rsync', '-avz', `${input.host}:${src}`, dest];
        const plan = `${input.node}: mkdir -p ${dest} && ${argv.join(' ')}`;
        if (input.dryRun) return { dryRun: true, plan, recoveredDir: dest, files: 0 };
        const res = await exec(input, [{ argv: ['mkdir', '-p', dest] }, { argv }], SCRIPT_MS);
        const out = check(input, res, `rsync from ${input.host}`, `check that ${input.node} can reach ${input.host} over SSH, or go on with the next option`);
        const files = res.stdout.split('\n').filter((l) => l.trim() && !/^(sending|receiving|sent|total|created|\.\/$)/.test(l.trim()) && !l.endsWith('/')).length;
        return { plan, recoveredDir: dest, files, output: out };
      });
    },

    async syncImport(input) {
      return run(async () => {
        const { cluster, node } = lookup(input);
        const argv = [...setting(cluster, 'importCommand').split(/\s+/).filter(Boolean), '--data-dir', input.dataDir, '--trigger-sync'];
        const cwd = node.ssh?.workdir;
        const plan = `${input.node}: ${cwd ? `cd ${cwd} && ` : ''}${argv.join(' ')}`;
        if (input.dryRun) return { dryRun: true, plan, imported: 0 };
        const res = await exec(input, [{ argv, cwd }], SCRIPT_MS);
        const out = check(input, res, 'importing the recovered databases', `read the output above; the data stays in ${input.dataDir}`);
        const m = /imported (\d+)/i.exec(res.stdout);
        return { plan, imported: m ? Number(m[1]) : 0, output: out };
      });
    },

    async syncUnretire(input) {
      return run(async () => {
        const body = { host_id: input.host };
        if (!input.dryRun) {
          const now = await hostStatus(input);
          if (now && !now.retired) return { plan: `POST /admin/unretire ${JSON.stringify(body)}`, alreadyDone: true, output: `${input.host} is not retired (${now.state})` };
        }
        const r = await admin(input, '/admin/unretire', body, input.dryRun);
        if (r.dryRun) return { dryRun: true, plan: r.plan };
        if (!r.ok) throw new TransportError('FailedPrecondition', `the coordinator refused to unretire ${input.host} (${r.status}): ${r.error ?? ''}; check the host's status`, false);
        return { plan: r.plan, output: JSON.stringify(r.body) };
      });
    },

    async syncRetireHost(input) {
      return run(async () => {
        const body = { host_id: input.host, reason: input.reason ?? 'data_loss', acknowledge_loss: true };
        if (!input.dryRun) {
          const now = await hostStatus(input);
          if (now?.retired) return { plan: `POST /admin/retire-host ${JSON.stringify(body)}`, alreadyDone: true, output: `${input.host} is already retired` };
        }
        const r = await admin(input, '/admin/retire-host', body, input.dryRun);
        if (r.dryRun) return { dryRun: true, plan: r.plan };
        if (!r.ok) throw new TransportError('FailedPrecondition', `the coordinator refused to retire ${input.host} (${r.status}): ${r.error ?? ''}`, false);
        return { plan: r.plan, output: JSON.stringify(r.body) };
      });
    },

    async clusterFullSync(input) {
      return run(() => script(input, 'fullSyncCommand', 'the full cluster sync'));
    },

    async clusterLaunchDaemons(input) {
      return run(() => script(input, 'launchDaemonsCommand', 'launching the daemons'));
    },

    async selfplayRunning(ref) {
      return run(async () => {
        const { res, error } = await tryExec(ref, [{ argv: ['ps', 'aux'] }]);
        if (!res) return { node: ref.node, reachable: false, running: false, processes: 0, error };
        const n = res.stdout.split('\n').filter((l) => /selfplay/.test(l)).length;
        return { node: ref.node, reachable: true, running: n > 0, processes: n };
      });
    },

    async modelsAccessible(ref) {
      return run(async () => {
        const { cluster, node } = lookup(ref);
        const dir = setting(cluster, 'modelsDir');
        const { res, error } = await tryExec(ref, [{ argv: ['ls', '-la', dir], cwd: node.ssh?.workdir, ignoreExit: true }]);
        if (!res) return { node: ref.node, reachable: false, models: [], error };
        const models = res.stdout
          .split('\n')
          .map((l) => l.trim().split(/\s+/))
          .filter((f) => f.length >= 9 && /^canonical_.*\.pth$/.test(f.at(-1)!))
          .map((f) => ({ name: f.at(-1)!, bytes: Number(f[4]) }));
        return { node: ref.node, reachable: true, models };
      });
    },
  };

  async function script(input: NodeRef & { dryRun?: boolean }, key: 'fullSyncCommand' | 'launchDaemonsCommand', what: string): Promise<EffectResult> {
    const { cluster, node } = lookup(input);
    const argv = setting(cluster, key).split(/\s+/).filter(Boolean);
    const cwd = node.ssh?.workdir;
    const plan = `${input.node}: ${cwd ? `cd ${cwd} && ` : ''}${argv.join(' ')}`;
    if (input.dryRun) return { dryRun: true, plan };
    const res = await exec(input, [{ argv, cwd }], SCRIPT_MS);
    const out = check(input, res, what, `fix the cause on ${input.node} and retry the step`);
    return { plan, output: out };
  }
}
