/**
 * The P2P orchestrator of each node: its status, jobs and daemon over HTTP
 * and SSH, the admin calls of an election (bearer token resolved on the
 * worker), and restarting it (once per step).
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { EffectResult, NodeRef } from '../common/types';
import { lastLines } from '../context';
import { TransportError } from '../transport/errors';
import { httpJson } from '../transport/http';
import { resolveSecret } from '../transport/secrets';
import type { RemoteCommand } from '../transport/shell';
import type { TrainingClusterContext } from './context';
import { selfSafe } from './host';
import type { P2pStatus } from './types';
import { FINISHED_JOB_STATES, P2P_EXEC_START, type WireJobs, type WireStatus } from './wire';

/** The node's `GET /status` mapped to {@link P2pStatus} (the real integer `alive_peers` and `peers` dict; the seed's lists still read). */
export function statusOf(node: string, b: WireStatus): Omit<P2pStatus, 'reachable'> {
  const peers = b.peers ?? {};
  const alive = Object.entries(peers).filter(([, p]) => p.is_alive !== false && p.retired !== true).map(([id]) => id);
  const role = typeof b.role === 'string' ? b.role.replace(/^NodeRole\./i, '').toLowerCase() : undefined;
  const listed = Array.isArray(b.alive_peers) ? b.alive_peers : undefined;
  return {
    node,
    leaderId: b.leader_id ?? null,
    // The answering node is alive in its own view (the seed's list included it).
    alivePeers: listed ?? [...new Set([b.node_id ?? node, ...alive])],
    electionState: b.election_state ?? role,
    voters: b.voter_node_ids ?? b.voters,
    role,
    isLeader: b.is_leader === true || role === 'leader',
    effectiveLeaderId: b.effective_leader_id ?? null,
    alivePeerCount: typeof b.alive_peers === 'number' ? b.alive_peers : listed ? listed.filter((x) => x !== node).length : alive.length,
    retiredPeers: Object.entries(peers).filter(([, p]) => p.retired === true).map(([id]) => id),
    deadPeers: Object.entries(peers).filter(([, p]) => p.is_alive === false && p.retired !== true).map(([id]) => id),
    votersAlive: b.voters_alive,
    voterQuorumOk: b.voter_quorum_ok,
    leadersReported: b.leaders_reported,
    activeJobs: typeof b.active_jobs === 'number' ? b.active_jobs : Array.isArray(b.active_jobs) ? b.active_jobs.length : undefined,
  };
}

/** `GET /status?alive_only=false` of the node's P2P orchestrator (it may take up to a minute under load). */
export async function p2pStatus(ctx: TrainingClusterContext, ref: NodeRef): Promise<P2pStatus> {
  return ctx.run(async () => {
    const { cluster, node } = ctx.lookup(ref);
    if (!node.http) throw ctx.missing(ref, 'http baseUrl', 'http: {baseUrl: "http://host:8770"}');
    try {
      const res = await httpJson<WireStatus>({
        url: new URL('/status?alive_only=false', node.http.baseUrl).toString(),
        timeoutMs: ctx.setting(cluster, 'statusTimeoutSeconds') * 1000,
        signal: Context.current().cancellationSignal,
      });
      return { reachable: true, ...statusOf(ref.node, res.body ?? {}) };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message };
      throw err;
    }
  });
}

/** `GET /api/jobs` of the node's orchestrator (`{success, jobs, total}`): the jobs it distributes and how many are not finished. */
export async function p2pJobs(ctx: TrainingClusterContext, ref: NodeRef): Promise<{ node: string; reachable: boolean; activeJobs: number; total?: number; error?: string }> {
  return ctx.run(async () => {
    const { node } = ctx.lookup(ref);
    if (!node.http) throw ctx.missing(ref, 'http baseUrl', 'http: {baseUrl: "http://host:8770"}');
    try {
      const res = await httpJson<WireJobs>({
        url: new URL('/api/jobs', node.http.baseUrl).toString(),
        timeoutMs: 30_000,
        signal: Context.current().cancellationSignal,
      });
      const jobs = Array.isArray(res.body?.jobs) ? res.body.jobs : [];
      const active = jobs.filter((j) => !FINISHED_JOB_STATES.includes(String(j.status ?? '').toLowerCase())).length;
      return { node: ref.node, reachable: true, activeJobs: active, total: typeof res.body?.total === 'number' ? res.body.total : jobs.length };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, activeJobs: 0, error: (err as Error).message };
      throw err;
    }
  });
}

