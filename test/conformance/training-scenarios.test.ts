/**
 * The seven training-cluster scenarios against REAL RingRift P2P
 * orchestrators (synaptent/RingRift 2aa9f89b5, ../shared/targets/ringrift/),
 * five of them, each in its own network, PID and mount namespaces (the lab's
 * real backend, lab/training-cluster/real/), driven as an operator drives
 * them: the same cases as test/e2e/training-scenarios.test.ts
 * (test/helpers/training-scenarios.ts), with the faults made for real
 * (SIGKILL of the leader, of every orchestrator, a whole outage; real SQLite
 * files corrupted or deleted; a model corrupted against its checksum).
 *
 * First, the isolation the real code must never run without: a node reaches
 * the other nodes and nothing else (not the machine's loopback services, not
 * an outside address), sees only its own processes, and has a /tmp of its
 * own. Then the real ai-service app (`app/main.py`) the lab runs in the
 * coordinator's namespaces: its sync surface, and its key nowhere in sight.
 * Last, nothing is left behind after the lab stops.
 *
 * Needs root, the tarball (LIFEBOAT_RINGRIFT_TARBALL or
 * ../shared/targets/ringrift/ai-service.tar.gz) and `npm run setup`'s
 * .tools/ringrift-venv: without them each test fails saying so.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { ringriftPython, ringriftTarball } from '../../lab/training-cluster/real/family';
import { existing, labId } from '../../lab/training-cluster/real/namespaces';
import type { Stack } from '../helpers/stack';
import { CLUSTER, runTrainingCase, TRAINING_CASES, trainingStack } from '../helpers/training-scenarios';

let stack: Stack | undefined;
let startError: Error | undefined;

before(async () => {
  try {
    stack = await trainingStack('real');
  } catch (err) {
    startError = err as Error;
  }
});
after(async () => {
  await stack?.stop();
});

function need(): Stack {
  if (!stack) throw new Error(`the real training cluster did not start: ${startError?.message ?? 'unknown'}`);
  return stack;
}

/** Runs a command on a node over the lab's SSH host (inside its namespaces) with the lab's own client: the node's view. */
function inNode(s: Stack, node: string, argv: string[]): Promise<{ code: number; out: string }> {
  const root = s.lab.host(CLUSTER, node).root;
  const prefix = s.lab.nodePrefix(CLUSTER, node);
  if (!prefix) throw new Error('the lab exposes no namespace prefix for the node');
  return new Promise((resolve) => {
    execFile(prefix[0]!, [...prefix.slice(1), ...argv], { cwd: root, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

/** A python one-liner in the node: connect to host:port, print "open" or the error. */
const connectPy = (host: string, port: number) =>
  `import socket\ns = socket.socket()\ns.settimeout(3)\ntry:\n    s.connect((${JSON.stringify(host)}, ${port}))\n    print("open")\nexcept Exception as e:\n    print("refused:", type(e).__name__, e)`;

describe('the real training cluster: isolation', () => {
  test('the target is there (tarball and virtualenv)', () => {
    assert.ok(existsSync(ringriftTarball()), `no RingRift tarball at ${ringriftTarball()}: put ../shared/targets/ringrift/ beside the checkout or set LIFEBOAT_RINGRIFT_TARBALL`);
    assert.ok(existsSync(ringriftPython()), `no ${ringriftPython()}: run npm run setup`);
  });

  test('a node reaches the other nodes and nothing outside its namespaces', async () => {
    const s = need();
    // A service on the machine's loopback, and on every address of the machine.
    const servers: Server[] = [];
    const listen = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const srv = createServer((c) => c.end('hello\n'));
        srv.once('error', reject);
        srv.listen(0, host, () => resolve((srv.address() as { port: number }).port));
        servers.push(srv);
      });
    try {
      const loop = await listen('127.0.0.1');
      const any = await listen('0.0.0.0');
      const py = ringriftPython();
      const probe = async (host: string, port: number) => (await inNode(s, 'tc-node2', [py, '-c', connectPy(host, port)])).out.trim();
      // The other node's orchestrator: reachable (that is the mesh).
      assert.equal(await probe('10.213.0.1', 8770), 'open');
      // The machine's loopback service, seen from the node: its loopback is its own.
      assert.match(await probe('127.0.0.1', loop), /^refused/);
      // The machine's service on every address, through any address the machine has: no route.
      for (const addr of machineAddresses()) assert.match(await probe(addr, any), /^refused/, `${addr}:${any} from tc-node2`);
      // A public address (one of the code's own bootstrap seeds would be like it): no route.
      assert.match(await probe('1.1.1.1', 443), /^refused: OSError .*(unreachable|Network is unreachable)/i);
      // Its routes: the nodes' subnet only, no default route.
      const routes = (await inNode(s, 'tc-node2', ['ip', 'route'])).out;
      assert.doesNotMatch(routes, /default/);
    } finally {
      for (const srv of servers) srv.close();
    }
  });

  test('a node sees only its own processes and has its own /tmp', async () => {
    const s = need();
    const ps = (await inNode(s, 'tc-node3', ['ps', '-eo', 'pid,args'])).out;
    assert.match(ps, /scripts\/p2p_orchestrator\.py --node-id tc-node3/);
    assert.doesNotMatch(ps, /--node-id tc-node[1245]/, 'another node\'s orchestrator is visible');
    assert.doesNotMatch(ps, /node .*dist\/test/, 'the test runner is visible from the node');
    const mine = (await inNode(s, 'tc-node3', ['sh', '-c', 'echo node3 > /tmp/lb-tc-probe && cat /tmp/lb-tc-probe'])).out.trim();
    assert.equal(mine, 'node3');
    assert.equal(existsSync('/tmp/lb-tc-probe'), false, 'the node wrote into the machine\'s /tmp');
    const other = await inNode(s, 'tc-node4', ['cat', '/tmp/lb-tc-probe']);
    assert.notEqual(other.code, 0, 'another node sees tc-node3\'s /tmp');
  });
});

describe('the real training cluster: the ai-service app', () => {
  test('the real app/main.py runs in the coordinator\'s namespaces and answers the sync surface of seed 001; its key is in no log', async () => {
    const s = need();
    const inv = parseYaml(readFileSync(s.lab.inventoryPath, 'utf8')) as { clusters: Record<string, { settings: Record<string, string> }> };
    const settings = inv.clusters[CLUSTER]!.settings;
    const base = settings.aiServiceUrl!;
    assert.match(settings.syncAdminKey!, /^file:/, 'the key is a reference, not a value');
    const key = readFileSync(settings.syncAdminKey!.slice('file:'.length), 'utf8').trim();
    // The app runs in tc-node1's PID namespace only.
    assert.match((await inNode(s, 'tc-node1', ['ps', '-eo', 'args'])).out, /uvicorn app\.main:app/);
    assert.doesNotMatch((await inNode(s, 'tc-node2', ['ps', '-eo', 'args'])).out, /app\.main:app/);
    // The label-less gauges (0 at 2aa9f89b5: nothing sets them from hosts).
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const g of ['total', 'healthy', 'stale', 'critical']) assert.match(metrics, new RegExp(`^ringrift_sync_hosts_${g} \\d`, 'm'), `ringrift_sync_hosts_${g}`);
    const none = await fetch(`${base}/admin/sync/status`);
    assert.equal(none.status, 401);
    assert.deepEqual(await none.json(), { detail: 'X-Admin-Key header required' });
    const wrong = await fetch(`${base}/admin/sync/status`, { headers: { 'X-Admin-Key': 'not-the-key' } });
    assert.equal(wrong.status, 403);
    await wrong.arrayBuffer();
    const ok = await fetch(`${base}/admin/sync/status`, { headers: { 'X-Admin-Key': key } });
    const body = (await ok.json()) as { status?: string; sync?: { last_sync_times?: unknown } };
    assert.equal(ok.status, 200);
    assert.equal(body.status, 'ok');
    assert.deepEqual(body.sync?.last_sync_times, {});
    // The key: not in the app's log, not in the effect log, not on any command line.
    const log = readFileSync(`${s.lab.host(CLUSTER, 'tc-node1').root}/ai-service/logs/ai-service.log`, 'utf8');
    assert.ok(log.includes('RingRift AI Service started'), 'the app\'s log says it started');
    assert.ok(!log.includes(key), 'the admin key is in the app\'s log');
    assert.ok(!JSON.stringify(s.lab.effects.list({ cluster: CLUSTER })).includes(key), 'the admin key is in the effect log');
    const cmdlines = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map((d) => {
        try {
          return readFileSync(`/proc/${d}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      });
    assert.ok(!cmdlines.some((c) => c.includes(key)), 'the admin key is on a command line');
  });
});

describe('training-cluster scenarios on real RingRift orchestrators (the cases the simulation passes too)', () => {
  for (const c of TRAINING_CASES) {
    test(`${c.scenario} (real orchestrators): ${c.fault}, ${c.gates.length ? `gates ${c.gates.join(', ')} approved, ` : ''}completed, effects counted, healthy`, async () => {
      const t0 = Date.now();
      await runTrainingCase(need(), c, { backend: 'real', timeoutMs: 8 * 60_000 });
      console.log(`# ${c.scenario}: ${Math.round((Date.now() - t0) / 1000)} s`);
    });
  }
});

describe('the real training cluster: nothing left behind', () => {
  test('after the lab stops: no orchestrator, no namespace of this lab, no proxy', async () => {
    const s = need();
    const id = labId(s.lab.dir);
    await s.stop();
    stack = undefined;
    const leftovers = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map((d) => {
        try {
          return readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
        } catch {
          return '';
        }
      })
      .filter((cmd) => /scripts\/p2p_orchestrator\.py|ringrift\/(init|proxy)\.py/.test(cmd) && cmd.includes('lifeboat-e2e-'));
    // The app's command line names no lab directory (it runs from its tree): any uvicorn of RingRift's app is a leftover.
    const apps = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').includes('app.main:app') && readlinkSync(`/proc/${d}/cwd`).includes('lifeboat-e2e-');
        } catch {
          return false;
        }
      });
    assert.deepEqual(apps, [], 'the ai-service app outlived the lab');
    assert.deepEqual(leftovers, []);
    assert.deepEqual(existing().filter((n) => n.startsWith(`lb-tc-${id}-`)), [], 'network namespaces of the lab remain');
  });
});

/** Every IPv4 address of the machine's own namespace. */
function machineAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a): a is NonNullable<typeof a> => !!a && a.family === 'IPv4')
    .map((a) => a.address);
}
