/**
 * The train-server activities (src/activities/train-server.ts) against the
 * lab's train server over real SSH, in MockActivityEnvironment: diagnosis
 * reads, the bcache detach/wipe/make/attach cycle with its idempotency, and
 * restic for real — snapshots (the paths they record), the password on the
 * lost OS disk then by reference, what a snapshot holds (no config.sh), a
 * restore cancelled midway then retried that
 * ends with complete, correct files (a completed one is not redone by a retry
 * of its step), and the password never leaving the worker (not in results,
 * errors, heartbeats or plans) — and the scrub's once-per-step start.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { createActivities, type ActivitySet } from '../../src/activities';
import { startLab, type Lab } from '../../lab/index';

const CLUSTER = 'lab-train';
const ref = { cluster: CLUSTER, node: 'train1' };
const T = { timeout: 120_000 };
const outbound: string[] = [];
const heartbeats: Array<Record<string, unknown>> = [];
let n = 0;

/** An activity's environment; the same `activityId` is a retried attempt of the same step (same `ctx.stableKey`). */
function activityEnv(activityId = `ts-${++n}`): MockActivityEnvironment {
  const env = new MockActivityEnvironment({ activityId, workflowExecution: { workflowId: 'wf-ts', runId: 'r1' } });
  env.on('heartbeat', (d: unknown) => {
    heartbeats.push((d ?? {}) as Record<string, unknown>);
    outbound.push(inspect(d, { depth: 6 }));
  });
  return env;
}

async function run<I, O>(fn: (i: I) => Promise<O>, input: I, env = activityEnv()): Promise<O> {
  try {
    const out = (await env.run(fn, input)) as O;
    outbound.push(inspect(out, { depth: 6 }));
    return out;
  } catch (err) {
    outbound.push(inspect(err, { depth: 6 }));
    throw err;
  }
}

