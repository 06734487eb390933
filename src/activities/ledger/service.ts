/**
 * The ledger process on a node and its data: the systemd unit over SSH (the
 * unit holds the node's `--listen`, `--data`, `--join` and `--metrics`, as
 * the project's deployments do), moving a data directory aside so the node
 * starts empty, and initializing a new cluster. Each checks the node first:
 * already stopped, already answering, already moved, already initialized
 * count as done; a data directory is never touched while its ledger runs.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { ClusterSpec } from '../../inventory/schema';
import type { EffectResult, NodeRef } from '../common/types';
import { lastLines } from '../context';
import { TransportError } from '../transport/errors';
import { quoteArgv } from '../transport/shell';
import type { LedgerContext } from './context';
import { id, LEDGER_SERVER_VERSION } from './wire';

/** `systemctl <verb> <service>`, behind sudo when `settings.sudo` is set. */
export function serviceArgv(ctx: LedgerContext, cluster: ClusterSpec, verb: string): string[] {
  return ctx.root(['systemctl', verb, ctx.setting(cluster, 'service')], ctx.setting(cluster, 'sudo'));
}

/** `systemctl is-active` of the ledger service on the node. */
export async function serviceActive(ctx: LedgerContext, ref: NodeRef, cluster: ClusterSpec): Promise<boolean> {
  const res = await ctx.exec(ref, [{ argv: serviceArgv(ctx, cluster, 'is-active') }], 30_000);
  return res.exitCode === 0;
}

/** GetNodeInfo, or undefined when the node does not answer. */
async function nodeInfo(ctx: LedgerContext, ref: NodeRef): Promise<{ node_id?: string; cluster_id?: string; state?: string } | undefined> {
  try {
    return await ctx.grpcCall(ref, 'AdminService', 'GetNodeInfo', {});
  } catch (err) {
    if (ctx.isUnreachable(err)) return undefined;
    throw err;
  }
}

/** `systemctl stop <service>`; already stopped counts as done. */
export async function ledgerServiceStop(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    const argv = serviceArgv(ctx, cluster, 'stop');
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    if (!(await serviceActive(ctx, input, cluster))) return { alreadyDone: true, plan, output: `${ctx.setting(cluster, 'service')} is not active` };
    // The server drains for up to 30 s on SIGTERM before it exits.
    const res = await ctx.exec(input, [{ argv }], 120_000);
    const output = ctx.check(input, res, quoteArgv(argv), `check \`systemctl status ${ctx.setting(cluster, 'service')}\` on ${input.node}`);
    return { plan, output };
  });
}

/** `systemctl start <service>`, then wait until the node answers GetNodeInfo; already running counts as done. */
export async function ledgerServiceStart(
  ctx: LedgerContext,
  input: NodeRef & { dryRun?: boolean },
): Promise<EffectResult & { nodeId?: string; clusterId?: string }> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    const service = ctx.setting(cluster, 'service');
    const argv = serviceArgv(ctx, cluster, 'start');
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    const before = await nodeInfo(ctx, input);
    if (before && (await serviceActive(ctx, input, cluster))) {
      return { alreadyDone: true, plan, nodeId: id(before.node_id), clusterId: id(before.cluster_id), output: `${service} already runs (node ${before.node_id ?? '?'}, ${before.state ?? '?'})` };
    }
    const res = await ctx.exec(input, [{ argv }], 60_000);
    ctx.check(input, res, quoteArgv(argv), `check \`systemctl status ${service}\` and the unit's flags (--listen, --data, --join) on ${input.node}`);
    const deadline = Date.now() + ctx.setting(cluster, 'startTimeoutSeconds') * 1000;
    while (Date.now() < deadline) {
      await ctx.sleep(1_000);
      const info = await nodeInfo(ctx, input);
      Context.current().heartbeat({ node: input.node, waiting: 'the ledger to answer', answering: !!info });
      if (info) {
        return {
          plan,
          nodeId: id(info.node_id),
          clusterId: id(info.cluster_id),
          output: `${input.node} answers as node ${info.node_id ?? '?'} (${info.state ?? '?'}${id(info.cluster_id) ? `, cluster ${info.cluster_id}` : ', not in a cluster yet'})`,
        };
      }
    }
    const status = await ctx.exec(input, [{ argv: serviceArgv(ctx, cluster, 'status'), ignoreExit: true }], 15_000).catch(() => undefined);
    throw new TransportError(
      'StartTimeout',
      `${input.node} did not answer within ${ctx.setting(cluster, 'startTimeoutSeconds')} s of \`systemctl start ${service}\`` +
        `${status ? `; systemctl status: ${lastLines(status.stdout + status.stderr, 6)}` : ''}; check the unit and \`journalctl -u ${service}\` on ${input.node}`,
      false,
    );
  });
}

