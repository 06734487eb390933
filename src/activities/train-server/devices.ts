/**
 * What the host says about its block devices, and the guard every
 * destructive device step passes first ({@link ./guard}): `lsblk --json`
 * (type, size, serial, wwn, model, partitions, mount points), `wipefs
 * --json` without `-a` (every signature, read-only), `findmnt --json`
 * (mounts, the array mounted through another member), `swapon --show`,
 * and `losetup --list` for a loop device's backing file.
 *
 * @module
 */
import type { NodeRef } from '../common/types';
import { lastLines } from '../context';
import { TransportError } from '../transport/errors';
import type { TrainServerContext } from './context';
import { describeFacts, guardReasons, OS_MOUNTS } from './guard';
import { env, read, type TsEnv } from './host';
import type { TsDeviceCheck, TsDeviceFacts, TsGuardPurpose } from './types';

interface LsblkNode {
  name: string;
  type?: string;
  size?: number | string;
  serial?: string | null;
  wwn?: string | null;
  model?: string | null;
  mountpoint?: string | null;
  children?: LsblkNode[];
}

function flatten(n: LsblkNode): LsblkNode[] {
  return [n, ...(n.children ?? []).flatMap(flatten)];
}

const clean = (s: string | null | undefined): string | undefined => (s && s.trim() ? s.trim() : undefined);

/** The facts of one device as its host reports them. */
export async function inspectDevice(ctx: TrainServerContext, ref: NodeRef, e: TsEnv, path: string): Promise<TsDeviceFacts> {
  const facts: TsDeviceFacts = { path, exists: false, signatures: [], mounts: [], os: [] };
  if (!/^\/dev\/[A-Za-z0-9/_.-]+$/.test(path)) throw new TransportError('InvalidArgument', `not a device path: ${JSON.stringify(path)} (expected /dev/...)`, false);
  const ls = await read(ctx, ref, ['lsblk', '--json', '--bytes', '--paths', '--output', 'NAME,TYPE,SIZE,SERIAL,WWN,MODEL,MOUNTPOINT', path]);
  if (ls.exitCode !== 0 || !ls.stdout.trim()) return facts;
  let top: LsblkNode | undefined;
  try {
    top = (JSON.parse(ls.stdout) as { blockdevices?: LsblkNode[] }).blockdevices?.[0];
  } catch {
    throw new TransportError('CommandFailed', `lsblk --json ${path} on ${ref.node} printed no JSON: ${lastLines(ls.stdout, 2)}`, false);
  }
  if (!top) return facts;
  const nodes = flatten(top);
  const names = nodes.map((n) => n.name);
  Object.assign(facts, {
    exists: true,
    type: top.type,
    size: top.size === undefined ? undefined : Number(top.size),
    serial: clean(top.serial),
    wwn: clean(top.wwn),
    model: clean(top.model),
  });
  const w = await read(ctx, ref, e.as(['wipefs', '--json', path]));
  if (w.exitCode !== 0) facts.readError = lastLines(w.stderr || w.stdout, 1) || `wipefs exit ${w.exitCode}`;
  else if (w.stdout.trim()) {
    const sigs = (JSON.parse(w.stdout) as { signatures?: Array<{ type: string; uuid?: string | null; label?: string | null }> }).signatures ?? [];
    facts.signatures = sigs.map((s) => ({ type: s.type, ...(s.uuid ? { uuid: s.uuid } : {}), ...(s.label ? { label: s.label } : {}) }));
  }
  const fm = await read(ctx, ref, ['findmnt', '--json', '--list', '--output', 'SOURCE,TARGET,FSTYPE,UUID']);
  const mounts = fm.stdout.trim() ? ((JSON.parse(fm.stdout) as { filesystems?: Array<{ source: string; target: string; fstype?: string; uuid?: string | null }> }).filesystems ?? []) : [];
  const btrfsUuids = facts.signatures.filter((s) => s.type === 'btrfs' && s.uuid).map((s) => s.uuid);
  for (const m of mounts) {
    const source = m.source.replace(/\[.*\]$/, '');
    const mine = names.includes(source);
    if (mine && !facts.mounts.includes(m.target)) facts.mounts.push(m.target);
    if (!mine && m.fstype === 'btrfs' && m.uuid && btrfsUuids.includes(m.uuid)) facts.mounts.push(`${m.target} (its array, mounted through ${source})`);
    if (mine && OS_MOUNTS.includes(m.target) && !facts.os.includes(m.target)) facts.os.push(m.target);
  }
  for (const n of nodes) if (n.mountpoint && OS_MOUNTS.includes(n.mountpoint) && !facts.os.includes(n.mountpoint)) facts.os.push(n.mountpoint);
  const sw = await read(ctx, ref, ['swapon', '--show=NAME', '--noheadings', '--raw']);
  if (nodes.some((n) => n.mountpoint === '[SWAP]') || sw.stdout.split('\n').some((l) => names.includes(l.trim()))) facts.os.push('swap');
  if (facts.type === 'loop') {
    const lo = await read(ctx, ref, ['losetup', '--list', '--json', '--output', 'NAME,BACK-FILE', path]);
    const row = lo.stdout.trim() ? (JSON.parse(lo.stdout) as { loopdevices?: Array<{ 'back-file'?: string | null }> }).loopdevices?.[0] : undefined;
    if (row?.['back-file']) facts.backingFile = row['back-file'].replace(/ \(deleted\)$/, '');
  }
  return facts;
}

