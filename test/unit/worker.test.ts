/**
 * The worker's process contract: which task queues it polls, and how it
 * fails when it cannot work (exit code and a fix line, no stack trace).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../src/config';
import { PROJECT_ROOT } from '../../src/tools';
import { taskQueuesFor } from '../../src/worker';

const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-worker-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
function inventory(file: string, queues: Record<string, string | undefined>): string {
  const clusters = Object.entries(queues).map(([name, q]) =>
    [
      `  ${name}:`,
      `    system: ledger`,
      ...(q ? [`    taskQueue: ${q}`] : []),
      `    nodes:`,
      `      - name: n1`,
      `        ssh: { host: 127.0.0.1, user: ops, privateKey: "env:NO_SUCH_KEY", hostKeys: ["${KEY}"] }`,
    ].join('\n'),
  );
  const p = path.join(dir, file);
  writeFileSync(p, `clusters:\n${clusters.join('\n')}\n`);
  return p;
}

const WORKER = path.join(PROJECT_ROOT, 'dist', 'src', 'worker.js');
function runWorker(env: Record<string, string>) {
  return spawnSync(process.execPath, [WORKER], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
}

describe('worker', () => {
  test('polls each distinct task queue of the inventory once; explicit queues win', () => {
    const inv = inventory('queues.yaml', { a: 'lifeboat-eu', b: undefined, c: 'lifeboat-eu', d: 'lifeboat-us' });
    const config = loadConfig({ LIFEBOAT_INVENTORY: inv }, dir);
    assert.deepEqual(taskQueuesFor(config), ['lifeboat', 'lifeboat-eu', 'lifeboat-us']);
    assert.deepEqual(taskQueuesFor(config, ['x', 'x', 'y']), ['x', 'y']);
  });

  test('an invalid inventory exits 2 naming the field and the fix, without a stack trace', () => {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'clusters:\n  x:\n    system: ledger\n    nodes: []\n');
    const r = runWorker({ LIFEBOAT_INVENTORY: bad, TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /clusters\.x\.nodes/);
    assert.match(r.stderr, /fix: edit .*bad\.yaml/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  test('an unreachable Temporal exits 69 with what to do', () => {
    const inv = inventory('ok.yaml', { a: undefined });
    const r = runWorker({ LIFEBOAT_INVENTORY: inv, TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(r.status, 69, r.stderr);
    assert.match(r.stderr, /127\.0\.0\.1:1 is not reachable/);
    assert.match(r.stderr, /fix: run `lifeboat dev`/);
  });
});
