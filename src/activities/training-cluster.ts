/**
 * The training cluster's activities (seed 000): the P2P orchestrator's HTTP
 * API (`/status`, `/jobs`, `/admin/*` with the cluster's bearer token) and
 * its process over SSH (`pgrep`, `pkill`, `nohup python -m ...`).
 *
 * Idempotency: `p2pRestart` leaves a marker in the node's workdir once the
 * restart is launched; a retried attempt of the same activity finds it and
 * only verifies, so a node is restarted once per step even across worker
 * crashes.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { ClusterSpec } from '../inventory/schema';
import { HTTP_READ_MS, lastLines, type ActivityContext } from './context';
import { TransportError } from './errors';
import { httpJson } from './http';
import { resolveSecret } from './secrets';
import type { RemoteCommand } from './shell';
import type { EffectResult, NodeRef, P2pStatus, TrainingClusterActivities } from './types';

/** Per-cluster settings of a training cluster, with their defaults (the runbook's values). */
export const TRAINING_CLUSTER_DEFAULTS = {
  processPattern: 'p2p_orchestrator',
  p2pStart: 'python -m app.p2p.orchestrator',
  p2pLog: 'logs/p2p.log',
  localP2pPort: 8770,
  restartTimeoutSeconds: 60,
};

/** The training-cluster activities of one worker. */
export function trainingClusterActivities(ctx: ActivityContext): TrainingClusterActivities {
  const { lookup, missing, exec, check, sleep, run, isUnreachable, stableKey } = ctx;
  const setting = <K extends keyof typeof TRAINING_CLUSTER_DEFAULTS>(cluster: ClusterSpec, key: K): (typeof TRAINING_CLUSTER_DEFAULTS)[K] =>
    ctx.setting(cluster, key, TRAINING_CLUSTER_DEFAULTS[key]);

  async function p2pStatus(ref: NodeRef): Promise<P2pStatus> {
    return run(async () => {
      const { node } = lookup(ref);
      if (!node.http) throw missing(ref, 'http baseUrl', 'http: {baseUrl: "http://host:8770"}');
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
        if (isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message };
        throw err;
      }
    });
  }

  async function p2pJobs(ref: NodeRef): Promise<{ node: string; reachable: boolean; activeJobs: number; error?: string }> {
    return run(async () => {
      const { node } = lookup(ref);
      if (!node.http) throw missing(ref, 'http baseUrl', 'http: {baseUrl: "http://host:8770"}');
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
        if (isUnreachable(err)) return { node: ref.node, reachable: false, activeJobs: 0, error: (err as Error).message };
        throw err;
      }
    });
  }

  /** A POST to the orchestrator's admin API with the cluster token. */
  async function p2pAdmin(ref: NodeRef, path: string, body: unknown, dryRun: boolean | undefined, what: string): Promise<EffectResult> {
    const { node } = lookup(ref);
    if (!node.http) throw missing(ref, 'http baseUrl', 'http: {baseUrl: "http://host:8770"}');
    if (!node.http.authToken) throw missing(ref, 'http.authToken', 'http: {authToken: "env:CLUSTER_AUTH_TOKEN"}');
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

  async function p2pElectionReset(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(() => p2pAdmin(input, '/admin/election/reset', undefined, input.dryRun, 'election reset'));
  }

  async function p2pSetLeader(input: NodeRef & { dryRun?: boolean; leader: string }): Promise<EffectResult> {
    return run(async () => {
      lookup({ cluster: input.cluster, node: input.leader }); // the designated leader must be in the inventory
      return p2pAdmin(input, '/admin/set-leader', { node_id: input.leader }, input.dryRun, `leader set to ${input.leader}`);
    });
  }

  async function daemonStatus(ref: NodeRef): Promise<{ node: string; running: boolean; healthy: boolean; detail: string }> {
    const { cluster, node } = lookup(ref);
    const cwd = node.ssh?.workdir;
    const pattern = setting(cluster, 'processPattern');
    const pg = await exec(ref, [{ argv: ['pgrep', '-f', pattern], cwd }], 30_000);
    const running = pg.exitCode === 0;
    const url = `http://localhost:${setting(cluster, 'localP2pPort')}/health`;
    const hc = await exec(ref, [{ argv: ['curl', '-sf', '-m', '5', url], cwd }], 30_000);
    const healthy = hc.exitCode === 0;
    const pids = pg.stdout.trim().split(/\s+/).filter(Boolean).join(',');
    const detail = `${running ? `running (pid ${pids})` : 'not running'}; /health ${healthy ? 'ok' : `failed (curl exit ${hc.exitCode}${hc.stdout.trim() ? `: ${lastLines(hc.stdout, 1)}` : ''})`}`;
    return { node: ref.node, running, healthy, detail };
  }

  async function p2pDaemonStatus(ref: NodeRef): Promise<{ node: string; running: boolean; healthy: boolean; detail: string }> {
    return run(() => daemonStatus(ref));
  }

  async function p2pRestart(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(async () => {
      const { cluster, node } = lookup(input);
      if (!node.ssh) throw missing(input, 'ssh block', 'ssh: {host, user, privateKey, hostKeys, workdir}');
      const cwd = node.ssh.workdir;
      const pattern = setting(cluster, 'processPattern');
      const startArgv = setting(cluster, 'p2pStart').split(/\s+/).filter(Boolean);
      const log = setting(cluster, 'p2pLog');
      const logDir = log.includes('/') ? log.slice(0, log.lastIndexOf('/')) : '.';
      // Once-per-step markers in the node's workdir, keyed by workflow, run and activity id (stable across retries):
      // `<key>.from-<old pids>` before the kill (intent), `<key>` once the new process is launched (done).
      const dir = '.lifeboat/restarts';
      const key = stableKey('p2p');
      const plan = `${input.node}: ${cwd ? `cd ${cwd} && ` : ''}pkill -f ${pattern}; nohup ${startArgv.join(' ')} > ${log} 2>&1 &`;
      if (input.dryRun) return { dryRun: true, plan };

      const pids = async (): Promise<string[]> => {
        const r = await exec(input, [{ argv: ['pgrep', '-f', pattern], cwd }], 30_000);
        return r.exitCode === 0 ? r.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p)).sort() : [];
      };
      const listing = await exec(input, [{ argv: ['ls', '-1', dir], cwd }], 30_000);
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
          await exec(input, [{ argv: ['touch', `${dir}/${key}`], cwd }], 30_000);
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
        const res = await exec(input, cmds, 60_000);
        check(input, res, 'restarting the P2P orchestrator', `check ${log} in ${cwd ?? 'the home directory'} on ${input.node}`);
      }
      // Confirm the new process runs (and, within a short grace, answers /health) before the step counts as done.
      const deadline = Date.now() + setting(cluster, 'restartTimeoutSeconds') * 1000;
      let last = await daemonStatus(input);
      const graceEnd = Date.now() + 10_000;
      while ((!last.running || (!last.healthy && Date.now() < graceEnd)) && Date.now() < deadline) {
        Context.current().heartbeat({ node: input.node, waiting: 'orchestrator running', detail: last.detail });
        await sleep(1_000);
        last = await daemonStatus(input);
      }
      if (!last.running) {
        const tail = await exec(input, [{ argv: ['tail', '-n', '20', log], cwd, ignoreExit: true }], 15_000).catch(() => undefined);
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

  return { p2pStatus, p2pJobs, p2pElectionReset, p2pSetLeader, p2pDaemonStatus, p2pRestart };
}
