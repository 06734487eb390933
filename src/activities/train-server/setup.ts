/**
 * The repository's setup scripts (ptrkhh/on-prem-training): which run, what
 * each asks, the answers the inventory gives, and what each leaves behind.
 *
 * The scripts run `set -euo pipefail` and ask with `read -p`. Over SSH stdin
 * is closed: a bare `read` fails and the script exits at its first question,
 * but one inside `if validate_yes_no ...` (errexit is off in a condition)
 * loops forever on the empty answer. So every script runs with a prompt
 * guard ({@link PROMPT_GUARD}, through `BASH_ENV`): a bash function that
 * takes `read -p` questions, answers those the inventory answers
 * (`settings.setupAnswers`, matched by the start of the question), and ends
 * the script at the first one nobody answered, naming it. The activity then
 * reports `prompt` with the exact command a person runs: a question never
 * hangs an activity and never looks like a failed step.
 *
 * @module
 */
import type { NodeRef } from '../common/types';
import { lastLines } from '../context';
import { TransportError } from '../transport/errors';
import { quoteArgv } from '../transport/shell';
import type { TrainServerContext } from './context';
import { guard } from './devices';
import { env, read, sh, type TsEnv } from './host';
import { mountOptions } from './storage';
import type { TsCheckList, TsSetupPlan, TsSetupRun, TsSetupScript } from './types';

/** A setup script's file name: `NN-name.sh` (`01b-…` at 5a02c9d). */
export const SCRIPT_NAME = /^\d\d[a-z]?-[a-z0-9-]+\.sh$/;

interface Known {
  role?: TsSetupScript['role'];
  prompts: string[];
  human?: string;
  /** Files it writes (the repository's code at HEAD). */
  creates: string[];
}

/**
 * What Lifeboat knows of each script, by its name without the number (the
 * numbering changed between 5a02c9d and HEAD): its questions and files, from
 * the repository's code at HEAD (fc7610c).
 */
export const KNOWN_SCRIPTS: Record<string, Known> = {
  'validate-config': { role: 'validate', prompts: [], creates: [] },
  'setup-storage': { role: 'storage', prompts: ["Type 'YES' to continue: ", 'Do you want to recreate it? This will DESTROY all data on this partition! (yes/no): '], creates: [] },
  'setup-gdrive-shared': {
    prompts: ['Reconfigure? (y/n): ', 'Press Enter to continue...', 'Continue anyway? (yes/no): '],
    human: "rclone config: Google's OAuth login in a browser, for the Shared Drive remote",
    creates: ['/etc/systemd/system/gdrive-shared.service'],
  },
  'setup-shared-caches': { prompts: [], creates: ['/opt/cache-env.sh'] },
  'setup-users': { prompts: ['Continue anyway? (yes/no): '], creates: ['/etc/ssh/sshd_config.d/ml-train-server.conf', '/etc/cron.daily/check-user-quotas'] },
  'setup-docker': { prompts: ['Reboot now? (y/n): ', 'Configure GPU time-slicing for shared access? (y/n): '], creates: ['/etc/docker/daemon.json'] },
  'setup-cloudflare-tunnel': {
    prompts: ['Press Enter to continue with authentication...', 'Do you want to proceed? (yes/no): '],
    human: 'cloudflared tunnel login: the Cloudflare login in a browser (or cert.pem copied in from another machine)',
    creates: ['/root/.cloudflared/config.yml'],
  },
  'setup-firewall': {
    prompts: ['Continue with UFW reset? (yes/no): ', 'Allow local network access? (y/n): ', 'Enter local network CIDR (e.g., 192.168.1.0/24): ', 'Install auditd for security auditing? (y/n): '],
    creates: ['/etc/fail2ban/jail.local'],
  },
  'setup-monitoring': { prompts: ['Do you want to configure Telegram alerts? (y/n): ', 'Bot Token: ', 'Chat ID: ', 'Do you have a UPS connected via USB? (y/n): '], creates: ['/etc/cron.d/ml-monitoring'] },
  'setup-backups': { prompts: ['Do you want to set up healthchecks.io monitoring? (y/n): ', 'Ping URL: ', 'Run initial backup test now? (y/n): '], creates: ['/etc/cron.d/restic-backup'] },
  'setup-data-pipeline': {
    prompts: ['Have you already configured rclone? (y/n): ', 'Also create systemd service/timer? (y/n): ', 'Set up healthchecks.io for data sync monitoring? (y/n): ', 'Ping URL: ', 'Run test sync now? (y/n): '],
    creates: ['/etc/cron.d/customer-data-sync'],
  },
  'run-tests': { role: 'tests', prompts: [], creates: [] },
};

