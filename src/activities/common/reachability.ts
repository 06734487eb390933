/**
 * The runbooks' reachability check, `timeout 5 ssh host "echo OK"`: a node
 * that does not answer is a finding for the workflow, not a failed activity.
 *
 * @module
 */
import { CancelledFailure } from '@temporalio/common';
import { InventoryError } from '../../inventory/load';
import { lastLines, type ActivityContext } from '../context';
import { TransportError } from '../transport/errors';
import type { NodeRef, SshCheckResult } from './types';

/** The runbook's `timeout 5 ssh host "echo OK"`. */
const SSH_CHECK_MS = 5_000;

/** `echo OK` over SSH within 5 s; unreachable is an answer, an unknown node or key is a failure. */
export async function sshCheck(ctx: ActivityContext, ref: NodeRef): Promise<SshCheckResult> {
  return ctx.run(async () => {
    const started = Date.now();
    try {
      const res = await ctx.exec(ref, [{ argv: ['echo', 'OK'] }], SSH_CHECK_MS, SSH_CHECK_MS);
      if (res.exitCode === 0 && res.stdout.trim() === 'OK') return { node: ref.node, reachable: true, latencyMs: Date.now() - started };
      return { node: ref.node, reachable: false, error: `echo OK answered ${JSON.stringify(lastLines(res.stdout + res.stderr, 2))} (exit ${res.exitCode})` };
    } catch (err) {
      if (err instanceof CancelledFailure || err instanceof InventoryError) throw err; // an unknown node is not an unreachable one
      if (err instanceof TransportError && (err.type === 'BadInventory' || err.type === 'SecretUnavailable')) throw err;
      return { node: ref.node, reachable: false, error: err instanceof Error ? err.message : String(err) };
    }
  });
}
