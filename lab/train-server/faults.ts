/**
 * The train server's scenario faults (seed 004), and `train-server.swap-ssd`,
 * the technician's hands: a new SSD (with a stale signature) in place of the
 * failed one.
 *
 * @module
 */
import { mkdirSync, rmSync } from 'node:fs';
import { writeSysfs } from './bcache';
import { writeFstab } from './btrfs';
import { MOUNT, TRAIN_USERS, type TrainHost } from './host';
import { installOs } from './setup';

/** The faults of the train-server family, in the order `lab break` lists them. */
export const TRAIN_SERVER_FAULTS = [
  'train-server.os-disk',
  'train-server.total-data-loss',
  'train-server.cache-ssd',
  'train-server.power-outage',
  'train-server.btrfs-corruption',
  'train-server.swap-ssd',
];

/** Injects one of {@link TRAIN_SERVER_FAULTS}; throws on an unknown name. */
export async function breakFault(host: TrainHost, fault: string): Promise<void> {
  switch (fault) {
    case 'train-server.os-disk':
      // The OS disk died and was replaced: a fresh OS, the repo cloned without config.sh,
      // nothing mounted, fstab without the array, no containers; the HDD array is intact.
      rmSync(host.p('/root'), { recursive: true, force: true });
      installOs(host, false);
      writeFstab(host, false);
      host.s.mounted = null;
      host.s.built = false;
      for (const c of Object.keys(host.s.containers)) host.s.containers[c] = false;
      host.s.dmesg.push('[    0.913] nvme nvme0: new OS disk; no btrfs filesystem mounted');
      return;
    case 'train-server.total-data-loss':
      // Every disk lost: new hardware and OS, blank HDDs, nothing of the homes left.
      rmSync(host.p('/root'), { recursive: true, force: true });
      rmSync(host.p(MOUNT), { recursive: true, force: true });
      mkdirSync(host.p(MOUNT), { recursive: true });
      installOs(host, false);
      writeFstab(host, false);
      host.s.arrayUuid = null;
      host.s.mounted = null;
      host.s.built = false;
      for (const u of TRAIN_USERS) host.s.owners[u] = 'missing';
      for (const c of Object.keys(host.s.containers)) host.s.containers[c] = false;
      return;
    case 'train-server.cache-ssd':
      host.s.ssd = 'failed';
      host.s.dmesg.push('[ 8123.554] nvme0n1: I/O error, dev nvme0n1, sector 2048 op 0x1:(WRITE)', '[ 8123.560] bcache: bch_cache_set_error() error on cache set: IO error, disabling caching');
      writeSysfs(host);
      return;
    case 'train-server.swap-ssd':
      if (host.s.ssd !== 'failed') throw new Error(`${host.cluster}: the SSD has not failed (state ${host.s.ssd})`);
      host.s.ssd = 'new-stale-signature';
      writeSysfs(host);
      return;
    case 'train-server.power-outage':
      host.s.dirty = true;
      host.s.scrub = null;
      for (const b of host.s.bcache) {
        b.dirty = true;
        b.writebackRunning = false;
      }
      for (const c of Object.keys(host.s.containers)) host.s.containers[c] = false;
      host.s.dmesg.push('[    3.402] BTRFS error (device sdb): parent transid verify failed on 30408704 wanted 4243 found 4241', '[    3.410] BTRFS info (device sdb): read error corrected: ino 257 off 0');
      writeSysfs(host);
      return;
    case 'train-server.btrfs-corruption':
      host.s.corruption = 'moderate';
      host.s.mounted = null;
      for (const c of Object.keys(host.s.containers)) host.s.containers[c] = false;
      host.s.dmesg.push('[   12.004] BTRFS error (device sdb): bad tree block start, want 30425088 have 0', '[   12.010] BTRFS error (device sdb): open_ctree failed');
      return;
    default:
      throw new Error(`${host.cluster} knows no fault "${fault}"; known: ${TRAIN_SERVER_FAULTS.join(', ')}`);
  }
}