/** The data directory, validated: absolute or relative to the SSH home, never `/`, never with `..`. */
function dataDirOf(ctx: LedgerContext, ref: NodeRef, cluster: ClusterSpec): string {
  const raw = ctx.setting(cluster, 'dataDir').replace(/\/+$/, '');
  const parts = raw.split('/').filter((p) => p && p !== '.');
  if (parts.length === 0 || parts.includes('..') || raw.includes('\n')) {
    throw new TransportError('BadInventory', `refusing to move data directory ${JSON.stringify(raw)} aside: set settings.dataDir of ${ref.cluster} to the ledger's own --data directory`, false);
  }
  return raw;
}

/**
 * Moves the node's data directory aside (`<dataDir>.lifeboat-<id>`), kept for
 * forensics, so the node starts empty. Refused while the service runs or the
 * node answers; already moved by this step counts as done.
 */
export async function ledgerSetAside(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean; reason: string }): Promise<EffectResult & { movedTo?: string }> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    const dataDir = dataDirOf(ctx, input, cluster);
    const sudo = ctx.setting(cluster, 'sudo');
    const tag = createHash('sha256').update(ctx.stableKey('aside')).digest('hex').slice(0, 12);
    const movedTo = `${dataDir}.lifeboat-${tag}`;
    const argv = ctx.root(['mv', '--', dataDir, movedTo], sudo);
    const plan = `${input.node}: ${quoteArgv(argv)} && mkdir -p ${dataDir} (${input.reason})`;
    if (input.dryRun) return { dryRun: true, plan, movedTo };
    // The target first: a running ledger's data is never moved from under it.
    if (await serviceActive(ctx, input, cluster)) {
      throw new TransportError('FailedPrecondition', `the ledger still runs on ${input.node}: its data is not moved while in use; stop it first (systemctl stop ${ctx.setting(cluster, 'service')})`, false);
    }
    const answering = await nodeInfo(ctx, input);
    if (answering) {
      throw new TransportError(
        'FailedPrecondition',
        `a ledger answers at ${input.node}'s address (node ${answering.node_id ?? '?'}) although ${ctx.setting(cluster, 'service')} is not active there: refusing to move ${dataDir}; find and stop that process first`,
        false,
      );
    }
    const probe = await ctx.exec(input, [{ argv: ctx.root(['find', dataDir, '-mindepth', '1', '-maxdepth', '1'], sudo), ignoreExit: true }], 30_000);
    if (probe.stdout.trim() === '') {
      const moved = await ctx.exec(input, [{ argv: ctx.root(['test', '-e', movedTo], sudo) }], 30_000);
      return { alreadyDone: true, plan, movedTo: moved.exitCode === 0 ? movedTo : undefined, output: `${dataDir} is already empty${moved.exitCode === 0 ? ` (moved to ${movedTo})` : ''}` };
    }
    const res = await ctx.exec(input, [{ argv }, { argv: ctx.root(['mkdir', '-p', dataDir], sudo) }], 300_000);
    ctx.check(input, res, `moving ${dataDir} aside`, `check permissions and free space next to ${dataDir} (settings.sudo) on ${input.node}`);
    return { plan, movedTo, output: `${dataDir} moved to ${movedTo}; ${input.node} starts empty` };
  });
}

/**
 * `inferadb-ledger init --host <its address>` on the node (the InitCluster
 * call, as the project's runbooks run it); an initialized node counts as done.
 */
export async function ledgerInit(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult & { clusterId?: string }> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    const { address } = ctx.grpcAddress(input);
    const argv = [ctx.setting(cluster, 'binary'), 'init', '--host', address];
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    const before = await nodeInfo(ctx, input);
    if (!before) throw new TransportError('Unavailable', `${input.node} does not answer at ${address}; start it before initializing a cluster on it`, true);
    if (id(before.cluster_id)) return { alreadyDone: true, plan, clusterId: before.cluster_id, output: `${input.node} already belongs to cluster ${before.cluster_id}` };
    const res = await ctx.exec(input, [{ argv }], 60_000);
    const out = ctx.check(input, res, quoteArgv(argv), `check that ${ctx.setting(cluster, 'binary')} is on the node's PATH (settings.binary) and answers at ${address}`);
    // "Cluster initialized. cluster_id=N" (or "Cluster already initialized. cluster_id=N").
    const said = /cluster_id=(\d+)/.exec(out)?.[1];
    const after = await nodeInfo(ctx, input);
    const clusterId = id(after?.cluster_id) ?? said;
    if (!clusterId) {
      throw new TransportError('InitFailed', `init on ${input.node} printed no cluster id (${lastLines(out, 3)}); Lifeboat speaks inferadb-ledger ${LEDGER_SERVER_VERSION.version}: check the node's version`, false);
    }
    return { plan, clusterId, output: `cluster ${clusterId} initialized on ${input.node}` };
  });
}
