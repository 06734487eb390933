/**
 * The train server (seed 004) scenarios: input schemas and parameter help.
 *
 * @module
 */
import { z } from 'zod';
import { TRAIN_SERVER_METAS, TRAIN_SERVER_TOTAL_DATA_LOSS, TRAIN_SERVER_CACHE_SSD, TRAIN_SERVER_POWER_OUTAGE, TRAIN_SERVER_OS_DISK, TRAIN_SERVER_BTRFS_CORRUPTION } from '../workflows/scenarios';
import type { ScenarioSpec } from './spec';

const snapshotId = z.string().regex(/^[0-9a-f]{8,64}$/, { message: 'must be a restic snapshot id (8 to 64 hex digits, see `restic snapshots`)' });

export const trainServerTotalDataLossParams = z
  .object({
    /** Restic snapshot to restore the homes from; default: the approver picks (latest first). */
    snapshot: snapshotId.optional(),
  })
  .strict();
export type TrainServerTotalDataLossParams = z.infer<typeof trainServerTotalDataLossParams>;

export const trainServerCacheSsdParams = z
  .object({
    /** Cache mode set on every backing device after the reattach. */
    cacheMode: z.enum(['writeback', 'writethrough']).default('writeback'),
  })
  .strict();
export type TrainServerCacheSsdParams = z.infer<typeof trainServerCacheSsdParams>;

export const trainServerPowerOutageParams = z
  .object({
    /** Scrub even when the device stats show no error. */
    forceScrub: z.boolean().default(false),
  })
  .strict();
export type TrainServerPowerOutageParams = z.infer<typeof trainServerPowerOutageParams>;

export const trainServerOsDiskParams = z
  .object({
    /** Restic snapshot config.sh is restored from; default latest. */
    snapshot: snapshotId.optional(),
  })
  .strict();
export type TrainServerOsDiskParams = z.infer<typeof trainServerOsDiskParams>;

export const trainServerBtrfsCorruptionParams = z
  .object({
    /** Where rescued data is copied (the runbook's external backup disk). */
    rescueDir: z.string().regex(/^\/[^\0\n]*[^/]$/, { message: 'must be an absolute directory path' }).default('/mnt/external-backup'),
    /** Where `btrfs restore` writes, as a last resort. */
    recoveryDir: z.string().regex(/^\/[^\0\n]*[^/]$/, { message: 'must be an absolute directory path' }).default('/mnt/recovery-output'),
  })
  .strict();
export type TrainServerBtrfsCorruptionParams = z.infer<typeof trainServerBtrfsCorruptionParams>;

const ALL: readonly ScenarioSpec[] = [
  {
    ...TRAIN_SERVER_TOTAL_DATA_LOSS,
    params: trainServerTotalDataLossParams,
    paramHelp: { snapshot: 'restic snapshot to restore the homes from (default: the approver picks, latest first)' },
  },
  { ...TRAIN_SERVER_CACHE_SSD, params: trainServerCacheSsdParams, paramHelp: { cacheMode: 'cache mode after the reattach (default writeback)' } },
  { ...TRAIN_SERVER_POWER_OUTAGE, params: trainServerPowerOutageParams, paramHelp: { forceScrub: 'scrub even when device stats are clean (default false)' } },
  { ...TRAIN_SERVER_OS_DISK, params: trainServerOsDiskParams, paramHelp: { snapshot: 'restic snapshot config.sh comes from (default latest)' } },
  {
    ...TRAIN_SERVER_BTRFS_CORRUPTION,
    params: trainServerBtrfsCorruptionParams,
    paramHelp: { rescueDir: 'where rescued data is copied (default /mnt/external-backup)', recoveryDir: 'btrfs restore output (default /mnt/recovery-output)' },
  },
];

/** Only the scenarios listed in TRAIN_SERVER_METAS (those with a recorded history) are catalogued. */
export const TRAIN_SERVER_SCENARIOS: readonly ScenarioSpec[] = ALL.filter((s) => TRAIN_SERVER_METAS.some((m) => m.id === s.id));
