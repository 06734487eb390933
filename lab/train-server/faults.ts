/**
 * The train server's faults: one per scenario of seed 004, harder variants,
 * and the hands of the people a recovery waits for (the technician who
 * swaps the SSD or reconnects a disk, the operator who runs a setup script
 * at a terminal or recreates config.sh). The storage part of each is the
 * backend's (./sim or ./real: on real devices they are made for real); the
 * OS, cache and container parts are shared.
 *
 * @module
 */
import { mkdirSync, rmSync } from 'node:fs';
import { writeSysfs } from './bcache';
import { writeFstab } from './fstab';
import { MOUNT, TRAIN_USERS, type TrainHost } from './host';
import { byHand, installOs } from './setup';

/** The faults of the train-server family, in the order `lab break` lists them. */
export const TRAIN_SERVER_FAULTS = [
  'train-server.os-disk',
  'train-server.total-data-loss',
  'train-server.cache-ssd',
  'train-server.power-outage',
  'train-server.btrfs-corruption',
  'train-server.btrfs-corruption.severe',
  'train-server.btrfs-corruption.degraded',
  'train-server.btrfs-corruption.repairable',
  'train-server.swap-ssd',
  'train-server.reattach-disk',
  'train-server.by-hand.02-setup-gdrive-shared',
  'train-server.by-hand.06-setup-cloudflare-tunnel',
  'train-server.by-hand.config',
];

/** The OS disk is new: the repo cloned without config.sh, no /root/.restic-password, fstab without the array, nothing built. */
function newOs(host: TrainHost): void {
  rmSync(host.p('/root'), { recursive: true, force: true });
  rmSync(host.p('/etc'), { recursive: true, force: true });
  rmSync(host.p('/opt'), { recursive: true, force: true });
  installOs(host, false);
  writeFstab(host, null);
  host.s.built = false;
  for (const c of Object.keys(host.s.containers)) host.s.containers[c] = false;
}

/** Injects one of {@link TRAIN_SERVER_FAULTS}; throws on an unknown name. */
export async function breakFault(host: TrainHost, fault: string): Promise<void> {
  switch (fault) {
    case 'train-server.os-disk':
      // The OS disk died and was replaced: a fresh OS; the HDD array is intact but not mounted.
      await host.storage.breakFault('os-disk');
      newOs(host);
      host.s.dmesg.push('[    0.913] nvme nvme0: new OS disk installed');
      return;
    case 'train-server.total-data-loss':
      // Every disk lost: new hardware and OS, blank HDDs, nothing of the homes left.
      await host.storage.breakFault('wiped');
      newOs(host);
      rmSync(host.p(MOUNT), { recursive: true, force: true });
      mkdirSync(host.p(MOUNT), { recursive: true });
      for (const u of TRAIN_USERS) host.s.owners[u] = 'missing';
      return;
    case 'train-server.cache-ssd':
      await host.storage.breakFault('ssd-failed');
      host.s.ssd = 'failed';
      host.s.dmesg.push('[ 8123.554] nvme0n1: I/O error, dev nvme0n1, sector 2048 op 0x1:(WRITE)', '[ 8123.560] bcache: bch_cache_set_error() error on cache set: IO error, disabling caching');
      writeSysfs(host);
      return;
    case 'train-server.swap-ssd':
      if (host.s.ssd !== 'failed') throw new Error(`${host.cluster}: the SSD has not failed (state ${host.s.ssd})`);
      await host.storage.breakFault('ssd-swapped');
      host.s.ssd = 'new-stale-signature';
      writeSysfs(host);
      return;
    case 'train-server.power-outage':
      await host.storage.breakFault('power-outage');
      for (const b of host.s.bcache) {
        b.dirty = true;
        b.writebackRunning = false;
      }
      for (const c of Object.keys(host.s.containers)) host.s.containers[c] = false;
      writeSysfs(host);
      return;
    case 'train-server.btrfs-corruption':
    case 'train-server.btrfs-corruption.severe':
    case 'train-server.btrfs-corruption.repairable':
    case 'train-server.btrfs-corruption.degraded':
      await host.storage.breakFault(
        fault.endsWith('.severe') ? 'corrupt-roots' : fault.endsWith('.repairable') ? 'corrupt-repairable' : fault.endsWith('.degraded') ? 'degraded' : 'corrupt-root',
      );
      for (const c of Object.keys(host.s.containers)) host.s.containers[c] = false;
      return;
    case 'train-server.reattach-disk':
      await host.storage.breakFault('reattach');
      return;
    case 'train-server.by-hand.02-setup-gdrive-shared':
    case 'train-server.by-hand.06-setup-cloudflare-tunnel':
    case 'train-server.by-hand.config':
      byHand(host, fault.slice('train-server.by-hand.'.length));
      return;
    default:
      throw new Error(`${host.cluster} knows no fault "${fault}"; known: ${TRAIN_SERVER_FAULTS.join(', ')}`);
  }
}
