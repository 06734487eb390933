/**
 * Seed 001, "Sync Host Critical", on the real sync surface (RingRift
 * 2aa9f89b5): one or more hosts have not synced for long and automatic
 * recovery failed; their selfplay games may be lost.
 *
 * The seed's sync coordinator (per-host statuses, port 5001, the sync agent)
 * does not exist; docs/training-cluster.md says, step by step, what stands in
 * for it. Diagnosis (read only): the ai-service app's `ringrift_sync_hosts_*`
 * gauges (counts, no names) and `GET /admin/sync/status`; the critical hosts
 * named from the coordinator's P2P peers (retired, not alive, stale
 * heartbeat) and the operator's `--set host=`; per host its SSH, its
 * orchestrator, its game database. Several critical hosts at once: the seed's
 * Escalation first.
 *
 * Resolution per host, safest first; the first option after which the host is
 * back (its orchestrator answers; alive, not retired, fresh heartbeat in the
 * coordinator's view; the critical gauge dropped or zero) ends it:
 * 4. a retired host that answers SSH is unretired first (`POST
 *    /admin/unretire?node_id=`): a retired peer is left out of every sync;
 * 1. the app's full cluster sync (`POST /admin/sync/trigger`; there is no
 *    per-host sync);
 * 2. the host's orchestrator restarted (no `ringrift-sync-agent` exists: the
 *    orchestrator carries the host's heartbeats and its P2P sync routes);
 * 3. its game databases copied (`rsync`) to the coordinator and registered
 *    (`import_orphaned_databases.py --data-dir --trigger-sync --json`);
 * 5. last resort, dangerous gate `retire-host` (the loss acknowledged), then a
 *    human step: no route retires a host, so a person takes it out and
 *    confirms; the facts go to the incident record.
 * The seed gives no recovery time: RTO 30 min target, 2 h max.
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { SyncHostCriticalParams } from '../../catalog';
import type { SshCheckResult } from '../../activities/types';
import type { GamesDbStatus, SyncAppStatus, SyncCriticalHost, SyncCriticalHosts, SyncGauges } from '../../activities/training-cluster/types';
import { activities, approve, fact, isDryRun, note, recoveryInput, runRecovery, step, waitFor, type RecoveryInput, type RecoveryResult } from '../kit';
import { TRAINING_CLUSTER_SYNC_HOST_CRITICAL } from '../scenarios';
import { legacySyncHostCritical } from './legacy/sync-host-critical';
import { REAL_P2P_API } from './versions';

export type SyncHostCriticalInput = RecoveryInput<Partial<SyncHostCriticalParams>>;

export async function trainingClusterSyncHostCritical(input: SyncHostCriticalInput): Promise<RecoveryResult> {
  if (!patched(REAL_P2P_API)) return legacySyncHostCritical(input);
  return runRecovery(TRAINING_CLUSTER_SYNC_HOST_CRITICAL, input, syncHostCritical);
}

/** The gauges in one line. */
export function describeGauges(g: SyncGauges): string {
  if (!g.reachable) return `the ai-service app does not answer: ${g.error ?? ''}`;
  const v = (x?: number) => (x === undefined ? '?' : String(x));
  return `ringrift_sync_hosts total=${v(g.total)} healthy=${v(g.healthy)} stale=${v(g.stale)} critical=${v(g.critical)}`;
}

function describeHost(h: SyncCriticalHost): string {
  return `${h.host} (${h.why.join(', ')}${h.lastHeartbeat ? `; last heartbeat ${h.lastHeartbeat}` : ''})`;
}

const describeCritical = ((c: SyncCriticalHosts) =>
  c.reachable ? (c.hosts.length ? c.hosts.map(describeHost).join('; ') : `none (every peer alive, not retired, heartbeat within ${c.staleSeconds} s)`) : `${c.node} does not answer /status: ${c.error ?? ''}`) as never;

