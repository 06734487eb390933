/**
 * The lab's gossip family (seed 003): HTTP shapes, the six faults with their
 * symptoms and runbook remedies (admin API, systemctl and rm over the lab's real
 * SSH), effects exactly once per real transition, seed TCP ports, health.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'ssh2';
import { parse as parseYaml } from 'yaml';
import { startLab, type Lab } from '../../lab/index';

const CLUSTER = 'lab-gossip';
const NODES = ['gossip1', 'gossip2', 'gossip3', 'gossip4', 'gossip5'];

interface InvNode {
  name: string;
  roles: string[];
  http: { baseUrl: string; authToken: string };
}
interface Inv {
  clusters: Record<string, { system: string; nodes: InvNode[]; settings: Record<string, string | number> }>;
}

let lab: Lab;
let dir: string;
let inv: Inv;
let token: string;

const url = (node: string): string => inv.clusters[CLUSTER]!.nodes.find((n) => n.name === node)!.http.baseUrl;

async function peers(node: string): Promise<{ node: string; peers: { eager: string[]; lazy: string[] }; members: string[] }> {
  const res = await fetch(`${url(node)}/debug/peers`, { signal: AbortSignal.timeout(3000) });
  assert.equal(res.status, 200);
  return (await res.json()) as { node: string; peers: { eager: string[]; lazy: string[] }; members: string[] };
}

async function metrics(node: string): Promise<Record<string, number>> {
  const res = await fetch(`${url(node)}/metrics`, { signal: AbortSignal.timeout(3000) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const out: Record<string, number> = {};
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-z_]+)\{[^}]*\} (\S+)$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

async function admin(node: string, path: string, body?: unknown, auth = true): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url(node)}/admin/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body ?? {}),
    signal: AbortSignal.timeout(3000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function sshExec(node: string, command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    const timer = setTimeout(() => {
      c.end();
      reject(new Error(`ssh ${node} "${command}" timed out`));
    }, 15_000);
    c.once('ready', () => {
      c.exec(command, (err, stream) => {
        if (err) return reject(err);
        const r = { code: null as number | null, stdout: '', stderr: '' };
        stream.on('data', (d: Buffer) => (r.stdout += d.toString()));
        stream.stderr.on('data', (d: Buffer) => (r.stderr += d.toString()));
        stream.on('exit', (code: number | null) => (r.code = code));
        stream.on('close', () => {
          clearTimeout(timer);
          c.end();
          resolve(r);
        });
      });
    });
    c.on('error', (err) => {
      clearTimeout(timer);
      c.end();
      reject(err);
    });
    c.connect({
      host: '127.0.0.1',
      port: lab.host(CLUSTER, node).port,
      username: 'lifeboat',
      privateKey: readFileSync(join(lab.dir, 'keys', 'id_ed25519')),
      readyTimeout: 5000,
    });
  });
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const count = (effect: string, node?: string): number => lab.effects.count({ cluster: CLUSTER, effect, ...(node ? { node } : {}) });

async function healthy(): Promise<boolean> {
  const h = (await lab.health()).find((c) => c.cluster === CLUSTER)!;
  return h.healthy;
}

describe('lab gossip family', () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-lab-gossip-'));
    lab = await startLab({ dir, families: ['gossip'], bootMs: 300 });
    inv = parseYaml(readFileSync(lab.inventoryPath, 'utf8')) as Inv;
    const ref = inv.clusters[CLUSTER]!.nodes[0]!.http.authToken;
    token = readFileSync(ref.replace(/^file:/, ''), 'utf8').trim();
  });
  after(async () => {
    await lab?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes an inventory entry with seeds, roles and settings', () => {
    const c = inv.clusters[CLUSTER]!;
    assert.equal(c.system, 'gossip');
    assert.deepEqual(c.nodes.map((n) => n.name), NODES);
    assert.deepEqual(c.nodes.map((n) => n.roles[0]), ['seed', 'seed', 'member', 'member', 'member']);
    assert.equal(c.settings.serviceName, 'plumtree');
    assert.equal(c.settings.dataDir, 'var/lib/plumtree/data');
    assert.deepEqual(lab.faults, [
      'gossip.isolated-node',
      'gossip.partition',
      'gossip.multi-node-failure',
      'gossip.total-loss',
      'gossip.cache-corruption',
      'gossip.split-brain',
    ]);
  });

  it('serves /debug/peers, /metrics and /health in shape; admin wants the token', async () => {
    assert.equal(await healthy(), true);
    const p = await peers('gossip1');
    assert.equal(p.node, 'gossip1');
    assert.equal(p.peers.eager.length, 3);
    assert.equal(p.peers.lazy.length, 1);
    assert.deepEqual([...p.members].sort(), NODES);
    const m = await metrics('gossip1');
    for (const k of [
      'plumtree_eager_peers',
      'plumtree_lazy_peers',
      'plumtree_total_peers',
      'plumtree_graft_failed_total',
      'plumtree_messages_partitioned_total',
      'plumtree_sync_pending',
      'plumtree_sync_converged',
      'plumtree_malformed_messages_total',
    ]) assert.equal(typeof m[k], 'number', k);
    assert.equal(m.plumtree_total_peers, 4);
    assert.equal(m.plumtree_sync_converged, 1);
    const h = await fetch(`${url('gossip3')}/health`);
    assert.equal(h.status, 200);
    assert.equal((await admin('gossip3', 'leave', {}, false)).status, 401);
    assert.equal(count('gossip.leave'), 0);
  });

  it('isolated node: no peers; leave + join via a seed heals it, one effect each', async () => {
    await lab.break('gossip.isolated-node');
    const victim = NODES.find((n) => n !== 'gossip1' && n !== 'gossip2')!;
    const m = await metrics(victim);
    assert.equal(m.plumtree_eager_peers, 0);
    assert.equal(m.plumtree_lazy_peers, 0);
    assert.equal(await healthy(), false);
    const seeds = String(inv.clusters[CLUSTER]!.settings.seeds).split(',');
    assert.equal((await admin(victim, 'leave')).status, 200);
    assert.equal((await admin(victim, 'leave')).status, 200); // already left: no second effect
    assert.equal((await peers(victim)).peers.eager.length, 0);
    assert.equal((await admin(victim, 'join', { seeds })).status, 200);
    assert.equal((await admin(victim, 'join', { seeds })).status, 200);
    assert.equal(count('gossip.leave', victim), 1);
    assert.equal(count('gossip.join', victim), 1);
    assert.equal((await metrics(victim)).plumtree_eager_peers, 3);
    assert.equal(await healthy(), true);
  });

  it('partition: disjoint peer lists, partitioned counter rising; heals only after rebalance on every node', async () => {
    await lab.break('gossip.partition');
    const a = await peers('gossip1');
    const b = await peers('gossip5');
    assert.ok(a.members.length > 1 && b.members.length > 1);
    assert.equal(a.members.filter((x) => b.members.includes(x)).length, 0);
    const m1 = (await metrics('gossip1')).plumtree_messages_partitioned_total!;
    await sleep(300);
    assert.ok((await metrics('gossip1')).plumtree_messages_partitioned_total! > m1);
    for (const n of NODES.slice(0, -1)) assert.equal((await admin(n, 'rebalance')).status, 200);
    assert.equal(await healthy(), false, 'no recovery until every node rebalanced');
    assert.equal((await admin('gossip5', 'rebalance')).status, 200);
    assert.equal(await healthy(), true);
    assert.equal((await peers('gossip1')).members.length, 5);
    assert.equal(count('gossip.rebalance'), 5);
    await admin('gossip1', 'rebalance');
    assert.equal(count('gossip.rebalance'), 5, 'a rebalance on a healthy cluster is no transition');
  });

  it('multiple node failure: total peers drop, graft failures rise; systemctl start over SSH heals', async () => {
    await lab.break('gossip.multi-node-failure');
    const m = await metrics('gossip1');
    assert.ok(m.plumtree_total_peers! < 4);
    await sleep(300);
    assert.ok((await metrics('gossip1')).plumtree_graft_failed_total! > 0);
    const down: string[] = [];
    for (const n of NODES) {
      const r = await sshExec(n, 'systemctl is-active plumtree');
      if (r.code !== 0) down.push(n);
    }
    assert.ok(down.length >= 1 && down.length < 3, `minority down: ${down.join(',')}`);
    assert.equal(count('gossip.stop'), 0, 'a crash is not an operator stop');
    for (const n of down) assert.equal((await sshExec(n, 'systemctl start plumtree')).code, 0);
    for (const n of down) assert.equal(count('gossip.start', n), 1);
    assert.equal(await healthy(), true);
    assert.equal((await metrics('gossip1')).plumtree_total_peers, 4);
  });

  it('seed port accepts while running and refuses when stopped; stop/start effects once each', async () => {
    const port = Number(String(inv.clusters[CLUSTER]!.settings.seeds).split(',')[0]!.split(':')[1]);
    assert.equal(await tcpOpen(port), true);
    assert.equal((await sshExec('gossip1', 'systemctl stop plumtree')).code, 0);
    assert.equal((await sshExec('gossip1', 'systemctl stop plumtree')).code, 0);
    assert.equal(await tcpOpen(port), false);
    await assert.rejects(fetch(`${url('gossip1')}/health`, { signal: AbortSignal.timeout(2000) }));
    assert.equal(count('gossip.stop', 'gossip1'), 1);
    assert.equal((await sshExec('gossip1', 'systemctl start plumtree')).code, 0);
    assert.equal(await tcpOpen(port), true);
    assert.equal(count('gossip.start', 'gossip1'), 1);
    assert.equal(await healthy(), true);
  });

  it('cache corruption: malformed counter rises; cleared via the API, or by stop, rm cache, start over SSH', async () => {
    await lab.break('gossip.cache-corruption');
    const victim = 'gossip3';
    const m0 = (await metrics(victim)).plumtree_malformed_messages_total!;
    await sleep(300);
    assert.ok((await metrics(victim)).plumtree_malformed_messages_total! > m0);
    assert.equal(await healthy(), false);
    assert.equal((await admin(victim, 'cache/clear')).status, 200);
    assert.equal((await admin(victim, 'cache/clear')).status, 200);
    assert.equal(count('gossip.cache-clear', victim), 1);
    const m1 = (await metrics(victim)).plumtree_malformed_messages_total!;
    await sleep(300);
    assert.equal((await metrics(victim)).plumtree_malformed_messages_total, m1);
    assert.equal(await healthy(), true);

    await lab.break('gossip.cache-corruption');
    assert.equal(await healthy(), false);
    assert.equal((await sshExec(victim, 'systemctl stop plumtree')).code, 0);
    const rm = await sshExec(victim, 'rm -rf var/lib/plumtree/data/cache/* && ls var/lib/plumtree/data/cache | wc -l');
    assert.equal(rm.code, 0);
    assert.equal(rm.stdout.trim(), '0');
    assert.equal((await sshExec(victim, 'systemctl start plumtree')).code, 0);
    assert.equal(await healthy(), true);
    await sleep(250);
    assert.equal((await metrics(victim)).plumtree_malformed_messages_total, 0);
  });

  it('split brain: two groups with diverging state; enabling sync converges them', async () => {
    await lab.break('gossip.split-brain');
    const a = await peers('gossip1');
    const b = await peers('gossip5');
    assert.equal(a.members.filter((x) => b.members.includes(x)).length, 0);
    const ma = await metrics('gossip1');
    const mb = await metrics('gossip5');
    assert.notEqual(ma.plumtree_state_version, mb.plumtree_state_version);
    assert.equal(ma.plumtree_sync_pending, 1);
    assert.equal(ma.plumtree_sync_converged, 0);
    assert.equal((await admin('gossip1', 'sync/enable')).status, 200);
    assert.equal(await healthy(), false, 'one side syncing alone does not converge');
    assert.equal((await admin('gossip5', 'sync/enable')).status, 200);
    await admin('gossip5', 'sync/enable');
    assert.equal(count('gossip.sync-enable'), 2);
    const after1 = await metrics('gossip1');
    const after5 = await metrics('gossip5');
    assert.equal(after1.plumtree_sync_converged, 1);
    assert.equal(after1.plumtree_sync_pending, 0);
    assert.equal(after1.plumtree_state_version, after5.plumtree_state_version);
    assert.equal(await healthy(), true);
  });

  it('total loss: every node down with corrupted state; start fails until the data dir is cleared', async () => {
    const starts = count('gossip.start');
    await lab.break('gossip.total-loss');
    assert.equal(await healthy(), false);
    for (const n of NODES) await assert.rejects(fetch(`${url(n)}/health`, { signal: AbortSignal.timeout(2000) }));
    const fail = await sshExec('gossip1', 'systemctl start plumtree');
    assert.notEqual(fail.code, 0);
    assert.match(fail.stderr, /corrupt/);
    assert.equal(count('gossip.start'), starts);
    for (const n of NODES) {
      assert.equal((await sshExec(n, 'systemctl stop plumtree')).code, 0);
      assert.equal((await sshExec(n, 'rm -rf var/lib/plumtree/data/*')).code, 0);
    }
    await sleep(300);
    assert.equal(count('gossip.state-cleared'), 5);
    assert.equal(count('gossip.stop'), 2, 'stopping a dead node is no transition');
    for (const n of NODES) assert.equal((await sshExec(n, 'systemctl start plumtree')).code, 0);
    assert.equal(count('gossip.start'), starts + 5);
    assert.equal(await healthy(), true);
    assert.equal((await peers('gossip5')).members.length, 5);
  });
});
