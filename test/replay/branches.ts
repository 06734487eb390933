/**
 * Every branch a gate, an `ask` decision, an option or a dry run creates, per
 * scenario: stub activities that steer the workflow into it, the operator's
 * answers in order, and the outcome that proves the branch was taken.
 * test/replay/record-branches.ts runs them on the time-skipping server and
 * saves each history as test/replay/histories/<scenario-id>/<branch>.json;
 * replay.test.ts replays them all and checks that none of these is missing.
 */
import type { LifeboatActivities, NodeRef, P2pStatus } from '../../src/activities/types';
import type { Decision, RecoveryInput, RecoveryOptions } from '../../src/workflows/kit/defs';
import { FakeLedger, fakeLedgers, type FakeLedgerOptions } from '../helpers/fakes-ledger';
import { afterOutage, asksQuestion, blankServer, CONFIG_IN_BACKUP, corruptBtrfs, DEVICE_REFUSED, failedSsd, lostPassword, newOs, TS_USERS } from '../helpers/fakes-train-server';
import { OPS_NODES, realLeaderFailure, TC_NODES } from '../helpers/fakes-training-cluster';
import { models, multiLoss, nodeLoss } from '../helpers/fakes-training-data';
import { outage, syncHosts, type HostSim } from '../helpers/fakes-training-ops';
import { hardFailure, stubActivities } from '../helpers/stubs';
import { fakeGossip, type Fake, type FakeOptions } from '../helpers/stubs-gossip';

/** What the operator does, in order. A `decide` after a waiting gate means: let the approval time out first. */
export type Answer = { approve: string; choice?: string } | { reject: string } | { decide: Decision };

export interface Branch {
  scenario: string;
  branch: string;
  workflowType: string;
  /** Fresh stubs and input per run. */
  make: () => { activities: LifeboatActivities; input: RecoveryInput };
  answers: Answer[];
  /** Completed with an outcome matching this (a dry run: and marked dryRun), or failed with this ApplicationFailure type. */
  expect: { outcome: RegExp } | { failure: string };
}

const input = (scenario: string, system: string, nodes: Array<{ name: string; roles: string[] }>, extra: { params?: Record<string, unknown>; options?: RecoveryOptions; dryRun?: boolean } = {}): RecoveryInput => ({
  scenario,
  cluster: { name: 'c1', system, nodes },
  params: extra.params ?? {},
  startedBy: 'bob',
  ...(extra.options ? { options: extra.options } : {}),
  ...(extra.dryRun ? { dryRun: true } : {}),
});

/** The first call fails (non-retryable, so the step's `ask` policy is reached at once); later calls succeed. */
function failOnce<A, R>(fn: (a: A) => Promise<R>, message: string): (a: A) => Promise<R> {
  let failed = false;
  return async (a: A) => {
    if (!failed && !(a as { dryRun?: boolean }).dryRun) {
      failed = true;
      throw hardFailure(message);
    }
    return fn(a);
  };
}

const TIMEOUT_ASK: RecoveryOptions = { approvalTimeout: '10m', approvalEscalation: 'ask' };
const TIMEOUT_FAIL: RecoveryOptions = { approvalTimeout: '10m', approvalEscalation: 'fail' };

// ---------------------------------------------------------------- ledger
// The v2 scenarios (the real server, test/helpers/fakes-ledger.ts). The v1 ones'
// histories stay in histories/<scenario>/v1-*.json; nothing records them any more.

const LEDGER_NODES = ['node1', 'node2', 'node3'].map((name) => ({ name, roles: ['voter'] }));
const DR_NODES = ['dr-node1', 'dr-node2', 'dr-node3'];

/** A fake ledger named c1 (the branches' cluster), tweaked. */
function ledger(opts: FakeLedgerOptions, tweak: (o: Partial<LifeboatActivities>) => void = () => undefined): LifeboatActivities {
  const f = new FakeLedger('c1', opts);
  const o = f.overrides();
  tweak(o);
  return stubActivities(o).activities;
}

/** The primary c1 (all down unless `up`) and its DR region c1-dr (cold unless `serving`). */
function region(up = false, serving = false): LifeboatActivities {
  return fakeLedgers(new FakeLedger('c1', { down: up ? [] : ['node1', 'node2', 'node3'] }), new FakeLedger('c1-dr', { nodes: DR_NODES, wiped: serving ? [] : DR_NODES })).activities;
}

// Probes 20 s apart become 200 ms, as in the unit test.
const RF = { timeScale: 0.01 };
const QL = (o: Parameters<typeof input>[3] = {}) => input('ledger.quorum-loss', 'ledger', LEDGER_NODES, o);
const NF = (o: Parameters<typeof input>[3] = {}) => input('ledger.node-failure', 'ledger', LEDGER_NODES, o);
const VD = (o: Parameters<typeof input>[3] = {}) => input('ledger.vault-divergence', 'ledger', LEDGER_NODES, o);
const FR = (o: Parameters<typeof input>[3] = {}) => input('ledger.full-restore', 'ledger', LEDGER_NODES, o);
const RG = (o: Parameters<typeof input>[3] = {}) => input('ledger.regional-failover', 'ledger', LEDGER_NODES, { ...o, options: { ...RF, ...o.options } });
const LOST = { down: ['node2', 'node3'] };
const WIPED = { wiped: ['node1', 'node2', 'node3'] };

