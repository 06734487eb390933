/**
 * The train-server scenarios (seed 004, v2: the repository's HEAD setup
 * scripts, device guards, the restic password by reference) on the
 * time-skipping server with stub activities: every branch — the safe path,
 * the gates (choices, dangerous, rejected, timed out), the human steps (a
 * script's question, config.sh, the password), a device the guard refuses —
 * and what must not happen after a refusal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { LifeboatActivities } from '../../src/activities/types';
import { approveUpdate, decideUpdate, progressQuery, rejectUpdate, type Progress, type RecoveryInput, type RecoveryOptions } from '../../src/workflows/kit/defs';
import { afterOutage, asksQuestion, blankServer, CONFIG_IN_BACKUP, corruptBtrfs, DEVICE_REFUSED, failedSsd, lostPassword, newOs, TS_USERS } from '../helpers/fakes-train-server';
import { stubActivities } from '../helpers/stubs';
import { bundle, taskQueue, timeSkippingEnv, WORKFLOWS_PATH } from '../helpers/temporal';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await timeSkippingEnv();
  await bundle(WORKFLOWS_PATH);
});
after(async () => {
  await env?.teardown();
});

const C = 'train';
function input(scenario: string, params: Record<string, unknown> = {}, extra: { dryRun?: boolean; options?: RecoveryOptions } = {}): RecoveryInput {
  return { scenario, cluster: { name: C, system: 'train-server', nodes: [{ name: 'train1', roles: ['train-server'] }] }, params, startedBy: 'bob', ...extra };
}

let seq = 0;
async function withWorker<T>(acts: LifeboatActivities, type: string, inp: RecoveryInput, fn: (h: WorkflowHandle) => Promise<T>): Promise<T> {
  const tq = taskQueue('train-server');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: tq, workflowBundle: await bundle(WORKFLOWS_PATH), activities: acts });
  return worker.runUntil(async () => {
    seq += 1;
    const h = await env.client.workflow.start(type, { taskQueue: tq, workflowId: `ts-${process.pid}-${seq}`, args: [inp] });
    return fn(h);
  });
}

async function until(h: WorkflowHandle, pred: (p: Progress) => boolean): Promise<Progress> {
  for (let i = 0; i < 300; i++) {
    const p = await h.query(progressQuery);
    if (pred(p)) return p;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not reached: ${JSON.stringify(await h.query(progressQuery)).slice(0, 1500)}`);
}
const waiting = (gate: string) => (p: Progress) => p.gates.some((g) => g.gate === gate && g.status === 'waiting');
const failed = (h: WorkflowHandle) => h.result().then(() => undefined, (e: unknown) => e);
const typeOf = (e: unknown) => (e instanceof WorkflowFailedError ? (e.cause as { type?: string }).type : `not a workflow failure: ${String(e)}`);

type Stubs = ReturnType<typeof stubActivities>;
const effects = (s: Stubs) =>
  s.effects().map((c) => `${c.name}${c.arg.script ? `:${String(c.arg.script)}` : ''}${c.arg.what ? `:${String(c.arg.what)}:${String(c.arg.snapshot).slice(0, 8)}` : ''}${c.arg.device ? `:${String(c.arg.device)}` : ''}${c.arg.action ? `:${String(c.arg.action)}` : ''}${c.arg.user ? `:${String(c.arg.user)}` : ''}`);

// ------------------------------------------------------------ total-data-loss --

/** HEAD's scripts after the storage one, without the final test run (os-disk runs it in its verification). */
const SCRIPTS_AFTER_STORAGE = ['00-validate-config.sh', '02-setup-gdrive-shared.sh', '03-setup-shared-caches.sh', '04-setup-users.sh', '05-setup-docker.sh', '06-setup-cloudflare-tunnel.sh', '07-setup-firewall.sh', '08-setup-monitoring.sh', '09-setup-backups.sh', '10-setup-data-pipeline.sh'];

