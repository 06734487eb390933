/**
 * `lifeboat run | list | cancel | report`: starting recoveries, finding them,
 * stopping them and writing their incident record.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import {
  MAX_REASON_LENGTH,
  UsageError,
  cancelRecovery,
  checkText,
  getProgress,
  listRecoveries,
  planRecovery,
  scenarioSpec,
  startPlanned,
  type StartRequest,
} from '../client';
import { digestOf } from '../approvals';
import { renderReport } from '../report';
import type { RecoveryOptions } from '../workflows/kit/defs';
import { parseDuration, table, type Context } from './context';
import { approvalPolicy, newStatement, operatorSigner, signStatement } from './signing';
import { watchRecovery } from './watch';

/** Collects repeated `--set k=v`. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * Parses `--set` pairs into a record.
 *
 * @throws {@link UsageError} on `k` without `=`, an empty key, or a key given twice
 */
export function parseSets(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq).trim() : '';
    if (eq <= 0 || !key) {
      throw new UsageError(`--set ${pair}: expected key=value`, 'write each parameter as --set key=value, e.g. --set survivor=node1', 'set');
    }
    if (Object.prototype.hasOwnProperty.call(out, key)) {
      throw new UsageError(`--set ${key} given twice`, `keep one --set ${key}=...`, `set.${key}`);
    }
    out[key] = pair.slice(eq + 1);
  }
  return out;
}

interface RunFlags {
  cluster?: string;
  set: string[];
  dryRun?: boolean;
  as?: string;
  key?: string;
  approvalTimeout?: string;
  timeScale?: string;
  watch?: boolean;
  json?: boolean;
}

