/**
 * The lab's inferadb ledger (seed 002): three voters on loopback, driven
 * over SSH through shimmed `systemctl`, `inferadb-ledger` and `aws`, and
 * over gRPC with the real `ledger.v1` API (inferadb-ledger 0.1.0, commit
 * 21345c4), on one of two backends:
 *
 * - `sim` (default; the demo and the fast tests): a simulation of the real
 *   server as far as Lifeboat uses it (./sim): real data directories with
 *   `node_id` and `cluster_id` files, fresh nodes that join through their
 *   `--join` seeds, a GLOBAL leader and a region leader that can differ,
 *   leader hints in ErrorDetails, elections that need a majority, nodes
 *   restarted on old data that never catch up, onboarding, organizations,
 *   vaults, idempotent writes, divergence with auto-recovery, metrics;
 * - `real` (the conformance suite): each node is a real `inferadb-ledger`
 *   process (./real).
 *
 * Each node runs as a fixed systemd-like unit (./units): `--listen`,
 * `--data <host>/data`, `--metrics`, `--join` every node, an email blinding
 * key. At start the lab forms the cluster (`init` on the first node) and
 * seeds it ({@link LAB_LEDGER_SEED}: region `us-east-va`, organization
 * `500000000000000001` "acme", vault `600000000000000001`, `doc:1..20` and
 * five relationships) through the same gRPC calls on both backends (./seed).
 * Faults (./faults) and the DR region (./dr, ./engine) work on both.
 *
 * Effects recorded (cluster, node, effect): `ledger.service.start` /
 * `ledger.service.stop` (systemctl, only when something changed),
 * `ledger.init` (the init shim initialized a cluster), `ledger.archive-push`
 * and `ledger.dr-sync` (aws); in the simulation also what the node received
 * over gRPC from Lifeboat: `ledger.leave` (on the removed node),
 * `ledger.region`, `ledger.user`, `ledger.org`, `ledger.vault`,
 * `ledger.write` (on the leader that took it), `ledger.recover-vault`. The
 * lab's own seed records nothing; its faults record `fault.kill` and
 * `fault.wipe`.
 *
 * @module
 */
export { LedgerFamily, type LedgerFamilyOptions } from './family';
export { LEDGER_FAULTS } from './faults';
export { LedgerDrFamily, LEDGER_DR_FAULTS, REPLICATION_LAG_MS, type LedgerDrFamilyOptions } from './dr';
export { DR_ENDPOINT, PRIMARY_ENDPOINT } from './engine';
export { ARCHIVE_KEY, BACKUP_BUCKET, labS3Root, REPLICA_BUCKET } from './s3';
export { LAB_LEDGER_SEED, seedValue } from './seed';
export { EMAIL_BLINDING_KEY, LEDGER_VERSION } from './units';
export { ledgerBinaryPath, requireLedgerBinary } from './real';
export { DEFAULT_TIMINGS, type SimTimings } from './sim/cluster';
export type { LedgerBackendKind } from './backend';