/** A POST to the orchestrator with the cluster token (`Authorization: Bearer $RINGRIFT_CLUSTER_AUTH_TOKEN`). */
async function p2pPost(ctx: TrainingClusterContext, ref: NodeRef, path: string, body: unknown, dryRun: boolean | undefined, what: string): Promise<EffectResult & { body?: unknown }> {
  const { node } = ctx.lookup(ref);
  if (!node.http) throw ctx.missing(ref, 'http baseUrl', 'http: {baseUrl: "http://host:8770"}');
  if (!node.http.authToken) throw ctx.missing(ref, 'http.authToken', 'http: {authToken: "env:RINGRIFT_CLUSTER_AUTH_TOKEN"}');
  const url = new URL(path, node.http.baseUrl).toString();
  const plan = `${ref.node}: curl -X POST ${url} -H "Authorization: Bearer $RINGRIFT_CLUSTER_AUTH_TOKEN"${body === undefined ? '' : ` -d '${JSON.stringify(body)}'`}`;
  if (dryRun) return { dryRun: true, plan };
  const res = await httpJson({
    url,
    method: 'POST',
    body,
    bearer: await resolveSecret(node.http.authToken),
    authRef: node.http.authToken,
    timeoutMs: 30_000,
    signal: Context.current().cancellationSignal,
  });
  return { plan, output: `${what}: ${JSON.stringify(res.body)}`, body: res.body };
}

/** `POST /election/reset` on a node (bearer token): clears its election state and leader. */
export async function p2pElectionReset(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { body: _b, ...r } = await p2pPost(ctx, input, '/election/reset', undefined, input.dryRun, 'election reset');
    return r;
  });
}

/** `POST /election/force_leader {"leader_id": leader}` on `node`: on the leader itself it takes the lead, elsewhere it adopts it (emergency only). */
export async function p2pSetLeader(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean; leader: string }): Promise<EffectResult> {
  return ctx.run(async () => {
    ctx.lookup({ cluster: input.cluster, node: input.leader }); // the designated leader must be in the inventory
    const { body: _b, ...r } = await p2pPost(ctx, input, '/election/force_leader', { leader_id: input.leader }, input.dryRun, `leader forced to ${input.leader}`);
    return r;
  });
}

/** `POST /admin/unretire?node_id=<peer>` on `node` (bearer token): the orchestrator takes a retired peer back; not retired counts as done. */
export async function p2pUnretire(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean; peer: string }): Promise<EffectResult> {
  return ctx.run(async () => {
    ctx.lookup({ cluster: input.cluster, node: input.peer });
    const r = await p2pPost(ctx, input, `/admin/unretire?node_id=${encodeURIComponent(input.peer)}`, undefined, input.dryRun, `unretire ${input.peer}`);
    const b = (r.body ?? {}) as { already_active?: boolean };
    return { plan: r.plan, ...(r.dryRun ? { dryRun: true } : {}), ...(b.already_active ? { alreadyDone: true } : {}), output: r.output };
  });
}

async function daemonStatus(ctx: TrainingClusterContext, ref: NodeRef): Promise<{ node: string; running: boolean; healthy: boolean; detail: string }> {
  const { cluster, node } = ctx.lookup(ref);
  const cwd = node.ssh?.workdir;
  const pattern = ctx.setting(cluster, 'processPattern');
  const pg = await ctx.exec(ref, [{ argv: ['pgrep', '-f', selfSafe(pattern)], cwd }], 30_000);
  const running = pg.exitCode === 0;
  const url = `http://localhost:${ctx.setting(cluster, 'localP2pPort')}/health`;
  // The real /health answers 200 whatever its state: `healthy` in the body says it.
  const hc = await ctx.exec(ref, [{ argv: ['curl', '-s', '-m', '5', url], cwd }], 30_000);
  let healthy = false;
  let why = '';
  if (hc.exitCode === 0) {
    try {
      const b = JSON.parse(hc.stdout) as { healthy?: unknown; status?: unknown };
      healthy = b.healthy === true || (b.healthy === undefined && b.status === 'ok');
      why = healthy ? '' : `healthy: ${JSON.stringify(b.healthy ?? b.status ?? null)}`;
    } catch {
      why = `not JSON: ${lastLines(hc.stdout, 1)}`;
    }
  } else why = `curl exit ${hc.exitCode}`;
  const pids = pg.stdout.trim().split(/\s+/).filter(Boolean).join(',');
  const detail = `${running ? `running (pid ${pids})` : 'not running'}; /health ${healthy ? 'ok' : `failed (${why})`}`;
  return { node: ref.node, running, healthy, detail };
}

/** `pgrep -f p2p_orchestrator` and the local `/health` (`healthy: true` in its answer) over SSH. */
export async function p2pDaemonStatus(ctx: TrainingClusterContext, ref: NodeRef): Promise<{ node: string; running: boolean; healthy: boolean; detail: string }> {
  return ctx.run(() => daemonStatus(ctx, ref));
}