export function register(program: Command, ctx: Context): void {
  program
    .command('run')
    .description('start a recovery of one cluster (validated before anything starts)')
    .argument('<scenario>', 'scenario id (see `lifeboat scenarios`)')
    .option('--cluster <name>', 'cluster from the inventory')
    .option('--set <key=value>', 'scenario parameter (repeatable)', collect, [] as string[])
    .option('--dry-run', 'plan every effect without changing anything')
    .option('--as <name>', 'who starts the recovery (default: the principal your key signs as, else $USER)')
    .option('--key <path>', 'your SSH key, for clusters whose approvals are signed (default $LIFEBOAT_SIGNING_KEY; a .pub signs through the ssh-agent)')
    .option('--approval-timeout <duration>', 'how long a gate waits before escalating (e.g. 30m)')
    .addOption(new Option('--time-scale <factor>', 'scale stabilize/poll durations (rehearsals, tests)').hideHelp())
    .option('--watch', 'watch the recovery after starting it')
    .option('--json', 'print JSON')
    .action(async (scenario: string, flags: RunFlags) => {
      scenarioSpec(scenario); // an unknown scenario is reported before the inventory is read
      const req = runRequest(ctx, scenario, flags);
      // Validate against the inventory, and sign, before dialling Temporal.
      const plan = planRecovery(ctx.inventory(), req);
      const policy = approvalPolicy(ctx.inventory(), ctx.config().inventoryPath, req.cluster);
      plan.input.approvals = policy;
      if (policy.mode === 'signed') {
        const signer = operatorSigner(policy, req.cluster, { key: flags.key, as: flags.as }, ctx.io.env, ctx.io.cwd);
        req.startedBy = plan.input.startedBy = signer.principal;
        const fields = {
          kind: 'start' as const,
          namespace: ctx.config().temporal.namespace,
          workflowId: plan.workflowId,
          scenario: plan.spec.id,
          cluster: req.cluster,
          evidence: digestOf(plan.input.params),
          principal: signer.principal,
        };
        plan.input.startSigned = signStatement(policy, signer, newStatement(fields), { ...fields, reason: undefined, choice: undefined });
        if (!flags.json) ctx.line(`Signed the start as ${signer.principal} with key ${signer.key.fingerprint} (${signer.key.type}); approvals on ${req.cluster} are signed (${policy.source})`);
      } else if (!flags.json) {
        ctx.line(`Approvals on ${req.cluster} are by name: identity not verified (the inventory declares approvals: { mode: unsigned })`);
      }
      const client = await ctx.client();
      const started = await startPlanned(client, plan);
      const link = ctx.uiLink(started.workflowId, started.runId);
      if (flags.json) {
        ctx.json({ ...started, uiUrl: link });
      } else {
        ctx.line(`Started ${req.dryRun ? 'DRY RUN of ' : ''}${scenario} on ${req.cluster} as ${started.workflowId} (run ${started.runId})`);
        ctx.line(`  task queue: ${started.taskQueue}   started by: ${req.startedBy}`);
        ctx.line(`  Web UI:     ${link}`);
        ctx.line('Next:');
        ctx.line(`  lifeboat watch ${started.workflowId}        live progress`);
        ctx.line(`  lifeboat approvals                          gates waiting for a human`);
        ctx.line(`  lifeboat report ${started.workflowId}       incident record`);
      }
      if (flags.watch) ctx.exitCode = await watchRecovery(ctx, client, started.workflowId, { json: flags.json });
    });

  program
    .command('list')
    .description('list running recoveries (--all: also finished ones); from visibility: no worker needed')
    .option('--all', 'include finished recoveries')
    .option('--cluster <name>', 'only this cluster')
    .option('--limit <n>', 'at most this many rows', '50')
    .option('--json', 'print JSON')
    .action(async (flags: { all?: boolean; cluster?: string; limit: string; json?: boolean }) => {
      const limit = Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit ${flags.limit}: not a positive integer`, 'use e.g. --limit 20', '--limit');
      const rows = await listRecoveries(await ctx.client(), { open: !flags.all, cluster: flags.cluster, limit });
      if (flags.json) return ctx.json(rows);
      if (rows.length === 0) {
        ctx.line(flags.all ? 'No recoveries recorded.' : 'No recovery is running. (`lifeboat list --all` shows finished ones.)');
        return;
      }
      const t = table(ctx, ['workflow', 'scenario', 'status', 'step', 'approval', 'started by', 'started (UTC)', 'ended (UTC)']);
      for (const r of rows) {
        t.push([
          r.workflowId,
          r.scenario,
          r.state && r.status === 'RUNNING' ? r.state : r.status.toLowerCase(),
          r.step ?? '',
          r.awaitingApproval ? 'WAITING' : '',
          r.startedBy ?? '',
          r.startTime.replace('T', ' ').slice(0, 19),
          r.closeTime?.replace('T', ' ').slice(0, 19) ?? '',
        ]);
      }
      ctx.line(t.toString());
    });

  program
    .command('cancel')
    .description('stop a running recovery at its current step')
    .argument('<id>', 'workflow id (recovery-<cluster>)')
    .option('--reason <text>', 'why (recorded in the history)')
    .option('--as <name>', 'who cancels (default $USER)')
    .action(async (id: string, flags: { reason?: string; as?: string }) => {
      const who = ctx.who(flags.as) ?? 'unknown';
      if (flags.reason !== undefined) checkText(flags.reason.replace(/[\n\t]/g, ' '), '--reason', MAX_REASON_LENGTH, 'the reason');
      const reason = `${flags.reason?.trim() || 'cancelled from the CLI'} (by ${who})`;
      await cancelRecovery(await ctx.client(), id, reason);
      ctx.line(`Cancellation of ${id} requested: ${reason}`);
      ctx.line(`It stops at its current step; follow it with \`lifeboat watch ${id}\`.`);
    });

  program
    .command('report')
    .description('print the incident record of a recovery as Markdown')
    .argument('<id>', 'workflow id (recovery-<cluster>)')
    .option('--run <runId>', 'a specific run (default: the latest)')
    .option('--out <file>', 'write to this file instead of stdout')
    .action(async (id: string, flags: { run?: string; out?: string }) => {
      const progress = await getProgress(await ctx.client(), id, flags.run);
      const text = renderReport(progress);
      if (flags.out) {
        const file = path.resolve(ctx.io.cwd, flags.out);
        try {
          writeFileSync(file, text);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? String(err);
          throw new UsageError(
            `--out ${flags.out}: cannot write ${file} (${code})`,
            code === 'ENOENT' ? `create its directory (mkdir -p ${path.dirname(file)}) or name another file` : code === 'EISDIR' ? 'name a file in that directory, e.g. --out incident.md' : 'name a file this user can write',
            '--out',
          );
        }
        ctx.line(`Report of ${id} written to ${file}`);
      } else {
        ctx.io.out(text);
      }
    });
}

function runRequest(ctx: Context, scenario: string, flags: RunFlags): StartRequest {
  if (!flags.cluster) {
    const known = Object.keys(ctx.inventory().clusters);
    throw new UsageError('--cluster is required: which cluster to recover', `add --cluster with one of: ${known.join(', ') || '(inventory is empty)'}`, '--cluster');
  }
  // Checked by planRecovery after the scenario, cluster and parameters.
  const startedBy = ctx.who(flags.as) ?? '';
  const options: RecoveryOptions = {};
  if (flags.approvalTimeout !== undefined) options.approvalTimeout = parseDuration(flags.approvalTimeout, '--approval-timeout');
  if (flags.timeScale !== undefined) {
    const n = Number(flags.timeScale);
    if (!Number.isFinite(n) || n <= 0 || n > 1000) {
      throw new UsageError(`--time-scale ${flags.timeScale}: must be a number in (0, 1000]`, 'use e.g. --time-scale 0.01 to run waits 100× faster', '--time-scale');
    }
    options.timeScale = n;
  }
  return {
    scenario,
    cluster: flags.cluster,
    set: parseSets(flags.set),
    dryRun: flags.dryRun === true,
    startedBy,
    options: Object.keys(options).length ? options : undefined,
  };
}
