/**
 * The real sync surface of seed 001 as Lifeboat reads it (RingRift 2aa9f89b5,
 * answers taken from the ai-service app run in the lab's isolation): the
 * label-less gauges, `/admin/sync/status`, `/admin/sync/trigger`,
 * `import_orphaned_databases.py --json`, the critical hosts named from the
 * P2P peers, and the refusal of a bad `settings.aiServiceUrl`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { appUrl, criticalPeers, parseSyncGauges, syncStatusOf, triggerOf } from '../../src/activities/training-cluster/app-sync';
import type { TrainingClusterContext } from '../../src/activities/training-cluster/context';
import { importResultOf } from '../../src/activities/training-cluster/sync';

/** `GET /metrics` of the real app (its sync gauges, with the other series around them). */
const METRICS = `# HELP python_gc_objects_collected_total Objects collected during gc
# TYPE python_gc_objects_collected_total counter
python_gc_objects_collected_total{generation="0"} 1234.0
# HELP ringrift_sync_hosts_total Total number of hosts tracked by SyncCoordinator.
# TYPE ringrift_sync_hosts_total gauge
ringrift_sync_hosts_total 4.0
# HELP ringrift_sync_hosts_healthy Number of healthy hosts in SyncCoordinator.
# TYPE ringrift_sync_hosts_healthy gauge
ringrift_sync_hosts_healthy 2.0
# HELP ringrift_sync_hosts_stale Number of hosts with stale data.
# TYPE ringrift_sync_hosts_stale gauge
ringrift_sync_hosts_stale 1.0
# HELP ringrift_sync_hosts_critical Number of hosts in critical sync state.
# TYPE ringrift_sync_hosts_critical gauge
ringrift_sync_hosts_critical 1.0
ringrift_sync_hosts{state="critical"} 7
`;

describe('the ai-service app\'s sync answers', () => {
  test('the gauges: label-less, floats; a labelled series of the same family is not read', () => {
    assert.deepEqual(parseSyncGauges(METRICS), { total: 4, healthy: 2, stale: 1, critical: 1 });
    assert.deepEqual(parseSyncGauges('ringrift_sync_hosts_total 0.0\nringrift_sync_hosts_critical 0.0\n'), { total: 0, critical: 0 });
    assert.deepEqual(parseSyncGauges('ringrift_sync_hosts{state="critical"} 3\n'), {}, 'the seed\'s labelled series is not the real one');
  });

  test('GET /admin/sync/status: status, provider, background loop, the transports on, last_sync_times (empty at 2aa9f89b5)', () => {
    const real = {
      status: 'ok',
      timestamp: '2026-12-06T23:05:15.362765+00:00',
      sync: { provider: 'local', shared_storage: false, running: false, data_server: { running: false, port: null }, transports: { aria2: false, p2p: true, gossip: true, ssh: true }, sources_discovered: 0, last_sync_times: {}, config: { gossip_port: 8771 } },
    };
    assert.deepEqual(syncStatusOf(real), { status: 'ok', provider: 'local', running: false, transports: ['p2p', 'gossip', 'ssh'], lastSyncTimes: {} });
    assert.deepEqual(syncStatusOf({ status: 'unavailable', error: "SyncCoordinator not available: No module named 'x'" }), { status: 'unavailable', error: "SyncCoordinator not available: No module named 'x'", transports: [], lastSyncTimes: {} });
    assert.deepEqual(syncStatusOf({ status: 'ok', sync: { last_sync_times: { games: 1765062315.5, bad: 'x' } } }).lastSyncTimes, { games: 1765062315.5 });
  });

  test('POST /admin/sync/trigger: files per category and in total; unavailable is not a sync', () => {
    const empty = triggerOf({ status: 'ok', results: {}, total_files: 0, total_bytes: 0 });
    assert.deepEqual(empty, { synced: true, totalFiles: 0, totalBytes: 0, categories: {}, detail: 'full sync: 0 file(s), 0 byte(s)' });
    const some = triggerOf({ status: 'ok', results: { games: { files_synced: 3, bytes_transferred: 12288, transport_used: 'ssh', duration_seconds: 0.2 }, models: { files_synced: 0 } }, total_files: 3, total_bytes: 12288 });
    assert.equal(some.synced, true);
    assert.deepEqual(some.categories, { games: 3, models: 0 });
    assert.match(some.detail, /3 file\(s\), 12288 byte\(s\) \(games 3, models 0\)/);
    const off = triggerOf({ status: 'unavailable', error: 'SyncCoordinator not available: boom' });
    assert.equal(off.synced, false);
    assert.match(off.detail, /unavailable: SyncCoordinator not available: boom/);
  });

  test('import_orphaned_databases.py --json: its last line; none: undefined (the caller falls back to the text)', () => {
    const out = 'INFO scanning\n{"databases_found": 3, "databases_imported": 2, "games_registered": 35, "errors": [], "dry_run": false}\n';
    assert.deepEqual(importResultOf(out), { imported: 2, games: 35 });
    assert.equal(importResultOf('Databases imported: 2\n'), undefined);
    assert.equal(importResultOf('{not json\n'), undefined);
  });
});

