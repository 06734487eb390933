/**
 * Seed 003, "Multiple Node Failure", on the real memberlist-plumtree 0.1.6
 * through the control API: several nodes failed at once (a zone failure):
 * the peer count dropped (`plumtree_peer_count`, the runbook's
 * `plumtree_total_peers`), `plumtree_graft_failed_total` rising, delivery
 * delays.
 *
 * 1. assess the remaining cluster: how many nodes are up (`count(up == 1)`)
 *    and whether they are healthy (`min(plumtree_eager_peers)`);
 * 2. majority survives: the cluster self-heals; monitor the survivors until
 *    they form a stable mesh, then bring back the failed nodes whose hosts
 *    answer (`systemctl start plumtree`) and report the others for
 *    replacement;
 * 3. minority survives: gate `coordinated-restart` (dangerous), then stop
 *    every node, wait 10 s, start every node.
 * Verification: every node back has eager peers. RTO 30 / 60 min (Lifeboat's targets).
 *
 * A started node joins through its seeds by itself (the application's
 * start-up join). Hosts whose check fails (SSH refused) are all named in the
 * operator's decision.
 *
 * @module
 */
import { patched } from '@temporalio/workflow';
import type { GossipMultiNodeFailureParams } from '../../catalog';
import type { GossipMetrics, GossipServiceState } from '../../activities/gossip/types';
import { activities, approve, fact, fanOut, note, recoveryInput, runRecovery, skipped, stabilize, step, waitFor, type RecoveryInput, type RecoveryResult } from '../kit';
import { GOSSIP_MULTI_NODE_FAILURE } from '../scenarios';
import { describePeers, GRAFT_FAILED, healthy, majority, metric, notePlans, PEER_COUNT, readMetrics, readPeers, tolerance } from './cluster';
import { legacyGossipMultiNodeFailure } from './legacy/multi-node-failure';
import { PLUMTREE_CONTROL_API } from './versions';

export type MultiNodeFailureInput = RecoveryInput<Partial<GossipMultiNodeFailureParams>>;

export async function gossipMultiNodeFailure(input: MultiNodeFailureInput): Promise<RecoveryResult> {
  if (!patched(PLUMTREE_CONTROL_API)) return legacyGossipMultiNodeFailure(input as never);
  return runRecovery(GOSSIP_MULTI_NODE_FAILURE, input, multiNodeFailure);
}

