/**
 * Default stubs of the train-server activities for workflow-logic tests (see ./stubs):
 * a healthy server with two bcache devices, two restic snapshots and running containers.
 */
import type { TrainServerActivities } from '../../src/activities/types';
import type { PlanOf } from './stubs';

/** Names of the train-server activities that have an effect on the target. */
export const TRAIN_SERVER_EFFECTS: string[] = [
  'tsScrubStart',
  'tsBcacheDetach',
  'tsBcacheAttach',
  'tsBcacheCacheMode',
  'tsBcacheResumeWriteback',
  'tsWipeCacheDevice',
  'tsMakeCache',
  'tsRunSetupScript',
  'tsMountStorage',
  'tsUnmountStorage',
  'tsFstabStorage',
  'tsResticRestore',
  'tsChownHome',
  'tsCompose',
  'tsBtrfsCheck',
  'tsRsync',
  'tsBtrfsRestore',
  'tsSetupScript',
  'tsConfigDraft',
];

/** The setup scripts of the repository's HEAD (settings.setupScripts by default). */
export const TS_SCRIPTS = [
  '00-validate-config.sh',
  '01-setup-storage.sh',
  '02-setup-gdrive-shared.sh',
  '03-setup-shared-caches.sh',
  '04-setup-users.sh',
  '05-setup-docker.sh',
  '06-setup-cloudflare-tunnel.sh',
  '07-setup-firewall.sh',
  '08-setup-monitoring.sh',
  '09-setup-backups.sh',
  '10-setup-data-pipeline.sh',
  '11-run-tests.sh',
];

export const TS_USERS = ['alice', 'bob', 'charlie', 'dave', 'eve'];

export function trainServerStubs(plan: PlanOf): TrainServerActivities {
  return {
    tsStorageStatus: async (a) => ({
      node: a.node,
      reachable: true,
      mounted: true,
      mountOptions: 'rw,noatime,compress=zstd:3',
      arrayUuid: '11111111-2222-3333-4444-555555555555',
      deviceErrors: 0,
      errorCounters: [],
      kernelErrors: [],
      fstabHasStorage: true,
      configPresent: true,
      users: TS_USERS,
    }),
    tsScrubStatus: async () => ({ state: 'finished', corrected: 0, uncorrectable: 0, summary: 'no errors found' }),
    tsScrubStart: async (a) => plan('tsScrubStart', a as never),
    tsBcacheStatus: async () => [
      { name: 'bcache0', state: 'clean', cacheMode: 'writeback', writebackRunning: true },
      { name: 'bcache1', state: 'clean', cacheMode: 'writeback', writebackRunning: true },
    ],
    tsCacheDevice: async () => ({ device: '/dev/nvme0n1p2', state: 'bcache', csetUuid: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', detail: 'cache set' }),
    tsBcacheDetach: async (a) => plan('tsBcacheDetach', a as never),
    tsBcacheAttach: async (a) => plan('tsBcacheAttach', a as never),
    tsBcacheCacheMode: async (a) => plan('tsBcacheCacheMode', a as never),
    tsBcacheResumeWriteback: async (a) => plan('tsBcacheResumeWriteback', a as never),
    tsWipeCacheDevice: async (a) => plan('tsWipeCacheDevice', a as never),
    tsMakeCache: async (a) => ({ ...plan('tsMakeCache', a as never), csetUuid: 'ffffffff-bbbb-cccc-dddd-eeeeeeeeeeee' }),
    tsRunSetupScript: async (a) => plan('tsRunSetupScript', a as never),
    tsMountStorage: async (a) => plan('tsMountStorage', a as never),
    tsUnmountStorage: async (a) => plan('tsUnmountStorage', a as never),
    tsFstabStorage: async (a) => plan('tsFstabStorage', a as never),
    tsResticSnapshots: async () => [
      { id: 'a'.repeat(64), shortId: 'aaaaaaaa', time: '2026-11-30T02:00:00Z', paths: ['/mnt/storage/homes', '/root/train-server/config.sh'], tags: ['nightly'] },
      { id: 'b'.repeat(64), shortId: 'bbbbbbbb', time: '2026-12-01T02:00:00Z', paths: ['/mnt/storage/homes', '/root/train-server/config.sh'], tags: ['nightly'] },
    ],
    tsResticRestore: async (a) => ({ ...plan('tsResticRestore', a as never), filesRestored: 20, bytesRestored: 2048, totalFiles: 20 }),
    tsChownHome: async (a) => plan('tsChownHome', a as never),
    tsContainers: async () => TS_USERS.map((u) => ({ name: `${u}-workspace`, state: 'running' })),
    tsCompose: async (a) => plan('tsCompose', a as never),
    tsVerify: async () => ({ ok: true, checks: [{ name: 'docker ps', ok: true, detail: '5 containers running' }] }),
    tsBtrfsCheck: async (a) => ({ ...plan('tsBtrfsCheck', a as never), clean: true, findings: 'no error found' }),
    tsRsync: async (a) => plan('tsRsync', a as never),
    tsBtrfsRestore: async (a) => plan('tsBtrfsRestore', a as never),
    tsCheckDevices: async (a) => ({ purpose: a.purpose, ok: true, devices: [{ path: '/dev/x', ok: true, reasons: [], found: '/dev/x: disk, 8 TiB, serial X; no signature; not mounted' }], summary: '/dev/x: disk, 8 TiB, serial X; no signature; not mounted — ok' }),
    tsSetupPlan: async () => ({
      repoDir: '/root/train-server',
      scripts: TS_SCRIPTS.map((name) => ({
        name,
        ...(name.includes('storage') ? { role: 'storage' as const } : name.includes('run-tests') ? { role: 'tests' as const } : name.includes('validate') ? { role: 'validate' as const } : {}),
        prompts: [],
        answered: [],
        checks: [],
        present: true,
      })),
      unlisted: [],
    }),
    tsSetupScript: async (a) => ({ ...plan('tsSetupScript', a as never), outcome: 'done', command: `cd /root/train-server && ./scripts/${a.script}` }),
    tsSetupVerify: async () => ({ ok: true, checks: [{ name: 'files', ok: true, detail: 'present' }] }),
    tsResticAccess: async () => ({ ok: true, source: 'file:/etc/lifeboat/restic', tried: [], snapshots: 2 }),
    tsResticContents: async (a) => ({ snapshot: a.snapshot, paths: ['/mnt/storage/homes', '/mnt/storage/docker-volumes'], dirs: { homes: '/mnt/storage/homes', 'docker-volumes': '/mnt/storage/docker-volumes' }, users: TS_USERS }),
    tsConfigDraft: async (a) => ({ ...plan('tsConfigDraft', a as never), draft: '/root/train-server/config.sh.lifeboat-draft', filled: { MOUNT_POINT: '/mnt/storage' }, left: ['RESTIC_PASSWORD'] }),
    tsConfigCheck: async () => ({ ok: true, checks: [{ name: 'config.sh present', ok: true, detail: 'ok' }] }),
  };
}
