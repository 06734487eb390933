/**
 * The lab core and the training-cluster family, end to end over real SSH and
 * HTTP on loopback: inventory, host-key pins, shims, the mesh-collapse fault
 * and its runbook repair, process handling, bearer auth, and the `lab` CLI as
 * separate processes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, utils, type ConnectConfig } from 'ssh2';
import { parse as parseYaml } from 'yaml';
import { P2P_EXEC_START } from '../../src/activities/training-cluster/wire';
import { Inventory } from '../../src/inventory/schema';
import { startLab, type Lab } from '../../lab/index';

const CLUSTER = 'lab-training';
const NODES = ['tc-node1', 'tc-node2', 'tc-node3', 'tc-node4', 'tc-node5'];
const BOOT_MS = 300;

interface ExecResult {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

function connectConfig(lab: Lab, node: string, extra: Partial<ConnectConfig> = {}): ConnectConfig {
  return {
    host: '127.0.0.1',
    port: lab.host(CLUSTER, node).port,
    username: 'lifeboat',
    privateKey: readFileSync(join(lab.dir, 'keys', 'id_ed25519')),
    readyTimeout: 5000,
    ...extra,
  };
}

/** Connect, or fail with the client's error (bounded by readyTimeout). */
function connect(cfg: ConnectConfig): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.once('ready', () => resolve(c));
    // 'error' may fire more than once (handshake lost, then socket closed): settle on the first.
    c.on('error', (err) => {
      c.end();
      reject(err);
    });
    c.connect(cfg);
  });
}

