#!/usr/bin/env bash
# The production stack's real parts, for the stack test of the conformance
# suite (test/conformance/stack.test.ts): the Temporal server and its schema
# tool built from the pinned Go module into .tools/temporal-server/, and
# PostgreSQL from apt. Called by scripts/setup.sh; idempotent (a second run
# only asks each binary its version).
#
# The Go build and module caches stay at Go's default places outside the
# clone (go env GOCACHE GOMODCACHE), so a second clone builds in seconds.
# The first build takes 10-20 minutes on two cores.
#
#   bash scripts/setup-temporal-server.sh
#
# Environment:
#   LIFEBOAT_SKIP_TEMPORAL_SERVER=1   skip it (the stack test then fails saying so)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The server release the Temporal CLI 1.9.1 embeds (its dev server says
# "Server 1.32.0"), so the dev server and the real one run the same code.
# v1.32.1 and later need Go >= 1.26.10.
TEMPORAL_SERVER_VERSION=v1.32.0
# PostgreSQL major version from Debian (bookworm: 15).
OUT="$ROOT/.tools/temporal-server"
LOG_DIR="$ROOT/.tools/logs"

die() {
  printf 'setup: ERROR: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf 'setup:   %s\n' "$line" >&2; done
  exit 1
}
note() { printf 'setup: %s\n' "$*"; }
quietly() {
  local name=$1
  shift
  mkdir -p "$LOG_DIR"
  local log="$LOG_DIR/$name.log"
  "$@" >"$log" 2>&1 && return 0
  local rc=$?
  printf "setup: '%s' failed (exit %s); last lines of %s:\n" "$*" "$rc" "${log#"$ROOT"/}" >&2
  tail -n 25 "$log" | sed 's/^/  | /' >&2
  return "$rc"
}

if [ "${LIFEBOAT_SKIP_TEMPORAL_SERVER:-}" = 1 ]; then
  note "temporal-server: skipped (LIFEBOAT_SKIP_TEMPORAL_SERVER=1)"
  exit 0
fi

AS_ROOT=()
CAN_ROOT=1
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then AS_ROOT=(sudo -n); else CAN_ROOT=0; fi
fi

