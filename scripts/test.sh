#!/usr/bin/env bash
# Lifeboat's test command (`npm test`): setup + build, lint, then every
# compiled test under dist/test with Node's built-in runner.
#
#   npm test                                   everything (lint, and `docker compose
#                                              config` where that plugin exists)
#   npm test -- dist/test/unit/foo.test.js     a subset (no lint); test/**/*.ts
#   npm test -- test/unit/foo.test.ts          paths and directories work too
#   npm run conformance                        the conformance suite (test/conformance:
#                                              the real target systems), see scripts/conformance.sh
#
# Two runner invocations, so that slow tests with real servers do not starve:
#   1. unit + integration (and anything else): 2 files at a time;
#   2. e2e, crash, replay and conformance: one file at a time (real servers, fixed resources).
# Every test has a 10-minute timeout (LIFEBOAT_TEST_TIMEOUT_MS), so a hang
# fails instead of blocking CI. The last line is the combined count,
# "N passed, N failed", taken from the runners' own summaries.
#
# Environment:
#   LIFEBOAT_TEST_TIMEOUT_MS   per-test timeout (default 600000)
#   LIFEBOAT_SKIP_SETUP=1      do not run scripts/setup.sh first
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

TIMEOUT_MS="${LIFEBOAT_TEST_TIMEOUT_MS:-600000}"

if [ "${LIFEBOAT_SKIP_SETUP:-}" != 1 ]; then
  bash scripts/setup.sh || {
    echo "test: setup failed (see above); no test was run." >&2
    echo "0 passed, 1 failed"
    exit 1
  }
fi

lint_status=skipped
if [ "$#" -eq 0 ] && [ -f eslint.config.mjs ]; then
  echo "test: lint (npm run lint)"
  if npm run --silent lint; then lint_status=ok; else lint_status=FAILED; fi
fi

# Where Docker's compose plugin is installed, let it validate docker-compose.yml
# too (test/unit/compose.test.ts checks its wiring without Docker). The
# password is a placeholder: `config` only interpolates it.
compose_status=skipped
if [ "$#" -eq 0 ] && docker compose version >/dev/null 2>&1; then
  if POSTGRES_PASSWORD=placeholder docker compose -f docker-compose.yml config -q; then
    compose_status=ok
  else
    compose_status=FAILED
  fi
fi

# --- which files ---------------------------------------------------------------
# A compiled test counts only while its source exists: tsc never deletes
# outputs, so dist/ can keep a test whose .ts was renamed or removed.
has_source() { # dist/test/x/y.test.js -> test/x/y.test.ts
  local rel=${1#dist/}
  [ -f "${rel%.js}.ts" ]
}

# Maps one argument to compiled test files (a .js, a .ts source, or a directory).
expand_arg() {
  local a=${1#./}
  a=${a%/}
  case "$a" in
    test/* | test) a="dist/$a" ;;
  esac
  if [ -d "$a" ]; then
    find "$a" -name '*.test.js' -type f | sort
  elif [[ "$a" == *.ts ]]; then
    echo "${a%.ts}.js"
  else
    echo "$a"
  fi
}

files=()
if [ "$#" -eq 0 ]; then
  if [ -d dist/test ]; then
    # The conformance suite (real target systems) is `npm run conformance`.
    while IFS= read -r f; do
      has_source "$f" && files+=("$f")
    done < <(find dist/test -name '*.test.js' -type f -not -path 'dist/test/conformance/*' | sort)
  fi
  if [ "${#files[@]}" -eq 0 ]; then
    echo "test: no compiled tests under dist/test (is there a test/**/*.test.ts, and did the build run?)" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
else
  for arg in "$@"; do
    while IFS= read -r f; do
      if [ ! -f "$f" ]; then
        echo "test: no such compiled test: $f (from argument '$arg'; build with npm run build)" >&2
        echo "0 passed, 1 failed"
        exit 1
      fi
      files+=("$f")
    done < <(expand_arg "$arg")
  done
fi

fast=()
serial=()
for f in "${files[@]}"; do
  case "$f" in
    */test/e2e/* | */test/crash/* | */test/replay/* | */test/conformance/*) serial+=("$f") ;;
    *) fast+=("$f") ;;
  esac
done

# --- run -----------------------------------------------------------------------
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

total_pass=0
total_fail=0
failed_groups=()

# Adds the counts of one runner's TAP summary ("# pass N", "# fail N",
# "# cancelled N"; the last such lines are the run's totals). A runner that
# failed without a summary, or failed with zero failures counted (a crash,
# a bad flag), still counts as one failure.
tally() { # <name> <tap file> <exit code>
  local name=$1 tap=$2 rc=$3 pass=0 fail=0 cancelled=0
  if [ -s "$tap" ]; then
    pass=$(grep -E '^# pass [0-9]+$' "$tap" | tail -n 1 | awk '{print $3}')
    fail=$(grep -E '^# fail [0-9]+$' "$tap" | tail -n 1 | awk '{print $3}')
    cancelled=$(grep -E '^# cancelled [0-9]+$' "$tap" | tail -n 1 | awk '{print $3}')
  fi
  pass=${pass:-0}
  fail=$((${fail:-0} + ${cancelled:-0}))
  if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
    echo "test: the $name run exited with status $rc without reporting a failed test; counting it as one failure" >&2
    fail=1
  fi
  [ "$rc" -ne 0 ] && failed_groups+=("$name")
  total_pass=$((total_pass + pass))
  total_fail=$((total_fail + fail))
}

run_group() { # <name> <concurrency> <files...>
  local name=$1 conc=$2
  shift 2
  [ "$#" -eq 0 ] && return 0
  echo "test: $name: $# file(s), concurrency $conc"
  local tap="$TMP/$name.tap"
  node --test \
    --test-concurrency="$conc" \
    --test-timeout="$TIMEOUT_MS" \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tap" \
    "$@"
  tally "$name" "$tap" $?
}

run_group unit+integration 2 ${fast[@]+"${fast[@]}"}
run_group e2e+crash+replay 1 ${serial[@]+"${serial[@]}"}

status=0
if [ "${#failed_groups[@]}" -gt 0 ]; then
  echo "test: failing runs: ${failed_groups[*]}"
  status=1
fi
if [ "$lint_status" = FAILED ]; then
  echo "test: lint FAILED (see the ESLint output above)"
  status=1
elif [ "$lint_status" = ok ]; then
  echo "test: lint ok"
fi
if [ "$compose_status" = FAILED ]; then
  echo "test: docker compose config FAILED for docker-compose.yml (see above)"
  status=1
elif [ "$compose_status" = ok ]; then
  echo "test: docker compose config ok"
fi
[ "$total_fail" -gt 0 ] && status=1
echo "$total_pass passed, $total_fail failed"
exit "$status"
