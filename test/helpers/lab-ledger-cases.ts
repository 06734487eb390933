/**
 * The lab ledger's cases that must pass on both backends, the simulation
 * (test/integration/lab-ledger.test.ts) and real inferadb-ledger processes
 * (test/conformance/lab-ledger-real.test.ts): the cluster forms and is
 * seeded, the API answers as the real server does (leaders, refusals,
 * idempotency, fixed answers), each fault does what it says, and Lifeboat's
 * own recovery procedure, run with its activities, brings the cluster back.
 * What passes on one and fails on the other is a drift of the simulation.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPLICATION_LAG_MS, seedValue } from '../../lab/ledger';
import { checklist, formFromExport, leaderOf, readStates, rejoinEmpty } from './lab-ledger-flows';
import { assertSeedOn, breakTimed, callLeader, DR, DR_NODES, nodeIds, nodeView, NODES, PRIMARY, SEED, VAULT, vaultLeaderId, vaultMsg, waitFor, type LedgerCallError, type LedgerLab } from './lab-ledger';

type Json = any;

/**
 * `recover: false` ends a fault's case once the fault is proven, before Lifeboat's procedure: the
 * conformance suite runs the real scenarios' workflows on the real server (test/conformance/ledger-scenarios.test.ts),
 * so the procedure run through the activities here is only the simulation's check.
 */
export interface CaseOptions {
  recover?: boolean;
}

const s3File = (l: LedgerLab, bucket: string) => join(l.dir, 's3', bucket, 'latest', 'ledger-export.jsonl');
const killed = (l: LedgerLab, from: number, cluster = PRIMARY) =>
  l
    .effectsSince(from, cluster)
    .filter((e) => e.endsWith(' fault.kill'))
    .map((e) => e.split(' ')[0]!);

/** Who leads: the GLOBAL leader's and the vault leader's inventory node names. */
async function roles(l: LedgerLab): Promise<{ global: string; vault: string; ids: Map<string, string> }> {
  const ids = await nodeIds(l);
  const name = (id: string) => [...ids].find(([, v]) => v === id)?.[0];
  const views = await Promise.all(NODES.map((n) => nodeView(l.addr(n), '')));
  const global = name(views.find((v) => v)!.leaderId);
  const vault = name(await vaultLeaderId(l));
  assert.ok(global && vault, `leaders are lab nodes (global ${global}, vault ${vault})`);
  return { global, vault, ids };
}

