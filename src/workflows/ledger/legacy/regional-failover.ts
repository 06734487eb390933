/**
 * v1 (before Lifeboat spoke the real inferadb ledger; kept for the histories
 * that recorded it, see ../index.ts). Seed 002, "Regional Failover — Primary Region Unavailable":
 * 1. detect the failure: health checks (HealthService/Check, GetClusterInfo)
 *    on every primary node, several probes in a row over a short bounded
 *    window, so that a blip does not fail a region over; if the primary
 *    answers, nothing is touched;
 * 2. gate `accept-rpo-gap` (the runbook's step 5, "accept data loss
 *    window", asked before anything is done: the approver sees when the last
 *    replication ran), then activate the DR cluster: on every DR voter
 *    `cd /dr-region && aws s3 sync s3://ledger-primary-backups/latest/ ./data/`,
 *    then `INFERADB__LEDGER__DATA=./data INFERADB__LEDGER__CLUSTER=3
 *    inferadb-ledger`, and wait until it serves with a leader;
 * 3. gate `dns-switch`, then update routing: `kubectl patch configmap
 *    ledger-config` to the DR endpoint and `kubectl rollout restart
 *    deployment/engine` (kubectl runs on the DR region's bastion);
 * 4. verify the DR cluster (HealthService/Check, GetClusterInfo) and the
 *    engine rollout, then seed 002's post-recovery checklist on the DR cluster.
 * RTO 15 min target, 30 min max. The RPO gap (outage time minus the last
 * replication) goes into the incident record.
 *
 * The DR region is a cluster of its own in the inventory, named by the
 * primary's `settings.drCluster`; the recovery runs on the primary cluster.
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { LedgerRegionalFailoverParams } from './params';
import type { LedgerEngineRollout, LedgerNodeInfo, LedgerReplicaInfo } from '../../../activities/types';
import { activities, approve, errorMessage, fact, isDryRun, note, recoveryInput, runRecovery, step, waitFor, type RecoveryInput, type RecoveryResult } from '../../kit';
import { LEDGER_REGIONAL_FAILOVER } from './meta';
import { ledgerPostRecoveryChecklist } from './checklist';

export type RegionalFailoverInput = RecoveryInput<Partial<LedgerRegionalFailoverParams>>;

/** Pause between two health probes of the primary region (scaled by the recovery's timeScale). */
const PROBE_EVERY = '20s';

/** The v1 scenario, replayed by histories recorded before Lifeboat spoke the real ledger. */
export async function legacyRegionalFailover(input: RegionalFailoverInput): Promise<RecoveryResult> {
  return runRecovery(LEDGER_REGIONAL_FAILOVER, input, regionalFailover);
}

