/**
 * The train server (seed 004) activities: the storage stack (BTRFS on HDDs,
 * bcache on an SSD), the setup scripts, docker compose, and restic — all run
 * on the server over SSH, as the runbook's commands are.
 *
 * - Every command is an argv array (quoted by ./shell), behind `sudo -n` when
 *   `settings.sudo` is set.
 * - Paths: the runbook's absolute paths (`/mnt/storage`, `/sys/block/...`,
 *   `/etc/fstab`) are prefixed with `settings.root` (default empty; the lab
 *   sets it to its host directory).
 * - Writes to sysfs and fstab go through `tee` with the value on stdin, as the
 *   runbook's `echo X | sudo tee FILE` does.
 * - restic runs on the server (the restore target is its disk) with the
 *   repository from `settings.resticRepository` and the password from the
 *   secret reference `settings.resticPassword`, resolved on the worker and
 *   sent on the command's stdin: never in argv, history or logs. `restore
 *   --json` progress becomes heartbeats; a cancelled restore kills restic,
 *   and a retry restores again over the partial files; a completed one
 *   leaves a once-per-step marker, so a retry does not restore twice.
 * - Idempotency: each effect checks first (already mounted, already detached,
 *   fstab line present, cache attached, scrub running or already started by
 *   this step, restore completed by this step, containers up, storage set up)
 *   and reports `alreadyDone`. Once-per-step markers live under
 *   `~/.lifeboat/markers/` of the SSH user, named by `ctx.stableKey`.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { ClusterSpec } from '../inventory/schema';
import { lastLines, type ActivityContext } from './context';
import { TransportError } from './errors';
import { redact, resolveSecret } from './secrets';
import { quoteArgv, renderScript, type RemoteCommand } from './shell';
import type { ExecResult } from './ssh';
import type { EffectResult, NodeRef } from './types';
import type {
  TrainServerActivities,
  TsBcacheDevice,
  TsCacheDevice,
  TsContainer,
  TsRestoreResult,
  TsScrubStatus,
  TsSnapshot,
  TsStorageStatus,
  TsVerifyResult,
} from './types-train-server';

/** Per-cluster settings of a train server, with their defaults (the runbook's values). */
export const TRAIN_SERVER_DEFAULTS = {
  /** Prefix of every absolute runbook path (the lab: its host directory). */
  root: '',
  sudo: false,
  storageMount: '/mnt/storage',
  storageDevice: '/dev/sdb',
  cacheDevice: '/dev/nvme0n1p2',
  /** The train-server checkout (config.sh, scripts/, docker/). */
  repoDir: '/root/train-server',
  users: 'alice,bob,charlie,dave,eve',
  mountOptions: 'defaults,noatime,compress=zstd:3',
  resticBinary: 'restic',
  resticRepository: 'rclone:gdrive:backups/ml-train-server',
  /** Secret reference of the repository password (env:NAME or file:/path). */
  resticPassword: '',
  /** Cap restic's repository reads (KiB/s; 0: none). */
  resticLimitDownloadKiB: 0,
  /** How long a sysfs write may take to show in `state`. */
  sysfsSettleSeconds: 30,
};

type Key = keyof typeof TRAIN_SERVER_DEFAULTS;

/**
 * Once-per-step markers: in the SSH user's home (relative, not under
 * `settings.root`, without sudo), so they are writable on a real server and in
 * the lab alike; named by `ctx.stableKey`, the same across an activity's retries.
 */
const MARKERS = '.lifeboat/markers';