/** Formed and seeded; identities on disk; reads on every node; the API's refusals and fixed answers as the real server gives them. */
export async function formedAndSeeded(l: LedgerLab): Promise<void> {
  const views = await Promise.all(NODES.map((n) => nodeView(l.addr(n), '')));
  assert.ok(views.every((v) => v), 'every node answers');
  assert.equal(new Set(views.map((v) => v!.clusterId)).size, 1, 'one cluster');
  for (const [i, v] of views.entries()) {
    assert.equal(v!.state, 'running');
    assert.equal(v!.members.length, 3);
    assert.ok(BigInt(v!.nodeId) > 2n ** 53n, `node ids are 64-bit snowflakes: ${v!.nodeId}`);
    assert.equal(readFileSync(join(l.dataDir(NODES[i]!), 'node_id'), 'utf8'), v!.nodeId);
    assert.equal(readFileSync(join(l.dataDir(NODES[i]!), 'cluster_id'), 'utf8'), v!.clusterId);
    const ci = await l.rpc(NODES[i]!, 'AdminService', 'GetClusterInfo');
    assert.equal(ci.members.filter((m: Json) => m.is_leader).length, 1);
    assert.ok(ci.members.every((m: Json) => m.role === 'CLUSTER_MEMBER_ROLE_VOTER'));
    const d = await l.run(l.a.ledgerDataDir, { cluster: PRIMARY, node: NODES[i]! });
    assert.deepEqual([d.present, d.nodeId, d.clusterId, d.serviceActive, d.version], [true, v!.nodeId, v!.clusterId, true, '0.1.0']);
  }
  assert.equal(new Set(views.map((v) => v!.leaderId)).size, 1, 'every node names the same GLOBAL leader');
  const { global, vault } = await roles(l);
  const follower = NODES.find((n) => n !== vault && n !== global) ?? NODES.find((n) => n !== vault)!;
  const globalFollower = NODES.find((n) => n !== global)!;

  for (const n of NODES) {
    await waitFor(l, `the seed on ${n}`, () => assertSeedOn(l, n).then(() => true), 5000, 30_000);
    const r = await l.rpc(n, 'ReadService', 'Read', { ...vaultMsg, key: 'doc:7' });
    assert.deepEqual(Buffer.from(r.value), seedValue(7));
    const h = await l.rpc(n, 'HealthService', 'Check', {});
    assert.equal(h.status, 'HEALTH_STATUS_HEALTHY');
    assert.match(h.details['dep:peer_reachable'], /^ok: 2\/2 peers reachable/);
    const vh = await l.rpc(n, 'HealthService', 'Check', vaultMsg);
    assert.deepEqual([vh.status, vh.details.health_status], ['HEALTH_STATUS_HEALTHY', 'healthy']);
  }
  const ents = await l.rpc(follower, 'ReadService', 'ListEntities', { ...vaultMsg, limit: 1000 });
  assert.ok(ents.entities.some((e: Json) => e.key.startsWith('_audit:vault:0:write:')), 'the server\'s own audit keys are listed');
  const paged = await l.rpc(follower, 'ReadService', 'ListEntities', { ...vaultMsg, limit: 2 });
  assert.equal(paged.entities.length, 2);
  assert.ok(paged.next_page_token, 'a next page token');
  const state = await l.rpc(follower, 'SystemDiscoveryService', 'GetSystemState');
  assert.ok(state.organizations.some((o: Json) => o.slug.slug === SEED.organization && o.status === 'ORGANIZATION_STATUS_ACTIVE'));
  const list = await l.rpc(follower, 'VaultService', 'ListVaults', {});
  assert.deepEqual(list.vaults.map((v: Json) => [v.vault.slug, v.height]), [[SEED.vault, '0']], 'GetVault/ListVaults heights are always 0');
  assert.equal((await l.rpc(follower, 'AdminService', 'ShowVault', vaultMsg)).region, SEED.region);
  assert.equal((await l.rpcError(follower, 'HealthService', 'Check', { organization: vaultMsg.organization, vault: { slug: '42' } })).code, 5);

  // Writes and tips: the vault's leader only; followers answer UNAVAILABLE with the leader's address.
  const ops = (v: string) => [{ set_entity: { key: 'conf:probe', value: Buffer.from(v) } }];
  const key = randomBytes(16);
  const refused = await l.rpcError(follower, 'WriteService', 'Write', { ...vaultMsg, client_id: { id: 't' }, idempotency_key: key, operations: ops('a') });
  assert.equal(refused.code, 14);
  assert.match(refused.details, /Not the leader/);
  assert.equal(refused.leaderEndpoint, l.addr(vault));
  const first = await l.rpc(vault, 'WriteService', 'Write', { ...vaultMsg, client_id: { id: 't' }, idempotency_key: key, operations: ops('a') });
  const height = Number(first.success.block_height);
  assert.ok(height > 5);
  const again = await l.rpc(vault, 'WriteService', 'Write', { ...vaultMsg, client_id: { id: 't' }, idempotency_key: key, operations: ops('a') });
  assert.equal(again.success.block_height, first.success.block_height, 'the same key and content answer the first result');
  const reused = await l.rpc(vault, 'WriteService', 'Write', { ...vaultMsg, client_id: { id: 't' }, idempotency_key: key, operations: ops('b') });
  assert.equal(reused.error?.code, 'WRITE_ERROR_CODE_IDEMPOTENCY_KEY_REUSED');
  const short = await l.rpcError(vault, 'WriteService', 'Write', { ...vaultMsg, idempotency_key: randomBytes(15), operations: ops('c') });
  assert.deepEqual([short.code, /16 bytes/.test(short.details)], [3, true]);
  assert.equal((await l.rpcError(follower, 'ReadService', 'GetTip', vaultMsg)).code, 14);
  assert.equal(Number((await l.rpc(vault, 'ReadService', 'GetTip', vaultMsg)).height), height);
  await waitFor(l, `${follower} to apply the write`, async () => (Number((await l.rpc(follower, 'ReadService', 'VerifiedRead', { ...vaultMsg, key: 'conf:probe' })).block_header.height) >= height ? true : undefined), 3000, 30_000);

  // GLOBAL-leader-only calls, and the answers fixed at 21345c4.
  assert.deepEqual(pick(await l.rpcError(globalFollower, 'AdminService', 'ProvisionRegion', { name: 'eu-west-ie' }, 30_000)), [13, 'raft error']);
  assert.deepEqual(pick(await l.rpcError(globalFollower, 'AdminService', 'TransferLeadership', { target_node_id: '0' })), [9, 'Not the current leader']);
  assert.deepEqual(await l.rpc(globalFollower, 'AdminService', 'LeaveCluster', { node_id: '123' }), { success: false, message: 'Not the leader, cannot process leave request' });
  assert.equal((await l.rpcError(globalFollower, 'AdminService', 'SimulateDivergence', vaultMsg)).code, 13);
  const unknown = await l.rpc(follower, 'AdminService', 'GetDecommissionStatus', { node_id: '123' });
  assert.deepEqual([unknown.status, unknown.global_removed], ['active', true]);
  assert.deepEqual(pick(await l.rpcError(follower, 'AdminService', 'CreateBackup', { organization: vaultMsg.organization })), [9, 'Backup is not configured on this node']);
  assert.deepEqual(pick(await l.rpcError(follower, 'AdminService', 'ListBackups', {})), [9, 'Backup destination directory is not configured on this node']);
  const rv = await l.rpc(follower, 'AdminService', 'RecoverVault', vaultMsg);
  assert.deepEqual([rv.success, rv.message, rv.health_status], [false, 'Vault is already healthy. Use force=true to recover anyway.', 'VAULT_HEALTH_PROTO_HEALTHY']);
  assert.equal((await l.rpc(follower, 'AdminService', 'RecoverVault', { ...vaultMsg, force: true })).message, 'Vault has no blocks to recover');
  assert.deepEqual(await l.rpc(follower, 'AdminService', 'CheckIntegrity', { ...vaultMsg, full_check: true }), { healthy: true, issues: [] });
  const metrics = await (await fetch(l.metricsUrl(follower))).text();
  assert.match(metrics, /^ledger_grpc_requests_total\{service="\w+",method="\w+",status="\w+"\} \d+$/m);
  assert.match(metrics, /^ledger_cluster_quorum_status 1$/m, 'set by the node Health check above');
}

