/**
 * The ledger process on a node, over SSH: stop it, start it in a mode
 * (single, cluster, join), clear its data directory. Each checks the node
 * first and reports `alreadyDone` when the effect is already in place; the
 * data directory is cleared only while the ledger is stopped.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { ClusterSpec } from '../../inventory/schema';
import type { EffectResult, NodeRef } from '../common/types';
import { lastLines } from '../context';
import { TransportError } from '../transport/errors';
import { quoteArgv, type RemoteCommand, renderScript } from '../transport/shell';
import type { LedgerContext } from './context';
import { ledgerNodeInfo } from './nodes';
import type { LedgerNodeInfo, LedgerStartMode } from './types';

function serviceArgv(ctx: LedgerContext, cluster: ClusterSpec, verb: string): string[] {
  return ctx.root(['systemctl', verb, ctx.setting(cluster, 'service')], ctx.setting(cluster, 'sudo'));
}

/** `systemctl is-active` of the ledger service on the node. */
export async function serviceActive(ctx: LedgerContext, ref: NodeRef, cluster: ClusterSpec): Promise<boolean> {
  const res = await ctx.exec(ref, [{ argv: serviceArgv(ctx, cluster, 'is-active') }], 30_000);
  return res.exitCode === 0;
}

function peerAddress(ctx: LedgerContext, ref: NodeRef, peer: string): string {
  const { node } = ctx.lookup({ cluster: ref.cluster, node: peer });
  return node.grpc?.address ?? peer;
}

function startCommand(ctx: LedgerContext, ref: NodeRef, cluster: ClusterSpec, start: LedgerStartMode): RemoteCommand {
  const dataDir = (start.mode !== 'join' ? start.dataDir : undefined) ?? ctx.setting(cluster, 'dataDir');
  const env: Record<string, string> = { INFERADB__LEDGER__DATA: dataDir };
  if (start.mode === 'cluster') {
    if (!Number.isInteger(start.size) || start.size < 1 || start.peers.length !== start.size) {
      throw new TransportError('InvalidArgument', `cluster start needs size = number of peers (size ${start.size}, peers ${start.peers.join(',')})`, false);
    }
    env.INFERADB__LEDGER__CLUSTER = String(start.size);
    env.INFERADB__LEDGER__PEERS = start.peers.map((p) => peerAddress(ctx, ref, p)).join(',');
  } else if (start.mode === 'join') {
    if (start.peers.length === 0) throw new TransportError('InvalidArgument', 'join needs at least one running peer', false);
    env.INFERADB__LEDGER__JOIN = 'true';
    env.INFERADB__LEDGER__PEERS = start.peers.map((p) => peerAddress(ctx, ref, p)).join(',');
  }
  const argv = [ctx.setting(cluster, 'binary'), ...(start.mode === 'single' ? ['--single'] : []), '--data', dataDir];
  // The node's ssh.workdir is where the runbook `cd`s (the DR region's /dr-region): relative data dirs start there.
  const cwd = ctx.lookup(ref).node.ssh?.workdir;
  return { argv: ctx.root(argv, ctx.setting(cluster, 'sudo')), env, detach: { logFile: ctx.setting(cluster, 'startLog') }, ...(cwd ? { cwd } : {}) };
}

/** `systemctl stop ledger` over SSH; already stopped counts as done. */
export async function ledgerStop(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    const argv = serviceArgv(ctx, cluster, 'stop');
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    if (!(await serviceActive(ctx, input, cluster))) return { alreadyDone: true, plan, output: `${ctx.setting(cluster, 'service')} is not active` };
    const res = await ctx.exec(input, [{ argv }], 120_000);
    const output = ctx.check(input, res, quoteArgv(argv), `check \`systemctl status ${ctx.setting(cluster, 'service')}\` on ${input.node}`);
    return { plan, output };
  });
}

