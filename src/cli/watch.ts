/**
 * `lifeboat watch <id>`: the live view of one recovery. On a terminal it
 * redraws about once a second (steps with status and duration, the current
 * wait with time left, a waiting gate with the exact approve command, the
 * RTO budget as a bar); into a pipe or file it prints only what changed.
 * It returns when the recovery closes: 0 completed, 1 failed or aborted.
 *
 * @module
 */
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { approvalCommands, describeRecovery, getProgress, NotFoundError, OperationFailedError } from '../client';
import { durationText } from '../report';
import type { Progress, StepRecord } from '../workflows/kit/defs';
import type { Context } from './context';

const ICONS: Record<StepRecord['status'], string> = {
  running: '▶',
  succeeded: '✔',
  failed: '✖',
  skipped: '↷',
  continued: '⚠',
  'dry-run': '◌',
};

/** Exit code of a closed recovery: 0 completed, 1 anything else. */
function exitCodeOf(progressStatus: string | undefined, temporalStatus: string): number {
  if (progressStatus === 'completed') return 0;
  if (progressStatus === 'failed' || progressStatus === 'aborted') return 1;
  return temporalStatus === 'COMPLETED' ? 0 : 1;
}

/**
 * Renders the live view of a recovery as lines (no colours, so it reads the
 * same in a log).
 *
 * @param now the client's clock, for time left and running durations
 */
export function renderWatch(p: Progress, workflowId: string, now: number = Date.now()): string[] {
  const lines: string[] = [];
  lines.push(`${p.dryRun ? '[DRY RUN] ' : ''}${p.title}`);
  lines.push(`${workflowId} on ${p.cluster} — ${p.status.toUpperCase()} — started by ${p.startedBy} at ${p.startedAt.slice(11, 19)} UTC`);
  lines.push(rtoBar(p));
  lines.push('');
  const width = Math.min(60, Math.max(10, ...p.steps.map((s) => s.title.length)));
  for (const s of p.steps) {
    const end = s.endedAt ? Date.parse(s.endedAt) : now;
    const took = durationText(end - Date.parse(s.startedAt)) + (s.endedAt ? '' : '…');
    const attempts = s.attempts > 1 ? ` (${s.attempts} attempts)` : '';
    const title = s.title.length > width ? `${s.title.slice(0, width - 1)}…` : s.title.padEnd(width);
    lines.push(` ${ICONS[s.status] ?? '?'} ${String(s.id).padStart(2)} ${title}  ${took.padStart(10)}${attempts}`);
    if (s.targets) {
      const counts: Record<string, number> = {};
      for (const v of Object.values(s.targets)) counts[v] = (counts[v] ?? 0) + 1;
      lines.push(`        targets: ${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(', ')}`);
    }
    if (s.error && s.status !== 'succeeded') lines.push(`        error: ${s.error.split('\n')[0]}`);
  }
  if (p.steps.length === 0) lines.push(' (no step yet)');
  lines.push('');
  if (p.wait) {
    const left = p.wait.until ? Date.parse(p.wait.until) - now : undefined;
    lines.push(`Waiting (${p.wait.kind}): ${p.wait.title}${left !== undefined ? ` — ${left > 0 ? `${durationText(left)} left` : 'due now'}` : ''}`);
  }
  for (const g of p.gates.filter((x) => x.status === 'waiting')) {
    const left = Date.parse(g.deadline) - now;
    lines.push(`APPROVAL NEEDED${g.dangerous ? ' (DANGEROUS)' : ''}: ${g.gate} — ${g.title}`);
    for (const [k, v] of Object.entries(g.evidence)) lines.push(`    ${k}: ${v}`);
    lines.push(`    escalates in ${left > 0 ? durationText(left) : 'now'}`);
    const cmds = approvalCommands(workflowId, p.cluster, g);
    lines.push(`    approve: ${cmds.approve}`);
    lines.push(`    reject:  ${cmds.reject}`);
  }
  if (p.pendingDecision) {
    lines.push(`STEP FAILED, DECISION NEEDED: ${p.pendingDecision.step}: ${p.pendingDecision.error}`);
    lines.push(`    lifeboat decide ${workflowId} ${(p.pendingDecision.choices ?? ['retry', 'skip', 'abort']).join('|')} --as NAME --reason "TEXT"`);
  }
  if (p.outcome) lines.push(`Outcome: ${p.outcome}`);
  return lines;
}

/** "RTO [#######-------------] 6 min 12 s / 10 min target (max 15 min)" */
export function rtoBar(p: Progress, width = 30): string {
  const elapsed = p.endedAt ? Date.parse(p.endedAt) - Date.parse(p.startedAt) : p.elapsedMs;
  const budget = (p.rto.targetMinutes > 0 ? p.rto.targetMinutes : p.rto.maxMinutes) * 60_000;
  const ratio = budget > 0 ? Math.min(1, elapsed / budget) : 0;
  const filled = Math.round(ratio * width);
  const over = p.rto.maxCrossedAt ? '  MAXIMUM CROSSED' : p.rto.targetCrossedAt ? '  TARGET CROSSED' : '';
  const target = p.rto.targetMinutes > 0 ? `${p.rto.targetMinutes} min target` : 'automatic target';
  return `RTO [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${durationText(elapsed)} / ${target} (max ${p.rto.maxMinutes} min)${over}`;
}

