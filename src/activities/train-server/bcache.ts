/**
 * bcache through sysfs: backing devices and their state, the cache device,
 * detach, attach, cache mode, writeback, and a new cache SSD (wiped and made
 * only after it is checked).
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { EffectResult, NodeRef } from '../common/types';
import { lastLines } from '../context';
import { TransportError } from '../transport/errors';
import { quoteArgv } from '../transport/shell';
import type { TrainServerContext } from './context';
import { guard, inspectDevice } from './devices';
import { env, read, sh } from './host';
import type { TsBcacheDevice, TsCacheDevice } from './types';

async function bcacheDevices(ctx: TrainServerContext, ref: NodeRef, e: ReturnType<typeof env>): Promise<string[]> {
  const res = await read(ctx, ref, ['find', e.p('/sys/block'), '-mindepth', '1', '-maxdepth', '1', '-name', 'bcache*']);
  return res.stdout
    .split('\n')
    .map((l) => l.trim().split('/').at(-1) ?? '')
    .filter((n) => /^bcache\d+$/.test(n))
    .sort();
}

async function bcacheOne(ctx: TrainServerContext, ref: NodeRef, e: ReturnType<typeof env>, name: string): Promise<TsBcacheDevice> {
  const dir = e.p(`/sys/block/${name}/bcache`);
  const res = await read(ctx, ref, ['cat', `${dir}/state`, `${dir}/cache_mode`, `${dir}/writeback_running`]);
  const [state = '?', mode = '', wb = '0'] = res.stdout.split('\n');
  return { name, state: state.trim(), cacheMode: /\[(\w+)\]/.exec(mode)?.[1] ?? mode.trim(), writebackRunning: wb.trim() === '1' };
}

/** Every bcache backing device with its `state`, `cache_mode` and dirty data, from sysfs. */
export async function tsBcacheStatus(ctx: TrainServerContext, ref: NodeRef): Promise<TsBcacheDevice[]> {
  return ctx.run(async () => {
    const e = env(ctx, ref);
    const out: TsBcacheDevice[] = [];
    for (const name of await bcacheDevices(ctx, ref, e)) out.push(await bcacheOne(ctx, ref, e, name));
    return out;
  });
}

async function cacheDevice(ctx: TrainServerContext, ref: NodeRef, e: ReturnType<typeof env>): Promise<TsCacheDevice> {
  const res = await read(ctx, ref, e.as(['bcache-super-show', e.ssd]));
  const out = (res.stdout + res.stderr).trim();
  const cset = /cset\.uuid\s+(\S+)/.exec(res.stdout)?.[1];
  if (res.exitCode === 0 && cset) return { device: e.ssd, state: 'bcache', csetUuid: cset, detail: `cache set ${cset}` };
  if (/magic/i.test(out)) return { device: e.ssd, state: 'blank', detail: 'no bcache superblock' };
  return { device: e.ssd, state: 'failed', detail: lastLines(out, 2) || `exit ${res.exitCode}` };
}

/** The cache SSD (`settings.cacheDevice`): present, and the cache set it carries. */
export async function tsCacheDevice(ctx: TrainServerContext, ref: NodeRef): Promise<TsCacheDevice> {
  return ctx.run(async () => cacheDevice(ctx, ref, env(ctx, ref)));
}

/** Writes a sysfs file through `tee` (value on stdin), then waits until `done` sees the effect. */
async function sysfsWrite(ctx: TrainServerContext, 
  input: NodeRef & { dryRun?: boolean; device: string },
  file: string,
  value: string,
  already: (d: TsBcacheDevice) => boolean,
  done: (d: TsBcacheDevice) => boolean,
): Promise<EffectResult> {
  const e = env(ctx, input);
  if (!/^bcache\d+$/.test(input.device)) throw new TransportError('InvalidArgument', `not a bcache device name: ${JSON.stringify(input.device)} (expected bcache0, bcache1...)`, false);
  const path = e.p(`/sys/block/${input.device}/bcache/${file}`);
  const argv = e.as(['tee', path]);
  const plan = `${input.node}: echo ${value} | ${quoteArgv(argv)}`;
  if (input.dryRun) return { dryRun: true, plan };
  const before = await bcacheOne(ctx, input, e, input.device);
  if (already(before)) return { alreadyDone: true, plan, output: `${input.device}: state ${before.state}, mode ${before.cacheMode}` };
  const res = await sh(ctx, input, [{ argv }], 30_000, `${value}\n`);
  ctx.check(input, res, `writing ${file} of ${input.device}`, `check ${path} on ${input.node} (settings.sudo?)`);
  const deadline = Date.now() + ctx.setting(e.cluster, 'sysfsSettleSeconds') * 1000;
  let last = before;
  while (Date.now() < deadline) {
    last = await bcacheOne(ctx, input, e, input.device);
    if (done(last)) return { plan, output: `${input.device}: state ${last.state}, mode ${last.cacheMode}` };
    Context.current().heartbeat({ node: input.node, waiting: `${input.device} ${file}`, state: last.state });
    await ctx.sleep(250);
  }
  throw new TransportError('SysfsTimeout', `${input.device} did not take the ${file} write within ${ctx.setting(e.cluster, 'sysfsSettleSeconds')} s (state ${last.state}, mode ${last.cacheMode}); check dmesg on ${input.node}`, true);
}