describe('train-server.total-data-loss', () => {
  test('safe path: snapshot picked (an older one), config.sh drafted and finished by a person, the disks checked and shown to the dangerous gate, storage script confirmed, every backed-up directory restored from its path, chown per user, containers, users told', async () => {
    const stubs = blankServer() as Stubs & { notified: string[] };
    const r = await withWorker(stubs.activities, 'trainServerTotalDataLoss', input('train-server.total-data-loss'), async (h) => {
      const p = await until(h, waiting('restore-snapshot'));
      const g = p.gates.find((x) => x.gate === 'restore-snapshot')!;
      assert.deepEqual(g.choices, ['bbbbbbbb', 'aaaaaaaa'], 'latest first');
      assert.equal(g.dangerous, false);
      assert.deepEqual(effects(stubs), [], 'nothing before the snapshot is chosen');
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'restore-snapshot', by: 'alice', reason: 'latest is suspect', choice: 'aaaaaaaa' }] });
      const c = await until(h, waiting('recreate-config'));
      const cg = c.gates.find((x) => x.gate === 'recreate-config')!;
      assert.match(cg.evidence['left for you']!, /RESTIC_PASSWORD/);
      assert.match(cg.evidence.command!, /config\.sh\.lifeboat-draft/);
      assert.deepEqual(effects(stubs), ['tsConfigDraft'], 'the backup holds no config.sh: drafted');
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'recreate-config', by: 'bob', reason: 'finished it' }] });
      const q = await until(h, waiting('new-btrfs-array'));
      const ag = q.gates.find((x) => x.gate === 'new-btrfs-array')!;
      assert.equal(ag.dangerous, true);
      assert.match(ag.evidence.disks!, /serial X; no signature; not mounted/);
      assert.match(ag.evidence['your approval']!, /01-setup-storage\.sh's confirmation/);
      assert.ok(stubs.calls.some((x) => x.name === 'tsCheckDevices' && x.arg.purpose === 'new-array'), 'the disks were checked before the gate');
      assert.deepEqual(effects(stubs), ['tsConfigDraft'], 'nothing else before the array gate');
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'new-btrfs-array', by: 'alice', reason: 'all disks are new', confirm: C }] });
      return h.result();
    });
    assert.match(r.outcome, /homes of 5 users restored from snapshot aaaaaaaa/);
    // The chowns run concurrently: compare them as a set, in their place.
    const e = effects(stubs);
    const first = e.findIndex((x) => x.startsWith('tsChownHome'));
    const ordered = [...e.slice(0, first), ...e.slice(first, first + 5).sort(), ...e.slice(first + 5)];
    assert.deepEqual(ordered, [
      'tsConfigDraft',
      'tsSetupScript:01-setup-storage.sh',
      ...SCRIPTS_AFTER_STORAGE.map((x) => `tsSetupScript:${x}`),
      'tsResticRestore:homes:aaaaaaaa',
      'tsResticRestore:dir:aaaaaaaa',
      ...TS_USERS.map((u) => `tsChownHome:${u}`),
      'tsCompose:build',
      'tsCompose:up',
    ]);
    const storage = stubs.calls.find((x) => x.name === 'tsSetupScript' && x.arg.script === '01-setup-storage.sh')!;
    assert.equal(storage.arg.confirmDestroy, true, 'the approval answers the script\'s confirmation');
    assert.ok(stubs.calls.filter((x) => x.name === 'tsSetupScript' && x.arg.script !== '01-setup-storage.sh').every((x) => x.arg.confirmDestroy === undefined));
    const restores = stubs.calls.filter((x) => x.name === 'tsResticRestore').map((x) => `${String(x.arg.path)} -> ${String(x.arg.to)}`);
    assert.deepEqual(restores, ['/mnt/storage/homes -> /mnt/storage/homes', '/mnt/storage/docker-volumes -> /mnt/storage/docker-volumes'], 'the paths the snapshot records');
    const note = stubs.notified.find((n) => /workspaces/.test(n));
    assert.ok(note, stubs.notified.join('\n---\n'));
    assert.match(note, /NOT restored: workspaces are empty/);
    assert.match(note, /re-download your datasets/);
    assert.equal(r.facts['data loss'], 'workspaces (expected) and changes since 2026-11-30T02:00:00Z');
  });

  test('the password was on the lost disk: asked for by reference (a password itself is refused by the gate), passed to every restic step, never recorded', async () => {
    const lost = lostPassword();
    const stubs = blankServer(lost);
    const r = await withWorker(stubs.activities, 'trainServerTotalDataLoss', input('train-server.total-data-loss', { snapshot: 'bbbbbbbb' }), async (h) => {
      const p = await until(h, waiting('restic-password'));
      assert.match(p.gates.find((x) => x.gate === 'restic-password')!.evidence.tried!, /\/root\/\.restic-password: not on train1/);
      await assert.rejects(h.executeUpdate(approveUpdate, { args: [{ gate: 'restic-password', by: 'alice', reason: 'here', choice: 'hunter2hunter2' }] }));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'restic-password', by: 'alice', reason: 'from the safe', choice: 'file:/etc/lifeboat/restic-password' }] });
      await until(h, waiting('recreate-config'));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'recreate-config', by: 'bob', reason: 'done' }] });
      await until(h, waiting('new-btrfs-array'));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'new-btrfs-array', by: 'alice', reason: 'new disks', confirm: C }] });
      return h.result();
    });
    assert.match(r.outcome, /restored from snapshot bbbbbbbb/);
    assert.deepEqual(lost.refs, ['file:/etc/lifeboat/restic-password']);
    const restic = stubs.calls.filter((x) => ['tsResticSnapshots', 'tsResticContents', 'tsResticRestore'].includes(x.name));
    assert.ok(restic.length >= 4 && restic.every((x) => x.arg.passwordRef === 'file:/etc/lifeboat/restic-password'), JSON.stringify(restic.map((x) => [x.name, x.arg.passwordRef])));
    assert.equal(r.facts['restic password'], 'from file:/etc/lifeboat/restic-password');
  });

  test('config.sh in the backup: restored, no draft; a script stops at its question: a human step with the exact command, then checked', async () => {
    const stubs = blankServer({ ...CONFIG_IN_BACKUP, ...asksQuestion('06-setup-cloudflare-tunnel.sh') });
    const r = await withWorker(stubs.activities, 'trainServerTotalDataLoss', input('train-server.total-data-loss', { snapshot: 'bbbbbbbb' }), async (h) => {
      await until(h, waiting('new-btrfs-array'));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'new-btrfs-array', by: 'alice', reason: 'new disks', confirm: C }] });
      const p = await until(h, waiting('by-hand-06-setup-cloudflare-tunnel'));
      const g = p.gates.find((x) => x.gate === 'by-hand-06-setup-cloudflare-tunnel')!;
      assert.equal(g.evidence.command, 'cd /root/train-server && ./scripts/06-setup-cloudflare-tunnel.sh');
      assert.equal(g.evidence['it asks'], 'Press Enter to continue with authentication...');
      assert.ok(!effects(stubs).includes('tsSetupScript:07-setup-firewall.sh'), 'the next script waits for the person');
      assert.ok(!p.pendingDecision, 'a prompt is no failed step');
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'by-hand-06-setup-cloudflare-tunnel', by: 'bob', reason: 'logged in' }] });
      return h.result();
    });
    assert.match(r.outcome, /restored from snapshot bbbbbbbb/);
    assert.equal(r.facts['run by hand'], '06-setup-cloudflare-tunnel.sh');
    const e = effects(stubs);
    assert.equal(e[0], 'tsResticRestore:config:bbbbbbbb');
    assert.ok(!e.includes('tsConfigDraft'));
    assert.ok(stubs.calls.some((x) => x.name === 'tsSetupVerify' && x.arg.script === '06-setup-cloudflare-tunnel.sh'));
  });

  test('the disks the storage script would wipe are refused: no gate, no script; the operator aborts', async () => {
    const stubs = blankServer(DEVICE_REFUSED);
    const err = await withWorker(stubs.activities, 'trainServerTotalDataLoss', input('train-server.total-data-loss', { snapshot: 'bbbbbbbb' }), async (h) => {
      await until(h, waiting('recreate-config'));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'recreate-config', by: 'bob', reason: 'done' }] });
      const p = await until(h, (x) => x.pendingDecision !== undefined);
      assert.match(p.pendingDecision!.error, /refused: \/dev\/sdb.*REFUSED: \/dev\/sdb is not the disk pinned in settings\.deviceIds/);
      assert.ok(!p.gates.some((g) => g.gate === 'new-btrfs-array'));
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'abort', by: 'carol' }] });
      return failed(h);
    });
    assert.equal(typeOf(err), 'RecoveryAborted');
    assert.deepEqual(effects(stubs), ['tsConfigDraft']);
  });

  test('a rejected new-btrfs-array gate: no setup script, no restore of the homes', async () => {
    const stubs = blankServer();
    const err = await withWorker(stubs.activities, 'trainServerTotalDataLoss', input('train-server.total-data-loss', { snapshot: 'bbbbbbbb' }), async (h) => {
      await until(h, waiting('recreate-config'));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'recreate-config', by: 'bob', reason: 'done' }] });
      await until(h, waiting('new-btrfs-array'));
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'new-btrfs-array', by: 'alice', reason: 'sdb may still hold data' }] });
      return failed(h);
    });
    assert.equal(typeOf(err), 'GateRejected');
    assert.deepEqual(effects(stubs), ['tsConfigDraft']);
  });

  test('the snapshot gate times out: escalated to the operator, who aborts; nothing done', async () => {
    const stubs = blankServer();
    const err = await withWorker(stubs.activities, 'trainServerTotalDataLoss', input('train-server.total-data-loss', {}, { options: { approvalTimeout: '20m', approvalEscalation: 'ask' } }), async (h) => {
      await until(h, waiting('restore-snapshot'));
      await env.sleep('21 minutes');
      const p = await until(h, (x) => x.pendingDecision !== undefined);
      assert.equal(p.gates.find((g) => g.gate === 'restore-snapshot')!.escalations, 1);
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'abort', by: 'carol' }] });
      return failed(h);
    });
    assert.equal(typeOf(err), 'RecoveryAborted');
    assert.deepEqual(effects(stubs), []);
  });

  test('storage already mounted and config.sh present: no array gate, no storage script, snapshot from the parameter', async () => {
    const stubs = stubActivities();
    const r = await withWorker(stubs.activities, 'trainServerTotalDataLoss', input('train-server.total-data-loss', { snapshot: 'bbbbbbbb' }), (h) => h.result());
    assert.match(r.outcome, /restored from snapshot bbbbbbbb/);
    const e = effects(stubs);
    assert.ok(!e.includes('tsSetupScript:01-setup-storage.sh'), e.join(' '));
    assert.ok(!e.some((x) => x.startsWith('tsResticRestore:config') || x === 'tsConfigDraft'), e.join(' '));
    assert.deepEqual(e.filter((x) => x.startsWith('tsSetupScript')), SCRIPTS_AFTER_STORAGE.map((x) => `tsSetupScript:${x}`));
  });

  test('no snapshot in the repository: fails before any effect', async () => {
    const stubs = blankServer({ tsResticSnapshots: async () => [] });
    const err = await withWorker(stubs.activities, 'trainServerTotalDataLoss', input('train-server.total-data-loss'), failed);
    assert.equal(typeOf(err), 'NoBackups');
    assert.deepEqual(effects(stubs), []);
  });

  test('dry run: every effect planned, none made, gates recorded not awaited', async () => {
    const stubs = blankServer();
    const r = await withWorker(stubs.activities, 'trainServerTotalDataLoss', input('train-server.total-data-loss', {}, { dryRun: true }), (h) => h.result());
    assert.equal(r.dryRun, true);
    assert.deepEqual(effects(stubs), []);
    const scripts = stubs.calls.filter((c) => c.name === 'tsSetupScript');
    assert.ok(scripts.every((c) => c.arg.dryRun === true));
    assert.deepEqual(scripts.map((c) => c.arg.script), ['01-setup-storage.sh', ...SCRIPTS_AFTER_STORAGE]);
  });
});