describe('the critical hosts from the P2P peers', () => {
  const now = 1_765_000_000;
  test('retired, not alive, stale or missing heartbeat name a host; fresh peers do not', () => {
    const peers = {
      'tc-node2': { is_alive: true, retired: false, last_heartbeat: now - 5 },
      'tc-node3': { is_alive: true, retired: false, last_heartbeat: now - 900 },
      'tc-node4': { is_alive: false, retired: true, last_heartbeat: now - 4000 },
      'tc-node5': { is_alive: false, retired: false, last_heartbeat: 0 },
    };
    const c = criticalPeers(peers, now, 300);
    assert.deepEqual(c.map((h) => [h.host, h.why]), [
      ['tc-node3', ['last heartbeat 900 s ago']],
      ['tc-node4', ['retired', 'not alive', 'last heartbeat 4000 s ago']],
      ['tc-node5', ['not alive', 'no heartbeat']],
    ]);
    assert.equal(c[0]!.lastHeartbeat, new Date((now - 900) * 1000).toISOString());
    assert.equal(c[0]!.fresh, false);
  });

  test('the operator\'s host is always listed: fresh, or not among the peers', () => {
    const peers = { 'tc-node5': { is_alive: true, retired: false, last_heartbeat: now - 2 } };
    assert.deepEqual(criticalPeers(peers, now, 300, 'tc-node5').map((h) => [h.host, h.fresh, h.why]), [['tc-node5', true, ['named by the operator']]]);
    assert.deepEqual(criticalPeers({}, now, 300, 'tc-node9').map((h) => [h.host, h.fresh, h.why]), [['tc-node9', false, ['not among the peers']]]);
  });
});

describe('settings.aiServiceUrl', () => {
  const ctx = (value: string) =>
    ({
      setting: (_c: unknown, key: string) => (key === 'aiServiceUrl' ? value : ''),
      missing: (_r: unknown, what: string, example: string) => new Error(`missing ${what}: ${example}`),
    }) as unknown as TrainingClusterContext;
  const ref = { cluster: 'lab-training', node: 'tc-node1' };
  test('a base URL is joined with the route', () => {
    assert.equal(appUrl(ctx('http://10.0.0.1:8001'), ref, {} as never, '/admin/sync/trigger'), 'http://10.0.0.1:8001/admin/sync/trigger');
  });
  test('missing, not http(s), or carrying a query or credentials: refused naming the setting and the fix', () => {
    assert.throws(() => appUrl(ctx(''), ref, {} as never, '/metrics'), /settings\.aiServiceUrl.*aiServiceUrl: "http:\/\/coordinator:8001"/);
    for (const bad of ['coordinator:8001', 'ftp://x:8001', 'http://x:8001/?key=1', 'http://admin:secret@x:8001', 'not a url']) {
      assert.throws(() => appUrl(ctx(bad), ref, {} as never, '/metrics'), (e: Error) => {
        assert.match(e.message, /settings\.aiServiceUrl of cluster lab-training must be the ai-service app's base URL/);
        assert.match(e.message, /e\.g\. http:\/\/coordinator:8001/);
        assert.ok(!e.message.includes('secret'), 'credentials are not echoed');
        return true;
      });
    }
  });
});
