/**
 * The P2P orchestrator of each node: its status, jobs and daemon over HTTP
 * and SSH, the admin calls of an election (bearer token resolved on the
 * worker), and restarting it (once per step).
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { EffectResult, NodeRef } from '../common/types';
import { HTTP_READ_MS, lastLines } from '../context';
import { TransportError } from '../transport/errors';
import { httpJson } from '../transport/http';
import { resolveSecret } from '../transport/secrets';
import type { RemoteCommand } from '../transport/shell';
import type { TrainingClusterContext } from './context';
import { admin } from './sync';
import type { P2pStatus } from './types';

/** `GET /status` of the node's P2P orchestrator. */
export async function p2pStatus(ctx: TrainingClusterContext, ref: NodeRef): Promise<P2pStatus> {
  return ctx.run(async () => {
    const { node } = ctx.lookup(ref);
    if (!node.http) throw ctx.missing(ref, 'http baseUrl', 'http: {baseUrl: "http://host:8770"}');
    type S = { leader_id?: string | null; alive_peers?: string[]; election_state?: string; voters?: string[] };
    try {
      const bearer = node.http.authToken ? await resolveSecret(node.http.authToken) : undefined;
      const res = await httpJson<S>({
        url: new URL('/status', node.http.baseUrl).toString(),
        bearer,
        authRef: node.http.authToken,
        timeoutMs: HTTP_READ_MS,
        signal: Context.current().cancellationSignal,
      });
      const b = res.body ?? {};
      return { node: ref.node, reachable: true, leaderId: b.leader_id ?? null, alivePeers: b.alive_peers ?? [], electionState: b.election_state, voters: b.voters };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message };
      throw err;
    }
  });
}

/** `GET /jobs` of the node's orchestrator: how many jobs are being distributed. */
export async function p2pJobs(ctx: TrainingClusterContext, ref: NodeRef): Promise<{ node: string; reachable: boolean; activeJobs: number; error?: string }> {
  return ctx.run(async () => {
    const { node } = ctx.lookup(ref);
    if (!node.http) throw ctx.missing(ref, 'http baseUrl', 'http: {baseUrl: "http://host:8770"}');
    try {
      const bearer = node.http.authToken ? await resolveSecret(node.http.authToken) : undefined;
      const res = await httpJson<{ active_jobs?: unknown[] }>({
        url: new URL('/jobs', node.http.baseUrl).toString(),
        bearer,
        authRef: node.http.authToken,
        timeoutMs: HTTP_READ_MS,
        signal: Context.current().cancellationSignal,
      });
      return { node: ref.node, reachable: true, activeJobs: Array.isArray(res.body?.active_jobs) ? res.body.active_jobs.length : 0 };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, activeJobs: 0, error: (err as Error).message };
      throw err;
    }
  });
}

/** A POST to the orchestrator's admin API with the cluster token. */
async function p2pAdmin(ctx: TrainingClusterContext, ref: NodeRef, path: string, body: unknown, dryRun: boolean | undefined, what: string): Promise<EffectResult> {
  const { node } = ctx.lookup(ref);
  if (!node.http) throw ctx.missing(ref, 'http baseUrl', 'http: {baseUrl: "http://host:8770"}');
  if (!node.http.authToken) throw ctx.missing(ref, 'http.authToken', 'http: {authToken: "env:CLUSTER_AUTH_TOKEN"}');
  const url = new URL(path, node.http.baseUrl).toString();
  const plan = `${ref.node}: curl -X POST ${url} -H "Authorization: Bearer $CLUSTER_AUTH_TOKEN"${body === undefined ? '' : ` -d '${JSON.stringify(body)}'`}`;
  if (dryRun) return { dryRun: true, plan };
  const res = await httpJson({
    url,
    method: 'POST',
    body,
    bearer: await resolveSecret(node.http.authToken),
    authRef: node.http.authToken,
    timeoutMs: 15_000,
    signal: Context.current().cancellationSignal,
  });
  return { plan, output: `${what}: ${JSON.stringify(res.body)}` };
}

/** `POST /admin/election/reset` on a voter (bearer token from the inventory). */
export async function p2pElectionReset(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(() => p2pAdmin(ctx, input, '/admin/election/reset', undefined, input.dryRun, 'election reset'));
}