/** The UUID of the BTRFS filesystem on the first array device that carries one (blkid -p). */
export async function arrayUuidOf(ctx: TrainServerContext, ref: NodeRef, e: TsEnv): Promise<string | undefined> {
  for (const d of e.devices) {
    const r = await read(ctx, ref, e.as(['blkid', '-p', '-o', 'export', d]));
    const tags = Object.fromEntries(r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    if (r.exitCode === 0 && tags.TYPE === 'btrfs' && tags.UUID) return tags.UUID;
  }
  return undefined;
}

const TARGETS: Record<TsGuardPurpose, { setting: string; devices: (e: TsEnv) => string[] }> = {
  'wipe-cache': { setting: 'settings.cacheDevice', devices: (e) => [e.ssd] },
  'make-cache': { setting: 'settings.cacheDevice', devices: (e) => [e.ssd] },
  'new-array': { setting: 'settings.hddDevices', devices: (e) => e.hdds },
  repair: { setting: 'settings.storageDevices', devices: (e) => [e.device] },
};

/** The guard's findings on the devices of one destructive step. */
export async function checkDevices(ctx: TrainServerContext, ref: NodeRef, e: TsEnv, purpose: TsGuardPurpose, opts: { arrayUuid?: string; oldArrayUuid?: string } = {}): Promise<TsDeviceCheck> {
  const t = TARGETS[purpose];
  const pins = e.pins();
  const arrayUuid = opts.arrayUuid ?? (purpose === 'new-array' ? undefined : await arrayUuidOf(ctx, ref, e));
  const devices: TsDeviceCheck['devices'] = [];
  for (const path of t.devices(e)) {
    const f = await inspectDevice(ctx, ref, e, path);
    const pin = pins.get(path);
    const reasons = guardReasons(purpose, f, { setting: t.setting, ...(pin ? { pin } : {}), ...(arrayUuid ? { arrayUuid } : {}), ...(opts.oldArrayUuid ? { oldArrayUuid: opts.oldArrayUuid } : {}) });
    devices.push({ path, ok: reasons.length === 0, reasons, found: describeFacts(f), ...(pin ? { pin: `${pin.kind}:${pin.value}` } : {}) });
  }
  return {
    purpose,
    ok: devices.every((d) => d.ok),
    devices,
    summary: devices.map((d) => `${d.found}${d.pin ? ` [pinned ${d.pin}]` : ''} — ${d.ok ? 'ok' : `REFUSED: ${d.reasons.join('; ')}`}`).join('\n'),
  };
}

/**
 * The guard in front of a destructive step: the devices are checked on the
 * host right before it, and a refusal is a non-retryable `DeviceRefused`
 * naming each reason.
 */
export async function guard(ctx: TrainServerContext, ref: NodeRef, e: TsEnv, purpose: TsGuardPurpose, what: string, opts: { arrayUuid?: string; oldArrayUuid?: string } = {}): Promise<TsDeviceCheck> {
  const c = await checkDevices(ctx, ref, e, purpose, opts);
  if (!c.ok) {
    const why = c.devices.filter((d) => !d.ok).flatMap((d) => d.reasons);
    throw new TransportError('DeviceRefused', `refused to ${what} on ${ref.node}: ${why.join('; ')}`, false, { node: ref.node });
  }
  return c;
}

/** The guard's view of the devices a destructive step would touch (read-only; the gate's evidence). */
export async function tsCheckDevices(ctx: TrainServerContext, input: NodeRef & { purpose: TsGuardPurpose; arrayUuid?: string; oldArrayUuid?: string }): Promise<TsDeviceCheck> {
  return ctx.run(async () => {
    if (!Object.keys(TARGETS).includes(input.purpose)) throw new TransportError('InvalidArgument', `unknown purpose ${JSON.stringify(input.purpose)} (${Object.keys(TARGETS).join(', ')})`, false);
    return checkDevices(ctx, input, env(ctx, input), input.purpose, input);
  });
}
