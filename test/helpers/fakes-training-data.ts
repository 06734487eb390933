/**
 * Fake training clusters for the data-loss and model-corruption scenarios,
 * shared by test/unit/training-data.test.ts and the recorded branch histories
 * (test/replay/branches.ts): stateful overrides of the stub activities (see
 * ./stubs). Each fake also keeps the subjects of the notifications sent.
 */
import type { LifeboatActivities } from '../../src/activities/types';
import type { GamesDbStatus, ModelCheck } from '../../src/activities/training-cluster/types';
import { TC_NODES } from './fakes-training-cluster';
import { stubActivities } from './stubs';
import { SHA } from './stubs-training-data';

/** The stubs, and the subjects of the notifications sent, in order. */
export type NotedStubs = ReturnType<typeof stubActivities> & { notes: string[] };

/** One node's games database as the fake sees it. */
interface Db {
  count?: number;
  integrity: string;
  exists: boolean;
  running: boolean;
}

/**
 * tc-node4's database is corrupted; `sync` is what the cluster's own auto-sync
 * brings back of its games once it was moved aside (v2: read by the wait; v1:
 * the seed's sync_to_host call); `backup` whether the NFS backup is usable (by default it
 * is), taken at `backupTakenAt` (by default 6 h before each look);
 * `alsoLost`: tc-node3 lost its games too.
 */
export function nodeLoss(opts: { sync: number; backup?: boolean; alsoLost?: boolean; backupTakenAt?: string }): NotedStubs {
  const db = new Map<string, Db>(TC_NODES.map((n) => [n.name, { count: 1200, integrity: 'ok', exists: true, running: true }]));
  db.set('tc-node4', { integrity: 'file is not a database', exists: true, running: false });
  if (opts.alsoLost) db.set('tc-node3', { count: 12, integrity: 'ok', exists: true, running: true });
  const notes: string[] = [];
  let quarantined = false;
  const overrides: Partial<LifeboatActivities> = {
    notify: async (n) => void notes.push(n.subject),
    gamesDbStatus: async (a): Promise<GamesDbStatus> => {
      // The cluster's auto-sync refills the node once its unreadable database is out of the way.
      if (quarantined && a.node === 'tc-node4' && !db.get(a.node)!.exists) db.set(a.node, { count: opts.sync, integrity: 'ok', exists: true, running: false });
      const d = db.get(a.node)!;
      return { node: a.node, reachable: true, databases: d.exists ? [{ path: 'data/games/selfplay.db', size: '1M' }] : [], exists: d.exists, count: d.count, integrity: d.integrity, byConfig: d.count ? { hex8_2p: d.count } : {}, selfplayRunning: d.running };
    },
    gamesQuarantine: async (a) => {
      if (!a.dryRun) {
        db.set(a.node, { integrity: 'missing', exists: false, running: false });
        quarantined = true;
      }
      return { plan: `mv ${a.node}`, movedTo: `data/games/selfplay.db.corrupt-${a.suffix}` };
    },
    gamesSyncToHost: async (a) => {
      if (!a.dryRun) db.set(a.node, { count: opts.sync, integrity: 'ok', exists: true, running: false });
      return { plan: `sync ${a.node} via ${a.via}`, copied: opts.sync };
    },
    gamesBackupInfo: async (a) =>
      opts.backup === false
        ? { node: a.node, path: '/nfs/selfplay_latest.db', exists: false, integrity: 'missing' }
        : { node: a.node, path: '/nfs/selfplay_latest.db', exists: true, count: 1100, integrity: 'ok', takenAt: opts.backupTakenAt ?? new Date(Date.now() - 6 * 3600_000).toISOString() },
    gamesRestoreBackup: async (a) => {
      if (!a.dryRun) db.set(a.node, { count: 1100, integrity: 'ok', exists: true, running: false });
      return { plan: `scp backup ${a.node} via ${a.via}` };
    },
    selfplayStart: async (a) => {
      const d = db.get(a.node)!;
      if (!a.dryRun) db.set(a.node, d.exists ? { ...d, running: true } : { count: 0, integrity: 'ok', exists: true, running: true });
      return { plan: `selfplay ${a.node}` };
    },
  };
  return { ...stubActivities(overrides), notes };
}

