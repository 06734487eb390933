/**
 * The lab's outage and sync additions (lab/training-cluster/sync-coordinator.ts
 * and the training-ops faults of lab/training-cluster/ops.ts) and the training-ops
 * activities (src/activities/training-ops.ts) against them: real SSH to the
 * lab hosts (shimmed systemctl, ps, rsync, python scripts), real HTTP to the
 * sync coordinator, each activity in Temporal's MockActivityEnvironment.
 * Every effect is read back from the lab's effect log.
 *
 * The tests run in order on one lab: healthy reads, the admin API's auth,
 * then each fault and its repair: agent crashed (restart), agent broken
 * (rsync + import), cluster outage (coordinator first, nodes rejoin, full
 * sync, daemons), several hosts critical, and a lost host (retire, unretire).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parse as parseYaml } from 'yaml';
import { createActivities, type ActivitySet } from '../../src/activities';
import { startLab, type Lab } from '../../lab/index';

const TRAINING = 'lab-training';
const NODES = ['tc-node1', 'tc-node2', 'tc-node3', 'tc-node4', 'tc-node5'];
const T = { timeout: 90_000 };
const tc = (node: string) => ({ cluster: TRAINING, node });
const sh = (host: string) => ({ cluster: TRAINING, node: 'tc-node1', host });

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-training-ops-'));
let lab: Lab;
let acts: ActivitySet;
let a: ActivitySet['activities'];
let settings: Record<string, string>;
let adminKey = '';

let calls = 0;
/** Each call is its own step (its own activity id), unless `activityId` says it is a retry of an earlier one. */
function env(activityId = `a${++calls}`): MockActivityEnvironment {
  return new MockActivityEnvironment({ workflowExecution: { workflowId: 'wf-training-ops', runId: 'run-1' }, activityId } as never);
}
async function run<I, O>(fn: (input: I) => Promise<O>, input: I, activityId?: string): Promise<O> {
  return (await env(activityId).run(fn, input)) as O;
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
async function until<V>(what: string, probe: () => Promise<V | undefined>, withinMs = 30_000): Promise<V> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${withinMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
const effects = (effect?: string) => lab.effects.list({ cluster: TRAINING, ...(effect ? { effect } : {}) });
const count = () => effects().length;
const since = (n: number) => effects().slice(n).map((e) => `${e.effect}:${e.node}${e.detail?.host ? `/${String(e.detail.host)}` : ''}${e.detail?.ok === false ? ':failed' : ''}`);
const hostState = async (host: string) => (await run(a.syncHosts, tc('tc-node1'))).hosts.find((h) => h.host === host);
const healthy = async () => (await lab.health()).find((h) => h.cluster === TRAINING)!;

before(async () => {
  lab = await startLab({ dir, families: ['training-cluster'], bootMs: 300 });
  acts = createActivities({ inventoryPath: lab.inventoryPath });
  a = acts.activities;
  const inv = parseYaml(readFileSync(lab.inventoryPath, 'utf8')) as { clusters: Record<string, { settings: Record<string, string> }> };
  settings = inv.clusters[TRAINING]!.settings;
  adminKey = readFileSync(settings.syncAdminKey!.replace(/^file:/, ''), 'utf8').trim();
});

after(async () => {
  await acts?.close();
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the sync coordinator and the training-ops activities on the lab', () => {
  test('healthy: metrics and statuses, storage, agent process, models, selfplay; secrets only by reference', T, async () => {
    assert.match(settings.syncAdminKey ?? '', /^file:\//);
    assert.ok(!readFileSync(lab.inventoryPath, 'utf8').includes(adminKey), 'the admin key is not in the inventory');
    const o = await run(a.syncHosts, tc('tc-node1'));
    assert.equal(o.reachable, true, o.error);
    assert.deepEqual(o.counts, { healthy: 4, critical: 0, retired: 0 });
    assert.deepEqual(o.hosts.map((h) => [h.host, h.state]), NODES.slice(1).map((n) => [n, 'healthy']));
    const st = await run(a.syncHostStorage, tc('tc-node3'));
    assert.equal(st.files, 1);
    assert.match(st.size ?? '', /^\d/);
    assert.match(st.listing ?? '', /games_tc-node3_0001\.jsonl/);
    const p = await run(a.syncProcess, tc('tc-node3'));
    assert.equal(p.running, true, p.lines.join('\n'));
    const m = await run(a.modelsAccessible, tc('tc-node1'));
    assert.deepEqual(m.models.map((x) => x.name), ['canonical_hex8_2p.pth']);
    assert.ok((m.models[0]?.bytes ?? 0) > 0);
    assert.equal((await run(a.selfplayRunning, tc('tc-node2'))).running, true);
    assert.equal((await healthy()).healthy, true);
  });

  test('the admin API wants X-Admin-Key; the activity sends it and never echoes it', T, async () => {
    const url = `${settings.syncAdminUrl}/admin/unretire`;
    for (const headers of [{}, { 'X-Admin-Key': 'wrong' }] as Array<Record<string, string>>) {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ host_id: 'tc-node2' }) });
      assert.equal(r.status, 401);
    }
    const before = count();
    const r = await run(a.syncUnretire, sh('tc-node2'));
    assert.equal(r.alreadyDone, true, 'tc-node2 is not retired: nothing to do');
    const dry = await run(a.syncRetireHost, { ...sh('tc-node2'), dryRun: true });
    assert.match(dry.plan, /POST .*\/admin\/retire-host -H "X-Admin-Key: \$ADMIN_KEY" -d '\{"host_id":"tc-node2","reason":"data_loss","acknowledge_loss":true\}'/);
    assert.ok(!JSON.stringify([r, dry]).includes(adminKey));
    assert.deepEqual(since(before), []);
  });

  test('training-cluster.sync-host-critical.agent-crashed (v1 activities): force sync refused, the agent restart heals, the games are collected', T, async () => {
    await lab.break('training-cluster.sync-host-critical.agent-crashed');
    const before = count();
    const o = await run(a.syncHosts, tc('tc-node1'));
    assert.deepEqual(o.counts, { healthy: 3, critical: 1, retired: 0 });
    const h = o.hosts.find((x) => x.host === 'tc-node5')!;
    assert.equal(h.state, 'critical');
    assert.equal(h.pendingGames, 35);
    assert.ok(Date.now() - Date.parse(h.lastSync!) > 2 * 3600_000);
    assert.equal((await healthy()).healthy, false);

    const st = await run(a.syncHostStorage, tc('tc-node5'));
    assert.equal(st.files, 3);
    assert.ok(Date.parse(st.newest!) > Date.parse(h.lastSync!));
    assert.equal((await run(a.syncProcess, tc('tc-node5'))).running, false);
    const log = await run(a.syncLogTail, tc('tc-node5'));
    assert.ok(log.errors >= 2, log.tail);
    assert.match(log.lastError ?? '', /CRITICAL sync_agent exited/);
    const clog = await run(a.syncLogTail, { ...tc('tc-node1'), match: 'tc-node5' });
    assert.match(clog.tail, /host tc-node5 missed sync/);

    const dry = await run(a.syncForce, { ...sh('tc-node5'), dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.deepEqual(since(before), [], 'a dry run changes nothing');
    const f = await run(a.syncForce, sh('tc-node5'));
    assert.equal(f.synced, false);
    assert.match(f.detail, /not responding/);
    const r = await run(a.syncAgentRestart, tc('tc-node5'), 'restart-step');
    assert.equal(r.active, true, r.detail);
    // A retried attempt of the same step (the worker died after the restart) checks, does not restart again.
    const retried = await run(a.syncAgentRestart, tc('tc-node5'), 'restart-step');
    assert.equal(retried.alreadyDone, true, retried.detail);
    assert.equal(retried.active, true);
    await until('tc-node5 healthy', async () => ((await hostState('tc-node5'))?.state === 'healthy' ? true : undefined));
    assert.equal((await hostState('tc-node5'))?.pendingGames, 0);
    // Check before acting: a healthy host is not force-synced (a retried attempt after a forced sync that worked).
    const again = await run(a.syncForce, sh('tc-node5'));
    assert.equal(again.alreadyDone, true, again.detail);
    assert.equal(again.synced, true);
    assert.match(again.detail, /tc-node5 is healthy.*no forced sync needed/);
    assert.deepEqual(since(before), ['sync.forced:tc-node1/tc-node5:failed', 'sync-agent.restart:tc-node5']);
    assert.equal((await healthy()).healthy, true, (await healthy()).summary);
  });

  test('training-cluster.sync-host-critical.agent-broken: the restart fails; rsync + import recover the games (idempotent)', T, async () => {
    await lab.break('training-cluster.sync-host-critical.agent-broken');
    const before = count();
    const r = await run(a.syncAgentRestart, tc('tc-node5'));
    assert.equal(r.active, false);
    assert.match(r.detail, /not active/);
    const copy = await run(a.syncRecoverData, sh('tc-node5'));
    assert.equal(copy.recoveredDir, `${settings.recoveredDir}/tc-node5/`);
    assert.equal(copy.files, 5);
    const recovered = readdirSync(join(lab.host(TRAINING, 'tc-node1').root, 'data', 'recovered', 'tc-node5'));
    assert.equal(recovered.length, 5);
    const imp = await run(a.syncImport, { ...sh('tc-node5'), dataDir: copy.recoveredDir });
    assert.equal(imp.imported, 2);
    assert.equal((await hostState('tc-node5'))?.state, 'healthy');
    const again = await run(a.syncImport, { ...sh('tc-node5'), dataDir: copy.recoveredDir });
    assert.equal(again.imported, 0, 'the import skips what it already imported');
    assert.deepEqual(since(before), ['sync-agent.restart:tc-node5:failed', 'rsync.recovered:tc-node1/tc-node5', 'import:tc-node1/tc-node5', 'import:tc-node1/tc-node5']);
    assert.equal(effects('import').at(-2)?.detail?.games, 35);
    assert.equal((await healthy()).healthy, true, (await healthy()).summary);
  });

  test('the real sync surface: /admin/sync/status and /admin/sync/trigger want X-Admin-Key as app/main.py checks it; the activities send it and never echo it', T, async () => {
    const base = settings.aiServiceUrl!;
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);
    const none = await fetch(`${base}/admin/sync/status`);
    assert.equal(none.status, 401);
    assert.deepEqual(await none.json(), { detail: 'X-Admin-Key header required' });
    const wrong = await fetch(`${base}/admin/sync/trigger`, { method: 'POST', headers: { 'X-Admin-Key': 'wrong' } });
    assert.equal(wrong.status, 403);
    assert.deepEqual(await wrong.json(), { detail: 'Invalid admin key' });
    const before = count();
    const st = await run(a.syncAppStatus, tc('tc-node1'));
    assert.equal(st.reachable, true, st.error);
    assert.equal(st.status, 'ok');
    assert.deepEqual(st.lastSyncTimes, {}, 'never filled at 2aa9f89b5');
    const g = await run(a.syncGauges, tc('tc-node1'));
    assert.deepEqual(g, { reachable: true, total: 4, healthy: 4, stale: 0, critical: 0 });
    const c = await run(a.syncCriticalHosts, tc('tc-node1'));
    assert.deepEqual(c.hosts, [], 'every peer alive with fresh heartbeats');
    const dry = await run(a.syncTrigger, { ...tc('tc-node1'), dryRun: true });
    assert.match(dry.plan, /^curl -X POST http:\/\/127\.0\.0\.1:\d+\/admin\/sync\/trigger -H "X-Admin-Key: \$ADMIN_API_KEY"$/);
    assert.ok(!JSON.stringify([st, g, c, dry]).includes(adminKey));
    assert.deepEqual(since(before), []);
  });

  test('training-cluster.sync-host-critical (real symptoms): the gauges count tc-node5, the peers name it; the full sync drops the gauge, its restart freshens its heartbeat', T, async () => {
    await lab.break('training-cluster.sync-host-critical');
    const before = count();
    const g = await run(a.syncGauges, tc('tc-node1'));
    assert.equal(g.critical, 1);
    assert.equal(g.total, 4);
    const c = await run(a.syncCriticalHosts, tc('tc-node1'));
    assert.deepEqual(c.hosts.map((h) => [h.host, h.fresh, h.why.includes('not alive')]), [['tc-node5', false, true]]);
    const t = await run(a.syncTrigger, tc('tc-node1'));
    assert.equal(t.synced, true, t.detail);
    assert.ok(t.totalFiles >= 2, t.detail);
    assert.equal((await run(a.syncGauges, tc('tc-node1'))).critical, 0);
    assert.equal((await run(a.syncCriticalHosts, tc('tc-node1'))).hosts[0]?.host, 'tc-node5', 'its heartbeats are still missing');
    await run(a.p2pRestart, tc('tc-node5'));
    await until('tc-node5 fresh in tc-node1\'s peers', async () => ((await run(a.syncCriticalHosts, { ...tc('tc-node1'), host: 'tc-node5' })).hosts[0]?.fresh ? true : undefined));
    assert.deepEqual(since(before), ['sync.trigger:tc-node1', 'orchestrator.start:tc-node5']);
    assert.equal((await healthy()).healthy, true, (await healthy()).summary);
  });

  test('import_orphaned_databases.py --json: the real flags, its JSON line parsed; a second import registers nothing', T, async () => {
    await lab.break('training-cluster.sync-host-critical.agent-broken');
    const t = await run(a.syncTrigger, tc('tc-node1'));
    assert.equal(t.synced, true);
    assert.equal((await run(a.syncGauges, tc('tc-node1'))).critical, 1, 'the full sync cannot pull tc-node5');
    const copy = await run(a.syncRecoverData, { ...sh('tc-node5'), dir: 'data/games' });
    assert.ok(copy.files >= 1, copy.output);
    const imp = await run(a.syncImport, { ...sh('tc-node5'), dataDir: copy.recoveredDir, json: true });
    assert.ok(imp.imported >= 1, imp.output);
    assert.match(imp.plan, /import_orphaned_databases\.py --data-dir \S+ --trigger-sync --json$/);
    assert.equal((await run(a.syncGauges, tc('tc-node1'))).critical, 0);
    const again = await run(a.syncImport, { ...sh('tc-node5'), dataDir: copy.recoveredDir, json: true });
    assert.equal(again.imported, 0);
    assert.equal((await healthy()).healthy, true, (await healthy()).summary);
  });

  test('training-cluster.cluster-outage: all unreachable; the coordinator comes back first; nodes rejoin after its start; sync and daemons', T, async () => {
    await lab.break('training-cluster.cluster-outage');
    const before = count();
    const ssh = await Promise.all(NODES.map((n) => run(a.sshCheck, tc(n))));
    assert.deepEqual(ssh.map((s) => s.reachable), [false, false, false, false, false]);
    const st = await Promise.all(NODES.map((n) => run(a.p2pStatus, tc(n))));
    assert.deepEqual(st.map((s) => s.reachable), [false, false, false, false, false]);
    assert.equal((await healthy()).healthy, false);

    await until('tc-node1 reachable', async () => ((await run(a.sshCheck, tc('tc-node1'))).reachable ? true : undefined), 30_000); // the coordinator's host is back 10 s after the fault
    assert.equal((await run(a.sshCheck, tc('tc-node2'))).reachable, false, 'the other nodes wait for the coordinator');
    await run(a.p2pRestart, tc('tc-node1'));
    const seen = new Set<number>();
    await until(
      'every node back in the mesh',
      async () => {
        const s = await run(a.p2pStatus, tc('tc-node1'));
        seen.add(s.alivePeers?.length ?? 0);
        return s.alivePeers?.length === 5 && s.leaderId ? true : undefined;
      },
      30_000,
    );
    assert.ok(seen.size >= 3, `nodes come back one by one (alive counts seen: ${[...seen].join(',')})`);
    assert.equal((await run(a.selfplayRunning, tc('tc-node3'))).running, false, 'selfplay waits for the daemons');
    assert.match((await healthy()).summary, /daemons not relaunched/);

    await run(a.clusterFullSync, tc('tc-node1'));
    await run(a.clusterLaunchDaemons, tc('tc-node1'));
    assert.equal((await run(a.selfplayRunning, tc('tc-node3'))).running, true);
    assert.deepEqual(since(before), ['orchestrator.start:tc-node1', 'sync.full:tc-node1', 'daemons.launched:tc-node1']);
    assert.equal(effects('sync.full').at(-1)?.detail?.hosts, 4);
    assert.equal((await healthy()).healthy, true, (await healthy()).summary);
  });

  test('training-cluster.sync-host-critical.multi: two hosts critical at once', T, async () => {
    await lab.break('training-cluster.sync-host-critical.multi');
    const o = await run(a.syncHosts, tc('tc-node1'));
    assert.deepEqual(o.hosts.filter((h) => h.state === 'critical').map((h) => h.host), ['tc-node4', 'tc-node5']);
    for (const n of ['tc-node4', 'tc-node5']) assert.equal((await run(a.syncAgentRestart, tc(n))).active, true);
    await until('both healthy', async () => ((await run(a.syncHosts, tc('tc-node1'))).counts.critical === 0 ? true : undefined));
    // The fault also killed their orchestrators (the real symptom: their heartbeats stop).
    for (const n of ['tc-node4', 'tc-node5']) await run(a.p2pRestart, tc(n));
    await until('both back in the mesh', async () => ((await healthy()).healthy ? true : undefined));
  });

  test('training-cluster.sync-host-critical.host-lost: nothing reaches the host; retiring it records the loss; unretire reverses it', T, async () => {
    await lab.break('training-cluster.sync-host-critical.host-lost');
    const before = count();
    const h = await hostState('tc-node5');
    assert.equal(h?.state, 'critical');
    assert.equal(h?.pendingGames, 35, 'the agent reported its pending games before the host was lost');
    assert.ok(Date.now() - Date.parse(h!.lastSeen!) > 80 * 60_000);
    assert.equal((await run(a.sshCheck, tc('tc-node5'))).reachable, false);
    assert.equal((await run(a.syncHostStorage, tc('tc-node5'))).reachable, false);
    assert.equal((await run(a.syncForce, sh('tc-node5'))).synced, false);
    const r = await run(a.syncAgentRestart, tc('tc-node5'));
    assert.equal(r.reachable, false);
    const f = await failure(run(a.syncRecoverData, sh('tc-node5')));
    assert.equal(f.type, 'CommandFailed');
    assert.match(f.message, /Connection refused/);
    assert.equal(f.nonRetryable, true);

    const ret = await run(a.syncRetireHost, sh('tc-node5'));
    assert.notEqual(ret.alreadyDone, true);
    assert.equal((await hostState('tc-node5'))?.state, 'retired');
    assert.equal((await run(a.syncRetireHost, sh('tc-node5'))).alreadyDone, true, 'retiring twice is done once');
    assert.equal((await run(a.syncForce, sh('tc-node5'))).synced, false, 'a retired host is not synced');
    assert.equal((await healthy()).healthy, true, `a retired host is not expected in the mesh: ${(await healthy()).summary}`);
    assert.deepEqual(since(before), ['sync.forced:tc-node1/tc-node5:failed', 'host.retired:tc-node1/tc-node5', 'sync.forced:tc-node1/tc-node5:failed']);
    assert.equal(effects('host.retired').at(-1)?.detail?.lostGames, 35);
    assert.equal(effects('host.retired').at(-1)?.detail?.reason, 'data_loss');

    await run(a.syncUnretire, sh('tc-node5'));
    assert.equal((await hostState('tc-node5'))?.retired, false);
    assert.equal(effects('host.unretired').length, 1);
    assert.ok(existsSync(join(lab.host(TRAINING, 'tc-node5').root, 'data', 'selfplay')));
  });
});
