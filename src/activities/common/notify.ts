/**
 * Telling humans: every notification goes to the worker's log, and to the
 * webhook the worker was started with (`LIFEBOAT_NOTIFY_URL`), if any.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { ActivityContext } from '../context';
import { httpJson } from '../transport/http';
import type { NotifyInput } from './types';

/** Logs the notification at its severity and POSTs it, with the workflow id, to the notification hook. */
export async function notify(ctx: ActivityContext, n: NotifyInput): Promise<void> {
  return ctx.run(async () => {
    const actx = Context.current();
    const wf = actx.info.workflowExecution?.workflowId;
    const attrs = { cluster: n.cluster, severity: n.severity, workflowId: wf };
    const line = `[${n.severity.toUpperCase()}] ${n.subject}: ${n.text}`;
    if (n.severity === 'critical') actx.log.error(line, attrs);
    else if (n.severity === 'warning') actx.log.warn(line, attrs);
    else actx.log.info(line, attrs);
    if (ctx.deps.notifyUrl) {
      await httpJson({
        url: ctx.deps.notifyUrl,
        method: 'POST',
        body: { ...n, workflowId: wf },
        timeoutMs: 10_000,
        signal: actx.cancellationSignal,
      });
    }
  });
}