const pick = (e: { code: number; details: string }): [number, string] => [e.code, e.details];

/** ledger.node-failure: one follower is killed; the cluster keeps quorum; Lifeboat's replacement brings it back empty. */
export async function nodeFailure(l: LedgerLab, opts: CaseOptions = {}): Promise<void> {
  const before = await roles(l);
  const from = l.lab.effects.list().length;
  await breakTimed(l, 'ledger.node-failure');
  const [victim, ...more] = killed(l, from);
  assert.ok(victim && more.length === 0, `one node killed: ${killed(l, from).join(', ')}`);
  assert.ok(victim !== before.global && victim !== before.vault, `${victim} leads neither GLOBAL (${before.global}) nor the vault (${before.vault})`);
  assert.equal(await nodeView(l.addr(victim), ''), undefined, `${victim} does not answer`);
  assert.ok(existsSync(join(l.dataDir(victim), 'cluster_id')), 'its data stays');
  for (const n of NODES.filter((x) => x !== victim)) {
    const h = await l.rpc(n, 'HealthService', 'Check', {});
    assert.match(h.details['dep:peer_reachable'], /^ok: 1\/2 peers reachable/);
    assert.equal((await l.rpc(n, 'AdminService', 'GetClusterInfo')).members.length, 3, 'the dead member is still listed');
  }
  const w = await l.run(l.a.ledgerWriteCheck, { cluster: PRIMARY, ...VAULT });
  assert.deepEqual(w.missing, [victim], 'writes go on without it');

  if (opts.recover === false) return;
  // Lifeboat's procedure (ledger.node-failure v2).
  const states = await readStates(l, PRIMARY, NODES);
  const oldId = leaderOf(states)!.members!.find((m) => m.node === victim)!.nodeId;
  assert.equal(oldId, before.ids.get(victim));
  const newId = await rejoinEmpty(l, PRIMARY, NODES, victim, oldId);
  assert.notEqual(newId, oldId);
  const status = await l.rpc(before.global, 'AdminService', 'GetDecommissionStatus', { node_id: oldId });
  assert.deepEqual([status.status, status.global_removed], ['removed', true]);
  assert.ok(readdirSync(join(l.dataDir(victim), '..')).some((e) => e.startsWith('data.lifeboat-')), 'the old data was set aside');
  await checklist(l, PRIMARY, NODES);
  await assertSeedOn(l, victim);
}