function digest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out[p.slice(dir.length)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-ts-acts-'));
let lab: Lab;
let acts: ActivitySet;
let root: string;
let password: string;

function setSettings(extra: Record<string, unknown>): void {
  const inv = parseYaml(readFileSync(lab.inventoryPath, 'utf8')) as { clusters: Record<string, { settings: Record<string, unknown> }> };
  Object.assign(inv.clusters[CLUSTER]!.settings, extra);
  writeFileSync(lab.inventoryPath, stringifyYaml(inv));
}

before(async () => {
  lab = await startLab({ dir, families: ['train-server'] });
  acts = createActivities({ inventoryPath: lab.inventoryPath });
  root = lab.host(CLUSTER, 'train1').root;
  password = readFileSync(join(dir, 'secrets', `${CLUSTER}-restic-password`), 'utf8').trim();
});
after(async () => {
  await acts?.close();
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('train-server activities against the lab', () => {
  test('diagnosis of a healthy server: mounted, clean, in fstab, clean bcache, containers up', T, async () => {
    const a = acts.activities;
    const s = await run(a.tsStorageStatus, ref);
    assert.equal(s.mounted, true);
    assert.equal(s.deviceErrors, 0);
    assert.equal(s.fstabHasStorage, true);
    assert.equal(s.configPresent, true);
    assert.deepEqual(s.users, ['alice', 'bob', 'charlie', 'dave', 'eve']);
    const b = await run(a.tsBcacheStatus, ref);
    assert.deepEqual(b.map((x) => `${x.name}:${x.state}:${x.cacheMode}`), ['bcache0:clean:writeback', 'bcache1:clean:writeback']);
    const c = await run(a.tsContainers, ref);
    assert.equal(c.length, 5);
    assert.ok(c.every((x) => x.state === 'running'));
    const dry = await run(a.tsFstabStorage, { ...ref, dryRun: true });
    assert.match(dry.plan, /tee/);
    const again = await run(a.tsFstabStorage, ref);
    assert.equal(again.alreadyDone, true, 'the array is already in fstab');
    const mount = await run(a.tsMountStorage, ref);
    assert.equal(mount.alreadyDone, true);
    assert.equal(lab.effects.count({ cluster: CLUSTER }), 0, JSON.stringify(lab.effects.list()));
  });

  test('cache SSD cycle: detach both, wipe, make-bcache, attach, writeback; each effect once, retries are no-ops', T, async () => {
    const a = acts.activities;
    await lab.break('train-server.cache-ssd');
    assert.equal((await run(a.tsCacheDevice, ref)).state, 'failed');
    for (const device of ['bcache0', 'bcache1']) {
      const r = await run(a.tsBcacheDetach, { ...ref, device });
      assert.notEqual(r.alreadyDone, true);
      assert.equal((await run(a.tsBcacheDetach, { ...ref, device })).alreadyDone, true);
    }
    assert.equal(lab.effects.count({ effect: 'bcache.detached' }), 2);
    await lab.break('train-server.swap-ssd');
    assert.equal((await run(a.tsWipeCacheDevice, { ...ref, dryRun: true })).dryRun, true);
    assert.equal(lab.effects.count({ effect: 'ssd.wiped' }), 0, 'a dry run wipes nothing');
    await run(a.tsWipeCacheDevice, ref);
    assert.equal((await run(a.tsWipeCacheDevice, ref)).alreadyDone, true);
    const made = await run(a.tsMakeCache, ref);
    assert.match(made.csetUuid ?? '', /^[0-9a-f-]{36}$/);
    assert.equal((await run(a.tsMakeCache, ref)).alreadyDone, true);
    for (const device of ['bcache0', 'bcache1']) {
      await run(a.tsBcacheAttach, { ...ref, device, csetUuid: made.csetUuid! });
      assert.equal((await run(a.tsBcacheAttach, { ...ref, device, csetUuid: made.csetUuid! })).alreadyDone, true);
      await run(a.tsBcacheCacheMode, { ...ref, device, mode: 'writeback' });
    }
    const b = await run(a.tsBcacheStatus, ref);
    assert.deepEqual(b.map((x) => x.state), ['clean', 'clean']);
    assert.equal(lab.effects.count({ effect: 'bcache.attached' }), 2);
    assert.equal(lab.effects.count({ effect: 'ssd.wiped' }), 1);
    assert.equal(lab.effects.count({ effect: 'bcache.cache-created' }), 1);
    assert.ok((await lab.health())[0]!.healthy, JSON.stringify(await lab.health()));
  });

  test('restic: snapshots listed; the restore path comes from the snapshot; a homes restore cancelled midway, then retried, ends with complete, correct files', T, async () => {
    const a = acts.activities;
    const homes = join(root, 'mnt/storage/homes');
    const want = digest(homes);
    const snaps = await run(a.tsResticSnapshots, ref);
    assert.equal(snaps.length, 2);
    assert.ok(snaps[0]!.time <= snaps[1]!.time);
    // The latest was taken as HEAD takes it: from a read-only snapshot of the array.
    assert.ok(snaps[1]!.paths.every((p) => /\/mnt\/storage\/snapshots\/backup_\d{8}_\d{6}\//.test(p)), snaps[1]!.paths.join(' '));
    assert.ok(snaps[0]!.paths.some((p) => p.endsWith('/mnt/storage/homes')), snaps[0]!.paths.join(' '));
    const config = readFileSync(join(root, 'root/train-server/config.sh'), 'utf8');
    await lab.break('train-server.total-data-loss');
    // The password was on the lost OS disk: only the operator's reference opens the repository now.
    const gone = await run(a.tsResticAccess, ref);
    assert.equal(gone.ok, false);
    assert.match(gone.tried.join(' '), /host:\/root\/\.restic-password: not on train1/);
    const passwordRef = `file:${join(dir, 'secrets', `${CLUSTER}-restic-password`)}`;
    assert.equal((await run(a.tsResticAccess, { ...ref, passwordRef })).ok, true);
    const contents = await run(a.tsResticContents, { ...ref, snapshot: snaps[1]!.id, passwordRef });
    assert.deepEqual(Object.keys(contents.dirs).sort(), ['docker-volumes', 'homes', 'shared/tensorboard']);
    assert.equal(contents.config, undefined, 'config.sh is not in the backup');
    assert.deepEqual(contents.users, ['alice', 'bob', 'charlie', 'dave', 'eve']);
    // New storage for the restore: the storage script, confirmed (as after the dangerous gate).
    writeFileSync(join(root, 'root/train-server/config.sh'), config);
    const made = await run(a.tsSetupScript, { ...ref, script: '01-setup-storage.sh', confirmDestroy: true });
    assert.equal(made.outcome, 'done', inspect(made));
    assert.equal((await run(a.tsSetupScript, { ...ref, script: '01-setup-storage.sh', confirmDestroy: true })).alreadyDone, true, 'storage setup never runs over a mounted array');

    setSettings({ resticLimitDownloadKiB: 96 });
    const input = { ...ref, snapshot: snaps[1]!.id, what: 'homes' as const, path: contents.dirs.homes!, to: '/mnt/storage/homes', passwordRef };
    const env = activityEnv('restore-homes');
    const hbBefore = heartbeats.length;
    const p = run(a.tsResticRestore, input, env);
    const deadline = Date.now() + 30_000;
    const midway = (h: Record<string, unknown>) => typeof h.filesRestored === 'number' && h.filesRestored > 0 && h.filesRestored < (h.totalFiles as number);
    while (Date.now() < deadline && !heartbeats.slice(hbBefore).some(midway)) await new Promise((r) => setTimeout(r, 100));
    const progress = heartbeats.slice(hbBefore).find(midway);
    assert.ok(progress, `no progress heartbeat: ${inspect(heartbeats.slice(hbBefore))}`);
    env.cancel();
    const err = await p.then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof CancelledFailure, inspect(err));
    const partial = digest(homes);
    assert.notDeepEqual(partial, want, 'the cancelled restore stopped midway');

    assert.equal(lab.effects.count({ effect: 'restic.restored' }), 0, 'the cancelled restore did not complete');

    // The retried attempt of the same step (same activity id): the interrupted restore left no marker, so it restores again.
    setSettings({ resticLimitDownloadKiB: 0 });
    const r = await run(a.tsResticRestore, input, activityEnv('restore-homes'));
    assert.notEqual(r.alreadyDone, true);
    assert.ok((r.filesRestored ?? 0) > 0, inspect(r));
    assert.deepEqual(digest(homes), want);
    assert.equal(lab.effects.count({ effect: 'restic.restore' }), 2);
    assert.equal(lab.effects.count({ effect: 'restic.restored' }), 1);
    // Once completed, a further retry of the step finds its marker: no second restore.
    const again = await run(a.tsResticRestore, input, activityEnv('restore-homes'));
    assert.equal(again.alreadyDone, true, inspect(again));
    assert.equal(lab.effects.count({ effect: 'restic.restore' }), 2);
    for (const o of outbound) assert.ok(!o.includes(password), `the restic password leaked: ${o.slice(0, 300)}`);
  });

  test('scrub: once per step; a retry after the scrub finished does not scrub again, one whose first attempt died before the start does', T, async () => {
    const a = acts.activities;
    await lab.break('train-server.power-outage'); // no scrub in the status yet
    const finished = async () => {
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && (await run(a.tsScrubStatus, ref)).state !== 'finished') await new Promise((r) => setTimeout(r, 200));
      assert.equal((await run(a.tsScrubStatus, ref)).state, 'finished');
    };
    const from = lab.effects.count({ effect: 'btrfs.scrub-started' });
    // A first attempt that died after writing its intent marker, before the start: the status shows no newer scrub, so the retry starts it.
    mkdirSync(join(root, '.lifeboat/markers'), { recursive: true });
    writeFileSync(join(root, '.lifeboat/markers/scrub-wf-ts-r1-scrub-1'), 'none\n');
    const first = await run(a.tsScrubStart, ref, activityEnv('scrub-1'));
    assert.notEqual(first.alreadyDone, true, inspect(first));
    assert.equal(lab.effects.count({ effect: 'btrfs.scrub-started' }) - from, 1);
    await finished();
    // The retried attempt of the same step, after the scrub it started has finished: no second full scrub.
    const retry = await run(a.tsScrubStart, ref, activityEnv('scrub-1'));
    assert.equal(retry.alreadyDone, true, inspect(retry));
    assert.match(retry.output ?? '', /already started a scrub/);
    assert.equal(lab.effects.count({ effect: 'btrfs.scrub-started' }) - from, 1);
    // Another step scrubs again.
    const next = await run(a.tsScrubStart, ref, activityEnv('scrub-2'));
    assert.notEqual(next.alreadyDone, true, inspect(next));
    assert.equal(lab.effects.count({ effect: 'btrfs.scrub-started' }) - from, 2);
    await finished();
  });
});
