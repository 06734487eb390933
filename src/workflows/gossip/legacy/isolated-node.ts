/**
 * v1 (before Lifeboat spoke its control API on the real memberlist-plumtree
 * 0.1.6; kept for the histories that recorded it, see ../index.ts). Seed 003, "Isolated Node": a single node has lost connectivity to the
 * cluster (`plumtree_eager_peers` = 0, `plumtree_lazy_peers` = 0, messages
 * not delivered).
 *
 * Diagnosis: `/debug/peers` on every node finds the node with no peers.
 * 1. verify network connectivity: TCP from the node to every seed (the
 *    runbook's `nc -zv seed 7946`); no seed reachable: fix the network first
 *    (the operator retries, skips or aborts);
 * 2. check the memberlist status (empty: rejoining required);
 * 3. graceful rejoin: leave, wait 5 s for the state to clear, join via the seeds;
 * 4. if the rejoin fails: `systemctl restart plumtree` (after the quorum guard).
 * Verification: the node has eager peers again. RTO 10 / 20 min (Lifeboat's targets).
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { GossipIsolatedNodeParams } from './params';
import type { GossipPeers, GossipSeedCheck } from '../../../activities/gossip/types';
import { activities, fact, note, recoveryInput, runRecovery, skipped, stabilize, step, waitFor, type RecoveryInput, type RecoveryResult } from '../../kit';
import { GOSSIP_ISOLATED_NODE } from './meta';
import { describePeers, quorumGuard, readPeers } from './cluster';

export type IsolatedNodeInput = RecoveryInput<Partial<GossipIsolatedNodeParams>>;

/** The v1 scenario, replayed by histories recorded before the control API. */
export async function legacyGossipIsolatedNode(input: IsolatedNodeInput): Promise<RecoveryResult> {
  return runRecovery(GOSSIP_ISOLATED_NODE, input, isolatedNode);
}

async function isolatedNode(): Promise<string> {
  const input = recoveryInput<Partial<GossipIsolatedNodeParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const { gossipPeers, gossipSeedCheck, gossipLeave, gossipJoin, gossipService } = activities();

  const view = await step('Diagnose: /debug/peers on every node (plumtree_eager_peers, plumtree_lazy_peers)', () => readPeers(cluster, nodes), {
    describe: describePeers as never,
  });
  const isolated = view.filter((p) => p.reachable && p.eager.length === 0 && p.lazy.length === 0).map((p) => p.node);
  const wanted = input.params.node;
  if (wanted) {
    const p = view.find((x) => x.node === wanted);
    if (!p) throw ApplicationFailure.nonRetryable(`${wanted} is not a node of ${cluster}; pick one of ${nodes.join(', ')}`, 'InvalidArgument');
    if (!p.reachable) {
      throw ApplicationFailure.nonRetryable(
        `${wanted}'s API does not answer (${p.error ?? 'down'}): it is down, not isolated; start it, or run gossip.multi-node-failure if several nodes are down`,
        'ScenarioMismatch',
      );
    }
  }
  const node = wanted ?? isolated[0];
  if (!node || !isolated.includes(node)) {
    fact('root cause', 'no isolated node: every answering node has peers');
    return `No isolated node: ${node ? `${node} has ${view.find((p) => p.node === node)?.eager.length ?? 0} eager peer(s)` : 'every answering node has eager or lazy peers'}; nothing to recover.`;
  }
  if (isolated.length > 1) note(`Also isolated: ${isolated.filter((n) => n !== node).join(', ')}; run this recovery for each of them after ${node}`);
  fact('nodes affected', node);
  fact('impact', `${node} has no eager and no lazy peers: messages are not delivered to or from it`);

  // 1. Verify network connectivity.
  const tcp = await step(
    `Verify network connectivity: TCP from ${node} to the seed nodes (nc -zv seed port)`,
    async () => {
      const r = await gossipSeedCheck({ cluster, node });
      if (!r.sshReachable) {
        throw ApplicationFailure.nonRetryable(`${node} does not answer over SSH (${r.error ?? '?'}): check the host itself (console, hypervisor), then retry`, 'NodeUnreachable');
      }
      if (!r.seeds.some((s) => s.open)) {
        throw ApplicationFailure.nonRetryable(
          `no seed is reachable from ${node} (${seedLine(r)}): fix the network (firewall rules, routes, security groups) between ${node} and the seeds, then retry`,
          'SeedsUnreachable',
        );
      }
      return r;
    },
    { onFailure: 'ask', describe: seedLine as never },
  );
  if (tcp) fact('network', `from ${node}: ${seedLine(tcp)}`);

  // 2. Check memberlist status.
  const members = await step(`Check the memberlist status of ${node}`, () => gossipPeers({ cluster, node }), {
    describe: ((p: GossipPeers) => (p.members.length === 0 ? 'Memberlist has no members - rejoining required' : `members: ${p.members.join(', ')} (no peer among them) - rejoining required`)) as never,
  });
  fact('root cause', `${node} lost its membership (${members.members.length === 0 ? 'empty memberlist' : `sees only ${members.members.join(', ')}`})`);

  // 3. Graceful rejoin.
  await step(`Graceful rejoin: leave on ${node}`, () => gossipLeave({ cluster, node }), { onFailure: 'continue' });
  await stabilize('5s', `let ${node}'s membership state clear before it rejoins`);
  const hasPeers = (title: string, within: string) =>
    waitFor(
      title,
      async () => {
        const p = await gossipPeers({ cluster, node });
        return { done: p.reachable && p.eager.length > 0, detail: p.reachable ? `${p.eager.length} eager, ${p.lazy.length} lazy` : 'API down' };
      },
      { every: '5s', within },
    );
  const joined = await step(
    `Rejoin ${node} via the seeds`,
    async () => {
      await gossipJoin({ cluster, node });
      return hasPeers(`${node} has peers after the join`, '30s');
    },
    { onFailure: 'continue', describe: ((r: { detail: string }) => r.detail) as never },
  );

  let how = 'a graceful leave and a rejoin via the seeds';
  if (!joined) {
    // 4. If the rejoin fails, restart.
    note(`the rejoin of ${node} did not give it peers: full restart (systemctl restart plumtree)`);
    await step(`Quorum guard before restarting ${node}`, () => quorumGuard(cluster, nodes, node, `restarting ${node}`), { onFailure: 'ask' });
    await step(`Rejoin failed: restart plumtree on ${node} (systemctl restart plumtree)`, () => gossipService({ cluster, node, action: 'restart' }), { onFailure: 'ask' });
    how = 'a restart of plumtree (the rejoin had failed)';
  }

  const final = await step(`Verify: ${node} has eager/lazy peers again`, () => hasPeers(`${node} has eager peers`, '2m'), {
    onFailure: 'ask',
    describe: ((r: { detail: string }) => r.detail) as never,
  });
  fact('resolution', `${node} rejoined by ${how}; ${final?.detail ?? skipped('verification')}`);
  return `${node} rejoined the cluster by ${how}: ${final?.detail ?? skipped('verification')}`;
}

function seedLine(r: GossipSeedCheck): string {
  return r.seeds.map((s) => `${s.seed} ${s.open ? 'open' : `closed (${s.detail})`}`).join(', ') || 'no seed checked';
}
