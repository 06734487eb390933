/**
 * The `lifeboat` command without a Temporal server: every input error is
 * caught before any network call, printed as `error:` + `fix:`, and mapped to
 * its exit code. TEMPORAL_ADDRESS points at a closed loopback port, so a
 * command that dialled Temporal before validating would exit 69, not 2.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SCENARIOS } from '../../src/catalog';
import { UsageError, planRecovery } from '../../src/client';
import { EXIT, main, report } from '../../src/cli/main';
import type { Io } from '../../src/cli/context';
import { parseInventory } from '../../src/inventory/load';

const INVENTORY = `
# Approvals by name in these CLI tests (signed ones: bad-input.test.ts, signed-approvals.test.ts, the e2e tests).
approvals: { mode: unsigned }
clusters:
  lab-ledger:
    system: ledger
    taskQueue: lifeboat-lab
    nodes:
      - { name: node1, roles: [voter], grpc: { address: "127.0.0.1:50051" } }
      - { name: node2, roles: [voter], grpc: { address: "127.0.0.1:50052" } }
      - { name: node3, roles: [voter], grpc: { address: "127.0.0.1:50053" } }
  lab-mesh:
    system: training-cluster
    nodes:
      - { name: n1, roles: [coordinator], http: { baseUrl: "http://127.0.0.1:18080", authToken: "env:MESH_TOKEN" } }
      - { name: n2, http: { baseUrl: "http://127.0.0.1:18081", authToken: "env:MESH_TOKEN" } }
`;

const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-cli-'));
const inventoryFile = path.join(dir, 'clusters.yaml');
writeFileSync(inventoryFile, INVENTORY);
let closedPort = 0;

before(async () => {
  // A loopback port nobody listens on: any premature dial fails (exit 69) instead of reaching a server.
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  closedPort = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(argv: string[], env: Record<string, string> = {}): Promise<Run> {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    isTTY: false,
    env: { LIFEBOAT_INVENTORY: inventoryFile, TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}`, USER: 'tester', ...env },
    cwd: dir,
  };
  const code = await main(argv, io);
  return { code, out, err };
}

function assertUsage(r: Run, pattern: RegExp): void {
  assert.equal(r.code, EXIT.USAGE, `exit code ${r.code}; stderr:\n${r.err}`);
  assert.match(r.err, /^error: /m);
  assert.match(r.err, pattern);
  assert.match(r.err, /^fix: /m, 'an expected failure says what to do next');
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace for an expected failure');
}

describe('lifeboat scenarios', () => {
  it('--json lists every scenario with its parameters', async () => {
    const r = await run(['scenarios', '--json']);
    assert.equal(r.code, 0, r.err);
    const rows = JSON.parse(r.out) as Array<{ id: string; system: string; params: Record<string, string>; rto: { targetMinutes: number } }>;
    assert.deepEqual(rows.map((x) => x.id), SCENARIOS.map((s) => s.id));
    const q = rows.find((x) => x.id === 'ledger.quorum-loss');
    assert.equal(q?.system, 'ledger');
    assert.deepEqual(Object.keys(q?.params ?? {}).sort(), ['organization', 'survivor', 'vault']);
    assert.equal(q?.rto.targetMinutes, 10);
  });

  it('prints a table without colour codes into a pipe', async () => {
    const r = await run(['scenarios']);
    assert.equal(r.code, 0);
    assert.match(r.out, /ledger\.quorum-loss/);
    assert.doesNotMatch(r.out, /\x1b\[/);
  });
});

describe('lifeboat run validates before dialling Temporal', () => {
  it('refuses an unknown scenario and lists the known ones', async () => {
    const r = await run(['run', 'ledger.quorum-lost', '--cluster', 'lab-ledger']);
    assertUsage(r, /unknown scenario "ledger\.quorum-lost"; known: .*ledger\.quorum-loss.*training-cluster\.mesh-collapse/);
  });

  it('refuses an unknown cluster and lists the known ones', async () => {
    const r = await run(['run', 'ledger.quorum-loss', '--cluster', 'ledger-prod']);
    assertUsage(r, /unknown cluster "ledger-prod"; known: lab-ledger, lab-mesh/);
  });

  it('requires --cluster', async () => {
    assertUsage(await run(['run', 'ledger.quorum-loss']), /--cluster is required/);
  });

  it('refuses a cluster of another system', async () => {
    const r = await run(['run', 'ledger.quorum-loss', '--cluster', 'lab-mesh']);
    assertUsage(r, /cluster "lab-mesh" is a training-cluster cluster, but ledger\.quorum-loss recovers ledger clusters/);
    assert.match(r.err, /fix: use a ledger cluster \(lab-ledger\)/);
  });

  it('refuses --set without key=value', async () => {
    assertUsage(await run(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--set', 'survivor']), /--set survivor: expected key=value/);
    assertUsage(await run(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--set', '=node1']), /expected key=value/);
  });

  it('refuses a parameter given twice', async () => {
    const r = await run(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--set', 'survivor=node1', '--set', 'survivor=node2']);
    assertUsage(r, /--set survivor given twice/);
  });

  it('refuses an unknown parameter and lists the known ones', async () => {
    const r = await run(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--set', 'survivors=node1']);
    assertUsage(r, /ledger\.quorum-loss has no parameter "survivors"; parameters: survivor, organization, vault/);
  });

  it('refuses a node that is not in the cluster', async () => {
    const r = await run(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--set', 'survivor=n1']);
    assertUsage(r, /--set survivor=n1: n1 is not a node of cluster lab-ledger; nodes: node1, node2, node3/);
  });

  it('refuses a value the schema rejects, naming the parameter', async () => {
    const r = await run(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--set', 'organization=']);
    assertUsage(r, /--set organization: /);
    assert.match(r.err, /must be a slug: the 64-bit number the ledger shows/);
    assert.match(r.err, /fix: organization: only this organization slug is verified/);
  });

  it('refuses a bad --approval-timeout and --time-scale', async () => {
    assertUsage(await run(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--approval-timeout', 'soon']), /--approval-timeout soon: not a duration/);
    assertUsage(await run(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--time-scale', '0']), /--time-scale 0/);
  });

  it('refuses an unknown flag', async () => {
    const r = await run(['run', 'ledger.quorum-loss', '--clusterr', 'lab-ledger']);
    assert.equal(r.code, EXIT.USAGE);
    assert.match(r.err, /unknown option '--clusterr'/);
  });

  it('reports a missing inventory with the way to get one', async () => {
    const r = await run(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger'], { LIFEBOAT_INVENTORY: path.join(dir, 'missing.yaml') });
    assertUsage(r, /no inventory at .*missing\.yaml: run `lifeboat lab up` for the lab, or write clusters\.yaml/);
  });

  it('reports an invalid inventory with field paths', async () => {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'clusters:\n  x:\n    system: ledger\n    nodes:\n      - name: a\n        ssh: { host: h, user: u, privateKey: "hunter2", hostKeys: [] }\n');
    const r = await run(['run', 'ledger.quorum-loss', '--cluster', 'x'], { LIFEBOAT_INVENTORY: bad });
    assertUsage(r, /clusters\.x\.nodes\[0\]\.ssh\.privateKey: /);
    assert.match(r.err, /clusters\.x\.nodes\[0\]\.ssh\.hostKeys: /);
    assert.doesNotMatch(r.err, /hunter2/);
  });

  it('a valid request passes validation and only then needs Temporal (exit 69)', async () => {
    const r = await run(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--set', 'survivor=node1', '--dry-run']);
    assert.equal(r.code, EXIT.UNAVAILABLE, r.err);
    assert.match(r.err, new RegExp(`error: Temporal at 127\\.0\\.0\\.1:${closedPort} is not reachable: start it with \`lifeboat dev\` or set TEMPORAL_ADDRESS`));
  });
});

describe('planRecovery', () => {
  const inv = parseInventory(INVENTORY, 'clusters.yaml');

  it('builds the workflow input: id per cluster, task queue, topology without addresses, defaults applied', () => {
    const plan = planRecovery(inv, {
      scenario: 'ledger.quorum-loss',
      cluster: 'lab-ledger',
      set: { survivor: 'node2' },
      startedBy: 'alice',
      dryRun: true,
      options: { approvalTimeout: '10m' },
    });
    assert.equal(plan.workflowId, 'recovery-lab-ledger');
    assert.equal(plan.taskQueue, 'lifeboat-lab');
    assert.equal(plan.spec.workflowType, 'ledgerQuorumLoss');
    assert.deepEqual(plan.input, {
      scenario: 'ledger.quorum-loss',
      cluster: {
        name: 'lab-ledger',
        system: 'ledger',
        nodes: [
          { name: 'node1', roles: ['voter'] },
          { name: 'node2', roles: ['voter'] },
          { name: 'node3', roles: ['voter'] },
        ],
      },
      params: { survivor: 'node2' },
      startedBy: 'alice',
      dryRun: true,
      options: { approvalTimeout: '10m' },
    });
    assert.ok(!JSON.stringify(plan.input).includes('127.0.0.1'));
  });

  it('names the field at fault', () => {
    assert.throws(
      () => planRecovery(inv, { scenario: 'training-cluster.mesh-collapse', cluster: 'lab-mesh', set: { coordinator: 'node1' }, startedBy: 'a' }),
      (e: UsageError) => e instanceof UsageError && e.field === 'set.coordinator' && /not a node of cluster lab-mesh/.test(e.message),
    );
    assert.throws(
      () => planRecovery(inv, { scenario: 'ledger.quorum-loss', cluster: 'lab-ledger', set: {}, startedBy: ' ' }),
      (e: UsageError) => e instanceof UsageError && e.field === 'as',
    );
  });
});

describe('lifeboat approve / reject / decide validate identity and reason first', () => {
  it('approve requires --as', async () => {
    assertUsage(await run(['approve', 'recovery-lab-ledger', 'single-node-bootstrap', '--reason', 'old cluster gone']), /--as is required/);
  });

  it('approve requires --reason', async () => {
    assertUsage(await run(['approve', 'recovery-lab-ledger', 'single-node-bootstrap', '--as', 'bob']), /--reason is required/);
    assertUsage(await run(['approve', 'recovery-lab-ledger', 'single-node-bootstrap', '--as', 'bob', '--reason', '  ']), /--reason is required/);
  });

  it('reject requires --as and --reason', async () => {
    assertUsage(await run(['reject', 'recovery-lab-ledger', 'g', '--reason', 'no']), /--as is required/);
    assertUsage(await run(['reject', 'recovery-lab-ledger', 'g', '--as', 'bob']), /--reason is required/);
  });

  it('decide accepts only retry, skip or abort, and requires --as', async () => {
    assertUsage(await run(['decide', 'recovery-lab-ledger', 'maybe', '--as', 'bob']), /decision "maybe" is not one of retry, skip, abort/);
    assertUsage(await run(['decide', 'recovery-lab-ledger', 'retry']), /--as is required/);
  });

  it('approve needs its two arguments', async () => {
    const r = await run(['approve', 'recovery-lab-ledger']);
    assert.equal(r.code, EXIT.USAGE);
    assert.match(r.err, /missing required argument 'gate'/);
  });
});

describe('the command itself', () => {
  it('prints help and exits 2 without a command, 0 with --help', async () => {
    const none = await run([]);
    assert.equal(none.code, EXIT.USAGE);
    assert.match(none.out, /Usage: lifeboat/);
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /approvals/);
  });

  it('inventory check validates the file without Temporal', async () => {
    const r = await run(['inventory', 'check', '--json']);
    assert.equal(r.code, 0, r.err);
    const res = JSON.parse(r.out) as { valid: boolean; clusters: Array<{ name: string; taskQueue: string }> };
    assert.equal(res.valid, true);
    assert.deepEqual(res.clusters.map((c) => `${c.name}@${c.taskQueue}`), ['lab-ledger@lifeboat-lab', 'lab-mesh@lifeboat']);
    // Each cluster's approval mode is shown; a cluster without one is named with the refusal `run` would give.
    assert.deepEqual((res.clusters as Array<{ approvals?: string }>).map((c) => c.approvals), ['unsigned: identity not verified', 'unsigned: identity not verified']);
    const bare = path.join(dir, 'no-approvals.yaml');
    writeFileSync(bare, INVENTORY.replace(/^approvals: .*$/m, ''));
    const none = await run(['inventory', 'check'], { LIFEBOAT_INVENTORY: bare });
    assert.equal(none.code, 0, none.err);
    assert.match(none.out, /NONE: cluster lab-ledger has no approvals policy/);
  });

  it('reports a bug with its stack and exit 70', () => {
    let err = '';
    const code = report(new TypeError('x is undefined'), { err: (t) => void (err += t) });
    assert.equal(code, EXIT.INTERNAL);
    assert.match(err, /internal error: x is undefined/);
    assert.match(err, /at /);
    assert.match(err, /please report/);
  });

  it('a file error on a path the user named: exit 2 with the path and the fix, no stack', () => {
    let err = '';
    const e = Object.assign(new Error("ENOENT: no such file or directory, open '/nope/incident.md'"), { code: 'ENOENT', errno: -2, syscall: 'open', path: '/nope/incident.md' });
    const code = report(e, { err: (t) => void (err += t) });
    assert.equal(code, EXIT.USAGE);
    assert.match(err, /^error: cannot open \/nope\/incident\.md: ENOENT \(no such file or directory\)\nfix: check the path: the file or its directory does not exist\n$/);
  });

  it('dev --stop with a state file cut short by a crash: how to stop by hand, no stack', async () => {
    mkdirSync(path.join(dir, '.lifeboat'), { recursive: true });
    writeFileSync(path.join(dir, '.lifeboat', 'dev.json'), '{"startedAt":"2026-12-06T10:00:00Z","chil');
    const r = await run(['dev', '--stop']);
    assertUsage(r, /dev\.json is unreadable, so the detached processes it listed cannot be found from it/);
    assert.match(r.err, /fix: stop them by hand \(`pgrep -af/);
    rmSync(path.join(dir, '.lifeboat'), { recursive: true, force: true });
  });

  it('an inventory whose YAML aliases pass the bound: the inventory error, in the CLI, without Temporal', async () => {
    const file = path.join(dir, 'aliased.yaml');
    writeFileSync(
      file,
      'clusters:\n  c0:\n    system: training-cluster\n    nodes: &nodes\n      - name: n1\n        http: { baseUrl: "http://10.1.0.1:8080" }\n' +
        Array.from({ length: 299 }, (_, i) => `  c${i + 1}:\n    system: training-cluster\n    nodes: *nodes\n`).join(''),
    );
    assertUsage(await run(['inventory', 'check'], { LIFEBOAT_INVENTORY: file }), /expands its YAML aliases \(\*name\) more than 100 times/);
    const raised = await run(['inventory', 'check', '--json'], { LIFEBOAT_INVENTORY: file, LIFEBOAT_INVENTORY_MAX_ALIASES: '500' });
    assert.equal(raised.code, 0, raised.err);
    assert.equal((JSON.parse(raised.out) as { clusters: unknown[] }).clusters.length, 300);
  });
});
