#!/usr/bin/env bash
# Lifeboat's conformance suite (`npm run conformance`): the scenario cases run
# against the REAL target systems, where they can run on this machine, with
# faults made for real (kill -9 of server processes, data directories
# removed). The same cases pass against the lab's simulation in `npm test`.
#
# What it needs, besides `npm run setup`:
#   - the inferadb ledger server, 21345c4 (inferadb-ledger 0.1.0):
#     LIFEBOAT_LEDGER_BIN, or ../shared/targets/inferadb-ledger/bin/inferadb-ledger
#     beside this checkout; build one with
#       git clone https://github.com/inferadb/ledger && cd ledger && git checkout 21345c4
#       cargo build --release -p inferadb-ledger-server --bin inferadb-ledger   # needs protoc
#     and its proto (LIFEBOAT_LEDGER_PROTO, or ../shared/targets/inferadb-ledger/proto/ledger.proto).
#   - the train server (seed 004) on real BTRFS: root, loop devices (/dev/loop-control) and
#     btrfs-progs (scripts/setup.sh installs it from apt); RAID1 over two loop devices on sparse
#     files under $TMPDIR/lb-ts-<pid>-*, removed after each case (a crashed run's at the next start).
#   - the gossip cluster, memberlist-plumtree 0.1.6 (crates.io): plumtree-node and the
#     control crate's tests, built by setup with cargo (Rust >= 1.89) into
#     LIFEBOAT_CARGO_TARGET_DIR (default ~/.cache/lifeboat/plumtree-target); root and `ip`
#     (iproute2) for the nodes' network namespaces (lb-gossip-*).
#   - the production stack (test/conformance/stack.test.ts): the Temporal server v1.32.0 and
#     temporal-sql-tool, built by setup (scripts/setup-temporal-server.sh, Go >= 1.26) into
#     .tools/temporal-server/, and PostgreSQL from apt (run as the postgres user when root),
#     under $TMPDIR/lb-stack-<pid>-* (a crashed run's processes and directory removed at the next start).
# A missing target fails its tests with the message above; nothing is skipped.
#
#   npm run conformance                          everything
#   npm run conformance -- test/conformance/x.test.ts   one file
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

if [ "${LIFEBOAT_SKIP_SETUP:-}" != 1 ]; then
  bash scripts/setup.sh || {
    echo "conformance: setup failed (see above); no test was run." >&2
    echo "0 passed, 1 failed"
    exit 1
  }
fi

BIN="${LIFEBOAT_LEDGER_BIN:-$ROOT/../shared/targets/inferadb-ledger/bin/inferadb-ledger}"
if [ -x "$BIN" ]; then
  echo "conformance: inferadb ledger $("$BIN" --version 2>/dev/null | awk '{print $2}') at $BIN"
else
  echo "conformance: no inferadb-ledger at $BIN: the ledger's cases will fail; set LIFEBOAT_LEDGER_BIN (how to build one: scripts/conformance.sh)" >&2
fi

# Real servers take their time (elections of minutes at inferadb-ledger 0.1.0): 30 min per test.
export LIFEBOAT_TEST_TIMEOUT_MS="${LIFEBOAT_TEST_TIMEOUT_MS:-1800000}"
if [ "$#" -eq 0 ]; then set -- dist/test/conformance; fi
LIFEBOAT_SKIP_SETUP=1 exec bash scripts/test.sh "$@"