// ------------------------------------------------------------------ cache-ssd --

describe('train-server.cache-ssd', () => {
  test('detach all, SSD replaced, dangerous wipe gate, make-bcache, attach all, writeback, clean', async () => {
    const stubs = failedSsd();
    const r = await withWorker(stubs.activities, 'trainServerCacheSsd', input('train-server.cache-ssd'), async (h) => {
      await until(h, waiting('ssd-replaced'));
      assert.deepEqual(effects(stubs), ['tsBcacheDetach:bcache0', 'tsBcacheDetach:bcache1']);
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'ssd-replaced', by: 'bob', reason: 'new Samsung 990 in' }] });
      const p = await until(h, waiting('wipe-new-ssd'));
      const g = p.gates.find((x) => x.gate === 'wipe-new-ssd')!;
      assert.equal(g.dangerous, true);
      assert.match(g.evidence.device!, /serial X; no signature; not mounted — ok/, 'what the guard found on the host');
      assert.ok(stubs.calls.some((x) => x.name === 'tsCheckDevices' && x.arg.purpose === 'wipe-cache'));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'wipe-new-ssd', by: 'alice', reason: 'it is the new SSD', confirm: C }] });
      return h.result();
    });
    assert.match(r.outcome, /Cache restored: new cache set ffffffff/);
    assert.deepEqual(effects(stubs), [
      'tsBcacheDetach:bcache0',
      'tsBcacheDetach:bcache1',
      'tsWipeCacheDevice',
      'tsMakeCache',
      'tsBcacheAttach:bcache0',
      'tsBcacheAttach:bcache1',
      'tsBcacheCacheMode:bcache0',
      'tsBcacheCacheMode:bcache1',
    ]);
  });

  test('the guard refuses the device (not the new SSD): no wipe gate, nothing wiped; the operator aborts', async () => {
    const stubs = failedSsd();
    const acts = { ...stubs.activities, ...DEVICE_REFUSED };
    const err = await withWorker(acts, 'trainServerCacheSsd', input('train-server.cache-ssd'), async (h) => {
      await until(h, waiting('ssd-replaced'));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'ssd-replaced', by: 'bob', reason: 'in' }] });
      const p = await until(h, (x) => x.pendingDecision !== undefined);
      assert.match(p.pendingDecision!.error, /REFUSED/);
      assert.ok(!p.gates.some((g) => g.gate === 'wipe-new-ssd'));
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'abort', by: 'carol' }] });
      return failed(h);
    });
    assert.equal(typeOf(err), 'RecoveryAborted');
    assert.deepEqual(effects(stubs), ['tsBcacheDetach:bcache0', 'tsBcacheDetach:bcache1']);
  });

  test('a rejected wipe: the devices stay detached, nothing is wiped or created', async () => {
    const stubs = failedSsd();
    const err = await withWorker(stubs.activities, 'trainServerCacheSsd', input('train-server.cache-ssd'), async (h) => {
      await until(h, waiting('ssd-replaced'));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'ssd-replaced', by: 'bob', reason: 'in' }] });
      await until(h, waiting('wipe-new-ssd'));
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'wipe-new-ssd', by: 'alice', reason: 'wrong device name' }] });
      return failed(h);
    });
    assert.equal(typeOf(err), 'GateRejected');
    assert.deepEqual(effects(stubs), ['tsBcacheDetach:bcache0', 'tsBcacheDetach:bcache1']);
  });

  test('nobody confirms the replacement in time: the operator skips, the server stays on the HDDs', async () => {
    const stubs = failedSsd();
    const r = await withWorker(stubs.activities, 'trainServerCacheSsd', input('train-server.cache-ssd', {}, { options: { approvalTimeout: '30m' } }), async (h) => {
      await until(h, waiting('ssd-replaced'));
      await env.sleep('31 minutes');
      await until(h, (x) => x.pendingDecision !== undefined);
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'skip', by: 'carol' }] });
      return h.result();
    });
    assert.match(r.outcome, /runs on the HDDs only until the SSD is replaced/);
    assert.deepEqual(effects(stubs), ['tsBcacheDetach:bcache0', 'tsBcacheDetach:bcache1']);
  });

  test('a healthy cache: nothing detached', async () => {
    const stubs = stubActivities();
    const r = await withWorker(stubs.activities, 'trainServerCacheSsd', input('train-server.cache-ssd'), (h) => h.result());
    assert.match(r.outcome, /No cache failure/);
    assert.deepEqual(effects(stubs), []);
  });
});