/** `settings.p2pRestartVia`, refused (naming the setting and the fix) unless it is one of the four ways. */
function restartVia(ctx: TrainingClusterContext, ref: NodeRef, cluster: Parameters<TrainingClusterContext['setting']>[0]): 'auto' | 'systemd' | 'script' | 'admin' {
  const via = ctx.setting(cluster, 'p2pRestartVia');
  if (via === 'auto' || via === 'systemd' || via === 'script' || via === 'admin') return via;
  throw new TransportError(
    'InvalidArgument',
    `settings.p2pRestartVia of cluster ${ref.cluster} must be auto, systemd, script or admin (got "${via}"): set one of them in the inventory (auto: the unit where the node has it, else its ExecStart), then retry the step`,
    false,
  );
}

/** How this node's orchestrator is (re)started: its systemd unit, the unit's ExecStart by hand, or the admin route. */
async function restartMode(ctx: TrainingClusterContext, ref: NodeRef, cluster: Parameters<TrainingClusterContext['setting']>[0]): Promise<'systemd' | 'script' | 'admin'> {
  const via = restartVia(ctx, ref, cluster);
  if (via !== 'auto') return via;
  const unit = ctx.setting(cluster, 'p2pUnit');
  if (!unit) return 'script';
  const cat = await ctx.exec(ref, [{ argv: ['systemctl', 'cat', `${unit}.service`], ignoreExit: true }], 30_000).catch(() => undefined);
  return cat && cat.exitCode === 0 ? 'systemd' : 'script';
}

/**
 * Restarts the node's orchestrator once per step: `systemctl restart <p2pUnit>` where the node runs
 * the unit, else the unit's ExecStart from its env file (`scripts/p2p_orchestrator.py --node-id ...`),
 * or `POST /admin/restart` (X-Admin-Token) when `p2pRestartVia` is `admin`.
 */
