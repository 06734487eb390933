/**
 * v1 (before Lifeboat spoke its control API on the real memberlist-plumtree
 * 0.1.6; kept for the histories that recorded it, see ../index.ts). Seed 003, "Network Partition": the cluster split into groups that cannot
 * communicate (different nodes report different peer lists, messages reach a
 * subset, `plumtree_messages_partitioned_total` increasing).
 *
 * 1. identify the partition: `/debug/peers` from every node, connected
 *    components (recorded for the report);
 * 2-3. the root cause (switch, firewall change, cloud network) is fixed by
 *    people: the recovery says so and waits;
 * 4. wait for automatic recovery: plumtree reconnects and graft repairs the
 *    tree; the runbook allows 2-5 minutes (a bounded durable wait of 5 min);
 * 5. if that fails, gate `forced-rebalance` (dangerous), then
 *    `rebalance_peers()` on every node, a few at a time.
 * Verification: one component in which every node sees every other.
 * RTO 10 / 30 min (Lifeboat's targets).
 *
 * @module
 */
import type { GossipPartitionParams } from './params';
import type { GossipMetrics, GossipPeers } from '../../../activities/gossip/types';
import { activities, approve, fact, fanOut, note, recoveryInput, runRecovery, skipped, step, waitFor, type RecoveryInput, type RecoveryResult } from '../../kit';
import { GOSSIP_PARTITION } from './meta';
import { components, describeComponents, describePeers, disruptConcurrency, metric, notePlans, readMetrics, readPeers, unreachable } from './cluster';

export type PartitionInput = RecoveryInput<Partial<GossipPartitionParams>>;

/** The v1 scenario, replayed by histories recorded before the control API. */
export async function legacyGossipPartition(input: PartitionInput): Promise<RecoveryResult> {
  return runRecovery(GOSSIP_PARTITION, input, partition);
}

async function partition(): Promise<string> {
  const input = recoveryInput<Partial<GossipPartitionParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const { gossipRebalance } = activities();

  // 1. Identify the partition.
  const view = await step('Identify the partition: /debug/peers from every node', () => readPeers(cluster, nodes), {
    describe: ((v: GossipPeers[]) => `${describePeers(v)}; components ${describeComponents(components(v))}`) as never,
  });
  const parts = components(view);
  const down = unreachable(view);
  if (down.length) note(`not answering (left out of the partition map): ${down.join(', ')}`);
  if (parts.length <= 1) {
    fact('root cause', 'no partition: every answering node is in one component');
    return `No partition: ${parts[0]?.length ?? 0} answering node(s) form one component; nothing to recover.`;
  }
  fact('partition', describeComponents(parts));
  fact('impact', `messages reach only the sender's component: ${parts.length} components (${parts.map((c) => c.length).join(' + ')} nodes)`);
  await step('Symptom: plumtree_messages_partitioned_total on every node', () => readMetrics(cluster, nodes), {
    onFailure: 'continue',
    describe: ((m: GossipMetrics[]) => m.map((x) => `${x.node}: ${metric(x, 'plumtree_messages_partitioned_total') ?? 'n/a'}`).join(', ')) as never,
  });

  // 2-3. Root cause and its fix are human work.
  fact('root cause', 'network partition between the components: check for a switch failure, a firewall rule change or a cloud provider network issue');
  note('Fix the underlying network issue now (switch, firewall rules, cloud network): Lifeboat waits for plumtree to reconnect on its own');

  const oneComponent = (title: string, within: string) =>
    waitFor(
      title,
      async () => {
        const now = await readPeers(cluster, nodes);
        const c = components(now);
        const up = now.filter((p) => p.reachable).map((p) => p.node);
        const full = now.filter((p) => p.reachable).every((p) => up.every((n) => n === p.node || p.members.includes(n)));
        return { done: c.length === 1 && full, detail: c.length === 1 ? `one component of ${up.length}${full ? '' : ' (views still incomplete)'}` : describeComponents(c) };
      },
      { every: '15s', within },
    );

  // 4. Wait for automatic recovery.
  const auto = await step('Wait for automatic recovery: plumtree reconnects, graft repairs the tree (up to 5 min)', () => oneComponent('the partition heals on its own', '5m'), {
    onFailure: 'continue',
    describe: ((r: { detail: string }) => r.detail) as never,
  });

  let how = 'automatic recovery (plumtree reconnected on its own)';
  if (!auto) {
    // 5. Force a rebalance on every node.
    const now = await readPeers(cluster, nodes);
    const up = now.filter((p) => p.reachable).map((p) => p.node);
    const a = await approve('forced-rebalance', {
      title: `Force a peer rebalance on every node (plumtree.rebalance_peers() on ${up.length} nodes)`,
      evidence: {
        components: describeComponents(components(now)),
        waited: 'the partition did not heal within the runbook\'s 5 minutes',
        'network fixed?': 'only approve once the underlying network issue is fixed: a rebalance cannot cross a link that is still down',
        risk: 'every node drops and rebuilds its eager/lazy peer sets: a burst of GRAFT/PRUNE traffic and brief delivery delays',
      },
    });
    notePlans(await fanOut('Force a rebalance on every node (rebalance_peers)', up, (node) => gossipRebalance({ cluster, node }), {
      concurrency: disruptConcurrency(nodes.length, nodes.length - up.length),
      onFailure: 'ask',
    }));
    how = `a forced rebalance on ${up.length} nodes, approved by ${a.by}`;
  }

  const final = await step('Verify: one component, every node sees every other', () => oneComponent('one component', '2m'), {
    onFailure: 'ask',
    describe: ((r: { detail: string }) => r.detail) as never,
  });
  fact('resolution', `partition ${describeComponents(parts)} healed by ${how}`);
  return `Partition healed by ${how}: ${final?.detail ?? skipped('verification')}`;
}
