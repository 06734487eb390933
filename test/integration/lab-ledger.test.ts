/**
 * The lab's simulated ledger cluster (seed 002), driven as the SSH hosts and
 * the recovery workflows drive it: shim calls for `systemctl` and
 * `inferadb-ledger`, real files in each host's directory, and a real gRPC
 * client built from the project's ledger.v1 proto on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test, type TestContext } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { EffectLog } from '../../lab/effects';
import { LedgerDrFamily, LedgerFamily, type LedgerFamilyOptions } from '../../lab/ledger';

// Loaded here, independently of the lab, so the test also checks the lab speaks the project's proto.
const PROTO = resolve(__dirname, '../../../src/protos/ledger/v1/ledger.proto');
const v1 = (
  grpc.loadPackageDefinition(protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true }))
    .ledger as grpc.GrpcObject
).v1 as grpc.GrpcObject;

type Json = any;

/** One unary call on a fresh channel (a restarted node never sees a stale channel's backoff). */
async function rpc(address: string, service: string, method: string, req: object = {}): Promise<Json> {
  const Ctor = v1[service] as grpc.ServiceClientConstructor;
  const client = new Ctor(address, grpc.credentials.createInsecure());
  try {
    return await new Promise((ok, ko) => {
      const fn = (client as unknown as Record<string, (...a: unknown[]) => void>)[method]!.bind(client);
      fn(req, { deadline: Date.now() + 3000 }, (err: grpc.ServiceError | null, res: Json) => (err ? ko(err) : ok(res)));
    });
  } finally {
    client.close();
  }
}

async function rpcError(address: string, service: string, method: string, req: object = {}): Promise<grpc.ServiceError> {
  try {
    await rpc(address, service, method, req);
  } catch (e) {
    return e as grpc.ServiceError;
  }
  assert.fail(`${service}/${method} on ${address} unexpectedly succeeded`);
}

