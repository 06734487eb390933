/**
 * The lab's ledger on its simulation backend (lab/ledger/sim), driven as
 * Lifeboat drives it: real SSH into the lab's hosts with the shims, gRPC on
 * Lifeboat's own ledger proto, and Lifeboat's activities. The shared cases
 * (test/helpers/lab-ledger-cases.ts) also run against real inferadb-ledger
 * processes in test/conformance/lab-ledger-real.test.ts; the tests below
 * them cover what only the simulation can show quickly or at all.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { LedgerFamily } from '../../lab/ledger';
import * as cases from '../helpers/lab-ledger-cases';
import { callLeader, FAST_SIM, nodeIds, nodeView, NODES, PRIMARY, retry, startLedgerLab, VAULT, vaultLeaderId, vaultMsg, type LedgerLab } from '../helpers/lab-ledger';

const T = { timeout: 120_000 };

describe('lab ledger (sim): the cases shared with the real server', () => {
  const one = (name: string, fn: (l: LedgerLab) => Promise<void>, families: Parameters<typeof startLedgerLab>[1] = ['ledger']): void => {
    test(name, T, async () => {
      const l = await startLedgerLab('sim', families);
      try {
        await fn(l);
      } finally {
        await l.stop();
      }
    });
  };
  one('forms, seeds, and answers like the real server', cases.formedAndSeeded);
  one('ledger.node-failure, then Lifeboat\'s replacement of the node', cases.nodeFailure);
  one('ledger.quorum-loss, then Lifeboat\'s new cluster from the survivor\'s export', cases.quorumLoss);
  one('ledger.full-restore, then Lifeboat\'s restore from the archive', cases.fullRestore);
  one('ledger.vault-divergence heals by itself', cases.vaultDivergence);
  one('ledger.regional-failover, then Lifeboat\'s failover to the DR region', cases.regionalFailover, ['ledger', 'ledger-dr']);
  one('a node restarted on its old data never catches up; a cluster restarted whole takes no write', cases.staleRestarts);
  one('an uninitialized node leads itself alone and is never joined; init forms the cluster and the others join', cases.uninitialized, ['ledger', 'ledger-dr']);
});

/** Runs `fn` on a fresh simulated lab, stopped afterwards. */
async function withLab(fn: (l: LedgerLab) => Promise<void>, families: Parameters<typeof startLedgerLab>[1] = ['ledger']): Promise<void> {
  const l = await startLedgerLab('sim', families);
  try {
    await fn(l);
  } finally {
    await l.stop();
  }
}