async function regionalFailover(): Promise<string> {
  const input = recoveryInput<Partial<LedgerRegionalFailoverParams>>();
  const cluster = input.cluster.name;
  const primaryNodes = input.cluster.nodes.map((n) => n.name);
  const organization = input.params.organization ?? '1';
  const probes = input.params.probes ?? 3;
  const { ledgerNodeInfo, ledgerDrTopology, ledgerReplicaInfo, ledgerDrSync, ledgerStart, ledgerEngineEndpoint, ledgerSwitchEndpoint, ledgerRestartEngine, ledgerEngineRollout } = activities();

  // 1. Detect failure: the whole primary region must stay down for several probes in a row.
  let downInARow = 0;
  const detection = await step(
    `Detect failure: health checks on every primary node, ${probes} probes in a row`,
    () =>
      waitFor(
        `the primary region is down for ${probes} probes in a row, or answers`,
        async () => {
          const infos = await Promise.all(primaryNodes.map((node) => ledgerNodeInfo({ cluster, node })));
          const serving = infos.filter((i) => i.reachable && i.serving && !!i.leader);
          const reachable = infos.filter((i) => i.reachable);
          if (serving.length > 0) {
            return { done: true, value: 'healthy' as const, detail: `primary serves: ${describeNodes(infos)}` };
          }
          downInARow = reachable.length === 0 ? downInARow + 1 : 0;
          return {
            done: downInARow >= probes,
            value: 'down' as const,
            detail: `${reachable.length}/${primaryNodes.length} primary nodes answer (${describeNodes(infos)}); down ${downInARow}/${probes} probes in a row`,
          };
        },
        { every: PROBE_EVERY, within: `${20 * probes + 60}s`, maxProbes: probes + 6 },
      ),
    {
      describe: ((r: { detail: string }) => r.detail) as never,
      hint: 'some primary nodes answer without a leader: that is not a region failure; use ledger.quorum-loss or ledger.node-failure',
    },
  );
  if (detection.value === 'healthy') {
    fact('root cause', 'no regional failure: the primary cluster answered its health checks');
    return `No failover: the primary region answers (${detection.detail}); nothing was changed.`;
  }
  fact('root cause', `primary region unavailable: none of the ${primaryNodes.length} nodes of ${cluster} answered HealthService/Check for ${probes} probes in a row`);
  fact('impact', 'regional outage: the engine cannot read from or write to the ledger');

  const dr = await step('Find the DR region in the inventory', () => ledgerDrTopology({ cluster, drCluster: input.params.drCluster }), {
    describe: ((t: { drCluster: string; voters: string[]; bastion: string }) => `${t.drCluster}: voters ${t.voters.join(', ')}, kubectl on ${t.bastion}`) as never,
  });
  const drCluster = dr.drCluster;
  const source = input.params.replicas ?? dr.replicaSource;
  const endpoint = input.params.endpoint ?? dr.endpoint;
  const first = dr.voters[0]!;

  // 5. (asked first) Accept the data loss window: writes after the last replication are lost.
  const replica = await step(`Locate the last replicated snapshots (aws s3 ls ${source})`, () => ledgerReplicaInfo({ cluster: drCluster, node: first, source }), {
    describe: ((r: LedgerReplicaInfo) => (r.exists ? `${r.objects} object(s), ${r.sizeBytes} bytes, last replicated ${r.lastModified ?? '?'}` : 'nothing replicated')) as never,
  });
  if (!replica.exists) {
    throw ApplicationFailure.nonRetryable(
      `nothing replicated at ${source}: the DR region has no snapshot to start from; check the bucket replication, or restore another backup (ledger.full-restore on ${drCluster})`,
      'ReplicaMissing',
    );
  }
  const rpo = replica.lastModified ? rpoText(Date.now() - Date.parse(replica.lastModified)) : 'unknown (the replica has no timestamp)';
  fact('RPO gap', `${rpo}: data committed in the primary region after the last replication (${replica.lastModified ?? '?'}) is lost`);
  const accepted = await approve('accept-rpo-gap', {
    skippable: true, // a skip after a timeout leaves the gated action undone (checked below)
    title: `Fail over to ${drCluster} and accept the loss of the writes after the last replication (${rpo})`,
    evidence: {
      'last replicated': replica.lastModified ?? 'unknown',
      'RPO gap (writes lost)': rpo,
      'replicated snapshots': `${source} (${replica.objects} object(s), ${replica.sizeBytes} bytes)`,
      'primary region': `${cluster}: none of ${primaryNodes.length} nodes answered ${probes} health probes in a row`,
      'DR cluster': `${drCluster} (${dr.voters.join(', ')})`,
      risk: 'everything committed in the primary region after the last replication is lost; if the primary comes back it must not take writes again',
    },
  });
  if (!accepted.approved) {
    fact('resolution', `no failover: the RPO gap was not accepted (${accepted.reason}); ${drCluster} was not touched`);
    return `No failover: accept-rpo-gap was skipped by ${accepted.by}; the DR region was not touched and the primary is still down.`;
  }

  // 2. Activate the DR cluster.
  const inDir = dr.workdir ? `cd ${dr.workdir} && ` : '';
  // On every DR voter at once; both effects are idempotent, so an operator retry reruns them safely.
  await step(
    `Sync the latest snapshots to the DR region (${inDir}aws s3 sync ${source} ${dr.dataDir}/)`,
    () => Promise.all(dr.voters.map((node) => ledgerDrSync({ cluster: drCluster, node, source }))),
    { onFailure: 'ask', describe: plans as never },
  );
  await step(
    `Start the DR cluster (INFERADB__LEDGER__DATA=${dr.dataDir} INFERADB__LEDGER__CLUSTER=${dr.voters.length} inferadb-ledger)`,
    () => Promise.all(dr.voters.map((node) => ledgerStart({ cluster: drCluster, node, start: { mode: 'cluster', size: dr.voters.length, peers: dr.voters, dataDir: dr.dataDir } }))),
    { onFailure: 'ask', describe: plans as never },
  );
  const serving = await step(
    'Wait until the DR cluster serves with a leader',
    () => waitFor('every DR voter serves in one cluster with a leader', () => clusterProbe(drCluster, dr.voters), { every: '2s', within: '2m' }),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );

  // 3. Update DNS/routing.
  const current = await step(`Read the engine's ledger endpoint (kubectl get configmap ${dr.configMap})`, () => ledgerEngineEndpoint({ cluster: drCluster, node: dr.bastion }), {
    describe: ((c: { key: string; endpoint?: string }) => `${c.key}=${c.endpoint ?? '(unset)'}`) as never,
  });
  let switchApproved: Awaited<ReturnType<typeof approve>>;
  try {
    switchApproved = await approve('dns-switch', {
      skippable: true, // a skip after a timeout leaves the gated action undone (checked below)
      title: `Point the engine at the DR region: ${dr.endpointKey} ${current.endpoint ?? '(unset)'} -> ${endpoint}, then restart deployment/${dr.deployment}`,
      evidence: {
        from: current.endpoint ?? '(unset)',
        to: endpoint,
        'DR cluster': `${drCluster}: ${serving?.detail ?? 'not verified (dry run)'}`,
        'what changes': `configmap/${dr.configMap} ${dr.endpointKey}, then kubectl rollout restart deployment/${dr.deployment}`,
        risk: 'all engine traffic moves to the DR region; the primary must stay fenced off when it returns',
      },
    });
  } catch (err) {
    // The DR cluster runs; say so plainly before the rejection ends the recovery.
    fact('resolution', `DR cluster ${drCluster} is up and serving, but the engine was NOT switched: it still points at ${current.endpoint ?? '(unset)'} (dns-switch not approved)`);
    note(`dns-switch not approved (${errorMessage(err)}): ${drCluster} runs, the engine still points at ${current.endpoint ?? '(unset)'}`);
    throw err;
  }
  if (!switchApproved.approved) {
    fact('resolution', `DR cluster ${drCluster} is up and serving, but the engine was NOT switched: it still points at ${current.endpoint ?? '(unset)'} (dns-switch skipped)`);
    return `DR cluster ${drCluster} is up, but the engine was not switched (dns-switch skipped by ${switchApproved.by}): it still points at ${current.endpoint ?? '(unset)'}.`;
  }
  await step(
    `Update routing: kubectl patch configmap ${dr.configMap} -p '{"data":{"${dr.endpointKey}":"${endpoint}"}}'`,
    () => ledgerSwitchEndpoint({ cluster: drCluster, node: dr.bastion, endpoint }),
  );
  await step(`Restart the engine pods (kubectl rollout restart deployment/${dr.deployment})`, () => ledgerRestartEngine({ cluster: drCluster, node: dr.bastion }));

  // 4. Verify the DR cluster and the engine.
  await step(
    'Verify the DR cluster: HealthService/Check and GetClusterInfo on every DR voter',
    async () => {
      const probe = await clusterProbe(drCluster, dr.voters);
      if (!probe.done) throw ApplicationFailure.retryable(`the DR cluster is not healthy: ${probe.detail}`, 'DrUnhealthy');
      return probe;
    },
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );
  await step(
    `Verify the engine rollout (kubectl rollout status deployment/${dr.deployment})`,
    async () => {
      // A dry run restarted nothing: do not wait for a rollout that never began.
      const r = await ledgerEngineRollout({ cluster: drCluster, node: dr.bastion, ...(isDryRun() ? { timeoutSeconds: 1 } : {}) });
      if (!r.complete) throw ApplicationFailure.retryable(`deployment/${dr.deployment} did not roll out: ${r.detail}`, 'RolloutIncomplete');
      return r;
    },
    { onFailure: 'ask', describe: ((r: LedgerEngineRollout) => r.detail) as never },
  );

  await ledgerPostRecoveryChecklist(drCluster, dr.voters, organization);
  fact('resolution', `failed over to ${drCluster} (${dr.voters.length} voters from ${source}); the engine now uses ${endpoint}`);
  return `Failed over to the DR region: ${drCluster} serves (${serving?.detail ?? 'dry run'}), the engine points at ${endpoint}; RPO gap ${rpo}`;
}

