/**
 * Scenario metadata of the train server (seed 004).
 *
 * @module
 */
import type { ScenarioMeta } from '../scenario-meta';

export const TRAIN_SERVER_TOTAL_DATA_LOSS: ScenarioMeta = {
  id: 'train-server.total-data-loss',
  workflowType: 'trainServerTotalDataLoss',
  system: 'train-server',
  title: 'Train server complete data loss: new storage, restore the homes from restic, containers up, tell the users',
  seed: '004 Complete Data Loss Recovery',
  // "4-8 hours + restore time"
  rto: { targetMinutes: 240, maxMinutes: 480 },
  dangerousGates: ['new-btrfs-array'],
};

export const TRAIN_SERVER_CACHE_SSD: ScenarioMeta = {
  id: 'train-server.cache-ssd',
  workflowType: 'trainServerCacheSsd',
  system: 'train-server',
  title: 'Train server bcache SSD failure: detach, replace and wipe the SSD, recreate the cache, reattach in writeback',
  seed: '004 bcache SSD Failure',
  // "1 hour"
  rto: { targetMinutes: 45, maxMinutes: 60 },
  dangerousGates: ['wipe-new-ssd'],
};

export const TRAIN_SERVER_POWER_OUTAGE: ScenarioMeta = {
  id: 'train-server.power-outage',
  workflowType: 'trainServerPowerOutage',
  system: 'train-server',
  title: 'Train server power outage: check the filesystem, scrub if dirty, resume bcache writeback, containers up',
  seed: '004 Power Outage Recovery',
  // "15-30 minutes"
  rto: { targetMinutes: 15, maxMinutes: 30 },
  dangerousGates: [],
};

export const TRAIN_SERVER_OS_DISK: ScenarioMeta = {
  id: 'train-server.os-disk',
  workflowType: 'trainServerOsDisk',
  system: 'train-server',
  title: 'Train server OS disk failure: config.sh from restic, mount the existing array (never format), setup scripts, containers',
  seed: '004 OS Disk Failure',
  // "2-4 hours"
  rto: { targetMinutes: 120, maxMinutes: 240 },
  dangerousGates: [],
};

export const TRAIN_SERVER_BTRFS_CORRUPTION: ScenarioMeta = {
  id: 'train-server.btrfs-corruption',
  workflowType: 'trainServerBtrfsCorruption',
  system: 'train-server',
  title: 'Train server BTRFS corruption: read-only rescue first, check, gated repair, recovery mounts, backups, btrfs restore',
  seed: '004 BTRFS Corruption Recovery',
  // "2-8 hours"
  rto: { targetMinutes: 120, maxMinutes: 480 },
  dangerousGates: ['btrfs-check-repair'],
};

/** The catalogued train-server scenarios (each has a recorded history for the replay test). */
export const TRAIN_SERVER_METAS: readonly ScenarioMeta[] = [TRAIN_SERVER_OS_DISK, TRAIN_SERVER_TOTAL_DATA_LOSS, TRAIN_SERVER_CACHE_SSD, TRAIN_SERVER_POWER_OUTAGE, TRAIN_SERVER_BTRFS_CORRUPTION];