async function syncHostCritical(): Promise<string> {
  const input = recoveryInput<Partial<SyncHostCriticalParams>>();
  const cluster = input.cluster.name;
  const all = input.cluster.nodes.map((n) => n.name);
  const { syncGauges, syncAppStatus, syncCriticalHosts, sshCheck, notify } = activities();
  const coordinator = input.params.coordinator ?? input.cluster.nodes.find((n) => n.roles.includes('coordinator'))?.name;
  if (!coordinator || !all.includes(coordinator)) {
    throw ApplicationFailure.nonRetryable('no coordinator: give the inventory node the "coordinator" role or pass --set coordinator=NODE', 'InvalidArgument');
  }
  const named = input.params.host;

  // Diagnosis 1: the gauges (counts only), the app's sync status, and the hosts named from the P2P peers.
  const gauges = await step('Identify critical hosts: the ai-service app\'s ringrift_sync_hosts gauges', () => syncGauges({ cluster, node: coordinator }), { describe: describeGauges as never });
  await step('Read the app\'s sync status (GET /admin/sync/status)', () => syncAppStatus({ cluster, node: coordinator }), {
    onFailure: 'continue',
    describe: ((s: SyncAppStatus) => (s.reachable ? `${s.status}${s.error ? ` (${s.error})` : ''}; provider ${s.provider ?? '?'}, background sync ${s.running ? 'running' : 'not running'}, transports ${s.transports.join(', ') || 'none'}, last_sync_times: ${Object.keys(s.lastSyncTimes).length || 'empty'}` : `unreachable: ${s.error ?? ''}`)) as never,
  });
  const peers = await step(`Name the critical hosts from ${coordinator}'s P2P peers (retired, not alive, stale heartbeat)${named ? ` and ${named}` : ''}`, () => syncCriticalHosts({ cluster, node: coordinator, ...(named ? { host: named } : {}) }), { describe: describeCritical });
  if (!peers.reachable) {
    throw ApplicationFailure.nonRetryable(`the orchestrator of ${coordinator} does not answer /status (${peers.error ?? ''}): its peer table names the critical hosts; bring it back first (training-cluster.mesh-collapse)`, 'CoordinatorUnreachable');
  }
  fact('sync gauges', describeGauges(gauges));
  const unknown = peers.hosts.filter((h) => !all.includes(h.host)).map((h) => h.host);
  if (unknown.length) note(`critical peers not in the inventory (recover them by hand): ${unknown.join(', ')}`);
  const targets = peers.hosts.filter((h) => all.includes(h.host) && h.host !== coordinator && (!named || h.host === named));
  if (targets.length === 0) {
    if ((gauges.critical ?? 0) > 0) {
      throw ApplicationFailure.nonRetryable(
        `the gauges count ${gauges.critical} critical host(s) but the P2P view names none: name the host with --set host=NODE (the gauges carry no host names)`,
        'HostNotNamed',
      );
    }
    fact('root cause', 'none found: no host is critical (gauges and P2P peers)');
    return `No critical sync host${named ? ` (${named})` : ''}: nothing to recover.`;
  }
  fact('impact', `${targets.length} host(s) critical (${targets.map(describeHost).join('; ')}): their selfplay games are not collected and may be lost`);

  // Escalation: several hosts at once.
  if (targets.length > 1) {
    const ssh = await step(
      'Escalation: check for cluster-wide network issues (SSH on every node)',
      () => Promise.all(all.map((node) => sshCheck({ cluster, node }))),
      { describe: ((r: SshCheckResult[]) => r.map((x) => `${x.node}: ${x.reachable ? 'OK' : 'UNREACHABLE'}`).join(', ')) as never },
    );
    const down = ssh.filter((r) => !r.reachable).map((r) => r.node);
    if (down.length === all.length) {
      throw ApplicationFailure.nonRetryable('no node answers over SSH: this is a cluster outage, not a sync problem. Run training-cluster.cluster-outage', 'ScenarioMismatch');
    }
    fact('escalation', `${targets.length} hosts critical at once; network: ${down.length ? `unreachable ${down.join(', ')}` : 'every node answers over SSH'}`);
    await step('Escalation: page the on-call team (data loss may be imminent)', () =>
      notify({
        cluster,
        severity: 'critical',
        subject: `${targets.length} sync hosts critical on ${cluster}`,
        text: `Critical: ${targets.map(describeHost).join('; ')}. Check the cloud providers (Vast.ai, Lambda) and consider pausing selfplay on the affected hosts.`,
      }),
    );
    fact('for humans: escalation', `check cloud provider status (Vast.ai, Lambda...); consider pausing selfplay on ${targets.map((h) => h.host).join(', ')}`);
  }

  const results: string[] = [];
  for (const h of targets) results.push(await recoverHost(cluster, coordinator, h, gauges));
  fact('resolution', results.join('; '));
  return `Sync hosts recovered: ${results.join('; ')}`;
}

