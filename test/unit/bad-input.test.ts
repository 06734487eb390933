/**
 * The bad-input catalogue (docs/bad-input.md), CLI-level rows: each is
 * refused before any network call (TEMPORAL_ADDRESS points at a closed port,
 * so a command that dialled Temporal first would exit 69, not 2), with an
 * `error:` naming the problem and a `fix:`, and no stack trace. The row ids
 * (B1...) are those of the table. The rows that need a running recovery are
 * in test/e2e/bad-input.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MAX_PARAM_LENGTH, MAX_REASON_LENGTH, planRecovery } from '../../src/client';
import { EXIT, main } from '../../src/cli/main';
import type { Io } from '../../src/cli/context';
import { quoteArgv, renderScript } from '../../src/activities/transport/shell';
import { parseInventory } from '../../src/inventory/load';

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
const INVENTORY = `
approvals: { allowedSigners: allowed_signers }
clusters:
  lab-ledger:
    system: ledger
    nodes:
      - { name: node1, roles: [voter], grpc: { address: "127.0.0.1:50051" }, ssh: { host: 127.0.0.1, port: 2201, user: ops, privateKey: "env:K", hostKeys: ["${HOST_KEY}"] } }
      - { name: node2, roles: [voter], grpc: { address: "127.0.0.1:50052" } }
      - { name: node3, roles: [voter], grpc: { address: "127.0.0.1:50053" } }
  lab-training:
    system: training-cluster
    nodes:
      - { name: tc-node1, roles: [coordinator, voter], http: { baseUrl: "http://127.0.0.1:18080" } }
      - { name: tc-node2, roles: [voter], http: { baseUrl: "http://127.0.0.1:18081" } }
`;

const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-bad-input-'));
const inventoryFile = path.join(dir, 'clusters.yaml');
writeFileSync(inventoryFile, INVENTORY);
// Operators' keys, as ssh-keygen makes them: alice and bob are allowed signers, mallory is not.
for (const who of ['alice', 'bob', 'mallory']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', who, '-f', path.join(dir, who)]);
const pub = (who: string): string => readFileSync(path.join(dir, `${who}.pub`), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
writeFileSync(path.join(dir, 'allowed_signers'), `alice ${pub('alice')}\nbob ${pub('bob')}\n`);
let closedPort = 0;

before(async () => {
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

/** Exit 2, `error:` matching the problem, `fix:` matching the fix, no stack, nothing dialled. */
function refused(r: Run, problem: RegExp, fix: RegExp): void {
  assert.equal(r.code, EXIT.USAGE, `exit code ${r.code}; stderr:\n${r.err}`);
  assert.match(r.err, /^error: /m);
  assert.match(r.err.split('\nfix:')[0] ?? '', problem);
  assert.match(r.err.split('\nfix:')[1] ?? '', fix, 'the fix says what to do next');
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  assert.equal(r.out, '', 'nothing printed as if it had started');
}

const RUN = ['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--as', 'bob', '--key', path.join(dir, 'bob')];