// -------------------------------------------------------------- power-outage --

describe('train-server.power-outage', () => {
  test('dirty filesystem and cache, stopped containers: scrub polled until finished, writeback resumed, up -d, users told', async () => {
    const stubs = afterOutage();
    const { notified } = stubs;
    const r = await withWorker(stubs.activities, 'trainServerPowerOutage', input('train-server.power-outage'), (h) => h.result());
    assert.match(r.outcome, /scrubbed; writeback resumed on bcache0; 1 container\(s\) restarted; users notified/);
    assert.deepEqual(effects(stubs), ['tsScrubStart', 'tsBcacheResumeWriteback:bcache0', 'tsCompose:up']);
    const probes = stubs.scrubProbes();
    assert.ok(probes >= 3, `scrub polled ${probes} times`);
    assert.ok(notified.some((t) => /3 error\(s\) corrected/.test(t) && /check your data/.test(t)), notified.join('\n'));
  });

  test('clean after the outage: no scrub, no writeback, no restart; users still told', async () => {
    const notified: string[] = [];
    const stubs = stubActivities({ notify: async (n) => void notified.push(n.subject) });
    const r = await withWorker(stubs.activities, 'trainServerPowerOutage', input('train-server.power-outage'), (h) => h.result());
    assert.match(r.outcome, /filesystem, cache and containers were fine/);
    assert.deepEqual(effects(stubs), []);
    assert.ok(notified.some((s) => /check your data/.test(s)));
  });

  test('storage not mounted after the outage: stops and points at btrfs-corruption', async () => {
    const stubs = stubActivities({ tsStorageStatus: async (a) => ({ node: a.node, reachable: true, mounted: false, errorCounters: [], kernelErrors: [], fstabHasStorage: true, configPresent: true, users: TS_USERS }) });
    const err = await withWorker(stubs.activities, 'trainServerPowerOutage', input('train-server.power-outage'), failed);
    assert.equal(typeOf(err), 'StorageNotMounted');
    assert.match(String((err as WorkflowFailedError).cause?.message), /btrfs-corruption/);
    assert.deepEqual(effects(stubs), []);
  });
});