const portOpen = (address: string): Promise<boolean> =>
  new Promise((ok) => {
    const [host, port] = address.split(':');
    const s = connect({ host: host!, port: Number(port) });
    s.once('connect', () => {
      s.destroy();
      ok(true);
    });
    s.once('error', () => ok(false));
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const write = (key: string) => ({ ...vaultMsg, client_id: { id: 'test' }, idempotency_key: randomBytes(16), operations: [{ set_entity: { key, value: Buffer.from(key) } }] });

/** The GLOBAL leader's and the seeded vault leader's node names. */
async function leaders(l: LedgerLab): Promise<{ global: string; vault: string; ids: Map<string, string> }> {
  const ids = await nodeIds(l);
  const name = (id: string) => [...ids].find(([, v]) => v === id)![0];
  return { global: name((await nodeView(l.addr('node1'), ''))!.leaderId), vault: name(await vaultLeaderId(l)), ids };
}

describe('lab ledger (sim): what only the simulation shows', () => {
  test('shims over SSH: systemctl runs the unit, inferadb-ledger answers --version and init, aws reads and writes the buckets; effects only for changes', T, () =>
    withLab(async (l) => {
      assert.deepEqual(l.effectsSince(0), [], 'the lab\'s own forming and seeding record nothing');
      const id2 = readFileSync(join(l.dataDir('node2'), 'node_id'), 'utf8');
      assert.deepEqual(await l.sh('node2', 'systemctl is-active ledger'), { code: 0, stdout: 'active\n', stderr: '' });
      const status = await l.sh('node2', 'systemctl status ledger');
      assert.equal(status.code, 0);
      assert.match(status.stdout, /ExecStart: \S*inferadb-ledger --listen 127\.0\.0\.1:\d+ --data \S+\/node2\/data --metrics 127\.0\.0\.1:\d+ --join 127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+ --email-blinding-key [0-9a-f]{64}/);
      assert.equal((await l.sh('node2', 'systemctl start ledger')).code, 0);
      assert.equal((await l.sh('node2', 'systemctl frobnicate ledger')).code, 2);
      assert.match((await l.sh('node2', 'systemctl stop nginx')).stderr, /Unit nginx\.service not loaded/);
      assert.equal((await l.sh('node2', 'inferadb-ledger --version')).stdout, 'inferadb-ledger 0.1.0\n');
      const init = await l.sh('node2', `inferadb-ledger init --host ${l.addr('node2')}`);
      assert.match(init.stdout, /^Cluster already initialized\. cluster_id=\d+\n$/);
      const byHand = await l.sh('node2', 'inferadb-ledger --listen 127.0.0.1:1 --data data');
      assert.deepEqual([byHand.code, /systemctl start ledger/.test(byHand.stderr)], [2, true]);
      assert.equal((await l.sh('node2', 'systemctl stop ledger')).code, 0);
      assert.deepEqual(await l.sh('node2', 'systemctl is-active ledger'), { code: 3, stdout: 'inactive\n', stderr: '' });
      assert.equal(await portOpen(l.addr('node2')), false);
      assert.equal((await l.sh('node2', 'systemctl stop ledger')).code, 0);
      assert.equal((await l.sh('node2', 'cat data/node_id')).stdout, id2, 'the data directory is real');
      assert.equal((await l.sh('node2', 'systemctl start ledger')).code, 0);
      assert.equal((await nodeView(l.addr('node2'), ''))?.nodeId, id2, 'restarted on its data: same id');

      const url = 's3://ledger-backups/latest/ledger-export.jsonl';
      assert.equal((await l.sh('node3', `aws s3 ls ${url}`)).code, 1, 'nothing archived yet');
      assert.match((await l.sh('node3', `mkdir -p exports && printf hi > exports/x && aws s3 cp exports/x ${url}`)).stdout, /^upload: exports\/x to s3:/);
      assert.match((await l.sh('node1', `aws s3 ls ${url}`)).stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+2 ledger-export\.jsonl\n$/);
      assert.equal((await l.sh('node1', `aws s3 cp ${url} got && cat got`)).stdout.split('\n').pop(), 'hi');
      assert.match((await l.sh('node1', 'aws s3 ls s3://nope/x')).stderr, /NoSuchBucket/);
      assert.deepEqual(l.effectsSince(0), ['node2 ledger.service.stop', 'node2 ledger.service.start', 'node3 ledger.archive-push']);
    }));

  test('Lifeboat\'s changes over gRPC are effects on the node that took them; the lab\'s own calls and faults are not Lifeboat\'s', T, () =>
    withLab(async (l) => {
      const { global, vault } = await leaders(l);
      await l.run(l.a.ledgerWriteCheck, { cluster: PRIMARY, ...VAULT });
      await l.run(l.a.ledgerVaultRecover, { cluster: PRIMARY, node: 'node3', ...VAULT });
      assert.deepEqual((await l.rpc(global, 'AdminService', 'ProvisionRegion', { name: 'eu-west-ie' })).created, true);
      const code = (await callLeader(l.addr('node1'), 'UserService', 'InitiateEmailVerification', { email: 'ops@lab.example', region: 'us-east-va' }, 5000, '')).res.code;
      const user = (await callLeader(l.addr('node1'), 'UserService', 'VerifyEmailCode', { email: 'ops@lab.example', code, region: 'us-east-va' }, 5000, '')).res.existing_user.user.slug;
      const org = { name: 'beta', region: 'us-east-va', caller: { slug: user }, slug: { slug: '500000000000000002' } };
      assert.equal((await l.rpc('node3', 'OrganizationService', 'CreateOrganization', org)).status, 'ORGANIZATION_STATUS_PROVISIONING');
      await l.rpc('node3', 'OrganizationService', 'CreateOrganization', org);
      await retry('beta to be active', async () => ((await l.rpc('node1', 'OrganizationService', 'GetOrganization', { slug: org.slug, caller: org.caller })).status === 'ORGANIZATION_STATUS_ACTIVE' ? true : undefined), 5000);
      await callLeader(l.addr('node3'), 'VaultService', 'CreateVault', { organization: org.slug, caller: org.caller, slug: { slug: '600000000000000002' } }, 5000, '');
      const from = l.lab.effects.list().length;
      await l.lab.break('ledger.node-failure');
      const victim = l.effectsSince(from)[0]!.split(' ')[0]!;
      const oldId = (await nodeIds(l)).get(victim) ?? (await leaders(l)).ids.get(victim);
      await l.run(l.a.ledgerRemoveMember, { cluster: PRIMARY, nodeId: readFileSync(join(l.dataDir(victim), 'node_id'), 'utf8') });
      assert.equal(oldId, undefined, 'the victim does not answer');
      assert.deepEqual(l.effectsSince(0), [
        `${vault} ledger.write`,
        'node3 ledger.recover-vault',
        `${global} ledger.region`,
        'node3 ledger.org',
        `${vault} ledger.vault`,
        `${victim} fault.kill`,
        `${victim} ledger.leave`,
      ]);
    }));

  test('a dead GLOBAL leader is still named until a majority elects another; a dead vault leader\'s writes wait for the election', T, () =>
    withLab(async (l) => {
      const { global, vault, ids } = await leaders(l);
      assert.notEqual(global, vault, 'the simulation keeps the region leader apart from the GLOBAL leader');
      await l.sh(global, 'systemctl stop ledger');
      const survivors = NODES.filter((n) => n !== global);
      for (const n of survivors) assert.equal((await nodeView(l.addr(n), ''))?.leaderId, ids.get(global), 'the survivors still name the dead leader');
      const next = await retry('a new GLOBAL leader', async () => {
        const v = await nodeView(l.addr(survivors[0]!), '');
        return v && v.leaderId !== ids.get(global) ? v : undefined;
      }, 10_000, 100);
      assert.ok(Number(next.term) > 1);
      await l.sh(global, 'systemctl start ledger'); // back on its old data: stale, it does not lead again
      await l.sh(vault, 'systemctl stop ledger');
      const refused = await l.rpcError(survivors.find((n) => n !== vault)!, 'WriteService', 'Write', write('k1'));
      assert.deepEqual([refused.code, refused.leaderEndpoint], [14, l.addr(vault)], 'the hint names the dead vault leader');
      const w = await retry('a write through a new vault leader', async () => (await l.run(l.a.ledgerWriteCheck, { cluster: PRIMARY, ...VAULT }).catch(() => undefined)) ?? undefined, 15_000, 200);
      assert.ok(w.leader !== vault && w.leader !== global, `the new vault leader ${w.leader} keeps up`);
    }));

  test('a quorum-loss survivor restarted: dependencies unhealthy and no leader', T, () =>
    withLab(async (l) => {
      const from = l.lab.effects.list().length;
      await l.lab.break('ledger.quorum-loss');
      const survivor = NODES.find((n) => !l.effectsSince(from).some((e) => e.startsWith(`${n} `)))!;
      await l.sh(survivor, 'systemctl restart ledger');
      const h = await l.rpc(survivor, 'HealthService', 'Check', {});
      assert.deepEqual([h.status, h.message, h.details.leader_id], ['HEALTH_STATUS_DEGRADED', 'Dependencies unhealthy', undefined]);
      assert.equal((await l.rpc(survivor, 'AdminService', 'GetClusterInfo')).leader_id, '0');
      assert.equal((await l.rpc(survivor, 'ReadService', 'Read', { ...vaultMsg, key: 'doc:3' })).value.length > 0, true, 'eventual reads still answer');
    }));

  test('ledger.vault-divergence-stuck never heals; SimulateDivergence on a GLOBAL leader that does not lead the region changes nothing (as the real server)', T, () =>
    withLab(async (l) => {
      const { global } = await leaders(l);
      const sd = await l.rpc(global, 'AdminService', 'SimulateDivergence', vaultMsg);
      assert.deepEqual([sd.success, /marked as diverged/.test(sd.message)], [true, true]);
      for (const n of NODES) assert.equal((await l.run(l.a.ledgerVaultHealth, { cluster: PRIMARY, node: n, ...VAULT })).status, 'healthy');
      await l.lab.break('ledger.vault-divergence-stuck');
      await sleep(FAST_SIM.healAfterMs! + 1000);
      for (const n of NODES) assert.equal((await l.run(l.a.ledgerVaultHealth, { cluster: PRIMARY, node: n, ...VAULT })).status, 'diverged', `${n} stays diverged`);
      const m = await Promise.all(NODES.map((n) => l.run(l.a.ledgerMetrics, { cluster: PRIMARY, node: n })));
      assert.deepEqual([m.map((x) => x.divergedVaults), m.reduce((x, y) => x + y.determinismBugs, 0)], [[1, 1, 1], 0], 'every replica exports the diverged gauge; no recovery ran');
    }));

  test('host.refuse-api: Lifeboat\'s changes are refused (UNAUTHENTICATED), reads answer; stop() closes every port', T, () =>
    withLab(async (l) => {
      const { vault } = await leaders(l);
      await l.lab.break(`host.refuse-api:${PRIMARY}/${vault}`);
      assert.equal((await l.rpcError(vault, 'WriteService', 'Write', write('k'))).code, 16);
      assert.equal((await l.rpcError(vault, 'AdminService', 'RecoverVault', vaultMsg)).code, 16);
      assert.ok((await l.rpc(vault, 'ReadService', 'Read', { ...vaultMsg, key: 'doc:1' })).value);
      assert.equal((await l.rpc(vault, 'AdminService', 'GetClusterInfo')).members.length, 3);
      await l.lab.break(`host.heal:${PRIMARY}/${vault}`);
      assert.ok((await l.rpc(vault, 'WriteService', 'Write', write('k'))).success);
      const addresses = NODES.flatMap((n) => [l.addr(n), new URL(l.metricsUrl(n)).host]);
      for (const a of addresses) assert.equal(await portOpen(a), true, a);
      await l.lab.stop();
      for (const a of addresses) assert.equal(await portOpen(a), false, `${a} still open after stop()`);
    }));

  test('the fault lists: the stuck divergence exists in the simulation only', () => {
    assert.ok(new LedgerFamily().faults.includes('ledger.vault-divergence-stuck'));
    assert.deepEqual(new LedgerFamily({ backend: 'real' }).faults, ['ledger.quorum-loss', 'ledger.node-failure', 'ledger.vault-divergence', 'ledger.full-restore']);
  });
});
