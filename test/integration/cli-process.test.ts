/**
 * The `lifeboat` command and the worker as real processes, at the edges a
 * user reaches from a shell: a reader that closes the pipe early (`| head`)
 * and a clusters file whose YAML aliases pass the parser's bound. Neither
 * prints a stack trace.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { PROJECT_ROOT } from '../../src/tools';

const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-cli-process-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const BIN = path.join(PROJECT_ROOT, 'bin', 'lifeboat.js');
const WORKER = path.join(PROJECT_ROOT, 'dist', 'src', 'worker.js');

/** `n` clusters, written out (no aliases): the table `inventory check` prints grows past a pipe's 64 KiB. */
function manyClusters(n: number): string {
  let text = 'clusters:\n';
  for (let i = 0; i < n; i++) {
    text += `  mesh-${String(i).padStart(5, '0')}:\n    system: training-cluster\n    nodes:\n      - { name: n1, http: { baseUrl: "http://10.1.0.1:8080" } }\n      - { name: n2, http: { baseUrl: "http://10.1.0.2:8080" } }\n`;
  }
  return text;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs a process to its end (bounded), collecting stderr. */
function finished(child: ReturnType<typeof spawn>, what: string, timeoutMs = 60_000): Promise<Exit> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not end within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stderr });
    });
  });
}

test('a reader that closes the pipe early (`| head -n 1`): lifeboat exits 141 quietly, the reader has its line', async () => {
  const file = path.join(dir, 'many.yaml');
  writeFileSync(file, manyClusters(3000));
  const env = { ...process.env, LIFEBOAT_INVENTORY: file, NO_COLOR: '1' };
  // A shell pipeline, as a user types it: head is the only reader of lifeboat's stdout, and exits after one line.
  const pipeline = spawn('bash', ['-c', '"$0" "$1" inventory check | head -n 1; exit "${PIPESTATUS[0]}"', process.execPath, BIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let first = '';
  pipeline.stdout!.on('data', (d: Buffer) => (first += d.toString()));
  const l = await finished(pipeline, 'lifeboat inventory check | head -n 1');
  assert.match(first, new RegExp(`^Inventory ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is valid: 3000 clusters\\.\\n$`));
  assert.equal(l.stderr, '', 'nothing on stderr: no EPIPE, no stack');
  assert.deepEqual([l.code, l.signal], [141, null], 'the status of a command whose reader went away (128 + SIGPIPE), as git gives');
});

test('output far past a pipe\'s buffer reaches a slow reader whole before lifeboat exits (it was cut at 192 KiB: `approvals --json` of 500 gates)', async () => {
  const file = path.join(dir, 'many-json.yaml');
  writeFileSync(file, manyClusters(3000));
  const env = { ...process.env, LIFEBOAT_INVENTORY: file, NO_COLOR: '1' };
  const child = spawn(process.execPath, [BIN, 'inventory', 'check', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  // A reader slower than the writer: the pipe fills, and lifeboat must wait for it before exiting.
  child.stdout!.on('data', (d: Buffer) => {
    chunks.push(d);
    child.stdout!.pause();
    setTimeout(() => child.stdout!.resume(), 2);
  });
  const end = await finished(child, 'lifeboat inventory check --json');
  assert.equal(end.code, 0, end.stderr);
  const text = Buffer.concat(chunks).toString();
  assert.ok(text.length > 500_000, `only ${text.length} bytes`);
  const parsed = JSON.parse(text) as { clusters: unknown[] };
  assert.equal(parsed.clusters.length, 3000);
});

test('an inventory past the YAML alias bound: the worker says so as an inventory error and exits 2, no stack', async () => {
  const file = path.join(dir, 'aliased.yaml');
  writeFileSync(
    file,
    'clusters:\n  c0:\n    system: training-cluster\n    nodes: &nodes\n      - name: n1\n        http: { baseUrl: "http://10.1.0.1:8080" }\n' +
      Array.from({ length: 299 }, (_, i) => `  c${i + 1}:\n    system: training-cluster\n    nodes: *nodes\n`).join(''),
  );
  // Temporal is never dialled: the inventory is read first. The address is a closed loopback port all the same.
  const env = { ...process.env, LIFEBOAT_INVENTORY: file, TEMPORAL_ADDRESS: '127.0.0.1:9', LIFEBOAT_INVENTORY_MAX_ALIASES: '' };
  const worker = await finished(spawn(process.execPath, [WORKER], { env, stdio: ['ignore', 'ignore', 'pipe'] }), 'the worker');
  assert.equal(worker.code, 2, worker.stderr);
  assert.match(worker.stderr, /^lifeboat worker: inventory .*aliased\.yaml expands its YAML aliases \(\*name\) more than 100 times/);
  assert.match(worker.stderr, /fix: write the repeated parts out .* or raise the bound: LIFEBOAT_INVENTORY_MAX_ALIASES=<count>/);
  assert.doesNotMatch(worker.stderr, /\n\s+at |ReferenceError/, 'no stack trace');
  const cli = await finished(spawn(process.execPath, [BIN, 'inventory', 'check'], { env, stdio: ['ignore', 'ignore', 'pipe'] }), 'lifeboat inventory check');
  assert.equal(cli.code, 2, cli.stderr);
  assert.match(cli.stderr, /^error: inventory .* expands its YAML aliases/);
  assert.doesNotMatch(cli.stderr, /\n\s+at |ReferenceError/);
});
