/**
 * The plumtree service on a node, through systemd over SSH: stop, start,
 * restart (once per step).
 *
 * @module
 */
import type { Effectful, EffectResult, NodeRef } from '../common/types';
import { TransportError } from '../transport/errors';
import { quoteArgv } from '../transport/shell';
import type { GossipContext } from './context';
import { serviceArgv, serviceState } from './host';

/** `systemctl stop|start|restart plumtree` over SSH; stop/start check first, restart runs once per step. */
export async function gossipService(ctx: GossipContext, input: NodeRef & Effectful & { action: 'stop' | 'start' | 'restart' }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster } = ctx.lookup(input);
    const service = ctx.setting(cluster, 'serviceName');
    const argv = serviceArgv(ctx, cluster, input.action);
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    const next = `check \`systemctl status ${service}\` and \`journalctl -u ${service}\` on ${input.node}`;
    const before = await serviceState(ctx, input);
    if (!before.sshReachable) throw new TransportError('Unavailable', `${input.node} does not answer over SSH (${before.error ?? '?'}); the node may need replacing`, true);
    if (input.action === 'stop' && !before.active) return { alreadyDone: true, plan, output: `${service} is not active (${before.state})` };
    if (input.action === 'start' && before.active) return { alreadyDone: true, plan, output: `${service} is already active` };
    const marker = `.lifeboat/restarts/${ctx.stableKey('gossip')}`;
    if (input.action === 'restart') {
      const seen = await ctx.exec(input, [{ argv: ['test', '-e', marker] }], 30_000);
      if (seen.exitCode === 0 && before.active) return { alreadyDone: true, plan, output: `${service} was already restarted by this step` };
    }
    const res = await ctx.exec(input, [{ argv }], 120_000);
    const output = ctx.check(input, res, quoteArgv(argv), next);
    const after = await serviceState(ctx, input);
    if (input.action !== 'stop' && !after.active) {
      throw new TransportError('StartFailed', `${service} on ${input.node} is ${after.state} after \`systemctl ${input.action}\`; ${next}`, false);
    }
    if (input.action === 'restart') await ctx.exec(input, [{ argv: ['mkdir', '-p', '.lifeboat/restarts'] }, { argv: ['touch', marker] }], 30_000);
    return { plan, output: output || `${service} ${after.state} on ${input.node}` };
  });
}
