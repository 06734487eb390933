/**
 * The lab's simulated inferadb ledger cluster (seed 002): three Raft-style
 * voters, each a real `ledger.v1` gRPC server and a Prometheus metrics
 * endpoint on loopback, driven over SSH through two shimmed tools,
 * `systemctl` and `inferadb-ledger`, exactly as the runbook writes them.
 *
 * What is real: every node's data is a JSON file in `<host root>/data`
 * (or wherever `--data` / `INFERADB__LEDGER__DATA` points), loaded when the
 * node starts, so `rm -rf /data/*` over SSH really loses it; a stopped node's
 * ports really refuse connections; vaults are hash chains that
 * `CheckIntegrity` really verifies from the file.
 *
 * What is simulated (see {@link LedgerFamily}): the Raft protocol itself.
 * A cluster id has a leader only while a majority of its configured voters
 * run with that id (elected after `electionMs`); writes go through the
 * leader and are copied to every running member; `--single` mints a new
 * cluster identity; a node holding another cluster's data is refused on
 * join (split-brain protection) but can still be started in cluster mode,
 * where it shows up as a second cluster, the hazard the runbook warns of.
 *
 * Files: {@link LedgerFamily} in ./family (the lab core's entry point), the
 * nodes and the simulated Raft in ./cluster, a node's gRPC services and
 * metrics in ./services, its process lifecycle in ./lifecycle, the
 * `systemctl` and `inferadb-ledger` shims in ./commands, the buckets and the
 * `aws s3` shim in ./s3, the faults in ./faults, the on-disk state in
 * ./state, the proto in ./proto, and the DR region ({@link LedgerDrFamily})
 * in ./dr.
 *
 * @module
 */
export { LedgerFamily, type LedgerFamilyOptions } from './family';
export { LEDGER_FAULTS } from './faults';
export { LedgerDrFamily, LEDGER_DR_FAULTS, DR_ENDPOINT, PRIMARY_ENDPOINT, REPLICA_BUCKET, REPLICATION_LAG_MS, type LedgerDrFamilyOptions } from './dr';
export { labS3Root } from './s3';
export { LEDGER_PROTO_OPTIONS, LEDGER_PROTO_PATH, loadLedgerPackage } from './proto';
