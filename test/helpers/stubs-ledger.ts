/**
 * Stub defaults of the ledger activities that speak the real server (a
 * healthy three-node cluster), for tests that do not model a ledger; the
 * stateful model is test/helpers/fakes-ledger.ts.
 */
import type { LedgerActivities } from '../../src/activities/types';
import type { PlanOf } from './stubs';

/** The ledger activities with an effect. */
export const LEDGER_EFFECTS = [
  'ledgerServiceStop',
  'ledgerServiceStart',
  'ledgerSetAside',
  'ledgerInit',
  'ledgerRemoveMember',
  'ledgerVaultRecover',
  'ledgerWriteCheck',
  'ledgerExport',
  'ledgerImport',
  'ledgerArchiveFetch',
  'ledgerArchivePush',
];

type Stubbed = Omit<LedgerActivities, 'ledgerDrTopology' | 'ledgerEngineEndpoint' | 'ledgerSwitchEndpoint' | 'ledgerRestartEngine' | 'ledgerEngineRollout'>;

export function ledgerStubs(plan: PlanOf): Stubbed {
  const p = (name: string, a: object) => plan(name, a as Record<string, unknown>);
  return {
    ledgerNodeState: async (a) => ({ node: a.node, reachable: true, nodeId: `1${a.node.length}`, clusterId: '9', state: 'running', leaderId: '1', health: 'healthy', peersOk: true, members: [] }),
    ledgerDataDir: async (a) => ({ node: a.node, sshReachable: true, dataDir: 'data', present: true, serviceActive: true, version: '0.1.0' }),
    ledgerVaults: async (a) => ({ node: a.node, reachable: true, organizations: [], vaults: [] }),
    ledgerVaultHealth: async (a) => ({ node: a.node, organization: a.organization, vault: a.vault, reachable: true, status: 'healthy' }),
    ledgerIntegrity: async (a) => ({ node: a.node, organization: a.organization, vault: a.vault, healthy: true, issues: [] }),
    ledgerReplicaTip: async (a) => ({ node: a.node, organization: a.organization, vault: a.vault, reachable: true, height: 1 }),
    ledgerMetrics: async (a) => ({ node: a.node, reachable: true, flowing: true, determinismBugs: 0, divergedVaults: 0 }),
    ledgerBackupStatus: async (a) => ({ node: a.node, available: false, reason: 'not configured', backups: [] }),
    ledgerArchiveInfo: async (a) => ({ source: a.source ?? 's3://ledger-backups/latest/ledger-export.jsonl', exists: true, sizeBytes: 4096, takenAt: '2026-11-22T02:00:00Z' }),
    ledgerServiceStop: async (a) => p('ledgerServiceStop', a),
    ledgerServiceStart: async (a) => p('ledgerServiceStart', a),
    ledgerSetAside: async (a) => p('ledgerSetAside', a),
    ledgerInit: async (a) => p('ledgerInit', a),
    ledgerRemoveMember: async (a) => ({ plan: `LeaveCluster ${a.nodeId}`, ...(a.dryRun ? { dryRun: true as const } : {}) }),
    ledgerVaultRecover: async (a) => p('ledgerVaultRecover', a),
    ledgerWriteCheck: async (a) => ({ plan: 'write check', organization: a.organization, vault: a.vault, leader: 'node1', height: 2, key: 'k', readBack: [], missing: [] }),
    ledgerExport: async (a) => ({ ...p('ledgerExport', a), file: { node: a.to.node, path: a.to.path ?? 'exports/e.jsonl' }, exportId: 'e', organizations: 0, vaults: 0, entities: 0, relationships: 0, bytes: 0, sha256: '', heights: {} }),
    ledgerImport: async (a) => ({ ...p('ledgerImport', a), organizations: 0, vaults: 0, entities: 0, relationships: 0 }),
    ledgerArchiveFetch: async (a) => ({ ...p('ledgerArchiveFetch', a), path: a.path ?? 'exports/restore.jsonl' }),
    ledgerArchivePush: async (a) => p('ledgerArchivePush', a),
  };
}
