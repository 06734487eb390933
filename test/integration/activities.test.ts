/**
 * The domain activities of src/activities/index.ts against the lab: real SSH
 * to the lab hosts (shimmed systemctl, inferadb-ledger, pgrep, pkill, python,
 * curl), real gRPC to the ledger nodes, real HTTP to the P2P orchestrators.
 * Every activity runs inside Temporal's MockActivityEnvironment, so
 * Context.current(), heartbeats and cancellation are the SDK's own; every
 * effect is read back from the lab's effect log.
 *
 * The ledger tests run in order on one cluster (the lab's simulation of the
 * real server): healthy reads, the write check, stop / set-aside idempotency
 * on node3, its rejoin as a new member, then `ledger.quorum-loss` as the
 * activities report it. (The whole procedures, on both the simulation and
 * the real server: test/helpers/lab-ledger-cases.ts.)
 * Everything that leaves an activity (results, errors, heartbeats, log lines)
 * is collected and checked at the end for the lab's SSH key and API token.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { ApplicationFailure, CancelledFailure, type LogLevel, type LogMetadata, type Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { createActivities, type ActivitySet } from '../../src/activities';
import { createLedgerServer } from '../../src/activities/ledger/wire';
import { startLab, type Lab } from '../../lab/index';
import { LAB_LEDGER_SEED } from '../../lab/ledger';

const LEDGER = 'lab-ledger';
const TRAINING = 'lab-training';
const LEDGER_NODES = ['node1', 'node2', 'node3'];
const TC_NODES = ['tc-node1', 'tc-node2', 'tc-node3', 'tc-node4', 'tc-node5'];
const WF = { workflowId: 'wf-activities-test', runId: 'run-1' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const T = { timeout: 60_000 };

const led = (node: string) => ({ cluster: LEDGER, node });
const tc = (node: string) => ({ cluster: TRAINING, node });

// ------------------------------------------------ what leaves activities --

/** Every result, error (inspected whole, cause and details included), heartbeat detail and log line. */
const outbound: string[] = [];
const heartbeats: unknown[] = [];
const capture = (what: unknown): void => {
  outbound.push(typeof what === 'string' ? what : inspect(what, { depth: 10, breakLength: Infinity }));
};

