/**
 * The lab gossip family's cases that must pass on both backends, the
 * simulation (test/integration/lab-gossip.test.ts) and real
 * memberlist-plumtree 0.1.6 nodes in network namespaces
 * (test/conformance/lab-gossip-real.test.ts): the cluster forms, the
 * control API answers as docs/gossip-contract.md says (shapes, statuses,
 * refusals), each fault does what it says, and Lifeboat's own activities,
 * run in Temporal's MockActivityEnvironment over real SSH and HTTP, bring it
 * back, once each. What passes on one and fails on the other is a drift of
 * the simulation.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { CLUSTER, NODES, ref, type GossipLab } from './lab-gossip';

const sorted = (xs: string[]) => [...xs].sort();
const peersOf = async (l: GossipLab, node: string) => (await l.http(node, 'GET', '/debug/peers')).body as { node: string; peers: { eager: string[]; lazy: string[] }; members: string[]; left: boolean };
const members = async (l: GossipLab, node: string) => sorted((await peersOf(l, node)).members);
const metrics = async (l: GossipLab, node: string): Promise<Record<string, number>> => {
  const r = await l.http(node, 'GET', '/metrics');
  assert.equal(r.status, 200);
  const out: Record<string, number> = {};
  for (const line of r.text.split('\n')) {
    const m = /^(plumtree_[a-z_]+)(\{[^}]*\})? ([-0-9.eE+]+)$/.exec(line);
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[3]);
  }
  return out;
};
const rootHashes = async (l: GossipLab) => Promise.all(NODES.map(async (n) => ((await l.http(n, 'GET', '/debug/sync')).body as { rootHash: string }).rootHash));
const storeDir = (l: GossipLab, node: string) => join(l.lab.host(CLUSTER, node).root, 'var/lib/plumtree/data/cache');

/** Formed: the inventory, every node's view, the library's health and metric names, anti-entropy on one state. */
export async function formed(l: GossipLab): Promise<void> {
  assert.deepEqual(l.nodes.map((n) => n.name), NODES);
  assert.deepEqual(l.nodes.map((n) => n.roles[0]), ['seed', 'seed', 'member', 'member', 'member']);
  assert.equal(l.settings.serviceName, 'plumtree');
  assert.equal(l.settings.dataDir, 'var/lib/plumtree/data');
  assert.equal(l.settings.cacheDir, 'var/lib/plumtree/data/cache');
  const seeds = String(l.settings.seeds).split(',');
  assert.equal(seeds.length, 2);
  assert.ok(seeds.every((s) => /^(\d+\.){3}\d+:\d+$/.test(s)), `seeds are memberlist addresses (ip:port): ${seeds.join(',')}`);
  assert.deepEqual(l.lab.faults, ['gossip.isolated-node', 'gossip.partition', 'gossip.multi-node-failure', 'gossip.total-loss', 'gossip.cache-corruption', 'gossip.split-brain']);
  assert.equal(await l.healthy(), true);
  for (const n of NODES) {
    const p = await peersOf(l, n);
    assert.equal(p.node, n);
    assert.deepEqual(sorted(p.members), NODES);
    assert.deepEqual([p.peers.eager.length, p.peers.lazy.length], [3, 1], `${n}: eager fanout 3 of 4 peers`);
    assert.equal(p.left, false);
  }
  const h = await l.http('gossip1', 'GET', '/health');
  assert.equal(h.status, 200);
  assert.deepEqual([h.body.status, h.body.message, h.body.peers.total, h.body.peers.targetEager], ['healthy', 'Operating normally', 4, 3]);
  const m = await metrics(l, 'gossip2');
  assert.deepEqual([m.plumtree_eager_peers, m.plumtree_lazy_peers, m.plumtree_peer_count], [3, 1, 4]);
  for (const absent of ['plumtree_total_peers', 'plumtree_messages_partitioned_total', 'plumtree_malformed_messages_total', 'plumtree_sync_pending']) assert.equal(m[absent], undefined, `${absent} is not a metric of memberlist-plumtree 0.1.6`);
  const y = await l.http('gossip3', 'GET', '/debug/sync');
  assert.equal(y.body.enabled, true);
  assert.match(y.body.rootHash, /^[0-9a-f]{64}$/);
  assert.equal(new Set(await rootHashes(l)).size, 1, 'one state');
  const c = await l.http('gossip4', 'GET', '/debug/cache');
  assert.deepEqual(Object.keys(c.body).sort(), ['capacity', 'entries', 'ttlSeconds']);
  // Lifeboat's reads of the same.
  const ap = await l.run(l.a.gossipPeers, ref('gossip1'));
  assert.deepEqual([ap.reachable, ap.eager.length, ap.lazy.length, ap.left], [true, 3, 1, false]);
  const ah = await l.run(l.a.gossipHealth, ref('gossip5'));
  assert.deepEqual([ah.status, ah.eager, ah.lazy], ['healthy', 3, 1]);
  const as = await l.run(l.a.gossipSync, ref('gossip5'));
  assert.equal(as.enabled, true);
  const am = await l.run(l.a.gossipMetrics, ref('gossip5'));
  assert.equal(am.values.plumtree_peer_count, 4);
  const st = await l.run(l.a.gossipServiceState, ref('gossip5'));
  assert.deepEqual([st.sshReachable, st.active, st.state], [true, true, 'active']);
  const tcp = await l.run(l.a.gossipSeedCheck, ref('gossip4'));
  assert.deepEqual(tcp.seeds.map((s) => [s.seed, s.open]), seeds.map((s) => [s, true]), inspect(tcp));
}

