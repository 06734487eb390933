/**
 * The training cluster's data and models in the lab (lab/training-cluster/data.ts) and
 * the training-data activities against it, over real SSH: real SQLite files
 * read by the real sqlite3, the backup mount, the selfplay / sync /
 * aggregation / training shims, scp between nodes, and the three faults
 * (node-data-loss, model-corruption, multi-node-data-loss) repaired step by
 * step with the runbook's activities, each effect read back from the effect log.
 *
 * The tests run in order on one lab; each ends with the cluster healthy.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type ActivitySet } from '../../src/activities';
import { startLab, type Lab } from '../../lab/index';

const CLUSTER = 'lab-training';
const NODES = ['tc-node1', 'tc-node2', 'tc-node3', 'tc-node4', 'tc-node5'];
const WF = { workflowId: 'wf-training-data-test', runId: 'run-1' };
const T = { timeout: 90_000 };
const tc = (node: string) => ({ cluster: CLUSTER, node });

let nextId = 0;
async function run<I, O>(fn: (input: I) => Promise<O>, input: I, activityId = `act-${++nextId}`): Promise<O> {
  const env = new MockActivityEnvironment({ activityId, workflowExecution: WF });
  return (await env.run(fn, input)) as O;
}

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${inspect(err)}`);
  return err;
}

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-training-data-'));
let lab: Lab;
let acts: ActivitySet;
let a: ActivitySet['activities'];
/** Effects of the training cluster since `mark()`. */
let mark = 0;
const since = () => lab.effects.list({ cluster: CLUSTER }).slice(mark).map((e) => `${e.effect}:${e.node}`);
const setMark = () => (mark = lab.effects.list({ cluster: CLUSTER }).length);
const healthy = async () => (await lab.health()).find((h) => h.cluster === CLUSTER)!;

before(async () => {
  lab = await startLab({ dir, families: ['training-cluster'], bootMs: 300 });
  acts = createActivities({ inventoryPath: lab.inventoryPath });
  a = acts.activities;
});

