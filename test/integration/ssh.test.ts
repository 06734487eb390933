/**
 * The SSH transport against a real OpenSSH sshd (test/helpers/sshd.ts):
 * commands, quoting, host key pinning, auth, keepalive, cancellation,
 * timeouts, output streaming and connection reuse.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SshPool, sha256Fingerprint, type SshConnectOptions } from '../../src/activities/transport/ssh';
import { quoteArgv, quoteShellArg, renderScript } from '../../src/activities/transport/shell';
import { TransportError } from '../../src/activities/transport/errors';
import { makeKeyPair, startSshd, type TestSshd } from '../helpers/sshd';

function connOf(sshd: TestSshd, over: Partial<SshConnectOptions> = {}): SshConnectOptions {
  return {
    target: { host: sshd.host, port: sshd.port, user: sshd.user, privateKey: 'env:UNUSED', hostKeys: [sshd.hostKey] },
    privateKey: sshd.privateKey,
    ...over,
  };
}

/** Asserts that `p` rejects with a TransportError of `type` and returns it. */
async function rejectsWith(p: Promise<unknown>, type: string): Promise<TransportError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof TransportError, `expected a TransportError, got ${String(err)}`);
    assert.equal(err.type, type, `unexpected error: ${err.message}`);
    return err;
  }
  assert.fail(`expected a ${type} failure, but the call succeeded`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is dead for our purposes.
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

function blobOf(keyLine: string): Buffer {
  return Buffer.from(keyLine.split(' ')[1]!, 'base64');
}

describe('shell rendering', () => {
  test('quotes words so that no byte is special', () => {
    assert.equal(quoteShellArg(''), `''`);
    assert.equal(quoteShellArg(`it's`), `'it'\\''s'`);
    assert.equal(quoteArgv(['echo', 'a b']), `'echo' 'a b'`);
    assert.throws(() => quoteShellArg('a\0b'), (e: unknown) => e instanceof TransportError && e.type === 'InvalidArgument' && !e.retryable);
    assert.throws(() => quoteArgv([]), (e: unknown) => e instanceof TransportError && e.type === 'InvalidArgument');
  });

  test('renders cwd, env, ignoreExit and detach', () => {
    assert.equal(
      renderScript([{ argv: ['false'], ignoreExit: true }, { argv: ['env'], cwd: '/tmp', env: { A: 'x y' } }]),
      `{ ( 'false' ) || true; } && ( cd '/tmp' && A='x y' 'env' )`,
    );
    assert.equal(
      renderScript({ argv: ['srv', '--x'], detach: { logFile: '/tmp/srv.log' } }),
      `( { nohup 'srv' '--x' > '/tmp/srv.log' 2>&1 < /dev/null & } )`,
    );
    assert.throws(() => renderScript({ argv: ['env'], env: { 'A;rm': 'x' } }), (e: unknown) => e instanceof TransportError && e.type === 'InvalidArgument');
    assert.throws(() => renderScript([]), (e: unknown) => e instanceof TransportError && e.type === 'InvalidArgument');
  });
});

describe('SshPool against a real sshd', () => {
  let sshd: TestSshd;
  let pool: SshPool;
  let work: string;

  before(async () => {
    sshd = await startSshd();
    pool = new SshPool();
    work = fs.mkdtempSync(path.join(sshd.dir, 'work-'));
  });
  after(async () => {
    await pool?.closeAll();
    await sshd?.stop();
  });

  test('runs a command and returns stdout, stderr and the exit code', async () => {
    const res = await pool.exec(connOf(sshd), { argv: ['sh', '-c', 'echo out; echo err >&2'] }, { timeoutMs: 10_000 });
    assert.equal(res.exitCode, 0);
    assert.equal(res.stdout, 'out\n');
    assert.equal(res.stderr, 'err\n', 'the pid marker is stripped from stderr');
    assert.ok(res.durationMs >= 0);
  });

  test('a non-zero exit is returned, not thrown; a sequence stops at the first failure', async () => {
    const res = await pool.exec(connOf(sshd), { argv: ['sh', '-c', 'exit 3'] }, { timeoutMs: 10_000 });
    assert.equal(res.exitCode, 3);
    const killed = await pool.exec(connOf(sshd), { argv: ['sh', '-c', 'kill -TERM $$'] }, { timeoutMs: 10_000 });
    assert.equal(killed.exitCode, 143, 'a signal shows as 128 + N');

    const seq = await pool.exec(connOf(sshd), [{ argv: ['false'] }, { argv: ['echo', 'not reached'] }], { timeoutMs: 10_000 });
    assert.equal(seq.exitCode, 1);
    assert.equal(seq.stdout, '');

    const ignored = await pool.exec(connOf(sshd), [{ argv: ['false'], ignoreExit: true }, { argv: ['echo', 'reached'] }], { timeoutMs: 10_000 });
    assert.equal(ignored.exitCode, 0);
    assert.equal(ignored.stdout, 'reached\n');
  });

  test('cwd, env and stdin reach the command', async () => {
    const res = await pool.exec(
      connOf(sshd),
      [{ argv: ['pwd'], cwd: work }, { argv: ['sh', '-c', 'printf "%s|" "$FOO"; cat'], env: { FOO: `a b 'c' $HOME` } }],
      { timeoutMs: 10_000, stdin: 'from stdin' },
    );
    assert.equal(res.exitCode, 0, res.stderr);
    assert.equal(res.stdout, `${fs.realpathSync(work)}\na b 'c' $HOME|from stdin`);

    const missing = await pool.exec(connOf(sshd), { argv: ['true'], cwd: path.join(work, 'nope') }, { timeoutMs: 10_000 });
    assert.notEqual(missing.exitCode, 0, 'a failing cd stops the command');
  });

  test('detached commands outlive the session and log to their file', async () => {
    const log = path.join(work, 'detached.log');
    const res = await pool.exec(
      connOf(sshd),
      { argv: ['sh', '-c', 'sleep 0.5; echo "still here $X"'], env: { X: 'yes' }, detach: { logFile: log } },
      { timeoutMs: 10_000 },
    );
    assert.equal(res.exitCode, 0);
    assert.ok(res.durationMs < 5_000);
    assert.ok(await waitFor(() => fs.existsSync(log) && fs.readFileSync(log, 'utf8') === 'still here yes\n', 5_000), 'detached command wrote its log');
  });

  test('argv stays literal: shell metacharacters are echoed back byte-exact and never run', async () => {
    const dir = fs.mkdtempSync(path.join(work, 'literal-'));
    const marker = path.join(dir, 'X');
    const args = [
      `; touch ${marker}`,
      `$(touch ${marker})`,
      `\`touch ${marker}\``,
      `a\nb; touch ${marker}\n`,
      `'"\\'`,
      `it's`,
      '*',
      '',
      '$HOME',
      '~',
      '&& touch X || touch X',
      '| touch X',
      '> X',
      '-n',
      'üñí€ 😀',
      '\t tab',
    ];
    const res = await pool.exec(connOf(sshd), { argv: ['printf', '%s\\0', ...args], cwd: dir }, { timeoutMs: 10_000 });
    assert.equal(res.exitCode, 0, res.stderr);
    assert.deepEqual(res.stdout.split('\0').slice(0, -1), args);
    assert.deepEqual(fs.readdirSync(dir), [], 'nothing was created by the arguments');
  });

  test('the pool reuses one connection for successive and concurrent execs', async () => {
    const fresh = new SshPool();
    try {
      const a = await fresh.exec(connOf(sshd), { argv: ['sh', '-c', 'echo "$SSH_CLIENT"'] }, { timeoutMs: 10_000 });
      const sessionsAfterFirst = sshd.sessionPids().length;
      const b = await fresh.exec(connOf(sshd), { argv: ['sh', '-c', 'echo "$SSH_CLIENT"'] }, { timeoutMs: 10_000 });
      const srcPort = (s: string): string => s.trim().split(' ')[1] ?? '';
      assert.ok(srcPort(a.stdout) !== '', a.stdout);
      assert.equal(srcPort(a.stdout), srcPort(b.stdout), 'same TCP connection (same client port)');
      const many = await Promise.all(
        [1, 2, 3].map((i) => fresh.exec(connOf(sshd), { argv: ['sh', '-c', `sleep 0.2; echo ${i} "$SSH_CLIENT"`] }, { timeoutMs: 10_000 })),
      );
      for (const r of many) assert.equal(srcPort(r.stdout.split(' ').slice(1).join(' ')), srcPort(a.stdout));
      assert.equal(fresh.connects, 1);
      assert.equal(fresh.size, 1);
      assert.equal(sshd.sessionPids().length, sessionsAfterFirst, 'no new sshd connection processes');
    } finally {
      await fresh.closeAll();
    }
  });

  test('idle connections are closed and the next exec reconnects', async () => {
    const idle = new SshPool({ idleMs: 200 });
    try {
      await idle.exec(connOf(sshd), { argv: ['true'] }, { timeoutMs: 10_000 });
      assert.equal(idle.size, 1);
      assert.ok(await waitFor(() => idle.size === 0, 3_000), 'idle connection closed');
      const res = await idle.exec(connOf(sshd), { argv: ['echo', 'again'] }, { timeoutMs: 10_000 });
      assert.equal(res.stdout, 'again\n');
      assert.equal(idle.connects, 2);
    } finally {
      await idle.closeAll();
    }
  });

  test('a host presenting an unpinned key is refused with HostKeyMismatch', async () => {
    const other = await makeKeyPair(work, 'other_host_key');
    const bad = new SshPool();
    try {
      const err = await rejectsWith(
        bad.exec(connOf(sshd, { target: { ...connOf(sshd).target, hostKeys: [other.publicKey] } }), { argv: ['true'] }, { timeoutMs: 10_000 }),
        'HostKeyMismatch',
      );
      assert.equal(err.retryable, false);
      assert.ok(err.message.includes(`${sshd.host}:${sshd.port}`), err.message);
      assert.ok(err.message.includes(sha256Fingerprint(blobOf(sshd.hostKey))), `presented fingerprint in: ${err.message}`);
      assert.ok(err.message.includes(sha256Fingerprint(blobOf(other.publicKey))), `pinned fingerprint in: ${err.message}`);
      assert.match(err.message, /verify the host out of band, then update hostKeys in the inventory \(ssh-keyscan/i);
      // A failed connection is not kept: the next exec tries again.
      await rejectsWith(
        bad.exec(connOf(sshd, { target: { ...connOf(sshd).target, hostKeys: [other.publicKey] } }), { argv: ['true'] }, { timeoutMs: 10_000 }),
        'HostKeyMismatch',
      );
      assert.equal(bad.connects, 2);
    } finally {
      await bad.closeAll();
    }
  });

  test('a key the server does not accept fails with AuthFailed and never shows the key', async () => {
    const wrong = await makeKeyPair(work, 'wrong_client_key');
    const bad = new SshPool();
    try {
      const err = await rejectsWith(bad.exec(connOf(sshd, { privateKey: wrong.privateKey }), { argv: ['true'] }, { timeoutMs: 10_000 }), 'AuthFailed');
      assert.equal(err.retryable, false);
      assert.ok(err.message.includes(sshd.user) && err.message.includes(`${sshd.host}:${sshd.port}`), err.message);
      const text = `${err.message} ${err.stack ?? ''} ${JSON.stringify(err.details ?? {})}`;
      assert.ok(!text.includes('PRIVATE KEY'), 'no PEM armour');
      for (const line of wrong.privateKey.split('\n').filter((l) => l.length > 16 && !l.startsWith('-----'))) {
        assert.ok(!text.includes(line), 'no key material');
      }
      assert.ok(!text.includes(wrong.publicKey.split(' ')[1]!), 'not even the public half');
    } finally {
      await bad.closeAll();
    }
  });

  test('an unparseable key or a wrong passphrase is a non-retryable secret problem, without the secret', async () => {
    const enc = await makeKeyPair(work, 'encrypted_key', 'correct horse');
    const bad = new SshPool();
    try {
      const err = await rejectsWith(
        bad.exec(connOf(sshd, { privateKey: enc.privateKey, passphrase: 'wrong battery' }), { argv: ['true'] }, { timeoutMs: 10_000 }),
        'SecretUnavailable',
      );
      assert.equal(err.retryable, false);
      assert.ok(!err.message.includes('wrong battery') && !err.message.includes('PRIVATE KEY'), err.message);
      // With the right passphrase the same key is refused by the server (it is not authorised), which proves it parsed.
      await rejectsWith(bad.exec(connOf(sshd, { privateKey: enc.privateKey, passphrase: 'correct horse' }), { argv: ['true'] }, { timeoutMs: 10_000 }), 'AuthFailed');
    } finally {
      await bad.closeAll();
    }
  });

  test('a closed port fails fast with a retryable ConnectionRefused', async () => {
    const tmp = await startSshd();
    const port = tmp.port;
    await tmp.stop();
    const p = new SshPool();
    try {
      const err = await rejectsWith(p.exec(connOf(sshd, { target: { ...connOf(sshd).target, port } }), { argv: ['true'] }, { timeoutMs: 10_000 }), 'ConnectionRefused');
      assert.equal(err.retryable, true);
    } finally {
      await p.closeAll();
    }
  });

  test('cancellation kills the remote command and its children', async () => {
    const ac = new AbortController();
    const pidFile = path.join(work, 'cancel.pids');
    let started!: () => void;
    const sawStart = new Promise<void>((r) => (started = r));
    const run = pool.exec(
      connOf(sshd),
      { argv: ['sh', '-c', 'sleep 300 & echo "$$ $!" > "$1"; echo started; wait', 'sh', pidFile] },
      {
        timeoutMs: 60_000,
        signal: ac.signal,
        onOutput: (tail) => {
          if (tail.includes('started')) started();
        },
      },
    );
    await Promise.race([sawStart, run]);
    const pids = fs.readFileSync(pidFile, 'utf8').trim().split(' ').map(Number);
    assert.equal(pids.length, 2);
    assert.ok(pids.every(isAlive), 'remote processes running before the cancel');

    const t0 = Date.now();
    ac.abort();
    await assert.rejects(run, (e: Error) => e.name === 'AbortError');
    assert.ok(Date.now() - t0 < 6_000, 'cancel completes promptly');
    // Seen from the remote side, through a fresh exec on the same pool...
    const check = await pool.exec(connOf(sshd), { argv: ['sh', '-c', 'for p in "$@"; do kill -0 "$p" 2>/dev/null && echo "alive $p"; done; true', 'sh', ...pids.map(String)] }, { timeoutMs: 10_000 });
    assert.equal(check.stdout, '', 'no remote process survived');
    // ...and from /proc (same machine).
    assert.ok(await waitFor(() => !pids.some(isAlive), 2_000), 'processes gone');
  });

  test('an abort reason that is an Error is what the call rejects with', async () => {
    const ac = new AbortController();
    const reason = new Error('operator rejected the step');
    const run = pool.exec(connOf(sshd), { argv: ['sleep', '300'] }, { timeoutMs: 60_000, signal: ac.signal });
    setTimeout(() => ac.abort(reason), 300);
    await assert.rejects(run, (e) => e === reason);
    // Already aborted: rejects before connecting or running anything.
    await assert.rejects(pool.exec(connOf(sshd), { argv: ['true'] }, { timeoutMs: 1_000, signal: ac.signal }), (e) => e === reason);
  });

  test('a command over its timeout is killed and fails with a retryable Timeout', async () => {
    const pidFile = path.join(work, 'timeout.pid');
    const t0 = Date.now();
    const err = await rejectsWith(
      pool.exec(connOf(sshd), { argv: ['sh', '-c', 'echo $$ > "$1"; echo working; exec sleep 300', 'sh', pidFile] }, { timeoutMs: 1_000 }),
      'Timeout',
    );
    assert.equal(err.retryable, true);
    assert.ok(Date.now() - t0 < 8_000);
    assert.match(String(err.details?.stdoutTail), /working/);
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    assert.ok(await waitFor(() => !isAlive(pid), 2_000), 'remote sleep killed');
  });

  test('output is streamed at most once a second as a bounded tail', async () => {
    const calls: Array<{ at: number; tail: string }> = [];
    const tailBytes = 4096;
    const res = await pool.exec(
      connOf(sshd),
      { argv: ['sh', '-c', 'seq 1 100000; sleep 1.3; seq 1 100000; sleep 1.3; echo the-end'] },
      { timeoutMs: 30_000, tailBytes, onOutput: (tail) => calls.push({ at: Date.now(), tail }) },
    );
    assert.equal(res.exitCode, 0);
    assert.ok(calls.length >= 2, `onOutput called ${calls.length} times`);
    for (const c of calls) assert.ok(Buffer.byteLength(c.tail) <= tailBytes, `tail of ${Buffer.byteLength(c.tail)} bytes`);
    for (let i = 1; i < calls.length; i++) assert.ok(calls[i]!.at - calls[i - 1]!.at >= 950, 'throttled to one call a second');
    assert.ok(Buffer.byteLength(res.stdout) <= tailBytes, `stdout of ${Buffer.byteLength(res.stdout)} bytes`);
    assert.match(res.stdout, /earlier bytes dropped/);
    assert.ok(res.stdout.endsWith('99999\n100000\nthe-end\n'), res.stdout.slice(-60));
  });
});

describe('SshPool when the peer goes silent', () => {
  let sshd: TestSshd;
  before(async () => {
    sshd = await startSshd();
  });
  after(async () => {
    sshd?.stopProcess('SIGCONT');
    await sshd?.stop();
  });

  test('a frozen sshd is detected by keepalive within interval × count', async () => {
    const pool = new SshPool();
    const intervalMs = 500;
    const countMax = 2;
    try {
      const conn = connOf(sshd, { keepaliveIntervalMs: intervalMs, keepaliveCountMax: countMax });
      const warm = await pool.exec(conn, { argv: ['true'] }, { timeoutMs: 10_000 });
      assert.equal(warm.exitCode, 0);
      const run = pool.exec(conn, { argv: ['sh', '-c', 'echo up; sleep 60'] }, { timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 300));
      sshd.stopProcess('SIGSTOP');
      const t0 = Date.now();
      let err: TransportError;
      try {
        err = await rejectsWith(run, 'KeepaliveTimeout');
      } finally {
        sshd.stopProcess('SIGCONT');
      }
      const took = Date.now() - t0;
      assert.equal(err.retryable, true);
      // ssh2 declares the peer dead on the (countMax+1)th unanswered tick.
      assert.ok(took <= intervalMs * (countMax + 1) + 1_000, `detected after ${took} ms`);
      assert.equal(pool.size, 0, 'the dead connection was dropped');
      const again = await pool.exec(conn, { argv: ['echo', 'back'] }, { timeoutMs: 10_000 });
      assert.equal(again.stdout, 'back\n');
      assert.equal(pool.connects, 2, 'reconnected');
    } finally {
      sshd.stopProcess('SIGCONT');
      await pool.closeAll();
    }
  });

  test('an idle pooled connection whose peer froze is dropped quietly and replaced', async () => {
    const pool = new SshPool();
    try {
      const conn = connOf(sshd, { keepaliveIntervalMs: 200, keepaliveCountMax: 1 });
      await pool.exec(conn, { argv: ['true'] }, { timeoutMs: 10_000 });
      assert.equal(pool.size, 1);
      sshd.stopProcess('SIGSTOP');
      try {
        // No exec is running: the keepalive failure must not surface as an unhandled 'error'.
        assert.ok(await waitFor(() => pool.size === 0, 3_000), 'dead idle connection dropped');
      } finally {
        sshd.stopProcess('SIGCONT');
      }
      const res = await pool.exec(conn, { argv: ['echo', 'fresh'] }, { timeoutMs: 10_000 });
      assert.equal(res.stdout, 'fresh\n');
      assert.equal(pool.connects, 2);
    } finally {
      sshd.stopProcess('SIGCONT');
      await pool.closeAll();
    }
  });

  test('a listener that never sends its banner fails with a retryable ConnectTimeout', async () => {
    const pool = new SshPool();
    sshd.stopProcess('SIGSTOP');
    try {
      const t0 = Date.now();
      const err = await rejectsWith(pool.exec(connOf(sshd, { readyTimeoutMs: 1_000 }), { argv: ['true'] }, { timeoutMs: 10_000 }), 'ConnectTimeout');
      assert.equal(err.retryable, true);
      assert.ok(Date.now() - t0 < 4_000);
    } finally {
      sshd.stopProcess('SIGCONT');
      await pool.closeAll();
    }
  });
});
