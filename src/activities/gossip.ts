/**
 * The gossip cluster's activities (seed 003, plumtree over memberlist): the
 * node's debug and admin HTTP API (`/debug/peers`, `/metrics`, `/health`,
 * `POST /admin/*` with the cluster's bearer token), service control and
 * directory clearing over SSH, and the runbook's `nc -zv seed 7946` run on the
 * node itself.
 *
 * Idempotency: reads have no effect. `gossipLeave` checks the membership view
 * first (already left: done), `gossipJoin` the eager peers (already joined:
 * done), `gossipRebalance` whether the node already sees every member,
 * `gossipEnableSync` the `plumtree_sync_enabled` gauge; `gossipService`
 * stop/start check `systemctl is-active` first and a restart leaves a
 * once-per-step marker, so a retried restart does not restart twice;
 * `gossipClearDir` refuses while the service runs and reports an empty
 * directory as done. Clearing the message cache through the API is a no-op
 * on a clean cache, so a retry repeats nothing harmful.
 *
 * Settings (`settings.<key>` of the cluster), with the runbook's defaults:
 * `serviceName` (plumtree), `dataDir` (/var/lib/plumtree/data), `cacheDir`
 * (<dataDir>/cache), `seedPort` (7946), `seeds` (comma-separated host:port;
 * default: the nodes with the `seed` role at their host and `seedPort`),
 * `sudo` (false), `tcpCheckSeconds` (5).
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { ClusterSpec, NodeSpec } from '../inventory/schema';
import { HTTP_READ_MS, lastLines, type ActivityContext } from './context';
import { TransportError } from './errors';
import { httpJson, httpText, parsePrometheus } from './http';
import { resolveSecret } from './secrets';
import { quoteArgv } from './shell';
import type { EffectResult, NodeRef } from './types';
import type { GossipActivities, GossipMalformed, GossipMetrics, GossipPeers, GossipSeedCheck, GossipServiceState } from './types-gossip';

/** Per-cluster settings of a gossip cluster, with their defaults (the runbook's values). */
export const GOSSIP_DEFAULTS = {
  serviceName: 'plumtree',
  dataDir: '/var/lib/plumtree/data',
  /** Empty: `<dataDir>/cache`. */
  cacheDir: '',
  seedPort: 7946,
  /** Empty: the `seed`-role nodes at `seedPort`. */
  seeds: '',
  sudo: false,
  tcpCheckSeconds: 5,
};

/** Pause between the two reads of the malformed-message counter. */
const MALFORMED_SAMPLE_MS = 1_500;
/** The bash TCP probe: connects to $1:$2, nothing else (host and port are positional arguments, never code). */
const TCP_PROBE = 'exec 3<>"/dev/tcp/$1/$2"';