/** The activity context's logger (notify's log lines, the SDK's "Activity failed" with the error). */
class CapturingLogger implements Logger {
  readonly lines: string[] = [];
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.lines.push(`${level} ${message}`);
    capture({ level, message, meta });
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
const logger = new CapturingLogger();

let nextId = 0;
function activityEnv(activityId = `act-${++nextId}`, workflowExecution = WF): MockActivityEnvironment {
  const env = new MockActivityEnvironment({ activityId, workflowExecution }, { logger });
  env.on('heartbeat', (d: unknown) => {
    heartbeats.push(d);
    capture(d);
  });
  return env;
}

/** Runs one activity in its own mock context (or `env`'s), recording what comes out. */
async function run<I, O>(fn: (input: I) => Promise<O>, input: I, opts: { activityId?: string; env?: MockActivityEnvironment } = {}): Promise<O> {
  const env = opts.env ?? activityEnv(opts.activityId);
  try {
    const out = (await env.run(fn, input)) as O;
    capture(out);
    return out;
  } catch (err) {
    capture(err);
    throw err;
  }
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

async function waitFor<V>(what: string, probe: () => Promise<V | undefined>, withinMs: number): Promise<V> {
  const deadline = Date.now() + withinMs;
  let last: unknown;
  for (;;) {
    const v = await probe().catch((e: unknown) => ((last = e), undefined));
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out after ${withinMs} ms waiting for ${what}${last ? ` (last error: ${inspect(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// --------------------------------------------------------------- the lab --

interface InvNode {
  name: string;
  ssh: { hostKeys: string[]; privateKey: string };
  grpc?: { address: string };
  http?: { baseUrl: string; authToken?: string };
}
interface InvFile {
  clusters: Record<string, { nodes: InvNode[] }>;
}

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-activities-'));
let lab: Lab;
let acts: ActivitySet;
let a: ActivitySet['activities'];
let inv: InvFile;
const nodeOf = (cluster: string, node: string): InvNode => inv.clusters[cluster]!.nodes.find((n) => n.name === node)!;
const effects = (node: string, effect: string, cluster = LEDGER) => lab.effects.list({ cluster, node, effect });
const ledgerEffects = (effect: string) => lab.effects.list({ cluster: LEDGER, effect });
const restarts = (node: string) => effects(node, 'orchestrator.restart', TRAINING).length;

before(async () => {
  lab = await startLab({ dir, families: ['ledger', 'training-cluster'], bootMs: 300 });
  acts = createActivities({ inventoryPath: lab.inventoryPath });
  a = acts.activities;
  inv = parseYaml(readFileSync(lab.inventoryPath, 'utf8')) as InvFile;
});

after(async () => {
  await acts?.close();
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- ledger --

describe('ledger activities on the lab cluster', () => {
  const dataDir = (node: string) => join(lab.host(LEDGER, node).root, 'data');

  test('ledgerNodeState: every node answers in one cluster; members mapped to inventory nodes by address; one live leader', T, async () => {
    const states = await Promise.all(LEDGER_NODES.map((n) => run(a.ledgerNodeState, led(n))));
    assert.ok(states.every((s) => s.reachable && s.health === 'healthy' && s.peersOk === true), JSON.stringify(states));
    assert.equal(new Set(states.map((s) => s.clusterId)).size, 1);
    const leaders = states.filter((s) => s.nodeId === s.leaderId);
    assert.equal(leaders.length, 1, 'one node names itself leader');
    for (const s of states) {
      assert.deepEqual(s.members!.map((m) => m.node).sort(), LEDGER_NODES, 'every member is an inventory node');
      assert.equal(readFileSync(join(dataDir(s.node), 'node_id'), 'utf8'), s.nodeId, 'the id the server reports is its node_id file');
    }
  });

  test('ledgerWriteCheck: through the vault leader; the same activity id writes once (its idempotency key), another writes again; a dry run plans', T, async () => {
    const v = { cluster: LEDGER, organization: LAB_LEDGER_SEED.organization, vault: LAB_LEDGER_SEED.vault };
    const w1 = await run(a.ledgerWriteCheck, v, { activityId: 'write-check' });
    assert.deepEqual(w1.missing, [], w1.output);
    assert.deepEqual(w1.readBack.sort(), LEDGER_NODES);
    const w2 = await run(a.ledgerWriteCheck, v, { activityId: 'write-check' });
    assert.equal(w2.height, w1.height, 'a retry of the same activity lands on the same block');
    assert.equal(w2.key, w1.key);
    const w3 = await run(a.ledgerWriteCheck, v, { activityId: 'write-check-2' });
    assert.ok(w3.height > w1.height, `another step writes anew (${w3.height} > ${w1.height})`);
    const dry = await run(a.ledgerWriteCheck, { ...v, dryRun: true }, { activityId: 'write-check-3' });
    assert.equal(dry.dryRun, true);
    assert.match(dry.plan, /WriteService\.Write .* on the vault's leader/);
    await assert.rejects(run(a.ledgerWriteCheck, { ...v, organization: 'acme' }), /organization must be a slug, the 64-bit number/);
  });

  test('ledgerSetAside refuses (FailedPrecondition) while the ledger runs on the node', T, async () => {
    const f = await failure(run(a.ledgerSetAside, { ...led('node3'), reason: 'test' }));
    assert.equal(f.type, 'FailedPrecondition');
    assert.equal(f.nonRetryable, true);
    assert.match(f.message, /the ledger still runs on node3: its data is not moved while in use; stop it first/);
    assert.ok(existsSync(join(dataDir('node3'), 'node_id')), 'nothing moved');
  });

  test('ledgerServiceStop: a dry run only plans; a stop stops once; a second stop is alreadyDone; the node no longer answers', T, async () => {
    const dry = await run(a.ledgerServiceStop, { ...led('node2'), dryRun: true });
    assert.deepEqual(dry, { dryRun: true, plan: "node2: 'systemctl' 'stop' 'ledger'" });
    assert.equal(effects('node2', 'ledger.service.stop').length, 0, 'a dry run records nothing');
    const s1 = await run(a.ledgerServiceStop, led('node3'));
    assert.notEqual(s1.alreadyDone, true);
    const s2 = await run(a.ledgerServiceStop, led('node3'));
    assert.equal(s2.alreadyDone, true);
    assert.equal(effects('node3', 'ledger.service.stop').length, 1, 'the second stop records nothing');
    assert.equal((await run(a.ledgerNodeState, led('node3'))).reachable, false);
    const m = await run(a.ledgerMetrics, led('node3'));
    assert.deepEqual([m.reachable, m.flowing], [false, false]);
    assert.equal((await run(a.ledgerMetrics, led('node1'))).flowing, true);
  });

  test('ledgerSetAside on the stopped node keeps its data beside; a second one is alreadyDone; the data dir reads empty', T, async () => {
    const before = readFileSync(join(dataDir('node3'), 'node_id'), 'utf8');
    const m1 = await run(a.ledgerSetAside, { ...led('node3'), reason: 'test' }, { activityId: 'aside' });
    assert.notEqual(m1.alreadyDone, true);
    assert.match(m1.movedTo ?? '', /^data\.lifeboat-[0-9a-f]{12}$/);
    assert.equal(readFileSync(join(lab.host(LEDGER, 'node3').root, m1.movedTo!, 'node_id'), 'utf8'), before, 'the old data is kept beside');
    const m2 = await run(a.ledgerSetAside, { ...led('node3'), reason: 'test' }, { activityId: 'aside' });
    assert.equal(m2.alreadyDone, true);
    const d = await run(a.ledgerDataDir, led('node3'));
    assert.deepEqual([d.sshReachable, d.present, d.nodeId, d.serviceActive], [true, false, undefined, false]);
  });

  test('the node rejoins empty: the old member removed on the leader (a live one is refused), the unit started, a new id', T, async () => {
    const old = (await run(a.ledgerNodeState, led('node1'))).members!.find((m) => m.node === 'node3')!.nodeId;
    const live = (await run(a.ledgerNodeState, led('node1'))).members!.find((m) => m.node === 'node2')!.nodeId;
    const refused = await failure(run(a.ledgerRemoveMember, { cluster: LEDGER, nodeId: live }));
    assert.match(refused.message, /answers at .*: it has not failed; refusing to remove a live member/);
    const r = await run(a.ledgerRemoveMember, { cluster: LEDGER, nodeId: old });
    assert.notEqual(r.alreadyDone, true);
    assert.equal((await run(a.ledgerRemoveMember, { cluster: LEDGER, nodeId: old })).alreadyDone, true);
    const st = await run(a.ledgerServiceStart, led('node3'));
    assert.ok(st.nodeId && st.nodeId !== old, `a new id (${st.nodeId ?? '?'} vs ${old})`);
    const again = await run(a.ledgerServiceStart, led('node3'));
    assert.equal(again.alreadyDone, true);
    assert.equal(effects('node3', 'ledger.service.start').length, 1);
    await waitFor(
      'node3 a voter of the cluster again',
      async () => {
        const s = await run(a.ledgerNodeState, led('node1'));
        return s.members?.some((m) => m.nodeId === st.nodeId && m.role === 'voter') && !s.members.some((m) => m.nodeId === old) ? true : undefined;
      },
      20_000,
    );
    const init = await run(a.ledgerInit, led('node3'));
    assert.equal(init.alreadyDone, true, 'it belongs to the cluster: init is not run');
    assert.equal(effects('node3', 'ledger.init').length, 0);
  });

  test('after ledger.quorum-loss the lost nodes are reachable:false (a finding, not a throw), and the survivor says why', T, async () => {
    await lab.break('ledger.quorum-loss');
    const states = await Promise.all(LEDGER_NODES.map((n) => run(a.ledgerNodeState, led(n))));
    const down = states.filter((s) => !s.reachable);
    assert.equal(down.length, 2, JSON.stringify(states));
    for (const d of down) assert.match(d.error ?? '', /UNAVAILABLE|ECONNREFUSED|No connection/);
    const survivor = states.find((s) => s.reachable)!;
    assert.equal(survivor.peersOk, false);
    assert.notEqual(survivor.health, 'healthy');
  });
});

// ------------------------------------------------------ training cluster --

describe('training-cluster activities on the lab mesh', () => {
  test('p2pStatus / p2pDaemonStatus on the healthy mesh', T, async () => {
    for (const n of TC_NODES) {
      const st = await run(a.p2pStatus, tc(n));
      assert.equal(st.reachable, true, `${n}: ${st.error ?? ''}`);
      assert.equal(st.leaderId, 'tc-node1', n);
      assert.deepEqual([...(st.alivePeers ?? [])].sort(), TC_NODES, n);
      // RingRift 2aa9f89b5's /status: role, is_leader, voter_node_ids (no election_state, no voters).
      assert.equal(st.role, n === 'tc-node1' ? 'leader' : 'follower', n);
      assert.equal(st.isLeader, n === 'tc-node1', n);
      assert.deepEqual(st.voters, ['tc-node1', 'tc-node2', 'tc-node3']);
    }
    const d = await run(a.p2pDaemonStatus, tc('tc-node2'));
    assert.equal(d.running, true);
    assert.equal(d.healthy, true);
    assert.match(d.detail, /^running \(pid \d+\); \/health ok$/);
    const jobs = await run(a.p2pJobs, tc('tc-node1'));
    assert.equal(jobs.reachable, true);
    assert.equal(jobs.activeJobs, 4, 'one job per non-leader node');
  });

  test('after training-cluster.mesh-collapse: every orchestrator killed, SSH still answers: no /status, not running', T, async () => {
    await lab.break('training-cluster.mesh-collapse');
    for (const n of TC_NODES) {
      const st = await run(a.p2pStatus, tc(n));
      assert.equal(st.reachable, false, n);
    }
    const d = await run(a.p2pDaemonStatus, tc('tc-node2'));
    assert.equal(d.running, false);
    assert.equal(d.healthy, false);
    assert.match(d.detail, /^not running; \/health failed/);
    assert.equal((await run(a.p2pJobs, tc('tc-node1'))).reachable, false);
  });

  test('p2pRestart restarts once per step: the same ids again are alreadyDone, another activity id restarts again', T, async () => {
    const node = tc('tc-node2');
    const dry = await run(a.p2pRestart, { ...node, dryRun: true }, { activityId: 'restart-dry' });
    assert.equal(dry.dryRun, true);
    assert.match(dry.plan, /pkill -f scripts\/p2p_orchestrator\.py; nohup sh -c '.*scripts\/p2p_orchestrator\.py --node-id .*' p2p-start config\/p2p_orchestrator\.env venv\/bin\/python > logs\/p2p\.log/);
    const starts = () => effects('tc-node2', 'orchestrator.start', TRAINING).length;
    assert.equal(starts(), 0);

    // The collapse killed it: the first restart starts it (nothing to stop).
    const r1 = await run(a.p2pRestart, node, { activityId: 'restart-a' });
    assert.equal(r1.alreadyDone, false);
    assert.equal(starts(), 1);
    assert.equal(effects('tc-node2', 'orchestrator.stop', TRAINING).length, 0);
    assert.match(r1.output ?? '', /^script: running \(pid \d+\)/);

    const r2 = await run(a.p2pRestart, node, { activityId: 'restart-a' });
    assert.equal(r2.alreadyDone, true, 'same workflow, run and activity id: the step already happened');
    assert.equal(starts(), 1);
    assert.equal(effects('tc-node2', 'orchestrator.stop', TRAINING).length, 0, 'not killed again');

    const r3 = await run(a.p2pRestart, node, { activityId: 'restart-b' });
    assert.equal(r3.alreadyDone, false);
    assert.equal(restarts('tc-node2'), 1, 'another step: stopped and started again');
  });

  test('restarting the voters, the coordinator among them, brings the leader back: p2pStatus shows tc-node1 leading again', T, async () => {
    for (const n of ['tc-node1', 'tc-node3']) {
      const r = await run(a.p2pRestart, tc(n), { activityId: `heal-${n}` });
      assert.equal(r.alreadyDone, false, n);
    }
    const st = await waitFor(
      'tc-node1 leading after the restarts',
      async () => {
        const s = await run(a.p2pStatus, tc('tc-node1'));
        return s.leaderId === 'tc-node1' && s.isLeader && s.alivePeers?.length === 3 ? s : undefined;
      },
      10_000,
    );
    assert.deepEqual([...(st.alivePeers ?? [])].sort(), ['tc-node1', 'tc-node2', 'tc-node3'], 'only the restarted nodes run');
    assert.equal(st.role, 'leader');
    const reset = await run(a.p2pElectionReset, { ...tc('tc-node1'), dryRun: true });
    assert.match(reset.plan, /\/election\/reset -H "Authorization: Bearer \$RINGRIFT_CLUSTER_AUTH_TOKEN"/, 'the plan names the token, never its value');
  });
});

// --------------------------------------------------------------- sshCheck --

describe('sshCheck', () => {
  let tamperedPath = '';
  let tampered: ActivitySet | undefined;
  let hangingGrpc: grpc.Server | undefined;
  const pendingIntegrity: unknown[] = [];

  before(async () => {
    // A gRPC "ledger node" whose CheckIntegrity never answers (for the cancellation test).
    hangingGrpc = createLedgerServer({ AdminService: { CheckIntegrity: (call: unknown) => void pendingIntegrity.push(call) } });
    const port = await new Promise<number>((ok, ko) =>
      hangingGrpc!.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? ko(err) : ok(p))),
    );
    // The lab inventory, with node1's pinned host key replaced by node2's and node2's gRPC address pointing at that server.
    const copy = parseYaml(readFileSync(lab.inventoryPath, 'utf8')) as InvFile;
    const nodes = copy.clusters[LEDGER]!.nodes;
    const n1 = nodes.find((n) => n.name === 'node1')!;
    const n2 = nodes.find((n) => n.name === 'node2')!;
    assert.notDeepEqual(n1.ssh.hostKeys, n2.ssh.hostKeys);
    n1.ssh.hostKeys = [...n2.ssh.hostKeys];
    n2.grpc = { address: `127.0.0.1:${port}` };
    tamperedPath = join(dir, 'tampered-inventory.yaml');
    writeFileSync(tamperedPath, stringifyYaml(copy));
    tampered = createActivities({ inventoryPath: tamperedPath });
  });
  after(async () => {
    await tampered?.close();
    hangingGrpc?.forceShutdown();
  });

  test('reachable with a latency', T, async () => {
    for (const ref of [led('node1'), tc('tc-node3')]) {
      const r = await run(a.sshCheck, ref);
      assert.equal(r.reachable, true, `${ref.node}: ${r.error ?? ''}`);
      assert.equal(r.node, ref.node);
      assert.equal(typeof r.latencyMs, 'number');
      assert.ok(r.latencyMs! >= 0 && r.latencyMs! < 5000, `latency ${r.latencyMs}`);
      assert.equal(r.error, undefined);
    }
  });

  test('a hung host is reachable:false with an error within the 5 s deadline, and reachable again once healed', T, async () => {
    await lab.break(`host.hang:${TRAINING}/tc-node4`);
    const t0 = Date.now();
    const r = await run(a.sshCheck, tc('tc-node4'));
    const took = Date.now() - t0;
    assert.equal(r.reachable, false);
    assert.match(r.error ?? '', /no SSH session with .* within 5000 ms/);
    assert.ok(took >= 4_000 && took < 10_000, `took ${took} ms`);
    await lab.break(`host.heal:${TRAINING}/tc-node4`);
    assert.equal((await run(a.sshCheck, tc('tc-node4'))).reachable, true, 'a failed connection is not cached');
  });

  test('a host presenting another key than the pinned one is reachable:false with a host-key message', T, async () => {
    const r = await run(tampered!.activities.sshCheck, led('node1'));
    assert.equal(r.reachable, false);
    assert.match(r.error ?? '', /host key of .* is not the one pinned in the inventory/);
    // The same host with the right pin (the lab inventory) answers.
    assert.equal((await run(a.sshCheck, led('node1'))).reachable, true);
  });

  test('a node missing from the inventory fails non-retryably with BadInventory naming it', T, async () => {
    const f = await failure(run(a.sshCheck, led('node9')));
    assert.equal(f.type, 'BadInventory');
    assert.equal(f.nonRetryable, true);
    assert.match(f.message, /node9/);
    assert.match(f.message, /node1, node2, node3/, 'and lists the known nodes');
  });

  // ----------------------------------------------------------- cancellation --

  test('cancelling an SSH command slowed by the host rejects promptly with a CancelledFailure, before any effect', T, async () => {
    await lab.break(`host.slow:${TRAINING}/tc-node5=10000`);
    try {
      const env = activityEnv('restart-cancelled');
      const p = run(a.p2pRestart, tc('tc-node5'), { env });
      p.catch(() => undefined);
      await new Promise((r) => setTimeout(r, 800));
      const t0 = Date.now();
      env.cancel();
      const err = await p.then(
        () => assert.fail('the cancelled restart resolved'),
        (e: unknown) => e,
      );
      const took = Date.now() - t0;
      assert.ok(err instanceof CancelledFailure, `expected a CancelledFailure, got ${inspect(err)}`);
      assert.ok(took < 5_000, `cancellation took ${took} ms`);
      assert.equal(effects('tc-node5', 'orchestrator.stop', TRAINING).length, 0, 'nothing was killed');
      assert.equal(restarts('tc-node5'), 0);
    } finally {
      await lab.break(`host.heal:${TRAINING}/tc-node5`);
    }
  });

  test('cancelling a long ledgerIntegrity rejects promptly with a CancelledFailure', T, async () => {
    const env = activityEnv('integrity-cancelled');
    const p = run(tampered!.activities.ledgerIntegrity, { ...led('node2'), organization: LAB_LEDGER_SEED.organization, vault: LAB_LEDGER_SEED.vault, fullCheck: true }, { env });
    p.catch(() => undefined);
    await waitFor('the CheckIntegrity call to reach the server', async () => (pendingIntegrity.length > 0 ? true : undefined), 5_000);
    const t0 = Date.now();
    env.cancel();
    const err = await p.then(
      () => assert.fail('the cancelled check resolved'),
      (e: unknown) => e,
    );
    const took = Date.now() - t0;
    assert.ok(err instanceof CancelledFailure, `expected a CancelledFailure, got ${inspect(err)}`);
    assert.ok(took < 2_000, `cancellation took ${took} ms`);
  });
});

// ----------------------------------------------------------------- notify --

describe('notify', () => {
  test('POSTs the notification as JSON to notifyUrl', T, async () => {
    const bodies: Array<{ method?: string; type?: string; body: string }> = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        bodies.push({ method: req.method, type: req.headers['content-type'], body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const withHook = createActivities({ inventoryPath: lab.inventoryPath, notifyUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` });
    try {
      const n = { cluster: LEDGER, severity: 'warning' as const, subject: 'quorum lost', text: 'node2 and node3 are down; recovery starts' };
      await run(withHook.activities.notify, n);
      assert.equal(bodies.length, 1);
      assert.equal(bodies[0]!.method, 'POST');
      assert.match(bodies[0]!.type ?? '', /^application\/json/);
      assert.deepEqual(JSON.parse(bodies[0]!.body), { ...n, workflowId: WF.workflowId });
      assert.ok(logger.lines.includes('WARN [WARNING] quorum lost: node2 and node3 are down; recovery starts'), 'and logs it');
    } finally {
      await withHook.close();
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    }
  });
});

