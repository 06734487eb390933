/**
 * runCommand with real child processes: no shell, exit codes, process-group
 * kill on timeout and cancel, bounded output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TransportError } from '../../src/activities/transport/errors';
import { runCommand } from '../../src/activities/transport/command';

function tmpdir(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeboat-cmd-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function failure(fn: () => Promise<unknown>): Promise<TransportError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof TransportError, `expected TransportError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the command to fail');
}

/** True when the process no longer exists (a zombie awaiting reaping counts as gone). */
function gone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ..." — the state letter follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

/** Waits (bounded) for the process to be gone. */
async function waitGone(pid: number, withinMs: number): Promise<boolean> {
  const until = Date.now() + withinMs;
  while (Date.now() < until) {
    if (gone(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return gone(pid);
}

/** Reads a pid written by a child, waiting (bounded) for the file. */
async function readPid(file: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '';
    if (/^\d+$/.test(text)) return Number(text);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`no pid in ${file}`);
}

/** Kills a pid if it is still there (test cleanup only). */
function killIfAlive(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

test('argv reaches the program literally: no shell, no expansion', async (t) => {
  const dir = tmpdir(t);
  fs.writeFileSync(path.join(dir, 'decoy'), '');
  const args = ['; touch X', '$(id)', '`id`', 'line1\nline2', '*', "it's \"quoted\"", '$HOME', '|| true'];
  const res = await runCommand(['printf', '[%s]\\n', ...args], { cwd: dir, timeoutMs: 5_000 });
  assert.equal(res.exitCode, 0);
  assert.equal(res.stdout, args.map((a) => `[${a}]\n`).join(''));
  assert.equal(res.stderr, '');
  assert.equal(fs.existsSync(path.join(dir, 'X')), false);
  assert.equal(typeof res.durationMs, 'number');
});

test('non-zero exit and death by signal are returned, not thrown', async () => {
  const three = await runCommand(['sh', '-c', 'echo out; echo err >&2; exit 3'], { timeoutMs: 5_000 });
  assert.deepEqual([three.exitCode, three.signal, three.stdout, three.stderr], [3, undefined, 'out\n', 'err\n']);

  const killed = await runCommand(['sh', '-c', 'kill -TERM $$'], { timeoutMs: 5_000 });
  assert.equal(killed.exitCode, null);
  assert.equal(killed.signal, 'SIGTERM');
});

test('stdin is written and closed; env is merged over the worker environment', async () => {
  const cat = await runCommand(['cat'], { stdin: 'line one\nline two\n', timeoutMs: 5_000 });
  assert.equal(cat.stdout, 'line one\nline two\n');

  const env = await runCommand(['sh', '-c', 'printf "%s|%s" "$LIFEBOAT_TEST_VAR" "${PATH:+has-path}"'], {
    env: { LIFEBOAT_TEST_VAR: 'value with spaces' },
    timeoutMs: 5_000,
  });
  assert.equal(env.stdout, 'value with spaces|has-path');
});

test('timeout kills the whole process group, grandchildren included', async (t) => {
  const dir = tmpdir(t);
  const pidfile = path.join(dir, 'pid');
  let grandchild: number | undefined;
  t.after(() => killIfAlive(grandchild));

  const started = Date.now();
  const running = runCommand(['sh', '-c', `sleep 300 & echo $! > ${pidfile}; wait`], { timeoutMs: 500 });
  grandchild = await readPid(pidfile);
  assert.equal(gone(grandchild), false, 'the grandchild should be running before the timeout');

  const err = await failure(() => running);
  assert.equal(err.type, 'Timeout');
  assert.equal(err.retryable, true);
  assert.match(err.message, /^sh did not finish within 500 ms/);
  assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
  assert.ok(await waitGone(grandchild, 3_000), `grandchild ${grandchild} survived the timeout`);
});

test('members that ignore SIGTERM get SIGKILL after the 2 s grace', async (t) => {
  const dir = tmpdir(t);
  const pidfile = path.join(dir, 'pid');
  let grandchild: number | undefined;
  t.after(() => killIfAlive(grandchild));

  const started = Date.now();
  // `trap '' TERM` is inherited by the background sleep: both ignore SIGTERM.
  const running = runCommand(['sh', '-c', `trap '' TERM; sleep 300 & echo $! > ${pidfile}; wait`], { timeoutMs: 300 });
  grandchild = await readPid(pidfile);
  const err = await failure(() => running);
  const elapsed = Date.now() - started;
  assert.equal(err.type, 'Timeout');
  assert.ok(elapsed >= 2_000 && elapsed < 5_000, `took ${elapsed} ms`);
  assert.ok(await waitGone(grandchild, 3_000), `grandchild ${grandchild} survived SIGKILL`);
});

test('abort -> Cancelled, non-retryable, and the group is stopped', async (t) => {
  const dir = tmpdir(t);
  const pidfile = path.join(dir, 'pid');
  let grandchild: number | undefined;
  t.after(() => killIfAlive(grandchild));

  const controller = new AbortController();
  const running = runCommand(['sh', '-c', `sleep 300 & echo $! > ${pidfile}; wait`], {
    timeoutMs: 60_000,
    signal: controller.signal,
  });
  grandchild = await readPid(pidfile);
  const started = Date.now();
  controller.abort();
  const err = await failure(() => running);
  assert.equal(err.type, 'Cancelled');
  assert.equal(err.retryable, false);
  assert.ok(Date.now() - started < 2_000);
  assert.ok(await waitGone(grandchild, 3_000), `grandchild ${grandchild} survived the cancel`);

  // Already aborted: nothing is started.
  const early = await failure(() => runCommand(['sh', '-c', `touch ${path.join(dir, 'ran')}`], { timeoutMs: 1_000, signal: controller.signal }));
  assert.equal(early.type, 'Cancelled');
  assert.equal(fs.existsSync(path.join(dir, 'ran')), false);
});

test('missing program -> CommandNotFound naming the fix; missing cwd -> InvalidArgument', async () => {
  const err = await failure(() => runCommand(['lifeboat-no-such-tool', '--secret-arg=hunter22'], { timeoutMs: 5_000 }));
  assert.equal(err.type, 'CommandNotFound');
  assert.equal(err.retryable, false);
  assert.match(err.message, /install lifeboat-no-such-tool on the worker or fix PATH/);
  assert.ok(!err.message.includes('hunter22'), 'arguments never appear in messages');

  const cwd = await failure(() => runCommand(['true'], { cwd: '/nonexistent/lifeboat-dir', timeoutMs: 5_000 }));
  assert.equal(cwd.type, 'InvalidArgument');
  assert.match(cwd.message, /working directory \/nonexistent\/lifeboat-dir does not exist/);

  const empty = await failure(() => runCommand([], { timeoutMs: 5_000 }));
  assert.equal(empty.type, 'InvalidArgument');
});

test('output is kept as bounded tails', async () => {
  // 200 000 bytes on stdout, ending with a recognisable line.
  const script = "process.stdout.write('x'.repeat(199990) + '\\nLAST-LINE'); process.stderr.write('e'.repeat(5000));";
  const res = await runCommand([process.execPath, '-e', script], { timeoutMs: 10_000, tailBytes: 1024 });
  assert.equal(res.exitCode, 0);
  assert.ok(res.stdout.endsWith('\nLAST-LINE'));
  assert.match(res.stdout, /^\[…198976 earlier bytes dropped\]\n/);
  const kept = res.stdout.slice(res.stdout.indexOf('\n') + 1);
  assert.equal(Buffer.byteLength(kept), 1024);
  assert.match(res.stderr, /^\[…3976 earlier bytes dropped\]\n/);
});

test('onOutput gets the combined tail at most once a second, and the final output', async () => {
  const calls: Array<{ at: number; tail: string }> = [];
  const started = Date.now();
  const res = await runCommand(
    ['sh', '-c', 'i=0; while [ $i -lt 25 ]; do echo tick-$i; i=$((i+1)); sleep 0.1; done; echo done >&2'],
    { timeoutMs: 15_000, onOutput: (tail) => calls.push({ at: Date.now() - started, tail }) },
  );
  assert.equal(res.exitCode, 0);
  // ~2.5 s of output: at most one call per second plus the final flush.
  assert.ok(calls.length >= 2 && calls.length <= 5, `called ${calls.length} times`);
  for (let i = 1; i < calls.length - 1; i++) {
    assert.ok(calls[i]!.at - calls[i - 1]!.at >= 950, `calls ${i - 1} and ${i} were ${calls[i]!.at - calls[i - 1]!.at} ms apart`);
  }
  const last = calls[calls.length - 1]!.tail;
  assert.match(last, /tick-24\n/);
  assert.match(last, /done\n$/);
});

test('a background process left holding the pipes does not hold the result', async (t) => {
  const dir = tmpdir(t);
  const pidfile = path.join(dir, 'pid');
  let lingering: number | undefined;
  t.after(() => killIfAlive(lingering));

  const started = Date.now();
  // Like `nohup daemon &` in a runbook step: the shell exits, sleep keeps stdout open.
  const res = await runCommand(['sh', '-c', `sleep 30 & echo $! > ${pidfile}; echo started`], { timeoutMs: 10_000 });
  lingering = await readPid(pidfile);
  assert.equal(res.exitCode, 0);
  assert.equal(res.stdout, 'started\n');
  assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
  assert.equal(gone(lingering), false, 'a deliberately backgrounded process is left running');
});