// ------------------------------------------------------------------- os-disk --

describe('train-server.os-disk', () => {
  test('the backup holds no config.sh: drafted, finished by a person, checked; the existing array mounted (never formatted), fstab, scripts without storage, containers, verified with the test script', async () => {
    const stubs = newOs();
    const r = await withWorker(stubs.activities, 'trainServerOsDisk', input('train-server.os-disk'), async (h) => {
      await until(h, waiting('recreate-config'));
      assert.deepEqual(effects(stubs), ['tsConfigDraft']);
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'recreate-config', by: 'bob', reason: 'filled the passwords' }] });
      return h.result();
    });
    assert.match(r.outcome, /array 11111111-2222-3333-4444-555555555555 mounted \(not formatted\), config\.sh recreated from config\.sh\.example/);
    assert.deepEqual(effects(stubs), [
      'tsConfigDraft',
      'tsMountStorage',
      'tsFstabStorage',
      ...SCRIPTS_AFTER_STORAGE.map((x) => `tsSetupScript:${x}`),
      'tsCompose:generate',
      'tsCompose:build',
      'tsCompose:up',
    ]);
    assert.ok(stubs.calls.some((c) => c.name === 'tsConfigCheck'), 'config.sh checked after the person');
    assert.ok(!stubs.calls.some((c) => c.name === 'tsSetupScript' && c.arg.script === '01-setup-storage.sh'));
    assert.equal(stubs.calls.find((c) => c.name === 'tsMountStorage')!.arg.options, undefined, 'a plain mount, as the runbook');
    assert.equal(stubs.calls.find((c) => c.name === 'tsVerify')!.arg.testsScript, '11-run-tests.sh');
  });

  test('config.sh in the backup, the password by reference: restored from it, no person needed', async () => {
    const stubs = newOs({ ...lostPassword(), ...CONFIG_IN_BACKUP });
    const r = await withWorker(stubs.activities, 'trainServerOsDisk', input('train-server.os-disk'), async (h) => {
      await until(h, waiting('restic-password'));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'restic-password', by: 'alice', reason: 'vault', choice: 'env:RESTIC_PASSWORD' }] });
      return h.result();
    });
    assert.match(r.outcome, /config\.sh restored from backup bbbbbbbb/);
    assert.equal(effects(stubs)[0], 'tsResticRestore:config:bbbbbbbb');
    assert.equal(stubs.calls.find((c) => c.name === 'tsResticRestore')!.arg.passwordRef, 'env:RESTIC_PASSWORD');
  });

  test('settings.setupScripts names scripts the checkout lacks (5a02c9d names on a HEAD checkout): stops before any script, naming them', async () => {
    const stubs = newOs({ ...CONFIG_IN_BACKUP, tsSetupPlan: async () => ({ repoDir: '/root/train-server', scripts: [{ name: '02-setup-users.sh', prompts: [], answered: [], checks: [], present: false }], unlisted: ['04-setup-users.sh'] }) });
    const err = await withWorker(stubs.activities, 'trainServerOsDisk', input('train-server.os-disk'), failed);
    assert.equal(typeOf(err), 'SetupScriptsMismatch');
    assert.match(String((err as WorkflowFailedError).cause?.message), /names 02-setup-users\.sh, which is not in \/root\/train-server\/scripts \(it has 04-setup-users\.sh\)/);
    assert.ok(!effects(stubs).some((x) => x.startsWith('tsSetupScript')));
  });

  test('no filesystem on the storage devices: stops before any effect and never formats', async () => {
    const stubs = newOs({ tsStorageStatus: async (a) => ({ node: a.node, reachable: true, mounted: false, errorCounters: [], kernelErrors: [], fstabHasStorage: false, configPresent: false, users: TS_USERS }) });
    const err = await withWorker(stubs.activities, 'trainServerOsDisk', input('train-server.os-disk'), failed);
    assert.equal(typeOf(err), 'NoArray');
    assert.match(String((err as WorkflowFailedError).cause?.message), /Do NOT format/);
    assert.deepEqual(effects(stubs), []);
  });

  test('a failing verification waits for the operator; abort ends the recovery', async () => {
    const stubs = newOs({ ...CONFIG_IN_BACKUP, tsVerify: async () => ({ ok: false, checks: [{ name: 'nvidia-smi', ok: false, detail: 'driver not loaded' }] }) });
    const err = await withWorker(stubs.activities, 'trainServerOsDisk', input('train-server.os-disk'), async (h) => {
      const p = await until(h, (x) => x.pendingDecision !== undefined);
      assert.match(p.pendingDecision!.error, /nvidia-smi: driver not loaded/);
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'abort', by: 'carol' }] });
      return failed(h);
    });
    assert.equal(typeOf(err), 'RecoveryAborted');
  });
});

