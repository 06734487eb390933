/**
 * Fake train servers for the train-server scenarios (v2: the real setup
 * scripts, device guards, the restic password by reference), shared by
 * test/unit/train-server-workflows.test.ts and the recorded branch histories
 * (test/replay/branches.ts): stateful overrides of the stub activities (see
 * ./stubs and ./stubs-train-server).
 */
import type { LifeboatActivities } from '../../src/activities/types';
import { hardFailure, stubActivities } from './stubs';

type Stubs = ReturnType<typeof stubActivities>;

/** The users with a home on the server. */
export const TS_USERS = ['alice', 'bob', 'charlie', 'dave', 'eve'];
/** The btrfs array that survives a new OS disk or a corruption. */
export const ARRAY_UUID = '11111111-2222-3333-4444-555555555555';

/** A blank new server: no array, nothing mounted, no config.sh. `notified`: each notification as "subject\ntext". */
export function blankServer(overrides: Partial<LifeboatActivities> = {}): Stubs & { notified: string[] } {
  const notified: string[] = [];
  const s = stubActivities({
    tsStorageStatus: async (a) => ({ node: a.node, reachable: true, mounted: false, errorCounters: [], kernelErrors: [], fstabHasStorage: false, configPresent: false, users: TS_USERS }),
    notify: async (n) => {
      notified.push(`${n.subject}\n${n.text}`);
    },
    ...overrides,
  });
  return Object.assign(s, { notified });
}

/** The cache SSD failed; after the swap the new one shows a stale signature. */
export function failedSsd(): Stubs {
  let looks = 0;
  const devs = new Map([
    ['bcache0', 'inconsistent'],
    ['bcache1', 'inconsistent'],
  ]);
  return stubActivities({
    // First look: the failed SSD; afterwards the new one, with a stale signature.
    tsCacheDevice: async () => (++looks === 1 ? { device: '/dev/nvme0n1p2', state: 'failed', detail: 'Input/output error' } : { device: '/dev/nvme0n1p2', state: 'bcache', csetUuid: '00000000-0000-0000-0000-00000000abcd', detail: 'stale cache set' }),
    tsBcacheStatus: async () => [...devs].map(([name, state]) => ({ name, state, cacheMode: 'writeback', writebackRunning: true })),
    tsBcacheDetach: async (a) => {
      if (!a.dryRun) devs.set(a.device, 'no cache');
      return { plan: `detach ${a.device}` };
    },
    tsWipeCacheDevice: async () => ({ plan: 'wipefs' }),
    tsMakeCache: async () => ({ plan: 'make-bcache', csetUuid: 'ffffffff-bbbb-cccc-dddd-eeeeeeeeeeee' }),
    tsBcacheAttach: async (a) => {
      if (!a.dryRun) devs.set(a.device, 'clean');
      return { plan: `attach ${a.device}` };
    },
  });
}

/**
 * After the power outage the filesystem has errors, bcache0 is dirty, a
 * container stopped; the scrub finishes at the third status probe.
 * `notified`: the text of each notification; `scrubProbes`: the probes so far.
 */
export function afterOutage(): Stubs & { notified: string[]; scrubProbes: () => number } {
  let probes = 0;
  const notified: string[] = [];
  const s = stubActivities({
    tsStorageStatus: async (a) => ({ node: a.node, reachable: true, mounted: true, mountOptions: 'rw', deviceErrors: 3, errorCounters: ['[/dev/sdb].corruption_errs 3'], kernelErrors: ['BTRFS error (device sdb): parent transid verify failed'], fstabHasStorage: true, configPresent: true, users: TS_USERS }),
    tsScrubStatus: async () => (++probes < 3 ? { state: 'running', corrected: 0, uncorrectable: 0, summary: 'running' } : { state: 'finished', corrected: 3, uncorrectable: 0, summary: 'csum=3' }),
    tsBcacheStatus: async () => [{ name: 'bcache0', state: 'dirty', cacheMode: 'writeback', writebackRunning: false }, { name: 'bcache1', state: 'clean', cacheMode: 'writeback', writebackRunning: true }],
    tsContainers: async () => [{ name: 'alice-workspace', state: 'exited' }],
    notify: async (n) => {
      notified.push(n.text);
    },
  });
  return Object.assign(s, { notified, scrubProbes: () => probes });
}

/** A new OS disk next to the intact, unmounted array. */
export function newOs(overrides: Partial<LifeboatActivities> = {}): Stubs {
  return stubActivities({
    tsStorageStatus: async (a) => ({ node: a.node, reachable: true, mounted: false, arrayUuid: ARRAY_UUID, errorCounters: [], kernelErrors: [], fstabHasStorage: false, configPresent: false, users: TS_USERS }),
    ...overrides,
  });
}

