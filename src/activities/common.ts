/**
 * Activities every system uses: the SSH reachability check of the runbooks
 * (`timeout 5 ssh host "echo OK"`) and notifications to humans.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { InventoryError } from '../inventory/load';
import { lastLines, type ActivityContext } from './context';
import { TransportError } from './errors';
import { httpJson } from './http';
import type { CommonActivities, NodeRef, NotifyInput, SshCheckResult } from './types';

/** The runbook's `timeout 5 ssh host "echo OK"`. */
const SSH_CHECK_MS = 5_000;

/** The common activities of one worker. */
export function commonActivities(ctx: ActivityContext): CommonActivities {
  const { deps, exec, run } = ctx;

  async function sshCheck(ref: NodeRef): Promise<SshCheckResult> {
    return run(async () => {
      const started = Date.now();
      try {
        const res = await exec(ref, [{ argv: ['echo', 'OK'] }], SSH_CHECK_MS, SSH_CHECK_MS);
        if (res.exitCode === 0 && res.stdout.trim() === 'OK') return { node: ref.node, reachable: true, latencyMs: Date.now() - started };
        return { node: ref.node, reachable: false, error: `echo OK answered ${JSON.stringify(lastLines(res.stdout + res.stderr, 2))} (exit ${res.exitCode})` };
      } catch (err) {
        if (err instanceof CancelledFailure || err instanceof InventoryError) throw err; // an unknown node is not an unreachable one
        if (err instanceof TransportError && (err.type === 'BadInventory' || err.type === 'SecretUnavailable')) throw err;
        return { node: ref.node, reachable: false, error: err instanceof Error ? err.message : String(err) };
      }
    });
  }

  async function notify(n: NotifyInput): Promise<void> {
    return run(async () => {
      const ctx = Context.current();
      const wf = ctx.info.workflowExecution?.workflowId;
      const attrs = { cluster: n.cluster, severity: n.severity, workflowId: wf };
      const line = `[${n.severity.toUpperCase()}] ${n.subject}: ${n.text}`;
      if (n.severity === 'critical') ctx.log.error(line, attrs);
      else if (n.severity === 'warning') ctx.log.warn(line, attrs);
      else ctx.log.info(line, attrs);
      if (deps.notifyUrl) {
        await httpJson({
          url: deps.notifyUrl,
          method: 'POST',
          body: { ...n, workflowId: wf },
          timeoutMs: 10_000,
          signal: ctx.cancellationSignal,
        });
      }
    });
  }

  return { sshCheck, notify };
}