// --------------------------------------------------------- btrfs-corruption --

describe('train-server.btrfs-corruption', () => {
  const names = (s: Stubs) => s.effects().map((c) => `${c.name}${c.arg.options ? `:${String(c.arg.options)}` : ''}${c.arg.repair !== undefined ? `:${c.arg.repair ? 'repair' : 'readonly'}` : ''}${c.arg.from ? `:${String(c.arg.from)}` : ''}`);

  test('read-only mount, data out at once, readonly check, repair behind the dangerous gate (findings shown), mounted rw, containers up', async () => {
    const stubs = corruptBtrfs('moderate');
    const r = await withWorker(stubs.activities, 'trainServerBtrfsCorruption', input('train-server.btrfs-corruption'), async (h) => {
      const p = await until(h, waiting('btrfs-check-repair'));
      const g = p.gates.find((x) => x.gate === 'btrfs-check-repair')!;
      assert.equal(g.dangerous, true);
      assert.match(g.evidence['btrfs check --readonly']!, /2 errors found/);
      assert.match(g.evidence['data rescued first']!, /external-backup/);
      assert.match(g.evidence.device!, /not mounted — ok/, 'the device guard\'s findings');
      assert.equal(stubs.calls.find((x) => x.name === 'tsCheckDevices')!.arg.arrayUuid, '11111111-2222-3333-4444-555555555555');
      assert.ok(!names(stubs).includes('tsBtrfsCheck:repair'));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'btrfs-check-repair', by: 'alice', reason: 'data is rescued', confirm: C }] });
      return h.result();
    });
    assert.match(r.outcome, /repaired and mounted read-write again; data rescued/);
    assert.deepEqual(names(stubs), [
      'tsUnmountStorage',
      'tsMountStorage:ro,degraded',
      'tsRsync:/mnt/storage/homes',
      'tsRsync:/mnt/storage/workspaces',
      'tsBtrfsCheck:readonly',
      'tsUnmountStorage',
      'tsUnmountStorage',
      'tsBtrfsCheck:repair',
      'tsUnmountStorage',
      'tsMountStorage',
      'tsCompose',
    ]);
  });

  test('the device guard refuses the repair target: no gate, no repair; the operator aborts', async () => {
    const stubs = corruptBtrfs('moderate');
    const err = await withWorker({ ...stubs.activities, ...DEVICE_REFUSED }, 'trainServerBtrfsCorruption', input('train-server.btrfs-corruption'), async (h) => {
      const p = await until(h, (x) => x.pendingDecision !== undefined);
      assert.match(p.pendingDecision!.error, /REFUSED/);
      assert.ok(!p.gates.some((g) => g.gate === 'btrfs-check-repair'));
      await h.executeUpdate(decideUpdate, { args: [{ decision: 'abort', by: 'carol' }] });
      return failed(h);
    });
    assert.equal(typeOf(err), 'RecoveryAborted');
    assert.ok(!names(stubs).includes('tsBtrfsCheck:repair'));
  });

  test('a disk detached: only ro,degraded mounts; data rescued; no btrfs check; the disk reconnected (a person), verified, read-write again', async () => {
    const stubs = corruptBtrfs('degraded');
    const r = await withWorker(stubs.activities, 'trainServerBtrfsCorruption', input('train-server.btrfs-corruption'), async (h) => {
      const p = await until(h, waiting('reconnect-disk'));
      assert.equal(p.gates.find((g) => g.gate === 'reconnect-disk')!.evidence.missing, '/dev/sdc');
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'reconnect-disk', by: 'bob', reason: 'cable reseated' }] });
      return h.result();
    });
    assert.match(r.outcome, /^Array complete again: \/dev\/sdc reconnected, \/mnt\/storage mounted read-write; data rescued to \/mnt\/external-backup first\.$/);
    assert.deepEqual(names(stubs), ['tsUnmountStorage', 'tsMountStorage:ro,degraded', 'tsRsync:/mnt/storage/homes', 'tsRsync:/mnt/storage/workspaces', 'tsUnmountStorage', 'tsUnmountStorage', 'tsMountStorage', 'tsCompose']);
  });

  test('a rejected repair: nothing after the readonly check and the unmount for the device check', async () => {
    const stubs = corruptBtrfs('moderate');
    const err = await withWorker(stubs.activities, 'trainServerBtrfsCorruption', input('train-server.btrfs-corruption'), async (h) => {
      await until(h, waiting('btrfs-check-repair'));
      await h.executeUpdate(rejectUpdate, { args: [{ gate: 'btrfs-check-repair', by: 'alice', reason: 'too risky' }] });
      return failed(h);
    });
    assert.equal(typeOf(err), 'GateRejected');
    assert.deepEqual(names(stubs).slice(-2), ['tsBtrfsCheck:readonly', 'tsUnmountStorage'], 'unmounted for the device check, nothing after');
  });

  test('nobody approves the repair in time (escalation fail): ApprovalTimedOut, no repair attempted', async () => {
    const stubs = corruptBtrfs('moderate');
    const err = await withWorker(stubs.activities, 'trainServerBtrfsCorruption', input('train-server.btrfs-corruption', {}, { options: { approvalTimeout: '15m', approvalEscalation: 'fail' } }), async (h) => {
      await until(h, waiting('btrfs-check-repair'));
      await env.sleep('16 minutes');
      return failed(h);
    });
    assert.equal(typeOf(err), 'ApprovalTimedOut');
    assert.ok(!names(stubs).includes('tsBtrfsCheck:repair'));
    assert.deepEqual(names(stubs).slice(-2), ['tsBtrfsCheck:readonly', 'tsUnmountStorage'], 'unmounted for the device check, nothing after');
  });

  test('severe: the repair fails, usebackuproot mounts, data rescued, restore from backups next', async () => {
    const stubs = corruptBtrfs('severe');
    const r = await withWorker(stubs.activities, 'trainServerBtrfsCorruption', input('train-server.btrfs-corruption'), async (h) => {
      await until(h, waiting('btrfs-check-repair'));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'btrfs-check-repair', by: 'alice', reason: 'last chance', confirm: C }] });
      return h.result();
    });
    assert.match(r.outcome, /mounted ro,usebackuproot, homes and workspaces rescued .*train-server\.total-data-loss/);
    const n = names(stubs);
    assert.ok(n.includes('tsMountStorage:ro,usebackuproot'), n.join(' '));
    assert.ok(!n.includes('tsMountStorage:ro,rescue=all'), 'stops at the first recovery mount that works');
    assert.deepEqual(n.slice(-2), ['tsRsync:/mnt/storage/homes', 'tsRsync:/mnt/storage/workspaces']);
  });

  test('nothing mounts: btrfs restore as the last resort; when that fails too, Unrecoverable', async () => {
    const stubs = corruptBtrfs('lost');
    const err = await withWorker(stubs.activities, 'trainServerBtrfsCorruption', input('train-server.btrfs-corruption'), async (h) => {
      await until(h, waiting('btrfs-check-repair'));
      await h.executeUpdate(approveUpdate, { args: [{ gate: 'btrfs-check-repair', by: 'alice', reason: 'nothing to lose', confirm: C }] });
      return failed(h);
    });
    assert.equal(typeOf(err), 'Unrecoverable');
    const n = stubs.calls.map((c) => c.name);
    assert.ok(n.includes('tsBtrfsRestore'));
    assert.ok(!n.includes('tsRsync'), 'nothing was mountable, nothing copied');
  });
});