/** The contract's refusals: the token, bodies, what the library lacks, unknown routes; nothing done by any of them. */
export async function refusals(l: GossipLab): Promise<void> {
  const from = l.effectCount();
  for (const path of ['/admin/leave', '/admin/join', '/admin/rebalance', '/admin/cache/clear', '/admin/sync/enable']) {
    const none = await l.http('gossip3', 'POST', path, {}, null);
    assert.equal(none.status, 401, `${path} without a token`);
    assert.match(none.body.error, /Bearer/);
    assert.equal((await l.http('gossip3', 'POST', path, {}, 'x'.repeat(48))).status, 401, `${path} with a wrong token`);
  }
  for (const [body, needle] of [
    ['{}', /must be JSON/],
    ['{"seeds": []}', /seeds is empty/],
    ['{"seeds": ["seed1.example.com:7946"]}', /is not ip:port/],
  ] as const) {
    const r = await l.http('gossip3', 'POST', '/admin/join', body);
    assert.equal(r.status, 400, body);
    assert.match(r.body.error, needle);
  }
  assert.equal((await l.http('gossip3', 'POST', '/admin/leave', { timeoutMs: 0 })).status, 400);
  const cc = await l.http('gossip3', 'POST', '/admin/cache/clear');
  assert.equal(cc.status, 501);
  assert.match(cc.body.error, /no clear_cache\(\).*restart/);
  const se = await l.http('gossip3', 'POST', '/admin/sync/enable');
  assert.equal(se.status, 501);
  assert.match(se.body.error, /with_sync/);
  const nf = await l.http('gossip3', 'GET', '/debug/nothing');
  assert.equal(nf.status, 404);
  assert.match(nf.body.error, /\/debug\/peers/);
  assert.deepEqual(l.effectsSince(from), [], 'no refusal did anything');
  assert.equal(await l.healthy(), true);

  // The host's refuse-api fault (a rotated token): reads answer, admin calls are refused as AuthFailed naming the reference.
  // A real node reads its token once at start, so the lab cannot rotate it under it: on real nodes the
  // wrong token below is what proves the refusal.
  await l.lab.break(`host.refuse-api:${CLUSTER}/gossip2`);
  try {
    assert.equal((await l.http('gossip2', 'GET', '/debug/peers')).status, 200);
    if (l.backend === 'sim') {
      const err = await l.failure(l.run(l.a.gossipRebalance, ref('gossip2')));
      assert.equal(err.type, 'AuthFailed');
    }
  } finally {
    await l.lab.break(`host.heal:${CLUSTER}/gossip2`);
  }
  // A token that is not the node's: the reference is named, the value never.
  const good = readFileSync(l.tokenFile, 'utf8');
  try {
    writeFileSync(l.tokenFile, 'not-the-token-of-this-cluster\n');
    const err = await l.failure(l.run(l.a.gossipRebalance, ref('gossip1')));
    assert.equal(err.type, 'AuthFailed');
    assert.match(err.message, /file:/);
  } finally {
    writeFileSync(l.tokenFile, good);
  }
  const key = readFileSync(join(l.lab.dir, 'keys', 'id_ed25519'), 'utf8').split('\n').filter((x) => x.length > 16 && !x.startsWith('-----'));
  for (const o of l.outbound) {
    assert.ok(!o.includes(l.token), 'the API token left an activity');
    for (const k of key) assert.ok(!o.includes(k), 'the SSH key left an activity');
  }
}