after(async () => {
  await acts?.close();
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('training-cluster data and models in the lab', () => {
  test('healthy: every node holds its games (real SQLite), selfplay writes, the models match their manifests, backups are 6 h old', T, async () => {
    const statuses = await Promise.all(NODES.map((n) => run(a.gamesDbStatus, tc(n))));
    for (const [i, s] of statuses.entries()) {
      assert.equal(s.reachable, true);
      assert.equal(s.integrity, 'ok', s.node);
      assert.ok(s.count! >= 1100 + 100 * i && s.count! < 1100 + 100 * i + 200, `${s.node}: ${s.count}`);
      assert.equal(s.byConfig.hex8_2p, s.count);
      assert.equal(s.selfplayRunning, true);
      assert.deepEqual(s.databases.map((d) => d.path), ['data/games/selfplay.db']);
    }
    // Selfplay writes while it runs.
    await new Promise((r) => setTimeout(r, 1200));
    const again = await run(a.gamesDbStatus, tc('tc-node2'));
    assert.ok(again.count! > statuses[1]!.count!, `${again.count} > ${statuses[1]!.count}`);
    for (const n of NODES) {
      const m = await run(a.modelCheck, tc(n));
      assert.ok(m.loads && m.checksumOk, inspect(m));
      assert.deepEqual(m.keys, ['model_state_dict', 'optimizer_state_dict', 'epoch', 'config']);
    }
    const b = await run(a.gamesBackupInfo, { ...tc('tc-node5'), via: 'tc-node1' });
    assert.equal(b.exists, true);
    assert.equal(b.count, 1260);
    const age = Date.now() - Date.parse(b.takenAt!);
    assert.ok(age > 5.9 * 3600_000 && age < 6.1 * 3600_000, `backup age ${age}`);
    assert.ok((await healthy()).healthy, (await healthy()).summary);
  });

  test('node-data-loss: the last node\'s database is corrupted; quarantine, re-sync, backup restore and selfplay restart repair it, each once', T, async () => {
    await lab.break('training-cluster.node-data-loss');
    setMark();
    const broken = await run(a.gamesDbStatus, tc('tc-node5'));
    assert.match(broken.integrity, /file is not a database/);
    assert.equal(broken.count, undefined);
    assert.equal(broken.selfplayRunning, false);
    const h = await healthy();
    assert.equal(h.healthy, false);
    assert.match(h.summary, /tc-node5 games db .*file is not a database.*selfplay not running/);

    // A dry run plans and changes nothing.
    const dry = await run(a.gamesRestoreBackup, { ...tc('tc-node5'), via: 'tc-node1', dryRun: true });
    assert.match(dry.plan, /^tc-node1: scp \/.*\/games\/tc-node5\/selfplay_latest\.db tc-node5:\/.*\/ai-service\/data\/games\/selfplay\.db$/);
    assert.equal((await run(a.selfplayStart, { ...tc('tc-node5'), dryRun: true })).dryRun, true);

    // Selfplay refuses the corrupted database.
    const refused = await failure(run(a.selfplayStart, tc('tc-node5')));
    assert.equal(refused.type, 'SelfplayFailed');
    assert.match(refused.message, /move.* aside/i);

    const q = await run(a.gamesQuarantine, { ...tc('tc-node5'), suffix: '20261201T0300' });
    assert.equal(q.movedTo, 'data/games/selfplay.db.corrupt-20261201T0300');
    assert.equal((await run(a.gamesQuarantine, { ...tc('tc-node5'), suffix: '20261201T0300' })).alreadyDone, true);
    assert.ok(existsSync(join(lab.host(CLUSTER, 'tc-node5').root, 'ai-service', q.movedTo!)));

    // Option 1: the cluster holds only the 100 games the sync daemon had replicated.
    const sync = await run(a.gamesSyncToHost, { ...tc('tc-node5'), via: 'tc-node1' }, 'sync-1');
    assert.equal(sync.copied, 100);
    assert.equal((await run(a.gamesDbStatus, tc('tc-node5'))).count, 100);
    // A retried attempt of the same step (same activity id) finds its marker on the coordinator: no second sync.
    const resync = await run(a.gamesSyncToHost, { ...tc('tc-node5'), via: 'tc-node1' }, 'sync-1');
    assert.equal(resync.alreadyDone, true, inspect(resync));
    assert.match(resync.output ?? '', /already synced tc-node5/);

    // Option 2: the backup (1260 games).
    await run(a.gamesRestoreBackup, { ...tc('tc-node5'), via: 'tc-node1' });
    assert.equal((await run(a.gamesRestoreBackup, { ...tc('tc-node5'), via: 'tc-node1' })).alreadyDone, true);
    const restored = await run(a.gamesDbStatus, tc('tc-node5'));
    assert.equal(restored.integrity, 'ok');
    assert.equal(restored.count, 1260);

    await run(a.selfplayStart, tc('tc-node5'));
    assert.equal((await run(a.selfplayStart, tc('tc-node5'))).alreadyDone, true);
    assert.deepEqual(since(), ['games.sync-to-host:tc-node5', 'games.restore:tc-node5', 'selfplay.start:tc-node5']);
    assert.ok((await healthy()).healthy, (await healthy()).summary);
  });

  test('model-corruption: the coordinator\'s model does not load, its backup is stale; a verified copy from tc-node2 is swapped in', T, async () => {
    await lab.break('training-cluster.model-corruption');
    setMark();
    const bad = await run(a.modelCheck, tc('tc-node1'));
    assert.equal(bad.loads, false);
    assert.equal(bad.checksumOk, false);
    assert.match(bad.loadError ?? '', /Model CORRUPTED: invalid load key/);
    const backup = await run(a.modelCheck, { ...tc('tc-node1'), backup: true });
    assert.equal(backup.path, 'models/backup/canonical_hex8_2p.pth');
    assert.equal(backup.loads, true);
    assert.equal(backup.checksumOk, false);
    const refused = await failure(run(a.modelRestoreBackup, tc('tc-node1')));
    assert.equal(refused.type, 'ModelUnverified');
    assert.equal(refused.nonRetryable, true);
    assert.match((await healthy()).summary, /tc-node1 model/);

    // A partial copy left by an interrupted pull does not verify: it is pulled over.
    writeFileSync(join(lab.host(CLUSTER, 'tc-node1').root, 'ai-service', 'models/canonical_hex8_2p.pth.incoming'), 'RRPTH1 {"ep');
    const fetched = await run(a.modelFetch, { ...tc('tc-node1'), from: 'tc-node2' }, 'fetch-1');
    assert.notEqual(fetched.alreadyDone, true);
    assert.ok(fetched.check?.loads && fetched.check.checksumOk, inspect(fetched));
    assert.equal(fetched.check.sha256, bad.expectedSha256);
    // A retried attempt finds the staged copy verified: no second pull, the same check for the workflow.
    const refetched = await run(a.modelFetch, { ...tc('tc-node1'), from: 'tc-node2' }, 'fetch-1');
    assert.equal(refetched.alreadyDone, true, inspect(refetched));
    assert.equal(refetched.check?.path, 'models/canonical_hex8_2p.pth.incoming');
    assert.ok(refetched.check.loads && refetched.check.checksumOk && refetched.check.sha256 === bad.expectedSha256, inspect(refetched));
    await run(a.modelSwap, tc('tc-node1'));
    assert.equal((await run(a.modelSwap, tc('tc-node1'))).alreadyDone, true);
    const good = await run(a.modelCheck, tc('tc-node1'));
    assert.ok(good.loads && good.checksumOk);
    // Once the canonical model verifies there is nothing to fetch.
    const nothing = await run(a.modelFetch, { ...tc('tc-node1'), from: 'tc-node2' });
    assert.equal(nothing.alreadyDone, true, inspect(nothing));
    assert.equal(nothing.check?.path, 'models/canonical_hex8_2p.pth');
    assert.deepEqual(since(), ['model.pull:tc-node1']);
    assert.ok((await healthy()).healthy, (await healthy()).summary);
  });

  test('option 3 of model corruption: the latest checkpoint loads and training resumes from it, once per step', T, async () => {
    setMark();
    const { checkpoints } = await run(a.modelCheckpoints, tc('tc-node3'));
    assert.deepEqual(checkpoints, [
      { path: 'models/checkpoints/hex8_2p_epoch_45.pth', epoch: 45 },
      { path: 'models/checkpoints/hex8_2p_epoch_40.pth', epoch: 40 },
    ]);
    const before = await run(a.modelCheck, tc('tc-node3'));
    const r = await run(a.modelResumeTraining, { ...tc('tc-node3'), checkpoint: checkpoints[0]!.path }, 'train-1');
    // The new model's checksum goes to its sidecar (RingRift 2aa9f89b5 has no models manifest).
    assert.match(r.output ?? '', /epoch 48.*saved models\/canonical_hex8_2p\.pth \(epoch 48, sha256 [0-9a-f]{64}\); wrote models\/canonical_hex8_2p\.pth\.sha256/s);
    assert.equal((await run(a.modelResumeTraining, { ...tc('tc-node3'), checkpoint: checkpoints[0]!.path }, 'train-1')).alreadyDone, true);
    const after = await run(a.modelCheck, tc('tc-node3'));
    assert.ok(after.loads && after.checksumOk);
    assert.notEqual(after.sha256, before.sha256);
    assert.deepEqual(since(), ['training.resume:tc-node3']);
    const bad = await failure(run(a.modelResumeTraining, { ...tc('tc-node3'), checkpoint: 'models/checkpoints/none.pth' }));
    assert.match(bad.message, /cannot resume/);
  });

  test('multi-node-data-loss: the seed\'s scripts answer as the real code does; stop writes, aggregate_cluster_dbs.py on the survivors, dated backup, selfplay per node; every node writes again', T, async () => {
    await lab.break('training-cluster.multi-node-data-loss');
    setMark();
    const s = await Promise.all(NODES.map((n) => run(a.gamesDbStatus, tc(n))));
    const by = Object.fromEntries(s.map((x) => [x.node, x]));
    assert.equal(by['tc-node2']!.exists, false);
    assert.equal(by['tc-node2']!.integrity, 'missing');
    assert.deepEqual(by['tc-node2']!.databases, []);
    assert.match(by['tc-node3']!.integrity, /file is not a database/);
    assert.ok(by['tc-node4']!.count! >= 150 && by['tc-node4']!.count! < 200, String(by['tc-node4']!.count));
    assert.ok(by['tc-node1']!.count! > 1000 && by['tc-node5']!.count! > 1000);
    assert.deepEqual(s.map((x) => x.selfplayRunning), [true, false, false, true, true]);

    // v1's call (the seed's `aggregate_cluster_data.py --target-host`): that script has no such flag at 2aa9f89b5.
    const seeds = await failure(run(a.gamesAggregate, tc('tc-node1')));
    assert.match(seeds.message, /aggregate_cluster_data\.py: error: unrecognized arguments: --target-host/);
    for (const n of ['tc-node1', 'tc-node4', 'tc-node5']) await run(a.selfplayStop, tc(n));
    assert.equal((await run(a.selfplayStop, tc('tc-node1'))).alreadyDone, true);
    // v2: the survivors' databases copied to the coordinator and merged by scripts/aggregate_cluster_dbs.py.
    const agg = await run(a.gamesAggregate, { ...tc('tc-node1'), from: ['tc-node1', 'tc-node4', 'tc-node5'], date: '20261201' });
    assert.equal(agg.path, 'data/games/cluster_aggregated_20261201.db');
    assert.ok(agg.total! > by['tc-node1']!.count! + by['tc-node5']!.count! - 200, `${agg.total}`);
    assert.equal((await failure(run(a.gamesAggregate, { ...tc('tc-node1'), from: ['tc-node1'], date: '2026-12-01' }))).type, 'InvalidArgument');

    const b = await run(a.gamesBackupAggregate, { ...tc('tc-node1'), date: '20261201' });
    assert.match(b.path, /\/nfs\/RingRift\/backups\/games_20261201$/);
    assert.ok(existsSync(join(b.path, 'selfplay.db')));
    assert.equal((await run(a.gamesBackupAggregate, { ...tc('tc-node1'), date: '20261201' })).alreadyDone, true);
    assert.equal((await failure(run(a.gamesBackupAggregate, { ...tc('tc-node1'), date: '2026-12-01' }))).type, 'InvalidArgument');

    await run(a.gamesQuarantine, { ...tc('tc-node3'), suffix: 'x' });
    // The seed's launcher does not exist at 2aa9f89b5; v2 starts scripts/selfplay.py on each node.
    assert.match((await failure(run(a.selfplayLaunchCluster, tc('tc-node1')))).message, /can't open file .*launch_selfplay_cluster\.py/);
    for (const n of NODES) await run(a.selfplayStart, tc(n));
    assert.deepEqual(since().sort(), [
      'games.aggregate:tc-node1',
      'selfplay.start:tc-node1',
      'selfplay.start:tc-node2',
      'selfplay.start:tc-node3',
      'selfplay.start:tc-node4',
      'selfplay.start:tc-node5',
      'selfplay.stop:tc-node1',
      'selfplay.stop:tc-node4',
      'selfplay.stop:tc-node5',
    ]);
    await new Promise((r) => setTimeout(r, 1200));
    const after = await Promise.all(NODES.map((n) => run(a.gamesDbStatus, tc(n))));
    for (const x of after) assert.ok(x.selfplayRunning && x.integrity === 'ok' && x.count! > 0, inspect(x));
    assert.ok((await healthy()).healthy, (await healthy()).summary);
  });
});
