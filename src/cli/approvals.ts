/**
 * `lifeboat approvals | approve | reject | decide`: the human side of a
 * recovery. Identity and reason are checked here before any network call;
 * everything else (which gate waits, the confirmation of a dangerous gate,
 * the choice) is decided by the workflow's validator, whose refusal is
 * printed verbatim.
 *
 * @module
 */
import type { Command } from 'commander';
import { UsageError, approveGate, checkAnswer, decide, listApprovals, rejectGate } from '../client';
import type { Decision } from '../workflows/kit/defs';
import { requireFlag, table as newTable, type Context } from './context';

const DECISIONS: readonly Decision[] = ['retry', 'skip', 'abort'];

export function register(program: Command, ctx: Context): void {
  program
    .command('approvals')
    .description('list every gate waiting for a human, across all running recoveries')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const { approvals, unreadable } = await listApprovals(await ctx.client());
      if (flags.json) return ctx.json({ approvals, unreadable });
      if (approvals.length === 0) ctx.line('No gate is waiting for approval.');
      for (const a of approvals) {
        ctx.line(`${a.dangerous ? 'DANGEROUS ' : ''}gate ${a.gate} — ${a.title}`);
        ctx.line(`  recovery:  ${a.workflowId} (${a.scenario} on ${a.cluster}, started by ${a.startedBy})`);
        ctx.line(`  requested: ${a.requestedAt}   escalates at: ${a.deadline}`);
        if (Object.keys(a.evidence).length) {
          const table = newTable(ctx);
          for (const [k, v] of Object.entries(a.evidence)) table.push({ [k]: v });
          ctx.line(table.toString().replace(/^/gm, '  '));
        }
        if (a.choices?.length) ctx.line(`  choices:   ${a.choices.join(', ')}`);
        ctx.line(`  approve:   ${a.approveCommand}`);
        ctx.line(`  reject:    ${a.rejectCommand}`);
        ctx.line();
      }
      for (const u of unreadable) ctx.io.err(`warning: ${u.workflowId} awaits approval but its gates could not be read: ${u.error}\n`);
    });

  program
    .command('approve')
    .description('approve a waiting gate')
    .argument('<id>', 'workflow id (recovery-<cluster>)')
    .argument('<gate>', 'gate name (see `lifeboat approvals`)')
    .option('--as <name>', 'who approves (required)')
    .option('--reason <text>', 'why this is safe (required)')
    .option('--confirm <cluster>', "dangerous gates: the cluster's name typed back")
    .option('--choice <option>', 'gates with options: the option picked')
    .action(async (id: string, gate: string, flags: { as?: string; reason?: string; confirm?: string; choice?: string }) => {
      const by = requireFlag(flags.as, '--as', 'who approves is recorded in the incident record');
      const reason = requireFlag(flags.reason, '--reason', 'say why this is safe; it goes into the incident record');
      checkAnswer({ by, reason });
      const g = await approveGate(await ctx.client(), id, { gate, by, reason, confirm: flags.confirm, choice: flags.choice });
      ctx.line(`Approved ${g.gate} on ${id} as ${by}${flags.choice ? ` (choice: ${flags.choice})` : ''}. The recovery continues: lifeboat watch ${id}`);
    });

  program
    .command('reject')
    .description('reject a waiting gate (the recovery stops before the gated action)')
    .argument('<id>', 'workflow id (recovery-<cluster>)')
    .argument('<gate>', 'gate name')
    .option('--as <name>', 'who rejects (required)')
    .option('--reason <text>', 'why (required)')
    .action(async (id: string, gate: string, flags: { as?: string; reason?: string }) => {
      const by = requireFlag(flags.as, '--as', 'who rejects is recorded in the incident record');
      const reason = requireFlag(flags.reason, '--reason', 'say why; it goes into the incident record');
      checkAnswer({ by, reason });
      const g = await rejectGate(await ctx.client(), id, { gate, by, reason });
      ctx.line(`Rejected ${g.gate} on ${id} as ${by}. The recovery stops; see lifeboat watch ${id}`);
    });

  program
    .command('decide')
    .description('answer a step that failed after its retries: retry, skip or abort')
    .argument('<id>', 'workflow id (recovery-<cluster>)')
    .argument('<decision>', 'retry | skip | abort')
    .option('--as <name>', 'who decides (required)')
    .option('--reason <text>', 'why')
    .action(async (id: string, decision: string, flags: { as?: string; reason?: string }) => {
      if (!DECISIONS.includes(decision as Decision)) {
        throw new UsageError(`decision "${decision}" is not one of retry, skip, abort`, `lifeboat decide ${id} retry|skip|abort --as NAME`, 'decision');
      }
      const by = requireFlag(flags.as, '--as', 'who decides is recorded in the incident record');
      checkAnswer({ by, reason: flags.reason });
      const pending = await decide(await ctx.client(), id, { decision: decision as Decision, by, reason: flags.reason?.trim() || undefined });
      ctx.line(`Decided ${decision} for "${pending.step}" on ${id} as ${by}. Follow it: lifeboat watch ${id}`);
    });
}