/** A leave is final for the process: the others drop the node, a join is refused (NodeLeft), a restart brings it back. */
export async function leaveIsFinal(l: GossipLab): Promise<void> {
  const from = l.effectCount();
  const dry = await l.run(l.a.gossipLeave, { ...ref('gossip4'), dryRun: true });
  assert.match(dry.plan, /curl -X POST http:\/\/127\.0\.0\.1:\d+\/admin\/leave -H "Authorization: Bearer \$GOSSIP_ADMIN_TOKEN"/);
  assert.deepEqual(l.effectsSince(from), []);
  const left = await l.run(l.a.gossipLeave, ref('gossip4'));
  assert.notEqual(left.alreadyDone, true);
  const again = await l.http('gossip4', 'POST', '/admin/leave');
  assert.deepEqual([again.status, again.body.alreadyLeft], [200, true]);
  await waitUntil(l, 'the others dropping gossip4', async () => (await members(l, 'gossip1')).join() === 'gossip1,gossip2,gossip3,gossip5');
  assert.equal((await peersOf(l, 'gossip4')).left, true);
  const err = await l.failure(l.run(l.a.gossipJoin, ref('gossip4')));
  assert.equal(err.type, 'NodeLeft');
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, /restart plumtree on gossip4/);
  await l.run(l.a.gossipService, { ...ref('gossip4'), action: 'restart' as const });
  await l.untilHealthy();
  assert.deepEqual(l.effectsSince(from), ['gossip.leave:gossip4', 'gossip.stop:gossip4', 'gossip.start:gossip4']);
}

/** The service: stop/start check first, restart once per step, clearing a directory refused while the node runs. */
export async function service(l: GossipLab): Promise<void> {
  const from = l.effectCount();
  await l.run(l.a.gossipService, { ...ref('gossip1'), action: 'stop' as const });
  assert.equal((await l.run(l.a.gossipService, { ...ref('gossip1'), action: 'stop' as const })).alreadyDone, true);
  const p = await l.run(l.a.gossipPeers, ref('gossip1'));
  assert.equal(p.reachable, false, 'a stopped node is a finding, not a failure');
  const tcp = await l.run(l.a.gossipSeedCheck, ref('gossip3'));
  assert.deepEqual(tcp.seeds.map((s) => s.open), [false, true], `a stopped seed is reported closed: ${inspect(tcp)}`);
  await l.run(l.a.gossipService, { ...ref('gossip1'), action: 'start' as const });
  assert.equal((await l.run(l.a.gossipService, { ...ref('gossip1'), action: 'start' as const })).alreadyDone, true);
  const first = await l.run(l.a.gossipService, { ...ref('gossip5'), action: 'restart' as const }, 'restart-step-1');
  assert.notEqual(first.alreadyDone, true);
  const retry = await l.run(l.a.gossipService, { ...ref('gossip5'), action: 'restart' as const }, 'restart-step-1');
  assert.equal(retry.alreadyDone, true, 'a retried attempt of the same step does not restart again');
  const refused = await l.failure(l.run(l.a.gossipClearDir, { ...ref('gossip3'), dir: 'cache' as const }));
  assert.equal(refused.type, 'FailedPrecondition');
  assert.match(refused.message, /still runs on gossip3.*stop it first/);
  await l.untilHealthy();
  assert.deepEqual(l.effectsSince(from), ['gossip.stop:gossip1', 'gossip.start:gossip1', 'gossip.stop:gossip5', 'gossip.start:gossip5']);
}

