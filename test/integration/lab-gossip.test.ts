/**
 * The lab's gossip family on its simulation, through the cases it shares with
 * real memberlist-plumtree nodes (test/helpers/lab-gossip-cases.ts, also run
 * by test/conformance/lab-gossip-real.test.ts): each case on a fresh lab
 * (the simulation starts in milliseconds), with Lifeboat's own activities
 * over real SSH and HTTP.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { panicSinceStart } from '../../lab/gossip';
import * as cases from '../helpers/lab-gossip-cases';
import { startGossipLab, type GossipLab } from '../helpers/lab-gossip';

const T = { timeout: 120_000 };

function one(name: string, fn: (l: GossipLab) => Promise<void>): void {
  test(name, T, async () => {
    const l = await startGossipLab('sim');
    try {
      await fn(l);
    } finally {
      await l.stop();
    }
  });
}

describe('lab gossip (simulation): the cases shared with real nodes', () => {
  one('forms: the inventory, every node\'s view, the library\'s health and metric names, one state', cases.formed);
  one('the control API\'s refusals, AuthFailed naming the reference, no secret leaving an activity', cases.refusals);
  one('a leave is final: the others drop the node, its join is refused, a restart brings it back', cases.leaveIsFinal);
  one('the service: stop and start check first, restart once per step, clearing refused while it runs', cases.service);
  one('gossip.isolated-node, then Lifeboat\'s join through the seeds', cases.isolatedNode);
  one('gossip.partition, then a join from the other side and rebalances', cases.partition);
  one('gossip.split-brain, then a join and anti-entropy to one root hash', cases.splitBrain);
  one('gossip.multi-node-failure, then the failed nodes started again', cases.multiNodeFailure);
  one('gossip.cache-corruption, then the store cleared and the node started', cases.cacheCorruption);
  one('gossip.total-loss, then every data directory cleared and the cluster formed again', cases.totalLoss);
});

describe('lab gossip: a real node\'s task panic, read from its log', () => {
  const start = (t: string) => `=== lab ${t}: /root/.cache/lifeboat/plumtree-target/release/plumtree-node --name gossip2 --bind 10.0.0.2:7946`;
  const memberlist = [
    "thread 'tokio-runtime-worker' panicked at /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/memberlist-core-0.7.0/src/state.rs:444:25:",
    'index out of bounds: the len is 3 but the index is 4',
    'note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace',
  ];
  test('the first panic since the last start, the file shortened to its crate, with the message', () => {
    const log = ['', start('2026-12-07T10:00:00Z'), 'LIFEBOAT-READY {}', ...memberlist, "thread 'tokio-runtime-worker' panicked at /x/memberlist-core-0.7.0/src/suspicion.rs:84:9:", 'later'].join('\n');
    assert.equal(panicSinceStart(log), 'memberlist-core-0.7.0/src/state.rs:444: index out of bounds: the len is 3 but the index is 4');
  });
  test('a panic of an earlier process does not count; the node\'s own code is named from src/', () => {
    assert.equal(panicSinceStart([start('t1'), ...memberlist, start('t2'), 'LIFEBOAT-READY {}'].join('\n')), undefined);
    assert.equal(panicSinceStart([start('t1'), "thread 'tokio-runtime-worker' panicked at node/src/main.rs:440:9:", 'failpoint panic-after-ready fired after 2000 ms'].join('\n')), 'src/main.rs:440: failpoint panic-after-ready fired after 2000 ms');
    assert.equal(panicSinceStart([start('t1'), 'LIFEBOAT-READY {}', '=== lab t2: gossip2: exited 75; the unit restarts it in 1 s'].join('\n')), undefined);
  });
});