# --- PostgreSQL -------------------------------------------------------------------
# Only the server binaries are used: the test runs its own cluster (initdb in a
# temp dir, loopback port), never the system service.
pg_bindir() { compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1 | xargs -r dirname; }
if [ -z "$(pg_bindir)" ]; then
  if [ "$CAN_ROOT" -eq 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)." \
      "Install it as root: apt-get install -y postgresql (the stack test starts its own cluster; the system service need not run)."
  fi
  note "installing postgresql (apt-get)..."
  # As for sshd in setup.sh: policy-rc.d answering 101 keeps the package from
  # starting the system cluster's service.
  POLICY=/usr/sbin/policy-rc.d
  made_policy=""
  if [ ! -e "$POLICY" ]; then
    "${AS_ROOT[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $POLICY && chmod 755 $POLICY" && made_policy=1
    trap '[ -n "$made_policy" ] && "${AS_ROOT[@]}" rm -f "$POLICY"' EXIT
  fi
  ok=1
  quietly apt-update-pg "${AS_ROOT[@]}" apt-get update -qq || ok=""
  [ -n "$ok" ] && { quietly apt-postgresql "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends postgresql || ok=""; }
  [ -n "$made_policy" ] && "${AS_ROOT[@]}" rm -f "$POLICY" && made_policy=""
  [ -n "$ok" ] && [ -n "$(pg_bindir)" ] ||
    die "apt-get could not install postgresql." "See .tools/logs/apt-*postgresql*.log; check the Debian mirror is reachable and re-run."
fi

# --- temporal-server and temporal-sql-tool ------------------------------------------
# The binaries carry the module version in their build info (go version -m).
built_version() { # <binary>
  [ -x "$1" ] || return 0
  go version -m "$1" 2>/dev/null | awk '$1 == "mod" && $2 == "go.temporal.io/server" { print $3 }'
}
GO="$(command -v go || true)"
[ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
PATH="$(dirname "${GO:-/usr/bin/go}"):$PATH"

# The module's go directive (go.mod: go 1.26.8); with GOTOOLCHAIN=local an older Go refuses it.
GO_MIN=1.26.8
go_ok() {
  [ -n "$GO" ] || return 1
  local v
  v="$("$GO" env GOVERSION 2>/dev/null | sed 's/^go//')"
  [ "$(printf '%s\n%s\n' "$GO_MIN" "$v" | sort -V | head -n 1)" = "$GO_MIN" ]
}
build() { # <binary name> <package>
  local bin=$1 pkg=$2
  [ "$(built_version "$OUT/$bin")" = "$TEMPORAL_SERVER_VERSION" ] && return 0
  # Like cargo for the gossip nodes: without a recent enough Go, only the stack test cannot run
  # (it fails saying how to get it); the rest of the setup goes on.
  if ! go_ok; then
    note "warning: $bin $TEMPORAL_SERVER_VERSION is not built: it needs Go >= $GO_MIN (found: $([ -n "$GO" ] && "$GO" env GOVERSION 2>/dev/null || echo none)); install it from https://go.dev/dl into /usr/local/go and re-run; the stack test of the conformance suite fails until then"
    return 1
  fi
  note "building $bin $TEMPORAL_SERVER_VERSION with go install (first time: 10-20 minutes)..."
  mkdir -p "$OUT/tmp"
  # Into a scratch GOBIN, then renamed: an interrupted build leaves no half binary.
  GOBIN="$OUT/tmp" GOTOOLCHAIN=local quietly "go-$bin" "$GO" install "$pkg@$TEMPORAL_SERVER_VERSION" ||
    die "go install of $pkg@$TEMPORAL_SERVER_VERSION failed." \
      "See .tools/logs/go-$bin.log; check the Go module proxy is reachable (go env GOPROXY)."
  mv -f "$OUT/tmp/$(basename "$pkg")" "$OUT/$bin"
  rmdir "$OUT/tmp" 2>/dev/null || true
}
build temporal-server go.temporal.io/server/cmd/server || exit 0
build temporal-sql-tool go.temporal.io/server/cmd/tools/sql || exit 0

# The SQL schemas the tool applies ship in the module, not in the binary:
# copied beside it from the module cache (read-only there).
SCHEMA="$OUT/schema/postgresql/v12"
if [ ! -f "$SCHEMA/.version" ] || [ "$(cat "$SCHEMA/.version")" != "$TEMPORAL_SERVER_VERSION" ]; then
  moddir="$(GOTOOLCHAIN=local GOFLAGS=-mod=mod "$GO" list -m -f '{{.Dir}}' "go.temporal.io/server@$TEMPORAL_SERVER_VERSION" 2>/dev/null || true)"
  [ -z "$moddir" ] && moddir="$("$GO" env GOMODCACHE)/go.temporal.io/server@$TEMPORAL_SERVER_VERSION"
  [ -d "$moddir/schema/postgresql/v12" ] ||
    die "the PostgreSQL schemas of go.temporal.io/server@$TEMPORAL_SERVER_VERSION are not in the module cache ($moddir)." \
      "Re-run after: GOTOOLCHAIN=local go mod download go.temporal.io/server@$TEMPORAL_SERVER_VERSION"
  rm -rf "$SCHEMA"
  mkdir -p "$(dirname "$SCHEMA")"
  cp -R "$moddir/schema/postgresql/v12" "$SCHEMA"
  chmod -R u+w "$SCHEMA"
  echo "$TEMPORAL_SERVER_VERSION" >"$SCHEMA/.version"
fi
[ "${LIFEBOAT_SETUP_QUIET:-}" = 1 ] ||
  note "temporal-server $TEMPORAL_SERVER_VERSION and temporal-sql-tool in .tools/temporal-server, PostgreSQL $("$(pg_bindir)/postgres" --version | awk '{print $3}')"
