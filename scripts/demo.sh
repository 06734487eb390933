#!/usr/bin/env bash
# `npm run demo`: one real recovery on the embedded default, from a fresh clone.
#
#   1. setup (npm packages, Temporal CLI, test server, sshd/restic) and build;
#   2. `lifeboat dev --detach`: Temporal dev server (SQLite under .lifeboat/,
#      Web UI on :8233), the lab (simulated clusters on 127.0.0.1) and a worker;
#   3. break the lab's ledger (two of three nodes lost: quorum gone);
#   4. `lifeboat run ledger.quorum-loss --cluster lab-ledger`;
#   5. the split-brain gate: on a terminal you are asked to approve it;
#      otherwise (CI, pipes) "demo-approver" approves it, as printed;
#   6. watch it to the end, print the incident record and the Web UI link.
#
# Everything keeps running afterwards so you can look around in the Web UI;
# stop it with `npx lifeboat dev --stop`. Re-running the demo reuses it.
#
# Approvals are signed: the lab generates three operators' SSH keys (alice,
# bob, carol) and the allowed-signers file its inventory names. The starter
# signs the start with their key, the approver the approval with theirs; the
# workflow verifies both.
#
# Environment: LIFEBOAT_DEMO_STARTER (default alice), LIFEBOAT_DEMO_APPROVER
# (default bob; must differ from the starter: no one approves their own
# dangerous gate), LIFEBOAT_SKIP_SETUP=1 to skip step 1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The demo drives the embedded default: ignore settings meant for a real cluster.
unset TEMPORAL_ADDRESS TEMPORAL_NAMESPACE TEMPORAL_API_KEY_REF TEMPORAL_TLS_CERT TEMPORAL_TLS_KEY TEMPORAL_TLS_CA LIFEBOAT_INVENTORY LIFEBOAT_UI_URL

if [ "${LIFEBOAT_SKIP_SETUP:-}" != 1 ]; then
  bash scripts/setup.sh
fi

lb() { node bin/lifeboat.js "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

STARTER="${LIFEBOAT_DEMO_STARTER:-alice}"
APPROVER="${LIFEBOAT_DEMO_APPROVER:-bob}"
KEYS="$ROOT/.lifeboat/lab/keys/operators"
if [ "$APPROVER" = "$STARTER" ]; then
  echo "demo: LIFEBOAT_DEMO_APPROVER must differ from the starter ($STARTER): nobody approves their own dangerous gate" >&2
  exit 2
fi
ID=recovery-lab-ledger

say "Starting Temporal, the lab and a worker (lifeboat dev --detach)"
if [ -f .lifeboat/dev.json ] && lb list >/dev/null 2>&1; then
  echo "lifeboat dev is already running: reusing it."
else
  lb dev --detach
fi

# A recovery left running by an interrupted demo would refuse the new one.
if lb list --cluster lab-ledger --json 2>/dev/null | grep -q '"status": *"running"'; then
  echo "A previous demo recovery is still running on lab-ledger: cancelling it."
  lb cancel "$ID" --as "$STARTER" --reason "demo restarted" || true
  sleep 2
fi

say "Breaking the lab's ledger: two of its three nodes are lost, quorum is gone"
lb lab break ledger.quorum-loss
lb lab status || true

say "Running the recovery (ledger.quorum-loss, seed 002)"
lb run ledger.quorum-loss --cluster lab-ledger --as "$STARTER" --key "$KEYS/$STARTER"

say "Waiting for the split-brain gate"
for _ in $(seq 1 120); do
  if lb approvals --json 2>/dev/null | grep -q 'single-node-bootstrap'; then break; fi
  sleep 1
done
lb approvals

approve=yes
if [ -t 0 ] && [ -t 1 ]; then
  read -r -p "Approve forming a new lab-ledger cluster from the survivor's data as $APPROVER? [y/N] " answer
  case "$answer" in y|Y|yes|YES) approve=yes ;; *) approve=no ;; esac
else
  echo "Not a terminal: approving as $APPROVER."
fi
if [ "$approve" = yes ]; then
  echo "+ lifeboat approve $ID single-node-bootstrap --as $APPROVER --key $KEYS/$APPROVER --reason \"demo: the lab's old nodes are gone for good\" --confirm lab-ledger"
  lb approve "$ID" single-node-bootstrap --as "$APPROVER" --key "$KEYS/$APPROVER" --reason "demo: the lab's old nodes are gone for good" --confirm lab-ledger
else
  echo "+ lifeboat reject $ID single-node-bootstrap --as $APPROVER --key $KEYS/$APPROVER --reason \"demo: declined\""
  lb reject "$ID" single-node-bootstrap --as "$APPROVER" --key "$KEYS/$APPROVER" --reason "demo: declined"
fi

say "Watching the recovery"
status=0
lb watch "$ID" || status=$?

say "Incident record (lifeboat report $ID)"
mkdir -p .lifeboat
lb report "$ID" --out .lifeboat/demo-report.md
cat .lifeboat/demo-report.md

UI="http://127.0.0.1:8233/namespaces/default/workflows/$ID"
say "Done"
echo "Web UI:  $UI"
echo "Report:  $ROOT/.lifeboat/demo-report.md"
echo "Next:    npx lifeboat lab break training-cluster.mesh-collapse && npx lifeboat run training-cluster.mesh-collapse --cluster lab-training --watch"
echo "Stop:    npx lifeboat dev --stop   (the history stays in .lifeboat/temporal.db)"
exit "$status"
