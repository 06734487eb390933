/**
 * Seed 004, "Power Outage Recovery" (UPS exhausted or absent):
 * 1. the server is powered on (the recovery starts once it answers);
 * 2. check the filesystem: `dmesg | grep -i error`, `btrfs device stats`;
 * 3. if it is dirty, `btrfs scrub start`, polled durably until finished;
 * 4. bcache state; a dirty device gets `writeback_running` = 1;
 * 5. docker compose ps; stopped containers restarted (`up -d`);
 * 6. `btrfs scrub status`: look for errors;
 * 7. notify the users to check their data.
 * RTO 15 min target, 30 min max (seed: "15-30 minutes").
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { TrainServerPowerOutageParams } from '../../catalog';
import type { TsBcacheDevice, TsContainer, TsScrubStatus, TsStorageStatus } from '../../activities/train-server/types';
import { activities, fact, fanOut, note, recoveryInput, runRecovery, step, waitFor, type RecoveryInput, type RecoveryResult } from '../kit';
import { TRAIN_SERVER_POWER_OUTAGE } from '../scenarios';
import { serverNode } from './common';

export type PowerOutageInput = RecoveryInput<Partial<TrainServerPowerOutageParams>>;

export async function trainServerPowerOutage(input: PowerOutageInput): Promise<RecoveryResult> {
  return runRecovery(TRAIN_SERVER_POWER_OUTAGE, input, powerOutage);
}

async function powerOutage(): Promise<string> {
  const input = recoveryInput<Partial<TrainServerPowerOutageParams>>();
  const cluster = input.cluster.name;
  const node = serverNode(input);
  const at = { cluster, node };
  const a = activities();
  const done: string[] = [];

  // 2. Check the filesystem.
  const fs = await step('Check the filesystem: dmesg | grep -i error, btrfs device stats /mnt/storage', () => a.tsStorageStatus(at), {
    describe: ((s: TsStorageStatus) =>
      s.reachable ? `${s.mounted ? `mounted (${s.mountOptions})` : 'NOT mounted'}; device errors ${s.deviceErrors ?? '?'}${s.errorCounters.length ? ` (${s.errorCounters.join(', ')})` : ''}; ${s.kernelErrors.length} kernel error line(s)` : `unreachable: ${s.error}`) as never,
  });
  if (!fs.reachable) throw ApplicationFailure.nonRetryable(`${node} does not answer over SSH (${fs.error}): power it on (step 1) and start again`, 'ServerUnreachable');
  if (!fs.mounted) {
    throw ApplicationFailure.nonRetryable(`/mnt/storage is not mounted after the power loss: the filesystem may be damaged; run train-server.btrfs-corruption`, 'StorageNotMounted');
  }
  for (const line of fs.kernelErrors.slice(-5)) note(`dmesg: ${line}`);
  fact('impact', 'unexpected power loss: containers stopped, filesystem and cache possibly inconsistent');
  fact('root cause', 'power outage (UPS exhausted or unavailable)');

  // 3. Scrub when dirty.
  const dirty = (fs.deviceErrors ?? 0) > 0 || fs.kernelErrors.some((l) => /btrfs/i.test(l)) || input.params.forceScrub === true;
  let scrub: TsScrubStatus | undefined;
  if (dirty) {
    await step('Filesystem dirty: btrfs scrub start /mnt/storage', () => a.tsScrubStart(at));
    const w = await step('Wait for the scrub to finish (btrfs scrub status, polled)', () =>
      waitFor('the scrub has finished', async () => {
        const s = await a.tsScrubStatus(at);
        return { done: s.state === 'finished', detail: `${s.state}: ${s.summary}`, value: s };
      }, { every: '30s', within: '6h', maxProbes: 120 }),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never });
    scrub = w?.value;
    done.push('scrubbed');
  } else {
    note('Device stats and dmesg are clean: no scrub needed');
  }

  // 4. bcache.
  const cache = await step('Check bcache state (/sys/block/bcache*/bcache/state)', () => a.tsBcacheStatus(at), { describe: ((d: TsBcacheDevice[]) => d.map((x) => `${x.name}: ${x.state}`).join(', ') || 'no bcache') as never });
  const dirtyCache = cache.filter((d) => d.state === 'dirty' || !d.writebackRunning);
  if (dirtyCache.length) {
    await fanOut('Dirty cache: resume writeback (echo 1 > writeback_running)', dirtyCache.map((d) => d.name), (device) => a.tsBcacheResumeWriteback({ ...at, device }), { concurrency: 2, onFailure: 'ask' });
    done.push(`writeback resumed on ${dirtyCache.map((d) => d.name).join(', ')}`);
  }

  // 5. Containers.
  const ps = await step('Verify Docker containers: docker compose ps', () => a.tsContainers(at), { describe: ((l: TsContainer[]) => l.map((c) => `${c.name}: ${c.state}`).join(', ')) as never });
  const stopped = ps.filter((c) => c.state !== 'running');
  if (stopped.length) {
    await step(`Restart the stopped containers: docker compose up -d (${stopped.length})`, () => a.tsCompose({ ...at, action: 'up' }), { onFailure: 'ask' });
    done.push(`${stopped.length} container(s) restarted`);
  }

  // 6. Corruption check.
  const status = await step('Check for corrupted data: btrfs scrub status /mnt/storage', () => a.tsScrubStatus(at), { describe: ((s: TsScrubStatus) => `${s.state}: ${s.summary}`) as never });
  const last = scrub ?? status;
  const bad = last.uncorrectable > 0;
  fact('scrub', `${last.summary}${last.corrected ? `; ${last.corrected} corrected` : ''}${bad ? `; ${last.uncorrectable} UNCORRECTABLE` : ''}`);

  // 7. Users.
  const text =
    `The train server lost power and is back.${dirty ? ` A scrub checked the storage: ${last.corrected} error(s) corrected, ${last.uncorrectable} uncorrectable.` : ''}\n` +
    `Please check your data (recent files, running jobs) and restart interrupted training jobs.${bad ? ' Some data may be corrupted: tell the admins which files.' : ''}`;
  await step('Notify users to check their data', () => a.notify({ cluster, severity: bad ? 'critical' : 'info', subject: `${cluster}: back after a power outage, please check your data`, text }));
  fact('resolution', done.join('; ') || 'nothing to repair');
  return `Back after the power outage: ${done.join('; ') || 'filesystem, cache and containers were fine'}${bad ? `; ${last.uncorrectable} uncorrectable error(s) found` : ''}; users notified.`;
}
