/**
 * The simulated ML train server (seed 004): one host `train1` with BTRFS on
 * HDDs (`/dev/sdb`, `/dev/sdc`, `/dev/sdd`), a bcache cache on an SSD
 * (`/dev/nvme0n1p2`), docker compose, GPUs, and a real restic repository.
 *
 * What is real: files under the host root — user homes
 * (`mnt/storage/homes/<user>/...`), workspaces, `etc/fstab`, the checkout
 * `root/train-server/` (config.sh, `scripts/0X-*.sh`, `docker/`), and the
 * bcache sysfs files `sys/block/bcache<N>/bcache/{state,cache_mode,attach,detach,writeback_running}`
 * (a shell write such as `echo 1 > .../detach` or `... | tee .../attach` is
 * picked up by a 50 ms poll, as the kernel would) — and the restic
 * repository, created at lab start with the restic binary and holding real
 * snapshots of the homes and config.sh; its password is a secret file.
 *
 * What is simulated (shims acting on this module's state): `btrfs`
 * (device stats, scrub start/status, check --readonly/--repair, restore,
 * filesystem show), `mount`/`umount`/`blkid`, `mkfs.btrfs`, `wipefs`,
 * `make-bcache`, `bcache-super-show`, `docker` (compose ps/build/up -d, ps),
 * `nvidia-smi`, `dmesg`, `chown`, `rsync` (copies for real), and `lab-setup`
 * (what every setup script calls to record its run).
 *
 * Paths: the host is a directory, not a chroot, so the inventory's cluster
 * setting `root` holds the host root; activities prepend it to every runbook
 * path (`/mnt/storage` is `<root>/mnt/storage`). Shims accept both forms.
 *
 * Effects: btrfs.scrub-started, btrfs.repair, btrfs.restore, mount, umount,
 * btrfs.created (mkfs), fstab.appended, bcache.detached, bcache.attached,
 * bcache.cache-mode, bcache.writeback-resumed, ssd.wiped, bcache.cache-created,
 * restic.restore (a restore started: the host's restic wrapper reports it
 * before restic runs), restic.restored (that restore completed: restic exited
 * 0), chown, docker.build, docker.up, setup-script.run, rsync.
 *
 * Faults: train-server.os-disk, train-server.total-data-loss,
 * train-server.cache-ssd, train-server.power-outage,
 * train-server.btrfs-corruption; and `train-server.swap-ssd`, the
 * technician's hands: puts a new SSD (with a stale signature) in place of
 * the failed one.
 *
 * Files: {@link TrainServerFamily} in ./family (the lab core's entry point),
 * the host's state and paths in ./host, the OS checkout and setup scripts in
 * ./setup, BTRFS and fstab in ./btrfs, bcache and its sysfs in ./bcache,
 * containers in ./docker, the restic repository in ./restic, the shim
 * dispatch in ./commands, the faults in ./faults.
 *
 * @module
 */
export { TrainServerFamily, type TrainServerOptions } from './family';
export { TRAIN_SERVER_FAULTS } from './faults';
export { TRAIN_USERS } from './host';
