/**
 * Hung targets during a real recovery (dev server, ledger lab, worker
 * process, the CLI):
 *
 * - a node that accepts SSH connections but never answers: each attempt of
 *   the step fails within the SSH ready timeout (ConnectTimeout, retryable),
 *   Temporal retries it, and once the host heals the recovery completes with
 *   the node stopped exactly once;
 * - `lifeboat cancel` while a remote command hangs (a `systemctl stop` that
 *   never returns, as on a stuck service): the cancellation reaches the
 *   worker through the activity's heartbeat, the SSH channel is closed and
 *   the lab kills the command's process group; the recovery ends cancelled
 *   and the stop never took effect.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { progressQuery, type Progress } from '../../src/workflows/kit/defs';
import { eventually, startStack, type Stack } from '../helpers/stack';

const ID = 'recovery-lab-ledger';
let stack: Stack;

before(async () => {
  stack = await startStack({ families: ['ledger'] });
});
after(async () => {
  await stack?.stop();
});

function progress(): Promise<Progress> {
  return stack.client.workflow.getHandle(ID).query(progressQuery);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('hung targets during a recovery', () => {
  test('a hung node: each attempt times out within the SSH bound and is retried; once healed the recovery completes, the node stopped once', async (t) => {
    const { lab, cli } = stack;
    t.after(async () => {
      await lab.break('host.heal:lab-ledger/node1').catch(() => undefined);
      await stack.client.workflow.getHandle(ID).terminate('test cleanup').catch(() => undefined);
    });
    await lab.break('ledger.quorum-loss');
    const start = lab.effects.list({ cluster: 'lab-ledger' }).length;
    await lab.break('host.hang:lab-ledger/node1');
    const run = await cli(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);

    // The export to node1's disk (the survivor) shows its attempts failing with ConnectTimeout, one per ~10 s + backoff.
    const pending = await eventually('a second attempt after a ConnectTimeout', async () => {
      const d = await stack.client.workflow.getHandle(ID).describe();
      const a = d.raw.pendingActivities?.find((x) => x.activityType?.name === 'ledgerExport');
      return a && (a.attempt ?? 0) >= 2 ? a : undefined;
    }, 60_000, 500);
    assert.match(pending.lastFailure?.message ?? '', /no SSH session with .* within 10000 ms/);
    assert.equal(pending.lastFailure?.applicationFailureInfo?.type, 'ConnectTimeout');
    assert.equal(pending.lastFailure?.applicationFailureInfo?.nonRetryable ?? false, false);
    assert.equal((await progress()).status, 'running', 'retrying, not asking: the fault may pass');

    await lab.break('host.heal:lab-ledger/node1');
    await eventually('the split-brain gate', async () => (await progress()).gates.some((g) => g.gate === 'single-node-bootstrap' && g.status === 'waiting'), 120_000);
    const ok = await cli(['approve', ID, 'single-node-bootstrap', '--as', 'alice', '--reason', 'old nodes gone', '--confirm', 'lab-ledger']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const done = await cli(['watch', ID]);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    const effects = lab.effects.list({ cluster: 'lab-ledger' }).slice(start);
    // node1 is stopped once, then forms the new cluster once; nothing was repeated by the retries.
    assert.equal(effects.filter((e) => e.effect === 'ledger.service.stop' && e.node === 'node1').length, 1, JSON.stringify(effects));
    assert.deepEqual(effects.filter((e) => e.effect === 'ledger.init').map((e) => e.node), ['node1']);
    const health = (await lab.health()).find((h) => h.cluster === 'lab-ledger');
    assert.ok(health?.healthy, JSON.stringify(health));
  });

  test('`lifeboat cancel` reaches a remote command that hangs: the lab kills it, the recovery ends cancelled, the stop never happened', async (t) => {
    const { lab, cli } = stack;
    // node1's `systemctl stop` hangs (a stuck unit); every other systemctl verb works.
    const bin = path.join(lab.dir, 'bin', 'lab-ledger', 'node1');
    const shim = path.join(bin, 'systemctl');
    const pidFile = path.join(stack.dir, 'hung-stop.pid');
    copyFileSync(shim, `${shim}.orig`);
    const wrapper = `#!/bin/sh\nif [ "$1" = stop ]; then echo $$ > '${pidFile}'; exec sleep 600; fi\nexec '${shim}.orig' "$@"\n`;
    writeFileSync(`${shim}.new`, wrapper, { mode: 0o755 });
    renameSync(`${shim}.new`, shim);
    t.after(async () => {
      renameSync(`${shim}.orig`, shim);
      await stack.client.workflow.getHandle(ID).terminate('test cleanup').catch(() => undefined);
    });

    await lab.break('ledger.quorum-loss');
    const start = lab.effects.list({ cluster: 'lab-ledger' }).length;
    const run = await cli(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);
    // The survivor's unit is stopped after the split-brain gate.
    await eventually('the split-brain gate', async () => (await progress()).gates.some((g) => g.gate === 'single-node-bootstrap' && g.status === 'waiting'), 120_000);
    const ok = await cli(['approve', ID, 'single-node-bootstrap', '--as', 'alice', '--reason', 'old nodes gone', '--confirm', 'lab-ledger']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const pid = await eventually('the stop command to hang on node1', async () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : undefined), 60_000, 200);
    assert.ok(alive(pid), 'the remote command runs');
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(alive(pid), 'and keeps hanging');

    const t0 = Date.now();
    const cancel = await cli(['cancel', ID, '--reason', 'stuck on node1', '--as', 'alice']);
    assert.equal(cancel.code, 0, cancel.stdout + cancel.stderr);
    // Cancellation travels in the answer to the activity's next heartbeat (every 5 s at most), then the channel closes.
    await eventually('the hung command to be killed', async () => !alive(pid), 30_000, 100);
    const killedAfter = Date.now() - t0;
    assert.ok(killedAfter < 15_000, `killed ${killedAfter} ms after the cancel`);

    const d = await eventually('the recovery to end', async () => {
      const x = await stack.client.workflow.getHandle(ID).describe();
      return x.status.name !== 'RUNNING' ? x : undefined;
    }, 60_000, 250);
    assert.equal(d.status.name, 'CANCELLED');
    const effects = lab.effects.list({ cluster: 'lab-ledger' }).slice(start);
    assert.deepEqual(effects.filter((e) => e.effect === 'ledger.service.stop' && e.node === 'node1'), [], 'the hung stop never took effect');
    assert.deepEqual(effects.filter((e) => ['ledger.service.start', 'ledger.init'].includes(e.effect)), []);
    const watch = await cli(['watch', ID, '--once']);
    assert.match(watch.stdout + watch.stderr, /cancel/i);
    process.stderr.write(`cancel -> remote command killed in ${killedAfter} ms\n`);
  });
});