/**
 * `severity`: moderate (ro,degraded mounts, repair works) or severe (only
 * usebackuproot mounts, repair fails) or lost (nothing mounts), or degraded
 * (/dev/sdc missing at the first look: only ro,degraded mounts until it is
 * back; it is back at any later look).
 */
export function corruptBtrfs(severity: 'moderate' | 'severe' | 'lost' | 'degraded'): Stubs {
  let mounted: string | undefined;
  let fixed = false;
  let looks = 0;
  return stubActivities({
    tsStorageStatus: async (a) => {
      const missing = severity === 'degraded' && ++looks === 1 ? ['/dev/sdc'] : [];
      if (severity === 'degraded' && looks > 1) fixed = true;
      return { node: a.node, reachable: true, mounted: mounted !== undefined, mountOptions: mounted, arrayUuid: ARRAY_UUID, errorCounters: [], kernelErrors: [severity === 'degraded' ? 'BTRFS error (device sdb): devid 2 uuid 1234 is missing' : 'BTRFS error (device sdb): open_ctree failed'], fstabHasStorage: true, configPresent: true, users: TS_USERS, devices: ['/dev/sdb', '/dev/sdc'], mount: '/mnt/storage', missingDevices: missing };
    },
    tsUnmountStorage: async () => {
      mounted = undefined;
      return { plan: 'umount' };
    },
    tsMountStorage: async (a) => {
      const opts = a.options ?? 'rw';
      const okay = fixed || ((severity === 'moderate' || severity === 'degraded') && opts.startsWith('ro')) || (severity === 'severe' && opts.includes('usebackuproot'));
      if (!okay) throw hardFailure(`mount -o ${opts}: bad superblock`);
      mounted = opts;
      return { plan: `mount ${opts}` };
    },
    tsBtrfsCheck: async (a) => {
      if (a.repair && severity === 'moderate') fixed = true;
      return { plan: `check ${a.repair ? 'repair' : 'readonly'}`, clean: a.repair ? fixed : false, findings: a.repair ? (fixed ? 'fixed 2 errors' : 'failed to repair') : 'ERROR: 2 errors found in fs roots' };
    },
    tsBtrfsRestore: async () => {
      if (severity === 'lost') throw hardFailure('cannot read');
      return { plan: 'btrfs restore' };
    },
  });
}

/** The restic password was on the lost OS disk: the repository opens only with a reference given at the gate. `refs`: the references tried. */
export function lostPassword(): Partial<LifeboatActivities> & { refs: string[] } {
  const refs: string[] = [];
  return {
    refs,
    tsResticAccess: async (a) => {
      if (a.passwordRef) refs.push(a.passwordRef);
      return a.passwordRef
        ? { ok: true, source: a.passwordRef, tried: [], snapshots: 2 }
        : { ok: false, tried: ['host:/root/.restic-password: not on train1', 'settings.resticPasswordRef: not set'] };
    },
  };
}

/** The backup holds config.sh (a server whose backup covered the checkout). */
export const CONFIG_IN_BACKUP: Partial<LifeboatActivities> = {
  tsResticContents: async (a) => ({ snapshot: a.snapshot, paths: ['/mnt/storage/homes', '/root/train-server/config.sh'], dirs: { homes: '/mnt/storage/homes' }, config: '/root/train-server/config.sh', users: TS_USERS }),
};

/** `script` stops at its question (not answered from the inventory): a human step. */
export function asksQuestion(script: string, prompt = 'Press Enter to continue with authentication...'): Partial<LifeboatActivities> {
  return {
    tsSetupScript: async (a) => ({ plan: `tsSetupScript ${a.node}`, ...(a.dryRun ? { dryRun: true as const } : {}), outcome: a.script === script && !a.dryRun ? 'prompt' : 'done', ...(a.script === script ? { prompt } : {}), command: `cd /root/train-server && ./scripts/${a.script}` }),
  };
}

/** The device guard refuses (a disk that is not the pinned one). */
export const DEVICE_REFUSED: Partial<LifeboatActivities> = {
  tsCheckDevices: async (a) => ({
    purpose: a.purpose,
    ok: false,
    devices: [{ path: '/dev/sdb', ok: false, reasons: ['/dev/sdb is not the disk pinned in settings.deviceIds (serial WD-OTHER; found WD-WX11D1234567)'], found: '/dev/sdb: disk, 8 TiB, serial WD-WX11D1234567; btrfs 1111; not mounted' }],
    summary: '/dev/sdb: disk, 8 TiB, serial WD-WX11D1234567 — REFUSED: /dev/sdb is not the disk pinned in settings.deviceIds',
  }),
};
