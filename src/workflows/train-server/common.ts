/**
 * Pieces the train-server scenarios share: which node is the server, the
 * restic password (asked for by reference when the server's copy is gone),
 * config.sh (from the backup, else drafted and finished by a person), and the
 * setup scripts (run with the inventory's answers, or as a human step with
 * the exact command, then verified).
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { TsCheckList, TsConfigDraft, TsResticAccess, TsSetupPlan, TsSetupRun, TsSetupScript, TsSnapshotContents } from '../../activities/train-server/types';
import { activities, approve, fact, isDryRun, note, step, type RecoveryInput } from '../kit';

/** The server's node: the one with the train-server role, else the first. */
export function serverNode(input: RecoveryInput<unknown>): string {
  const nodes = input.cluster.nodes;
  return (nodes.find((n) => n.roles.includes('train-server')) ?? nodes[0])?.name ?? 'train1';
}

/** Where the server is: its cluster and node. */
export interface At {
  cluster: string;
  node: string;
}

/** A password reference an approver may give (never the password: it is recorded). */
const PASSWORD_REF = { pattern: 'env:[A-Za-z_][A-Za-z0-9_]*|file:/[^\\s,]*', example: 'env:NAME or file:/path/on/the/worker' };

/**
 * Opens the restic repository. When no configured reference works (the
 * setup keeps the password in /root/.restic-password, on the OS disk), asks
 * an approver for a reference to it (gate `restic-password`, answered with
 * `--choice env:NAME|file:/path`) until one opens the repository.
 *
 * @returns the reference to pass to the restic activities (undefined: the inventory's works)
 */
export async function resticPassword(at: At): Promise<{ passwordRef?: string; access: TsResticAccess }> {
  const a = activities();
  let access = await step('Open the restic repository (restic snapshots)', () => a.tsResticAccess(at), {
    describe: ((x: TsResticAccess) => (x.ok ? `opens with ${x.source} (${x.snapshots} snapshot(s))` : `no password works: ${x.tried.join('; ')}`)) as never,
  });
  let passwordRef: string | undefined;
  for (let attempt = 1; !access.ok; attempt++) {
    if (isDryRun()) {
      note('Dry run: the restic password would be asked for (gate restic-password)');
      return { access };
    }
    if (attempt > 3) throw ApplicationFailure.nonRetryable(`no password opened the restic repository after ${attempt - 1} answers: ${access.tried.join('; ')}`, 'PasswordUnavailable');
    const answer = await approve('restic-password', {
      title: 'Give a reference to the restic repository password (it was kept on the server, which lost it)',
      evidence: {
        tried: access.tried.join('; '),
        'where it was': '/root/.restic-password on the OS disk (09-setup-backups.sh writes it there; at HEAD it is also RESTIC_PASSWORD in config.sh)',
        'answer with': `--choice ${PASSWORD_REF.example}: where the worker reads it; never the password itself`,
      },
      choiceFormat: PASSWORD_REF,
    });
    passwordRef = answer.choice;
    access = await step(`Open the restic repository with ${passwordRef ?? '?'}`, () => a.tsResticAccess({ ...at, ...(passwordRef ? { passwordRef } : {}) }), {
      describe: ((x: TsResticAccess) => (x.ok ? `opens (${x.snapshots} snapshot(s))` : `refused: ${x.tried.join('; ')}`)) as never,
    });
  }
  fact('restic password', `from ${access.source ?? passwordRef ?? '?'}`);
  return { ...(passwordRef ? { passwordRef } : {}), access };
}

/**
 * config.sh for the new OS: restored from the snapshot when it was backed up;
 * otherwise drafted from config.sh.example with what is known, finished by a
 * person (gate `recreate-config`), then checked.
 */
export async function restoreConfig(at: At, contents: TsSnapshotContents | undefined, snapshot: { id: string; shortId: string } | undefined, passwordRef: string | undefined): Promise<string> {
  const a = activities();
  if (contents?.config && snapshot) {
    const path = contents.config;
    await step(`Copy config.sh from backup ${snapshot.shortId} (restic restore, ${path})`, () => a.tsResticRestore({ ...at, snapshot: snapshot.id, what: 'config', path, ...(passwordRef ? { passwordRef } : {}) }), { onFailure: 'ask' });
    return `restored from backup ${snapshot.shortId}`;
  }
  note(snapshot ? `Backup ${snapshot.shortId} holds no config.sh (the backup script does not back it up): it is recreated from config.sh.example` : 'No backup to take config.sh from: it is recreated from config.sh.example');
  const draft = await step('Draft config.sh from config.sh.example with what is known', () => a.tsConfigDraft(at), {
    onFailure: 'ask',
    describe: ((d: TsConfigDraft) => `${d.draft}: filled ${Object.keys(d.filled).join(', ') || 'nothing'}; left ${d.left.join(', ') || 'nothing'}`) as never,
  });
  await approve('recreate-config', {
    title: `Finish config.sh on ${at.node} from Lifeboat's draft, then approve`,
    evidence: {
      draft: draft?.draft ?? 'config.sh.lifeboat-draft',
      'filled in': Object.entries(draft?.filled ?? {}).map(([k, v]) => `${k}="${v}"`).join('; ') || 'nothing',
      'left for you': `${(draft?.left ?? []).join(', ') || 'nothing'} (RESTIC_PASSWORD is the repository password; passwords and tokens are never written by Lifeboat)`,
      command: `cd ${draft?.draft.replace(/\/[^/]*$/, '') ?? '<repo>'} && $EDITOR config.sh.lifeboat-draft && mv config.sh.lifeboat-draft config.sh`,
      'then Lifeboat checks': 'config.sh parses, MOUNT_POINT is the array, USERS is set, RESTIC_PASSWORD is no placeholder',
    },
  });
  await step('Check config.sh (bash -n, MOUNT_POINT, USERS, RESTIC_PASSWORD)', async () => {
    const c = await a.tsConfigCheck(at);
    if (!c.ok && !isDryRun()) throw ApplicationFailure.retryable(failed(c), 'ConfigIncomplete');
    return c;
  }, { onFailure: 'ask', describe: ((c: TsCheckList) => c.checks.map((x) => `${x.name}: ${x.ok ? 'ok' : x.detail}`).join('; ')) as never });
  return 'recreated from config.sh.example (a person finished it)';
}

