#!/bin/sh
# One-shot: creates Temporal's two PostgreSQL databases (persistence and
# visibility) and brings their schemas to the version this server image ships.
# Safe to re-run on every `docker compose up`: an existing database is kept,
# and update-schema applies only the versions not yet applied.
# Runs in the temporalio/admin-tools image (temporal-sql-tool, the schemas under
# /etc/temporal/schema, busybox nc), and without Docker in the conformance
# suite's stack test, with temporal-sql-tool on PATH and TEMPORAL_SCHEMA_DIR
# pointing at the schemas setup copied from the server module.
set -eu

: "${POSTGRES_SEEDS:?set POSTGRES_SEEDS to the PostgreSQL host}"
: "${POSTGRES_USER:?set POSTGRES_USER}"
: "${SQL_PASSWORD:?set SQL_PASSWORD (temporal-sql-tool reads the database password from it)}"
DB_PORT="${DB_PORT:-5432}"

echo "waiting for PostgreSQL at ${POSTGRES_SEEDS}:${DB_PORT}..."
i=0
# nc where there is one (the admin-tools image), else PostgreSQL's own pg_isready.
reachable() {
  if command -v nc >/dev/null 2>&1; then nc -z -w 5 "$POSTGRES_SEEDS" "$DB_PORT"
  else pg_isready -q -h "$POSTGRES_SEEDS" -p "$DB_PORT" -t 5; fi
}
until reachable; do
  i=$((i + 1))
  if [ "$i" -ge 60 ]; then
    echo "PostgreSQL at ${POSTGRES_SEEDS}:${DB_PORT} did not accept connections within 5 minutes; check the postgresql service's logs" >&2
    exit 1
  fi
  sleep 5
done

SCHEMA_ROOT="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema}/postgresql/v12"
sql() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -p "$DB_PORT" "$@"; }

for db in temporal temporal_visibility; do
  case "$db" in
    temporal) dir="$SCHEMA_ROOT/temporal/versioned" ;;
    *) dir="$SCHEMA_ROOT/visibility/versioned" ;;
  esac
  # `create` and the initial `setup-schema -v 0.0` fail harmlessly when the
  # database already exists; update-schema below is the step that must succeed.
  sql --db "$db" create >/dev/null 2>&1 || echo "database $db exists; keeping it"
  sql --db "$db" setup-schema -v 0.0 >/dev/null 2>&1 || true
  sql --db "$db" update-schema -d "$dir"
done
echo "Temporal schemas are up to date"
