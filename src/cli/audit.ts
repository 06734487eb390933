/**
 * `lifeboat audit <id>`: re-verifies every start, approval, rejection and
 * decision of a recovery from its history, with `ssh-keygen -Y verify`
 * (see {@link ../audit}). Exit 1 when any of them fails.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { historyFromJSON, type History } from '@temporalio/common/lib/proto-utils';
import type { Command } from 'commander';
import { auditHistory, auditPassed, renderAudit } from '../audit';
import { fetchRecoveryHistory, UsageError } from '../client';
import { dataConverterFor } from '../codec';
import type { Context } from './context';
import { allowedSignersFile } from './signing';

interface AuditFlags {
  run?: string;
  history?: string;
  allowedSigners?: string;
  json?: boolean;
}

export function register(program: Command, ctx: Context): void {
  program
    .command('audit')
    .description('re-verify every signed start, approval, rejection and decision of a recovery with ssh-keygen -Y verify')
    .argument('<id>', 'workflow id (recovery-<cluster>)')
    .option('--run <runId>', 'a specific run (default: the latest)')
    .option('--history <file>', 'audit a history file (`temporal workflow show --output json`) instead of asking Temporal')
    .option('--allowed-signers <file>', "check against this allowed-signers file (default: the one the inventory names for the recovery's cluster)")
    .option('--json', 'print the audit as JSON')
    .addHelpText('after', '\nOne line per decision: OK (signature and statement check out), FAIL (why), UNSIGNED (named only).\nExit 0 when nothing fails, 1 when something does.\n')
    .action(async (id: string, flags: AuditFlags) => {
      const history = flags.history ? readHistoryFile(ctx, flags.history) : await fetchRecoveryHistory(await ctx.client(), id, flags.run);
      const codec = await dataConverterFor(ctx.config());
      const result = await auditHistory(history, {
        workflowId: id,
        namespace: flags.history ? undefined : ctx.config().temporal.namespace,
        codecs: codec?.payloadCodecs,
        allowedSigners: (cluster) => teamSigners(ctx, cluster, flags.allowedSigners),
      });
      ctx.io.out(flags.json ? `${JSON.stringify(result, null, 2)}\n` : renderAudit(result));
      if (!auditPassed(result)) ctx.exitCode = 1;
    });
}

function readHistoryFile(ctx: Context, file: string): History {
  const full = path.resolve(ctx.io.cwd, file);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (err) {
    throw new UsageError(`--history ${file}: cannot read ${full} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, 'name a history file, e.g. from `temporal workflow show --workflow-id ID --output json > history.json`', '--history');
  }
  try {
    return historyFromJSON(JSON.parse(text));
  } catch (err) {
    throw new UsageError(`--history ${file}: not a workflow history in JSON (${(err as Error).message.split('\n')[0]})`, 'export it with `temporal workflow show --workflow-id ID --output json`', '--history');
  }
}

/** The allowed-signers file to check against: the one named, else the inventory's for the cluster (none: the recovery's own keys). */
function teamSigners(ctx: Context, cluster: string, named: string | undefined): { text: string; source: string } | undefined {
  let file: string | undefined;
  if (named) {
    file = path.resolve(ctx.io.cwd, named);
  } else {
    let inv;
    try {
      inv = ctx.inventory();
    } catch {
      return undefined;
    }
    file = allowedSignersFile(inv, ctx.config().inventoryPath, cluster);
    if (!file) return undefined;
  }
  try {
    return { text: readFileSync(file, 'utf8'), source: file };
  } catch (err) {
    throw new UsageError(`cannot read the allowed signers ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, 'name the team\'s allowed-signers file with --allowed-signers', '--allowed-signers');
  }
}