/** ledger.quorum-loss: two of three killed; the survivor answers reads without a leader; Lifeboat forms a new cluster from its export. */
export async function quorumLoss(l: LedgerLab, opts: CaseOptions = {}): Promise<void> {
  const from = l.lab.effects.list().length;
  await breakTimed(l, 'ledger.quorum-loss');
  const dead = killed(l, from);
  assert.equal(dead.length, 2);
  const survivor = NODES.find((n) => !dead.includes(n))!;
  const h = await l.rpc(survivor, 'HealthService', 'Check', {});
  assert.deepEqual([h.status, h.message], ['HEALTH_STATUS_DEGRADED', 'Dependencies unhealthy']);
  assert.match(h.details['dep:peer_reachable'], /^FAIL: 0\/2 peers reachable/);
  const ci = await l.rpc(survivor, 'AdminService', 'GetClusterInfo');
  assert.equal(ci.members.length, 3);
  assert.notEqual(ci.leader_id, '0', 'the survivor still names the old leader');
  const w = await l.rpcError(survivor, 'WriteService', 'Write', { ...vaultMsg, idempotency_key: randomBytes(16), operations: [{ set_entity: { key: 'x', value: Buffer.from('x') } }] }, 5000);
  assert.ok([14, 4].includes(w.code), `a write fails (UNAVAILABLE or a timeout): ${w.message}`);
  await assertSeedOn(l, survivor);

  if (opts.recover === false) return;
  // Lifeboat's procedure (ledger.quorum-loss v2): export the survivor, set every data directory aside, form anew.
  const held = await l.run(l.a.ledgerVaults, { cluster: PRIMARY, node: survivor });
  assert.ok(held.vaults.some((v) => v.vault === SEED.vault));
  const exported = await l.run(l.a.ledgerExport, { cluster: PRIMARY, node: survivor, to: { node: survivor } });
  assert.ok(exported.entities >= SEED.entities && exported.relationships >= SEED.relationships, JSON.stringify(exported));
  for (const n of NODES) await l.run(l.a.ledgerServiceStop, { cluster: PRIMARY, node: n });
  for (const n of NODES) await l.run(l.a.ledgerSetAside, { cluster: PRIMARY, node: n, reason: 'quorum loss' });
  await formFromExport(l, PRIMARY, survivor, NODES.filter((n) => n !== survivor), exported.file);
  await checklist(l, PRIMARY, NODES);
  for (const n of NODES) await assertSeedOn(l, n);
}

/** ledger.full-restore: the archive is written, every node killed and its data deleted; Lifeboat restores from the archive. */
export async function fullRestore(l: LedgerLab, opts: CaseOptions = {}): Promise<void> {
  const from = l.lab.effects.list().length;
  await breakTimed(l, 'ledger.full-restore');
  assert.deepEqual(killed(l, from).sort(), NODES);
  const lines = readFileSync(s3File(l, 'ledger-backups'), 'utf8').trim().split('\n').map((x) => JSON.parse(x) as Json);
  assert.deepEqual([lines[0].kind, lines[0].version], ['lifeboat-ledger-export', 1]);
  assert.deepEqual(lines[lines.length - 1].counts, { organizations: 1, vaults: 1, entities: SEED.entities, relationships: SEED.relationships });
  for (const n of NODES) {
    assert.equal(await nodeView(l.addr(n), ''), undefined);
    assert.deepEqual(readdirSync(l.dataDir(n)), [], `${n}'s data is gone`);
  }

  if (opts.recover === false) return;
  // Lifeboat's procedure (ledger.full-restore v2).
  const info = await l.run(l.a.ledgerArchiveInfo, { cluster: PRIMARY, node: 'node1' });
  assert.equal(info.exists, true);
  for (const n of NODES) await l.run(l.a.ledgerServiceStop, { cluster: PRIMARY, node: n });
  for (const n of NODES) assert.equal((await l.run(l.a.ledgerSetAside, { cluster: PRIMARY, node: n, reason: 'full restore' })).alreadyDone, true);
  const fetched = await l.run(l.a.ledgerArchiveFetch, { cluster: PRIMARY, node: 'node1', source: info.source });
  await formFromExport(l, PRIMARY, 'node1', ['node2', 'node3'], { node: 'node1', path: fetched.path });
  await checklist(l, PRIMARY, NODES);
  for (const n of NODES) await assertSeedOn(l, n);
}