/** The train-server activities of one worker. */
export function trainServerActivities(ctx: ActivityContext): TrainServerActivities {
  const { lookup, run, root, sleep } = ctx;
  const setting = <K extends Key>(cluster: ClusterSpec, key: K): (typeof TRAIN_SERVER_DEFAULTS)[K] => ctx.setting(cluster, key, TRAIN_SERVER_DEFAULTS[key]);

  function env(ref: NodeRef) {
    const { cluster } = lookup(ref);
    const pre = setting(cluster, 'root').replace(/\/+$/, '');
    const p = (abs: string): string => (abs.startsWith('/') ? `${pre}${abs}` : abs);
    const sudo = setting(cluster, 'sudo');
    return {
      cluster,
      p,
      as: (argv: string[]) => root(argv, sudo),
      mount: p(setting(cluster, 'storageMount')),
      device: setting(cluster, 'storageDevice'),
      ssd: setting(cluster, 'cacheDevice'),
      repo: p(setting(cluster, 'repoDir')),
      users: setting(cluster, 'users').split(',').map((u) => u.trim()).filter(Boolean),
    };
  }

  /** One SSH round (commands joined with &&); stdin optional; output tail in heartbeats. */
  async function sh(ref: NodeRef, cmds: RemoteCommand[], timeoutMs = 60_000, stdin?: string, onTail?: (tail: string) => void, secrets: string[] = []): Promise<ExecResult> {
    const { conn, secrets: keys } = await ctx.sshOptions(ref);
    const all = [...keys, ...secrets];
    const c = Context.current();
    const res = await ctx.beating(
      ctx.ssh.exec(conn, cmds, {
        timeoutMs,
        signal: c.cancellationSignal,
        ...(stdin !== undefined ? { stdin } : {}),
        onOutput: (tail) => (onTail ? onTail(redact(tail, all)) : c.heartbeat({ node: ref.node, tail: redact(tail, all) })),
      }),
      { node: ref.node, running: 'remote command' },
    );
    return { ...res, stdout: redact(res.stdout, all), stderr: redact(res.stderr, all) };
  }

  const read = async (ref: NodeRef, argv: string[], timeoutMs = 30_000): Promise<ExecResult> => sh(ref, [{ argv }], timeoutMs);

  async function mountOptions(ref: NodeRef, e: ReturnType<typeof env>): Promise<string | undefined> {
    const res = await read(ref, e.as(['mount']));
    for (const line of res.stdout.split('\n')) {
      const m = / on (\S+) type btrfs \(([^)]*)\)/.exec(line);
      if (m && m[1] === e.mount) return m[2];
    }
    return undefined;
  }

  async function arrayUuid(ref: NodeRef, e: ReturnType<typeof env>): Promise<string | undefined> {
    const res = await read(ref, e.as(['blkid', e.device, '-s', 'UUID', '-o', 'value']));
    const uuid = res.stdout.trim();
    return res.exitCode === 0 && uuid ? uuid : undefined;
  }

  async function tsStorageStatus(ref: NodeRef): Promise<TsStorageStatus> {
    return run(async () => {
      const e = env(ref);
      try {
        const options = await mountOptions(ref, e);
        const uuid = await arrayUuid(ref, e);
        let deviceErrors: number | undefined;
        const errorCounters: string[] = [];
        if (options !== undefined) {
          const stats = await read(ref, e.as(['btrfs', 'device', 'stats', e.mount]));
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
        const dmesg = await read(ref, e.as(['dmesg']));
        const kernelErrors = dmesg.stdout.split('\n').filter((l) => /error/i.test(l)).slice(-20);
        const fstab = await read(ref, ['cat', e.p('/etc/fstab')]);
        const fstabHasStorage = !!uuid && fstab.stdout.split('\n').some((l) => l.startsWith(`UUID=${uuid} `));
        const config = await read(ref, ['test', '-f', `${e.repo}/config.sh`]);
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
        };
      } catch (err) {
        if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message, mounted: false, errorCounters: [], kernelErrors: [], fstabHasStorage: false, configPresent: false, users: e.users };
        throw err;
      }
    });
  }

  /** `btrfs scrub status`, with its `Scrub started:` line (which scrub this is; absent before the first). */
  async function scrubStatus(ref: NodeRef, e: ReturnType<typeof env>): Promise<TsScrubStatus & { started?: string }> {
    const res = await read(ref, e.as(['btrfs', 'scrub', 'status', e.mount]));
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

  async function tsScrubStatus(ref: NodeRef): Promise<TsScrubStatus> {
    return run(async () => {
      const status = await scrubStatus(ref, env(ref));
      delete status.started;
      return status;
    });
  }

  async function tsScrubStart(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(async () => {
      const e = env(input);
      const argv = e.as(['btrfs', 'scrub', 'start', e.mount]);
      const plan = `${input.node}: ${quoteArgv(argv)}`;
      if (input.dryRun) return { dryRun: true, plan };
      const before = await scrubStatus(input, e);
      if (before.state === 'running') return { alreadyDone: true, plan, output: 'a scrub is already running' };
      // Once per step (no clock): before the start, an intent marker keyed by workflow, run and activity id
      // records which scrub the status showed. A retry that finds the marker and another scrub in the
      // status (started after the marker was written) knows this step's scrub already ran.
      const seen = before.started ?? 'none';
      const marker = `${MARKERS}/${ctx.stableKey('scrub')}`;
      const recorded = await read(input, ['cat', marker]);
      if (recorded.exitCode === 0 && recorded.stdout.trim() !== seen) {
        return { alreadyDone: true, plan, output: `this step already started a scrub (${seen}; ${before.state}: ${before.summary})` };
      }
      if (recorded.exitCode !== 0) {
        const mark = await sh(input, [{ argv: ['mkdir', '-p', MARKERS] }, { argv: ['tee', marker] }], 30_000, `${seen}\n`);
        ctx.check(input, mark, 'recording the scrub start', `check that the SSH user's home on ${input.node} is writable (${MARKERS})`);
      }
      const res = await sh(input, [{ argv }]);
      return { plan, output: ctx.check(input, res, 'btrfs scrub start', `check that ${e.mount} is mounted (mount | grep btrfs)`) };
    });
  }

  // ---------------------------------------------------------------- bcache ----

  async function bcacheDevices(ref: NodeRef, e: ReturnType<typeof env>): Promise<string[]> {
    const res = await read(ref, ['find', e.p('/sys/block'), '-mindepth', '1', '-maxdepth', '1', '-name', 'bcache*']);
    return res.stdout
      .split('\n')
      .map((l) => l.trim().split('/').at(-1) ?? '')
      .filter((n) => /^bcache\d+$/.test(n))
      .sort();
  }

  async function bcacheOne(ref: NodeRef, e: ReturnType<typeof env>, name: string): Promise<TsBcacheDevice> {
    const dir = e.p(`/sys/block/${name}/bcache`);
    const res = await read(ref, ['cat', `${dir}/state`, `${dir}/cache_mode`, `${dir}/writeback_running`]);
    const [state = '?', mode = '', wb = '0'] = res.stdout.split('\n');
    return { name, state: state.trim(), cacheMode: /\[(\w+)\]/.exec(mode)?.[1] ?? mode.trim(), writebackRunning: wb.trim() === '1' };
  }

  async function tsBcacheStatus(ref: NodeRef): Promise<TsBcacheDevice[]> {
    return run(async () => {
      const e = env(ref);
      const out: TsBcacheDevice[] = [];
      for (const name of await bcacheDevices(ref, e)) out.push(await bcacheOne(ref, e, name));
      return out;
    });
  }

  async function cacheDevice(ref: NodeRef, e: ReturnType<typeof env>): Promise<TsCacheDevice> {
    const res = await read(ref, e.as(['bcache-super-show', e.ssd]));
    const out = (res.stdout + res.stderr).trim();
    const cset = /cset\.uuid\s+(\S+)/.exec(res.stdout)?.[1];
    if (res.exitCode === 0 && cset) return { device: e.ssd, state: 'bcache', csetUuid: cset, detail: `cache set ${cset}` };
    if (/magic/i.test(out)) return { device: e.ssd, state: 'blank', detail: 'no bcache superblock' };
    return { device: e.ssd, state: 'failed', detail: lastLines(out, 2) || `exit ${res.exitCode}` };
  }

  async function tsCacheDevice(ref: NodeRef): Promise<TsCacheDevice> {
    return run(async () => cacheDevice(ref, env(ref)));
  }

  /** Writes a sysfs file through `tee` (value on stdin), then waits until `done` sees the effect. */
  async function sysfsWrite(
    input: NodeRef & { dryRun?: boolean; device: string },
    file: string,
    value: string,
    already: (d: TsBcacheDevice) => boolean,
    done: (d: TsBcacheDevice) => boolean,
  ): Promise<EffectResult> {
    const e = env(input);
    if (!/^bcache\d+$/.test(input.device)) throw new TransportError('InvalidArgument', `not a bcache device name: ${JSON.stringify(input.device)} (expected bcache0, bcache1...)`, false);
    const path = e.p(`/sys/block/${input.device}/bcache/${file}`);
    const argv = e.as(['tee', path]);
    const plan = `${input.node}: echo ${value} | ${quoteArgv(argv)}`;
    if (input.dryRun) return { dryRun: true, plan };
    const before = await bcacheOne(input, e, input.device);
    if (already(before)) return { alreadyDone: true, plan, output: `${input.device}: state ${before.state}, mode ${before.cacheMode}` };
    const res = await sh(input, [{ argv }], 30_000, `${value}\n`);
    ctx.check(input, res, `writing ${file} of ${input.device}`, `check ${path} on ${input.node} (settings.sudo?)`);
    const deadline = Date.now() + setting(e.cluster, 'sysfsSettleSeconds') * 1000;
    let last = before;
    while (Date.now() < deadline) {
      last = await bcacheOne(input, e, input.device);
      if (done(last)) return { plan, output: `${input.device}: state ${last.state}, mode ${last.cacheMode}` };
      Context.current().heartbeat({ node: input.node, waiting: `${input.device} ${file}`, state: last.state });
      await sleep(250);
    }
    throw new TransportError('SysfsTimeout', `${input.device} did not take the ${file} write within ${setting(e.cluster, 'sysfsSettleSeconds')} s (state ${last.state}, mode ${last.cacheMode}); check dmesg on ${input.node}`, true);
  }

  async function tsBcacheDetach(input: NodeRef & { dryRun?: boolean; device: string }): Promise<EffectResult> {
    return run(() => sysfsWrite(input, 'detach', '1', (d) => d.state === 'no cache', (d) => d.state === 'no cache'));
  }

  async function tsBcacheAttach(input: NodeRef & { dryRun?: boolean; device: string; csetUuid: string }): Promise<EffectResult> {
    return run(async () => {
      if (!/^[0-9a-f-]{36}$/i.test(input.csetUuid)) throw new TransportError('InvalidArgument', `not a cache set UUID: ${JSON.stringify(input.csetUuid)}`, false);
      return sysfsWrite(input, 'attach', input.csetUuid, (d) => d.state !== 'no cache', (d) => d.state !== 'no cache');
    });
  }

  async function tsBcacheCacheMode(input: NodeRef & { dryRun?: boolean; device: string; mode: 'writeback' | 'writethrough' }): Promise<EffectResult> {
    return run(() => sysfsWrite(input, 'cache_mode', input.mode, (d) => d.cacheMode === input.mode, (d) => d.cacheMode === input.mode));
  }

  async function tsBcacheResumeWriteback(input: NodeRef & { dryRun?: boolean; device: string }): Promise<EffectResult> {
    return run(() => sysfsWrite(input, 'writeback_running', '1', (d) => d.writebackRunning && d.state !== 'dirty', (d) => d.writebackRunning && d.state !== 'dirty'));
  }

  async function tsWipeCacheDevice(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(async () => {
      const e = env(input);
      const argv = e.as(['wipefs', '-a', e.ssd]);
      const plan = `${input.node}: ${quoteArgv(argv)}`;
      if (input.dryRun) return { dryRun: true, plan };
      const before = await cacheDevice(input, e);
      if (before.state === 'blank') return { alreadyDone: true, plan, output: `${e.ssd} carries no signature` };
      const res = await sh(input, [{ argv }]);
      return { plan, output: ctx.check(input, res, `wipefs -a ${e.ssd}`, `check the new SSD is installed and is ${e.ssd} (settings.cacheDevice)`) };
    });
  }

  async function tsMakeCache(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult & { csetUuid?: string }> {
    return run(async () => {
      const e = env(input);
      const argv = e.as(['make-bcache', '-C', e.ssd]);
      const plan = `${input.node}: ${quoteArgv(argv)}`;
      if (input.dryRun) return { dryRun: true, plan };
      const before = await cacheDevice(input, e);
      // Run after a wipe: a superblock now is ours from an earlier attempt.
      if (before.state === 'bcache') return { alreadyDone: true, plan, csetUuid: before.csetUuid, output: before.detail };
      const res = await sh(input, [{ argv }]);
      ctx.check(input, res, `make-bcache -C ${e.ssd}`, `wipe the SSD first (wipefs -a ${e.ssd})`);
      const after = await cacheDevice(input, e);
      if (after.state !== 'bcache') throw new TransportError('CommandFailed', `make-bcache ran but ${e.ssd} shows no cache set (${after.detail})`, false);
      return { plan, csetUuid: after.csetUuid, output: after.detail };
    });
  }

  // ------------------------------------------------------- setup & storage ----

  async function tsRunSetupScript(input: NodeRef & { dryRun?: boolean; script: string }): Promise<EffectResult> {
    return run(async () => {
      if (!/^\d\d[a-z]?-[a-z0-9-]+\.sh$/.test(input.script)) throw new TransportError('InvalidArgument', `not a setup script name: ${JSON.stringify(input.script)} (e.g. 02-setup-users.sh)`, false);
      const e = env(input);
      const argv = e.as([`${e.repo}/scripts/${input.script}`]);
      const plan = `${input.node}: ${quoteArgv(argv)}`;
      if (input.dryRun) return { dryRun: true, plan };
      if (input.script.startsWith('01-setup-storage')) {
        // Creating the array again would wipe it: never when one is mounted.
        const opts = await mountOptions(input, e);
        if (opts !== undefined) return { alreadyDone: true, plan, output: `${e.mount} is already mounted (${opts}); storage setup skipped` };
      }
      const res = await sh(input, [{ argv, cwd: e.repo }], 30 * 60_000);
      return { plan, output: ctx.check(input, res, input.script, `read its output above, fix and retry (config.sh present in ${setting(e.cluster, 'repoDir')}?)`) };
    });
  }

  async function tsMountStorage(input: NodeRef & { dryRun?: boolean; options?: string }): Promise<EffectResult> {
    return run(async () => {
      const e = env(input);
      if (input.options !== undefined && !/^[a-z0-9_=:,]+$/.test(input.options)) throw new TransportError('InvalidArgument', `bad mount options ${JSON.stringify(input.options)}`, false);
      const argv = e.as(['mount', ...(input.options ? ['-o', input.options] : []), e.device, e.mount]);
      const cmds: RemoteCommand[] = [{ argv: e.as(['mkdir', '-p', e.mount]) }, { argv }];
      const plan = `${input.node}: ${renderScript(cmds)}`;
      if (input.dryRun) return { dryRun: true, plan };
      const current = await mountOptions(input, e);
      if (current !== undefined) {
        const wantRo = (input.options ?? '').split(',').includes('ro');
        const isRo = current.split(',').includes('ro');
        if (wantRo === isRo) return { alreadyDone: true, plan, output: `${e.mount} already mounted (${current})` };
        throw new TransportError('FailedPrecondition', `${e.mount} is mounted ${isRo ? 'read-only' : 'read-write'} (${current}); unmount it first`, false);
      }
      const res = await sh(input, cmds);
      return { plan, output: ctx.check(input, res, `mount ${e.device} ${e.mount}`, 'see the error: a bad superblock means corruption (train-server.btrfs-corruption)') || 'mounted' };
    });
  }

  async function tsUnmountStorage(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(async () => {
      const e = env(input);
      const argv = e.as(['umount', e.mount]);
      const plan = `${input.node}: ${quoteArgv(argv)}`;
      if (input.dryRun) return { dryRun: true, plan };
      if ((await mountOptions(input, e)) === undefined) return { alreadyDone: true, plan, output: `${e.mount} is not mounted` };
      const res = await sh(input, [{ argv }]);
      return { plan, output: ctx.check(input, res, `umount ${e.mount}`, `stop what uses it (docker compose down; lsof ${e.mount})`) };
    });
  }

  async function tsFstabStorage(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(async () => {
      const e = env(input);
      const fstab = e.p('/etc/fstab');
      const uuid = input.dryRun ? '${STORAGE_UUID}' : await arrayUuid(input, e);
      if (!uuid) throw new TransportError('FailedPrecondition', `${e.device} carries no filesystem UUID (blkid); mount the existing array first`, false);
      const line = `UUID=${uuid} ${setting(e.cluster, 'storageMount')} btrfs ${setting(e.cluster, 'mountOptions')} 0 0`;
      const argv = e.as(['tee', '-a', fstab]);
      const plan = `${input.node}: echo "${line}" | ${quoteArgv(argv)}`;
      if (input.dryRun) return { dryRun: true, plan };
      const current = await read(input, ['cat', fstab]);
      if (current.stdout.split('\n').some((l) => l.startsWith(`UUID=${uuid} `))) return { alreadyDone: true, plan, output: `fstab already mounts UUID=${uuid}` };
      const res = await sh(input, [{ argv }], 30_000, `${line}\n`);
      ctx.check(input, res, 'appending to /etc/fstab', 'check permissions (settings.sudo)');
      return { plan, output: line };
    });
  }

  // ---------------------------------------------------------------- restic ----

  async function resticBase(ref: NodeRef, e: ReturnType<typeof env>): Promise<{ argv: string[]; password: string }> {
    const ref0 = setting(e.cluster, 'resticPassword');
    if (!ref0) throw ctx.missing(ref, 'restic password', 'settings.resticPassword: "file:/etc/lifeboat/restic-password"');
    const password = (await resolveSecret(ref0)).replace(/\r?\n$/, '');
    const limit = setting(e.cluster, 'resticLimitDownloadKiB');
    const bin = e.p(setting(e.cluster, 'resticBinary'));
    return {
      argv: e.as(['env', 'RESTIC_PROGRESS_FPS=1', bin, '-r', setting(e.cluster, 'resticRepository'), ...(limit > 0 ? ['--limit-download', String(limit)] : [])]),
      password,
    };
  }

  async function tsResticSnapshots(ref: NodeRef): Promise<TsSnapshot[]> {
    return run(async () => {
      const e = env(ref);
      const { argv, password } = await resticBase(ref, e);
      const res = await sh(ref, [{ argv: [...argv, 'snapshots', '--json'] }], 120_000, `${password}\n`, undefined, [password]);
      ctx.check(ref, res, 'restic snapshots', 'check settings.resticRepository and the password secret (settings.resticPassword)');
      type S = { id: string; short_id?: string; time: string; paths?: string[]; tags?: string[] };
      let list: S[];
      try {
        // restic announces "reading repository password from stdin" before the JSON.
        list = JSON.parse(res.stdout.split('\n').find((l) => l.startsWith('[')) ?? '') as S[];
      } catch {
        throw new TransportError('CommandFailed', `restic snapshots --json printed no JSON: ${lastLines(res.stdout + res.stderr, 3)}`, false);
      }
      return list
        .map((s) => ({ id: s.id, shortId: s.short_id ?? s.id.slice(0, 8), time: s.time, paths: s.paths ?? [], tags: s.tags ?? [] }))
        .sort((a, b) => a.time.localeCompare(b.time));
    });
  }

  async function tsResticRestore(input: NodeRef & { dryRun?: boolean; snapshot: string; what: 'homes' | 'config' }): Promise<TsRestoreResult> {
    return run(async () => {
      if (!/^(latest|[0-9a-f]{8,64})$/.test(input.snapshot)) throw new TransportError('InvalidArgument', `not a snapshot id: ${JSON.stringify(input.snapshot)}`, false);
      const e = env(input);
      const homes = `${e.mount}/homes`;
      const scratch = e.p('/tmp/restore');
      const restore =
        input.what === 'homes'
          ? ['restore', `${input.snapshot}:${homes}`, '--target', homes, '--json']
          : ['restore', `${input.snapshot}:${e.repo}`, '--target', scratch, '--include', '/config.sh', '--json'];
      const shown = `restic -r ${setting(e.cluster, 'resticRepository')} ${restore.join(' ')}${input.what === 'config' ? ` && cp ${scratch}/config.sh ${e.repo}/` : ''}`;
      const plan = `${input.node}: ${shown} (password from ${setting(e.cluster, 'resticPassword') || 'settings.resticPassword'} on stdin)`;
      if (input.dryRun) return { dryRun: true, plan };
      // Once per step: a completion marker, touched in the same remote chain right after the restore
      // (for config.sh: after its copy into the checkout). A restore the worker's death interrupted
      // leaves none, and its retry restores again over the partial files (restic converges).
      const marker = `${MARKERS}/${ctx.stableKey(`restore-${input.what}`)}`;
      if ((await read(input, ['test', '-e', marker])).exitCode === 0) {
        return { alreadyDone: true, plan, output: `this step already restored ${input.what === 'homes' ? 'the homes' : 'config.sh'} from ${input.snapshot}` };
      }
      const { argv, password } = await resticBase(input, e);
      const cmds: RemoteCommand[] = [
        { argv: e.as(['mkdir', '-p', input.what === 'homes' ? homes : scratch]) },
        { argv: ['mkdir', '-p', MARKERS] },
        { argv: [...argv, ...restore] },
        ...(input.what === 'homes' ? [{ argv: ['touch', marker] }] : []),
      ];
      const c = Context.current();
      let last: Record<string, number> = {};
      const res = await sh(
        input,
        cmds,
        12 * 3600_000,
        `${password}\n`,
        (tail) => {
          const status = tail
            .split('\n')
            .filter((l) => l.startsWith('{') && l.includes('"message_type":"status"'))
            .at(-1);
          if (status) {
            try {
              last = JSON.parse(status) as Record<string, number>;
            } catch {
              /* partial line */
            }
          }
          c.heartbeat({
            node: input.node,
            restoring: input.what,
            percent: Math.round((last.percent_done ?? 0) * 100),
            filesRestored: last.files_restored,
            totalFiles: last.total_files,
            bytesRestored: last.bytes_restored,
            totalBytes: last.total_bytes,
          });
        },
        [password],
      );
      ctx.check(input, res, `restic restore ${input.what}`, 'check the repository and snapshot (restic snapshots), then retry: a retry restores over the partial files');
      const summaryLine = res.stdout.split('\n').filter((l) => l.includes('"message_type":"summary"')).at(-1);
      const summary = summaryLine ? (JSON.parse(summaryLine) as Record<string, number>) : {};
      if (input.what === 'config') {
        const cp = await sh(input, [{ argv: e.as(['cp', `${scratch}/config.sh`, `${e.repo}/config.sh`]) }, { argv: ['touch', marker] }]);
        ctx.check(input, cp, 'copying config.sh into the checkout', `check ${setting(e.cluster, 'repoDir')} exists (git clone first)`);
      }
      return {
        plan,
        filesRestored: summary.files_restored,
        bytesRestored: summary.bytes_restored,
        totalFiles: summary.total_files,
        output: `restored ${summary.files_restored ?? '?'} files (${summary.bytes_restored ?? '?'} bytes) from ${input.snapshot}`,
      };
    });
  }

  async function tsChownHome(input: NodeRef & { dryRun?: boolean; user: string }): Promise<EffectResult> {
    return run(async () => {
      if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(input.user)) throw new TransportError('InvalidArgument', `not a user name: ${JSON.stringify(input.user)}`, false);
      const e = env(input);
      // chown -R is idempotent by nature: a second run changes nothing.
      const argv = e.as(['chown', '-R', `${input.user}:${input.user}`, `${e.mount}/homes/${input.user}`]);
      const plan = `${input.node}: ${quoteArgv(argv)}`;
      if (input.dryRun) return { dryRun: true, plan };
      const res = await sh(input, [{ argv }], 30 * 60_000);
      return { plan, output: ctx.check(input, res, `chown of ${input.user}'s home`, `check the user exists (02-setup-users.sh) and the home was restored`) };
    });
  }

  // ---------------------------------------------------------------- docker ----

  async function containers(ref: NodeRef, e: ReturnType<typeof env>): Promise<TsContainer[]> {
    const res = await sh(ref, [{ argv: e.as(['docker', 'compose', 'ps', '--all', '--format', 'json']), cwd: `${e.repo}/docker` }]);
    ctx.check(ref, res, 'docker compose ps', 'check docker runs (systemctl status docker)');
    return res.stdout
      .split('\n')
      .filter((l) => l.trim().startsWith('{'))
      .map((l) => JSON.parse(l) as { Name?: string; Service?: string; State?: string })
      .map((c) => ({ name: c.Name ?? c.Service ?? '?', state: c.State ?? '?' }));
  }

  async function tsContainers(ref: NodeRef): Promise<TsContainer[]> {
    return run(async () => containers(ref, env(ref)));
  }

  async function tsCompose(input: NodeRef & { dryRun?: boolean; action: 'generate' | 'build' | 'up' }): Promise<EffectResult> {
    return run(async () => {
      const e = env(input);
      const dir = `${e.repo}/docker`;
      const argv = input.action === 'generate' ? ['./generate-compose.sh'] : e.as(['docker', 'compose', ...(input.action === 'up' ? ['up', '-d'] : ['build'])]);
      const plan = `${input.node}: cd ${dir} && ${quoteArgv(argv)}`;
      if (input.dryRun) return { dryRun: true, plan };
      if (input.action === 'up') {
        const list = await containers(input, e);
        if (list.length > 0 && list.every((c) => c.state === 'running')) return { alreadyDone: true, plan, output: `${list.length} containers already running` };
      }
      const res = await sh(input, [{ argv, cwd: dir }], 60 * 60_000);
      return { plan, output: ctx.check(input, res, `docker compose ${input.action}`, 'read the output; `docker compose logs` on the server') };
    });
  }

  async function tsVerify(ref: NodeRef): Promise<TsVerifyResult> {
    return run(async () => {
      const e = env(ref);
      const checks: TsVerifyResult['checks'] = [];
      const list = await containers(ref, e);
      const down = list.filter((c) => c.state !== 'running');
      checks.push({ name: 'docker ps', ok: list.length > 0 && down.length === 0, detail: down.length ? `not running: ${down.map((c) => c.name).join(', ')}` : `${list.length} containers running` });
      const gpu = await read(ref, ['nvidia-smi']);
      const gpus = (gpu.stdout.match(/NVIDIA [A-Z]/g) ?? []).length - 1;
      checks.push({ name: 'nvidia-smi', ok: gpu.exitCode === 0, detail: gpu.exitCode === 0 ? `${Math.max(gpus, 0)} GPU(s)` : lastLines(gpu.stderr, 2) });
      const opts = await mountOptions(ref, e);
      checks.push({ name: 'df -h (storage mounted rw)', ok: opts !== undefined && !opts.split(',').includes('ro'), detail: opts ? `${setting(e.cluster, 'storageMount')} (${opts})` : 'not mounted' });
      const t = await sh(ref, [{ argv: e.as([`${e.repo}/scripts/09-run-tests.sh`]), cwd: e.repo }], 30 * 60_000);
      checks.push({ name: '09-run-tests.sh', ok: t.exitCode === 0, detail: lastLines(t.stdout + t.stderr, 2) });
      return { ok: checks.every((c) => c.ok), checks };
    });
  }

  // --------------------------------------------------------- btrfs rescue ----

  async function tsBtrfsCheck(input: NodeRef & { dryRun?: boolean; repair: boolean }): Promise<{ clean: boolean; findings: string } & EffectResult> {
    return run(async () => {
      const e = env(input);
      const argv = e.as(['btrfs', 'check', input.repair ? '--repair' : '--readonly', e.device]);
      const plan = `${input.node}: ${quoteArgv(argv)}`;
      if (input.dryRun && input.repair) return { dryRun: true, plan, clean: false, findings: '(dry run)' };
      const res = await sh(input, [{ argv }], 6 * 3600_000);
      const findings = lastLines(res.stdout + res.stderr, 8);
      if (input.repair && res.exitCode !== 0) return { plan, clean: false, findings, output: findings };
      return { plan, clean: res.exitCode === 0, findings, output: findings };
    });
  }

  async function tsRsync(input: NodeRef & { dryRun?: boolean; from: string; to: string }): Promise<EffectResult> {
    return run(async () => {
      const e = env(input);
      for (const x of [input.from, input.to]) if (!x.startsWith('/') || x.includes('..')) throw new TransportError('InvalidArgument', `rsync paths must be absolute: ${JSON.stringify(x)}`, false);
      const argv = e.as(['rsync', '-av', `${e.p(input.from)}/`, `${e.p(input.to)}/`]);
      const plan = `${input.node}: ${quoteArgv(argv)}`;
      if (input.dryRun) return { dryRun: true, plan };
      // rsync is incremental: a retry copies only what is missing.
      const res = await sh(input, [{ argv: e.as(['mkdir', '-p', e.p(input.to)]) }, { argv }], 12 * 3600_000);
      return { plan, output: ctx.check(input, res, `rsync ${input.from}`, 'check the source is mounted and the destination has room') };
    });
  }

  async function tsBtrfsRestore(input: NodeRef & { dryRun?: boolean; to: string }): Promise<EffectResult> {
    return run(async () => {
      const e = env(input);
      if (!input.to.startsWith('/') || input.to.includes('..')) throw new TransportError('InvalidArgument', `btrfs restore target must be absolute: ${JSON.stringify(input.to)}`, false);
      const argv = e.as(['btrfs', 'restore', e.device, `${e.p(input.to)}/`]);
      const plan = `${input.node}: ${quoteArgv(argv)}`;
      if (input.dryRun) return { dryRun: true, plan };
      const res = await sh(input, [{ argv: e.as(['mkdir', '-p', e.p(input.to)]) }, { argv }], 12 * 3600_000);
      return { plan, output: ctx.check(input, res, 'btrfs restore', 'the array may be beyond rescue: restore from backups') };
    });
  }

  return {
    tsStorageStatus,
    tsScrubStatus,
    tsScrubStart,
    tsBcacheStatus,
    tsCacheDevice,
    tsBcacheDetach,
    tsBcacheAttach,
    tsBcacheCacheMode,
    tsBcacheResumeWriteback,
    tsWipeCacheDevice,
    tsMakeCache,
    tsRunSetupScript,
    tsMountStorage,
    tsUnmountStorage,
    tsFstabStorage,
    tsResticSnapshots,
    tsResticRestore,
    tsChownHome,
    tsContainers,
    tsCompose,
    tsVerify,
    tsBtrfsCheck,
    tsRsync,
    tsBtrfsRestore,
  };
}
