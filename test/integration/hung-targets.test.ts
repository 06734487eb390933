/**
 * Hung and flaky targets at the activity level: a real ledger effect
 * (`ledgerServiceStop`, over real SSH to the lab) against each of the lab's generic
 * host faults, in Temporal's MockActivityEnvironment. For each: detected
 * within its configured bound, classified retryable or not as retrying can or
 * cannot help, and no effect on the target unless the command really ran;
 * after the fault heals the same activity succeeds once (what Temporal's
 * retry does). HTTP and gRPC hangs are in test/integration/http.test.ts and
 * grpc.test.ts; the workflow-level view (retries, cancellation reaching the
 * remote command) in test/e2e/hung-targets.test.ts.
 *
 * | fault | expected | bound |
 * |---|---|---|
 * | hang (accepts, never sends the banner) | `ConnectTimeout`, retryable | SSH ready timeout (10 s) + 2 s |
 * | drop (resets every connection) | `ConnectionLost`, retryable | 2 s |
 * | slow (answers after N ms) | succeeds, N ms later | N + 5 s |
 * | slow beyond the command's timeout | `Timeout`, retryable, command killed | command timeout + the kill helper (≤ 4 s) |
 * | refuse-auth | `AuthFailed`, NOT retryable, key never shown | 3 s |
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type ActivitySet } from '../../src/activities';
import { createContext } from '../../src/activities/context';
import { killScript } from '../../src/activities/transport/ssh';
import type { EffectResult } from '../../src/activities/types';
import { startLab, type Lab } from '../../lab/index';

const LEDGER = 'lab-ledger';
const T = { timeout: 60_000 };
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-hung-'));
let lab: Lab;
let acts: ActivitySet;
let seq = 0;

before(async () => {
  lab = await startLab({ dir, families: ['ledger'], bootMs: 300 });
  acts = createActivities({ inventoryPath: lab.inventoryPath });
});
after(async () => {
  await acts?.close();
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function env(activityId = `hung-${++seq}`): MockActivityEnvironment {
  return new MockActivityEnvironment({ activityId, workflowExecution: { workflowId: 'wf-hung', runId: 'run-1' } });
}

async function timed<T>(p: Promise<T>): Promise<{ ms: number; value?: T; err?: unknown }> {
  const t0 = Date.now();
  try {
    const value = await p;
    return { ms: Date.now() - t0, value };
  } catch (err) {
    return { ms: Date.now() - t0, err };
  }
}

function asFailure(err: unknown): ApplicationFailure {
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${inspect(err)}`);
  return err;
}

const stops = (node: string) => lab.effects.list({ cluster: LEDGER, node, effect: 'ledger.service.stop' }).length;

describe('a real effect (ledgerServiceStop over SSH) against each host fault', () => {
  test('hang: ConnectTimeout, retryable, within the SSH ready timeout; after healing the same activity stops the node once', T, async () => {
    const node = 'node2';
    await lab.break(`host.hang:${LEDGER}/${node}`);
    const before = stops(node);
    try {
      const r = await timed(env('stop-hang').run(acts.activities.ledgerServiceStop, { cluster: LEDGER, node }));
      const f = asFailure(r.err);
      assert.equal(f.type, 'ConnectTimeout', f.message);
      assert.equal(f.nonRetryable, false, 'a hung host may come back: retried');
      assert.match(f.message, /no SSH session with .* within 10000 ms/);
      assert.ok(r.ms >= 9_000 && r.ms < 12_000, `detected after ${r.ms} ms`);
      assert.equal(stops(node), before, 'nothing reached the host');
    } finally {
      await lab.break(`host.heal:${LEDGER}/${node}`);
    }
    const ok = (await env('stop-hang').run(acts.activities.ledgerServiceStop, { cluster: LEDGER, node })) as EffectResult;
    assert.ok(!ok.alreadyDone, JSON.stringify(ok));
    assert.equal(stops(node), before + 1);
    // A retry after success is idempotent: the node is already stopped.
    const again = (await env('stop-hang').run(acts.activities.ledgerServiceStop, { cluster: LEDGER, node })) as EffectResult;
    assert.equal(again.alreadyDone, true);
    assert.equal(stops(node), before + 1);
    await env().run(acts.activities.ledgerServiceStart, { cluster: LEDGER, node }).catch(() => undefined);
  });

  test('drop: ConnectionLost, retryable, at once', T, async () => {
    const node = 'node3';
    await lab.break(`host.drop:${LEDGER}/${node}`);
    const before = stops(node);
    try {
      const r = await timed(env().run(acts.activities.ledgerServiceStop, { cluster: LEDGER, node }));
      const f = asFailure(r.err);
      assert.equal(f.type, 'ConnectionLost', f.message);
      assert.equal(f.nonRetryable, false);
      assert.match(f.message, /will be retried/);
      assert.ok(r.ms < 2_000, `detected after ${r.ms} ms`);
      assert.equal(stops(node), before);
    } finally {
      await lab.break(`host.heal:${LEDGER}/${node}`);
    }
  });

  test('refuse-auth: AuthFailed, NOT retryable, at once, without the key', T, async () => {
    const node = 'node1';
    await lab.break(`host.refuse-auth:${LEDGER}/${node}`);
    const before = stops(node);
    try {
      const r = await timed(env().run(acts.activities.ledgerServiceStop, { cluster: LEDGER, node }));
      const f = asFailure(r.err);
      assert.equal(f.type, 'AuthFailed', f.message);
      assert.equal(f.nonRetryable, true, 'a refused key does not get better by retrying');
      assert.match(f.message, /authorized_keys/);
      assert.ok(r.ms < 3_000, `detected after ${r.ms} ms`);
      const key = readFileSync(join(dir, 'keys', 'id_ed25519'), 'utf8');
      for (const line of key.split('\n').filter((l) => l.length > 16 && !l.startsWith('-----'))) assert.ok(!inspect(f, { depth: 10 }).includes(line));
      assert.equal(stops(node), before);
    } finally {
      await lab.break(`host.heal:${LEDGER}/${node}`);
    }
  });

  test('slow: the stop still succeeds, late by the delay of each command, once', T, async () => {
    const node = 'node1';
    await lab.break(`host.slow:${LEDGER}/${node}=2500`);
    const before = stops(node);
    try {
      const r = await timed(env().run(acts.activities.ledgerServiceStop, { cluster: LEDGER, node }));
      assert.ok(r.value && !(r.value as EffectResult).alreadyDone, inspect(r.err ?? r.value));
      // Two commands (is-active, then stop), each 2.5 s late.
      assert.ok(r.ms >= 5_000 && r.ms < 15_000, `took ${r.ms} ms`);
      assert.equal(stops(node), before + 1);
      const infoMs = await timed(env().run(acts.activities.ledgerNodeState, { cluster: LEDGER, node: 'node2' }));
      assert.ok(infoMs.ms < 5_000, 'gRPC to the other nodes is unaffected');
    } finally {
      await lab.break(`host.heal:${LEDGER}/${node}`);
    }
  });

  test('slow beyond the command timeout: Timeout, retryable, within the timeout', T, async () => {
    const node = 'node1';
    await lab.break(`host.slow:${LEDGER}/${node}=8000`);
    const ctx = createContext({ inventoryPath: lab.inventoryPath });
    try {
      const r = await timed(env().run(() => ctx.run(() => ctx.exec({ cluster: LEDGER, node }, [{ argv: ['true'] }], 3_000)), undefined));
      const f = asFailure(r.err);
      assert.equal(f.type, 'Timeout', f.message);
      assert.equal(f.nonRetryable, false);
      assert.match(f.message, /did not finish within 3000 ms and was stopped/);
      // The timeout, then the TERM/KILL helper on the (slow) host, itself bounded at ~3 s.
      assert.ok(r.ms >= 2_900 && r.ms < 7_500, `detected after ${r.ms} ms`);
    } finally {
      await lab.break(`host.heal:${LEDGER}/${node}`);
      await ctx.ssh.closeAll();
    }
  });
});

describe('cancellation reaches the remote command', () => {
  test('cancelling ledgerServiceStop while `systemctl stop` hangs on the host kills the command (its process group) within 3 s', T, async (t) => {
    const node = 'node3';
    const bin = join(dir, 'bin', LEDGER, node);
    const shim = join(bin, 'systemctl');
    const pidFile = join(dir, 'hung-stop.pid');
    copyFileSync(shim, `${shim}.orig`);
    writeFileSync(`${shim}.new`, `#!/bin/sh\nif [ "$1" = stop ]; then echo $$ > '${pidFile}'; exec sleep 600; fi\nexec '${shim}.orig' "$@"\n`, { mode: 0o755 });
    renameSync(`${shim}.new`, shim);
    t.after(() => renameSync(`${shim}.orig`, shim));
    const before = stops(node);
    const e = env('stop-cancelled');
    const p = e.run(acts.activities.ledgerServiceStop, { cluster: LEDGER, node });
    p.catch(() => undefined);
    const deadline = Date.now() + 20_000;
    while (!existsSync(pidFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    assert.ok(alive(pid), 'the stop hangs on the host');
    const t0 = Date.now();
    e.cancel();
    const err = await p.then(() => assert.fail('the cancelled stop resolved'), (x: unknown) => x);
    assert.ok(err instanceof CancelledFailure, `expected a CancelledFailure, got ${inspect(err)}`);
    while (alive(pid) && Date.now() - t0 < 5_000) await new Promise((r) => setTimeout(r, 50));
    assert.ok(!alive(pid), 'the remote command was killed');
    assert.ok(Date.now() - t0 < 3_000, `killed after ${Date.now() - t0} ms`);
    assert.equal(stops(node), before, 'the stop never took effect');
  });
});

describe('the remote kill works in every common /bin/sh', () => {
  for (const shell of ['dash', 'bash', 'sh']) {
    test(`${shell}: killScript(pgid) kills the whole process group, children included`, T, async () => {
      if (spawnSync('sh', ['-c', `command -v ${shell}`]).status !== 0) assert.fail(`${shell} is not installed`);
      // A session leader with a child, as sshd (and the lab) start a command.
      const leader = spawn('sh', ['-c', 'sleep 600 & echo $!; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
      const child = await new Promise<number>((resolve) => leader.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
      assert.ok(alive(child));
      const r = spawnSync(shell, ['-c', killScript(leader.pid!)], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 0, r.stderr);
      const t0 = Date.now();
      while (alive(child) && Date.now() - t0 < 3_000) await new Promise((res) => setTimeout(res, 50));
      assert.ok(!alive(child), `${shell}: the child of the group leader survived the kill`);
    });
  }
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
