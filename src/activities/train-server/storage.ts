/**
 * The BTRFS array's state and mounting: devices, error counters, kernel
 * errors, mount options, fstab, and the storage setup script's outcome.
 *
 * @module
 */
import type { EffectResult, NodeRef } from '../common/types';
import { TransportError } from '../transport/errors';
import { quoteArgv, type RemoteCommand, renderScript } from '../transport/shell';
import type { TrainServerContext } from './context';
import { arrayUuidOf } from './devices';
import { env, read, sh } from './host';
import type { TsStorageStatus } from './types';

/** The array's mount options, or `undefined` when it is not mounted. */
export async function mountOptions(ctx: TrainServerContext, ref: NodeRef, e: ReturnType<typeof env>): Promise<string | undefined> {
  const res = await read(ctx, ref, e.as(['mount']));
  for (const line of res.stdout.split('\n')) {
    const m = / on (\S+) type btrfs \(([^)]*)\)/.exec(line);
    if (m && m[1] === e.mount) return m[2];
  }
  return undefined;
}

async function arrayUuid(ctx: TrainServerContext, ref: NodeRef, e: ReturnType<typeof env>): Promise<string | undefined> {
  return arrayUuidOf(ctx, ref, e);
}

/** Array devices the kernel does not see: `btrfs filesystem show` lists the present ones and says when some are missing. */
async function missingDevices(ctx: TrainServerContext, ref: NodeRef, e: ReturnType<typeof env>, uuid: string | undefined): Promise<string[]> {
  if (!uuid) return [];
  await read(ctx, ref, e.as(['btrfs', 'device', 'scan', ...e.devices]));
  const show = await read(ctx, ref, e.as(['btrfs', 'filesystem', 'show', uuid]));
  if (!/missing/i.test(show.stdout)) return [];
  const present = [...show.stdout.matchAll(/path (\/dev\/\S+)/g)].map((m) => m[1]);
  return e.devices.filter((d) => !present.includes(d));
}

/** The array as the runbook's diagnosis reads it: devices, mount, `btrfs device stats` error counters, kernel errors, fstab, config, users. */
export async function tsStorageStatus(ctx: TrainServerContext, ref: NodeRef): Promise<TsStorageStatus> {
  return ctx.run(async () => {
    const e = env(ctx, ref);
    try {
      const options = await mountOptions(ctx, ref, e);
      const uuid = await arrayUuid(ctx, ref, e);
      let deviceErrors: number | undefined;
      const errorCounters: string[] = [];
      if (options !== undefined) {
        const stats = await read(ctx, ref, e.as(['btrfs', 'device', 'stats', e.mount]));
        if (stats.exitCode === 0) {
          deviceErrors = 0;
          for (const line of stats.stdout.split('\n')) {
            const m = /^(\S+)\s+(\d+)$/.exec(line.trim());
            if (m && Number(m[2]) > 0) {
              deviceErrors += Number(m[2]);
              errorCounters.push(`${m[1]} ${m[2]}`);
            }
          }
        }
      }
      const dmesg = await read(ctx, ref, e.as(['dmesg']));
      const kernelErrors = dmesg.stdout.split('\n').filter((l) => /error/i.test(l)).slice(-20);
      const fstab = await read(ctx, ref, ['cat', e.p('/etc/fstab')]);
      const fstabHasStorage = !!uuid && fstab.stdout.split('\n').some((l) => l.startsWith(`UUID=${uuid} `));
      const config = await read(ctx, ref, ['test', '-f', `${e.repo}/config.sh`]);
      const missing = await missingDevices(ctx, ref, e, uuid);
      return {
        node: ref.node,
        reachable: true,
        mounted: options !== undefined,
        mountOptions: options,
        arrayUuid: uuid,
        deviceErrors,
        errorCounters,
        kernelErrors,
        fstabHasStorage,
        configPresent: config.exitCode === 0,
        users: e.users,
        devices: e.devices,
        mount: ctx.setting(e.cluster, 'storageMount'),
        missingDevices: missing,
      };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message, mounted: false, errorCounters: [], kernelErrors: [], fstabHasStorage: false, configPresent: false, users: e.users };
      throw err;
    }
  });
}

/** Mounts the array at `settings.storageMount` (options such as `ro,degraded`); already mounted counts as done. */
export async function tsMountStorage(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean; options?: string }): Promise<EffectResult> {
  return ctx.run(async () => {
    const e = env(ctx, input);
    if (input.options !== undefined && !/^[a-z0-9_=:,]+$/.test(input.options)) throw new TransportError('InvalidArgument', `bad mount options ${JSON.stringify(input.options)}`, false);
    const argv = e.as(['mount', ...(input.options ? ['-o', input.options] : []), e.device, e.mount]);
    // The other devices of the array must be known to the kernel first (udev does it at boot).
    const cmds: RemoteCommand[] = [{ argv: e.as(['mkdir', '-p', e.mount]) }, { argv: e.as(['btrfs', 'device', 'scan', ...e.devices]), ignoreExit: true }, { argv }];
    const plan = `${input.node}: ${renderScript(cmds)}`;
    if (input.dryRun) return { dryRun: true, plan };
    const current = await mountOptions(ctx, input, e);
    if (current !== undefined) {
      const wantRo = (input.options ?? '').split(',').includes('ro');
      const isRo = current.split(',').includes('ro');
      if (wantRo === isRo) return { alreadyDone: true, plan, output: `${e.mount} already mounted (${current})` };
      throw new TransportError('FailedPrecondition', `${e.mount} is mounted ${isRo ? 'read-only' : 'read-write'} (${current}); unmount it first`, false);
    }
    const res = await sh(ctx, input, cmds);
    return { plan, output: ctx.check(input, res, `mount ${e.device} ${e.mount}`, 'see the error: a bad superblock means corruption (train-server.btrfs-corruption)') || 'mounted' };
  });
}

/** Unmounts the array; not mounted counts as done. */
export async function tsUnmountStorage(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(async () => {
    const e = env(ctx, input);
    const argv = e.as(['umount', e.mount]);
    const plan = `${input.node}: ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    if ((await mountOptions(ctx, input, e)) === undefined) return { alreadyDone: true, plan, output: `${e.mount} is not mounted` };
    const res = await sh(ctx, input, [{ argv }]);
    return { plan, output: ctx.check(input, res, `umount ${e.mount}`, `stop what uses it (docker compose down; lsof ${e.mount})`) };
  });
}

/** Adds the array's fstab line (by UUID) when it is missing. */
export async function tsFstabStorage(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(async () => {
    const e = env(ctx, input);
    const fstab = e.p('/etc/fstab');
    const uuid = input.dryRun ? '${STORAGE_UUID}' : await arrayUuid(ctx, input, e);
    if (!uuid) throw new TransportError('FailedPrecondition', `${e.device} carries no filesystem UUID (blkid); mount the existing array first`, false);
    const line = `UUID=${uuid} ${ctx.setting(e.cluster, 'storageMount')} btrfs ${ctx.setting(e.cluster, 'mountOptions')} 0 0`;
    const argv = e.as(['tee', '-a', fstab]);
    const plan = `${input.node}: echo "${line}" | ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    const current = await read(ctx, input, ['cat', fstab]);
    if (current.stdout.split('\n').some((l) => l.startsWith(`UUID=${uuid} `))) return { alreadyDone: true, plan, output: `fstab already mounts UUID=${uuid}` };
    const res = await sh(ctx, input, [{ argv }], 30_000, `${line}\n`);
    ctx.check(input, res, 'appending to /etc/fstab', 'check permissions (settings.sudo)');
    return { plan, output: line };
  });
}
