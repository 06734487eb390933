/**
 * Seed 002, "Regional Failover — Primary Region Unavailable", on the real
 * inferadb ledger.
 *
 * The seed starts the DR cluster on snapshots replicated from the primary
 * (`aws s3 sync` into `./data`). At 21345c4 the server has no cross-cluster
 * replication, and data directories copied to other addresses never elect a
 * leader (docs/ledger.md): what the DR region can start from is the
 * primary's export, replicated to its bucket. So:
 * 1. detect the failure: several health probes in a row find no primary node
 *    answering; if the primary answers, nothing is touched;
 * 2. gate `accept-rpo-gap` (the seed's step 5, asked first: the approver
 *    sees when the replicated export was taken);
 * 3. activate the DR cluster: a DR cluster already serving is kept;
 *    otherwise its voters start empty, the first forms the cluster, the
 *    export is re-created in it, the others join one at a time;
 * 4. gate `dns-switch`, then point the engine at the DR endpoint (`kubectl
 *    patch configmap`, `kubectl rollout restart deployment/engine` on the DR
 *    region's bastion) and verify the rollout;
 * 5. verify the DR cluster: the post-recovery checklist.
 * RTO 15 min target, 30 min max; the RPO gap goes into the incident record.
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { LedgerArchiveInfo, LedgerEngineRollout } from '../../activities/types';
import type { LedgerRegionalFailoverParams } from '../../catalog';
import { activities, approve, errorMessage, fact, fanOut, isDryRun, note, recoveryInput, runRecovery, step, waitFor, type RecoveryInput, type RecoveryResult } from '../kit';
import { LEDGER_REGIONAL_FAILOVER } from '../scenarios';
import { assess, describeStates, formFromExport, ledgerChecklist, readStates, rpoText } from './cluster';
import { legacyRegionalFailover } from './legacy/regional-failover';
import { REAL_LEDGER_API } from './versions';

export type RegionalFailoverInput = RecoveryInput<Partial<LedgerRegionalFailoverParams>>;

/** Pause between two health probes of the primary region (scaled by the recovery's timeScale). */
const PROBE_EVERY = '20s';

export async function ledgerRegionalFailover(input: RegionalFailoverInput): Promise<RecoveryResult> {
  if (!patched(REAL_LEDGER_API)) return legacyRegionalFailover(input as never);
  return runRecovery(LEDGER_REGIONAL_FAILOVER, input, regionalFailover);
}

