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
import type { SignedStatement } from '../approvals';
import { UsageError, answerContext, approveGate, checkAnswer, decide, listApprovals, rejectGate, type AnswerContext } from '../client';
import type { Decision } from '../workflows/kit/defs';
import { requireFlag, table as newTable, type Context } from './context';
import { newStatement, operatorSigner, signStatement, SIGNING_KEY_ENV } from './signing';

/** What one answer names, read from the recovery: the gate or decision point, its attempt and evidence. */
interface AnswerTarget {
  target: string;
  attempt?: number;
  evidence?: string;
  /** What the operator is shown before signing. */
  shown: string[];
}

/**
 * The identity of an answer. A recovery whose approvals are signed: the
 * operator's key signs the statement (shown first, with its evidence digest)
 * and `--as`, when given, must be a principal the key may sign as. A recovery
 * approved by name (or started before signed approvals): `--as` as given.
 */
async function identify(
  ctx: Context,
  id: string,
  kind: 'approve' | 'reject' | 'decide',
  flags: { as?: string; key?: string },
  fields: { decision?: string; choice?: string; reason?: string },
  target: (ac: AnswerContext) => AnswerTarget | undefined,
): Promise<{ by: string; signed?: SignedStatement }> {
  const client = await ctx.client();
  const ac = await answerContext(client, id);
  const policy = ac.policy;
  if (policy?.mode !== 'signed') return { by: requireFlag(flags.as, '--as', 'who answers is recorded in the incident record') };
  const t = target(ac);
  // Nothing to sign for (no such gate waiting, no decision pending, the recovery ended): the request goes
  // as it is, and the workflow (or the client, for an ended recovery) refuses it with the usual reason and exit code.
  if (!t) return { by: requireFlag(flags.as, '--as', 'who answers is recorded in the incident record') };
  const signer = operatorSigner(policy, ac.progress.cluster, flags, ctx.io.env, ctx.io.cwd);
  const statementFields = {
    kind,
    namespace: ctx.config().temporal.namespace,
    workflowId: id,
    runId: ac.runId,
    cluster: ac.progress.cluster,
    target: t.target,
    ...(t.attempt !== undefined ? { attempt: t.attempt } : {}),
    decision: kind === 'decide' ? fields.decision : kind,
    ...(fields.choice !== undefined ? { choice: fields.choice } : {}),
    ...(fields.reason !== undefined ? { reason: fields.reason } : {}),
    ...(t.evidence ? { evidence: t.evidence } : {}),
    principal: signer.principal,
  };
  ctx.line(`Signing as ${signer.principal} with key ${signer.key.fingerprint} (${signer.key.type}): ${kind === 'decide' ? fields.decision : kind} "${t.target}" (attempt ${t.attempt ?? '?'}) of ${id}, run ${ac.runId}`);
  ctx.line(`  evidence ${t.evidence ?? '(none)'}:`);
  for (const l of t.shown) ctx.line(`    ${l}`);
  const signed = signStatement(policy, signer, newStatement(statementFields), { ...statementFields, reason: fields.reason, choice: fields.choice });
  return { by: signer.principal, signed };
}

/** The waiting gate an answer is about; undefined when it does not wait (the workflow then refuses the answer with the reason). */
function gateTarget(gate: string): (ac: AnswerContext) => AnswerTarget | undefined {
  return (ac) => {
    const g = ac.progress.gates.filter((x) => x.gate === gate).at(-1);
    if (!g || g.status !== 'waiting') return undefined;
    const shown = [`${g.title}${g.dangerous ? ' (DANGEROUS)' : ''}`, ...Object.entries(g.evidence).map(([k, v]) => `${k}: ${v}`), ...(g.choices?.length ? [`choices: ${g.choices.join(', ')}`] : [])];
    if ((g.required ?? 1) > 1) shown.push(`approvals: ${g.approvals?.length ?? 0} of ${g.required}${g.approvals?.length ? ` (${g.approvals.map((a) => a.by).join(', ')})` : ''}`);
    return { target: g.gate, attempt: g.attempt, evidence: g.evidenceDigest, shown };
  };
}

/** The pending decision an answer is about; undefined when none is pending (the workflow then says so). */
function decisionTarget(ac: AnswerContext): AnswerTarget | undefined {
  const d = ac.progress.pendingDecision;
  if (!d) return undefined;
  return { target: d.step, attempt: d.attempt, evidence: d.evidenceDigest, shown: [`step: ${d.step}`, `error: ${d.error}`, `choices: ${(d.choices ?? ['retry', 'skip', 'abort']).join(', ')}`] };
}

const KEY_HELP = `your SSH key, for recoveries whose approvals are signed (default $${SIGNING_KEY_ENV}; a .pub signs through the ssh-agent)`;

const DECISIONS: readonly Decision[] = ['retry', 'skip', 'abort'];