const failed = (c: TsCheckList): string => c.checks.filter((x) => !x.ok).map((x) => `${x.name}: ${x.detail}`).join('; ');

/** The gate name of a setup script's human step. */
export function byHandGate(script: string): string {
  return `by-hand-${script.replace(/\.sh$/, '')}`;
}

/**
 * The setup plan: the configured scripts must all be in the checkout (the
 * numbering changed between versions of the repository).
 */
export async function setupPlan(at: At): Promise<TsSetupPlan> {
  const plan = await step('Read the setup plan (settings.setupScripts, the checkout\'s scripts/)', () => activities().tsSetupPlan(at), {
    describe: ((p: TsSetupPlan) => `${p.scripts.length} script(s): ${p.scripts.map((s) => `${s.name}${s.prompts.length ? ` (${s.answered.length}/${s.prompts.length} answered${s.human ? ', needs a person' : ''})` : ''}`).join(', ')}`) as never,
  });
  const missing = plan.scripts.filter((s) => !s.present);
  if (missing.length && !isDryRun()) {
    throw ApplicationFailure.nonRetryable(
      `settings.setupScripts names ${missing.map((s) => s.name).join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not in ${plan.repoDir}/scripts (it has ${plan.unlisted.join(', ') || 'no other script'}): set settings.setupScripts to the checkout's names, in order`,
      'SetupScriptsMismatch',
    );
  }
  return plan;
}

/**
 * Runs one setup script. When it stops at a question nobody answered, the
 * run becomes a human step: the gate `by-hand-<script>` shows the exact
 * command and waits for the operator's "done", then what the script leaves
 * behind is checked before going on.
 */
export async function runSetupScript(at: At, s: TsSetupScript, opts: { confirmDestroy?: boolean; oldArrayUuid?: string; title?: string } = {}): Promise<'ran' | 'by hand' | 'skipped'> {
  const a = activities();
  const run = await step(opts.title ?? `Run ${s.name}${s.answered.length ? ` (${s.answered.length} answer(s) from the inventory)` : ''}`, () =>
    a.tsSetupScript({ ...at, script: s.name, ...(opts.confirmDestroy ? { confirmDestroy: true } : {}), ...(opts.oldArrayUuid ? { oldArrayUuid: opts.oldArrayUuid } : {}) }),
  { onFailure: 'ask', describe: ((r: TsSetupRun) => (r.outcome === 'prompt' ? `stopped at "${r.prompt ?? '?'}": a person runs it` : 'completed')) as never });
  if (!run) return 'skipped';
  if (run.outcome !== 'prompt') return 'ran';
  await approve(byHandGate(s.name), {
    title: `Run ${s.name} on ${at.node} by hand, then approve`,
    evidence: {
      command: run.command,
      'it asks': run.prompt ?? '?',
      why: s.human ?? 'a question settings.setupAnswers does not answer',
      'then Lifeboat checks': s.checks.join('; ') || 'nothing it knows of: your word is recorded',
    },
  });
  await step(`Check what ${s.name} left behind`, async () => {
    const c = await a.tsSetupVerify({ ...at, script: s.name });
    if (!c.ok && !isDryRun()) throw ApplicationFailure.retryable(`${s.name} did not complete: ${failed(c)}`, 'SetupIncomplete');
    return c;
  }, { onFailure: 'ask', describe: ((c: TsCheckList) => c.checks.map((x) => `${x.name}: ${x.ok ? 'ok' : x.detail}`).join('; ')) as never });
  return 'by hand';
}

/** Runs the plan's scripts in order but the storage and test scripts; returns what ran by hand. */
export async function runSetupScripts(at: At, plan: TsSetupPlan): Promise<string[]> {
  const byHand: string[] = [];
  for (const s of plan.scripts) {
    if (s.role === 'storage' || s.role === 'tests') continue;
    if ((await runSetupScript(at, s)) === 'by hand') byHand.push(s.name);
  }
  return byHand;
}