/** The seed's diagnosis and options for one critical host on the real surface; returns one line for the outcome. */
async function recoverHost(cluster: string, coordinator: string, h: SyncCriticalHost, before: SyncGauges): Promise<string> {
  const host = h.host;
  const { sshCheck, p2pDaemonStatus, p2pStatus, gamesDbStatus, syncGauges, syncCriticalHosts, syncTrigger, p2pRestart, p2pUnretire, syncRecoverData, syncImport } = activities();
  const tried: string[] = [];

  // Diagnosis 2-4 on the host: SSH, its orchestrator (which carries its heartbeats), its games.
  const ssh = await step(`${host}: check connectivity (ssh ... "echo OK")`, () => sshCheck({ cluster, node: host }), {
    describe: ((r: SshCheckResult) => (r.reachable ? `OK (${r.latencyMs ?? '?'} ms)` : `unreachable: ${r.error ?? ''}`)) as never,
  });
  let games: number | undefined;
  if (ssh.reachable) {
    await step(`${host}: is its orchestrator running (pgrep -f p2p_orchestrator, /health)`, () => p2pDaemonStatus({ cluster, node: host }), {
      onFailure: 'continue',
      describe: ((d: { detail: string }) => d.detail) as never,
    });
    const db = await step(`${host}: check its local game data (sqlite3 data/games/selfplay.db)`, () => gamesDbStatus({ cluster, node: host }), {
      onFailure: 'continue',
      describe: ((s: GamesDbStatus) => (s.error ? `unreadable: ${s.error}` : `${s.count ?? '?'} game(s) in ${s.databases.length} database(s), integrity ${s.integrity}`)) as never,
    });
    games = db?.count;
  } else {
    note(`${host} is unreachable over SSH: its orchestrator and data cannot be read; check the provider (vast show instances)`);
  }
  const range = `since its last heartbeat ${h.lastHeartbeat ?? '(none recorded)'}`;
  fact(`${host}: diagnosis`, `ssh ${ssh.reachable ? 'OK' : 'unreachable'}; ${h.why.join(', ')}; ${games ?? '?'} game(s) on the host`);

  /** The host is back: alive, not retired, fresh heartbeat in the coordinator's view, and the critical gauge dropped or zero. */
  const recovered = async (title: string, within: string): Promise<boolean> => {
    const r = await step(
      title,
      () =>
        waitFor(
          `${host} no longer critical`,
          async () => {
            // The coordinator's peer table counts a dead peer alive until its timeout: the host must also answer itself.
            const [c, g, self] = await Promise.all([syncCriticalHosts({ cluster, node: coordinator, host }), syncGauges({ cluster, node: coordinator }), p2pStatus({ cluster, node: host })]);
            const now = c.hosts.find((x) => x.host === host);
            const gaugeOk = !g.reachable || g.critical === undefined || g.critical === 0 || (before.critical !== undefined && g.critical < before.critical);
            const fresh = c.reachable && !!now?.fresh && self.reachable;
            const seen = !c.reachable ? `${coordinator} does not answer` : now ? (now.fresh ? `alive, heartbeat ${now.heartbeatAgeSeconds ?? '?'} s old` : now.why.join(', ')) : 'not listed';
            const detail = `${host}: ${seen}${self.reachable ? '' : ', its orchestrator does not answer'}; ${describeGauges(g)}`;
            return { done: fresh && gaugeOk, detail };
          },
          { every: '10s', within },
        ),
      { onFailure: 'continue', describe: ((r: { detail: string }) => r.detail) as never },
    );
    return r?.done === true;
  };

  // Option 4 first when it applies: a retired peer is left out of every sync.
  if (h.retired && ssh.reachable) {
    tried.push('unretire');
    await step(`${host}: Option 4: unretire it (POST /admin/unretire?node_id=${host} on ${coordinator})`, () => p2pUnretire({ cluster, node: coordinator, peer: host }), { onFailure: 'continue' });
    if (await recovered(`${host}: wait for it to be back after unretiring`, '3m')) return `${host}: unretired, back in the mesh`;
  }

  // Option 1: the app's full cluster sync (there is no per-host sync).
  tried.push('full sync');
  const sync = await step(`${host}: Option 1: trigger the full cluster sync (POST /admin/sync/trigger)`, () => syncTrigger({ cluster, node: coordinator }), {
    onFailure: 'continue',
    describe: ((r: { detail: string }) => r.detail) as never,
  });
  if (sync?.synced && (await recovered(`${host}: verify the sync (gauges, its heartbeat)`, '2m'))) return `${host}: full sync triggered (${sync.totalFiles} file(s))`;

  if (ssh.reachable) {
    // Option 2: restart the host's orchestrator (the seed's sync agent does not exist).
    tried.push('orchestrator restart');
    const restart = await step(`${host}: Option 2: restart its P2P orchestrator (the seed's sync agent does not exist)`, () => p2pRestart({ cluster, node: host }), { onFailure: 'continue' });
    if (restart && (await recovered(`${host}: wait for its heartbeat after the restart`, '3m'))) return `${host}: ${sync?.synced ? 'full sync triggered, ' : ''}orchestrator restarted`;

    // Option 3: copy its game databases by hand and register them.
    tried.push('rsync + import');
    const copy = await step(`${host}: Option 3: rsync its data/games/ to the coordinator's recovery directory`, () => syncRecoverData({ cluster, node: coordinator, host, dir: 'data/games' }), {
      onFailure: 'continue',
      describe: ((r: { recoveredDir: string; files: number }) => `${r.files} file(s) copied to ${r.recoveredDir}`) as never,
    });
    if (copy) {
      const imported = await step(`${host}: Option 3: import_orphaned_databases.py --data-dir ... --trigger-sync`, () => syncImport({ cluster, node: coordinator, host, dataDir: copy.recoveredDir, json: true }), {
        onFailure: 'continue',
        describe: ((r: { imported: number; games?: number }) => `${r.imported} database(s) imported${r.games !== undefined ? `, ${r.games} game(s) registered` : ''}`) as never,
      });
      if (imported) {
        fact(`${host}: data recovered`, `${copy.files} file(s) in ${copy.recoveredDir}, ${imported.imported} database(s) imported`);
        if (await recovered(`${host}: verify after the import`, '2m')) return `${host}: data recovered by rsync and imported (${imported.imported} database(s))`;
      }
    }
  } else {
    note(`${host}: options 2 and 3 need SSH to the host: skipped`);
  }

  // Option 5: the last resort. No route retires a host at 2aa9f89b5: after the gate, a person does it and confirms.
  const lost = `${games ?? 'an unknown number of'} game(s) on the host, ${range}`;
  note(`${host}: every recovery option failed (${tried.join(', ')}); retiring it loses ${lost}`);
  const a = await approve('retire-host', {
    skippable: true, // a skip after a timeout leaves the host as it is (checked below)
    title: `Retire ${host} permanently and acknowledge the loss of its unsynced data`,
    evidence: {
      host,
      'data lost (game count)': String(games ?? 'unknown'),
      'data lost (time range)': range,
      'why critical': h.why.join(', '),
      'reachable over SSH': ssh.reachable ? 'yes' : 'no',
      tried: tried.join(', '),
      checklist: 'host accessible? data/games checked? rsync attempted? loss documented (above)? update the training logs afterwards',
      'then': 'RingRift has no retire-host route: you retire it by hand in the next step',
    },
  });
  if (!a.approved) {
    fact(`${host}: outcome`, `not retired (${a.reason}); still critical, ${lost} at risk`);
    return `${host}: still critical, NOT retired (${a.reason})`;
  }
  const done = await approve('retire-host-by-hand', {
    title: `Take ${host} out of the training cluster by hand, then approve`,
    evidence: {
      why: 'RingRift 2aa9f89b5 has no route that retires a host (the seed\'s POST :5001/admin/retire-host does not exist)',
      steps: `stop its orchestrator and selfplay (systemctl stop ringrift-p2p-orchestrator), remove ${host} from config/distributed_hosts.yaml and the peers of the others' env files; the mesh retires a silent peer by itself after RINGRIFT_P2P_PEER_RETIRE_AFTER_SECONDS`,
      'data lost': lost,
    },
  });
  fact(`${host}: data loss`, `${lost}; loss acknowledged by ${a.by} (${a.reason}); retired by hand, confirmed by ${done.by} (${done.reason})`);
  fact('for humans: training logs', `record the data loss of ${host} (${lost}) in the training logs`);
  return isDryRun() ? `${host}: would be retired by hand after the gate` : `${host}: retired by hand, data loss acknowledged by ${a.by} (${lost})`;
}
