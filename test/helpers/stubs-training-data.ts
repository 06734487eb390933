/**
 * Default stubs of the training-data activities for workflow-logic tests (see ./stubs):
 * a healthy cluster (every database readable with 1200 games, selfplay running,
 * the canonical model loading and matching its manifest).
 */
import type { TrainingDataActivities } from '../../src/activities/types';
import type { PlanOf } from './stubs';

/** Names of the training-data activities that have an effect on the target. */
export const TRAINING_DATA_EFFECTS: string[] = [
  'gamesQuarantine',
  'gamesSyncToHost',
  'gamesRestoreBackup',
  'selfplayStart',
  'selfplayStop',
  'gamesAggregate',
  'gamesBackupAggregate',
  'selfplayLaunchCluster',
  'modelRestoreBackup',
  'modelFetch',
  'modelSwap',
  'modelResumeTraining',
];

export const SHA = 'a'.repeat(64);

export function trainingDataStubs(plan: PlanOf): TrainingDataActivities {
  return {
    gamesDbStatus: async (a) => ({ node: a.node, reachable: true, databases: [{ path: 'data/games/selfplay.db', size: '1.2M' }], exists: true, count: 1200, integrity: 'ok', byConfig: { hex8_2p: 1200 }, selfplayRunning: true }),
    gamesBackupInfo: async (a) => ({ node: a.node, path: `/nfs/backups/games/${a.node}/selfplay_latest.db`, exists: true, count: 1100, integrity: 'ok', takenAt: '2026-12-01T08:00:00.000Z' }),
    gamesQuarantine: async (a) => ({ ...plan('gamesQuarantine', a as never), movedTo: `data/games/selfplay.db.corrupt-${a.suffix}` }),
    gamesSyncToHost: async (a) => ({ ...plan('gamesSyncToHost', a as never), copied: 0 }),
    gamesRestoreBackup: async (a) => plan('gamesRestoreBackup', a as never),
    selfplayStart: async (a) => plan('selfplayStart', a as never),
    selfplayStop: async (a) => plan('selfplayStop', a as never),
    gamesAggregate: async (a) => ({ ...plan('gamesAggregate', a as never), total: 3000 }),
    gamesBackupAggregate: async (a) => ({ ...plan('gamesBackupAggregate', a as never), path: `/nfs/backups/games_${a.date}` }),
    selfplayLaunchCluster: async (a) => plan('selfplayLaunchCluster', a as never),
    modelCheck: async (a) => ({ node: a.node, reachable: true, path: a.path ?? 'models/canonical_hex8_2p.pth', exists: true, loads: true, keys: ['model_state_dict'], sha256: SHA, expectedSha256: SHA, checksumOk: true }),
    modelRestoreBackup: async (a) => plan('modelRestoreBackup', a as never),
    modelFetch: async (a) => ({ ...plan('modelFetch', a as never), check: { node: a.node, reachable: true, path: 'models/canonical_hex8_2p.pth.incoming', exists: true, loads: true, sha256: SHA, expectedSha256: SHA, checksumOk: true } }),
    modelSwap: async (a) => plan('modelSwap', a as never),
    modelCheckpoints: async (a) => ({ node: a.node, checkpoints: [{ path: 'models/checkpoints/hex8_2p_epoch_45.pth', epoch: 45 }, { path: 'models/checkpoints/hex8_2p_epoch_40.pth', epoch: 40 }] }),
    modelResumeTraining: async (a) => plan('modelResumeTraining', a as never),
  };
}