export async function p2pRestart(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster, node } = ctx.lookup(input);
    if (!node.ssh) throw ctx.missing(input, 'ssh block', 'ssh: {host, user, privateKey, hostKeys, workdir}');
    const cwd = node.ssh.workdir;
    const pattern = ctx.setting(cluster, 'processPattern');
    const log = ctx.setting(cluster, 'p2pLog');
    const logDir = log.includes('/') ? log.slice(0, log.lastIndexOf('/')) : '.';
    const envFile = ctx.setting(cluster, 'p2pEnvFile');
    const python = ctx.setting(cluster, 'p2pPython');
    const unit = ctx.setting(cluster, 'p2pUnit');
    const sudo = ctx.setting(cluster, 'sudo');
    // Once-per-step markers in the node's workdir, keyed by workflow, run and activity id (stable across retries):
    // `<key>.from-<old pids>` before the kill (intent), `<key>` once the new process is launched (done).
    const dir = '.lifeboat/restarts';
    const key = ctx.stableKey('p2p');
    // A dry run does not probe the node for the unit: with `auto`, the plan names both ways (only the script when no unit is set).
    const via = restartVia(ctx, input, cluster);
    const mode = input.dryRun ? (via === 'auto' && !unit ? 'script' : via) : await restartMode(ctx, input, cluster);
    const scriptPlan = `pkill -f ${pattern}; nohup sh -c '${P2P_EXEC_START}' p2p-start ${envFile} ${python} > ${log} 2>&1 &`;
    const plan = `${input.node}: ${cwd ? `cd ${cwd} && ` : ''}${
      mode === 'systemd' ? `systemctl restart ${unit}` : mode === 'admin' ? `curl -X POST ${node.http?.baseUrl ?? 'http://host:8770'}/admin/restart -H "X-Admin-Token: $RINGRIFT_ADMIN_TOKEN"` : mode === 'script' ? scriptPlan : `systemctl restart ${unit} if the node has the unit, else ${scriptPlan}`
    }`;
    if (input.dryRun) return { dryRun: true, plan };

    const pids = async (): Promise<string[]> => {
      const r = await ctx.exec(input, [{ argv: ['pgrep', '-f', selfSafe(pattern)], cwd }], 30_000);
      return r.exitCode === 0 ? r.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p)).sort() : [];
    };
    const listing = await ctx.exec(input, [{ argv: ['ls', '-1', dir], cwd }], 30_000);
    const entries = listing.exitCode === 0 ? listing.stdout.split('\n').map((l) => l.trim()) : [];
    const intent = entries.find((e) => e.startsWith(`${key}.from-`));
    let alreadyDone = entries.includes(key);
    const now = await pids();
    if (!alreadyDone && intent) {
      // An earlier attempt died between its kill and its done-marker: if the processes it meant
      // to replace are gone and others run, the restart happened; do not restart twice.
      const old = intent.slice(`${key}.from-`.length).split('_').filter(Boolean);
      if (now.length > 0 && !now.some((p) => old.includes(p))) {
        alreadyDone = true;
        await ctx.exec(input, [{ argv: ['touch', `${dir}/${key}`], cwd }], 30_000);
      }
    }
    if (!alreadyDone) {
      let cmds: RemoteCommand[];
      if (mode === 'systemd') {
        cmds = [
          { argv: ['mkdir', '-p', dir], cwd },
          { argv: ['touch', `${dir}/${key}.from-${now.join('_')}`], cwd },
          { argv: ctx.root(['systemctl', 'restart', `${unit}.service`], sudo), cwd },
          { argv: ['touch', `${dir}/${key}`], cwd },
        ];
      } else if (mode === 'admin') {
        if (!node.http) throw ctx.missing(input, 'http baseUrl', 'http: {baseUrl: "http://host:8770"}');
        const tokenRef = ctx.setting(cluster, 'p2pAdminToken');
        await ctx.exec(input, [{ argv: ['mkdir', '-p', dir], cwd }, { argv: ['touch', `${dir}/${key}.from-${now.join('_')}`], cwd }], 30_000);
        const bearer = node.http.authToken ? await resolveSecret(node.http.authToken) : undefined;
        const headers: Record<string, string> = tokenRef ? { 'X-Admin-Token': await resolveSecret(tokenRef) } : {};
        await httpJson({ url: new URL('/admin/restart', node.http.baseUrl).toString(), method: 'POST', bearer, headers, authRef: tokenRef || node.http.authToken, timeoutMs: 30_000, signal: Context.current().cancellationSignal });
        cmds = [{ argv: ['touch', `${dir}/${key}`], cwd }];
      } else {
        // The kill on its own: the start's command line names the script, and pkill would kill the shell carrying it.
        await ctx.exec(input, [{ argv: ['mkdir', '-p', dir, logDir], cwd }, { argv: ['test', '-r', envFile], cwd }, { argv: ['touch', `${dir}/${key}.from-${now.join('_')}`], cwd }], 30_000).then((r) =>
          ctx.check(input, r, `preparing the restart (the unit's env file ${envFile})`, `create ${envFile} on ${input.node} as the unit's EnvironmentFile, or set settings.p2pEnvFile`),
        );
        await ctx.exec(input, [{ argv: ['pkill', '-f', selfSafe(pattern)], cwd, ignoreExit: true }], 30_000);
        for (let i = 0; i < 20 && (await pids()).length > 0; i++) await ctx.sleep(500);
        cmds = [
          { argv: ['sh', '-c', P2P_EXEC_START, 'p2p-start', envFile, python], cwd, detach: { logFile: log } },
          { argv: ['touch', `${dir}/${key}`], cwd },
        ];
      }
      const res = await ctx.exec(input, cmds, 60_000);
      ctx.check(input, res, 'restarting the P2P orchestrator', mode === 'script' ? `check ${envFile} (the unit's env file) and ${log} in ${cwd ?? 'the home directory'} on ${input.node}` : `check the unit ${unit} on ${input.node} (journalctl -u ${unit})`);
    }
    // Confirm the new process runs (and, within a short grace, answers /health) before the step counts as done.
    const deadline = Date.now() + ctx.setting(cluster, 'restartTimeoutSeconds') * 1000;
    let last = await daemonStatus(ctx, input);
    const graceEnd = Date.now() + 10_000;
    while ((!last.running || (!last.healthy && Date.now() < graceEnd)) && Date.now() < deadline) {
      Context.current().heartbeat({ node: input.node, waiting: 'orchestrator running', detail: last.detail });
      await ctx.sleep(1_000);
      last = await daemonStatus(ctx, input);
    }
    if (!last.running) {
      const tail = await ctx.exec(input, [{ argv: ['tail', '-n', '20', log], cwd, ignoreExit: true }], 15_000).catch(() => undefined);
      throw new TransportError(
        'RestartFailed',
        `the P2P orchestrator on ${input.node} is not running after the restart (${mode})${tail ? `; ${log}: ${lastLines(tail.stdout + tail.stderr, 8)}` : ''}; fix the cause on the node, then retry the step`,
        false,
      );
    }
    // Running but not yet healthy is normal in a collapsed mesh: the stabilize wait and the verification decide.
    return { plan, alreadyDone, output: `${mode}: ${last.detail}` };
  });
}
