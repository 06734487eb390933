/**
 * Conformance: the lab's ledger on real `inferadb-ledger` processes (the
 * binary at LIFEBOAT_LEDGER_BIN, else ../shared/targets/inferadb-ledger/bin/
 * from the repository root), through the same cases the simulation passes
 * (test/helpers/lab-ledger-cases.ts): the lab forms and seeds a real
 * cluster and each fault does what it says to real processes (Lifeboat's
 * recovery of each runs as the real workflow in ledger-scenarios.test.ts).
 * Plus what only real processes have: every process the lab starts is gone
 * after `stop()`, and a crashed lab's processes are killed at the next start.
 *
 * A missing binary fails every test with the way to build one.
 * Run: node --test --test-timeout=900000 dist/test/conformance/lab-ledger-real.test.js
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startLab } from '../../lab/index';
import { requireLedgerBinary } from '../../lab/ledger';
import * as cases from '../helpers/lab-ledger-cases';
import { startLedgerLab, type LedgerLab } from '../helpers/lab-ledger';

const T = { timeout: 900_000 };

const alive = (pid: number): boolean => {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** Pids the lab's pid file lists now. */
const listedPids = (dir: string): number[] =>
  existsSync(join(dir, 'ledger-pids'))
    ? readFileSync(join(dir, 'ledger-pids'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => Number(l.split('\t')[2]))
    : [];

describe('lab ledger (real inferadb-ledger): the cases shared with the simulation', () => {
  test('the binary is there', () => {
    requireLedgerBinary();
  });
  const one = (name: string, fn: (l: LedgerLab) => Promise<void>, families: Parameters<typeof startLedgerLab>[1] = ['ledger']): void => {
    test(name, T, async () => {
      const t0 = Date.now();
      const l = await startLedgerLab('real', families);
      const started = Date.now();
      const pids = listedPids(l.dir);
      try {
        await fn(l);
      } finally {
        await l.lab.stop();
        console.log(`# ${name}: lab start ${started - t0} ms, case ${Date.now() - started} ms`);
        for (const pid of pids) assert.equal(alive(pid), false, `inferadb-ledger pid ${pid} still runs after lab.stop()`);
        await l.stop();
      }
    });
  };
  one('forms, seeds, and answers like the simulation', cases.formedAndSeeded);
  // Each fault as the real server shows it; Lifeboat's recovery of it runs as the real workflow in ledger-scenarios.test.ts.
  const faultOnly = { recover: false };
  one('ledger.node-failure: one follower killed, quorum holds, writes go on', (l) => cases.nodeFailure(l, faultOnly));
  one('ledger.quorum-loss: two nodes killed, the survivor reads but takes no write', (l) => cases.quorumLoss(l, faultOnly));
  one('ledger.full-restore: every node killed and its data removed, the export archived', (l) => cases.fullRestore(l, faultOnly));
  one('ledger.vault-divergence heals by itself', cases.vaultDivergence);
  one('ledger.regional-failover: the primary region killed, its export replicated', (l) => cases.regionalFailover(l, faultOnly), ['ledger', 'ledger-dr']);
  one('a node restarted on its old data never catches up; a cluster restarted whole takes no write', cases.staleRestarts);
  one('an uninitialized node leads itself alone and is never joined; init forms the cluster and the others join', cases.uninitialized, ['ledger', 'ledger-dr']);
});

describe('lab ledger (real inferadb-ledger): processes', () => {
  test('a crashed lab\'s ledger processes are killed at the next start in the same directory', T, async () => {
    const bin = requireLedgerBinary();
    const dir = mkdtempSync(join(tmpdir(), 'lab-ledger-leftover-'));
    try {
      // What a lab that crashed leaves: a process on node2's data directory, listed in the pid file.
      const data = join(dir, 'hosts', 'lab-ledger', 'node2', 'data');
      mkdirSync(data, { recursive: true });
      const log = openSync(join(dir, 'leftover.log'), 'a');
      const child = spawn(bin, ['--listen', '127.0.0.1:0', '--data', data, '--init-wait-timeout', '120'], { stdio: ['ignore', log, log], detached: true });
      child.unref();
      const pid = child.pid!;
      writeFileSync(join(dir, 'ledger-pids'), `lab-ledger\tnode2\t${pid}\t${data}\n`);
      assert.equal(alive(pid), true);
      const lab = await startLab({ dir, families: ['ledger'], ledgerBackend: 'real' });
      try {
        assert.equal(alive(pid), false, 'the leftover process was killed');
        assert.equal((await lab.health())[0]?.healthy, true);
      } finally {
        await lab.stop();
      }
      assert.deepEqual(listedPids(dir), [], 'the pid file is empty after stop()');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
