/**
 * The context of the train server's activities (seed 004): the shared
 * plumbing and the server's settings with their defaults (the repository's
 * values at HEAD, ptrkhh/on-prem-training fc7610c, where the runbook's are
 * out of date).
 *
 * @module
 */
import { systemContext, type ActivityContext, type SystemContext } from '../context';

/** The setup scripts of the repository's HEAD, in order. */
export const HEAD_SETUP_SCRIPTS = [
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

/** Per-cluster settings of a train server, with their defaults. */
export const TRAIN_SERVER_DEFAULTS = {
  /** Prefix of every absolute runbook path (the lab: its host directory). */
  root: '',
  sudo: false,
  storageMount: '/mnt/storage',
  /** The array's first device (with bcache the filesystem lives on /dev/bcacheN, not on the HDD). */
  storageDevice: '/dev/bcache0',
  /** Every device the array lives on, comma-separated ('' = storageDevice). */
  storageDevices: '/dev/bcache0,/dev/bcache1',
  /** The disks 01-setup-storage.sh wipes (HDD_DEVICES; '' = storageDevices). */
  hddDevices: '/dev/sdb,/dev/sdc',
  /** The bcache cache partition: at HEAD `${NVME_DEVICE}p3`, next to the OS on p2. */
  cacheDevice: '/dev/nvme0n1p3',
  /** Identity pins, `<device>=<serial|wwn|size|backing|uuid>:<value>`, comma-separated; required for the disks of a new array. */
  deviceIds: '',
  /** The array's label (01-setup-storage.sh: mkfs.btrfs -L ml-storage). */
  storageLabel: 'ml-storage',
  /** The train-server checkout (config.sh, scripts/, docker/). */
  repoDir: '/root/train-server',
  /** The setup scripts, in order (the checkout's names; default: HEAD's). */
  setupScripts: HEAD_SETUP_SCRIPTS.join(','),
  /** Answers to the setup scripts' questions: JSON `{ "<script>": { "<question, or its start>": "<answer>" } }`. */
  setupAnswers: '',
  users: 'alice,bob,charlie,dave,eve',
  mountOptions: 'defaults,noatime,compress=zstd:3',
  resticBinary: 'restic',
  resticRepository: 'rclone:gdrive:backups/ml-train-server',
  /**
   * References to the repository password, tried in order, comma-separated:
   * `env:NAME` / `file:/path` on the worker, `host:/path` on the server
   * (where the setup scripts keep it: /root/.restic-password, on the OS disk).
   */
  resticPassword: 'host:/root/.restic-password',
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