/** One health probe of a set of ledger nodes: all serving in one cluster with one leader. */
async function clusterProbe(cluster: string, nodes: string[]): Promise<{ done: boolean; detail: string }> {
  const infos = await Promise.all(nodes.map((node) => activities().ledgerNodeInfo({ cluster, node })));
  const ids = new Set(infos.filter((i) => i.reachable).map((i) => i.clusterId));
  const leaders = new Set(infos.map((i) => i.leader).filter(Boolean));
  const bad = infos.filter((i) => !i.reachable || !i.serving).map((i) => i.node);
  return {
    done: bad.length === 0 && ids.size === 1 && leaders.size === 1,
    detail: `${nodes.length - bad.length}/${nodes.length} serving, leader ${[...leaders].join('/') || 'none'}${bad.length ? `, not serving: ${bad.join(', ')}` : ''}`,
  };
}

/** Each node's plan (the exact command), or that it was already done. */
function plans(results: Array<{ plan: string; alreadyDone?: boolean }>): string {
  return results.map((r) => (r.alreadyDone ? `already done: ${r.plan}` : r.plan)).join('\n');
}

function describeNodes(infos: LedgerNodeInfo[]): string {
  return infos.map((i) => `${i.node} ${!i.reachable ? 'unreachable' : i.serving ? 'serving' : 'not serving'}`).join(', ');
}

function rpoText(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return 'unknown (the replica is newer than this clock)';
  const min = Math.round(ms / 60_000);
  return min < 60 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`;
}