/** ledger.vault-divergence: the seeded vault diverges (reads refused, writes taken) and the server heals it by itself. */
export async function vaultDivergence(l: LedgerLab): Promise<void> {
  await breakTimed(l, 'ledger.vault-divergence');
  const { vault, global } = await roles(l);
  assert.equal(global, vault, 'the fault moved GLOBAL leadership to the vault\'s leader');
  const status = (await l.lab.health()).find((h) => h.cluster === PRIMARY)!;
  assert.equal(status.healthy, false, '`lab status` shows the divergence');
  assert.ok(status.nodes.some((n) => n.state === 'vault-diverged' || n.state === 'vault-recovering'), JSON.stringify(status.nodes));
  const vh = await l.run(l.a.ledgerVaultHealth, { cluster: PRIMARY, node: vault, ...VAULT });
  assert.ok(vh.status === 'diverged' || vh.status === 'recovering', JSON.stringify(vh));
  if (vh.status === 'diverged') {
    const read = await l.rpcError(vault, 'ReadService', 'Read', { ...vaultMsg, key: 'doc:1' });
    assert.deepEqual([read.code, /has diverged at height \d+/.test(read.details)], [14, true]);
  }
  const w = await l.rpc(vault, 'WriteService', 'Write', { ...vaultMsg, idempotency_key: randomBytes(16), operations: [{ set_entity: { key: 'during', value: Buffer.from('divergence') } }] });
  assert.ok(w.success, 'writes go on while the vault is diverged');
  const rv = await l.run(l.a.ledgerVaultRecover, { cluster: PRIMARY, node: vault, ...VAULT });
  assert.deepEqual([rv.success, rv.health], [false, 'healthy'], 'RecoverVault reads another state at 21345c4');
  await waitFor(
    l,
    'the vault to heal on every node',
    async () => {
      const hs = await Promise.all(NODES.map((node) => l.run(l.a.ledgerVaultHealth, { cluster: PRIMARY, node, ...VAULT })));
      return hs.every((x) => x.status === 'healthy') ? true : undefined;
    },
    15_000,
    240_000,
  );
  const m = await Promise.all(NODES.map((node) => l.run(l.a.ledgerMetrics, { cluster: PRIMARY, node })));
  assert.ok(m.reduce((n, x) => n + x.determinismBugs, 0) >= 1, `ledger_determinism_bug_total counted: ${JSON.stringify(m)}`);
  assert.deepEqual(m.map((x) => x.divergedVaults), [1, 1, 1], 'ledger_vault_health{state="diverged"} stays 1 on every replica after the vault healed');
  await checklist(l, PRIMARY, NODES);
}

/** ledger.regional-failover: the primary's export replicated, the primary killed; Lifeboat forms the DR cluster from it and moves the engine. */
export async function regionalFailover(l: LedgerLab, opts: CaseOptions = {}): Promise<void> {
  for (const n of DR_NODES) {
    const d = await l.run(l.a.ledgerDataDir, { cluster: DR, node: n });
    assert.deepEqual([d.serviceActive, d.present], [false, false], `${n} is installed, stopped and empty`);
  }
  const from = l.lab.effects.list().length;
  await breakTimed(l, 'ledger.regional-failover');
  assert.deepEqual(killed(l, from).sort(), NODES);
  const age = Date.now() - statSync(s3File(l, 'ledger-primary-backups')).mtimeMs;
  assert.ok(age >= REPLICATION_LAG_MS - 5000 && age < REPLICATION_LAG_MS + 60_000, `the replica is ${age} ms old`);

  if (opts.recover === false) return;
  // Lifeboat's procedure (ledger.regional-failover v2).
  const topo = await l.run(l.a.ledgerDrTopology, { cluster: PRIMARY });
  assert.deepEqual([topo.drCluster, topo.voters, topo.bastion, topo.replicaSource], [DR, DR_NODES, 'bastion', 's3://ledger-primary-backups/latest/ledger-export.jsonl']);
  const replica = await l.run(l.a.ledgerArchiveInfo, { cluster: DR, node: DR_NODES[0]!, source: topo.replicaSource });
  assert.equal(replica.exists, true);
  for (const n of DR_NODES) await l.run(l.a.ledgerServiceStop, { cluster: DR, node: n });
  for (const n of DR_NODES) await l.run(l.a.ledgerSetAside, { cluster: DR, node: n, reason: 'regional failover' });
  const fetched = await l.run(l.a.ledgerArchiveFetch, { cluster: DR, node: DR_NODES[0]!, source: topo.replicaSource });
  await formFromExport(l, DR, DR_NODES[0]!, DR_NODES.slice(1), { node: DR_NODES[0]!, path: fetched.path });
  const switched = await l.run(l.a.ledgerSwitchEndpoint, { cluster: DR, node: 'bastion', endpoint: topo.endpoint });
  assert.equal(switched.previous, 'ledger.primary-region.internal:50051');
  await l.run(l.a.ledgerRestartEngine, { cluster: DR, node: 'bastion' });
  const rollout = await l.run(l.a.ledgerEngineRollout, { cluster: DR, node: 'bastion', timeoutSeconds: 60 });
  assert.equal(rollout.complete, true, rollout.detail);
  await checklist(l, DR, DR_NODES);
  for (const n of DR_NODES) await assertSeedOn(l, n, DR);
  assert.equal((await l.lab.health()).find((h) => h.cluster === DR)?.healthy, true);
}