/** Run one command over SSH and collect its output and exit status (bounded). */
async function sshExec(lab: Lab, node: string, command: string, timeoutMs = 15_000): Promise<ExecResult> {
  const c = await connect(connectConfig(lab, node));
  try {
    return await new Promise<ExecResult>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ssh ${node} "${command}" did not finish within ${timeoutMs} ms`)), timeoutMs);
      c.exec(command, (err, stream) => {
        if (err) return reject(err);
        const r: ExecResult = { code: null, stdout: '', stderr: '' };
        stream.on('data', (d: Buffer) => (r.stdout += d.toString()));
        stream.stderr.on('data', (d: Buffer) => (r.stderr += d.toString()));
        stream.on('exit', (code: number | null, signal?: string) => {
          r.code = code;
          if (signal) r.signal = signal;
        });
        stream.on('close', () => {
          clearTimeout(timer);
          resolve(r);
        });
      });
    });
  } finally {
    c.end();
  }
}

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.json() };
}

/** Poll `probe` every 100 ms until it returns true, at most `withinMs`. */
async function until(what: string, probe: () => Promise<boolean>, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

type InventoryT = ReturnType<typeof Inventory.parse>;

describe('lab core with the training cluster', () => {
  let dir: string;
  let lab: Lab;
  let inventory: InventoryT;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-lab-'));
    lab = await startLab({ dir, families: ['training-cluster'], bootMs: BOOT_MS });
    inventory = Inventory.parse(parseYaml(readFileSync(lab.inventoryPath, 'utf8')));
  });
  after(async () => {
    await lab?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const nodeSpec = (name: string) => {
    const n = inventory.clusters[CLUSTER]?.nodes.find((x) => x.name === name);
    assert.ok(n, `inventory has ${name}`);
    return n;
  };
  const baseUrl = (name: string) => nodeSpec(name).http!.baseUrl;
  const token = () => {
    const ref = nodeSpec('tc-node1').http!.authToken!;
    assert.match(ref, /^file:\//);
    return readFileSync(ref.slice('file:'.length), 'utf8').trim();
  };

  it('writes an inventory that the zod schema accepts, with secrets only by reference', () => {
    const c = inventory.clusters[CLUSTER];
    assert.ok(c);
    assert.equal(c.system, 'training-cluster');
    assert.deepEqual(c.nodes.map((n) => n.name), NODES);
    assert.deepEqual(nodeSpec('tc-node1').roles, ['coordinator', 'voter']);
    assert.deepEqual(nodeSpec('tc-node4').roles, ['worker']);
    for (const n of c.nodes) {
      assert.ok(n.ssh);
      assert.equal(n.ssh.host, '127.0.0.1');
      assert.equal(n.ssh.port, lab.host(CLUSTER, n.name).port);
      assert.equal(n.ssh.workdir, join(lab.host(CLUSTER, n.name).root, 'ai-service'));
      assert.ok(existsSync(join(n.ssh.workdir, 'logs')), 'the runbook redirects into logs/');
      const keyPath = n.ssh.privateKey.slice('file:'.length);
      assert.equal(statSync(keyPath).mode & 0o777, 0o600);
      assert.match(readFileSync(keyPath, 'utf8'), /BEGIN OPENSSH PRIVATE KEY/);
    }
    const tokenPath = nodeSpec('tc-node2').http!.authToken!.slice('file:'.length);
    assert.equal(statSync(tokenPath).mode & 0o777, 0o600);
    // The secret itself never appears in the inventory.
    assert.ok(!readFileSync(lab.inventoryPath, 'utf8').includes(token()));
  });

  it('pins host keys: the inventory key verifies, another key is refused, a foreign client key is refused', async () => {
    const pinned = nodeSpec('tc-node1').ssh!.hostKeys[0]!;
    const pinnedBlob = Buffer.from(pinned.split(' ')[1]!, 'base64');
    const ok = await connect(connectConfig(lab, 'tc-node1', { hostVerifier: (key: Buffer) => key.equals(pinnedBlob) }));
    ok.end();

    // The pin of another node must not match this node's key.
    const otherBlob = Buffer.from(nodeSpec('tc-node2').ssh!.hostKeys[0]!.split(' ')[1]!, 'base64');
    await assert.rejects(connect(connectConfig(lab, 'tc-node1', { hostVerifier: (key: Buffer) => key.equals(otherBlob) })));

    const stranger = utils.generateKeyPairSync('ed25519');
    await assert.rejects(connect(connectConfig(lab, 'tc-node1', { privateKey: stranger.private })), (err: Error & { level?: string }) => {
      assert.equal(err.level, 'client-authentication');
      return true;
    });
  });

  it('keeps host keys across restarts so the pins stay valid', async () => {
    const again = mkdtempSync(join(tmpdir(), 'lifeboat-lab-keys-'));
    try {
      const first = await startLab({ dir: again, families: ['training-cluster'], bootMs: BOOT_MS, trainingNodes: 3 });
      const before = readFileSync(first.inventoryPath, 'utf8').match(/ssh-ed25519 \S+/g);
      await first.stop();
      const second = await startLab({ dir: again, families: ['training-cluster'], bootMs: BOOT_MS, trainingNodes: 3 });
      const afterKeys = readFileSync(second.inventoryPath, 'utf8').match(/ssh-ed25519 \S+/g);
      await second.stop();
      assert.ok(before && before.length === 3);
      assert.deepEqual(afterKeys, before);
    } finally {
      rmSync(again, { recursive: true, force: true });
    }
  });

  it('runs real shell commands in the host directory', async () => {
    const r = await sshExec(lab, 'tc-node3', 'echo hi > f; cat f; echo "$HOME|$LAB_NODE|$LAB_CLUSTER"; exit 3');
    assert.equal(r.code, 3);
    const root = lab.host(CLUSTER, 'tc-node3').root;
    assert.equal(r.stdout, `hi\n${root}|tc-node3|${CLUSTER}\n`);
    assert.equal(readFileSync(join(root, 'f'), 'utf8'), 'hi\n');
    const e = await sshExec(lab, 'tc-node3', 'echo oops >&2; false');
    assert.equal(e.code, 1);
    assert.equal(e.stderr, 'oops\n');
  });

  it('kills a running command when its channel closes, and delivers signals', async () => {
    const c = await connect(connectConfig(lab, 'tc-node2'));
    try {
      const pid = await new Promise<number>((resolve, reject) => {
        c.exec('echo $$; exec sleep 30', (err, stream) => {
          if (err) return reject(err);
          stream.once('data', (d: Buffer) => {
            resolve(Number(d.toString().trim()));
            stream.close();
          });
        });
      });
      assert.ok(pid > 0 && pidAlive(pid), 'sleep runs');
      await until('sleep is killed after the channel closed', async () => !pidAlive(pid), 5000);

      const signalled = await new Promise<{ code: number | null; signal?: string }>((resolve, reject) => {
        c.exec('exec sleep 30', (err, stream) => {
          if (err) return reject(err);
          stream.on('exit', (code: number | null, signal?: string) => resolve({ code, signal }));
          setTimeout(() => stream.signal('KILL'), 300);
        });
      });
      assert.equal(signalled.signal, 'SIGKILL'); // sent as "KILL" on the wire; ssh2 adds the prefix
    } finally {
      c.end();
    }
  });

  it('shims pgrep; unknown patterns fall through to the real tool', async () => {
    const r = await sshExec(lab, 'tc-node1', "pgrep -f 'p2p_orchestrator' && echo 'P2P running' || echo 'P2P stopped'");
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\d+\nP2P running\n$/);
    // A real pgrep for a pattern nobody runs: exit 1 (the sh -c line itself is excluded by -x).
    const real = await sshExec(lab, 'tc-node1', 'pgrep -x no-such-process-lifeboat; echo rc=$?');
    assert.equal(real.stdout.trim(), 'rc=1');
  });

  it('mesh collapse: every orchestrator killed, SSH still answers; started again from the unit\'s env file, the coordinator first', async () => {
    await lab.break('training-cluster.mesh-collapse');
    for (const node of NODES) await assert.rejects(fetch(`${baseUrl(node)}/status`, { signal: AbortSignal.timeout(2000) }), node);
    // "SSH still works"; the daemon does not run.
    const p = await sshExec(lab, 'tc-node2', 'pgrep -f scripts/p2p_orchestrator.py');
    assert.notEqual(p.code, 0);
    assert.equal((await lab.health())[0]?.healthy, false);

    lab.effects.clear();
    // The seed's start command answers as python does: that module never existed (RingRift 2aa9f89b5).
    const seeds = await sshExec(lab, 'tc-node2', `cd ${nodeSpec('tc-node2').ssh!.workdir} && python -m app.p2p.orchestrator`);
    assert.notEqual(seeds.code, 0);
    assert.match(seeds.stderr, /No module named app\.p2p\.orchestrator/);
    const start = (node: string) =>
      sshExec(lab, node, `cd ${nodeSpec(node).ssh!.workdir} && nohup sh -c '${P2P_EXEC_START}' p2p-start config/p2p_orchestrator.env venv/bin/python > logs/p2p.log 2>&1 &`);
    // Coordinator first, then the voters, then the workers (the runbook's order).
    assert.equal((await start('tc-node1')).code, 0);
    await Promise.all(['tc-node2', 'tc-node3'].map(start));
    await until(
      'the coordinator leads once the voters run',
      async () => ((await getJson(`${baseUrl('tc-node1')}/status`)).body as { leader_id: string | null }).leader_id === 'tc-node1',
      15_000,
    );
    await Promise.all(['tc-node4', 'tc-node5'].map(start));
    await until('the whole mesh is back', async () => (await lab.health())[0]?.healthy === true, 15_000);

    const status = (await getJson(`${baseUrl('tc-node4')}/status`)).body as { leader_id: string; alive_peers: number; peers: Record<string, unknown> };
    assert.equal(status.leader_id, 'tc-node1');
    assert.equal(status.alive_peers, NODES.length - 1, 'an integer: the peers, itself excluded');
    assert.deepEqual(Object.keys(status.peers).sort(), NODES.filter((n) => n !== 'tc-node4'));
    const jobs = (await getJson(`${baseUrl('tc-node1')}/api/jobs`)).body as { success: boolean; jobs: unknown[]; total: number };
    assert.ok(jobs.success && jobs.total > 0, 'jobs are distributed again');
    for (const node of NODES) {
      assert.equal(lab.effects.count({ cluster: CLUSTER, node, effect: 'orchestrator.start' }), 1, node);
      assert.equal(lab.effects.count({ cluster: CLUSTER, node, effect: 'orchestrator.stop' }), 0, `${node}: the fault killed it, nobody stopped it`);
    }
    // The effect log is on disk for other processes too.
    const lines = readFileSync(join(lab.dir, 'effects.jsonl'), 'utf8').trim().split('\n');
    assert.equal(lines.filter((l) => l.includes('"orchestrator.start"')).length, NODES.length);
  });

  it('refuses admin calls without the bearer token and records them with it', async () => {
    const url = `${baseUrl('tc-node2')}/election/force_leader`;
    const body = JSON.stringify({ leader_id: 'tc-node2' });
    assert.equal((await getJson(url, { method: 'POST', body })).status, 401);
    assert.equal((await getJson(url, { method: 'POST', body, headers: { authorization: 'Bearer wrong' } })).status, 401);
    assert.equal(lab.effects.count({ effect: 'election.set-leader' }), 0);

    const ok = await getJson(url, { method: 'POST', body, headers: { authorization: `Bearer ${token()}` } });
    assert.equal(ok.status, 200);
    const effects = lab.effects.list({ cluster: CLUSTER, effect: 'election.set-leader' });
    assert.equal(effects.length, 1);
    assert.deepEqual(effects[0]?.detail, { node_id: 'tc-node2' });
    // A forced leader that is not the coordinator gives the lead up within seconds (as the real one does).
    await until(
      'the coordinator leads again',
      async () => ((await getJson(`${baseUrl('tc-node5')}/status`)).body as { leader_id: string | null }).leader_id === 'tc-node1',
      15_000,
    );
  });

  it('leader failure: the coordinator dies; the followers keep reporting it, nobody else is elected; back once it runs again', async () => {
    await lab.break('training-cluster.leader-failure'); // tc-node1, the coordinator, dies
    await assert.rejects(fetch(`${baseUrl('tc-node1')}/status`, { signal: AbortSignal.timeout(2000) }));
    await new Promise((r) => setTimeout(r, BOOT_MS * 2));
    const s2 = (await getJson(`${baseUrl('tc-node2')}/status`)).body as { leader_id: unknown; role: string };
    assert.equal(s2.leader_id, 'tc-node1', 'a stale leader');
    assert.notEqual(s2.role, 'leader');
    const reset = await getJson(`${baseUrl('tc-node3')}/election/reset`, { method: 'POST', headers: { authorization: `Bearer ${token()}` } });
    assert.equal(reset.status, 200);
    await new Promise((r) => setTimeout(r, BOOT_MS * 2));
    for (const node of ['tc-node2', 'tc-node3', 'tc-node4', 'tc-node5']) {
      assert.notEqual(((await getJson(`${baseUrl(node)}/status`)).body as { role: string }).role, 'leader', `${node}: the coordinator role is pinned`);
    }
    // Bring tc-node1 back the way an operator would (start only; it was never stopped by anyone).
    const r = await sshExec(lab, 'tc-node1', `cd ai-service && nohup sh -c '${P2P_EXEC_START}' p2p-start config/p2p_orchestrator.env venv/bin/python > logs/p2p.log 2>&1 &`);
    assert.equal(r.code, 0);
    await until('the mesh is whole again', async () => (await lab.health())[0]?.healthy === true, 15_000);
  });

  it('host faults: drop, refuse-auth, refuse-api and slow are injected and healed through the control API', async () => {
    const post = (fault: string) => getJson(`${lab.controlUrl}/break`, { method: 'POST', body: JSON.stringify({ fault }) });
    assert.equal((await post(`host.drop:${CLUSTER}/tc-node5`)).status, 200);
    await assert.rejects(connect(connectConfig(lab, 'tc-node5')));
    assert.equal((await post(`host.refuse-auth:${CLUSTER}/tc-node5`)).status, 200);
    assert.equal((await post(`host.heal:${CLUSTER}/tc-node5`)).status, 200);
    (await connect(connectConfig(lab, 'tc-node5'))).end();

    await lab.break(`host.refuse-auth:${CLUSTER}/tc-node4`);
    await assert.rejects(connect(connectConfig(lab, 'tc-node4')), (err: Error & { level?: string }) => err.level === 'client-authentication');
    await lab.break(`host.heal:${CLUSTER}/tc-node4`);

    await lab.break(`host.hang:${CLUSTER}/tc-node4`);
    await assert.rejects(connect(connectConfig(lab, 'tc-node4', { readyTimeout: 800 })), /Timed out/);
    await lab.break(`host.slow:${CLUSTER}/tc-node4=600`);
    await lab.break(`host.heal:${CLUSTER}/tc-node4`);
    await lab.break(`host.slow:${CLUSTER}/tc-node4=600`);
    const t0 = Date.now();
    assert.equal((await sshExec(lab, 'tc-node4', 'true')).code, 0);
    assert.ok(Date.now() - t0 >= 600, 'exec was delayed');
    await lab.break(`host.heal:${CLUSTER}/tc-node4`);

    // refuse-api: the node's admin API refuses even the right token (a rotated admin token); reads still answer.
    await lab.break(`host.refuse-api:${CLUSTER}/tc-node3`);
    const auth = { authorization: `Bearer ${token()}` };
    assert.equal((await getJson(`${baseUrl('tc-node3')}/election/reset`, { method: 'POST', headers: auth })).status, 401);
    assert.equal((await getJson(`${baseUrl('tc-node3')}/status`)).status, 200, 'reads still answer');
    await lab.break(`host.heal:${CLUSTER}/tc-node3`);
    assert.equal((await getJson(`${baseUrl('tc-node3')}/election/reset`, { method: 'POST', headers: auth })).status, 200);

    const bad = await post('no-such.fault');
    assert.equal(bad.status, 400);
    assert.match((bad.body as { error: string }).error, /training-cluster\.mesh-collapse/);
  });

  it('serves health and effects over the control API', async () => {
    const h = await getJson(`${lab.controlUrl}/health`);
    assert.equal(h.status, 200);
    assert.equal((h.body as Array<{ cluster: string }>)[0]?.cluster, CLUSTER);
    const e = await getJson(`${lab.controlUrl}/effects?node=tc-node1&effect=orchestrator.start`);
    assert.equal((e.body as unknown[]).length, 2, 'started after the collapse and after the leader failure');
    assert.equal((await getJson(`${lab.controlUrl}/effects/clear`, { method: 'POST' })).status, 200);
    assert.equal(lab.effects.count(), 0);
  });
});

describe('lab core with every family', () => {
  it('runs the ledger, the training cluster, the gossip cluster and the train server side by side, one valid inventory', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-lab-all-'));
    const lab = await startLab({ dir, bootMs: BOOT_MS });
    t.after(async () => {
      await lab.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    assert.deepEqual(lab.clusters, ['lab-ledger', 'lab-training', 'lab-gossip', 'lab-train', 'lab-ledger-dr']);
    const inv = Inventory.parse(parseYaml(readFileSync(lab.inventoryPath, 'utf8')));
    assert.deepEqual(Object.keys(inv.clusters), ['lab-ledger', 'lab-training', 'lab-gossip', 'lab-train', 'lab-ledger-dr']);
    assert.equal(inv.clusters['lab-ledger']?.system, 'ledger');
    for (const n of inv.clusters['lab-ledger']!.nodes) assert.match(n.grpc?.address ?? '', /^127\.0\.0\.1:\d+$/);
    const health = await lab.health();
    assert.deepEqual(health.map((h) => h.cluster), ['lab-ledger', 'lab-training', 'lab-gossip', 'lab-train', 'lab-ledger-dr']);
    // The ledger's shims reach the ledger family through the same core.
    const c = await connect({
      host: '127.0.0.1',
      port: lab.host('lab-ledger', 'node1').port,
      username: 'lifeboat',
      privateKey: readFileSync(join(dir, 'keys', 'id_ed25519')),
      readyTimeout: 5000,
    });
    try {
      const out = await new Promise<string>((resolve, reject) => {
        c.exec('command -v systemctl; systemctl is-active ledger', (err, stream) => {
          if (err) return reject(err);
          let o = '';
          stream.on('data', (d: Buffer) => (o += d.toString()));
          stream.on('close', () => resolve(o));
        });
      });
      assert.equal(out, `${join(dir, 'bin', 'lab-ledger', 'node1', 'systemctl')}\nactive\n`);
    } finally {
      c.end();
    }
  });
});

describe('lab CLI (dist/lab/main.js) as processes', () => {
  const mainJs = join(__dirname, '..', '..', 'lab', 'main.js');
  let dir: string;

  function run(args: string[], timeoutMs = 40_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [mainJs, ...args, '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`lab ${args.join(' ')} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-lab-cli-'));
  });
  after(async () => {
    // Whatever happened, leave no lab behind.
    const state = join(dir, 'state.json');
    if (existsSync(state)) {
      const { pid } = JSON.parse(readFileSync(state, 'utf8')) as { pid: number };
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('up, status, break, effects, down', async () => {
    const up = await run(['up', '--ephemeral', '--families', 'training-cluster', '--boot-ms', '200']);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /lab-training/);
    assert.match(up.stdout, /inventory: .*inventory\.yaml/);
    const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { pid: number; controlUrl: string; inventoryPath: string };
    assert.ok(pidAlive(state.pid));
    Inventory.parse(parseYaml(readFileSync(state.inventoryPath, 'utf8')));

    const again = await run(['up', '--ephemeral', '--families', 'training-cluster']);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already running/);

    const status = await run(['status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const parsed = JSON.parse(status.stdout) as { clusters: Array<{ cluster: string; healthy: boolean }> };
    assert.deepEqual(parsed.clusters.map((c) => [c.cluster, c.healthy]), [['lab-training', true]]);

    const broke = await run(['break', 'training-cluster.mesh-collapse']);
    assert.equal(broke.code, 0, broke.stderr);
    const table = await run(['status']);
    assert.match(table.stdout, /leader none, 0\/5 alive/);
    const unknown = await run(['break', 'nope']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown fault/);

    const effects = await run(['effects', '--json']);
    assert.equal(effects.code, 0);
    assert.deepEqual(JSON.parse(effects.stdout), []);

    const down = await run(['down']);
    assert.equal(down.code, 0, down.stderr);
    assert.ok(!pidAlive(state.pid), 'the lab process is gone');
    assert.ok(!existsSync(join(dir, 'state.json')));
    const after = await run(['status']);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /not running/);
  });

  it('a training backend that is neither sim nor real is refused before anything starts', async () => {
    const r = await run(['serve', '--ephemeral', '--families', 'training-cluster', '--training-backend', 'vm']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--training-backend must be sim or real \(got "vm"\)/);
    assert.ok(!existsSync(join(dir, 'state.json')), 'no lab was started');
  });
});
