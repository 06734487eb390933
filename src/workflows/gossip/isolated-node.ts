/**
 * Seed 003, "Isolated Node", on the real memberlist-plumtree 0.1.6 through
 * the control API: a single node has lost connectivity to the cluster
 * (`plumtree_eager_peers` = 0, `plumtree_lazy_peers` = 0, messages not
 * delivered). memberlist does not reconnect a node the others declared dead
 * once its link is back: the node stays alone until it joins again.
 *
 * Diagnosis: `/debug/peers` on every node finds the node with no peers (or
 * one that left the cluster).
 * 1. verify network connectivity: TCP from the node to every seed (the
 *    runbook's `nc -zv seed 7946`); no seed reachable: fix the network first
 *    (the operator retries, skips or aborts);
 * 2. check the memberlist status (alone: rejoining required);
 * 3. graceful rejoin: the library's `leave()` is final for the process
 *    (memberlist-core 0.7 refuses `join()` after it), so there is no leave
 *    here: an isolated node that is still a member joins through the seeds
 *    (memberlist's join: a push-pull with each seed, which refutes its death);
 *    a node that already left goes to step 4;
 * 4. if the rejoin fails (or the node left): `systemctl restart plumtree`
 *    after the quorum guard (a restart leaves and joins the seeds anew).
 * Verification: the node has eager peers again. RTO 10 / 20 min (Lifeboat's targets).
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { GossipIsolatedNodeParams } from '../../catalog';
import type { GossipPeers, GossipSeedCheck } from '../../activities/gossip/types';
import { activities, fact, note, recoveryInput, runRecovery, skipped, step, waitFor, type RecoveryInput, type RecoveryResult } from '../kit';
import { GOSSIP_ISOLATED_NODE } from '../scenarios';
import { describePeers, isIsolated, quorumGuard, readPeers } from './cluster';
import { legacyGossipIsolatedNode } from './legacy/isolated-node';
import { PLUMTREE_CONTROL_API } from './versions';

export type IsolatedNodeInput = RecoveryInput<Partial<GossipIsolatedNodeParams>>;

export async function gossipIsolatedNode(input: IsolatedNodeInput): Promise<RecoveryResult> {
  if (!patched(PLUMTREE_CONTROL_API)) return legacyGossipIsolatedNode(input as never);
  return runRecovery(GOSSIP_ISOLATED_NODE, input, isolatedNode);
}

async function isolatedNode(): Promise<string> {
  const input = recoveryInput<Partial<GossipIsolatedNodeParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const { gossipPeers, gossipSeedCheck, gossipJoin, gossipService } = activities();

  const view = await step('Diagnose: /debug/peers on every node (plumtree_eager_peers, plumtree_lazy_peers)', () => readPeers(cluster, nodes), {
    describe: describePeers as never,
  });
  const isolated = view.filter(isIsolated).map((p) => p.node);
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
  const before = view.find((p) => p.node === node)!;
  fact('impact', before.left ? `${node} left the cluster: messages are not delivered to or from it` : `${node} has no eager and no lazy peers: messages are not delivered to or from it`);

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
    describe: ((p: GossipPeers) =>
      p.left
        ? 'it left the cluster - memberlist rejoins only after a restart'
        : p.members.filter((m) => m !== p.node).length === 0
          ? 'Memberlist has no members but itself - rejoining required'
          : `members: ${p.members.join(', ')} (no peer among them) - rejoining required`) as never,
  });
  const alone = members.members.filter((m) => m !== node);
  fact('root cause', members.left ? `${node} left the cluster` : `${node} lost its membership (${alone.length === 0 ? 'memberlist sees only itself' : `sees only ${members.members.join(', ')}`})`);

  // 3. Graceful rejoin: a join through the seeds (no leave: memberlist never joins again after one).
  const hasPeers = (title: string, within: string) =>
    waitFor(
      title,
      async () => {
        const p = await gossipPeers({ cluster, node });
        return { done: p.reachable && p.eager.length > 0, detail: p.reachable ? `${p.eager.length} eager, ${p.lazy.length} lazy` : 'API down' };
      },
      { every: '5s', within },
    );
  let joined: { detail: string } | undefined;
  if (members.left) {
    note(`${node} left the cluster: memberlist (memberlist-core 0.7) refuses to join again in the same process, so the rejoin is a restart`);
  } else {
    joined = await step(
      `Rejoin ${node} via the seeds (memberlist join, no leave first)`,
      async () => {
        await gossipJoin({ cluster, node });
        return hasPeers(`${node} has peers after the join`, '30s');
      },
      { onFailure: 'continue', describe: ((r: { detail: string }) => r.detail) as never },
    );
  }

  let how = 'a rejoin via the seeds';
  if (!joined) {
    // 4. If the rejoin fails, restart.
    note(`${members.left ? `${node} had left the cluster` : `the rejoin of ${node} did not give it peers`}: full restart (systemctl restart plumtree)`);
    await step(`Quorum guard before restarting ${node}`, () => quorumGuard(cluster, nodes, node, `restarting ${node}`), { onFailure: 'ask' });
    await step(`Rejoin failed: restart plumtree on ${node} (systemctl restart plumtree)`, () => gossipService({ cluster, node, action: 'restart' }), { onFailure: 'ask' });
    how = members.left ? 'a restart of plumtree (it had left the cluster)' : 'a restart of plumtree (the rejoin had failed)';
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