describe('bad input refused before anything starts', () => {
  it('B1 unknown scenario: named, with the known ones', async () => {
    refused(await run(['run', 'ledger.quorum-lost', '--cluster', 'lab-ledger']), /unknown scenario "ledger\.quorum-lost"; known: .*ledger\.quorum-loss/, /lifeboat scenarios/);
  });

  it('B2 missing input: --cluster', async () => {
    refused(await run(['run', 'ledger.quorum-loss']), /--cluster is required/, /--cluster with one of: lab-ledger, lab-training/);
  });

  it('B3 ill-typed inputs: --set without =, unknown parameter, given twice, empty node, bad duration, bad time scale', async () => {
    refused(await run([...RUN, '--set', 'survivor']), /--set survivor: expected key=value/, /--set key=value/);
    refused(await run([...RUN, '--set', 'colour=red']), /has no parameter "colour"; parameters: survivor, organization, vault/, /--set with one of/);
    refused(await run([...RUN, '--set', 'survivor=node1', '--set', 'survivor=node2']), /--set survivor given twice/, /keep one/);
    refused(await run([...RUN, '--set', 'survivor=']), /--set survivor: must be a node name/, /survivor: /);
    refused(await run([...RUN, '--approval-timeout', 'soon']), /--approval-timeout soon: not a duration/, /30m/);
    refused(await run([...RUN, '--time-scale', '-1']), /--time-scale -1: must be a number/, /--time-scale 0\.01/);
  });

  it('B4 unknown cluster, or a cluster of another system', async () => {
    refused(await run(['run', 'ledger.quorum-loss', '--cluster', 'prod-ledger']), /unknown cluster "prod-ledger"; known: lab-ledger, lab-training/, /--cluster with one of/);
    refused(await run(['run', 'ledger.quorum-loss', '--cluster', 'lab-training']), /lab-training" is a training-cluster cluster, but ledger\.quorum-loss recovers ledger clusters/, /use a ledger cluster \(lab-ledger\)/);
  });

  it('B5 a node not in the cluster', async () => {
    refused(await run([...RUN, '--set', 'survivor=node9']), /node9 is not a node of cluster lab-ledger; nodes: node1, node2, node3/, /use one of: node1, node2, node3/);
    refused(await run(['run', 'training-cluster.mesh-collapse', '--cluster', 'lab-training', '--set', 'coordinator=node1']), /node1 is not a node of cluster lab-training/, /tc-node1, tc-node2/);
  });

  it('B6 shell metacharacters in a node name are refused by the schema, newlines and control characters in any value', async () => {
    for (const v of ['node1; rm -rf /', 'node1 && reboot', '$(reboot)', '`reboot`', 'node1|sh', "node1'", '../node1']) {
      refused(await run([...RUN, '--set', `survivor=${v}`]), /--set survivor: must be a node name from the inventory/, /survivor: /);
    }
    refused(await run([...RUN, '--set', 'survivor=node1\nreboot']), /--set survivor contains a newline \(at position 5\)/, /one line, without control characters/);
    refused(await run([...RUN, '--set', 'organization=1\nrm -rf /']), /--set organization contains a newline/, /one line/);
    refused(await run(['run', 'ledger.full-restore', '--cluster', 'lab-ledger', '--as', 'bob', '--set', 'backup=s3://ledger-backups/x\r\nreboot']), /contains a carriage return/, /one line/);
    refused(await run([...RUN, '--set', 'organization=1\u0000x']), /control character U\+0000/, /one line/);
    refused(await run([...RUN, '--set', 'organization=\u001b[31mred']), /control character U\+001B/, /one line/);
  });

  it('B6 a path with metacharacters the schema accepts reaches the command as one literal argv word', () => {
    const hostile = "s3://ledger-backups/latest; rm -rf / $(reboot) `id` 'q' \"dq\" \\ * ? & | > < ~ #";
    const inv = parseInventory(INVENTORY, inventoryFile);
    const plan = planRecovery(inv, { scenario: 'ledger.full-restore', cluster: 'lab-ledger', set: { backup: hostile }, startedBy: 'bob' });
    assert.equal(plan.input.params.backup, hostile, 'accepted verbatim (an S3 key may hold any character): quoting, not the schema, makes it safe');
    // Proof of the quoting on real shells: printf receives exactly one argument per word, byte-exact.
    const words = [hostile, 'a\nb', "it's", '', '-n', '$HOME', '!!', '\t', 'ünï€ødé'];
    for (const shell of ['sh', 'bash']) {
      const script = renderScript({ argv: ['printf', '%s\\0', ...words], cwd: '/', env: { LB_X: hostile } });
      const r = spawnSync(shell, ['-c', script], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${shell}: ${r.stderr}`);
      assert.deepEqual(r.stdout.split('\0').slice(0, -1), words, `${shell} received the words literally`);
      const env = spawnSync(shell, ['-c', renderScript({ argv: ['sh', '-c', 'printf %s "$LB_X"'], env: { LB_X: hostile } })], { encoding: 'utf8' });
      assert.equal(env.stdout, hostile);
    }
    assert.equal(quoteArgv(["a'b"]), `'a'\\''b'`);
  });

  it('B12 oversized input: a --set value, a name, a reason', async () => {
    refused(await run([...RUN, '--set', `organization=${'x'.repeat(MAX_PARAM_LENGTH + 1)}`]), new RegExp(`--set organization is ${MAX_PARAM_LENGTH + 1} characters long; the limit is ${MAX_PARAM_LENGTH}`), /shorten/);
    refused(await run(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--as', 'b'.repeat(200)]), /--as is 200 characters long; the limit is 128/, /shorten the name/);
    refused(await run(['approve', 'recovery-lab-ledger', 'single-node-bootstrap', '--as', 'alice', '--reason', 'r'.repeat(MAX_REASON_LENGTH + 1), '--confirm', 'lab-ledger']), /--reason is \d+ characters long; the limit is 2000/, /ticket/);
    refused(await run(['approve', 'recovery-lab-ledger', 'single-node-bootstrap', '--as', 'alice\nbob', '--reason', 'x']), /--as contains a newline/, /one line/);
    refused(await run(['approve', 'recovery-lab-ledger', 'single-node-bootstrap', '--as', 'alice', '--reason', 'ok\u001b]0;pwned\u0007']), /--reason contains control character U\+001B/, /without control characters/);
  });

  it('B8/B13 answers without who or why, a decision that does not exist', async () => {
    refused(await run(['approve', 'recovery-lab-ledger', 'single-node-bootstrap', '--reason', 'x']), /--as is required/, /add --as NAME/);
    refused(await run(['approve', 'recovery-lab-ledger', 'single-node-bootstrap', '--as', 'alice']), /--reason is required/, /add --reason "TEXT"/);
    refused(await run(['reject', 'recovery-lab-ledger', 'single-node-bootstrap', '--as', 'alice']), /--reason is required/, /--reason/);
    refused(await run(['decide', 'recovery-lab-ledger', 'maybe', '--as', 'alice']), /decision "maybe" is not one of retry, skip, abort/, /retry\|skip\|abort/);
  });

  it('B15 a codec key pasted instead of referenced is refused without echoing it', async () => {
    const key = 'c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXk=';
    const r = await run(RUN, { LIFEBOAT_CODEC_KEY_REF: key });
    refused(r, /LIFEBOAT_CODEC_KEY_REF must hold references/, /env:LIFEBOAT_CODEC_KEY/);
    assert.ok(!r.err.includes(key));
  });

  it('B28 a worker cache size that is not a positive whole number is refused naming the variable, before connecting', async () => {
    for (const bad of ['lots', '0', '-5', '2.5', '1e3']) {
      refused(await run(['worker'], { LIFEBOAT_MAX_CACHED_WORKFLOWS: bad }), /LIFEBOAT_MAX_CACHED_WORKFLOWS=.* is not a positive whole number/, /how many recoveries each worker keeps in memory \(e\.g\. 500\), or unset it/);
    }
  });

  it('B19 who signs: no approvals policy, unreadable allowed signers, no key, a key not allowed, a name the key may not sign as', async () => {
    const bare = path.join(dir, 'no-policy.yaml');
    writeFileSync(bare, INVENTORY.replace('approvals: { allowedSigners: allowed_signers }\n', ''));
    refused(await run(RUN, { LIFEBOAT_INVENTORY: bare }), /cluster lab-ledger has no approvals policy: who may approve its recoveries is not said/, /approvals: \{ allowedSigners: .*approvals: \{ mode: unsigned \}/);
    const lost = path.join(dir, 'lost-signers.yaml');
    writeFileSync(lost, INVENTORY.replace('allowedSigners: allowed_signers', 'allowedSigners: nowhere/allowed_signers'));
    refused(await run(RUN, { LIFEBOAT_INVENTORY: lost }), /cannot read the allowed signers of cluster lab-ledger, .*nowhere\/allowed_signers \(ENOENT\)/, /create it .* or fix approvals\.allowedSigners/);
    const unsignedRun = RUN.slice(0, RUN.indexOf('--key'));
    refused(await run(unsignedRun), /cluster lab-ledger requires signed approvals: which SSH key signs is not said/, /--key ~\/\.ssh\/id_ed25519 .*LIFEBOAT_SIGNING_KEY/);
    refused(await run([...unsignedRun, '--key', path.join(dir, 'nobody')]), /no SSH key at .*nobody/, /check --key/);
    refused(await run([...unsignedRun, '--key', path.join(dir, 'mallory')]), /key SHA256:\S+ \(.*mallory\) is not an allowed signer of cluster lab-ledger/, /have yours added to that file/);
    refused(await run(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--as', 'alice', '--key', path.join(dir, 'bob')]), /may sign as bob, not as alice/, /drop --as or use one of: bob/);
    // The same key named by the environment instead of --key.
    const viaEnv = await run([...unsignedRun, '--set', 'survivor=node1', '--set', 'organization=1'], { LIFEBOAT_SIGNING_KEY: path.join(dir, 'bob') });
    assert.equal(viaEnv.code, EXIT.UNAVAILABLE, viaEnv.err);
  });

  it('a valid request passes every check and only then dials Temporal (exit 69): the checks are not over-eager', async () => {
    const r = await run([...RUN, '--set', 'survivor=node1', '--set', 'organization=1']);
    assert.equal(r.code, EXIT.UNAVAILABLE, r.err);
    const ok = await run(['approve', 'recovery-lab-ledger', 'single-node-bootstrap', '--as', 'alice', '--reason', 'line one\nline two\twith a tab', '--confirm', 'lab-ledger']);
    assert.equal(ok.code, EXIT.UNAVAILABLE, ok.err);
  });
});
