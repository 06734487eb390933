/**
 * What runs on the storage: the setup scripts, docker compose and its
 * containers, and the runbook's final verification.
 *
 * @module
 */
import type { EffectResult, NodeRef } from '../common/types';
import { lastLines } from '../context';
import { TransportError } from '../transport/errors';
import { quoteArgv } from '../transport/shell';
import type { TrainServerContext } from './context';
import { env, read, sh } from './host';
import { humanCommand, parseAnswers, runScript, SCRIPT_NAME } from './setup';
import { mountOptions } from './storage';
import type { TsContainer, TsVerifyResult } from './types';

/**
 * Runs one of the repository's setup scripts (`./<script>`) in
 * `settings.repoDir` (the v1 procedure's step). It runs under the prompt
 * guard with the inventory's answers (./setup): a question nobody answered
 * fails the step at once (the v1 step asks the operator), instead of hanging.
 */
export async function tsRunSetupScript(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean; script: string }): Promise<EffectResult> {
  return ctx.run(async () => {
    if (!SCRIPT_NAME.test(input.script)) throw new TransportError('InvalidArgument', `not a setup script name: ${JSON.stringify(input.script)} (e.g. 02-setup-users.sh)`, false);
    const e = env(ctx, input);
    const argv = e.as([`${e.repo}/scripts/${input.script}`]);
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    if (/-setup-storage\.sh$/.test(input.script)) {
      // Creating the array again would wipe it: never when one is mounted.
      const opts = await mountOptions(ctx, input, e);
      if (opts !== undefined) return { alreadyDone: true, plan, output: `${e.mount} is already mounted (${opts}); storage setup skipped` };
    }
    const command = humanCommand(ctx, e, input.script);
    const answers = parseAnswers(ctx.setting(e.cluster, 'setupAnswers'), input.cluster)[input.script] ?? {};
    const r = await runScript(ctx, input, e, input.script, answers, plan, command);
    if (r.outcome === 'prompt') {
      throw new TransportError('PromptedForInput', `${input.script} stopped at its question "${r.prompt}" (no answer in settings.setupAnswers): run it on ${input.node} by hand (${command}), then skip this step`, false, { node: input.node });
    }
    return { plan, output: r.output ?? '' };
  });
}

async function containers(ctx: TrainServerContext, ref: NodeRef, e: ReturnType<typeof env>): Promise<TsContainer[]> {
  const res = await sh(ctx, ref, [{ argv: e.as(['docker', 'compose', 'ps', '--all', '--format', 'json']), cwd: `${e.repo}/docker` }]);
  ctx.check(ref, res, 'docker compose ps', 'check docker runs (systemctl status docker)');
  return res.stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as { Name?: string; Service?: string; State?: string })
    .map((c) => ({ name: c.Name ?? c.Service ?? '?', state: c.State ?? '?' }));
}

/** The stack's containers and their state. */
export async function tsContainers(ctx: TrainServerContext, ref: NodeRef): Promise<TsContainer[]> {
  return ctx.run(async () => containers(ctx, ref, env(ctx, ref)));
}

/** `./generate-compose.sh`, `docker compose build` or `up -d` in the repository's docker/; `up` with every container running counts as done. */
export async function tsCompose(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean; action: 'generate' | 'build' | 'up' }): Promise<EffectResult> {
  return ctx.run(async () => {
    const e = env(ctx, input);
    const dir = `${e.repo}/docker`;
    const argv = input.action === 'generate' ? ['./generate-compose.sh'] : e.as(['docker', 'compose', ...(input.action === 'up' ? ['up', '-d'] : ['build'])]);
    const plan = `${input.node}: cd ${dir} && ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    if (input.action === 'up') {
      const list = await containers(ctx, input, e);
      if (list.length > 0 && list.every((c) => c.state === 'running')) return { alreadyDone: true, plan, output: `${list.length} containers already running` };
    }
    const res = await sh(ctx, input, [{ argv, cwd: dir }], 60 * 60_000);
    return { plan, output: ctx.check(input, res, `docker compose ${input.action}`, 'read the output; `docker compose logs` on the server') };
  });
}

/** The runbook's final verification: containers running, `nvidia-smi`, the storage mounted read-write, and the repository's test script (`testsScript`, default the configured one). */
export async function tsVerify(ctx: TrainServerContext, ref: NodeRef & { testsScript?: string }): Promise<TsVerifyResult> {
  return ctx.run(async () => {
    const e = env(ctx, ref);
    const checks: TsVerifyResult['checks'] = [];
    const list = await containers(ctx, ref, e);
    const down = list.filter((c) => c.state !== 'running');
    checks.push({ name: 'docker ps', ok: list.length > 0 && down.length === 0, detail: down.length ? `not running: ${down.map((c) => c.name).join(', ')}` : `${list.length} containers running` });
    const gpu = await read(ctx, ref, ['nvidia-smi']);
    const gpus = (gpu.stdout.match(/NVIDIA [A-Z]/g) ?? []).length - 1;
    checks.push({ name: 'nvidia-smi', ok: gpu.exitCode === 0, detail: gpu.exitCode === 0 ? `${Math.max(gpus, 0)} GPU(s)` : lastLines(gpu.stderr, 2) });
    const opts = await mountOptions(ctx, ref, e);
    checks.push({ name: 'df -h (storage mounted rw)', ok: opts !== undefined && !opts.split(',').includes('ro'), detail: opts ? `${ctx.setting(e.cluster, 'storageMount')} (${opts})` : 'not mounted' });
    const tests =
      ref.testsScript ??
      ctx
        .setting(e.cluster, 'setupScripts')
        .split(',')
        .map((x) => x.trim())
        .find((x) => /-run-tests\.sh$/.test(x)) ??
      '11-run-tests.sh';
    if (!SCRIPT_NAME.test(tests)) throw new TransportError('InvalidArgument', `not a test script name: ${JSON.stringify(tests)}`, false);
    const t = await runScript(ctx, ref, e, tests, {}, '', humanCommand(ctx, e, tests)).catch((err: Error) => ({ outcome: 'failed' as const, output: err.message }));
    checks.push({ name: tests, ok: t.outcome === 'done', detail: lastLines(t.output ?? '', 2) });
    return { ok: checks.every((c) => c.ok), checks };
  });
}
