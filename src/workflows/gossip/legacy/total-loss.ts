/**
 * v1 (before Lifeboat spoke its control API on the real memberlist-plumtree
 * 0.1.6; kept for the histories that recorded it, see ../index.ts). Seed 003, "Total Cluster Loss": every node failed or the cluster state is
 * corrupted.
 *
 * Before anything: if a majority of nodes is up with peers, this is not a
 * total loss and stopping every node would take a working cluster down: the
 * recovery refuses (run gossip.multi-node-failure).
 * 1. stop all nodes (`systemctl stop plumtree`);
 * 2. gate `clear-persistent-state` (dangerous), then `rm -rf <dataDir>/*` on
 *    every node (refused on a node where plumtree still runs);
 * 3. start the seed nodes first, wait 10 s;
 * 4. start the remaining nodes, staggered 2 s apart;
 * 5. verify cluster formation: `plumtree_total_peers` on every node.
 * RTO 30 / 60 min (Lifeboat's targets).
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { GossipTotalLossParams } from './params';
import type { GossipServiceState } from '../../../activities/gossip/types';
import { activities, approve, fact, fanOut, recoveryInput, runRecovery, skipped, stabilize, step, waitFor, type RecoveryInput, type RecoveryResult } from '../../kit';
import { GOSSIP_TOTAL_LOSS } from './meta';
import { describePeers, healthy, majority, metric, notePlans, readMetrics, readPeers } from './cluster';

export type TotalLossInput = RecoveryInput<Partial<GossipTotalLossParams>>;

/** The v1 scenario, replayed by histories recorded before the control API. */
export async function legacyGossipTotalLoss(input: TotalLossInput): Promise<RecoveryResult> {
  return runRecovery(GOSSIP_TOTAL_LOSS, input, totalLoss);
}

async function totalLoss(): Promise<string> {
  const input = recoveryInput<Partial<GossipTotalLossParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const byRole = input.cluster.nodes.filter((n) => n.roles.includes('seed')).map((n) => n.name);
  const seeds = byRole.length ? byRole : nodes.slice(0, 1);
  const rest = nodes.filter((n) => !seeds.includes(n));
  const { gossipServiceState, gossipService, gossipClearDir } = activities();

  const view = await step('Assess: /debug/peers on every node', () => readPeers(cluster, nodes), { describe: describePeers as never });
  const states = await step('Assess: systemctl is-active plumtree on every node', () => Promise.all(nodes.map((node) => gossipServiceState({ cluster, node }))), {
    describe: ((s: GossipServiceState[]) => s.map((x) => `${x.node}: ${x.sshReachable ? x.state : 'no SSH'}`).join(', ')) as never,
  });
  const ok = healthy(view);
  if (ok.length >= majority(nodes.length)) {
    throw ApplicationFailure.nonRetryable(
      `${ok.length} of ${nodes.length} nodes are up with peers (${ok.join(', ')}): this is not a total loss, and stopping every node would take a working cluster down; ` +
        'run gossip.multi-node-failure (or gossip.isolated-node) instead',
      'ScenarioMismatch',
    );
  }
  const noSsh = states.filter((s) => !s.sshReachable).map((s) => s.node);
  fact('impact', `cluster lost: ${ok.length} of ${nodes.length} nodes delivering messages; plumtree ${states.map((s) => `${s.node}=${s.sshReachable ? s.state : 'no SSH'}`).join(', ')}`);
  fact('root cause', ok.length === 0 ? 'every node is down or without peers (total loss or corrupted cluster state)' : `only ${ok.join(', ')} still deliver: the cluster state is lost`);

  // 1. Stop all nodes: the cluster is already lost, so stopping the rest costs nothing more.
  notePlans(await fanOut('Stop all nodes (systemctl stop plumtree)', nodes, (node) => gossipService({ cluster, node, action: 'stop' }), { concurrency: nodes.length, onFailure: 'ask' }));

  // 2. Clear persistent state.
  const a = await approve('clear-persistent-state', {
    title: `Clear plumtree's persistent state on all ${nodes.length} nodes (rm -rf <dataDir>/*)`,
    evidence: {
      nodes: nodes.join(', '),
      'plumtree now': states.map((s) => `${s.node}: ${s.sshReachable ? s.state : 'no SSH'}`).join(', '),
      ...(noSsh.length ? { unreachable: `${noSsh.join(', ')} (cannot be cleared until the host answers)` } : {}),
      risk: 'every node\'s stored state (and message cache) is deleted; the cluster starts from nothing and re-forms through the seeds',
    },
  });
  notePlans(await fanOut('Clear persistent state on every node (rm -rf <dataDir>/*)', nodes, (node) => gossipClearDir({ cluster, node, dir: 'data' }), { concurrency: nodes.length, onFailure: 'ask' }));

  // 3. Restart seed nodes first.
  notePlans(await fanOut(`Start the seed nodes first (${seeds.join(', ')})`, seeds, (node) => gossipService({ cluster, node, action: 'start' }), { concurrency: seeds.length, onFailure: 'ask' }));
  await stabilize('10s', 'let the seeds form the cluster before the other nodes join');

  // 4. Start remaining nodes, staggered.
  for (const [i, node] of rest.entries()) {
    if (i > 0) await stabilize('2s', 'stagger starts');
    await step(`Start ${node} (systemctl start plumtree)`, () => gossipService({ cluster, node, action: 'start' }), { onFailure: 'ask' });
  }

  // 5. Verify cluster formation.
  const final = await step(
    'Verify cluster formation: plumtree_total_peers on every node',
    () =>
      waitFor(
        'every node sees the whole cluster',
        async () => {
          const m = await readMetrics(cluster, nodes);
          const short = m.filter((x) => (metric(x, 'plumtree_total_peers') ?? -1) < nodes.length - 1);
          const counts = m.map((x) => `${x.node}: ${metric(x, 'plumtree_total_peers') ?? 'down'}`).join(', ');
          return { done: short.length === 0, detail: `plumtree_total_peers ${counts}` };
        },
        { every: '5s', within: '3m' },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );
  fact('resolution', `all ${nodes.length} nodes stopped, persistent state cleared (approved by ${a.by}), seeds ${seeds.join(', ')} started first, then ${rest.join(', ')} staggered`);
  return `Cluster re-formed from scratch: seeds first, then ${rest.length} node(s) staggered; ${final?.detail ?? skipped('verification')}`;
}