export function register(program: Command, ctx: Context): void {
  program
    .command('approvals')
    .description('list every gate waiting for a human, across all running recoveries (from visibility: no worker needed)')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }) => {
      const { approvals, unreadable } = await listApprovals(await ctx.client());
      if (flags.json) return ctx.json({ approvals, unreadable });
      if (approvals.length === 0) ctx.line('No gate is waiting for approval.');
      for (const a of approvals) {
        ctx.line(`${a.dangerous ? 'DANGEROUS ' : ''}gate ${a.gate} — ${a.title}`);
        ctx.line(`  recovery:  ${a.workflowId} (${a.scenario} on ${a.cluster}, started by ${a.startedBy})`);
        ctx.line(`  requested: ${a.requestedAt}   escalates at: ${a.deadline}`);
        if (a.required > 1 || a.approvedBy.length) ctx.line(`  approvals: ${a.approvedBy.length} of ${a.required}${a.approvedBy.length ? ` (${a.approvedBy.join(', ')})` : ''}`);
        if (Object.keys(a.evidence).length) {
          const table = newTable(ctx);
          for (const [k, v] of Object.entries(a.evidence)) table.push({ [k]: v });
          ctx.line(table.toString().replace(/^/gm, '  '));
        }
        if (a.evidenceNote) ctx.line(`  note:      ${a.evidenceNote}`);
        if (a.evidenceDigest) ctx.line(`  evidence:  ${a.evidenceDigest}`);
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
    .option('--as <name>', 'who approves (required; signed approvals: a principal your key may sign as)')
    .option('--key <path>', KEY_HELP)
    .option('--reason <text>', 'why this is safe (required)')
    .option('--confirm <cluster>', "dangerous gates: the cluster's name typed back")
    .option('--choice <option>', 'gates with options: the option picked')
    .action(async (id: string, gate: string, flags: { as?: string; key?: string; reason?: string; confirm?: string; choice?: string }) => {
      const as = requireFlag(flags.as, '--as', 'who approves is recorded in the incident record (signed: a principal your key may sign as)');
      const reason = requireFlag(flags.reason, '--reason', 'say why this is safe; it goes into the incident record');
      checkAnswer({ by: as, reason });
      const { by, signed } = await identify(ctx, id, 'approve', flags, { reason, choice: flags.choice }, gateTarget(gate));
      const g = await approveGate(await ctx.client(), id, { gate, by, reason, confirm: flags.confirm, choice: flags.choice, ...(signed ? { signed } : {}) });
      const more = g.status === 'waiting' && (g.required ?? 1) > 1 ? ` (${g.approvals?.length ?? 0} of ${g.required} approvals; the gate waits for the next)` : '';
      ctx.line(`Approved ${g.gate} on ${id} as ${by}${signed ? ' (signed)' : ''}${flags.choice ? ` (choice: ${flags.choice})` : ''}${more}. The recovery continues: lifeboat watch ${id}`);
    });

  program
    .command('reject')
    .description('reject a waiting gate (the recovery stops before the gated action)')
    .argument('<id>', 'workflow id (recovery-<cluster>)')
    .argument('<gate>', 'gate name')
    .option('--as <name>', 'who rejects (required; signed approvals: a principal your key may sign as)')
    .option('--key <path>', KEY_HELP)
    .option('--reason <text>', 'why (required)')
    .action(async (id: string, gate: string, flags: { as?: string; key?: string; reason?: string }) => {
      const as = requireFlag(flags.as, '--as', 'who rejects is recorded in the incident record (signed: a principal your key may sign as)');
      const reason = requireFlag(flags.reason, '--reason', 'say why; it goes into the incident record');
      checkAnswer({ by: as, reason });
      const { by, signed } = await identify(ctx, id, 'reject', flags, { reason }, gateTarget(gate));
      const g = await rejectGate(await ctx.client(), id, { gate, by, reason, ...(signed ? { signed } : {}) });
      ctx.line(`Rejected ${g.gate} on ${id} as ${by}${signed ? ' (signed)' : ''}. The recovery stops; see lifeboat watch ${id}`);
    });

  program
    .command('decide')
    .description('answer a step that failed after its retries: retry, skip or abort')
    .argument('<id>', 'workflow id (recovery-<cluster>)')
    .argument('<decision>', 'retry | skip | abort')
    .option('--as <name>', 'who decides (required; signed approvals: a principal your key may sign as)')
    .option('--key <path>', KEY_HELP)
    .option('--reason <text>', 'why')
    .action(async (id: string, decision: string, flags: { as?: string; key?: string; reason?: string }) => {
      if (!DECISIONS.includes(decision as Decision)) {
        throw new UsageError(`decision "${decision}" is not one of retry, skip, abort`, `lifeboat decide ${id} retry|skip|abort --as NAME`, 'decision');
      }
      const as = requireFlag(flags.as, '--as', 'who decides is recorded in the incident record (signed: a principal your key may sign as)');
      const reason = flags.reason?.trim() || undefined;
      checkAnswer({ by: as, reason });
      const { by, signed } = await identify(ctx, id, 'decide', flags, { decision, reason }, decisionTarget);
      const pending = await decide(await ctx.client(), id, { decision: decision as Decision, by, reason, ...(signed ? { signed } : {}) });
      ctx.line(`Decided ${decision} for "${pending.step}" on ${id} as ${by}${signed ? ' (signed)' : ''}. Follow it: lifeboat watch ${id}`);
    });
}
