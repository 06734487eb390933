/**
 * BTRFS repair tools: scrub (started once per step), `btrfs check`,
 * `btrfs restore` and copying data off with rsync.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { EffectResult, NodeRef } from '../common/types';
import { lastLines } from '../context';
import { TransportError } from '../transport/errors';
import { quoteArgv } from '../transport/shell';
import type { TrainServerContext } from './context';
import { guard } from './devices';
import { env, MARKERS, read, sh } from './host';
import type { TsScrubStatus } from './types';

/** `btrfs scrub status`, with its `Scrub started:` line (which scrub this is; absent before the first). */
async function scrubStatus(ctx: TrainServerContext, ref: NodeRef, e: ReturnType<typeof env>): Promise<TsScrubStatus & { started?: string }> {
  const res = await read(ctx, ref, e.as(['btrfs', 'scrub', 'status', e.mount]));
  const out = res.stdout + res.stderr;
  if (res.exitCode !== 0) throw new TransportError('CommandFailed', `btrfs scrub status ${e.mount} failed: ${lastLines(out, 4)}; is the array mounted?`, false);
  const status = /Status:\s+(\w+)/.exec(out)?.[1];
  const corrected = Number(/Corrected:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const uncorrectable = Number(/Uncorrectable:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const state = status === 'running' ? 'running' : status === 'finished' || status === 'aborted' ? 'finished' : 'none';
  const summary = /Error summary:\s+(.*)/.exec(out)?.[1]?.trim() ?? (state === 'none' ? 'no scrub has run' : state);
  const started = /^\s*Scrub started:.*$/m.exec(out)?.[0]?.trim().replace(/\s+/g, ' ');
  return { state, corrected, uncorrectable, summary, ...(started ? { started } : {}) };
}

/** `btrfs scrub status <mount>`: running, finished, errors found. */
export async function tsScrubStatus(ctx: TrainServerContext, ref: NodeRef): Promise<TsScrubStatus> {
  return ctx.run(async () => {
    const status = await scrubStatus(ctx, ref, env(ctx, ref));
    delete status.started;
    return status;
  });
}

/** `btrfs scrub start <mount>`, once per step: a scrub already running, or started by this step, counts as done. */
export async function tsScrubStart(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(async () => {
    const e = env(ctx, input);
    const argv = e.as(['btrfs', 'scrub', 'start', e.mount]);
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    const before = await scrubStatus(ctx, input, e);
    if (before.state === 'running') return { alreadyDone: true, plan, output: 'a scrub is already running' };
    // Once per step (no clock): before the start, an intent marker keyed by workflow, run and activity id
    // records which scrub the status showed. A retry that finds the marker and another scrub in the
    // status (started after the marker was written) knows this step's scrub already ran.
    const seen = before.started ?? 'none';
    const marker = `${MARKERS}/${ctx.stableKey('scrub')}`;
    const recorded = await read(ctx, input, ['cat', marker]);
    if (recorded.exitCode === 0 && recorded.stdout.trim() !== seen) {
      return { alreadyDone: true, plan, output: `this step already started a scrub (${seen}; ${before.state}: ${before.summary})` };
    }
    if (recorded.exitCode !== 0) {
      const mark = await sh(ctx, input, [{ argv: ['mkdir', '-p', MARKERS] }, { argv: ['tee', marker] }], 30_000, `${seen}\n`);
      ctx.check(input, mark, 'recording the scrub start', `check that the SSH user's home on ${input.node} is writable (${MARKERS})`);
    }
    const res = await sh(ctx, input, [{ argv }]);
    return { plan, output: ctx.check(input, res, 'btrfs scrub start', `check that ${e.mount} is mounted (mount | grep btrfs)`) };
  });
}

/**
 * `btrfs check --readonly`, or `--repair` (destructive: the workflow gates
 * it), on the unmounted device. Before a repair the guard checks on the host
 * that the device carries the array's filesystem (`arrayUuid`, as assessed),
 * mounted nowhere, and is not the OS; a wrong one is refused with the reason.
 */
export async function tsBtrfsCheck(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean; repair: boolean; arrayUuid?: string }): Promise<{ clean: boolean; findings: string } & EffectResult> {
  return ctx.run(async () => {
    const e = env(ctx, input);
    const argv = e.as(['btrfs', 'check', input.repair ? '--repair' : '--readonly', e.device]);
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun && input.repair) return { dryRun: true, plan, clean: false, findings: '(dry run)' };
    if (input.repair) await guard(ctx, input, e, 'repair', `run btrfs check --repair on ${e.device}`, input.arrayUuid ? { arrayUuid: input.arrayUuid } : {});
    const res = await sh(ctx, input, [{ argv: e.as(['btrfs', 'device', 'scan', ...e.devices]), ignoreExit: true }, { argv }], 6 * 3600_000);
    const findings = lastLines(res.stdout + res.stderr, 8);
    if (input.repair && res.exitCode !== 0) return { plan, clean: false, findings, output: findings };
    return { plan, clean: res.exitCode === 0, findings, output: findings };
  });
}

