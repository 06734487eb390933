/**
 * Seed 003, "Network Partition", on the real memberlist-plumtree 0.1.6
 * through the control API: the cluster split into groups that cannot
 * communicate (different nodes report different peer lists, messages reach a
 * subset; the library emits no `plumtree_messages_partitioned_total`, so the
 * symptom read is each node's `plumtree_peer_count`).
 *
 * 1. identify the partition: `/debug/peers` from every node, connected
 *    components (recorded for the report);
 * 2-3. the root cause (switch, firewall change, cloud network) is fixed by
 *    people: the recovery says so and waits;
 * 4. wait for automatic recovery (the runbook allows 2-5 minutes; a bounded
 *    durable wait of 5 min): memberlist merges the sides by itself only
 *    while it still gossips to the nodes it declared dead (its
 *    gossip-to-the-dead time); after that the sides stay apart;
 * 5. if that fails, gate `forced-rebalance` (dangerous), then what the
 *    library offers: the nodes outside the seeds' side join through the
 *    seeds (memberlist's join merges the views; `rebalance_peers()` alone
 *    cannot reach a peer memberlist does not list), then `rebalance_peers()`
 *    on every node, a few at a time.
 * Verification: one component in which every node sees every other.
 * RTO 10 / 30 min (Lifeboat's targets).
 *
 * @module
 */
import { patched } from '@temporalio/workflow';
import type { GossipPartitionParams } from '../../catalog';
import type { GossipMetrics, GossipPeers } from '../../activities/gossip/types';
import { activities, approve, fact, fanOut, note, recoveryInput, runRecovery, skipped, step, waitFor, type RecoveryInput, type RecoveryResult } from '../kit';
import { GOSSIP_PARTITION } from '../scenarios';
import { components, describeComponents, describePeers, disruptConcurrency, metric, notePlans, outsideSeeds, PEER_COUNT, readMetrics, readPeers, unreachable, wholeMembership } from './cluster';
import { legacyGossipPartition } from './legacy/partition';
import { PLUMTREE_CONTROL_API, VERIFY_EVERY_NODE_BACK } from './versions';

export type PartitionInput = RecoveryInput<Partial<GossipPartitionParams>>;

export async function gossipPartition(input: PartitionInput): Promise<RecoveryResult> {
  if (!patched(PLUMTREE_CONTROL_API)) return legacyGossipPartition(input as never);
  return runRecovery(GOSSIP_PARTITION, input, partition);
}

async function partition(): Promise<string> {
  const input = recoveryInput<Partial<GossipPartitionParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const seedNodes = input.cluster.nodes.filter((n) => n.roles.includes('seed')).map((n) => n.name);
  const { gossipJoin, gossipRebalance } = activities();

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
  await step(`Symptom: each node's peer count (${PEER_COUNT})`, () => readMetrics(cluster, nodes), {
    onFailure: 'continue',
    describe: ((m: GossipMetrics[]) => m.map((x) => `${x.node}: ${metric(x, PEER_COUNT) ?? (x.reachable ? 'n/a' : 'down')}`).join(', ')) as never,
  });

  // 2-3. Root cause and its fix are human work.
  fact('root cause', 'network partition between the components: check for a switch failure, a firewall rule change or a cloud provider network issue');
  note('Fix the underlying network issue now (switch, firewall rules, cloud network): Lifeboat waits for plumtree to reconnect on its own');

  // Every node that answered at the start must be back too (not one that is restarting left out).
  const answered = view.filter((p) => p.reachable).map((p) => p.node);
  const everyNodeBack = patched(VERIFY_EVERY_NODE_BACK);
  const oneComponent = (title: string, within: string) =>
    waitFor(
      title,
      // Before the patch: the same check over whoever answers at that moment.
      async () => wholeMembership(await readPeers(cluster, nodes), everyNodeBack ? answered : []),
      { every: '15s', within },
    );

  // 4. Wait for automatic recovery.
  const auto = await step('Wait for automatic recovery: plumtree reconnects, graft repairs the tree (up to 5 min)', () => oneComponent('the partition heals on its own', '5m'), {
    onFailure: 'continue',
    describe: ((r: { detail: string }) => r.detail) as never,
  });

  let how = 'automatic recovery (plumtree reconnected on its own)';
  if (!auto) {
    // 5. Force the sides together: a join through the seeds on every node, then rebalance_peers().
    const now = await readPeers(cluster, nodes);
    const up = now.filter((p) => p.reachable).map((p) => p.node);
    const a = await approve('forced-rebalance', {
      title: `Force the cluster back together: the other side joins through the seeds, then plumtree.rebalance_peers() on ${up.length} nodes`,
      evidence: {
        components: describeComponents(components(now)),
        waited: 'the partition did not heal within the runbook\'s 5 minutes (memberlist no longer gossips to the nodes it declared dead)',
        'network fixed?': 'only approve once the underlying network issue is fixed: a join cannot cross a link that is still down',
        risk: 'memberlist merges the two views and every node re-picks its eager/lazy peers: a burst of GRAFT/PRUNE traffic and brief delivery delays',
      },
    });
    // Joining takes nothing down: every node outside the seeds' side at once.
    const outside = outsideSeeds(now, seedNodes);
    if (outside.length) {
      notePlans(await fanOut(`Join ${outside.join(', ')} through the seeds (memberlist join merges the sides)`, outside, (node) => gossipJoin({ cluster, node }), { concurrency: outside.length, onFailure: 'ask' }));
    }
    notePlans(await fanOut('Force a rebalance on every node (rebalance_peers)', up, (node) => gossipRebalance({ cluster, node }), {
      concurrency: disruptConcurrency(nodes.length, nodes.length - up.length),
      onFailure: 'ask',
    }));
    how = `a forced rejoin and rebalance on ${up.length} nodes, approved by ${a.by}`;
  }

  const final = await step('Verify: one component, every node sees every other', () => oneComponent('one component', '2m'), {
    onFailure: 'ask',
    describe: ((r: { detail: string }) => r.detail) as never,
  });
  fact('resolution', `partition ${describeComponents(parts)} healed by ${how}`);
  return `Partition healed by ${how}: ${final?.detail ?? skipped('verification')}`;
}