/** tc-node2 EMPTY (missing), tc-node3 EMPTY (corrupted), tc-node4 LOW, tc-node1 OK; `oneOnly`: only tc-node4 is short. */
export function multiLoss(opts: { oneOnly?: boolean } = {}): NotedStubs {
  const db = new Map<string, Db>([
    ['tc-node1', { count: 1500, integrity: 'ok', exists: true, running: true }],
    ['tc-node2', { integrity: 'missing', exists: false, running: false }],
    ['tc-node3', { integrity: 'file is not a database', exists: true, running: false }],
    ['tc-node4', { count: 150, integrity: 'ok', exists: true, running: true }],
  ]);
  if (opts.oneOnly) {
    db.set('tc-node2', { count: 1300, integrity: 'ok', exists: true, running: true });
    db.set('tc-node3', { count: 1300, integrity: 'ok', exists: true, running: true });
  }
  const notes: string[] = [];
  let launched = false;
  const overrides: Partial<LifeboatActivities> = {
    notify: async (n) => void notes.push(n.subject),
    gamesDbStatus: async (a): Promise<GamesDbStatus> => {
      const d = db.get(a.node)!;
      if (launched && d.running && d.integrity === 'ok') d.count = (d.count ?? 0) + 7; // selfplay regenerates
      return { node: a.node, reachable: true, databases: [], exists: d.exists, count: d.count, integrity: d.integrity, byConfig: d.count ? { hex8_2p: d.count } : {}, selfplayRunning: d.running };
    },
    selfplayStop: async (a) => {
      if (!a.dryRun) db.get(a.node)!.running = false;
      return { plan: `pkill ${a.node}` };
    },
    gamesAggregate: async (a) => {
      if ([...db.values()].some((d) => d.running)) throw new Error('selfplay still writing');
      return { plan: `aggregate ${(a.from ?? []).join(',')} on ${a.node}`, total: 1650, path: `data/games/cluster_aggregated_${a.date ?? ''}.db` };
    },
    gamesQuarantine: async (a) => {
      if (!a.dryRun) db.set(a.node, { integrity: 'missing', exists: false, running: false });
      return { plan: `mv ${a.node}` };
    },
    selfplayStart: async (a) => {
      if (!a.dryRun) {
        launched = true;
        const d = db.get(a.node)!;
        if (!d.exists) Object.assign(d, { exists: true, integrity: 'ok', count: 0 });
        d.running = true;
      }
      return { plan: `selfplay ${a.node}` };
    },
    selfplayLaunchCluster: async (a) => {
      if (!a.dryRun) {
        launched = true;
        for (const d of db.values()) {
          if (!d.exists) Object.assign(d, { exists: true, integrity: 'ok', count: 0 });
          d.running = true;
        }
      }
      return { plan: `launch from ${a.node}` };
    },
  };
  return { ...stubActivities(overrides), notes };
}

/** A model that is not the manifest's ({@link SHA}). */
export const OLD_SHA = 'b'.repeat(64);

/** tc-node1's model does not load; `backup` says whether models/backup holds the manifest's model; `healthyOn` which peers hold it. */
export function models(opts: { backup: boolean; healthyOn: string[] }): NotedStubs {
  let canonicalOk = false;
  const notes: string[] = [];
  const check = (node: string, path: string, loads: boolean, sha: string): ModelCheck => ({ node, reachable: true, path, exists: true, loads, sha256: sha, expectedSha256: SHA, checksumOk: loads && sha === SHA, loadError: loads ? undefined : 'Model CORRUPTED: invalid load key' });
  const overrides: Partial<LifeboatActivities> = {
    notify: async (n) => void notes.push(n.subject),
    modelCheck: async (a) => {
      if (a.node !== 'tc-node1') return check(a.node, 'models/canonical_hex8_2p.pth', true, opts.healthyOn.includes(a.node) ? SHA : OLD_SHA);
      if (a.backup) return check(a.node, 'models/backup/canonical_hex8_2p.pth', true, opts.backup ? SHA : OLD_SHA);
      if (a.path) return check(a.node, a.path, true, OLD_SHA); // checkpoints load
      return check(a.node, 'models/canonical_hex8_2p.pth', canonicalOk, canonicalOk ? SHA : OLD_SHA);
    },
    modelRestoreBackup: async (a) => {
      if (!a.dryRun) canonicalOk = true;
      return { plan: `cp backup ${a.node}` };
    },
    modelFetch: async (a) => ({ plan: `scp ${a.from} ${a.node}`, check: check(a.node, 'models/canonical_hex8_2p.pth.incoming', true, SHA) }),
    modelSwap: async (a) => {
      if (!a.dryRun) canonicalOk = true;
      return { plan: `mv ${a.node}` };
    },
    modelResumeTraining: async (a) => {
      if (!a.dryRun) canonicalOk = true;
      return { plan: `train ${a.node} ${a.checkpoint}` };
    },
  };
  return { ...stubActivities(overrides), notes };
}
