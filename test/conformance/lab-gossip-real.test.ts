/**
 * Conformance: the lab's gossip cluster on real memberlist-plumtree 0.1.6
 * nodes (plumtree-node, each in its own network namespace on a switch the
 * lab makes), through the same cases the simulation passes
 * (test/helpers/lab-gossip-cases.ts). Plus what only real processes and
 * namespaces have: every process and namespace the lab made is gone after
 * `stop()`, and a crashed lab's namespaces (and what runs in them) are
 * removed at the next start.
 *
 * Needs root and plumtree-node (`npm run setup` builds it with Rust >= 1.89);
 * without them every test fails saying how to get them.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { NETNS_PREFIX, removeLeftovers, requirePlumtreeNode } from '../../lab/gossip';
import * as cases from '../helpers/lab-gossip-cases';
import { startGossipLab, type GossipLab } from '../helpers/lab-gossip';

const T = { timeout: 300_000 };
const namespaces = (): string[] =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`${NETNS_PREFIX}${process.pid}-`));
const nodeProcesses = (): number[] =>
  execFileSync('ps', ['-eo', 'pid=,ppid=,comm='], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([, ppid, comm]) => comm === 'plumtree-node' && Number(ppid) === process.pid)
    .map(([pid]) => Number(pid));

function one(name: string, fn: (l: GossipLab) => Promise<void>): void {
  test(name, T, async () => {
    const t0 = Date.now();
    const l = await startGossipLab('real');
    const started = Date.now();
    try {
      await fn(l);
    } finally {
      await l.stop();
      console.log(`# ${name}: lab start ${started - t0} ms, case ${Date.now() - started} ms`);
      assert.deepEqual(namespaces(), [], 'every namespace of the lab is removed by stop()');
      assert.deepEqual(nodeProcesses(), [], 'every plumtree-node the lab started is gone after stop()');
    }
  });
}

describe('lab gossip (real memberlist-plumtree nodes): the cases shared with the simulation', () => {
  test('plumtree-node is built', () => {
    requirePlumtreeNode();
  });
  one('forms: the inventory, every node\'s view, the library\'s health and metric names, one state', cases.formed);
  one('the control API\'s refusals, AuthFailed naming the reference, no secret leaving an activity', cases.refusals);
  one('a leave is final: the others drop the node, its join is refused, a restart brings it back', cases.leaveIsFinal);
  one('the service: stop and start check first, restart once per step, clearing refused while it runs', cases.service);
  one('gossip.isolated-node (a real cut, healed), then Lifeboat\'s join through the seeds', cases.isolatedNode);
  one('gossip.partition (a real split switch, healed), then a join from the other side and rebalances', cases.partition);
  one('gossip.split-brain (messages on both sides of a real cut), then a join and anti-entropy to one root hash', cases.splitBrain);
  one('gossip.multi-node-failure (kill -9), then the failed nodes started again', cases.multiNodeFailure);
  one('gossip.cache-corruption (a damaged sled store), then the store cleared and the node started', cases.cacheCorruption);
  one('gossip.total-loss (kill -9 of all, damaged stores), then every data directory cleared and the cluster formed again', cases.totalLoss);
});

describe('lab gossip (real): a node whose task panicked', () => {
  // memberlist-core 0.7.0 panics on a stale member index (docs/gossip.md); the failpoint panics the same way on purpose.
  test('with --exit-on-panic (PLUMTREE_NODE_EXIT_ON_PANIC=1) it exits 75 and its unit restarts it, where it joins again; five restarts a minute at most, then the unit fails', T, async () => {
    process.env.PLUMTREE_NODE_FAILPOINT = 'panic-after-ready:gossip4:4000';
    process.env.PLUMTREE_NODE_EXIT_ON_PANIC = '1';
    let l: GossipLab | undefined;
    try {
      l = await startGossipLab('real');
      const lab = l;
      const from = l.effectCount();
      const log = (): string => readFileSync(join(lab.dir, 'logs', 'gossip-gossip4.log'), 'utf8');
      const gossip4 = async () => (await lab.lab.health())[0]!.nodes.find((n) => n.node === 'gossip4')!;
      const until = async (what: string, pred: () => Promise<boolean>, ms: number): Promise<void> => {
        const end = Date.now() + ms;
        while (!(await pred())) {
          if (Date.now() > end) assert.fail(`${what}: not within ${ms / 1000} s; gossip4: ${JSON.stringify(await gossip4())}\n${log().split('\n').slice(-15).join('\n')}`);
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      await until('the first automatic restart', async () => /the unit restarts it in 1 s \(RestartForceExitStatus=75, restart 1\)/.test(log()), 15_000);
      assert.match(log(), /plumtree-node: a task panicked \(at [^)]*main\.rs:\d+\); the membership state can no longer be trusted: exiting 75/);
      await until('gossip4 restarted and a member of the cluster again', async () => (await gossip4()).state === 'up' && /restart 1\)/.test(log()), 15_000);
      await until('the unit failed at its start limit', async () => /start request repeated too quickly/.test((await gossip4()).detail ?? ''), 60_000);
      const g = await gossip4();
      assert.equal(g.state, 'down');
      assert.match(g.detail ?? '', /^plumtree not running \(exit 75 \(a task panicked\); start request repeated too quickly \(5 restarts in 60 s\): the unit failed\)$/);
      assert.equal(log().match(/the unit restarts it in 1 s/g)?.length, 5, 'five automatic restarts');
      assert.equal(log().match(/ === lab .*plumtree-node --name gossip4|^=== lab .*plumtree-node --name gossip4/gm)?.length, 6, 'six starts: the lab\'s and five by the unit');
      assert.deepEqual(l.effectsSince(from), [], 'the unit\'s own restarts are no operator\'s effects');
    } finally {
      delete process.env.PLUMTREE_NODE_FAILPOINT;
      delete process.env.PLUMTREE_NODE_EXIT_ON_PANIC;
      await l?.stop();
      assert.deepEqual(nodeProcesses(), [], 'no restarted plumtree-node outlives the lab');
    }
  });
});

describe('lab gossip (real): a task panic the process lives on with', () => {
  test('without --exit-on-panic the node keeps running, and the lab\'s health says where it panicked and to restart it; a restart clears it', T, async () => {
    process.env.PLUMTREE_NODE_FAILPOINT = 'panic-after-ready:gossip4:2000';
    let l: GossipLab | undefined;
    try {
      l = await startGossipLab('real');
      const lab = l;
      const gossip4 = async () => (await lab.lab.health())[0]!.nodes.find((n) => n.node === 'gossip4')!;
      const end = Date.now() + 20_000;
      while (!/a task panicked/.test((await gossip4()).detail ?? '')) {
        if (Date.now() > end) assert.fail(`no panic reported within 20 s: ${JSON.stringify(await gossip4())}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const g = await gossip4();
      assert.equal(g.state, 'up', 'the process lives on: a tokio task that panics dies alone');
      assert.match(g.detail ?? '', /; a task panicked at src\/main\.rs:\d+: failpoint panic-after-ready fired after 2000 ms \(docs\/gossip\.md\): restart this node$/);
      delete process.env.PLUMTREE_NODE_FAILPOINT; // the restarted process runs without it
      await l.run(l.a.gossipService, { cluster: 'lab-gossip', node: 'gossip4', action: 'restart' as const });
      await l.untilHealthy();
      assert.doesNotMatch((await gossip4()).detail ?? '', /panicked/, 'the new process has not panicked');
    } finally {
      delete process.env.PLUMTREE_NODE_FAILPOINT;
      await l?.stop();
      assert.deepEqual(nodeProcesses(), [], 'every plumtree-node the lab started is gone after stop()');
    }
  });
});

describe('lab gossip (real): leftovers', () => {
  test('a crashed lab\'s namespaces, and what runs in them, are removed at the next start', T, async () => {
    // What a lab that crashed leaves: its namespace, a process inside; the lab's pid is gone (a short-lived child's).
    const dead = spawn('true');
    await new Promise((r) => dead.once('exit', r));
    const ns = `${NETNS_PREFIX}${dead.pid}-1-sw`;
    execFileSync('ip', ['netns', 'add', ns]);
    const inside = spawn('ip', ['netns', 'exec', ns, 'sleep', '300'], { stdio: 'ignore', detached: true });
    inside.unref();
    await new Promise((r) => setTimeout(r, 300));
    try {
      const removed = await removeLeftovers();
      assert.ok(removed.includes(ns), `removed: ${removed.join(', ')}`);
      assert.ok(!execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(ns));
      await new Promise((r) => setTimeout(r, 200));
      assert.throws(() => process.kill(inside.pid!, 0), 'the process inside was killed');
    } finally {
      try {
        process.kill(inside.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        /* removed */
      }
    }
  });
});