/** `echo 1 > /sys/block/<device>/bcache/detach`; an already detached device counts as done. */
export async function tsBcacheDetach(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean; device: string }): Promise<EffectResult> {
  return ctx.run(() => sysfsWrite(ctx, input, 'detach', '1', (d) => d.state === 'no cache', (d) => d.state === 'no cache'));
}

/** `echo <cset uuid> > /sys/block/<device>/bcache/attach`; already attached to that set counts as done. */
export async function tsBcacheAttach(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean; device: string; csetUuid: string }): Promise<EffectResult> {
  return ctx.run(async () => {
    if (!/^[0-9a-f-]{36}$/i.test(input.csetUuid)) throw new TransportError('InvalidArgument', `not a cache set UUID: ${JSON.stringify(input.csetUuid)}`, false);
    return sysfsWrite(ctx, input, 'attach', input.csetUuid, (d) => d.state !== 'no cache', (d) => d.state !== 'no cache');
  });
}

/** `echo <mode> > /sys/block/<device>/bcache/cache_mode`; the mode already set counts as done. */
export async function tsBcacheCacheMode(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean; device: string; mode: 'writeback' | 'writethrough' }): Promise<EffectResult> {
  return ctx.run(() => sysfsWrite(ctx, input, 'cache_mode', input.mode, (d) => d.cacheMode === input.mode, (d) => d.cacheMode === input.mode));
}

/** Re-enables writeback on a device whose cache came back (`writeback_running`). */
export async function tsBcacheResumeWriteback(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean; device: string }): Promise<EffectResult> {
  return ctx.run(() => sysfsWrite(ctx, input, 'writeback_running', '1', (d) => d.writebackRunning && d.state !== 'dirty', (d) => d.writebackRunning && d.state !== 'dirty'));
}

/**
 * `wipefs -a` on the new cache SSD (destructive: the workflow gates it). The
 * guard checks first that the device is the new SSD: present and readable,
 * not the OS, not mounted, not a member of the array, holding no filesystem
 * (see ./guard); a wrong one is refused with the reason. A device without
 * signatures counts as done.
 */
export async function tsWipeCacheDevice(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean; arrayUuid?: string }): Promise<EffectResult> {
  return ctx.run(async () => {
    const e = env(ctx, input);
    const argv = e.as(['wipefs', '-a', e.ssd]);
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    const checked = await guard(ctx, input, e, 'wipe-cache', `wipe ${e.ssd}`, input.arrayUuid ? { arrayUuid: input.arrayUuid } : {});
    const facts = await inspectDevice(ctx, input, e, e.ssd);
    if (facts.signatures.length === 0) return { alreadyDone: true, plan, output: `${e.ssd} carries no signature (${checked.devices[0]?.found ?? ''})` };
    const res = await sh(ctx, input, [{ argv }]);
    return { plan, output: ctx.check(input, res, `wipefs -a ${e.ssd}`, `check the new SSD is installed and is ${e.ssd} (settings.cacheDevice)`) };
  });
}

/** `make-bcache -C` on the wiped SSD, after the guard (blank, not the OS, not mounted, not in the array); answers the new cache set's UUID. */
export async function tsMakeCache(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean; arrayUuid?: string }): Promise<EffectResult & { csetUuid?: string }> {
  return ctx.run(async () => {
    const e = env(ctx, input);
    const argv = e.as(['make-bcache', '-C', e.ssd]);
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    const before = await cacheDevice(ctx, input, e);
    // Run after a wipe: a superblock now is ours from an earlier attempt.
    if (before.state === 'bcache') return { alreadyDone: true, plan, csetUuid: before.csetUuid, output: before.detail };
    await guard(ctx, input, e, 'make-cache', `make a bcache cache on ${e.ssd}`, input.arrayUuid ? { arrayUuid: input.arrayUuid } : {});
    const res = await sh(ctx, input, [{ argv }]);
    ctx.check(input, res, `make-bcache -C ${e.ssd}`, `wipe the SSD first (wipefs -a ${e.ssd})`);
    const after = await cacheDevice(ctx, input, e);
    if (after.state !== 'bcache') throw new TransportError('CommandFailed', `make-bcache ran but ${e.ssd} shows no cache set (${after.detail})`, false);
    return { plan, csetUuid: after.csetUuid, output: after.detail };
  });
}