/** What Lifeboat knows of a script, by its name. */
export function knownScript(name: string): Known | undefined {
  return KNOWN_SCRIPTS[name.replace(/^\d\d[a-z]?-/, '').replace(/\.sh$/, '')];
}

/** The role of a script: by the catalogue, else by its name. */
function roleOf(name: string): TsSetupScript['role'] {
  return knownScript(name)?.role ?? (/-setup-storage\.sh$/.test(name) ? 'storage' : /-run-tests\.sh$/.test(name) ? 'tests' : /-validate-config\.sh$/.test(name) ? 'validate' : undefined);
}

/** The confirmation 01-setup-storage.sh asks before it destroys the disks; answered only after the dangerous gate. */
export const DESTROY_CONFIRMATION = { "Type 'YES' to continue": 'YES' };

/**
 * The prompt guard, sourced by the scripts' bash through `BASH_ENV`. A
 * `read` without `-p` is bash's own. A `read -p QUESTION` is answered from
 * `$LIFEBOAT_ANSWERS` (lines `<start of question>\t<answer>`; the answer is
 * fed to bash's own `read` with the script's other options, so `-r`, `-a`
 * and variable names keep their meaning), or ends the script: it prints
 * `LIFEBOAT-PROMPT: <question>` and terminates the script's shell. After 40
 * questions (an answer a y/n loop keeps refusing) it stops too.
 */
export const PROMPT_GUARD = [
  '# Lifeboat prompt guard (BASH_ENV): answers read -p questions from $LIFEBOAT_ANSWERS, stops at the first unanswered one.',
  '__lifeboat_asked=0',
  'read() {',
  '  local __q="" __i __a=("$@") __rest=()',
  '  for ((__i = 0; __i < ${#__a[@]}; __i++)); do',
  '    if [[ ${__a[__i]} == -p ]]; then __q=${__a[__i+1]-}; __i=$((__i + 1)); else __rest+=("${__a[__i]}"); fi',
  '  done',
  '  if [[ -z $__q ]]; then builtin read "$@"; return; fi',
  '  __lifeboat_asked=$((__lifeboat_asked + 1))',
  '  if [[ $__lifeboat_asked -le 40 && -n ${LIFEBOAT_ANSWERS:-} && -r $LIFEBOAT_ANSWERS ]]; then',
  '    local __k __v',
  '    while IFS=$\'\\t\' builtin read -r __k __v; do',
  '      if [[ -n $__k && $__q == "$__k"* ]]; then',
  '        printf \'%s%s\\n\' "$__q" "$__v" >&2',
  '        builtin read "${__rest[@]}" <<< "$__v"',
  '        return',
  '      fi',
  '    done < "$LIFEBOAT_ANSWERS"',
  '  fi',
  '  printf \'LIFEBOAT-PROMPT: %s\\n\' "$__q" >&2',
  '  kill -s TERM $$ 2>/dev/null',
  '  exit 75',
  '}',
  '',
].join('\n');

