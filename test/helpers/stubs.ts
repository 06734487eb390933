/**
 * Stub activities for workflow-logic tests: every activity of
 * {@link LifeboatActivities} with a harmless default, overridable per test,
 * and a call log (an "effect log" for stubs).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { LifeboatActivities } from '../../src/activities/types';
import { GOSSIP_EFFECTS, gossipStubs } from './stubs-gossip';
import { LEDGER_EFFECTS, ledgerStubs } from './stubs-ledger';
import { TRAIN_SERVER_EFFECTS, trainServerStubs } from './stubs-train-server';
import { TRAINING_DATA_EFFECTS, trainingDataStubs } from './stubs-training-data';
import { TRAINING_OPS_EFFECTS, trainingOpsStubs } from './stubs-training-ops';

/** Builds the default EffectResult of a stubbed effect. */
export type PlanOf = (name: string, a: Record<string, unknown>) => { plan: string; dryRun?: true };

export interface StubCall {
  name: string;
  arg: Record<string, unknown>;
}

export function stubActivities(overrides: Partial<LifeboatActivities> = {}): { activities: LifeboatActivities; calls: StubCall[]; effects: () => StubCall[] } {
  const calls: StubCall[] = [];
  const plan: PlanOf = (name, a) => ({ plan: `${name} ${String(a.node ?? '')}`.trim(), dryRun: a.dryRun === true || undefined });
  const base: LifeboatActivities = {
    sshCheck: async (a) => ({ node: a.node, reachable: true, latencyMs: 1 }),
    notify: async () => undefined,
    ledgerNodeInfo: async (a) => ({ node: a.node, reachable: true, serving: true, leader: 'node1', clusterId: 'c1', mode: 'cluster', commitIndex: 10, members: [] }),
    ledgerStop: async (a) => plan('ledgerStop', a as never),
    ledgerStart: async (a) => plan('ledgerStart', a as never),
    ledgerClearData: async (a) => plan('ledgerClearData', a as never),
    ledgerLeaveCluster: async (a) => plan('ledgerLeaveCluster', a as never),
    ledgerListVaults: async () => [{ organization: '1', vault: 'payments', status: 'ACTIVE', height: 5 }],
    ledgerCheckIntegrity: async (a) => ({ organization: a.organization, vault: a.vault, ok: true, blocksChecked: 5, problems: [] }),
    ledgerWriteRead: async (a) => ({ ...plan('ledgerWriteRead', a as never), height: 6 }),
    ledgerMetricsFlowing: async () => true,
    ledgerDeterminismBugs: async (a) => ({ node: a.node, reachable: true, bugs: [] }),
    ledgerBackupInfo: async (a) => ({ source: a.source, exists: true, sizeBytes: 2048, takenAt: '2026-11-22T02:00:00Z' }),
    ledgerFetchBackup: async (a) => ({ ...plan('ledgerFetchBackup', a as never), restoreDir: a.restoreDir ?? '/data/restore' }),
    ledgerGetTip: async () => ({ height: 5, hash: 'abc' }),
    ledgerGetVault: async (a) => ({ organization: a.organization, vault: a.vault, status: 'ACTIVE', height: 5 }),
    ledgerRecoverVault: async (a) => ({ ...plan('ledgerRecoverVault', a as never), recovered: true, status: 'ACTIVE' }),
    ledgerCreateSnapshot: async (a) => ({ ...plan('ledgerCreateSnapshot', a as never), snapshotId: 'snap-1', height: 5 }),
    ledgerDrTopology: async (a) => ({
      primaryCluster: a.cluster,
      drCluster: a.drCluster ?? `${a.cluster}-dr`,
      voters: ['dr-node1', 'dr-node2', 'dr-node3'],
      bastion: 'bastion',
      replicaSource: 's3://ledger-primary-backups/latest/',
      endpoint: 'ledger.dr-region.internal:50051',
      configMap: 'ledger-config',
      endpointKey: 'LEDGER_ENDPOINT',
      deployment: 'engine',
      dataDir: './data',
      workdir: '/dr-region',
    }),
    ledgerReplicaInfo: async (a) => ({ source: a.source, exists: true, objects: 1, sizeBytes: 4096, lastModified: '2026-11-22T01:53:00Z' }),
    ledgerDrSync: async (a) => ({ ...plan('ledgerDrSync', a as never), files: 1 }),
    ledgerEngineEndpoint: async () => ({ configMap: 'ledger-config', key: 'LEDGER_ENDPOINT', endpoint: 'ledger.primary-region.internal:50051' }),
    ledgerSwitchEndpoint: async (a) => ({ ...plan('ledgerSwitchEndpoint', a as never), previous: 'ledger.primary-region.internal:50051' }),
    ledgerRestartEngine: async (a) => plan('ledgerRestartEngine', a as never),
    ledgerEngineRollout: async () => ({ deployment: 'engine', complete: true, detail: 'deployment "engine" successfully rolled out' }),
    ...ledgerStubs(plan),
    p2pStatus: async (a) => ({ node: a.node, reachable: true, leaderId: 'node1', alivePeers: [], electionState: 'stable', voters: [] }),
    p2pDaemonStatus: async (a) => ({ node: a.node, running: true, healthy: true, detail: 'ok' }),
    p2pRestart: async (a) => plan('p2pRestart', a as never),
    p2pJobs: async (a) => ({ node: a.node, reachable: true, activeJobs: 2 }),
    p2pElectionReset: async (a) => plan('p2pElectionReset', a as never),
    p2pSetLeader: async (a) => plan('p2pSetLeader', a as never),
    ...gossipStubs(plan),
    ...trainServerStubs(plan),
    ...trainingDataStubs(plan),
    ...trainingOpsStubs(plan),
  };
  const merged = { ...base, ...overrides } as unknown as Record<string, (a: Record<string, unknown>) => Promise<unknown>>;
  const wrapped: Record<string, (a: Record<string, unknown>) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(merged)) {
    wrapped[name] = async (a) => {
      calls.push({ name, arg: a });
      return fn(a);
    };
  }
  const EFFECTS = new Set(['ledgerStop', 'ledgerStart', 'ledgerClearData', 'ledgerLeaveCluster', 'ledgerFetchBackup', 'ledgerRecoverVault', 'ledgerCreateSnapshot', 'ledgerWriteRead', 'ledgerDrSync', 'ledgerSwitchEndpoint', 'ledgerRestartEngine', ...LEDGER_EFFECTS, 'p2pRestart', 'p2pElectionReset', 'p2pSetLeader', ...GOSSIP_EFFECTS, ...TRAIN_SERVER_EFFECTS, ...TRAINING_DATA_EFFECTS, ...TRAINING_OPS_EFFECTS]);
  return {
    activities: wrapped as unknown as LifeboatActivities,
    calls,
    effects: () => calls.filter((c) => EFFECTS.has(c.name) && c.arg.dryRun !== true),
  };
}

/** A failure retrying cannot fix, as a real activity would raise it. */
export function hardFailure(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'CommandFailed');
}