/** The gossip activities of one worker. */
export function gossipActivities(ctx: ActivityContext): GossipActivities {
  const { lookup, missing, exec, check, root, sleep, run, isUnreachable, stableKey } = ctx;
  const setting = <K extends keyof typeof GOSSIP_DEFAULTS>(cluster: ClusterSpec, key: K): (typeof GOSSIP_DEFAULTS)[K] =>
    ctx.setting(cluster, key, GOSSIP_DEFAULTS[key]);

  function baseUrl(ref: NodeRef, node: NodeSpec): string {
    if (!node.http) throw missing(ref, 'http baseUrl', 'http: {baseUrl: "http://host:8080", authToken: "env:GOSSIP_ADMIN_TOKEN"}');
    return node.http.baseUrl;
  }

  /** The seeds a node joins through, as `host:port`. */
  function seedsOf(ref: NodeRef): string[] {
    const { cluster } = lookup(ref);
    const listed = setting(cluster, 'seeds')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (listed.length) return listed;
    const port = setting(cluster, 'seedPort');
    const seeds = cluster.nodes
      .filter((n) => n.roles.includes('seed'))
      .map((n) => `${n.ssh?.host ?? (n.http ? new URL(n.http.baseUrl).hostname : n.name)}:${port}`);
    if (seeds.length === 0) {
      throw new TransportError('BadInventory', `cluster ${ref.cluster} names no seed: give seed nodes the role "seed" or set settings.seeds to "host:port,host:port"`, false);
    }
    return seeds;
  }

  async function peers(ref: NodeRef): Promise<GossipPeers> {
    const { node } = lookup(ref);
    const url = new URL('/debug/peers', baseUrl(ref, node)).toString();
    type P = { peers?: { eager?: unknown; lazy?: unknown }; members?: unknown };
    try {
      const res = await httpJson<P>({ url, timeoutMs: HTTP_READ_MS, signal: Context.current().cancellationSignal });
      const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
      return { node: ref.node, reachable: true, eager: list(res.body?.peers?.eager), lazy: list(res.body?.peers?.lazy), members: list(res.body?.members) };
    } catch (err) {
      if (isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message, eager: [], lazy: [], members: [] };
      throw err;
    }
  }

  async function metrics(ref: NodeRef): Promise<GossipMetrics> {
    const { node } = lookup(ref);
    const url = node.metricsUrl ?? new URL('/metrics', baseUrl(ref, node)).toString();
    try {
      const res = await httpText({ url, timeoutMs: HTTP_READ_MS, signal: Context.current().cancellationSignal });
      const values: Record<string, number> = {};
      for (const s of parsePrometheus(res.body)) {
        if (s.name.startsWith('plumtree_') && Number.isFinite(s.value)) values[s.name] = (values[s.name] ?? 0) + s.value;
      }
      return { node: ref.node, reachable: true, values };
    } catch (err) {
      if (isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message, values: {} };
      throw err;
    }
  }

  async function healthOk(ref: NodeRef): Promise<boolean> {
    const { node } = lookup(ref);
    try {
      await httpJson({ url: new URL('/health', baseUrl(ref, node)).toString(), timeoutMs: HTTP_READ_MS, signal: Context.current().cancellationSignal });
      return true;
    } catch (err) {
      if (err instanceof TransportError) return false; // 503 degraded, or down: not healthy either way
      throw err;
    }
  }

  /** A POST to the node's admin API with the cluster token (resolved here, never shown). */
  async function admin<T>(ref: NodeRef, path: string, body: unknown): Promise<T> {
    const { node } = lookup(ref);
    const base = baseUrl(ref, node);
    if (!node.http?.authToken) throw missing(ref, 'http.authToken', 'http: {authToken: "env:GOSSIP_ADMIN_TOKEN"}');
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

  function adminPlan(ref: NodeRef, path: string, body?: unknown): string {
    const { node } = lookup(ref);
    const url = new URL(path, baseUrl(ref, node)).toString();
    return `${ref.node}: curl -X POST ${url} -H "Authorization: Bearer $GOSSIP_ADMIN_TOKEN"${body === undefined ? '' : ` -d '${JSON.stringify(body)}'`}`;
  }

  function serviceArgv(cluster: ClusterSpec, verb: string): string[] {
    return root(['systemctl', verb, setting(cluster, 'serviceName')], setting(cluster, 'sudo'));
  }

  async function serviceState(ref: NodeRef): Promise<GossipServiceState> {
    const { cluster } = lookup(ref);
    try {
      const res = await exec(ref, [{ argv: serviceArgv(cluster, 'is-active') }], 30_000);
      return { node: ref.node, sshReachable: true, active: res.exitCode === 0, state: res.stdout.trim().split('\n')[0] || `exit ${res.exitCode ?? '?'}` };
    } catch (err) {
      if (isUnreachable(err)) return { node: ref.node, sshReachable: false, error: (err as Error).message, active: false, state: 'unknown (no SSH)' };
      throw err;
    }
  }

  /** The directory to clear, validated: relative to the SSH home or absolute, never `/`, never with `..`. */
  function dirOf(ref: NodeRef, cluster: ClusterSpec, which: 'data' | 'cache'): string {
    const data = setting(cluster, 'dataDir').replace(/\/+$/, '');
    const raw = which === 'data' ? data : setting(cluster, 'cacheDir').replace(/\/+$/, '') || `${data}/cache`;
    const parts = raw.split('/').filter((p) => p && p !== '.');
    if (parts.length === 0 || parts.includes('..') || raw.includes('\n')) {
      const key = which === 'data' ? 'dataDir' : 'cacheDir';
      throw new TransportError('BadInventory', `refusing to clear ${JSON.stringify(raw)}: set settings.${key} of ${ref.cluster} to plumtree's own ${which} directory`, false);
    }
    return raw;
  }

  return {
    gossipPeers: (ref) => run(() => peers(ref)),

    gossipMetrics: (ref) => run(() => metrics(ref)),

    gossipMalformed: (ref) =>
      run(async (): Promise<GossipMalformed> => {
        const first = await metrics(ref);
        if (!first.reachable) return { node: ref.node, reachable: false, error: first.error, before: 0, after: 0, rising: false, healthy: false };
        await sleep(MALFORMED_SAMPLE_MS);
        const second = await metrics(ref);
        const before = first.values.plumtree_malformed_messages_total ?? 0;
        const after = second.values.plumtree_malformed_messages_total ?? before;
        return { node: ref.node, reachable: second.reachable, before, after, rising: after > before, healthy: await healthOk(ref) };
      }),

    gossipSeedCheck: (ref) =>
      run(async (): Promise<GossipSeedCheck> => {
        const { cluster } = lookup(ref);
        const secs = String(setting(cluster, 'tcpCheckSeconds'));
        const seeds = seedsOf(ref);
        const out: GossipSeedCheck = { node: ref.node, sshReachable: true, seeds: [] };
        for (const seed of seeds) {
          const m = /^(.+):(\d{1,5})$/.exec(seed);
          if (!m) throw new TransportError('BadInventory', `seed ${JSON.stringify(seed)} is not host:port; fix settings.seeds of ${ref.cluster}`, false);
          const host = m[1]!.replace(/^\[(.*)\]$/, '$1'); // [::1]:7946 -> ::1
          const argv = ['timeout', secs, 'bash', '-c', TCP_PROBE, 'seed-check', host, m[2]!];
          try {
            const res = await exec(ref, [{ argv }], 30_000);
            const open = res.exitCode === 0;
            out.seeds.push({ seed, open, detail: open ? 'open' : res.exitCode === 124 ? `no answer within ${secs} s` : lastLines(res.stderr || res.stdout, 1) || `exit ${res.exitCode ?? '?'}` });
          } catch (err) {
            if (!isUnreachable(err)) throw err;
            return { node: ref.node, sshReachable: false, error: (err as Error).message, seeds: [] };
          }
        }
        return out;
      }),

    gossipServiceState: (ref) => run(() => serviceState(ref)),

    gossipLeave: (input) =>
      run(async (): Promise<EffectResult> => {
        const plan = adminPlan(input, '/admin/leave');
        if (input.dryRun) return { dryRun: true, plan };
        const now = await peers(input);
        if (!now.reachable) throw new TransportError('Unavailable', `${input.node}'s API does not answer (${now.error ?? '?'}); start plumtree on it, or let the recovery restart it`, true);
        if (now.members.length === 0) return { alreadyDone: true, plan, output: `${input.node} has already left (empty membership)` };
        await admin(input, '/admin/leave', {});
        return { plan, output: `${input.node} left the membership (it saw ${now.members.length} member(s))` };
      }),

    gossipJoin: (input) =>
      run(async () => {
        const seeds = seedsOf(input);
        const plan = adminPlan(input, '/admin/join', { seeds });
        if (input.dryRun) return { dryRun: true, plan };
        const now = await peers(input);
        if (now.reachable && now.eager.length > 0) return { alreadyDone: true, plan, eager: now.eager.length, output: `${input.node} already has ${now.eager.length} eager peer(s)` };
        try {
          await admin(input, '/admin/join', { seeds });
        } catch (err) {
          if (err instanceof TransportError && (err.type === 'HttpServerError' || err.type === 'HttpClientError')) {
            throw new TransportError(
              'JoinFailed',
              `${input.node} could not join through ${seeds.join(', ')} (${err.message.split('; ')[0]}); check that the seeds run and port ${seeds[0]?.split(':').pop() ?? '?'} is open from ${input.node}, or restart plumtree on it`,
              false,
            );
          }
          throw err;
        }
        const after = await peers(input);
        return { plan, eager: after.eager.length, output: `${input.node} joined: ${after.eager.length} eager, ${after.lazy.length} lazy peer(s)` };
      }),

    gossipRebalance: (input) =>
      run(async (): Promise<EffectResult> => {
        const plan = adminPlan(input, '/admin/rebalance');
        if (input.dryRun) return { dryRun: true, plan };
        const { cluster } = lookup(input);
        const now = await peers(input);
        const all = cluster.nodes.map((n) => n.name);
        if (now.reachable && all.every((n) => now.members.includes(n))) return { alreadyDone: true, plan, output: `${input.node} already sees all ${all.length} members` };
        await admin(input, '/admin/rebalance', {});
        const after = await peers(input);
        return { plan, output: `${input.node} rebalanced: sees ${after.members.length} member(s), ${after.eager.length} eager` };
      }),

    gossipClearCache: (input) =>
      run(async (): Promise<EffectResult> => {
        const plan = adminPlan(input, '/admin/cache/clear');
        if (input.dryRun) return { dryRun: true, plan };
        await admin(input, '/admin/cache/clear', {});
        return { plan, output: `message cache of ${input.node} cleared` };
      }),

    gossipEnableSync: (input) =>
      run(async () => {
        const plan = adminPlan(input, '/admin/sync/enable');
        if (input.dryRun) return { dryRun: true, plan, supported: true };
        const m = await metrics(input);
        if (m.values.plumtree_sync_enabled === 1) return { alreadyDone: true, plan, supported: true, output: `anti-entropy sync already enabled on ${input.node}` };
        try {
          await admin(input, '/admin/sync/enable', {});
        } catch (err) {
          if (err instanceof TransportError && [404, 405, 501].includes(Number(err.details?.status))) {
            return { plan, supported: false, output: `${input.node} has no anti-entropy API (${err.message})` };
          }
          throw err;
        }
        return { plan, supported: true, output: `anti-entropy sync enabled on ${input.node}` };
      }),

    gossipService: (input) =>
      run(async (): Promise<EffectResult> => {
        const { cluster } = lookup(input);
        const service = setting(cluster, 'serviceName');
        const argv = serviceArgv(cluster, input.action);
        const plan = `${input.node}: ${quoteArgv(argv)}`;
        if (input.dryRun) return { dryRun: true, plan };
        const next = `check \`systemctl status ${service}\` and \`journalctl -u ${service}\` on ${input.node}`;
        const before = await serviceState(input);
        if (!before.sshReachable) throw new TransportError('Unavailable', `${input.node} does not answer over SSH (${before.error ?? '?'}); the node may need replacing`, true);
        if (input.action === 'stop' && !before.active) return { alreadyDone: true, plan, output: `${service} is not active (${before.state})` };
        if (input.action === 'start' && before.active) return { alreadyDone: true, plan, output: `${service} is already active` };
        const marker = `.lifeboat/restarts/${stableKey('gossip')}`;
        if (input.action === 'restart') {
          const seen = await exec(input, [{ argv: ['test', '-e', marker] }], 30_000);
          if (seen.exitCode === 0 && before.active) return { alreadyDone: true, plan, output: `${service} was already restarted by this step` };
        }
        const res = await exec(input, [{ argv }], 120_000);
        const output = check(input, res, quoteArgv(argv), next);
        const after = await serviceState(input);
        if (input.action !== 'stop' && !after.active) {
          throw new TransportError('StartFailed', `${service} on ${input.node} is ${after.state} after \`systemctl ${input.action}\`; ${next}`, false);
        }
        if (input.action === 'restart') await exec(input, [{ argv: ['mkdir', '-p', '.lifeboat/restarts'] }, { argv: ['touch', marker] }], 30_000);
        return { plan, output: output || `${service} ${after.state} on ${input.node}` };
      }),

    gossipClearDir: (input) =>
      run(async (): Promise<EffectResult> => {
        const { cluster } = lookup(input);
        const dir = dirOf(input, cluster, input.dir);
        const sudo = setting(cluster, 'sudo');
        const argv = root(['find', dir, '-mindepth', '1', '-delete'], sudo);
        const plan = `${input.node}: rm -rf ${dir}/* (${quoteArgv(argv)})`;
        if (input.dryRun) return { dryRun: true, plan };
        const state = await serviceState(input);
        if (!state.sshReachable) throw new TransportError('Unavailable', `${input.node} does not answer over SSH (${state.error ?? '?'})`, true);
        if (state.active) {
          throw new TransportError(
            'FailedPrecondition',
            `${setting(cluster, 'serviceName')} still runs on ${input.node}: ${dir} is not cleared while in use; stop it first (systemctl stop ${setting(cluster, 'serviceName')})`,
            false,
          );
        }
        const probe = await exec(input, [{ argv: root(['find', dir, '-mindepth', '1', '-maxdepth', '1'], sudo) }], 30_000);
        if (probe.exitCode === 0 && probe.stdout.trim() === '') return { alreadyDone: true, plan, output: `${dir} is already empty` };
        if (probe.exitCode !== 0 && /No such file/.test(probe.stderr)) return { alreadyDone: true, plan, output: `${dir} does not exist` };
        const res = await exec(input, [{ argv }], 300_000);
        check(input, res, `clearing ${dir}`, `check permissions on ${dir} (settings.sudo) on ${input.node}`);
        return { plan, output: `${dir} cleared on ${input.node}` };
      }),
  };
}
