/**
 * The training cluster's activities (seeds 000 and 001), put together for
 * the worker: the P2P orchestrator ({@link ./p2p}), games databases
 * ({@link ./games}), selfplay ({@link ./selfplay}), models ({@link ./models}),
 * the sync coordinator and its hosts ({@link ./sync}; the real app's sync surface, {@link ./app-sync}) and cluster-wide
 * scripts ({@link ./cluster-ops}), over the node helpers of {@link ./host}.
 *
 * Idempotency: reads have no effect; each effect checks the node first
 * (process running, file present, checksum verified, host still critical)
 * and reports `alreadyDone` when it is in place; restarts and copies that
 * cannot be checked are done once per step, with a marker keyed by the
 * workflow and activity ids.
 *
 * @module
 */
import { bindActivities, type ActivityContext } from '../context';
import { trainingClusterContext } from './context';
import { p2pDaemonStatus, p2pElectionReset, p2pJobs, p2pRestart, p2pSetLeader, p2pStatus, p2pUnretire } from './p2p';
import { gamesAggregate, gamesBackupAggregate, gamesBackupInfo, gamesDbStatus, gamesQuarantine, gamesRestoreBackup, gamesSyncToHost } from './games';
import { selfplayLaunchCluster, selfplayRunning, selfplayStart, selfplayStop } from './selfplay';
import { modelCheck, modelCheckpoints, modelFetch, modelRestoreBackup, modelResumeTraining, modelsAccessible, modelSwap } from './models';
import { syncAgentRestart, syncForce, syncHosts, syncHostStorage, syncImport, syncLogTail, syncProcess, syncRecoverData, syncRetireHost, syncUnretire } from './sync';
import { syncAppStatus, syncCriticalHosts, syncGauges, syncTrigger } from './app-sync';
import { clusterFullSync, clusterLaunchDaemons } from './cluster-ops';
import type { AllTrainingClusterActivities } from './types';

export type * from './types';
export { TRAINING_CLUSTER_DEFAULTS, type TrainingClusterContext } from './context';

/** The training cluster activities of one worker. */
export function trainingClusterActivities(base: ActivityContext): AllTrainingClusterActivities {
  return bindActivities(trainingClusterContext(base), {
    p2pStatus,
    p2pJobs,
    p2pElectionReset,
    p2pSetLeader,
    p2pDaemonStatus,
    p2pRestart,
    p2pUnretire,
    gamesDbStatus,
    gamesBackupInfo,
    gamesQuarantine,
    gamesSyncToHost,
    gamesRestoreBackup,
    selfplayStart,
    selfplayStop,
    gamesAggregate,
    gamesBackupAggregate,
    selfplayLaunchCluster,
    modelCheck,
    modelRestoreBackup,
    modelFetch,
    modelSwap,
    modelCheckpoints,
    modelResumeTraining,
    syncHosts,
    syncHostStorage,
    syncProcess,
    syncLogTail,
    syncForce,
    syncAgentRestart,
    syncRecoverData,
    syncImport,
    syncUnretire,
    syncRetireHost,
    syncGauges,
    syncAppStatus,
    syncTrigger,
    syncCriticalHosts,
    clusterFullSync,
    clusterLaunchDaemons,
    selfplayRunning,
    modelsAccessible,
  });
}