async function multiNodeFailure(): Promise<string> {
  const input = recoveryInput<Partial<GossipMultiNodeFailureParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const { gossipServiceState, gossipService } = activities();

  // 1. Assess remaining cluster health.
  const view = await step('Assess remaining cluster health: nodes up and their eager peers (count(up), min(plumtree_eager_peers))', () => readPeers(cluster, nodes), {
    describe: describePeers as never,
  });
  const survivors = healthy(view);
  const failed = nodes.filter((n) => !survivors.includes(n));
  await step(`Symptoms: ${PEER_COUNT} and ${GRAFT_FAILED} on the survivors`, () => readMetrics(cluster, survivors), {
    onFailure: 'continue',
    describe: ((m: GossipMetrics[]) => m.map((x) => `${x.node}: peers ${metric(x, PEER_COUNT) ?? 'n/a'}, graft failed ${metric(x, GRAFT_FAILED) ?? 0}`).join(', ')) as never,
  });
  if (failed.length === 0) {
    fact('root cause', `no node failure: all ${nodes.length} nodes are up with eager peers`);
    return `No node failure: all ${nodes.length} nodes are up with eager peers; nothing to recover.`;
  }
  const minEager = Math.min(...view.filter((p) => survivors.includes(p.node)).map((p) => p.eager.length));
  fact('nodes affected', failed.join(', '));
  fact('impact', `${failed.length} of ${nodes.length} nodes failed; ${survivors.length} survive${survivors.length ? ` (min eager peers ${minEager})` : ''}`);

  const eagerEverywhere = (title: string, targets: string[], within: string) =>
    waitFor(
      title,
      async () => {
        const now = await readPeers(cluster, targets);
        const bad = now.filter((p) => !p.reachable || p.eager.length === 0 || !targets.every((t) => t === p.node || p.members.includes(t)));
        return { done: bad.length === 0, detail: bad.length ? `not yet: ${describePeers(bad)}` : `${targets.length} node(s) with eager peers, seeing each other` };
      },
      { every: '10s', within },
    );

  if (survivors.length >= majority(nodes.length)) {
    // 2. Majority survives: the cluster self-heals.
    fact('root cause', `${failed.length} node(s) failed; a majority (${survivors.length}/${nodes.length}) survived`);
    await step('Majority survives: monitor the survivors until the mesh is stable', () => eagerEverywhere('the survivors form a stable mesh', survivors, '5m'), {
      onFailure: 'ask',
      describe: ((r: { detail: string }) => r.detail) as never,
    });
    // A refused SSH key is for the operator to fix (then retry), not a reason to give up the recovery.
    // A fan-out, so that a decision names every host whose check failed, not the first one.
    const checked = await fanOut('Failed nodes: does the host answer? (systemctl is-active over SSH)', failed, (node) => gossipServiceState({ cluster, node }), {
      concurrency: failed.length,
      onFailure: 'ask',
    });
    const states: GossipServiceState[] = failed.flatMap((n) => (checked.succeeded[n] ? [checked.succeeded[n]] : []));
    note(`failed hosts: ${states.map((x) => `${x.node}: ${x.sshReachable ? x.state : 'no SSH'}`).join(', ') || 'none checked'}`);
    const startable = states.filter((s) => s.sshReachable && !s.active).map((s) => s.node);
    const replace = states.filter((s) => !s.sshReachable).map((s) => s.node);
    const running = states.filter((s) => s.sshReachable && s.active).map((s) => s.node);
    if (running.length) note(`plumtree runs on ${running.join(', ')} but the node has no peers: see gossip.isolated-node`);
    if (startable.length) {
      // Starting a node takes nothing down: a few at a time, so the joins do not storm the seeds.
      notePlans(await fanOut('Replace failed nodes: start plumtree where the host answers (systemctl start plumtree)', startable, (node) => gossipService({ cluster, node, action: 'start' }), {
        concurrency: Math.max(1, tolerance(nodes.length)),
        onFailure: 'ask',
      }));
      await step('Verify: the restarted nodes have eager peers', () => eagerEverywhere('the restarted nodes rejoined', [...survivors, ...startable], '3m'), {
        onFailure: 'ask',
        describe: ((r: { detail: string }) => r.detail) as never,
      });
    }
    if (replace.length || running.length) fact('nodes to replace', [...replace.map((n) => `${n} (host does not answer)`), ...running.map((n) => `${n} (running without peers)`)].join(', '));
    const back = startable.length ? `started again: ${startable.join(', ')}` : 'no node could be started';
    fact('resolution', `majority survived and self-healed; ${back}${replace.length ? `; replace: ${replace.join(', ')}` : ''}`);
    return `Majority survived (${survivors.length}/${nodes.length}) and the mesh is stable; ${back}${replace.length || running.length ? `; replace when ready: ${[...replace, ...running].join(', ')}` : ''}.`;
  }

  // 3. Minority survives: coordinated restart.
  fact('root cause', `${failed.length} of ${nodes.length} nodes failed: only a minority (${survivors.length}) survived`);
  const a = await approve('coordinated-restart', {
    title: `Coordinated restart: stop plumtree on all ${nodes.length} nodes, wait 10 s, start them all fresh`,
    evidence: {
      survivors: survivors.join(', ') || 'none',
      failed: failed.join(', '),
      quorum: `${survivors.length} of ${nodes.length} healthy, ${majority(nodes.length)} needed: the cluster will not self-heal`,
      risk: 'the whole cluster stops delivering messages until every node is back',
    },
  });
  // The one deliberate exception to "never more nodes down than the cluster can lose": the approved restart stops them all.
  notePlans(await fanOut('Coordinated restart: stop plumtree on every node', nodes, (node) => gossipService({ cluster, node, action: 'stop' }), { concurrency: nodes.length, onFailure: 'ask' }));
  await stabilize('10s', 'every node stopped: let the old membership expire before starting fresh');
  notePlans(await fanOut('Coordinated restart: start plumtree on every node', nodes, (node) => gossipService({ cluster, node, action: 'start' }), { concurrency: nodes.length, onFailure: 'ask' }));
  const final = await step('Verify: every node has eager peers again', () => eagerEverywhere('the cluster re-formed', nodes, '3m'), {
    onFailure: 'ask',
    describe: ((r: { detail: string }) => r.detail) as never,
  });
  fact('resolution', `coordinated restart of all ${nodes.length} nodes approved by ${a.by}`);
  return `Cluster re-formed by a coordinated restart of all ${nodes.length} nodes: ${final?.detail ?? skipped('verification')}`;
}