/** `POST /admin/set-leader {"node_id": leader}` on a voter: manual leader designation (emergency only). */
export async function p2pSetLeader(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean; leader: string }): Promise<EffectResult> {
  return ctx.run(async () => {
    ctx.lookup({ cluster: input.cluster, node: input.leader }); // the designated leader must be in the inventory
    return p2pAdmin(ctx, input, '/admin/set-leader', { node_id: input.leader }, input.dryRun, `leader set to ${input.leader}`);
  });
}

async function daemonStatus(ctx: TrainingClusterContext, ref: NodeRef): Promise<{ node: string; running: boolean; healthy: boolean; detail: string }> {
  const { cluster, node } = ctx.lookup(ref);
  const cwd = node.ssh?.workdir;
  const pattern = ctx.setting(cluster, 'processPattern');
  const pg = await ctx.exec(ref, [{ argv: ['pgrep', '-f', pattern], cwd }], 30_000);
  const running = pg.exitCode === 0;
  const url = `http://localhost:${ctx.setting(cluster, 'localP2pPort')}/health`;
  const hc = await ctx.exec(ref, [{ argv: ['curl', '-sf', '-m', '5', url], cwd }], 30_000);
  const healthy = hc.exitCode === 0;
  const pids = pg.stdout.trim().split(/\s+/).filter(Boolean).join(',');
  const detail = `${running ? `running (pid ${pids})` : 'not running'}; /health ${healthy ? 'ok' : `failed (curl exit ${hc.exitCode}${hc.stdout.trim() ? `: ${lastLines(hc.stdout, 1)}` : ''})`}`;
  return { node: ref.node, running, healthy, detail };
}

/** `pgrep -f p2p_orchestrator` and the local `/health` over SSH. */
export async function p2pDaemonStatus(ctx: TrainingClusterContext, ref: NodeRef): Promise<{ node: string; running: boolean; healthy: boolean; detail: string }> {
  return ctx.run(() => daemonStatus(ctx, ref));
}

/** `pkill -f p2p_orchestrator; nohup python -m app.p2p.orchestrator > logs/p2p.log 2>&1 &` in the node's workdir, once per step. */
export async function p2pRestart(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster, node } = ctx.lookup(input);
    if (!node.ssh) throw ctx.missing(input, 'ssh block', 'ssh: {host, user, privateKey, hostKeys, workdir}');
    const cwd = node.ssh.workdir;
    const pattern = ctx.setting(cluster, 'processPattern');
    const startArgv = ctx.setting(cluster, 'p2pStart').split(/\s+/).filter(Boolean);
    const log = ctx.setting(cluster, 'p2pLog');
    const logDir = log.includes('/') ? log.slice(0, log.lastIndexOf('/')) : '.';
    // Once-per-step markers in the node's workdir, keyed by workflow, run and activity id (stable across retries):
    // `<key>.from-<old pids>` before the kill (intent), `<key>` once the new process is launched (done).
    const dir = '.lifeboat/restarts';
    const key = ctx.stableKey('p2p');
    const plan = `${input.node}: ${cwd ? `cd ${cwd} && ` : ''}pkill -f ${pattern}; nohup ${startArgv.join(' ')} > ${log} 2>&1 &`;
    if (input.dryRun) return { dryRun: true, plan };

    const pids = async (): Promise<string[]> => {
      const r = await ctx.exec(input, [{ argv: ['pgrep', '-f', pattern], cwd }], 30_000);
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
      const cmds: RemoteCommand[] = [
        { argv: ['mkdir', '-p', dir, logDir], cwd },
        { argv: ['touch', `${dir}/${key}.from-${now.join('_')}`], cwd },
        { argv: ['pkill', '-f', pattern], cwd, ignoreExit: true },
        { argv: startArgv, cwd, detach: { logFile: log } },
        { argv: ['touch', `${dir}/${key}`], cwd },
      ];
      const res = await ctx.exec(input, cmds, 60_000);
      ctx.check(input, res, 'restarting the P2P orchestrator', `check ${log} in ${cwd ?? 'the home directory'} on ${input.node}`);
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
        `the P2P orchestrator on ${input.node} is not running after the restart${tail ? `; ${log}: ${lastLines(tail.stdout + tail.stderr, 8)}` : ''}; fix the cause on the node, then retry the step`,
        false,
      );
    }
    // Running but not yet healthy is normal in a collapsed mesh: the stabilize wait and the verification decide.
    return { plan, alreadyDone, output: last.detail };
  });
}