/** Progress without the ever-moving clock, to detect real changes. */
function fingerprint(p: Progress): string {
  return JSON.stringify({ ...p, elapsedMs: 0 });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Follows a recovery until it closes (or once).
 *
 * @returns exit code: 0 completed, 1 failed/aborted, 130 interrupted (Ctrl-C)
 */
export async function watchRecovery(
  ctx: Context,
  client: Client,
  workflowId: string,
  opts: { once?: boolean; json?: boolean; intervalMs?: number } = {},
): Promise<number> {
  const interval = opts.intervalMs ?? 1000;
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  let drawn = 0;
  let lastPrint = '';
  let lastTimeline = 0;
  let lastStatus = '';
  let noWorkerSince: number | undefined;
  const live = ctx.io.isTTY && !opts.json && !opts.once;

  const draw = (lines: string[]): void => {
    // Move up over the previous frame and clear to the end of the screen.
    const prefix = drawn > 0 ? `\x1b[${drawn}A\x1b[0J` : '';
    ctx.io.out(`${prefix}${lines.join('\n')}\n`);
    // A line longer than the terminal wraps onto several rows; count rows, not lines.
    const cols = ctx.io.columns && ctx.io.columns > 0 ? ctx.io.columns : Infinity;
    drawn = lines.reduce((n, l) => n + Math.max(1, Math.ceil([...l].length / cols)), 0);
  };

  try {
    for (;;) {
      const d = await describeRecovery(client, workflowId);
      const closed = d.status !== 'RUNNING';
      let p: Progress | undefined;
      try {
        p = await getProgress(client, workflowId, d.runId, { timeoutMs: closed ? 10_000 : 5_000 });
        noWorkerSince = undefined;
      } catch (err) {
        if (err instanceof NotFoundError) throw err;
        if (!(err instanceof OperationFailedError)) throw err;
        noWorkerSince ??= Date.now();
        if (closed || opts.once) {
          // A closed recovery's progress needs a worker to replay it; its status does not.
          const msg = `${workflowId} is ${d.status.toLowerCase()} (progress unavailable: no worker answers queries; start one with \`lifeboat worker\`)`;
          if (opts.json) ctx.json({ workflowId, status: d.status, progress: null });
          else ctx.line(msg);
          return exitCodeOf(undefined, d.status);
        }
        const msg = `${workflowId}: ${d.status.toLowerCase()}, at step ${d.step ?? '?'} — no worker answers (for ${durationText(Date.now() - noWorkerSince)}); start one with \`lifeboat worker\``;
        if (live) draw([msg]);
        else if (msg.split('(for')[0] !== lastPrint.split('(for')[0]) ctx.line(msg);
        lastPrint = msg;
      }

      if (p) {
        if (opts.json) {
          const fp = fingerprint(p);
          if (fp !== lastPrint || opts.once) ctx.io.out(`${JSON.stringify({ workflowId, runId: d.runId, temporalStatus: d.status, progress: p })}\n`);
          lastPrint = fp;
        } else if (live || opts.once) {
          draw(renderWatch(p, workflowId));
        } else {
          // Pipe or file: the timeline's new entries and status changes only.
          if (lastTimeline === 0 && lastStatus === '') ctx.line(`${p.title} — ${workflowId} on ${p.cluster}${p.dryRun ? ' (dry run)' : ''}`);
          for (const e of p.timeline.slice(lastTimeline)) ctx.line(`${e.at.slice(11, 19)} ${e.text}`);
          lastTimeline = p.timeline.length;
          const status = `${p.status}|${p.gates.filter((g) => g.status === 'waiting').map((g) => g.gate).join(',')}|${p.pendingDecision?.step ?? ''}`;
          if (status !== lastStatus) {
            ctx.line(`status: ${p.status}${p.currentStep ? ` — ${p.currentStep}` : ''}`);
            for (const g of p.gates.filter((x) => x.status === 'waiting')) ctx.line(`  approval needed: ${approvalCommands(workflowId, p.cluster, g).approve}`);
            if (p.pendingDecision) ctx.line(`  decision needed: lifeboat decide ${workflowId} ${(p.pendingDecision.choices ?? ['retry', 'skip', 'abort']).join('|')} --as NAME`);
          }
          lastStatus = status;
        }
        if (closed || opts.once) {
          if (closed && !opts.json) ctx.line(`Recovery ${p.status}. Incident record: lifeboat report ${workflowId}`);
          return closed ? exitCodeOf(p.status, d.status) : 0;
        }
      }
      await sleep(interval, abort.signal);
      if (abort.signal.aborted) {
        ctx.line(`Stopped watching; the recovery goes on. Resume with \`lifeboat watch ${workflowId}\`.`);
        return 130;
      }
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
}

export function register(program: Command, ctx: Context): void {
  program
    .command('watch')
    .description('follow a recovery live until it ends (exit 0 completed, 1 failed/aborted)')
    .argument('<id>', 'workflow id (recovery-<cluster>)')
    .option('--once', 'print the current state once and return')
    .option('--json', 'print JSON lines (one per change)')
    .action(async (id: string, flags: { once?: boolean; json?: boolean }) => {
      ctx.exitCode = await watchRecovery(ctx, await ctx.client(), id, flags);
    });
}