/** Tree roots `btrfs-find-root` reports as intact, newest generation first (bounded). */
function olderRoots(out: string): Array<{ bytenr: string; generation: number }> {
  const found = [...out.matchAll(/Well block (\d+)\(gen: (\d+) level: \d+\) seems good/g)].map((m) => ({ bytenr: m[1]!, generation: Number(m[2]) }));
  return found.sort((a, b) => b.generation - a.generation).slice(0, 5);
}

/**
 * `btrfs restore` of the files from a device that no longer mounts, into a
 * target directory. When the current tree root cannot be read, the older
 * roots `btrfs-find-root` finds intact are tried, newest first (`btrfs
 * restore -t <bytenr>`): what was written after that generation is lost, and
 * the output says which one was used.
 */
export async function tsBtrfsRestore(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean; to: string }): Promise<EffectResult> {
  return ctx.run(async () => {
    const e = env(ctx, input);
    if (!input.to.startsWith('/') || input.to.includes('..')) throw new TransportError('InvalidArgument', `btrfs restore target must be absolute: ${JSON.stringify(input.to)}`, false);
    const out = `${e.p(input.to)}/`;
    const argv = e.as(['btrfs', 'restore', e.device, out]);
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    const res = await sh(ctx, input, [{ argv: e.as(['mkdir', '-p', e.p(input.to)]) }, { argv: e.as(['btrfs', 'device', 'scan', ...e.devices]), ignoreExit: true }, { argv }], 12 * 3600_000);
    if (res.exitCode === 0) return { plan, output: lastLines(res.stdout + res.stderr, 8) || `restored into ${input.to}` };
    const first = lastLines(res.stdout + res.stderr, 3);
    const roots = olderRoots((await sh(ctx, input, [{ argv: e.as(['btrfs-find-root', e.device]) }], 30 * 60_000)).stdout);
    for (const r of roots) {
      Context.current().heartbeat({ node: input.node, restoring: `from tree root ${r.bytenr} (generation ${r.generation})` });
      const older = e.as(['btrfs', 'restore', '-t', r.bytenr, e.device, out]);
      const again = await sh(ctx, input, [{ argv: older }], 12 * 3600_000);
      if (again.exitCode === 0) return { plan: `${input.node}: ${quoteArgv(older)}`, output: `the current tree root is unreadable (${first}); restored from the older root ${r.bytenr} (generation ${r.generation}): later changes are lost` };
    }
    throw new TransportError('CommandFailed', `btrfs restore on ${input.node} failed (${first}) and no older tree root could be read (${roots.length} tried): the array is beyond rescue; restore from backups (train-server.total-data-loss)`, false, { node: input.node });
  });
}

/** `rsync -a` from a read-only mount to a safe place (the runbook's copy-off before a repair). */
export async function tsRsync(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean; from: string; to: string }): Promise<EffectResult> {
  return ctx.run(async () => {
    const e = env(ctx, input);
    for (const x of [input.from, input.to]) if (!x.startsWith('/') || x.includes('..')) throw new TransportError('InvalidArgument', `rsync paths must be absolute: ${JSON.stringify(x)}`, false);
    const argv = e.as(['rsync', '-av', `${e.p(input.from)}/`, `${e.p(input.to)}/`]);
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    // rsync is incremental: a retry copies only what is missing.
    const res = await sh(ctx, input, [{ argv: e.as(['mkdir', '-p', e.p(input.to)]) }, { argv }], 12 * 3600_000);
    return { plan, output: ctx.check(input, res, `rsync ${input.from}`, 'check the source is mounted and the destination has room') };
  });
}