async function regionalFailover(): Promise<string> {
  const input = recoveryInput<Partial<LedgerRegionalFailoverParams>>();
  const cluster = input.cluster.name;
  const primaryNodes = input.cluster.nodes.map((n) => n.name);
  const probes = input.params.probes ?? 3;
  const { ledgerDrTopology, ledgerArchiveInfo, ledgerArchiveFetch, ledgerServiceStop, ledgerSetAside, ledgerEngineEndpoint, ledgerSwitchEndpoint, ledgerRestartEngine, ledgerEngineRollout } =
    activities();

  // 1. Detect failure: the whole primary region must stay down for several probes in a row.
  let downInARow = 0;
  const detection = await step(
    `Detect failure: health checks on every primary node, ${probes} probes in a row`,
    () =>
      waitFor(
        `the primary region is down for ${probes} probes in a row, or answers`,
        async () => {
          const states = await readStates(cluster, primaryNodes);
          const a = assess(states);
          if (a.reachable.length > 0) return { done: true, value: 'answers' as const, detail: `primary answers: ${describeStates(states)}` };
          downInARow += 1;
          return { done: downInARow >= probes, value: 'down' as const, detail: `no primary node answers (${describeStates(states)}); down ${downInARow}/${probes} probes in a row` };
        },
        { every: PROBE_EVERY, within: `${20 * probes + 60}s`, maxProbes: probes + 6 },
      ),
    { describe: ((r: { detail: string }) => r.detail) as never },
  );
  if (detection.value === 'answers') {
    fact('root cause', 'no regional failure: primary nodes answer (a node or quorum failure is handled in the region: ledger.node-failure, ledger.quorum-loss)');
    return `No failover: the primary region answers (${detection.detail}); nothing was changed.`;
  }
  fact('root cause', `primary region unavailable: none of the ${primaryNodes.length} nodes of ${cluster} answered for ${probes} probes in a row`);
  fact('impact', 'regional outage: the engine cannot read from or write to the ledger');

  const dr = await step('Find the DR region in the inventory', () => ledgerDrTopology({ cluster, drCluster: input.params.drCluster }), {
    describe: ((t: { drCluster: string; voters: string[]; bastion: string }) => `${t.drCluster}: voters ${t.voters.join(', ')}, kubectl on ${t.bastion}`) as never,
  });
  const drCluster = dr.drCluster;
  const source = input.params.replicas ?? dr.replicaSource;
  const endpoint = input.params.endpoint ?? dr.endpoint;
  const first = dr.voters[0]!;

  // The seed's step 5, asked before anything is done.
  const replica = await step(`Locate the primary's replicated export (aws s3 ls ${source})`, () => ledgerArchiveInfo({ cluster: drCluster, node: first, source }), {
    describe: ((r: LedgerArchiveInfo) => (r.exists ? `${r.sizeBytes ?? '?'} bytes, taken ${r.takenAt ?? '?'}` : 'nothing replicated')) as never,
  });
  const drNow = assess(
    await step(`Check the DR cluster ${drCluster}: does it already serve?`, () => readStates(drCluster, dr.voters), { describe: describeStates as never }),
  );
  const drServes = drNow.quorum === 'holds' && drNow.reachable.length === dr.voters.length && drNow.states.every((s) => s.clusterId);
  if (!replica.exists && !drServes) {
    throw ApplicationFailure.nonRetryable(
      `nothing replicated at ${source} and ${drCluster} does not serve: the DR region has nothing to start from; check the export replication, or restore another export (ledger.full-restore on ${drCluster})`,
      'ReplicaMissing',
    );
  }
  const rpo = drServes ? 'set by how the DR cluster was kept in step (it already serves)' : rpoText(replica.takenAt, Date.now());
  fact('RPO gap', drServes ? `the DR cluster already serves; its data is as recent as the team kept it` : `${rpo}: data committed in the primary region after the export (${replica.takenAt ?? '?'}) is lost`);
  const accepted = await approve('accept-rpo-gap', {
    skippable: true, // a skip after a timeout leaves the gated action undone (checked below)
    title: `Fail over to ${drCluster} and accept the loss of the writes after the replicated export (${rpo})`,
    evidence: {
      'replicated export': replica.exists ? `${source} (${replica.sizeBytes ?? '?'} bytes, taken ${replica.takenAt ?? '?'})` : 'none',
      'RPO gap (writes lost)': rpo,
      'primary region': `${cluster}: none of ${primaryNodes.length} nodes answered ${probes} probes in a row`,
      'DR cluster': `${drCluster} (${dr.voters.join(', ')}): ${drServes ? 'already serves' : 'formed from the export'}`,
      risk: 'everything committed in the primary region after the export is lost; if the primary comes back it must not take writes again',
    },
  });
  if (!accepted.approved) {
    fact('resolution', `no failover: the RPO gap was not accepted (${accepted.reason}); ${drCluster} was not touched`);
    return `No failover: accept-rpo-gap was skipped by ${accepted.by}; the DR region was not touched and the primary is still down.`;
  }

  // 3. Activate the DR cluster.
  if (drServes) {
    fact('DR cluster', `${drCluster} already serves (leader ${drNow.leader ?? '?'}): kept as it is`);
  } else {
    await fanOut(`Stop the DR voters' ledger units (systemctl stop)`, dr.voters, (node) => ledgerServiceStop({ cluster: drCluster, node }), { concurrency: dr.voters.length, onFailure: 'ask' });
    await fanOut('Set the DR voters\' old data aside (kept)', dr.voters, (node) => ledgerSetAside({ cluster: drCluster, node, reason: 'regional failover: the DR cluster is formed from the replicated export' }), {
      concurrency: dr.voters.length,
      onFailure: 'ask',
    });
    const fetched = await step(`Retrieve the replicated export onto ${first} (aws s3 cp ${source})`, () => ledgerArchiveFetch({ cluster: drCluster, node: first, source }), { onFailure: 'ask' });
    const formed = await formFromExport(drCluster, first, dr.voters.slice(1), { node: first, path: fetched?.path ?? '' });
    fact('DR cluster', `${drCluster} formed: cluster ${formed.clusterId ?? '?'} on ${formed.joined.join(', ')}`);
  }

  // 4. Update DNS/routing.
  const current = await step(`Read the engine's ledger endpoint (kubectl get configmap ${dr.configMap})`, () => ledgerEngineEndpoint({ cluster: drCluster, node: dr.bastion }), {
    describe: ((c: { key: string; endpoint?: string }) => `${c.key}=${c.endpoint ?? '(unset)'}`) as never,
  });
  let switchApproved: Awaited<ReturnType<typeof approve>>;
  try {
    switchApproved = await approve('dns-switch', {
      skippable: true,
      title: `Point the engine at the DR region: ${dr.endpointKey} ${current.endpoint ?? '(unset)'} -> ${endpoint}, then restart deployment/${dr.deployment}`,
      evidence: {
        from: current.endpoint ?? '(unset)',
        to: endpoint,
        'DR cluster': `${drCluster} (${dr.voters.join(', ')})`,
        'what changes': `configmap/${dr.configMap} ${dr.endpointKey}, then kubectl rollout restart deployment/${dr.deployment}`,
        risk: 'all engine traffic moves to the DR region; the primary must stay fenced off when it returns',
      },
    });
  } catch (err) {
    fact('resolution', `DR cluster ${drCluster} is up, but the engine was NOT switched: it still points at ${current.endpoint ?? '(unset)'} (dns-switch not approved)`);
    note(`dns-switch not approved (${errorMessage(err)}): ${drCluster} runs, the engine still points at ${current.endpoint ?? '(unset)'}`);
    throw err;
  }
  if (!switchApproved.approved) {
    fact('resolution', `DR cluster ${drCluster} is up, but the engine was NOT switched: it still points at ${current.endpoint ?? '(unset)'} (dns-switch skipped)`);
    return `DR cluster ${drCluster} is up, but the engine was not switched (dns-switch skipped by ${switchApproved.by}): it still points at ${current.endpoint ?? '(unset)'}.`;
  }
  await step(`Update routing: kubectl patch configmap ${dr.configMap} -p '{"data":{"${dr.endpointKey}":"${endpoint}"}}'`, () => ledgerSwitchEndpoint({ cluster: drCluster, node: dr.bastion, endpoint }));
  await step(`Restart the engine pods (kubectl rollout restart deployment/${dr.deployment})`, () => ledgerRestartEngine({ cluster: drCluster, node: dr.bastion }));
  await step(
    `Verify the engine rollout (kubectl rollout status deployment/${dr.deployment})`,
    async () => {
      const r = await ledgerEngineRollout({ cluster: drCluster, node: dr.bastion, ...(isDryRun() ? { timeoutSeconds: 1 } : {}) });
      if (!r.complete) throw ApplicationFailure.retryable(`deployment/${dr.deployment} did not roll out: ${r.detail}`, 'RolloutIncomplete');
      return r;
    },
    { onFailure: 'ask', describe: ((r: LedgerEngineRollout) => r.detail) as never },
  );

  // 5. Verify the DR cluster.
  await ledgerChecklist(drCluster, dr.voters, input.params);
  fact('resolution', `failed over to ${drCluster}; the engine now uses ${endpoint}`);
  return `Failed over to the DR region: ${drCluster} serves, the engine points at ${endpoint}; RPO gap ${rpo}`;
}