// ------------------------------------------------------------------ dry runs --

describe('train-server dry runs plan every effect and make none', () => {
  const cases: Array<[string, string, Partial<LifeboatActivities>]> = [
    [
      'train-server.cache-ssd',
      'trainServerCacheSsd',
      { tsCacheDevice: async () => ({ device: '/dev/nvme0n1p3', state: 'failed', detail: 'I/O error' }), tsBcacheStatus: async () => [{ name: 'bcache0', state: 'inconsistent', cacheMode: 'writeback', writebackRunning: true }] },
    ],
    [
      'train-server.power-outage',
      'trainServerPowerOutage',
      {
        tsStorageStatus: async (a) => ({ node: a.node, reachable: true, mounted: true, mountOptions: 'rw', deviceErrors: 3, errorCounters: [], kernelErrors: ['BTRFS error'], fstabHasStorage: true, configPresent: true, users: TS_USERS }),
        tsScrubStatus: async () => ({ state: 'none', corrected: 0, uncorrectable: 0, summary: 'no scrub has run' }),
        tsBcacheStatus: async () => [{ name: 'bcache0', state: 'dirty', cacheMode: 'writeback', writebackRunning: false }],
        tsContainers: async () => [{ name: 'alice-workspace', state: 'exited' }],
      },
    ],
    [
      'train-server.os-disk',
      'trainServerOsDisk',
      { tsStorageStatus: async (a) => ({ node: a.node, reachable: true, mounted: false, arrayUuid: '11111111-2222-3333-4444-555555555555', errorCounters: [], kernelErrors: [], fstabHasStorage: false, configPresent: false, users: TS_USERS }) },
    ],
    [
      'train-server.btrfs-corruption',
      'trainServerBtrfsCorruption',
      { tsBtrfsCheck: async (a) => ({ plan: 'check', dryRun: a.dryRun, clean: false, findings: 'ERROR: 2 errors found' }) },
    ],
  ];
  for (const [scenario, type, overrides] of cases) {
    test(scenario, async () => {
      const stubs = stubActivities(overrides);
      const r = await withWorker(stubs.activities, type, input(scenario, {}, { dryRun: true }), (h) => h.result());
      assert.equal(r.dryRun, true);
      assert.deepEqual(effects(stubs), []);
      const planned = stubs.calls.filter((c) => c.arg.dryRun === true).map((c) => c.name);
      assert.ok(planned.length >= 2, `${scenario} planned: ${planned.join(', ')}`);
    });
  }
});
