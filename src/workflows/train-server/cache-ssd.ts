/**
 * Seed 004, "bcache SSD Failure" (performance degradation, no data loss):
 * 1. detach every bcache device from the failed cache (`echo 1 > .../detach`);
 * 2. the system runs on the HDDs alone;
 * 3. a human replaces the SSD physically (gate `ssd-replaced`);
 * 4. wipe the new SSD (`wipefs -a`, dangerous gate `wipe-new-ssd`): the
 *    device is checked on the host first and shown to the gate (present,
 *    not the OS — at HEAD the cache is `${NVME_DEVICE}p3` and the OS is on
 *    p2 of the same NVMe —, not mounted, not a member of the array, no
 *    filesystem on it); a wrong one is refused with the reason;
 * 5. recreate the cache (`make-bcache -C`);
 * 6. reattach every backing device to the new cache set;
 * 7. set the cache mode (writeback);
 * 8. verify every device shows `clean`.
 * RTO 45 min target, 60 min max (seed: "1 hour").
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { TrainServerCacheSsdParams } from '../../catalog';
import type { TsBcacheDevice, TsCacheDevice, TsDeviceCheck } from '../../activities/train-server/types';
import { activities, approve, fact, fanOut, isDryRun, note, recoveryInput, runRecovery, step, waitFor, type RecoveryInput, type RecoveryResult } from '../kit';
import { TRAIN_SERVER_CACHE_SSD } from '../scenarios';
import { serverNode } from './common';
import { legacyCacheSsd } from './legacy/cache-ssd';
import { REAL_STORAGE } from './versions';

export type CacheSsdInput = RecoveryInput<Partial<TrainServerCacheSsdParams>>;

export async function trainServerCacheSsd(input: CacheSsdInput): Promise<RecoveryResult> {
  if (!patched(REAL_STORAGE)) return legacyCacheSsd(input);
  return runRecovery(TRAIN_SERVER_CACHE_SSD, input, cacheSsd);
}

const list = (d: TsBcacheDevice[]): string => d.map((x) => `${x.name}: ${x.state}, ${x.cacheMode}`).join('; ') || 'no bcache devices';

async function cacheSsd(): Promise<string> {
  const input = recoveryInput<Partial<TrainServerCacheSsdParams>>();
  const cluster = input.cluster.name;
  const node = serverNode(input);
  const at = { cluster, node };
  const mode = input.params.cacheMode ?? 'writeback';
  const a = activities();

  const ssd = await step('Check the cache SSD (bcache-super-show)', () => a.tsCacheDevice(at), { describe: ((c: TsCacheDevice) => `${c.device}: ${c.state} (${c.detail})`) as never });
  const devices = await step('Check every bcache device (state, cache mode)', () => a.tsBcacheStatus(at), { describe: list as never });
  if (devices.length === 0) throw ApplicationFailure.nonRetryable(`no bcache device under /sys/block on ${node}: nothing to detach`, 'NoBcache');
  if (ssd.state === 'bcache' && devices.every((d) => d.state === 'clean' && d.cacheMode === mode)) {
    fact('root cause', 'none found: the cache SSD answers and every device is clean');
    return `No cache failure: ${ssd.device} holds cache set ${ssd.csetUuid ?? '?'} and ${list(devices)}.`;
  }
  fact('impact', `performance degradation: ${devices.length} bcache device(s) lose their SSD cache; no data loss`);
  fact('root cause', `cache SSD ${ssd.device}: ${ssd.state} (${ssd.detail})`);

  // 1. Detach.
  const names = devices.map((d) => d.name);
  await fanOut('Detach every bcache device from the failed cache (echo 1 > /sys/block/<dev>/bcache/detach)', names, (device) => a.tsBcacheDetach({ ...at, device }), { concurrency: 1, onFailure: 'ask' });
  note('The system now runs on the HDDs only (slower but operational)');

  // 3. The physical replacement.
  const replaced = await approve('ssd-replaced', {
    skippable: true, // a skip after a timeout is handled below (approved: false)
    title: `Replace the failed SSD ${ssd.device} physically, then approve`,
    evidence: { 'failed device': `${ssd.device}: ${ssd.detail}`, 'bcache devices': 'detached: the server runs on the HDDs meanwhile' },
  });
  if (!replaced.approved) {
    fact('resolution', 'bcache devices detached; the SSD was not replaced');
    return `Detached ${names.join(', ')}: the server runs on the HDDs only until the SSD is replaced (run this recovery again then).`;
  }
  const fresh = await step('Check the new SSD is in place', async () => {
    const c = await a.tsCacheDevice(at);
    if (c.state === 'failed' && !isDryRun()) throw ApplicationFailure.retryable(`${c.device} still fails (${c.detail}): is the new SSD installed?`, 'SsdMissing');
    return c;
  }, { onFailure: 'ask', describe: ((c: TsCacheDevice) => `${c.device}: ${c.state} (${c.detail})`) as never });

  // 4-5. Check the device, wipe and recreate.
  const checked = await step(`Check ${ssd.device} is the new cache SSD (present, not the OS, not mounted, not in the array, no filesystem)`, async () => {
    const c = await a.tsCheckDevices({ ...at, purpose: 'wipe-cache' });
    if (!c.ok && !isDryRun()) throw ApplicationFailure.nonRetryable(`refused: ${c.summary}`, 'DeviceRefused');
    return c;
  }, { onFailure: 'ask', describe: ((c: TsDeviceCheck) => c.summary) as never });
  await approve('wipe-new-ssd', {
    title: `Wipe ${ssd.device} (wipefs -a) and create a new bcache cache on it (make-bcache -C)`,
    evidence: {
      device: checked?.summary ?? ssd.device,
      'what bcache sees': fresh ? `${fresh.state}: ${fresh.detail}` : 'unknown',
      risk: `every signature on ${ssd.device} is erased: make sure it is the NEW SSD, not a data disk (its serial is above)`,
    },
  });
  await step(`Wipe the new SSD: wipefs -a ${ssd.device}`, () => a.tsWipeCacheDevice(at));
  const made = await step(`Recreate the cache: make-bcache -C ${ssd.device}`, () => a.tsMakeCache(at));
  const cset = made.csetUuid ?? '00000000-0000-0000-0000-000000000000';
  fact('new cache set', cset);

  // 6-7. Reattach, cache mode.
  await fanOut(`Reattach every backing device to cache set ${cset}`, names, (device) => a.tsBcacheAttach({ ...at, device, csetUuid: cset }), { concurrency: 1, onFailure: 'ask' });
  await fanOut(`Set the cache mode: ${mode}`, names, (device) => a.tsBcacheCacheMode({ ...at, device, mode }), { concurrency: 1, onFailure: 'ask' });

  // 8. Verify.
  const final = await step('Verify: every bcache device shows clean', () =>
    waitFor('every bcache device clean', async () => {
      const d = await a.tsBcacheStatus(at);
      return { done: d.every((x) => x.state === 'clean' && x.cacheMode === mode), detail: list(d), value: d };
    }, { every: '10s', within: '10m' }),
  { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never });
  fact('resolution', `detached, SSD replaced and wiped, cache ${cset} recreated, ${names.length} device(s) reattached in ${mode}`);
  return `Cache restored: new cache set ${cset} on ${ssd.device}; ${final?.detail ?? list(devices)}.`;
}