async function waitUntil(what: string, cond: () => Promise<boolean> | boolean, withinMs = 5000): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (let i = 0; i < 1000; i++) {
    if (await cond()) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out after ${withinMs} ms waiting for ${what}`);
}

/** Resolves true when something accepts TCP connections on the port. */
function portOpen(address: string): Promise<boolean> {
  const [host, port] = address.split(':');
  return new Promise((ok) => {
    const s = connect({ host: host!, port: Number(port) });
    s.once('connect', () => {
      s.destroy();
      ok(true);
    });
    s.once('error', () => ok(false));
  });
}

const vaultReq = (vault: string) => ({ organization_slug: { id: '1' }, vault: { slug: vault } });

async function startLab(t: TestContext, opts: LedgerFamilyOptions = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'lab-ledger-'));
  const effects = new EffectLog();
  const fam = new LedgerFamily({ electionMs: 100, ...opts });
  // Hosts as the lab lays them out (<lab>/hosts/<cluster>/<node>), so the bucket lands in <lab>/s3.
  const root = (n: string) => join(dir, 'hosts', 'lab-ledger', n);
  await fam.start({ hostRoot: root, effects });
  t.after(async () => {
    await fam.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const eps = new Map(fam.endpoints().map((e) => [e.name, e]));
  const addr = (n: string) => eps.get(n)!.grpc!.address;
  const sh = (node: string, tool: string, argv: string[], env: Record<string, string> = {}, cwd = root(node)) =>
    fam.shim({ node, tool, argv, env, cwd, root: root(node) });
  const info = (n: string) => rpc(addr(n), 'AdminService', 'GetClusterInfo');
  const serving = async (n: string) => (await rpc(addr(n), 'HealthService', 'Check')).status as string;
  const effectLines = () => effects.list().map((e) => `${e.node} ${e.effect}${e.detail?.mode ? `:${String(e.detail.mode)}` : ''}`);
  return { dir, root, effects, fam, eps, addr, sh, info, serving, effectLines };
}

/** Every vault's integrity (full check) on a node. */
async function integrityAll(address: string): Promise<Array<{ vault: string; ok: boolean; blocks: number }>> {
  const list = await rpc(address, 'AdminService', 'ListVaults');
  const out = [];
  for (const entry of list.vaults) {
    const slug = entry.vault.vault.slug as string;
    const r = await rpc(address, 'AdminService', 'CheckIntegrity', { ...vaultReq(slug), full_check: true });
    out.push({ vault: slug, ok: r.ok as boolean, blocks: r.blocks_checked as number });
  }
  return out;
}

async function heights(address: string): Promise<Record<string, number>> {
  const list = await rpc(address, 'AdminService', 'ListVaults');
  return Object.fromEntries(list.vaults.map((e: Json) => [e.vault.vault.slug, e.vault.height]));
}

test('a healthy lab cluster: one leader, serving, writes replicate, integrity holds, metrics flow', async (t) => {
  const lab = await startLab(t);
  const infos = await Promise.all(['node1', 'node2', 'node3'].map(lab.info));
  const ids = new Set(infos.map((i) => i.cluster_id));
  assert.equal(ids.size, 1);
  assert.match([...ids][0], /^[0-9a-f-]{36}$/);
  for (const i of infos) {
    assert.equal(i.leader_id?.id, 'node1', 'equal logs: the lowest name wins');
    assert.equal(i.mode, 'cluster');
    assert.deepEqual(
      i.members.map((m: Json) => [m.node_id.id, m.role, m.reachable]),
      [
        ['node1', 'voter', true],
        ['node2', 'voter', true],
        ['node3', 'voter', true],
      ],
    );
    assert.ok(i.term >= 1);
  }
  for (const n of ['node1', 'node2', 'node3']) assert.equal(await lab.serving(n), 'SERVING');

  const orgs = await rpc(lab.addr('node2'), 'AdminService', 'ListOrganizations');
  assert.deepEqual(orgs.organizations.map((o: Json) => o.slug.id), ['1']);
  const before = await heights(lab.addr('node1'));
  assert.deepEqual(Object.keys(before).sort(), ['audit', 'identity', 'payments']);

  // A write through a follower goes through the leader and reaches every node.
  const w = await rpc(lab.addr('node2'), 'WriteService', 'Write', { ...vaultReq('payments'), idempotency_key: 'k-1', payload: Buffer.from('hello') });
  assert.deepEqual(w, { height: before.payments! + 1, duplicate: false });
  const again = await rpc(lab.addr('node3'), 'WriteService', 'Write', { ...vaultReq('payments'), idempotency_key: 'k-1', payload: Buffer.from('hello') });
  assert.deepEqual(again, { height: w.height, duplicate: true });
  const tips = await Promise.all(['node1', 'node2', 'node3'].map((n) => rpc(lab.addr(n), 'ReadService', 'GetTip', vaultReq('payments'))));
  for (const tip of tips) assert.deepEqual(tip, tips[0]);
  assert.equal(tips[0].height, w.height);
  assert.match(tips[0].hash, /^[0-9a-f]{64}$/);
  // The write is in every node's data file, not only in memory.
  for (const n of ['node1', 'node2', 'node3']) {
    const onDisk = JSON.parse(readFileSync(join(lab.root(n), 'data', 'ledger-state.json'), 'utf8'));
    assert.equal(onDisk.organizations['1'].vaults.payments.blocks.length, w.height);
  }
  assert.deepEqual(lab.effectLines(), ['node2 ledger.write'], 'a duplicate write is not a second effect');

  for (const n of ['node1', 'node3']) {
    for (const r of await integrityAll(lab.addr(n))) assert.ok(r.ok && r.blocks > 0, `${n} ${r.vault}`);
  }
  const vault = await rpc(lab.addr('node1'), 'AdminService', 'GetVault', vaultReq('audit'));
  assert.equal(vault.vault.status, 'ACTIVE');
  const missing = await rpcError(lab.addr('node1'), 'ReadService', 'GetTip', vaultReq('nope'));
  assert.equal(missing.code, grpc.status.NOT_FOUND);

  const metrics = await (await fetch(lab.eps.get('node1')!.metricsUrl!)).text();
  assert.match(metrics, /^ledger_up 1$/m);
  assert.match(metrics, /^ledger_is_leader 1$/m);
  assert.match(metrics, new RegExp(`^ledger_commit_index ${14}$`, 'm'));
  assert.match(metrics, /^ledger_determinism_bug_total\{organization="1",vault="payments"\} 0$/m);
  assert.match(await (await fetch(lab.eps.get('node2')!.metricsUrl!)).text(), /^ledger_is_leader 0$/m);

  const h = await lab.fam.health();
  assert.equal(h.healthy, true, h.summary);
  assert.deepEqual(h.nodes.map((n) => n.state), ['up', 'up', 'up']);

  // Stopping the lab closes every port.
  const addresses = lab.fam.endpoints().flatMap((e) => [e.grpc!.address, new URL(e.metricsUrl!).host]);
  for (const a of addresses) assert.equal(await portOpen(a), true, a);
  await lab.fam.stop();
  for (const a of addresses) assert.equal(await portOpen(a), false, `${a} still open after stop()`);
});

test('quorum loss: the survivor answers without a leader, is NOT_SERVING and refuses writes', async (t) => {
  const lab = await startLab(t);
  const oldId = (await lab.info('node1')).cluster_id;
  await lab.fam.breakFault('ledger.quorum-loss');

  for (const n of ['node2', 'node3']) {
    assert.equal(await portOpen(lab.addr(n)), false, `${n} gRPC port refuses`);
    assert.deepEqual(readdirSync(join(lab.root(n), 'data')), [], `${n} lost its data`);
    assert.equal((await lab.sh(n, 'systemctl', ['is-active', 'ledger'])).exitCode, 3);
  }
  const i = await lab.info('node1');
  assert.equal(i.cluster_id, oldId);
  assert.equal(i.leader_id, null, 'no leader without quorum');
  assert.deepEqual(
    i.members.map((m: Json) => [m.node_id.id, m.reachable]),
    [
      ['node1', true],
      ['node2', false],
      ['node3', false],
    ],
  );
  assert.equal(await lab.serving('node1'), 'NOT_SERVING');
  const err = await rpcError(lab.addr('node1'), 'WriteService', 'Write', { ...vaultReq('payments'), idempotency_key: 'x', payload: Buffer.from('x') });
  assert.equal(err.code, grpc.status.UNAVAILABLE);
  assert.match(err.details, /no quorum/);
  // Reads of local data still answer, and the data file is intact.
  assert.equal((await rpc(lab.addr('node1'), 'ReadService', 'GetTip', vaultReq('audit'))).height, 4);
  assert.match(await (await fetch(lab.eps.get('node1')!.metricsUrl!)).text(), /^ledger_is_leader 0$/m);

  const h = await lab.fam.health();
  assert.equal(h.healthy, false);
  assert.deepEqual(h.nodes.map((n) => n.state), ['no-quorum', 'down', 'down']);
  assert.deepEqual(lab.effectLines(), [], 'a lab fault records no effect');
});

test('quorum recovery by the runbook: --single, verify, stop, clear, cluster mode, joins', async (t) => {
  const lab = await startLab(t);
  const oldId = (await lab.info('node1')).cluster_id;
  const seeded = await heights(lab.addr('node1'));
  await lab.fam.breakFault('ledger.quorum-loss');

  // 1. Stop surviving nodes (a second stop is a no-op, not a second effect).
  assert.equal((await lab.sh('node1', 'systemctl', ['stop', 'ledger'])).exitCode, 0);
  assert.equal((await lab.sh('node1', 'systemctl', ['stop', 'ledger.service'])).exitCode, 0);
  assert.equal(await portOpen(lab.addr('node1')), false);
  assert.equal((await lab.sh('node1', 'systemctl', ['is-active', 'ledger'])).stdout, 'inactive\n');

  // 2. Force a new cluster from the survivor.
  const single = await lab.sh('node1', 'inferadb-ledger', ['--single', '--data', 'data']);
  assert.equal(single.exitCode, 0, single.stderr);
  assert.match(single.stdout, /NEW single-node cluster/);
  const again = await lab.sh('node1', 'inferadb-ledger', ['--single', '--data', '/data']);
  assert.equal(again.exitCode, 0, 'already running in the same mode');
  await waitUntil('node1 leads its single-node cluster', async () => (await lab.info('node1')).leader_id?.id === 'node1');
  const s = await lab.info('node1');
  assert.notEqual(s.cluster_id, oldId, 'a NEW cluster identity');
  assert.equal(s.mode, 'single');
  assert.deepEqual(s.members.map((m: Json) => m.node_id.id), ['node1']);
  assert.equal(await lab.serving('node1'), 'SERVING');
  const newId = s.cluster_id as string;

  // 3. Verify data: every vault listed, each one's full integrity check passes.
  assert.deepEqual(await heights(lab.addr('node1')), seeded);
  const checks = await integrityAll(lab.addr('node1'));
  assert.equal(checks.length, 3);
  for (const c of checks) assert.ok(c.ok, c.vault);
  assert.equal((await lab.fam.health()).nodes[0]!.state, 'single');

  // 4. Scale back: stop single mode, clear the replacements' data, cluster mode, joins.
  assert.equal((await lab.sh('node1', 'systemctl', ['stop', 'ledger'])).exitCode, 0);
  for (const n of ['node2', 'node3']) {
    const data = join(lab.root(n), 'data');
    for (const e of readdirSync(data)) rmSync(join(data, e), { recursive: true, force: true }); // rm -rf /data/*
  }
  const cluster = await lab.sh('node1', 'inferadb-ledger', [], { INFERADB__LEDGER__CLUSTER: '3', INFERADB__LEDGER__PEERS: 'node1,node2,node3' });
  assert.equal(cluster.exitCode, 0, cluster.stderr);
  let i1 = await lab.info('node1');
  assert.equal(i1.cluster_id, newId, 'cluster mode keeps the identity of its data');
  assert.equal(i1.leader_id, null, 'one of three voters is no quorum');
  assert.equal(await lab.serving('node1'), 'NOT_SERVING');

  for (const n of ['node2', 'node3']) {
    const r = await lab.sh(n, 'inferadb-ledger', [], {
      INFERADB__LEDGER__DATA: '/data',
      INFERADB__LEDGER__LISTEN: '0.0.0.0:50051',
      INFERADB__LEDGER__JOIN: 'true',
      INFERADB__LEDGER__PEERS: 'node1:50051',
    });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /joined cluster/);
  }
  await waitUntil('a leader of the rebuilt cluster', async () => !!(await lab.info('node1')).leader_id?.id);
  i1 = await lab.info('node1');
  for (const n of ['node1', 'node2', 'node3']) {
    const i = await lab.info(n);
    assert.equal(i.cluster_id, newId);
    assert.equal(i.leader_id.id, i1.leader_id.id);
    assert.equal(i.mode, 'cluster');
    assert.deepEqual(
      i.members.map((m: Json) => [m.node_id.id, m.role, m.reachable]),
      [
        ['node1', 'voter', true],
        ['node2', 'voter', true],
        ['node3', 'voter', true],
      ],
    );
    assert.equal(await lab.serving(n), 'SERVING');
    assert.deepEqual(await heights(lab.addr(n)), seeded, `${n} replicated every vault`);
    assert.ok(existsSync(join(lab.root(n), 'data', 'ledger-state.json')), `${n} wrote its data file`);
  }
  const w = await rpc(lab.addr('node3'), 'WriteService', 'Write', { ...vaultReq('audit'), idempotency_key: 'post-recovery', payload: Buffer.from('ok') });
  assert.equal(w.height, seeded.audit! + 1);
  for (const n of ['node1', 'node2']) assert.equal((await rpc(lab.addr(n), 'ReadService', 'GetTip', vaultReq('audit'))).height, w.height);
  for (const c of await integrityAll(lab.addr('node2'))) assert.ok(c.ok, c.vault);

  const h = await lab.fam.health();
  assert.equal(h.healthy, true, h.summary);
  assert.deepEqual(lab.effectLines(), [
    'node1 ledger.stop:cluster',
    'node1 ledger.start:single',
    'node1 ledger.stop:single',
    'node1 ledger.start:cluster',
    'node2 ledger.start:join',
    'node3 ledger.start:join',
    'node3 ledger.write',
  ]);
  assert.equal(lab.effects.list({ node: 'node1', effect: 'ledger.start' })[0]!.detail!.dataDir, '/data');

  // systemctl restart resumes the configured mode: node2 comes back as a member, not a new join.
  const r = await lab.sh('node2', 'systemctl', ['restart', 'ledger']);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal((await lab.info('node2')).cluster_id, newId);
  await waitUntil('healthy after restart', async () => (await lab.fam.health()).healthy);
});

test('split brain: old data is refused on join, and in cluster mode shows up as a second cluster', async (t) => {
  const lab = await startLab(t);
  const oldId = (await lab.info('node1')).cluster_id;
  // node3 goes down with its data (the runbook's "other nodes come back online" risk).
  assert.equal((await lab.sh('node3', 'systemctl', ['stop', 'ledger'])).exitCode, 0);
  assert.equal((await lab.sh('node2', 'systemctl', ['stop', 'ledger'])).exitCode, 0);
  assert.equal((await lab.sh('node1', 'systemctl', ['stop', 'ledger'])).exitCode, 0);
  assert.equal((await lab.sh('node1', 'inferadb-ledger', ['--single'])).exitCode, 0);
  await waitUntil('single leader', async () => (await lab.info('node1')).leader_id?.id === 'node1');
  const newId = (await lab.info('node1')).cluster_id;
  assert.equal((await lab.sh('node1', 'systemctl', ['stop', 'ledger'])).exitCode, 0);
  const env3 = { INFERADB__LEDGER__CLUSTER: '3', INFERADB__LEDGER__PEERS: 'node1,node2,node3' };
  assert.equal((await lab.sh('node1', 'inferadb-ledger', [], env3)).exitCode, 0);

  // node2 replaces a lost machine: its data is cleared first, as the runbook says.
  rmSync(join(lab.root('node2'), 'data', 'ledger-state.json'));
  const join2 = await lab.sh('node2', 'inferadb-ledger', [], { INFERADB__LEDGER__JOIN: 'true', INFERADB__LEDGER__PEERS: lab.addr('node1') });
  assert.equal(join2.exitCode, 0, join2.stderr);
  await waitUntil('leader with node1+node2', async () => !!(await lab.info('node1')).leader_id?.id);

  // node3 still holds the OLD cluster's data: the join is refused.
  const joinJoin = { INFERADB__LEDGER__JOIN: 'true', INFERADB__LEDGER__PEERS: 'node1:50051' };
  const refused = await lab.sh('node3', 'inferadb-ledger', [], joinJoin);
  assert.equal(refused.exitCode, 1);
  assert.match(refused.stderr ?? '', /split-brain protection/);
  assert.match(refused.stderr ?? '', /rm -rf \/data\/\*/);
  assert.equal(await portOpen(lab.addr('node3')), false, 'a refused node does not keep running');
  assert.equal((await lab.sh('node3', 'systemctl', ['is-active', 'ledger'])).exitCode, 3);
  const ref = lab.effects.list({ effect: 'ledger.split-brain-refused' });
  assert.equal(ref.length, 1);
  assert.deepEqual(ref[0]!.detail, { ownClusterId: oldId, peerClusterId: newId, peer: 'node1' });

  // Started in cluster mode with its old data, it runs as a second cluster: the hazard.
  const stale = await lab.sh('node3', 'inferadb-ledger', [], env3);
  assert.equal(stale.exitCode, 0, stale.stderr);
  const i3 = await lab.info('node3');
  assert.equal(i3.cluster_id, oldId);
  assert.notEqual(i3.cluster_id, newId);
  assert.equal(i3.leader_id, null);
  assert.deepEqual(i3.members.map((m: Json) => m.reachable), [false, false, true]);
  const i1 = await lab.info('node1');
  assert.equal(i1.members.find((m: Json) => m.node_id.id === 'node3').reachable, false, 'node3 is not a member of the new cluster');
  const h = await lab.fam.health();
  assert.equal(h.healthy, false);
  assert.match(h.summary, /SPLIT: 2 cluster ids/);

  // The fix: stop it, clear its data, join.
  assert.equal((await lab.sh('node3', 'systemctl', ['stop', 'ledger'])).exitCode, 0);
  rmSync(join(lab.root('node3'), 'data'), { recursive: true, force: true });
  const ok = await lab.sh('node3', 'inferadb-ledger', [], joinJoin);
  assert.equal(ok.exitCode, 0, ok.stderr);
  await waitUntil('one healthy cluster', async () => (await lab.fam.health()).healthy);
  assert.equal((await lab.info('node3')).cluster_id, newId);
  assert.equal(lab.effects.count({ effect: 'ledger.data-cleared' }), 2, 'node2 and node3 found their data gone on start');
});

test('node failure: LeaveCluster on a healthy node, then the replacement joins', async (t) => {
  const lab = await startLab(t);
  await lab.fam.breakFault('ledger.node-failure');
  assert.equal(await portOpen(lab.addr('node3')), false);
  await waitUntil('quorum holds', async () => (await lab.serving('node1')) === 'SERVING');
  assert.equal((await lab.fam.health()).nodes[2]!.state, 'down');

  const left = await rpc(lab.addr('node2'), 'AdminService', 'LeaveCluster', { node_id: { id: 'node3' } });
  assert.deepEqual(left, { removed: true });
  assert.deepEqual((await lab.info('node1')).members.map((m: Json) => m.node_id.id), ['node1', 'node2']);
  assert.deepEqual(await rpc(lab.addr('node2'), 'AdminService', 'LeaveCluster', { node_id: { id: 'node3' } }), { removed: false });
  const j = await lab.sh('node3', 'inferadb-ledger', [], {
    INFERADB__LEDGER__DATA: '/data',
    INFERADB__LEDGER__LISTEN: '0.0.0.0:50051',
    INFERADB__LEDGER__JOIN: 'true',
    INFERADB__LEDGER__PEERS: 'node2:50051',
  });
  assert.equal(j.exitCode, 0, j.stderr);
  assert.deepEqual((await lab.info('node1')).members.map((m: Json) => m.node_id.id), ['node1', 'node2', 'node3']);
  await waitUntil('healthy', async () => (await lab.fam.health()).healthy);
  assert.deepEqual(lab.effectLines(), ['node3 ledger.leave', 'node3 ledger.start:join']);

  // Removing a running voter shuts it down; restarted with its old configuration it follows no one.
  assert.deepEqual(await rpc(lab.addr('node1'), 'AdminService', 'LeaveCluster', { node_id: { id: 'node3' } }), { removed: true });
  await waitUntil('node3 shut down', async () => !(await portOpen(lab.addr('node3'))));
  assert.equal((await lab.sh('node3', 'systemctl', ['start', 'ledger'])).exitCode, 0);
  const i3 = await lab.info('node3');
  assert.equal(i3.leader_id, null);
  assert.equal(await lab.serving('node3'), 'NOT_SERVING');
  const err = await rpcError(lab.addr('node3'), 'WriteService', 'Write', { ...vaultReq('audit'), payload: Buffer.from('x') });
  assert.equal(err.code, grpc.status.UNAVAILABLE);
  assert.deepEqual((await lab.info('node1')).members.map((m: Json) => m.node_id.id), ['node1', 'node2']);
  assert.equal(await lab.serving('node1'), 'SERVING');
});

test('vault divergence: the bug metric, DIVERGED status, failed integrity, RecoverVault from a replica', async (t) => {
  const lab = await startLab(t);
  await lab.fam.breakFault('ledger.vault-divergence');
  const bad = 'node3';
  assert.match(await (await fetch(lab.eps.get(bad)!.metricsUrl!)).text(), /^ledger_determinism_bug_total\{organization="1",vault="payments"\} 1$/m);
  assert.equal((await rpc(lab.addr(bad), 'AdminService', 'GetVault', vaultReq('payments'))).vault.status, 'DIVERGED');
  const broken = await rpc(lab.addr(bad), 'AdminService', 'CheckIntegrity', { ...vaultReq('payments'), full_check: true });
  assert.equal(broken.ok, false);
  assert.match(broken.problems.join('\n'), /block 2: hash mismatch/);
  assert.equal((await rpc(lab.addr('node1'), 'AdminService', 'CheckIntegrity', { ...vaultReq('payments'), full_check: true })).ok, true);

  const snap = await rpc(lab.addr('node1'), 'AdminService', 'CreateSnapshot', vaultReq('payments'));
  assert.equal(snap.height, 6);
  assert.ok(existsSync(join(lab.root('node1'), 'data', 'snapshots', `${snap.snapshot_id}.json`)));

  assert.deepEqual(await rpc(lab.addr(bad), 'AdminService', 'RecoverVault', vaultReq('payments')), { recovered: true, status: 'ACTIVE' });
  assert.equal((await rpc(lab.addr(bad), 'AdminService', 'CheckIntegrity', { ...vaultReq('payments'), full_check: true })).ok, true);
  assert.equal((await rpc(lab.addr(bad), 'AdminService', 'GetVault', vaultReq('payments'))).vault.status, 'ACTIVE');
  assert.deepEqual(lab.effectLines(), ['node1 ledger.snapshot', 'node3 ledger.recover-vault']);

  // Tampering with the data file on disk is found too.
  const file = join(lab.root('node2'), 'data', 'ledger-state.json');
  const st = JSON.parse(readFileSync(file, 'utf8'));
  st.organizations['1'].vaults.audit.blocks[0].payload = Buffer.from('forged').toString('base64');
  writeFileSync(file, JSON.stringify(st));
  const r = await rpc(lab.addr('node2'), 'AdminService', 'CheckIntegrity', { ...vaultReq('audit'), full_check: true });
  assert.equal(r.ok, false);
});

test('shims: usage errors, paths outside the host, idempotent start and stop', async (t) => {
  const lab = await startLab(t);
  for (const argv of [['stop', 'nginx'], ['frobnicate', 'ledger'], ['--bogus', 'stop', 'ledger'], []]) {
    const r = await lab.sh('node1', 'systemctl', argv);
    assert.equal(r.exitCode, 2, argv.join(' '));
    assert.ok(r.stderr, 'a usage message');
  }
  const status = await lab.sh('node1', 'systemctl', ['status', 'ledger', '--no-pager']);
  assert.equal(status.exitCode, 0);
  assert.match(status.stdout, /Active: active \(running\)/);
  assert.equal((await lab.sh('node1', 'inferadb-ledger', ['--frob'])).exitCode, 2);
  assert.equal((await lab.sh('node1', 'inferadb-ledger', ['--single', '--data', '../../etc'])).exitCode, 2);
  const both = await lab.sh('node1', 'inferadb-ledger', ['--single'], { INFERADB__LEDGER__JOIN: 'true', INFERADB__LEDGER__PEERS: 'node2' });
  assert.equal(both.exitCode, 2);
  assert.equal((await lab.sh('node1', 'inferadb-ledger', [], { INFERADB__LEDGER__CLUSTER: '3', INFERADB__LEDGER__PEERS: 'node1,node2' })).exitCode, 2);
  assert.equal((await lab.sh('node1', 'inferadb-ledger', [], { INFERADB__LEDGER__CLUSTER: '3', INFERADB__LEDGER__PEERS: 'node1,ghost,node3' })).exitCode, 2);

  // Running in cluster mode: the same command again is a no-op; another mode collides on the port.
  const same = await lab.sh('node1', 'inferadb-ledger', [], { INFERADB__LEDGER__CLUSTER: '3', INFERADB__LEDGER__PEERS: 'node1,node2,node3' });
  assert.equal(same.exitCode, 0, same.stderr);
  const other = await lab.sh('node1', 'inferadb-ledger', ['--single']);
  assert.equal(other.exitCode, 1);
  assert.match(other.stderr ?? '', /address already in use/);
  assert.equal((await lab.sh('node1', 'systemctl', ['start', 'ledger'])).exitCode, 0);

  // Stop twice, start twice: one effect each. systemctl start reruns cluster mode with the same identity.
  const id = (await lab.info('node2')).cluster_id;
  for (let i = 0; i < 2; i++) assert.equal((await lab.sh('node2', 'systemctl', ['stop', 'ledger'])).exitCode, 0);
  for (let i = 0; i < 2; i++) assert.equal((await lab.sh('node2', 'systemctl', ['start', 'ledger'])).exitCode, 0);
  assert.equal((await lab.info('node2')).cluster_id, id);
  // A bare `inferadb-ledger` or `systemctl start` resumes a single-node cluster; only --single mints an identity.
  assert.equal((await lab.sh('node1', 'systemctl', ['stop', 'ledger'])).exitCode, 0);
  assert.equal((await lab.sh('node1', 'inferadb-ledger', ['--single'])).exitCode, 0);
  const singleId = (await lab.info('node1')).cluster_id;
  assert.notEqual(singleId, id);
  assert.equal((await lab.sh('node1', 'systemctl', ['restart', 'ledger'])).exitCode, 0);
  assert.equal((await lab.info('node1')).cluster_id, singleId);
  assert.equal((await lab.sh('node1', 'systemctl', ['stop', 'ledger'])).exitCode, 0);
  assert.equal((await lab.sh('node1', 'inferadb-ledger', [])).exitCode, 0);
  assert.equal((await lab.info('node1')).cluster_id, singleId);
  assert.equal((await lab.info('node1')).mode, 'single');
  assert.equal((await lab.sh('node1', 'systemctl', ['stop', 'ledger'])).exitCode, 0);
  assert.equal((await lab.sh('node1', 'inferadb-ledger', ['--single'])).exitCode, 0);
  assert.notEqual((await lab.info('node1')).cluster_id, singleId, 'each --single is a new identity');
  assert.deepEqual(lab.effectLines(), [
    'node2 ledger.stop:cluster',
    'node2 ledger.start:cluster',
    'node1 ledger.stop:cluster',
    'node1 ledger.start:single',
    'node1 ledger.stop:single',
    'node1 ledger.start:single',
    'node1 ledger.stop:single',
    'node1 ledger.start:single',
    'node1 ledger.stop:single',
    'node1 ledger.start:single',
  ]);
  lab.effects.clear();
  // Concurrent starts and stops serialize per node.
  await Promise.all([lab.sh('node3', 'systemctl', ['stop', 'ledger']), lab.sh('node3', 'systemctl', ['stop', 'ledger'])]);
  await Promise.all([lab.sh('node3', 'systemctl', ['start', 'ledger']), lab.sh('node3', 'systemctl', ['start', 'ledger'])]);
  assert.deepEqual(lab.effectLines(), ['node3 ledger.stop:cluster', 'node3 ledger.start:cluster']);
  assert.equal((await lab.fam.health()).nodes[0]!.state, 'single');
  await assert.rejects(lab.fam.breakFault('ledger.nope'), /unknown fault/);
});

// ------------------------------------------------------------ DR region --

/** The primary and its DR region (lab/ledger/dr.ts), laid out as the lab core does. */
async function startDrLab(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'lab-ledger-dr-'));
  const effects = new EffectLog();
  const primary = new LedgerFamily({ electionMs: 100 });
  const dr = new LedgerDrFamily({ primary, electionMs: 100, rolloutMs: 300 });
  const root = (cluster: string) => (n: string) => join(dir, 'hosts', cluster, n);
  await primary.start({ hostRoot: root('lab-ledger'), effects });
  await dr.start({ hostRoot: root('lab-ledger-dr'), effects });
  t.after(async () => {
    await dr.stop();
    await primary.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const drRoot = root('lab-ledger-dr');
  const eps = new Map(dr.endpoints().map((e) => [e.name, e]));
  const addr = (n: string) => eps.get(n)!.grpc!.address;
  const sh = (node: string, tool: string, argv: string[], env: Record<string, string> = {}, cwd = join(drRoot(node), dr.hostWorkdir(node))) =>
    dr.shim({ node, tool, argv, env, cwd, root: drRoot(node) });
  const kubectl = (...argv: string[]) => sh('bastion', 'kubectl', argv);
  const drLines = () => effects.list({ cluster: 'lab-ledger-dr' }).map((e) => `${e.node} ${e.effect}`);
  return { dir, primary, dr, effects, eps, addr, sh, kubectl, drRoot, drLines };
}

test('DR region: standby voters, a bastion with kubectl, the replicated bucket, the engine on the primary', async (t) => {
  const lab = await startDrLab(t);
  assert.deepEqual(lab.dr.nodeNames, ['dr-node1', 'dr-node2', 'dr-node3', 'bastion']);
  assert.deepEqual([...lab.eps.values()].map((e) => [e.name, e.roles, !!e.grpc]), [
    ['dr-node1', ['voter'], true],
    ['dr-node2', ['voter'], true],
    ['dr-node3', ['voter'], true],
    ['bastion', ['bastion'], false],
  ]);
  assert.equal(lab.dr.settings().dataDir, './data');
  assert.equal(lab.dr.settings().replicaSource, 's3://ledger-primary-backups/latest/');
  assert.equal(lab.primary.settings().drCluster, 'lab-ledger-dr');
  // Standby: the machines answer SSH commands, the ledger ports are closed.
  for (const n of ['dr-node1', 'dr-node2', 'dr-node3']) assert.equal(await portOpen(lab.addr(n)), false);
  const h = await lab.dr.health();
  assert.equal(h.healthy, true, h.summary);
  assert.deepEqual(h.nodes.map((n) => n.state), ['standby', 'standby', 'standby', 'up']);
  assert.match(h.summary, /engine on the primary ledger, 3\/3 pods ready/);

  const ls = await lab.sh('dr-node1', 'aws', ['s3', 'ls', 's3://ledger-primary-backups/latest/']);
  assert.equal(ls.exitCode, 0, ls.stderr);
  assert.match(ls.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d+ ledger-state\.json\n$/);
  const cm = await lab.kubectl('get', 'configmap', 'ledger-config', '-o', 'json');
  assert.deepEqual(JSON.parse(cm.stdout).data, { LEDGER_ENDPOINT: 'ledger.primary-region.internal:50051' });
  // kubectl runs on the bastion only, and refuses what it does not know.
  assert.equal((await lab.sh('dr-node1', 'kubectl', ['get', 'configmap', 'ledger-config', '-o', 'json'])).exitCode, 127);
  assert.match((await lab.kubectl('get', 'configmap', 'nope', '-o', 'json')).stderr ?? '', /NotFound/);
  assert.match((await lab.kubectl('delete', 'deployment', 'engine')).stderr ?? '', /unknown command/);
  assert.deepEqual(lab.drLines(), []);
});

test('DR region: regional-failover fault, then the runbook by hand: sync, start, patch, restart, rollout status', async (t) => {
  const lab = await startDrLab(t);
  await lab.dr.breakFault('ledger.regional-failover');
  const primaryHealth = await lab.primary.health();
  assert.equal(primaryHealth.healthy, false);
  assert.deepEqual(primaryHealth.nodes.map((n) => n.state), ['down', 'down', 'down']);
  let h = await lab.dr.health();
  assert.equal(h.healthy, false);
  assert.match(h.summary, /replicated 7 min ago.*engine on the primary ledger, 0\/3 pods ready/);
  const ls = await lab.sh('dr-node1', 'aws', ['s3', 'ls', 's3://ledger-primary-backups/latest/']);
  const stamp = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)/.exec(ls.stdout)!;
  const age = Date.now() - Date.parse(`${stamp[1]}T${stamp[2]}Z`);
  assert.ok(age > 6 * 60_000 && age < 8 * 60_000, `replica age ${age} ms`);

  // Rollout status waits, then times out like kubectl, while nothing serves.
  const stuck = await lab.kubectl('rollout', 'status', 'deployment/engine', '--timeout=1s');
  assert.equal(stuck.exitCode, 1);
  assert.match(stuck.stderr ?? '', /timed out waiting for the condition/);

  for (const n of ['dr-node1', 'dr-node2', 'dr-node3']) {
    const s = await lab.sh(n, 'aws', ['s3', 'sync', 's3://ledger-primary-backups/latest/', './data/']);
    assert.equal(s.exitCode, 0, s.stderr);
    assert.match(s.stdout, /^download: s3:\/\/ledger-primary-backups\/latest\/ledger-state\.json to \.\/data\/ledger-state\.json\n$/);
    assert.ok(existsSync(join(lab.drRoot(n), 'dr-region', 'data', 'ledger-state.json')));
  }
  // A second sync copies nothing and records nothing.
  assert.equal((await lab.sh('dr-node1', 'aws', ['s3', 'sync', 's3://ledger-primary-backups/latest/', './data/'])).stdout, '');
  assert.match((await lab.sh('dr-node1', 'aws', ['s3', 'sync', 's3://no-such-bucket/latest/', './data/'])).stderr ?? '', /NoSuchBucket/);

  const peers = ['dr-node1', 'dr-node2', 'dr-node3'].map(lab.addr).join(',');
  for (const n of ['dr-node1', 'dr-node2', 'dr-node3']) {
    const s = await lab.sh(n, 'inferadb-ledger', ['--data', './data'], { INFERADB__LEDGER__DATA: './data', INFERADB__LEDGER__CLUSTER: '3', INFERADB__LEDGER__PEERS: peers });
    assert.equal(s.exitCode, 0, s.stderr);
  }
  await waitUntil('the DR cluster elects a leader', async () => (await rpc(lab.addr('dr-node2'), 'HealthService', 'Check')).status === 'SERVING');
  const info = await rpc(lab.addr('dr-node3'), 'AdminService', 'GetClusterInfo');
  assert.equal(info.leader_id.id, 'dr-node1');
  // The replicated data: the primary's vaults, intact.
  for (const r of await integrityAll(lab.addr('dr-node1'))) assert.ok(r.ok, r.vault);
  assert.deepEqual(Object.keys(await heights(lab.addr('dr-node1'))).sort(), ['audit', 'identity', 'payments']);
  h = await lab.dr.health();
  assert.equal(h.healthy, false, 'the engine still points at the primary');

  const patch = await lab.kubectl('patch', 'configmap', 'ledger-config', '-p', '{"data":{"LEDGER_ENDPOINT":"ledger.dr-region.internal:50051"}}');
  assert.equal(patch.stdout, 'configmap/ledger-config patched\n', patch.stderr);
  assert.equal((await lab.kubectl('patch', 'configmap', 'ledger-config', '-p', '{"data":{"LEDGER_ENDPOINT":"ledger.dr-region.internal:50051"}}')).stdout, 'configmap/ledger-config patched (no change)\n');
  assert.equal((await lab.kubectl('rollout', 'restart', 'deployment/engine')).stdout, 'deployment.apps/engine restarted\n');
  const status = await lab.kubectl('rollout', 'status', 'deployment/engine', '--timeout=10s');
  assert.equal(status.exitCode, 0, status.stderr);
  assert.match(status.stdout, /deployment "engine" successfully rolled out\n$/);
  const dep = JSON.parse((await lab.kubectl('get', 'deployment', 'engine', '-o', 'json')).stdout);
  assert.equal(dep.status.readyReplicas, 3);

  h = await lab.dr.health();
  assert.equal(h.healthy, true, h.summary);
  assert.match(h.summary, /DR cluster serving; engine on the DR ledger, 3\/3 pods ready/);
  assert.deepEqual(lab.drLines(), [
    'dr-node1 ledger.dr-sync',
    'dr-node2 ledger.dr-sync',
    'dr-node3 ledger.dr-sync',
    'dr-node1 ledger.start',
    'dr-node2 ledger.start',
    'dr-node3 ledger.start',
    'bastion k8s.configmap-patched',
    'bastion k8s.rollout-restarted',
  ]);
  const patched = lab.effects.list({ effect: 'k8s.configmap-patched' })[0]!;
  assert.deepEqual(patched.detail, { configmap: 'ledger-config', key: 'LEDGER_ENDPOINT', from: 'ledger.primary-region.internal:50051', to: 'ledger.dr-region.internal:50051' });
});