async function waitUntil(l: GossipLab, what: string, pred: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) assert.fail(`${what}: not within ${timeoutMs / 1000} s; ${JSON.stringify((await l.lab.health())[0])}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** gossip.isolated-node: alone after the link came back; the seeds answer from it; Lifeboat's join brings it back, once. */
export async function isolatedNode(l: GossipLab): Promise<void> {
  await l.lab.break('gossip.isolated-node');
  const from = l.effectCount();
  assert.deepEqual(await members(l, 'gossip3'), ['gossip3']);
  for (const n of NODES.filter((x) => x !== 'gossip3')) assert.ok(!(await members(l, n)).includes('gossip3'), `${n} dropped gossip3`);
  const h = await l.run(l.a.gossipHealth, ref('gossip3'));
  assert.deepEqual([h.status, h.message], ['unhealthy', 'No peers connected']);
  assert.equal((await l.http('gossip3', 'GET', '/health')).status, 503);
  const tcp = await l.run(l.a.gossipSeedCheck, ref('gossip3'));
  assert.ok(tcp.seeds.every((s) => s.open), `the link is back: ${inspect(tcp)}`);
  // Still alone a while later: memberlist does not merge back by itself.
  await new Promise((r) => setTimeout(r, 3000));
  assert.deepEqual(await members(l, 'gossip3'), ['gossip3']);
  const dry = await l.run(l.a.gossipJoin, { ...ref('gossip3'), dryRun: true });
  assert.match(dry.plan, /\/admin\/join -H .* -d '\{"seeds":\["(\d+\.){3}\d+:\d+","(\d+\.){3}\d+:\d+"\]\}'/);
  const joined = await l.run(l.a.gossipJoin, ref('gossip3'));
  assert.notEqual(joined.alreadyDone, true);
  await l.untilHealthy();
  assert.equal((await l.run(l.a.gossipJoin, ref('gossip3'))).alreadyDone, true);
  assert.deepEqual(l.effectsSince(from), ['gossip.join:gossip3']);
}

/**
 * The other side joins through the seeds, as Lifeboat's recoveries do: every
 * node of it, not only the first. A real node can panic in the join
 * (memberlist-core 0.7.0, docs/gossip.md) and its unit restarts it: it then
 * forgets its side, and a partner it does not bring along would stay out.
 * The join of a node that restarted under it is tried once more, as the
 * activity's retry policy would.
 */
async function joinOtherSide(l: GossipLab): Promise<void> {
  for (const n of ['gossip4', 'gossip5']) {
    try {
      await l.run(l.a.gossipJoin, ref(n));
    } catch {
      await new Promise((r) => setTimeout(r, 2000));
      await l.run(l.a.gossipJoin, ref(n));
    }
  }
}

/** Joins went to the other side only; the first at least (the second may find the sides merged already). */
function assertJoinsOfTheOtherSide(e: string[]): void {
  const joins = e.filter((x) => x.startsWith('gossip.join:'));
  assert.ok(joins.includes('gossip.join:gossip4') && joins.every((j) => j === 'gossip.join:gossip4' || j === 'gossip.join:gossip5'), `joins: ${joins.join(', ')}`);
}

/** gossip.partition: two components after the network came back; a join from the other side and rebalances make one. */
export async function partition(l: GossipLab): Promise<void> {
  await l.lab.break('gossip.partition');
  const from = l.effectCount();
  assert.deepEqual(await members(l, 'gossip1'), ['gossip1', 'gossip2', 'gossip3']);
  assert.deepEqual(await members(l, 'gossip5'), ['gossip4', 'gossip5']);
  const m = await metrics(l, 'gossip4');
  assert.equal(m.plumtree_peer_count, 1, 'the symptom the runbook names: a smaller peer list');
  await new Promise((r) => setTimeout(r, 3000));
  assert.deepEqual(await members(l, 'gossip5'), ['gossip4', 'gossip5'], 'still apart: no automatic merge past the dead time');
  await joinOtherSide(l);
  await waitUntil(l, 'one component', async () => (await Promise.all(NODES.map((n) => members(l, n)))).every((ms) => ms.length === 5));
  for (const n of NODES) await l.run(l.a.gossipRebalance, ref(n));
  await l.untilHealthy();
  const e = l.effectsSince(from);
  assertJoinsOfTheOtherSide(e);
  assert.deepEqual(e.filter((x) => !x.startsWith('gossip.join:')), NODES.map((n) => `gossip.rebalance:${n}`));
}

/** gossip.split-brain: each side holds its own message; once the other side joins, anti-entropy gives every node both. */
export async function splitBrain(l: GossipLab): Promise<void> {
  await l.lab.break('gossip.split-brain');
  const hashes = await rootHashes(l);
  assert.equal(new Set(hashes).size, 2, 'two states');
  assert.equal(hashes[0], hashes[2]);
  assert.equal(hashes[3], hashes[4]);
  const msgs = async (n: string) => ((await l.http(n, 'GET', '/app/messages')).body as { messages: string[] }).messages;
  assert.ok((await msgs('gossip1')).some((m) => m.startsWith('side-a-')) && !(await msgs('gossip1')).some((m) => m.startsWith('side-b-')));
  assert.ok((await msgs('gossip5')).some((m) => m.startsWith('side-b-')) && !(await msgs('gossip5')).some((m) => m.startsWith('side-a-')));
  await joinOtherSide(l);
  await waitUntil(l, 'one root hash', async () => new Set(await rootHashes(l)).size === 1);
  for (const n of NODES) {
    const m = await msgs(n);
    assert.ok(m.some((x) => x.startsWith('side-a-')) && m.some((x) => x.startsWith('side-b-')), `${n} holds both sides: ${m.join(', ')}`);
  }
  await l.untilHealthy();
}

/** gossip.multi-node-failure: two nodes killed, their units failed; started again, they join by themselves. */
export async function multiNodeFailure(l: GossipLab): Promise<void> {
  await l.lab.break('gossip.multi-node-failure');
  const from = l.effectCount();
  for (const n of ['gossip4', 'gossip5']) {
    const st = await l.run(l.a.gossipServiceState, ref(n));
    assert.deepEqual([st.active, st.state], [false, 'failed'], `${n} crashed`);
    assert.equal((await l.run(l.a.gossipPeers, ref(n))).reachable, false);
  }
  assert.deepEqual(await members(l, 'gossip1'), ['gossip1', 'gossip2', 'gossip3']);
  for (const n of ['gossip4', 'gossip5']) await l.run(l.a.gossipService, { ...ref(n), action: 'start' as const });
  await l.untilHealthy();
  assert.deepEqual(l.effectsSince(from), ['gossip.start:gossip4', 'gossip.start:gossip5']);
}

/** gossip.cache-corruption: gossip3 crashed on a damaged store and cannot start; stop, clear the cache directory, start. */
export async function cacheCorruption(l: GossipLab): Promise<void> {
  await l.lab.break('gossip.cache-corruption');
  const from = l.effectCount();
  const st = await l.run(l.a.gossipServiceState, ref('gossip3'));
  assert.deepEqual([st.active, st.state], [false, 'failed']);
  const err = await l.failure(l.run(l.a.gossipService, { ...ref('gossip3'), action: 'restart' as const }));
  assert.match(err.message, /corrupted/, 'the unit says why it cannot start');
  const dry = await l.run(l.a.gossipClearDir, { ...ref('gossip3'), dir: 'cache' as const, dryRun: true });
  assert.match(dry.plan, /rm -rf var\/lib\/plumtree\/data\/cache\/\* \('find' 'var\/lib\/plumtree\/data\/cache' '-mindepth' '1' '-delete'\)/);
  assert.ok(readdirSync(storeDir(l, 'gossip3')).length > 0);
  assert.equal((await l.run(l.a.gossipService, { ...ref('gossip3'), action: 'stop' as const })).alreadyDone, true);
  await l.run(l.a.gossipClearDir, { ...ref('gossip3'), dir: 'cache' as const });
  assert.deepEqual(readdirSync(storeDir(l, 'gossip3')), []);
  assert.equal((await l.run(l.a.gossipClearDir, { ...ref('gossip3'), dir: 'cache' as const })).alreadyDone, true);
  await l.run(l.a.gossipService, { ...ref('gossip3'), action: 'start' as const });
  await l.untilHealthy();
  assert.deepEqual(l.effectsSince(from), ['gossip.start:gossip3']);
}

/** gossip.total-loss: every node killed, no store opens; clearing each data directory lets them start and form again. */
export async function totalLoss(l: GossipLab): Promise<void> {
  await l.lab.break('gossip.total-loss');
  const err = await l.failure(l.run(l.a.gossipService, { ...ref('gossip1'), action: 'start' as const }));
  assert.match(err.message, /corrupted/);
  for (const n of NODES) {
    assert.equal((await l.run(l.a.gossipService, { ...ref(n), action: 'stop' as const })).alreadyDone, true);
    await l.run(l.a.gossipClearDir, { ...ref(n), dir: 'data' as const });
    assert.ok(!existsSync(join(storeDir(l, n), 'conf')));
  }
  for (const n of NODES) await l.run(l.a.gossipService, { ...ref(n), action: 'start' as const });
  await l.untilHealthy();
  assert.equal((await l.run(l.a.gossipMetrics, ref('gossip5'))).values.plumtree_peer_count, 4);
}