/** Restarts on old data: a follower rejoins and never catches up; a whole cluster comes back with a leader and takes no write. */
export async function staleRestarts(l: LedgerLab): Promise<void> {
  const from = l.lab.effects.list().length;
  await breakTimed(l, 'ledger.node-failure');
  const [victim] = killed(l, from);
  const id = (await nodeIds(l)).get(NODES.find((n) => n !== victim)!);
  assert.ok(victim && id);
  const w1 = await l.run(l.a.ledgerWriteCheck, { cluster: PRIMARY, ...VAULT });
  assert.deepEqual(w1.missing, [victim]);
  assert.equal((await l.sh(victim, 'systemctl start ledger')).code, 0, 'the unit starts again on the old data');
  assert.equal((await nodeView(l.addr(victim), ''))?.nodeId, readFileSync(join(l.dataDir(victim), 'node_id'), 'utf8'), 'same node id');
  // Checked for a while: the real server never gets it a leader again (observed for minutes).
  for (let i = 0; i < (l.backend === 'real' ? 3 : 2); i++) {
    await new Promise((r) => setTimeout(r, l.backend === 'real' ? 5000 : 1000));
    assert.equal((await nodeView(l.addr(victim), ''))?.leaderId, '0', `${victim} names no leader`);
    const h = await l.rpc(victim, 'HealthService', 'Check', {});
    assert.deepEqual([h.status, h.message], ['HEALTH_STATUS_DEGRADED', 'No leader elected']);
    assert.match(h.details['dep:peer_reachable'], /^ok: 2\/2 peers reachable/);
    assert.equal((await l.rpc(victim, 'ReadService', 'Read', { ...vaultMsg, key: w1.key })).value, undefined, 'it answers stale data');
  }
  const applied = await l.rpc(victim, 'AdminService', 'AdminListVaults', { organization: vaultMsg.organization });
  assert.ok(Number(applied.vaults[0].last_applied_index) <= 1, `a restarted replica's applied index starts over: ${applied.vaults[0].last_applied_index}`);

  // Every node restarted on its data (systemctl stop: SIGTERM, up to 30 s of drain on the real server).
  await Promise.all(NODES.map((n) => l.sh(n, 'systemctl stop ledger')));
  for (const n of NODES) assert.equal((await l.sh(n, 'systemctl start ledger')).code, 0);
  await waitFor(l, 'a leader among the restarted nodes', async () => ((await nodeView(l.addr(NODES[0]!), ''))?.leaderId ?? '0') !== '0' || undefined, 10_000, 60_000);
  // The real server refuses writes after a whole restart (UNAVAILABLE "Not the leader for vault ...", INTERNAL
  // "Raft error", or its proposal timeout: CANCELLED "Timeout expired" / DEADLINE_EXCEEDED) and takes one only now
  // and then; on a slow machine the first write after the leader shows can be one of those that pass (seen in CI).
  // So a few writes are tried: a cluster that takes every one of them is not the server this lab characterizes.
  // The simulation refuses them all.
  const outcomes: string[] = [];
  for (let i = 0; i < 6; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, l.backend === 'real' ? 2000 : 100));
    const write = { ...vaultMsg, idempotency_key: randomBytes(16), operations: [{ set_entity: { key: `after-restart-${i}`, value: Buffer.from('x') } }] };
    const refused = await callLeader(l.addr(NODES[0]!), 'WriteService', 'Write', write, 5000, '').then(
      () => undefined,
      (e: unknown) => e as LedgerCallError,
    );
    outcomes.push(refused ? `refused (${refused.code}: ${refused.message})` : 'taken');
    if (refused) assert.ok([1, 4, 13, 14].includes(refused.code), `a write after a whole restart is refused as the real server refuses it: ${refused.message}`);
    if (refused && l.backend === 'real') break;
  }
  assert.ok(outcomes.some((o) => o.startsWith('refused')), `a cluster restarted whole does not take every write: ${outcomes.join('; ')}`);
  if (l.backend === 'sim') assert.ok(outcomes.every((o) => o.startsWith('refused')), `the simulation refuses every write after a whole restart: ${outcomes.join('; ')}`);
  for (const n of NODES) assert.ok((await l.rpc(n, 'ReadService', 'Read', { ...vaultMsg, key: 'doc:20' })).value, `${n} still answers reads`);
}

