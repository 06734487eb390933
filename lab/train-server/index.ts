/**
 * The ML train server (seed 004) of the lab: one host `train1` with its
 * storage (BTRFS RAID1 behind bcache, simulated; or real BTRFS on loop
 * devices), the bcache cache on the SSD, docker compose, GPUs, the
 * repository checkout with its setup scripts, and a real restic repository.
 *
 * What is real on either backend: files under the host root (user homes
 * `mnt/storage/homes/<user>/...`, workspaces, docker volumes, `etc/fstab`, the
 * checkout `root/train-server/` with config.sh and `scripts/NN-*.sh`), the
 * setup scripts themselves (bash, asking their questions with `read -p`),
 * the bcache sysfs files `sys/block/bcache<N>/bcache/*` (a shell's write is
 * picked up by a 50 ms poll, as the kernel would), and the restic repository
 * (real snapshots of homes, docker-volumes and shared/tensorboard; its
 * password on the host in `/root/.restic-password`, the operator's copy in
 * the lab's secrets directory).
 *
 * The storage ({@link TrainStorage}): `sim` ({@link SimStorage}) answers
 * `btrfs`, `mount`, `lsblk`, `blkid`, `findmnt`, `mkfs.btrfs`, `wipefs`... from
 * its state in the real tools' formats; `real` ({@link RealStorage}) runs
 * them on loop devices, with every fault made for real. Always simulated:
 * bcache (`make-bcache`, `bcache-super-show`, sysfs), docker, `nvidia-smi`,
 * user accounts (`chown`).
 *
 * Paths: the host is a directory, not a chroot, so the inventory's cluster
 * setting `root` holds the host root; activities prepend it to every runbook
 * path (`/mnt/storage` is `<root>/mnt/storage`). Shims accept both forms.
 *
 * Effects: mount, umount, btrfs.scrub-started, btrfs.repair, btrfs.restore,
 * btrfs.created (mkfs), disk.wiped, ssd.wiped, fstab.appended,
 * bcache.detached, bcache.attached, bcache.cache-mode,
 * bcache.writeback-resumed, bcache.cache-created, restic.restore (a restore
 * started: the host's restic wrapper reports it before restic runs),
 * restic.restored (that restore completed), chown, docker.build, docker.up,
 * setup-script.run, rsync.
 *
 * Faults: {@link TRAIN_SERVER_FAULTS}.
 *
 * Files: {@link TrainServerFamily} in ./family (the lab core's entry point),
 * the host in ./host, the storage backends in ./storage, ./sim and ./real,
 * the OS checkout and setup scripts in ./setup, fstab in ./fstab, bcache
 * and its sysfs in ./bcache, containers in ./docker, the restic repository
 * in ./restic, the shim dispatch in ./commands, the faults in ./faults.
 *
 * @module
 */
export { TrainServerFamily, type TrainServerOptions } from './family';
export { TRAIN_SERVER_FAULTS } from './faults';
export { TRAIN_USERS } from './host';
export { cleanLeftovers, LOOP_PREFIX, RealStorage } from './real';
export { SimStorage } from './sim';
export { SETUP_SCRIPTS, SCRIPT_FILES, LAB_SETUP_ANSWERS } from './setup';
export type { TrainBackendKind, TrainStorage } from './storage';