const LEDGER: Branch[] = [
  // ledger.quorum-loss: the split-brain gate after the export; every later step asks on failure.
  { scenario: 'ledger.quorum-loss', branch: 'v2-bootstrap-rejected', workflowType: 'ledgerQuorumLoss', make: () => ({ activities: ledger(LOST), input: QL() }), answers: [{ reject: 'single-node-bootstrap' }], expect: { failure: 'GateRejected' } },
  { scenario: 'ledger.quorum-loss', branch: 'v2-approval-timeout-abort', workflowType: 'ledgerQuorumLoss', make: () => ({ activities: ledger(LOST), input: QL({ options: TIMEOUT_ASK }) }), answers: [{ decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },
  { scenario: 'ledger.quorum-loss', branch: 'v2-approval-timeout-retry-approved', workflowType: 'ledgerQuorumLoss', make: () => ({ activities: ledger(LOST), input: QL({ options: TIMEOUT_ASK }) }), answers: [{ decide: 'retry' }, { approve: 'single-node-bootstrap' }], expect: { outcome: /Quorum restored: new cluster \d+ on node1, node2, node3/ } },
  {
    scenario: 'ledger.quorum-loss',
    branch: 'v2-import-fails-retry',
    workflowType: 'ledgerQuorumLoss',
    make: () => ({ activities: ledger(LOST, (o) => (o.ledgerImport = failOnce(o.ledgerImport!, 'CreateOrganization: UNAVAILABLE'))), input: QL() }),
    answers: [{ approve: 'single-node-bootstrap' }, { decide: 'retry' }],
    expect: { outcome: /Quorum restored/ },
  },
  { scenario: 'ledger.quorum-loss', branch: 'v2-lost-host-left-out', workflowType: 'ledgerQuorumLoss', make: () => ({ activities: ledger({ down: ['node2'], hostDown: ['node3'] }), input: QL() }), answers: [{ approve: 'single-node-bootstrap' }], expect: { outcome: /on node1, node2,/ } },
  { scenario: 'ledger.quorum-loss', branch: 'v2-quorum-holds', workflowType: 'ledgerQuorumLoss', make: () => ({ activities: ledger({ down: ['node3'] }), input: QL() }), answers: [], expect: { outcome: /Quorum holds/ } },
  { scenario: 'ledger.quorum-loss', branch: 'v2-dry-run', workflowType: 'ledgerQuorumLoss', make: () => ({ activities: ledger(LOST), input: QL({ dryRun: true }) }), answers: [], expect: { outcome: /./ } },

  // ledger.node-failure: no gate; the effects ask on failure.
  {
    scenario: 'ledger.node-failure',
    branch: 'v2-remove-fails-retry',
    workflowType: 'ledgerNodeFailure',
    make: () => ({ activities: ledger({ down: ['node3'] }, (o) => (o.ledgerRemoveMember = failOnce(o.ledgerRemoveMember!, 'LeaveCluster: Membership change already in progress'))), input: NF() }),
    answers: [{ decide: 'retry' }],
    expect: { outcome: /Node replaced: node3 rejoined/ },
  },
  {
    scenario: 'ledger.node-failure',
    branch: 'v2-start-fails-abort',
    workflowType: 'ledgerNodeFailure',
    make: () => ({ activities: ledger({ down: ['node3'] }, (o) => (o.ledgerServiceStart = failOnce(o.ledgerServiceStart!, 'systemctl start ledger failed'))), input: NF() }),
    answers: [{ decide: 'abort' }],
    expect: { failure: 'RecoveryAborted' },
  },
  { scenario: 'ledger.node-failure', branch: 'v2-host-down-abort', workflowType: 'ledgerNodeFailure', make: () => ({ activities: ledger({ hostDown: ['node3'] }), input: NF() }), answers: [{ decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },
  { scenario: 'ledger.node-failure', branch: 'v2-leader-down-election', workflowType: 'ledgerNodeFailure', make: () => ({ activities: ledger({ down: ['node1'], electionReads: 6 }), input: NF() }), answers: [], expect: { outcome: /node1 rejoined/ } },
  { scenario: 'ledger.node-failure', branch: 'v2-quorum-lost', workflowType: 'ledgerNodeFailure', make: () => ({ activities: ledger(LOST), input: NF() }), answers: [], expect: { failure: 'ScenarioMismatch' } },
  { scenario: 'ledger.node-failure', branch: 'v2-nothing-down', workflowType: 'ledgerNodeFailure', make: () => ({ activities: ledger({}), input: NF() }), answers: [], expect: { outcome: /Nothing to replace/ } },
  { scenario: 'ledger.node-failure', branch: 'v2-dry-run', workflowType: 'ledgerNodeFailure', make: () => ({ activities: ledger({ down: ['node3'] }), input: NF({ dryRun: true }) }), answers: [], expect: { outcome: /./ } },

  // ledger.vault-divergence: RecoverVault and the server's replay; when that does not heal, the gated resync.
  { scenario: 'ledger.vault-divergence', branch: 'v2-heals', workflowType: 'ledgerVaultDivergence', make: () => ({ activities: ledger({ diverged: { nodes: ['node3'], heals: true } }), input: VD() }), answers: [], expect: { outcome: /Vault divergence recovered/ } },
  { scenario: 'ledger.vault-divergence', branch: 'v2-resync', workflowType: 'ledgerVaultDivergence', make: () => ({ activities: ledger({ diverged: { nodes: ['node3'], heals: false } }), input: VD() }), answers: [{ approve: 'resync-corrupted-node' }], expect: { outcome: /Vault divergence recovered/ } },
  { scenario: 'ledger.vault-divergence', branch: 'v2-resync-rejected', workflowType: 'ledgerVaultDivergence', make: () => ({ activities: ledger({ diverged: { nodes: ['node3'], heals: false } }), input: VD() }), answers: [{ reject: 'resync-corrupted-node' }], expect: { failure: 'GateRejected' } },
  { scenario: 'ledger.vault-divergence', branch: 'v2-approval-timeout-fail', workflowType: 'ledgerVaultDivergence', make: () => ({ activities: ledger({ diverged: { nodes: ['node3'], heals: false } }), input: VD({ options: TIMEOUT_FAIL }) }), answers: [], expect: { failure: 'ApprovalTimedOut' } },
  { scenario: 'ledger.vault-divergence', branch: 'v2-nothing-diverged', workflowType: 'ledgerVaultDivergence', make: () => ({ activities: ledger({}), input: VD() }), answers: [], expect: { outcome: /Nothing to recover/ } },
  { scenario: 'ledger.vault-divergence', branch: 'v2-dry-run', workflowType: 'ledgerVaultDivergence', make: () => ({ activities: ledger({ diverged: { nodes: ['node3'], heals: false } }), input: VD({ dryRun: true }) }), answers: [], expect: { outcome: /./ } },

  // ledger.full-restore: two dangerous gates.
  { scenario: 'ledger.full-restore', branch: 'v2-identity-rejected', workflowType: 'ledgerFullRestore', make: () => ({ activities: ledger(WIPED), input: FR() }), answers: [{ reject: 'new-cluster-identity' }], expect: { failure: 'GateRejected' } },
  { scenario: 'ledger.full-restore', branch: 'v2-clear-rejected', workflowType: 'ledgerFullRestore', make: () => ({ activities: ledger(WIPED), input: FR() }), answers: [{ approve: 'new-cluster-identity' }, { reject: 'clear-new-nodes' }], expect: { failure: 'GateRejected' } },
  { scenario: 'ledger.full-restore', branch: 'v2-approval-timeout-abort', workflowType: 'ledgerFullRestore', make: () => ({ activities: ledger(WIPED), input: FR({ options: TIMEOUT_ASK }) }), answers: [{ decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },
  { scenario: 'ledger.full-restore', branch: 'v2-a-node-answers', workflowType: 'ledgerFullRestore', make: () => ({ activities: ledger({ wiped: ['node1', 'node3'] }), input: FR() }), answers: [], expect: { failure: 'ScenarioMismatch' } },
  { scenario: 'ledger.full-restore', branch: 'v2-backup-missing', workflowType: 'ledgerFullRestore', make: () => ({ activities: ledger({ ...WIPED, archive: false }), input: FR() }), answers: [], expect: { failure: 'BackupMissing' } },
  { scenario: 'ledger.full-restore', branch: 'v2-dry-run', workflowType: 'ledgerFullRestore', make: () => ({ activities: ledger(WIPED), input: FR({ dryRun: true }) }), answers: [], expect: { outcome: /./ } },

  // ledger.regional-failover: accept-rpo-gap, then dns-switch.
  { scenario: 'ledger.regional-failover', branch: 'v2-rpo-gap-rejected', workflowType: 'ledgerRegionalFailover', make: () => ({ activities: region(), input: RG() }), answers: [{ reject: 'accept-rpo-gap' }], expect: { failure: 'GateRejected' } },
  { scenario: 'ledger.regional-failover', branch: 'v2-dns-switch-rejected', workflowType: 'ledgerRegionalFailover', make: () => ({ activities: region(), input: RG() }), answers: [{ approve: 'accept-rpo-gap' }, { reject: 'dns-switch' }], expect: { failure: 'GateRejected' } },
  { scenario: 'ledger.regional-failover', branch: 'v2-approval-timeout-fail', workflowType: 'ledgerRegionalFailover', make: () => ({ activities: region(), input: RG({ options: TIMEOUT_FAIL }) }), answers: [], expect: { failure: 'ApprovalTimedOut' } },
  { scenario: 'ledger.regional-failover', branch: 'v2-dr-serves', workflowType: 'ledgerRegionalFailover', make: () => ({ activities: region(false, true), input: RG() }), answers: [{ approve: 'accept-rpo-gap' }, { approve: 'dns-switch' }], expect: { outcome: /Failed over to the DR region/ } },
  { scenario: 'ledger.regional-failover', branch: 'v2-primary-healthy', workflowType: 'ledgerRegionalFailover', make: () => ({ activities: region(true), input: RG() }), answers: [], expect: { outcome: /No failover: the primary region answers/ } },
  { scenario: 'ledger.regional-failover', branch: 'v2-dry-run', workflowType: 'ledgerRegionalFailover', make: () => ({ activities: region(), input: RG({ dryRun: true }) }), answers: [], expect: { outcome: /./ } },
];

// ---------------------------------------------------------------- training-cluster

/** Every node answers SSH; the mesh has no leader and no alive peers until P2P is restarted on a node. */
function meshCollapse(tweak: (o: Partial<LifeboatActivities>) => void = () => undefined): LifeboatActivities {
  const restarted = new Set<string>();
  const o: Partial<LifeboatActivities> = {
    p2pStatus: async (a): Promise<P2pStatus> => {
      const back = restarted.has('tc-node1');
      return { node: a.node, reachable: true, leaderId: back && restarted.has(a.node) ? 'tc-node1' : null, electionState: back ? 'stable' : 'stalled', voters: ['tc-node1', 'tc-node2', 'tc-node3'], alivePeers: back ? [...restarted] : [] };
    },
    p2pRestart: async (a) => {
      if (!a.dryRun) restarted.add(a.node);
      return { plan: `systemctl restart p2p on ${a.node}`, dryRun: a.dryRun };
    },
  };
  tweak(o);
  return stubActivities(o).activities;
}

const TRAINING: Branch[] = [
  // v2 (the real P2P API, behind patched('training-cluster/real-p2p-api')); the v1 branches' histories are kept as v1-*.json.
  { scenario: 'training-cluster.leader-failure', branch: 'v2-unit-restarts-leader', workflowType: 'trainingClusterLeaderFailure', make: () => ({ activities: realLeaderFailure('unit-restarts').activities, input: input('training-cluster.leader-failure', 'training-cluster', TC_NODES) }), answers: [], expect: { outcome: /Leader restored by automatic election: tc-node1 leads/ } },
  { scenario: 'training-cluster.leader-failure', branch: 'v2-restart-down-coordinator', workflowType: 'trainingClusterLeaderFailure', make: () => ({ activities: realLeaderFailure('restart').activities, input: input('training-cluster.leader-failure', 'training-cluster', TC_NODES) }), answers: [], expect: { outcome: /Leader restored by P2P restarted on tc-node1/ } },
  { scenario: 'training-cluster.leader-failure', branch: 'v2-split-brain-reset', workflowType: 'trainingClusterLeaderFailure', make: () => ({ activities: realLeaderFailure('split-brain').activities, input: input('training-cluster.leader-failure', 'training-cluster', TC_NODES) }), answers: [], expect: { outcome: /Leader restored by election reset on tc-node1, tc-node2, tc-node3/ } },
  {
    scenario: 'training-cluster.leader-failure',
    branch: 'v2-reset-fails-retry',
    workflowType: 'trainingClusterLeaderFailure',
    make: () => ({ activities: realLeaderFailure('split-brain', { tweak: (o) => (o.p2pElectionReset = failOnce(o.p2pElectionReset!, 'POST /election/reset: 503')) }).activities, input: input('training-cluster.leader-failure', 'training-cluster', TC_NODES) }),
    answers: [{ decide: 'retry' }],
    expect: { outcome: /Leader restored by election reset/ },
  },
  { scenario: 'training-cluster.leader-failure', branch: 'v2-force-leader', workflowType: 'trainingClusterLeaderFailure', make: () => ({ activities: realLeaderFailure('force').activities, input: input('training-cluster.leader-failure', 'training-cluster', TC_NODES) }), answers: [{ approve: 'set-leader', choice: 'tc-node1' }], expect: { outcome: /leader forced to tc-node1 by alice/ } },
  { scenario: 'training-cluster.leader-failure', branch: 'v2-force-leader-rejected', workflowType: 'trainingClusterLeaderFailure', make: () => ({ activities: realLeaderFailure('force').activities, input: input('training-cluster.leader-failure', 'training-cluster', TC_NODES) }), answers: [{ reject: 'set-leader' }], expect: { failure: 'GateRejected' } },
  { scenario: 'training-cluster.leader-failure', branch: 'v2-leader-present', workflowType: 'trainingClusterLeaderFailure', make: () => ({ activities: realLeaderFailure('present').activities, input: input('training-cluster.leader-failure', 'training-cluster', TC_NODES) }), answers: [], expect: { outcome: /Leader present \(tc-node1\)/ } },
  { scenario: 'training-cluster.leader-failure', branch: 'v2-worker-restarted', workflowType: 'trainingClusterLeaderFailure', make: () => ({ activities: realLeaderFailure('restart', { workerDown: true }).activities, input: input('training-cluster.leader-failure', 'training-cluster', TC_NODES) }), answers: [], expect: { outcome: /tc-node4 restarted and back in the mesh$/ } },
  { scenario: 'training-cluster.leader-failure', branch: 'v2-dry-run', workflowType: 'trainingClusterLeaderFailure', make: () => ({ activities: realLeaderFailure('restart', { workerDown: true }).activities, input: input('training-cluster.leader-failure', 'training-cluster', TC_NODES, { dryRun: true }) }), answers: [], expect: { outcome: /^Dry run, nothing changed/ } },

  {
    scenario: 'training-cluster.mesh-collapse',
    branch: 'v2-coordinator-restart-fails-retry',
    workflowType: 'trainingClusterMeshCollapse',
    make: () => ({ activities: meshCollapse((o) => (o.p2pRestart = failOnce(o.p2pRestart!, 'systemctl restart p2p: timeout'))), input: input('training-cluster.mesh-collapse', 'training-cluster', TC_NODES) }),
    answers: [{ decide: 'retry' }],
    expect: { outcome: /Mesh re-formed/ },
  },
  {
    scenario: 'training-cluster.mesh-collapse',
    branch: 'v2-coordinator-restart-fails-abort',
    workflowType: 'trainingClusterMeshCollapse',
    make: () => ({ activities: meshCollapse((o) => (o.p2pRestart = failOnce(o.p2pRestart!, 'systemctl restart p2p: timeout'))), input: input('training-cluster.mesh-collapse', 'training-cluster', TC_NODES) }),
    answers: [{ decide: 'abort' }],
    expect: { failure: 'RecoveryAborted' },
  },
  { scenario: 'training-cluster.mesh-collapse', branch: 'v2-mesh-healthy', workflowType: 'trainingClusterMeshCollapse', make: () => ({ activities: stubActivities({ p2pStatus: async (a) => ({ node: a.node, reachable: true, role: a.node === 'tc-node1' ? 'leader' : 'follower', isLeader: a.node === 'tc-node1', leaderId: 'tc-node1', electionState: 'stable', voters: [], alivePeers: TC_NODES.map((n) => n.name) }) }).activities, input: input('training-cluster.mesh-collapse', 'training-cluster', TC_NODES) }), answers: [], expect: { outcome: /Mesh is healthy/ } },
  { scenario: 'training-cluster.mesh-collapse', branch: 'v2-dry-run', workflowType: 'trainingClusterMeshCollapse', make: () => ({ activities: meshCollapse(), input: input('training-cluster.mesh-collapse', 'training-cluster', TC_NODES, { dryRun: true }) }), answers: [], expect: { outcome: /./ } },
];

// ------------------------------------------ training-cluster: data loss, model corruption

/** The recorded histories saw the NFS backup taken at a fixed time (the fake's default: 6 h before each look). */
const nodeLossAt = (opts: { sync: number; backup?: boolean; alsoLost?: boolean }) => nodeLoss({ ...opts, backupTakenAt: '2026-12-01T08:00:00.000Z' });

const NDL = 'training-cluster.node-data-loss';
const MNDL = 'training-cluster.multi-node-data-loss';
const MC = 'training-cluster.model-corruption';
const tc = (scenario: string, extra: { params?: Record<string, unknown>; options?: RecoveryOptions; dryRun?: boolean } = {}) => input(scenario, 'training-cluster', TC_NODES, extra);

// Node and multi-node data loss: v2 (RingRift 2aa9f89b5's scripts, behind patched('training-cluster/real-p2p-api')); the v1
// branches' histories are kept as v1-*.json.
const TRAINING_DATA: Branch[] = [
  { scenario: NDL, branch: 'v2-resync-recovers', workflowType: 'trainingClusterNodeDataLoss', make: () => ({ activities: nodeLossAt({ sync: 1150 }).activities, input: tc(NDL) }), answers: [], expect: { outcome: /re-synced from the cluster \(1,150 games\)/ } },
  { scenario: NDL, branch: 'v2-backup-restore', workflowType: 'trainingClusterNodeDataLoss', make: () => ({ activities: nodeLossAt({ sync: 100 }).activities, input: tc(NDL) }), answers: [{ approve: 'overwrite-db-from-backup' }], expect: { outcome: /restored from the backup taken .* \(1,100 games\), approved by alice/ } },
  { scenario: NDL, branch: 'v2-backup-rejected', workflowType: 'trainingClusterNodeDataLoss', make: () => ({ activities: nodeLossAt({ sync: 100 }).activities, input: tc(NDL) }), answers: [{ reject: 'overwrite-db-from-backup' }], expect: { failure: 'GateRejected' } },
  { scenario: NDL, branch: 'v2-approval-timeout-fail', workflowType: 'trainingClusterNodeDataLoss', make: () => ({ activities: nodeLossAt({ sync: 100 }).activities, input: tc(NDL, { options: TIMEOUT_FAIL }) }), answers: [], expect: { failure: 'ApprovalTimedOut' } },
  { scenario: NDL, branch: 'v2-approval-timeout-abort', workflowType: 'trainingClusterNodeDataLoss', make: () => ({ activities: nodeLossAt({ sync: 100 }).activities, input: tc(NDL, { options: TIMEOUT_ASK }) }), answers: [{ decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },
  { scenario: NDL, branch: 'v2-approval-timeout-skip-accept-loss', workflowType: 'trainingClusterNodeDataLoss', make: () => ({ activities: nodeLossAt({ sync: 100 }).activities, input: tc(NDL, { options: TIMEOUT_ASK }) }), answers: [{ decide: 'skip' }], expect: { outcome: /loss accepted \(100 of ~1,200 games kept\)/ } },
  { scenario: NDL, branch: 'v2-no-backup-accept-loss', workflowType: 'trainingClusterNodeDataLoss', make: () => ({ activities: nodeLossAt({ sync: 0, backup: false }).activities, input: tc(NDL) }), answers: [], expect: { outcome: /loss accepted \(0 of ~1,200 games kept\)/ } },
  { scenario: NDL, branch: 'v2-two-nodes-lost', workflowType: 'trainingClusterNodeDataLoss', make: () => ({ activities: nodeLossAt({ sync: 1150, alsoLost: true }).activities, input: tc(NDL) }), answers: [], expect: { failure: 'ScenarioMismatch' } },
  { scenario: NDL, branch: 'v2-dry-run', workflowType: 'trainingClusterNodeDataLoss', make: () => ({ activities: nodeLossAt({ sync: 100 }).activities, input: tc(NDL, { dryRun: true }) }), answers: [], expect: { outcome: /./ } },

  { scenario: MNDL, branch: 'v2-stop-writes-approved', workflowType: 'trainingClusterMultiNodeDataLoss', make: () => ({ activities: multiLoss().activities, input: tc(MNDL) }), answers: [{ approve: 'stop-writes' }], expect: { outcome: /Surviving data aggregated on tc-node1 \(1,650 games\)/ } },
  { scenario: MNDL, branch: 'v2-stop-writes-rejected', workflowType: 'trainingClusterMultiNodeDataLoss', make: () => ({ activities: multiLoss().activities, input: tc(MNDL) }), answers: [{ reject: 'stop-writes' }], expect: { failure: 'GateRejected' } },
  { scenario: MNDL, branch: 'v2-approval-timeout-fail', workflowType: 'trainingClusterMultiNodeDataLoss', make: () => ({ activities: multiLoss().activities, input: tc(MNDL, { options: TIMEOUT_FAIL }) }), answers: [], expect: { failure: 'ApprovalTimedOut' } },
  { scenario: MNDL, branch: 'v2-approval-timeout-abort', workflowType: 'trainingClusterMultiNodeDataLoss', make: () => ({ activities: multiLoss().activities, input: tc(MNDL, { options: TIMEOUT_ASK }) }), answers: [{ decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },
  { scenario: MNDL, branch: 'v2-approval-timeout-skip', workflowType: 'trainingClusterMultiNodeDataLoss', make: () => ({ activities: multiLoss().activities, input: tc(MNDL, { options: TIMEOUT_ASK }) }), answers: [{ decide: 'skip' }], expect: { outcome: /Stopped before any change: writes on tc-node1, tc-node4 were not stopped \(gate skipped\)/ } },
  { scenario: MNDL, branch: 'v2-one-node-lost', workflowType: 'trainingClusterMultiNodeDataLoss', make: () => ({ activities: multiLoss({ oneOnly: true }).activities, input: tc(MNDL) }), answers: [], expect: { failure: 'ScenarioMismatch' } },
  { scenario: MNDL, branch: 'v2-dry-run', workflowType: 'trainingClusterMultiNodeDataLoss', make: () => ({ activities: multiLoss().activities, input: tc(MNDL, { dryRun: true }) }), answers: [], expect: { outcome: /./ } },

  { scenario: MC, branch: 'backup-copy', workflowType: 'trainingClusterModelCorruption', make: () => ({ activities: models({ backup: true, healthyOn: ['tc-node2'] }).activities, input: tc(MC) }), answers: [], expect: { outcome: /restored from models\/backup\// } },
  { scenario: MC, branch: 'peer-copy', workflowType: 'trainingClusterModelCorruption', make: () => ({ activities: models({ backup: false, healthyOn: ['tc-node3', 'tc-node4'] }).activities, input: tc(MC) }), answers: [{ approve: 'replace-canonical-model' }], expect: { outcome: /pulled the verified copy from tc-node3 \(approved by alice\)/ } },
  { scenario: MC, branch: 'peer-copy-rejected', workflowType: 'trainingClusterModelCorruption', make: () => ({ activities: models({ backup: false, healthyOn: ['tc-node2'] }).activities, input: tc(MC) }), answers: [{ reject: 'replace-canonical-model' }], expect: { failure: 'GateRejected' } },
  { scenario: MC, branch: 'approval-timeout-fail', workflowType: 'trainingClusterModelCorruption', make: () => ({ activities: models({ backup: false, healthyOn: ['tc-node2'] }).activities, input: tc(MC, { options: TIMEOUT_FAIL }) }), answers: [], expect: { failure: 'ApprovalTimedOut' } },
  { scenario: MC, branch: 'approval-timeout-abort', workflowType: 'trainingClusterModelCorruption', make: () => ({ activities: models({ backup: false, healthyOn: ['tc-node2'] }).activities, input: tc(MC, { options: TIMEOUT_ASK }) }), answers: [{ decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },
  { scenario: MC, branch: 'approval-timeout-skip-resume', workflowType: 'trainingClusterModelCorruption', make: () => ({ activities: models({ backup: false, healthyOn: ['tc-node2'] }).activities, input: tc(MC, { options: TIMEOUT_ASK }) }), answers: [{ decide: 'skip' }], expect: { outcome: /retrained from models\/checkpoints\/hex8_2p_epoch_45\.pth/ } },
  { scenario: MC, branch: 'resume-training', workflowType: 'trainingClusterModelCorruption', make: () => ({ activities: models({ backup: false, healthyOn: [] }).activities, input: tc(MC) }), answers: [], expect: { outcome: /retrained from models\/checkpoints\/hex8_2p_epoch_45\.pth/ } },
  { scenario: MC, branch: 'model-intact', workflowType: 'trainingClusterModelCorruption', make: () => ({ activities: stubActivities().activities, input: tc(MC) }), answers: [], expect: { outcome: /Model intact on tc-node1/ } },
  { scenario: MC, branch: 'dry-run', workflowType: 'trainingClusterModelCorruption', make: () => ({ activities: models({ backup: false, healthyOn: ['tc-node2'] }).activities, input: tc(MC, { dryRun: true }) }), answers: [], expect: { outcome: /./ } },
];

// ------------------------------------------ training-cluster: cluster outage, sync host critical

const CO = 'training-cluster.cluster-outage';
const SHC = 'training-cluster.sync-host-critical';
const ops = (scenario: string, extra: { params?: Record<string, unknown>; options?: RecoveryOptions; dryRun?: boolean } = {}) => input(scenario, 'training-cluster', OPS_NODES, extra);
const lost = (): Record<string, HostSim> => ({ 'tc-node5': { critical: true, alive: false, reachable: false } });

const TRAINING_OPS: Branch[] = [
  { scenario: CO, branch: 'some-nodes-answer', workflowType: 'trainingClusterClusterOutage', make: () => ({ activities: outage({ answering: ['tc-node2', 'tc-node3'] }).activities, input: ops(CO) }), answers: [], expect: { failure: 'ScenarioMismatch' } },
  {
    scenario: CO,
    branch: 'coordinator-restart-fails-retry',
    workflowType: 'trainingClusterClusterOutage',
    make: () => {
      const acts = outage().activities;
      return { activities: { ...acts, p2pRestart: failOnce(acts.p2pRestart, 'systemctl start p2p: timeout') }, input: ops(CO) };
    },
    answers: [{ decide: 'retry' }],
    expect: { outcome: /Cluster back: 5\/5 nodes back/ },
  },
  {
    scenario: CO,
    branch: 'coordinator-restart-fails-abort',
    workflowType: 'trainingClusterClusterOutage',
    make: () => {
      const acts = outage().activities;
      return { activities: { ...acts, p2pRestart: failOnce(acts.p2pRestart, 'systemctl start p2p: timeout') }, input: ops(CO) };
    },
    answers: [{ decide: 'abort' }],
    expect: { failure: 'RecoveryAborted' },
  },
  { scenario: CO, branch: 'dry-run', workflowType: 'trainingClusterClusterOutage', make: () => ({ activities: outage().activities, input: ops(CO, { dryRun: true }) }), answers: [], expect: { outcome: /./ } },

  // v2 (the real sync surface, behind patched('training-cluster/real-p2p-api')); the v1 branches' histories are kept as v1-*.json.
  { scenario: SHC, branch: 'v2-full-sync', workflowType: 'trainingClusterSyncHostCritical', make: () => ({ activities: syncHosts({ 'tc-node5': { critical: true, healedBy: 'trigger' } }).activities, input: ops(SHC, { params: { host: 'tc-node5' } }) }), answers: [], expect: { outcome: /tc-node5: full sync triggered \(3 file/ } },
  { scenario: SHC, branch: 'v2-orchestrator-restart', workflowType: 'trainingClusterSyncHostCritical', make: () => ({ activities: syncHosts({ 'tc-node5': { critical: true, alive: false, healedBy: 'restart' } }).activities, input: ops(SHC) }), answers: [], expect: { outcome: /tc-node5: full sync triggered, orchestrator restarted/ } },
  { scenario: SHC, branch: 'v2-rsync-import', workflowType: 'trainingClusterSyncHostCritical', make: () => ({ activities: syncHosts({ 'tc-node5': { critical: true, unpullable: true, healedBy: 'import' } }).activities, input: ops(SHC, { params: { host: 'tc-node5' } }) }), answers: [], expect: { outcome: /tc-node5: data recovered by rsync and imported/ } },
  { scenario: SHC, branch: 'v2-unretire', workflowType: 'trainingClusterSyncHostCritical', make: () => ({ activities: syncHosts({ 'tc-node5': { retired: true, healedBy: 'unretire' } }).activities, input: ops(SHC) }), answers: [], expect: { outcome: /tc-node5: unretired, back in the mesh/ } },
  { scenario: SHC, branch: 'v2-retire-by-hand', workflowType: 'trainingClusterSyncHostCritical', make: () => ({ activities: syncHosts(lost()).activities, input: ops(SHC) }), answers: [{ approve: 'retire-host' }, { approve: 'retire-host-by-hand' }], expect: { outcome: /tc-node5: retired by hand, data loss acknowledged by alice/ } },
  { scenario: SHC, branch: 'v2-retire-rejected', workflowType: 'trainingClusterSyncHostCritical', make: () => ({ activities: syncHosts(lost()).activities, input: ops(SHC) }), answers: [{ reject: 'retire-host' }], expect: { failure: 'GateRejected' } },
  { scenario: SHC, branch: 'v2-approval-timeout-skip', workflowType: 'trainingClusterSyncHostCritical', make: () => ({ activities: syncHosts(lost()).activities, input: ops(SHC, { options: TIMEOUT_ASK }) }), answers: [{ decide: 'skip' }], expect: { outcome: /tc-node5: still critical, NOT retired/ } },
  { scenario: SHC, branch: 'v2-several-hosts-escalation', workflowType: 'trainingClusterSyncHostCritical', make: () => ({ activities: syncHosts({ 'tc-node4': { critical: true, alive: false, healedBy: 'restart' }, 'tc-node5': { critical: true, alive: false, healedBy: 'restart' } }).activities, input: ops(SHC) }), answers: [], expect: { outcome: /tc-node4: full sync triggered, orchestrator restarted; tc-node5: / } },
  { scenario: SHC, branch: 'v2-no-critical-host', workflowType: 'trainingClusterSyncHostCritical', make: () => ({ activities: syncHosts({}).activities, input: ops(SHC) }), answers: [], expect: { outcome: /No critical sync host/ } },
  { scenario: SHC, branch: 'v2-host-not-named', workflowType: 'trainingClusterSyncHostCritical', make: () => ({ activities: syncHosts({ 'tc-node5': { critical: true } }).activities, input: ops(SHC) }), answers: [], expect: { failure: 'HostNotNamed' } },
  {
    scenario: SHC,
    branch: 'v2-coordinator-unreachable',
    workflowType: 'trainingClusterSyncHostCritical',
    make: () => ({ activities: syncHosts({}, (o) => (o.syncCriticalHosts = async (x) => ({ node: x.node, reachable: false, staleSeconds: 300, hosts: [], error: 'ECONNREFUSED' }))).activities, input: ops(SHC) }),
    answers: [],
    expect: { failure: 'CoordinatorUnreachable' },
  },
  { scenario: SHC, branch: 'v2-dry-run', workflowType: 'trainingClusterSyncHostCritical', make: () => ({ activities: syncHosts({ 'tc-node5': { critical: true, alive: false } }).activities, input: ops(SHC, { dryRun: true }) }), answers: [], expect: { outcome: /./ } },
];

// ---------------------------------------------------------------- gossip
// The v2 scenarios (memberlist-plumtree 0.1.6 through the control API,
// test/helpers/stubs-gossip.ts). The v1 ones' histories stay in
// histories/<scenario>/v1-*.json; nothing records them any more.

/** A fake plumtree cluster (test/helpers/stubs-gossip.ts) in the state `mutate` leaves it. */
function gossip(scenario: string, opts: FakeOptions, mutate: (f: Fake) => void, extra: { options?: RecoveryOptions; dryRun?: boolean; params?: Record<string, unknown> } = {}): () => { activities: LifeboatActivities; input: RecoveryInput } {
  return () => {
    const fake = fakeGossip(opts);
    mutate(fake);
    const nodes = fakeGossip().nodes.map((n) => ({ name: n.name, roles: [n.seed ? 'seed' : 'member'] }));
    return { activities: stubActivities(fake.activities).activities, input: input(scenario, 'gossip', nodes, extra) };
  };
}

const isolate = (f: Fake) => f.isolate('gossip3');
const leftNode = (f: Fake) => {
  f.nodes[2]!.left = true;
  f.nodes[2]!.frozen = { eager: ['gossip1', 'gossip2', 'gossip4'], lazy: ['gossip5'] };
  f.nodes.filter((n) => n.name !== 'gossip3').forEach((n) => n.view.delete('gossip3'));
};
const partition = (f: Fake) => f.splitViews([['gossip1', 'gossip2', 'gossip3'], ['gossip4', 'gossip5']]);
const minority = (f: Fake) => ['gossip3', 'gossip4', 'gossip5'].forEach((n) => f.crash(n));
const twoDown = (f: Fake) => ['gossip4', 'gossip5'].forEach((n) => f.crash(n));
const lose = (f: Fake) => f.nodes.forEach((n) => (f.crash(n.name), (n.storeCorrupt = true)));
const corrupt = (f: Fake) => (f.crash('gossip3'), (f.nodes[2]!.storeCorrupt = true));
const inMemory = (f: Fake) => (f.nodes[2]!.cacheBad = true);
/** Once every node sees all five, `node`'s API refuses the next two reads of its peers (its unit restarting it after a panic). */
const restartingAtVerify = (f: Fake, node: string): void => {
  const peers = f.activities.gossipPeers!;
  let missed = 0;
  f.activities.gossipPeers = async (a: { cluster: string; node: string }) => {
    if (a.node === node && missed < 2 && f.nodes.every((n) => n.view.size === f.nodes.length)) {
      missed += 1;
      return { node: a.node, reachable: false, error: 'connection refused', eager: [], lazy: [], members: [] };
    }
    return peers(a as never);
  };
};
const split = (f: Fake) => {
  partition(f);
  f.nodes.forEach((n, i) => n.messages.add(i < 3 ? 'a' : 'b'));
};
const none = () => undefined;

const GOSSIP: Branch[] = [
  { scenario: 'gossip.isolated-node', branch: 'v2-rejoin-fails-restart', workflowType: 'gossipIsolatedNode', make: gossip('gossip.isolated-node', { joinWorks: false }, isolate), answers: [], expect: { outcome: /by a restart of plumtree \(the rejoin had failed\)/ } },
  { scenario: 'gossip.isolated-node', branch: 'v2-left-restart', workflowType: 'gossipIsolatedNode', make: gossip('gossip.isolated-node', {}, leftNode), answers: [], expect: { outcome: /by a restart of plumtree \(it had left the cluster\)/ } },
  { scenario: 'gossip.isolated-node', branch: 'v2-no-seed-abort', workflowType: 'gossipIsolatedNode', make: gossip('gossip.isolated-node', { seedsOpen: false }, isolate), answers: [{ decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },
  { scenario: 'gossip.isolated-node', branch: 'v2-not-isolated', workflowType: 'gossipIsolatedNode', make: gossip('gossip.isolated-node', {}, none), answers: [], expect: { outcome: /No isolated node/ } },
  { scenario: 'gossip.isolated-node', branch: 'v2-dry-run', workflowType: 'gossipIsolatedNode', make: gossip('gossip.isolated-node', {}, isolate, { dryRun: true }), answers: [], expect: { outcome: /./ } },

  { scenario: 'gossip.partition', branch: 'v2-auto-heal', workflowType: 'gossipPartition', make: gossip('gossip.partition', { autoHealAfterReads: 15 }, partition), answers: [], expect: { outcome: /Partition healed by automatic recovery/ } },
  { scenario: 'gossip.partition', branch: 'v2-forced-rebalance', workflowType: 'gossipPartition', make: gossip('gossip.partition', {}, partition), answers: [{ approve: 'forced-rebalance' }], expect: { outcome: /a forced rejoin and rebalance on 5 nodes, approved by alice/ } },
  { scenario: 'gossip.partition', branch: 'v2-rebalance-rejected', workflowType: 'gossipPartition', make: gossip('gossip.partition', {}, partition), answers: [{ reject: 'forced-rebalance' }], expect: { failure: 'GateRejected' } },
  {
    scenario: 'gossip.partition',
    branch: 'v2-link-down-abort',
    workflowType: 'gossipPartition',
    make: gossip('gossip.partition', {}, (f) => (partition(f), (f.nodes[3]!.group = 1), (f.nodes[4]!.group = 1))),
    answers: [{ approve: 'forced-rebalance' }, { decide: 'abort' }],
    expect: { failure: 'RecoveryAborted' },
  },
  { scenario: 'gossip.partition', branch: 'v2-approval-timeout-fail', workflowType: 'gossipPartition', make: gossip('gossip.partition', {}, partition, { options: TIMEOUT_FAIL }), answers: [], expect: { failure: 'ApprovalTimedOut' } },
  { scenario: 'gossip.partition', branch: 'v2-dry-run', workflowType: 'gossipPartition', make: gossip('gossip.partition', {}, partition, { dryRun: true }), answers: [], expect: { outcome: /./ } },
  { scenario: 'gossip.partition', branch: 'v3-forced-rebalance-node-restarting', workflowType: 'gossipPartition', make: gossip('gossip.partition', {}, (f) => (partition(f), restartingAtVerify(f, 'gossip4'))), answers: [{ approve: 'forced-rebalance' }], expect: { outcome: /a forced rejoin and rebalance on 5 nodes, approved by alice: one component of 5$/ } },

  { scenario: 'gossip.multi-node-failure', branch: 'v2-majority-survives', workflowType: 'gossipMultiNodeFailure', make: gossip('gossip.multi-node-failure', {}, twoDown), answers: [], expect: { outcome: /Majority survived \(3\/5\)/ } },
  {
    scenario: 'gossip.multi-node-failure',
    branch: 'v2-ssh-refused-retry',
    workflowType: 'gossipMultiNodeFailure',
    make: () => {
      const fake = fakeGossip();
      twoDown(fake);
      const real = fake.activities.gossipServiceState!;
      // Each failed host refuses once, both in the same check: the decision names both.
      const refused = new Set(['gossip4', 'gossip5']);
      const state = async (a: NodeRef) => {
        if (refused.delete(a.node)) throw hardFailure(`SSH authentication on ${a.node} was refused`);
        return real(a);
      };
      const nodes = fake.nodes.map((n) => ({ name: n.name, roles: [n.seed ? 'seed' : 'member'] }));
      return { activities: stubActivities({ ...fake.activities, gossipServiceState: state }).activities, input: input('gossip.multi-node-failure', 'gossip', nodes) };
    },
    answers: [{ decide: 'retry' }],
    expect: { outcome: /started again: gossip4, gossip5/ },
  },
  { scenario: 'gossip.multi-node-failure', branch: 'v2-coordinated-restart', workflowType: 'gossipMultiNodeFailure', make: gossip('gossip.multi-node-failure', {}, minority), answers: [{ approve: 'coordinated-restart' }], expect: { outcome: /coordinated restart of all 5 nodes/ } },
  { scenario: 'gossip.multi-node-failure', branch: 'v2-restart-rejected', workflowType: 'gossipMultiNodeFailure', make: gossip('gossip.multi-node-failure', {}, minority), answers: [{ reject: 'coordinated-restart' }], expect: { failure: 'GateRejected' } },
  { scenario: 'gossip.multi-node-failure', branch: 'v2-approval-timeout-abort', workflowType: 'gossipMultiNodeFailure', make: gossip('gossip.multi-node-failure', {}, minority, { options: TIMEOUT_ASK }), answers: [{ decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },
  { scenario: 'gossip.multi-node-failure', branch: 'v2-dry-run', workflowType: 'gossipMultiNodeFailure', make: gossip('gossip.multi-node-failure', {}, minority, { dryRun: true }), answers: [], expect: { outcome: /./ } },

  { scenario: 'gossip.total-loss', branch: 'v2-clear-rejected', workflowType: 'gossipTotalLoss', make: gossip('gossip.total-loss', {}, lose), answers: [{ reject: 'clear-persistent-state' }], expect: { failure: 'GateRejected' } },
  { scenario: 'gossip.total-loss', branch: 'v2-approval-timeout-fail', workflowType: 'gossipTotalLoss', make: gossip('gossip.total-loss', {}, lose, { options: TIMEOUT_FAIL }), answers: [], expect: { failure: 'ApprovalTimedOut' } },
  { scenario: 'gossip.total-loss', branch: 'v2-majority-works', workflowType: 'gossipTotalLoss', make: gossip('gossip.total-loss', {}, (f) => f.crash('gossip5')), answers: [], expect: { failure: 'ScenarioMismatch' } },
  { scenario: 'gossip.total-loss', branch: 'v2-dry-run', workflowType: 'gossipTotalLoss', make: gossip('gossip.total-loss', {}, lose, { dryRun: true }), answers: [], expect: { outcome: /./ } },
  // Recorded with the visibility memo (patched('kit/visibility-memo'), src/workflows/kit/versions.ts): its upserts replay in place,
  // for a gate approved and for a gate that times out into an operator's decision.
  { scenario: 'gossip.total-loss', branch: 'memo-clear-approved', workflowType: 'gossipTotalLoss', make: gossip('gossip.total-loss', {}, lose), answers: [{ approve: 'clear-persistent-state' }], expect: { outcome: /Cluster re-formed from scratch/ } },
  { scenario: 'gossip.total-loss', branch: 'memo-approval-timeout-abort', workflowType: 'gossipTotalLoss', make: gossip('gossip.total-loss', {}, lose, { options: TIMEOUT_ASK }), answers: [{ decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },

  { scenario: 'gossip.cache-corruption', branch: 'v2-restart-heals', workflowType: 'gossipCacheCorruption', make: gossip('gossip.cache-corruption', {}, inMemory), answers: [], expect: { outcome: /by restarting the affected nodes/ } },
  { scenario: 'gossip.cache-corruption', branch: 'v2-clear-storage-rejected', workflowType: 'gossipCacheCorruption', make: gossip('gossip.cache-corruption', {}, corrupt), answers: [{ reject: 'clear-storage' }], expect: { failure: 'GateRejected' } },
  { scenario: 'gossip.cache-corruption', branch: 'v2-approval-timeout-fail', workflowType: 'gossipCacheCorruption', make: gossip('gossip.cache-corruption', {}, corrupt, { options: TIMEOUT_FAIL }), answers: [], expect: { failure: 'ApprovalTimedOut' } },
  {
    scenario: 'gossip.cache-corruption',
    branch: 'v2-quorum-guard-abort',
    workflowType: 'gossipCacheCorruption',
    make: gossip(
      'gossip.cache-corruption',
      {},
      (f) => {
        inMemory(f);
        f.crash('gossip4');
        f.crash('gossip5');
        f.nodes[3]!.sshDown = true;
        f.nodes[4]!.sshDown = true;
      },
      { params: { node: 'gossip3' } },
    ),
    answers: [{ decide: 'abort' }],
    expect: { failure: 'RecoveryAborted' },
  },
  { scenario: 'gossip.cache-corruption', branch: 'v2-nothing-found', workflowType: 'gossipCacheCorruption', make: gossip('gossip.cache-corruption', {}, none), answers: [], expect: { outcome: /No cache corruption found/ } },
  { scenario: 'gossip.cache-corruption', branch: 'v2-dry-run', workflowType: 'gossipCacheCorruption', make: gossip('gossip.cache-corruption', {}, corrupt, { dryRun: true }), answers: [], expect: { outcome: /./ } },

  { scenario: 'gossip.split-brain', branch: 'v2-sync-not-configured', workflowType: 'gossipSplitBrain', make: gossip('gossip.split-brain', { syncConfigured: false }, split), answers: [], expect: { failure: 'ReconciliationNeeded' } },
  { scenario: 'gossip.split-brain', branch: 'v2-sync-never-converges', workflowType: 'gossipSplitBrain', make: gossip('gossip.split-brain', { syncConverges: false }, split), answers: [], expect: { failure: 'ReconciliationNeeded' } },
  { scenario: 'gossip.split-brain', branch: 'v2-no-divergence', workflowType: 'gossipSplitBrain', make: gossip('gossip.split-brain', {}, none), answers: [], expect: { outcome: /No data divergence/ } },
  { scenario: 'gossip.split-brain', branch: 'v2-dry-run', workflowType: 'gossipSplitBrain', make: gossip('gossip.split-brain', {}, split, { dryRun: true }), answers: [], expect: { outcome: /./ } },
  // gossip/verify-every-node-back: the verification waits for a node that does not answer for its first two probes (its unit restarting it).
  {
    scenario: 'gossip.split-brain',
    branch: 'v3-node-restarting-at-verify',
    workflowType: 'gossipSplitBrain',
    make: gossip('gossip.split-brain', {}, (f) => (split(f), restartingAtVerify(f, 'gossip5'))),
    answers: [],
    expect: { outcome: /; one component of 5$/ },
  },
];

// ---------------------------------------------------------------- train-server

const TS_NODES = [{ name: 'train1', roles: ['train-server'] }];
const ts = (scenario: string, extra: { params?: Record<string, unknown>; options?: RecoveryOptions; dryRun?: boolean } = {}) => input(scenario, 'train-server', TS_NODES, extra);
const TDL = 'train-server.total-data-loss';
const CSSD = 'train-server.cache-ssd';
const PO = 'train-server.power-outage';
const OSD = 'train-server.os-disk';
const BC = 'train-server.btrfs-corruption';

// The v1 histories (before the real setup scripts and device guards) are kept as
// histories/<scenario>/v1-*.json: no recorder makes them any more. Power outage did not change.
const TRAIN_SERVER: Branch[] = [
  { scenario: TDL, branch: 'v2-older-snapshot-new-array', workflowType: 'trainServerTotalDataLoss', make: () => ({ activities: blankServer().activities, input: ts(TDL) }), answers: [{ approve: 'restore-snapshot', choice: 'aaaaaaaa' }, { approve: 'recreate-config' }, { approve: 'new-btrfs-array' }], expect: { outcome: /homes of 5 users restored from snapshot aaaaaaaa/ } },
  { scenario: TDL, branch: 'v2-password-by-reference', workflowType: 'trainServerTotalDataLoss', make: () => ({ activities: blankServer(lostPassword()).activities, input: ts(TDL, { params: { snapshot: 'bbbbbbbb' } }) }), answers: [{ approve: 'restic-password', choice: 'file:/etc/lifeboat/restic-password' }, { approve: 'recreate-config' }, { approve: 'new-btrfs-array' }], expect: { outcome: /restored from snapshot bbbbbbbb/ } },
  { scenario: TDL, branch: 'v2-config-in-backup-by-hand-script', workflowType: 'trainServerTotalDataLoss', make: () => ({ activities: blankServer({ ...CONFIG_IN_BACKUP, ...asksQuestion('06-setup-cloudflare-tunnel.sh') }).activities, input: ts(TDL, { params: { snapshot: 'bbbbbbbb' } }) }), answers: [{ approve: 'new-btrfs-array' }, { approve: 'by-hand-06-setup-cloudflare-tunnel' }], expect: { outcome: /restored from snapshot bbbbbbbb/ } },
  { scenario: TDL, branch: 'v2-disks-refused-abort', workflowType: 'trainServerTotalDataLoss', make: () => ({ activities: blankServer(DEVICE_REFUSED).activities, input: ts(TDL, { params: { snapshot: 'bbbbbbbb' } }) }), answers: [{ approve: 'recreate-config' }, { decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },
  { scenario: TDL, branch: 'v2-new-array-rejected', workflowType: 'trainServerTotalDataLoss', make: () => ({ activities: blankServer().activities, input: ts(TDL, { params: { snapshot: 'bbbbbbbb' } }) }), answers: [{ approve: 'recreate-config' }, { reject: 'new-btrfs-array' }], expect: { failure: 'GateRejected' } },
  { scenario: TDL, branch: 'v2-snapshot-timeout-abort', workflowType: 'trainServerTotalDataLoss', make: () => ({ activities: blankServer().activities, input: ts(TDL, { options: TIMEOUT_ASK }) }), answers: [{ decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },
  { scenario: TDL, branch: 'v2-new-array-timeout-skip', workflowType: 'trainServerTotalDataLoss', make: () => ({ activities: blankServer().activities, input: ts(TDL, { params: { snapshot: 'bbbbbbbb' }, options: TIMEOUT_ASK }) }), answers: [{ approve: 'recreate-config' }, { decide: 'skip' }], expect: { failure: 'GateSkipped' } },
  { scenario: TDL, branch: 'v2-storage-mounted', workflowType: 'trainServerTotalDataLoss', make: () => ({ activities: stubActivities().activities, input: ts(TDL, { params: { snapshot: 'bbbbbbbb' } }) }), answers: [], expect: { outcome: /restored from snapshot bbbbbbbb/ } },
  { scenario: TDL, branch: 'v2-no-snapshots', workflowType: 'trainServerTotalDataLoss', make: () => ({ activities: blankServer({ tsResticSnapshots: async () => [] }).activities, input: ts(TDL) }), answers: [], expect: { failure: 'NoBackups' } },
  { scenario: TDL, branch: 'v2-dry-run', workflowType: 'trainServerTotalDataLoss', make: () => ({ activities: blankServer(lostPassword()).activities, input: ts(TDL, { dryRun: true }) }), answers: [], expect: { outcome: /./ } },

  { scenario: CSSD, branch: 'v2-replaced-and-rebuilt', workflowType: 'trainServerCacheSsd', make: () => ({ activities: failedSsd().activities, input: ts(CSSD) }), answers: [{ approve: 'ssd-replaced' }, { approve: 'wipe-new-ssd' }], expect: { outcome: /Cache restored: new cache set ffffffff/ } },
  { scenario: CSSD, branch: 'v2-wrong-device-abort', workflowType: 'trainServerCacheSsd', make: () => ({ activities: { ...failedSsd().activities, ...DEVICE_REFUSED }, input: ts(CSSD) }), answers: [{ approve: 'ssd-replaced' }, { decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },
  { scenario: CSSD, branch: 'v2-wipe-rejected', workflowType: 'trainServerCacheSsd', make: () => ({ activities: failedSsd().activities, input: ts(CSSD) }), answers: [{ approve: 'ssd-replaced' }, { reject: 'wipe-new-ssd' }], expect: { failure: 'GateRejected' } },
  { scenario: CSSD, branch: 'v2-wipe-timeout-fail', workflowType: 'trainServerCacheSsd', make: () => ({ activities: failedSsd().activities, input: ts(CSSD, { options: TIMEOUT_FAIL }) }), answers: [{ approve: 'ssd-replaced' }], expect: { failure: 'ApprovalTimedOut' } },
  { scenario: CSSD, branch: 'v2-replacement-timeout-abort', workflowType: 'trainServerCacheSsd', make: () => ({ activities: failedSsd().activities, input: ts(CSSD, { options: TIMEOUT_ASK }) }), answers: [{ decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },
  { scenario: CSSD, branch: 'v2-replacement-timeout-skip-hdd-only', workflowType: 'trainServerCacheSsd', make: () => ({ activities: failedSsd().activities, input: ts(CSSD, { options: TIMEOUT_ASK }) }), answers: [{ decide: 'skip' }], expect: { outcome: /runs on the HDDs only until the SSD is replaced/ } },
  { scenario: CSSD, branch: 'v2-cache-healthy', workflowType: 'trainServerCacheSsd', make: () => ({ activities: stubActivities().activities, input: ts(CSSD) }), answers: [], expect: { outcome: /No cache failure/ } },
  {
    scenario: CSSD,
    branch: 'v2-dry-run',
    workflowType: 'trainServerCacheSsd',
    make: () => ({
      activities: stubActivities({ tsCacheDevice: async () => ({ device: '/dev/nvme0n1p3', state: 'failed', detail: 'I/O error' }), tsBcacheStatus: async () => [{ name: 'bcache0', state: 'inconsistent', cacheMode: 'writeback', writebackRunning: true }] }).activities,
      input: ts(CSSD, { dryRun: true }),
    }),
    answers: [],
    expect: { outcome: /./ },
  },

  { scenario: PO, branch: 'scrub-writeback-restart', workflowType: 'trainServerPowerOutage', make: () => ({ activities: afterOutage().activities, input: ts(PO) }), answers: [], expect: { outcome: /scrubbed; writeback resumed on bcache0; 1 container\(s\) restarted; users notified/ } },
  {
    scenario: PO,
    branch: 'writeback-fails-retry',
    workflowType: 'trainServerPowerOutage',
    make: () => {
      const acts = afterOutage().activities;
      return { activities: { ...acts, tsBcacheResumeWriteback: failOnce(acts.tsBcacheResumeWriteback, 'echo 1 > writeback_running: Permission denied') }, input: ts(PO) };
    },
    answers: [{ decide: 'retry' }],
    expect: { outcome: /writeback resumed on bcache0/ },
  },
  { scenario: PO, branch: 'nothing-wrong', workflowType: 'trainServerPowerOutage', make: () => ({ activities: stubActivities().activities, input: ts(PO) }), answers: [], expect: { outcome: /filesystem, cache and containers were fine/ } },
  {
    scenario: PO,
    branch: 'storage-not-mounted',
    workflowType: 'trainServerPowerOutage',
    make: () => ({ activities: stubActivities({ tsStorageStatus: async (a) => ({ node: a.node, reachable: true, mounted: false, errorCounters: [], kernelErrors: [], fstabHasStorage: true, configPresent: true, users: TS_USERS }) }).activities, input: ts(PO) }),
    answers: [],
    expect: { failure: 'StorageNotMounted' },
  },
  { scenario: PO, branch: 'dry-run', workflowType: 'trainServerPowerOutage', make: () => ({ activities: afterOutage().activities, input: ts(PO, { dryRun: true }) }), answers: [], expect: { outcome: /./ } },

  { scenario: OSD, branch: 'v2-mount-existing-array', workflowType: 'trainServerOsDisk', make: () => ({ activities: newOs().activities, input: ts(OSD) }), answers: [{ approve: 'recreate-config' }], expect: { outcome: /array 11111111-2222-3333-4444-555555555555 mounted \(not formatted\), config\.sh recreated/ } },
  { scenario: OSD, branch: 'v2-config-from-backup-password-by-reference', workflowType: 'trainServerOsDisk', make: () => ({ activities: newOs({ ...lostPassword(), ...CONFIG_IN_BACKUP }).activities, input: ts(OSD) }), answers: [{ approve: 'restic-password', choice: 'env:RESTIC_PASSWORD' }], expect: { outcome: /config\.sh restored from backup bbbbbbbb/ } },
  { scenario: OSD, branch: 'v2-by-hand-script', workflowType: 'trainServerOsDisk', make: () => ({ activities: newOs(asksQuestion('02-setup-gdrive-shared.sh', 'Press Enter when you have completed the authentication...')).activities, input: ts(OSD) }), answers: [{ approve: 'recreate-config' }, { approve: 'by-hand-02-setup-gdrive-shared' }], expect: { outcome: /setup re-run \(1 by hand\)/ } },
  { scenario: OSD, branch: 'v2-scripts-mismatch', workflowType: 'trainServerOsDisk', make: () => ({ activities: newOs({ ...CONFIG_IN_BACKUP, tsSetupPlan: async () => ({ repoDir: '/root/train-server', scripts: [{ name: '02-setup-users.sh', prompts: [], answered: [], checks: [], present: false }], unlisted: ['04-setup-users.sh'] }) }).activities, input: ts(OSD) }), answers: [], expect: { failure: 'SetupScriptsMismatch' } },
  {
    scenario: OSD,
    branch: 'v2-no-array',
    workflowType: 'trainServerOsDisk',
    make: () => ({ activities: newOs({ tsStorageStatus: async (a) => ({ node: a.node, reachable: true, mounted: false, errorCounters: [], kernelErrors: [], fstabHasStorage: false, configPresent: false, users: TS_USERS }) }).activities, input: ts(OSD) }),
    answers: [],
    expect: { failure: 'NoArray' },
  },
  {
    scenario: OSD,
    branch: 'v2-verify-fails-retry',
    workflowType: 'trainServerOsDisk',
    make: () => {
      let looks = 0;
      return { activities: newOs({ ...CONFIG_IN_BACKUP, tsVerify: async () => (++looks === 1 ? { ok: false, checks: [{ name: 'nvidia-smi', ok: false, detail: 'driver not loaded' }] } : { ok: true, checks: [{ name: 'nvidia-smi', ok: true, detail: '2 GPUs' }] }) }).activities, input: ts(OSD) };
    },
    answers: [{ decide: 'retry' }],
    expect: { outcome: /mounted \(not formatted\), config\.sh restored from backup bbbbbbbb, setup re-run, containers up; 1 checks passed/ },
  },
  { scenario: OSD, branch: 'v2-verify-fails-abort', workflowType: 'trainServerOsDisk', make: () => ({ activities: newOs({ ...CONFIG_IN_BACKUP, tsVerify: async () => ({ ok: false, checks: [{ name: 'nvidia-smi', ok: false, detail: 'driver not loaded' }] }) }).activities, input: ts(OSD) }), answers: [{ decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },
  { scenario: OSD, branch: 'v2-dry-run', workflowType: 'trainServerOsDisk', make: () => ({ activities: newOs().activities, input: ts(OSD, { dryRun: true }) }), answers: [], expect: { outcome: /./ } },

  { scenario: BC, branch: 'v2-repair-approved', workflowType: 'trainServerBtrfsCorruption', make: () => ({ activities: corruptBtrfs('moderate').activities, input: ts(BC) }), answers: [{ approve: 'btrfs-check-repair' }], expect: { outcome: /repaired and mounted read-write again; data rescued/ } },
  { scenario: BC, branch: 'v2-repair-device-refused-abort', workflowType: 'trainServerBtrfsCorruption', make: () => ({ activities: { ...corruptBtrfs('moderate').activities, ...DEVICE_REFUSED }, input: ts(BC) }), answers: [{ decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },
  { scenario: BC, branch: 'v2-repair-rejected', workflowType: 'trainServerBtrfsCorruption', make: () => ({ activities: corruptBtrfs('moderate').activities, input: ts(BC) }), answers: [{ reject: 'btrfs-check-repair' }], expect: { failure: 'GateRejected' } },
  { scenario: BC, branch: 'v2-approval-timeout-fail', workflowType: 'trainServerBtrfsCorruption', make: () => ({ activities: corruptBtrfs('moderate').activities, input: ts(BC, { options: TIMEOUT_FAIL }) }), answers: [], expect: { failure: 'ApprovalTimedOut' } },
  { scenario: BC, branch: 'v2-approval-timeout-abort', workflowType: 'trainServerBtrfsCorruption', make: () => ({ activities: corruptBtrfs('moderate').activities, input: ts(BC, { options: TIMEOUT_ASK }) }), answers: [{ decide: 'abort' }], expect: { failure: 'RecoveryAborted' } },
  { scenario: BC, branch: 'v2-severe-usebackuproot', workflowType: 'trainServerBtrfsCorruption', make: () => ({ activities: corruptBtrfs('severe').activities, input: ts(BC) }), answers: [{ approve: 'btrfs-check-repair' }], expect: { outcome: /mounted ro,usebackuproot, homes and workspaces rescued .*train-server\.total-data-loss/ } },
  { scenario: BC, branch: 'v2-unrecoverable', workflowType: 'trainServerBtrfsCorruption', make: () => ({ activities: corruptBtrfs('lost').activities, input: ts(BC) }), answers: [{ approve: 'btrfs-check-repair' }], expect: { failure: 'Unrecoverable' } },
  { scenario: BC, branch: 'v2-degraded-reconnected', workflowType: 'trainServerBtrfsCorruption', make: () => ({ activities: corruptBtrfs('degraded').activities, input: ts(BC) }), answers: [{ approve: 'reconnect-disk' }], expect: { outcome: /Array complete again: \/dev\/sdc reconnected/ } },
  { scenario: BC, branch: 'v2-degraded-timeout-skip', workflowType: 'trainServerBtrfsCorruption', make: () => ({ activities: corruptBtrfs('degraded').activities, input: ts(BC, { options: TIMEOUT_ASK }) }), answers: [{ decide: 'skip' }], expect: { outcome: /The array is degraded \(\/dev\/sdc missing\); homes and workspaces rescued/ } },
  {
    scenario: BC,
    branch: 'v2-dry-run',
    workflowType: 'trainServerBtrfsCorruption',
    make: () => ({ activities: stubActivities({ tsBtrfsCheck: async (a) => ({ plan: 'check', dryRun: a.dryRun, clean: false, findings: 'ERROR: 2 errors found' }) }).activities, input: ts(BC, { dryRun: true }) }),
    answers: [],
    expect: { outcome: /./ },
  },
];

export const BRANCHES: readonly Branch[] = [...LEDGER, ...TRAINING, ...TRAINING_DATA, ...TRAINING_OPS, ...TRAIN_SERVER, ...GOSSIP];
