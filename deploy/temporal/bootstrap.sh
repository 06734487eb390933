#!/bin/sh
# One-shot: waits for the Temporal frontend, creates the namespace if missing,
# and registers Lifeboat's custom search attributes, which its workflows set so
# the Web UI can list "every recovery waiting for an approval".
# Idempotent: what already exists is left as it is.
# Runs in the temporalio/admin-tools image; the temporal CLI is all it needs.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_RETENTION:-30d}"

echo "waiting for Temporal at $ADDRESS..."
i=0
until temporal operator cluster health --address "$ADDRESS" >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 60 ]; then
    echo "Temporal at $ADDRESS was not healthy within 5 minutes; check the temporal service's logs" >&2
    exit 1
  fi
  sleep 5
done

if temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "namespace $NAMESPACE exists"
else
  temporal operator namespace create --address "$ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
  echo "namespace $NAMESPACE created (retention $RETENTION)"
fi

# A namespace just created takes a few seconds to reach every frontend.
i=0
until existing="$(temporal operator search-attribute list --address "$ADDRESS" --namespace "$NAMESPACE" 2>&1)"; do
  i=$((i + 1))
  if [ "$i" -ge 30 ]; then
    echo "cannot list the search attributes of namespace $NAMESPACE: $existing" >&2
    exit 1
  fi
  sleep 2
done

# name:type pairs; they must match src/workflows/kit/defs.ts.
for pair in LifeboatScenario:Keyword LifeboatCluster:Keyword LifeboatStep:Text LifeboatAwaitingApproval:Bool; do
  name="${pair%%:*}"
  type="${pair#*:}"
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "search attribute $name exists"
    continue
  fi
  temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" --name "$name" --type "$type"
  echo "search attribute $name ($type) registered"
done