// ---------------------------------------------------------------- secrets --

describe('secrets', () => {
  test('neither the SSH private key nor the training API token appears in any result, error, heartbeat or log line', () => {
    const keyFile = nodeOf(LEDGER, 'node1').ssh.privateKey.replace(/^file:/, '');
    const keyText = readFileSync(keyFile, 'utf8');
    const keyLines = keyText
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length >= 16 && !l.startsWith('-----'));
    assert.ok(keyLines.length >= 3, 'the key has body lines');
    const tokenRef = nodeOf(TRAINING, 'tc-node1').http!.authToken!;
    assert.match(tokenRef, /^file:\//);
    const token = readFileSync(tokenRef.slice('file:'.length), 'utf8').trim();
    assert.ok(token.length >= 16);

    // Enough was collected for the check to mean something.
    assert.ok(outbound.length > 100, `only ${outbound.length} items collected`);
    assert.ok(
      heartbeats.some((h) => typeof (h as { tail?: unknown }).tail === 'string'),
      'remote output was streamed in heartbeats',
    );
    assert.ok(outbound.some((o) => /FailedPrecondition/.test(o)) && outbound.some((o) => /CancelledFailure/.test(o)), 'errors were collected');

    for (const [i, text] of outbound.entries()) {
      assert.ok(!text.includes(token), `item ${i} contains the API token`);
      for (const line of keyLines) assert.ok(!text.includes(line), `item ${i} contains a line of the SSH private key`);
    }
  });
});