/** Parses settings.setupAnswers: `{ "<script>": { "<question start>": "<answer>" } }`. */
export function parseAnswers(text: string, cluster: string): Record<string, Record<string, string>> {
  if (!text.trim()) return {};
  const bad = (why: string): TransportError =>
    new TransportError('InvalidArgument', `settings.setupAnswers of cluster ${cluster} ${why}; write it as JSON: {"07-setup-firewall.sh": {"Continue with UFW reset?": "yes"}}`, false);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw bad(`is not JSON (${(err as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad('is not an object of scripts');
  for (const [script, qa] of Object.entries(v as Record<string, unknown>)) {
    if (!SCRIPT_NAME.test(script)) throw bad(`names "${script}", not a setup script (NN-name.sh)`);
    if (!qa || typeof qa !== 'object' || Array.isArray(qa)) throw bad(`gives ${script} no object of questions`);
    for (const [q, a] of Object.entries(qa as Record<string, unknown>)) {
      if (typeof a !== 'string' || /[\t\n]/.test(a) || /[\t\n]/.test(q) || !q.trim()) throw bad(`has a bad answer for ${script}: "${q}" (one-line strings only)`);
    }
  }
  return v as Record<string, Record<string, string>>;
}

function scriptNames(ctx: TrainServerContext, e: TsEnv, cluster: string): string[] {
  const names = ctx
    .setting(e.cluster, 'setupScripts')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) if (!SCRIPT_NAME.test(n)) throw new TransportError('InvalidArgument', `settings.setupScripts of cluster ${cluster} names "${n}": not a setup script (NN-name.sh, e.g. 04-setup-users.sh)`, false);
  return names;
}

/** The setup scripts to run (settings.setupScripts, HEAD's by default), what each asks and what the inventory answers. */
export async function tsSetupPlan(ctx: TrainServerContext, ref: NodeRef): Promise<TsSetupPlan> {
  return ctx.run(async () => {
    const e = env(ctx, ref);
    const names = scriptNames(ctx, e, ref.cluster);
    const answers = parseAnswers(ctx.setting(e.cluster, 'setupAnswers'), ref.cluster);
    const ls = await read(ctx, ref, ['find', `${e.repo}/scripts`, '-maxdepth', '1', '-name', '*.sh']);
    const present = ls.stdout.split('\n').map((l) => l.trim().split('/').at(-1) ?? '').filter((n) => SCRIPT_NAME.test(n));
    const scripts: TsSetupScript[] = names.map((name) => {
      const k = knownScript(name);
      const role = roleOf(name);
      const checks = [...(k?.creates ?? []).map((f) => `${f} exists`), ...(role === 'storage' ? ['the array is mounted and in /etc/fstab'] : []), ...(role === 'tests' || role === 'validate' ? [`${name} exits 0`] : [])];
      return { name, ...(role ? { role } : {}), prompts: k?.prompts ?? [], answered: Object.keys(answers[name] ?? {}), ...(k?.human ? { human: k.human } : {}), checks, present: present.includes(name) };
    });
    return { repoDir: ctx.setting(e.cluster, 'repoDir'), scripts, unlisted: present.filter((n) => !names.includes(n)).sort() };
  });
}

/** Writes the guard and the answers for one run; returns their absolute paths on the host. */
async function installGuard(ctx: TrainServerContext, ref: NodeRef, script: string, answers: Record<string, string>): Promise<{ guardFile: string; answersFile: string }> {
  const res = await sh(ctx, ref, [{ argv: ['mkdir', '-p', '.lifeboat/answers'] }, { argv: ['tee', '.lifeboat/prompt-guard.sh'] }, { argv: ['pwd'] }], 30_000, PROMPT_GUARD);
  ctx.check(ref, res, 'installing the prompt guard', `check that the SSH user's home on ${ref.node} is writable (.lifeboat/)`);
  const home = res.stdout.trim().split('\n').at(-1)!;
  const tsv = Object.entries(answers).map(([q, a]) => `${q}\t${a}\n`).join('');
  const w = await sh(ctx, ref, [{ argv: ['tee', `.lifeboat/answers/${script}.tsv`] }], 30_000, tsv);
  ctx.check(ref, w, 'writing the answers', `check that the SSH user's home on ${ref.node} is writable (.lifeboat/)`);
  return { guardFile: `${home}/.lifeboat/prompt-guard.sh`, answersFile: `${home}/.lifeboat/answers/${script}.tsv` };
}

/**
 * Runs a script under the prompt guard with the given answers. Exit 0:
 * `done`; stopped at a question: `prompt`; anything else fails the step.
 */
export async function runScript(ctx: TrainServerContext, ref: NodeRef, e: TsEnv, script: string, answers: Record<string, string>, plan: string, command: string): Promise<TsSetupRun> {
  const { guardFile, answersFile } = await installGuard(ctx, ref, script, answers);
  const argv = e.as(['env', `BASH_ENV=${guardFile}`, `LIFEBOAT_ANSWERS=${answersFile}`, `${e.repo}/scripts/${script}`]);
  const res = await sh(ctx, ref, [{ argv, cwd: e.repo }], 60 * 60_000);
  const asked = /^LIFEBOAT-PROMPT: (.*)$/m.exec(res.stderr)?.[1];
  if (asked !== undefined) return { outcome: 'prompt', prompt: asked.trim(), command, plan, output: lastLines(res.stdout + res.stderr, 6) };
  return { outcome: 'done', command, plan, output: ctx.check(ref, res, script, `read its output above; fix and retry (config.sh present in ${ctx.setting(e.cluster, 'repoDir')}?)`) };
}

/** The command a person runs on the host for a script. */
export function humanCommand(ctx: TrainServerContext, e: TsEnv, script: string): string {
  return `cd ${quoteArgv([e.repo])} && ${ctx.setting(e.cluster, 'sudo') ? 'sudo ' : ''}./scripts/${script}`;
}

/**
 * Runs one setup script with the inventory's answers; a question nobody
 * answered ends it as `prompt`, with the command a person runs. The storage
 * script (which wipes the disks and creates a new array) runs only with
 * `confirmDestroy` (given after the dangerous gate, which answers its
 * confirmation), after the guard checked every disk it wipes, and never while
 * an array is mounted.
 */
export async function tsSetupScript(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean; script: string; confirmDestroy?: boolean; oldArrayUuid?: string }): Promise<TsSetupRun> {
  return ctx.run(async () => {
    if (!SCRIPT_NAME.test(input.script)) throw new TransportError('InvalidArgument', `not a setup script name: ${JSON.stringify(input.script)} (e.g. 04-setup-users.sh)`, false);
    const e = env(ctx, input);
    const command = humanCommand(ctx, e, input.script);
    const plan = `${input.node}: ${command}`;
    if (input.dryRun) return { dryRun: true, plan, outcome: 'done', command };
    const answers = { ...(parseAnswers(ctx.setting(e.cluster, 'setupAnswers'), input.cluster)[input.script] ?? {}) };
    if (roleOf(input.script) === 'storage') {
      const opts = await mountOptions(ctx, input, e);
      if (opts !== undefined) return { alreadyDone: true, plan, outcome: 'done', command, output: `${e.mount} is already mounted (${opts}); storage setup skipped` };
      await guard(ctx, input, e, 'new-array', `run ${input.script} (it wipes ${e.hdds.join(', ')})`, input.oldArrayUuid ? { oldArrayUuid: input.oldArrayUuid } : {});
      for (const q of Object.keys(answers)) if (q.startsWith("Type 'YES'")) delete answers[q]; // only the gate confirms destruction
      if (input.confirmDestroy) Object.assign(answers, DESTROY_CONFIRMATION);
    }
    return runScript(ctx, input, e, input.script, answers, plan, command);
  });
}

