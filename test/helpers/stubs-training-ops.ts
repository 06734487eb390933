/**
 * Default stubs of the training-ops activities for workflow-logic tests (see ./stubs):
 * a healthy sync coordinator with no critical host, reachable hosts, a working cluster.
 */
import type { TrainingOpsActivities } from '../../src/activities/types';
import type { PlanOf } from './stubs';

/** Names of the training-ops activities that have an effect on the target. */
export const TRAINING_OPS_EFFECTS: string[] = [
  'syncForce',
  'syncAgentRestart',
  'syncRecoverData',
  'syncImport',
  'syncUnretire',
  'syncRetireHost',
  'syncTrigger',
  'clusterFullSync',
  'clusterLaunchDaemons',
];

export function trainingOpsStubs(plan: PlanOf): TrainingOpsActivities {
  return {
    syncHosts: async () => ({ reachable: true, counts: { healthy: 3 }, hosts: [] }),
    syncHostStorage: async (a) => ({ node: a.node, reachable: true, dir: '/data/selfplay', size: '12M', files: 2, oldest: '2026-12-01T10:00:00.000Z', newest: '2026-12-01T12:00:00.000Z', listing: '' }),
    syncProcess: async (a) => ({ node: a.node, reachable: true, running: false, lines: [] }),
    syncLogTail: async (a) => ({ node: a.node, reachable: true, tail: '', errors: 0 }),
    syncForce: async (a) => ({ ...plan('syncForce', a as never), synced: false, detail: 'coordinator refused (502): agent not answering' }),
    syncAgentRestart: async (a) => ({ ...plan('syncAgentRestart', a as never), active: true, reachable: true, detail: 'active' }),
    syncRecoverData: async (a) => ({ ...plan('syncRecoverData', a as never), recoveredDir: `/data/recovered/${a.host}/`, files: 2 }),
    syncImport: async (a) => ({ ...plan('syncImport', a as never), imported: 2 }),
    syncUnretire: async (a) => plan('syncUnretire', a as never),
    syncRetireHost: async (a) => plan('syncRetireHost', a as never),
    syncGauges: async () => ({ reachable: true, total: 4, healthy: 4, stale: 0, critical: 0 }),
    syncAppStatus: async () => ({ reachable: true, status: 'ok', provider: 'local', running: false, transports: ['p2p', 'ssh'], lastSyncTimes: {} }),
    syncTrigger: async (a) => ({ ...plan('syncTrigger', a as never), synced: true, totalFiles: 0, detail: 'full sync: 0 file(s), 0 byte(s)' }),
    syncCriticalHosts: async (a) => ({ node: a.node, reachable: true, staleSeconds: 300, hosts: [] }),
    clusterFullSync: async (a) => plan('clusterFullSync', a as never),
    clusterLaunchDaemons: async (a) => plan('clusterLaunchDaemons', a as never),
    selfplayRunning: async (a) => ({ node: a.node, reachable: true, running: true, processes: 1 }),
    modelsAccessible: async (a) => ({ node: a.node, reachable: true, models: [{ name: 'canonical_hex8_2p.pth', bytes: 1024 }] }),
  };
}