/** Standby DR voters: an uninitialized node shows itself as sole leader and is never joined; `init` forms the cluster, the others join. */
export async function uninitialized(l: LedgerLab): Promise<void> {
  const [a, b] = DR_NODES as [string, string];
  assert.equal((await l.sh(a, 'systemctl start ledger', DR)).code, 0);
  assert.equal((await l.sh(b, 'systemctl start ledger', DR)).code, 0);
  const info = await l.rpc(a, 'AdminService', 'GetNodeInfo', {}, 5000, DR);
  assert.deepEqual([info.state, info.cluster_id, info.is_cluster_member], ['uninitialized', '0', false]);
  assert.equal(readFileSync(join(l.dataDir(a, DR), 'node_id'), 'utf8'), info.node_id, 'node_id is written at the first start');
  assert.equal(existsSync(join(l.dataDir(a, DR), 'cluster_id')), false);
  const ci = await l.rpc(a, 'AdminService', 'GetClusterInfo', {}, 5000, DR);
  assert.deepEqual(
    ci.members.map((m: Json) => [m.node_id, m.is_leader]),
    [[info.node_id, true]],
  );
  const h = await l.rpc(a, 'HealthService', 'Check', {}, 5000, DR);
  assert.deepEqual([h.status, h.message], ['HEALTH_STATUS_DEGRADED', 'Node is starting up']);
  assert.deepEqual((await l.rpc(a, 'VaultService', 'ListVaults', {}, 5000, DR)).vaults, []);
  await new Promise((r) => setTimeout(r, l.backend === 'real' ? 5000 : 1000));
  assert.equal((await nodeView(l.addr(b, DR), ''))?.clusterId, '0', 'nobody joins an uninitialized node');
  const from = l.lab.effects.list().length;
  const init = await l.sh(a, `inferadb-ledger init --host ${l.addr(a, DR)}`, DR);
  assert.match(init.stdout, /^Cluster initialized\. cluster_id=\d+\n$/);
  assert.deepEqual(l.effectsSince(from, DR), [`${a} ledger.init`]);
  const again = await l.sh(b, `inferadb-ledger init --host ${l.addr(a, DR)}`, DR);
  assert.match(again.stdout, /^Cluster already initialized\. cluster_id=\d+\n$/);
  await waitFor(l, `${b} to join`, async () => ((await l.rpc(a, 'AdminService', 'GetClusterInfo', {}, 5000, DR)).members.length === 2 || undefined), 5000, 30_000);
  await waitFor(l, `${b}'s cluster_id file`, async () => existsSync(join(l.dataDir(b, DR), 'cluster_id')) || undefined, 2000, 10_000);
  assert.equal(readFileSync(join(l.dataDir(b, DR), 'cluster_id'), 'utf8'), /cluster_id=(\d+)/.exec(init.stdout)![1]);
  assert.equal((await l.sh(DR_NODES[2]!, 'systemctl is-active ledger', DR)).code, 3, 'the third voter stays stopped');
  const cm = await l.sh('bastion', 'kubectl get configmap ledger-config -o json', DR);
  assert.equal(JSON.parse(cm.stdout).data.LEDGER_ENDPOINT, 'ledger.primary-region.internal:50051');
}