/** Checks what a setup script leaves behind (after a person ran it). */
export async function tsSetupVerify(ctx: TrainServerContext, input: NodeRef & { script: string }): Promise<TsCheckList> {
  return ctx.run(async () => {
    if (!SCRIPT_NAME.test(input.script)) throw new TransportError('InvalidArgument', `not a setup script name: ${JSON.stringify(input.script)}`, false);
    const e = env(ctx, input);
    const checks: TsCheckList['checks'] = [];
    for (const f of knownScript(input.script)?.creates ?? []) {
      const t = await read(ctx, input, e.as(['test', '-e', e.p(f)]));
      checks.push({ name: `${f} exists`, ok: t.exitCode === 0, detail: t.exitCode === 0 ? 'present' : `missing: ${input.script} did not complete` });
    }
    const role = roleOf(input.script);
    if (role === 'storage') {
      const opts = await mountOptions(ctx, input, e);
      checks.push({ name: 'array mounted', ok: opts !== undefined, detail: opts ? `${ctx.setting(e.cluster, 'storageMount')} (${opts})` : 'not mounted' });
    }
    if (role === 'tests' || role === 'validate') {
      const r = await runScript(ctx, input, e, input.script, {}, '', humanCommand(ctx, e, input.script)).catch((err: Error) => ({ outcome: 'failed', output: err.message }) as const);
      checks.push({ name: `${input.script} exits 0`, ok: r.outcome === 'done', detail: lastLines(r.output ?? '', 2) });
    }
    if (checks.length === 0) checks.push({ name: 'no check known', ok: true, detail: `Lifeboat knows nothing ${input.script} leaves behind: the operator's word is recorded` });
    return { ok: checks.every((c) => c.ok), checks };
  });
}
