/**
 * The lab's gossip family on its simulation, through the cases it shares with
 * real memberlist-plumtree nodes (test/helpers/lab-gossip-cases.ts, also run
 * by test/conformance/lab-gossip-real.test.ts): each case on a fresh lab
 * (the simulation starts in milliseconds), with Lifeboat's own activities
 * over real SSH and HTTP.
 */
import { describe, test } from 'node:test';
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
