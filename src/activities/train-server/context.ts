/**
 * The context of the train server's activities (seed 004): the shared
 * plumbing and the server's settings with their defaults (the runbook's
 * values).
 *
 * @module
 */
import { systemContext, type ActivityContext, type SystemContext } from '../context';

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

/** What the train server activities work with: the shared plumbing and these settings. */
export type TrainServerContext = SystemContext<typeof TRAIN_SERVER_DEFAULTS>;

/** Narrows the worker's context to the train server. */
export function trainServerContext(base: ActivityContext): TrainServerContext {
  return systemContext(base, TRAIN_SERVER_DEFAULTS);
}