/** Start the ledger service in the given mode over SSH; already running in that mode counts as done. */
export async function ledgerStart(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean; start: LedgerStartMode }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    const cmd = startCommand(ctx, input, cluster, input.start);
    const plan = `${input.node}: ${renderScript(cmd)}`;
    if (input.dryRun) return { dryRun: true, plan };
    const want = input.start.mode === 'single' ? 'single' : 'cluster';
    const before = await ledgerNodeInfo(ctx, input);
    if (before.reachable) {
      if (before.mode === want) return { alreadyDone: true, plan, output: `already running in ${want} mode (cluster ${before.clusterId ?? '?'})` };
      throw new TransportError(
        'FailedPrecondition',
        `${input.node} already runs the ledger in ${before.mode ?? '?'} mode, not ${want}; stop it first (systemctl stop ${ctx.setting(cluster, 'service')})`,
        false,
      );
    }
    const res = await ctx.exec(input, [cmd], 60_000);
    ctx.check(input, res, `starting ${ctx.setting(cluster, 'binary')}`, `see ${ctx.setting(cluster, 'startLog')} on ${input.node}`);
    // The daemon runs detached: confirm it came up (single mode must also lead) before reporting success.
    const deadline = Date.now() + ctx.setting(cluster, 'startTimeoutSeconds') * 1000;
    let last: LedgerNodeInfo = before;
    while (Date.now() < deadline) {
      await ctx.sleep(1_000);
      last = await ledgerNodeInfo(ctx, input);
      Context.current().heartbeat({ node: input.node, waiting: 'ledger to come up', reachable: last.reachable });
      if (last.reachable && last.mode === want && (want === 'cluster' || last.serving)) {
        return { plan, output: `${input.node} up in ${want} mode, cluster ${last.clusterId ?? '?'}, leader ${last.leader ?? 'none yet'}` };
      }
    }
    const log = await ctx.exec(input, [{ argv: ['tail', '-n', '20', ctx.setting(cluster, 'startLog')], cwd: cmd.cwd, ignoreExit: true }], 15_000).catch(() => undefined);
    throw new TransportError(
      'StartTimeout',
      `${input.node} did not come up in ${want} mode within ${ctx.setting(cluster, 'startTimeoutSeconds')} s (last: ${last.reachable ? `mode ${last.mode}, serving ${String(last.serving)}` : last.error ?? 'unreachable'})` +
        `${log ? `; ${ctx.setting(cluster, 'startLog')}: ${lastLines(log.stdout + log.stderr, 8)}` : ''}; check \`systemctl status ${ctx.setting(cluster, 'service')}\` and the log on ${input.node}`,
      false,
    );
  });
}

/** `rm -rf <data>/*` on a replacement node over SSH, so it can join without old state. */
export async function ledgerClearData(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    const dataDir = ctx.setting(cluster, 'dataDir').replace(/\/+$/, '');
    const normalized = dataDir.split('/').filter((p) => p && p !== '.');
    if (normalized.length === 0 || normalized.includes('..')) {
      throw new TransportError('BadInventory', `refusing to clear data directory ${JSON.stringify(ctx.setting(cluster, 'dataDir'))}: set settings.dataDir of ${input.cluster} to the ledger's own data directory`, false);
    }
    const sudo = ctx.setting(cluster, 'sudo');
    const argv = ctx.root(['find', dataDir, '-mindepth', '1', '-delete'], sudo);
    const plan = `${input.node}: rm -rf ${dataDir}/* (${quoteArgv(argv)})`;
    if (input.dryRun) return { dryRun: true, plan };
    if (await serviceActive(ctx, input, cluster)) {
      throw new TransportError(
        'FailedPrecondition',
        `the ledger still runs on ${input.node}: its data is not cleared while in use; stop it first (systemctl stop ${ctx.setting(cluster, 'service')})`,
        false,
      );
    }
    const probe = await ctx.exec(input, [{ argv: ctx.root(['find', dataDir, '-mindepth', '1', '-maxdepth', '1'], sudo) }], 30_000);
    if (probe.exitCode === 0 && probe.stdout.trim() === '') return { alreadyDone: true, plan, output: `${dataDir} is already empty` };
    const res = await ctx.exec(input, [{ argv }], 120_000);
    return { plan, output: ctx.check(input, res, `clearing ${dataDir}`, `check permissions on ${dataDir} (settings.sudo) on ${input.node}`) };
  });
}
