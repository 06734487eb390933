/**
 * The gossip activities (src/activities/gossip.ts) against the lab's gossip
 * family: real HTTP to each node's debug/admin API with the cluster token,
 * real SSH to the lab hosts (shimmed systemctl, real bash /dev/tcp probes,
 * real files), inside Temporal's MockActivityEnvironment. Each effect is read
 * back from the lab's effect log: exactly once per transition, `alreadyDone`
 * on a repeat, nothing on a dry run. Nothing that leaves an activity carries
 * the API token or the SSH key.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parse as parseYaml } from 'yaml';
import { createActivities, type ActivitySet } from '../../src/activities';
import { startLab, type Lab } from '../../lab/index';

const CLUSTER = 'lab-gossip';
const NODES = ['gossip1', 'gossip2', 'gossip3', 'gossip4', 'gossip5'];
const T = { timeout: 60_000 };
const ref = (node: string) => ({ cluster: CLUSTER, node });

const outbound: string[] = [];
let nextId = 0;
async function run<I, O>(fn: (input: I) => Promise<O>, input: I, activityId = `act-${++nextId}`): Promise<O> {
  const env = new MockActivityEnvironment({ activityId, workflowExecution: { workflowId: 'wf-gossip-activities', runId: 'run-1' } });
  env.on('heartbeat', (d: unknown) => outbound.push(inspect(d, { depth: 8 })));
  try {
    const out = (await env.run(fn, input)) as O;
    outbound.push(inspect(out, { depth: 8 }));
    return out;
  } catch (err) {
    outbound.push(inspect(err, { depth: 8 }));
    throw err;
  }
}

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${inspect(err)}`);
  return err;
}

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-gossip-activities-'));
let lab: Lab;
let acts: ActivitySet;
let a: ActivitySet['activities'];
const count = (effect: string, node?: string) => lab.effects.count({ cluster: CLUSTER, effect, ...(node ? { node } : {}) });
const healthy = async () => (await lab.health()).find((c) => c.cluster === CLUSTER)!.healthy;

before(async () => {
  lab = await startLab({ dir, families: ['gossip'], bootMs: 300 });
  acts = createActivities({ inventoryPath: lab.inventoryPath });
  a = acts.activities;
});
after(async () => {
  await acts?.close();
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('gossip activities on the lab cluster', () => {
  test('reads: peers, metrics, malformed counter, seed TCP check and service state on a healthy cluster', T, async () => {
    const p = await run(a.gossipPeers, ref('gossip1'));
    assert.equal(p.reachable, true);
    assert.equal(p.eager.length, 3);
    assert.equal(p.lazy.length, 1);
    assert.deepEqual([...p.members].sort(), NODES);
    const m = await run(a.gossipMetrics, ref('gossip2'));
    assert.equal(m.values.plumtree_total_peers, 4);
    assert.equal(m.values.plumtree_sync_converged, 1);
    const mal = await run(a.gossipMalformed, ref('gossip3'));
    assert.equal(mal.rising, false);
    assert.equal(mal.healthy, true);
    const tcp = await run(a.gossipSeedCheck, ref('gossip4'));
    assert.equal(tcp.sshReachable, true);
    assert.equal(tcp.seeds.length, 2);
    assert.ok(tcp.seeds.every((s) => s.open), inspect(tcp));
    const st = await run(a.gossipServiceState, ref('gossip5'));
    assert.deepEqual([st.sshReachable, st.active, st.state], [true, true, 'active']);
  });

  test('seed TCP check: a stopped seed is reported closed, not as a failure', T, async () => {
    await run(a.gossipService, { ...ref('gossip1'), action: 'stop' as const });
    const tcp = await run(a.gossipSeedCheck, ref('gossip3'));
    assert.equal(tcp.seeds[0]!.open, false, inspect(tcp));
    assert.equal(tcp.seeds[1]!.open, true);
    const peers = await run(a.gossipPeers, ref('gossip1'));
    assert.equal(peers.reachable, false, 'a stopped node is a finding, not a failure');
    const again = await run(a.gossipService, { ...ref('gossip1'), action: 'stop' as const });
    assert.equal(again.alreadyDone, true);
    await run(a.gossipService, { ...ref('gossip1'), action: 'start' as const });
    assert.equal((await run(a.gossipService, { ...ref('gossip1'), action: 'start' as const })).alreadyDone, true);
    assert.equal(count('gossip.stop', 'gossip1'), 1);
    assert.equal(count('gossip.start', 'gossip1'), 1);
    assert.equal(await healthy(), true);
  });

  test('isolated node: dry run plans, leave then join heal it, repeats are alreadyDone', T, async () => {
    await lab.break('gossip.isolated-node');
    const dry = await run(a.gossipLeave, { ...ref('gossip3'), dryRun: true });
    assert.match(dry.plan, /curl -X POST http:\/\/127\.0\.0\.1:\d+\/admin\/leave -H "Authorization: Bearer \$GOSSIP_ADMIN_TOKEN"/);
    const dryJoin = await run(a.gossipJoin, { ...ref('gossip3'), dryRun: true });
    assert.match(dryJoin.plan, /\/admin\/join -H .* -d '\{"seeds":\["127\.0\.0\.1:\d+","127\.0\.0\.1:\d+"\]\}'/);
    assert.equal(count('gossip.leave'), 0);
    assert.equal((await run(a.gossipPeers, ref('gossip3'))).eager.length, 0);
    const left = await run(a.gossipLeave, ref('gossip3'));
    assert.notEqual(left.alreadyDone, true);
    assert.equal((await run(a.gossipLeave, ref('gossip3'))).alreadyDone, true);
    const joined = await run(a.gossipJoin, ref('gossip3'));
    assert.equal(joined.eager, 3);
    assert.equal((await run(a.gossipJoin, ref('gossip3'))).alreadyDone, true);
    assert.equal(count('gossip.leave', 'gossip3'), 1);
    assert.equal(count('gossip.join', 'gossip3'), 1);
    assert.equal(await healthy(), true);
  });

  test('join fails as JoinFailed (non-retryable, says what to do) when no seed takes the node', T, async () => {
    await run(a.gossipService, { ...ref('gossip1'), action: 'stop' as const });
    await run(a.gossipService, { ...ref('gossip2'), action: 'stop' as const });
    await run(a.gossipLeave, ref('gossip4'));
    const err = await failure(run(a.gossipJoin, ref('gossip4')));
    assert.equal(err.type, 'JoinFailed');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /could not join through .*no seed reachable.*restart plumtree/);
    assert.doesNotMatch(err.message, /will be retried/);
    for (const n of ['gossip1', 'gossip2']) await run(a.gossipService, { ...ref(n), action: 'start' as const });
    await run(a.gossipJoin, ref('gossip4'));
    assert.equal(await healthy(), true);
  });

  test('restart runs once per step: a retried attempt of the same activity does not restart again', T, async () => {
    const before = count('gossip.start', 'gossip5');
    const first = await run(a.gossipService, { ...ref('gossip5'), action: 'restart' as const }, 'restart-step-1');
    assert.notEqual(first.alreadyDone, true);
    const retry = await run(a.gossipService, { ...ref('gossip5'), action: 'restart' as const }, 'restart-step-1');
    assert.equal(retry.alreadyDone, true);
    assert.equal(count('gossip.start', 'gossip5'), before + 1);
    assert.equal(await healthy(), true);
  });

  test('partition: rebalance on every node heals it; a repeat is alreadyDone', T, async () => {
    await lab.break('gossip.partition');
    for (const n of NODES) await run(a.gossipRebalance, ref(n));
    assert.equal(count('gossip.rebalance'), 5);
    assert.equal((await run(a.gossipRebalance, ref('gossip1'))).alreadyDone, true);
    assert.equal(await healthy(), true);
  });

  test('cache corruption: the counter is seen rising; the API clear heals it', T, async () => {
    await lab.break('gossip.cache-corruption');
    const mal = await run(a.gossipMalformed, ref('gossip3'));
    assert.equal(mal.rising, true, inspect(mal));
    assert.equal(mal.healthy, false);
    await run(a.gossipClearCache, ref('gossip3'));
    assert.equal(count('gossip.cache-clear', 'gossip3'), 1);
    assert.equal((await run(a.gossipMalformed, ref('gossip3'))).rising, false);
  });

  test('clear cache directory: refused while plumtree runs; stop, clear (then alreadyDone), start', T, async () => {
    await lab.break('gossip.cache-corruption');
    const refused = await failure(run(a.gossipClearDir, { ...ref('gossip3'), dir: 'cache' as const }));
    assert.equal(refused.type, 'FailedPrecondition');
    assert.match(refused.message, /still runs on gossip3.*stop it first/);
    const dry = await run(a.gossipClearDir, { ...ref('gossip3'), dir: 'cache' as const, dryRun: true });
    assert.match(dry.plan, /rm -rf var\/lib\/plumtree\/data\/cache\/\* \('find' 'var\/lib\/plumtree\/data\/cache' '-mindepth' '1' '-delete'\)/);
    await run(a.gossipService, { ...ref('gossip3'), action: 'stop' as const });
    await run(a.gossipClearDir, { ...ref('gossip3'), dir: 'cache' as const });
    assert.equal(existsSync(join(lab.host(CLUSTER, 'gossip3').root, 'var/lib/plumtree/data/cache/cache.db')), false);
    assert.ok(existsSync(join(lab.host(CLUSTER, 'gossip3').root, 'var/lib/plumtree/data/state.db')), 'only the cache is cleared');
    assert.equal((await run(a.gossipClearDir, { ...ref('gossip3'), dir: 'cache' as const })).alreadyDone, true);
    await run(a.gossipService, { ...ref('gossip3'), action: 'start' as const });
    assert.equal(await healthy(), true);
  });

  test('split brain: sync enabled on every node converges the state; a repeat is alreadyDone', T, async () => {
    await lab.break('gossip.split-brain');
    const m = await run(a.gossipMetrics, ref('gossip1'));
    assert.equal(m.values.plumtree_sync_pending, 1);
    for (const n of NODES) assert.equal((await run(a.gossipEnableSync, ref(n))).supported, true);
    assert.equal((await run(a.gossipEnableSync, ref('gossip1'))).alreadyDone, true);
    assert.equal(count('gossip.sync-enable'), 5);
    assert.equal((await run(a.gossipMetrics, ref('gossip5'))).values.plumtree_sync_converged, 1);
    assert.equal(await healthy(), true);
  });

  test('total loss: start fails with the reason; clearing the data dir lets every node start', T, async () => {
    await lab.break('gossip.total-loss');
    const err = await failure(run(a.gossipService, { ...ref('gossip1'), action: 'start' as const }));
    assert.equal(err.type, 'CommandFailed');
    assert.match(err.message, /corrupted/);
    for (const n of NODES) {
      assert.equal((await run(a.gossipService, { ...ref(n), action: 'stop' as const })).alreadyDone, true);
      await run(a.gossipClearDir, { ...ref(n), dir: 'data' as const });
    }
    for (const n of NODES) await run(a.gossipService, { ...ref(n), action: 'start' as const });
    assert.equal(await healthy(), true);
    assert.equal((await run(a.gossipMetrics, ref('gossip5'))).values.plumtree_total_peers, 4);
  });

  test('a wrong token is refused as AuthFailed, naming the reference, never the value', T, async () => {
    const inv = readFileSync(lab.inventoryPath, 'utf8');
    const tokenFile = (parseYaml(inv) as { clusters: Record<string, { nodes: Array<{ http: { authToken: string } }> }> }).clusters[CLUSTER]!.nodes[0]!.http.authToken.replace(/^file:/, '');
    const token = readFileSync(tokenFile, 'utf8');
    try {
      writeFileSync(tokenFile, 'not-the-token\n');
      const err = await failure(run(a.gossipClearCache, ref('gossip2')));
      assert.equal(err.type, 'AuthFailed');
      assert.match(err.message, /file:/);
    } finally {
      writeFileSync(tokenFile, token);
    }
    const secret = token.trim();
    const key = readFileSync(join(lab.dir, 'keys', 'id_ed25519'), 'utf8').split('\n').filter((l) => l.length > 16 && !l.startsWith('-----'));
    for (const o of outbound) {
      assert.ok(!o.includes(secret), 'the API token left an activity');
      for (const l of key) assert.ok(!o.includes(l), 'the SSH key left an activity');
    }
  });
});
