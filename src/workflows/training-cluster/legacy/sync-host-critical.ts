/**
 * Seed 001, "Sync Host Critical": one or more hosts have not synced for long
 * and automatic recovery failed; their selfplay games may be lost.
 *
 * Diagnosis (read only): the critical hosts from the coordinator's
 * `ringrift_sync_hosts` metrics and host statuses; per host its SSH
 * connectivity, `/data/selfplay/` (`ls -la`, `du -sh`), the sync process
 * (`ps aux | grep sync`), its sync log and the coordinator's log lines about
 * it. Several critical hosts at once: the seed's Escalation first (cluster-wide
 * SSH check, page on-call, consider pausing selfplay).
 *
 * Resolution per host, safest first; the first option after which the
 * coordinator no longer reports the host critical ends it:
 * 1. force a sync through the coordinator;
 * 2. restart the sync agent on the host;
 * 3. rsync its data to the coordinator's recovery directory and import it;
 * 4. unretire it, if the coordinator had retired it (a retired host is ignored
 *    by every sync, so this one goes first when it applies);
 * 5. last resort, dangerous gate `retire-host`: retire it and acknowledge the
 *    data loss, the approval recording what is lost (game count, time range).
 * The seed gives no recovery time: RTO 30 min target, 2 h max.
 *
 * Frozen v1 (it spoke the seed's sync coordinator, which RingRift 2aa9f89b5
 * does not have): recoveries recorded before
 * `patched('training-cluster/real-p2p-api')` replay this code.
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { SyncHostCriticalParams } from '../../../catalog';
import type { SshCheckResult } from '../../../activities/types';
import type { SyncHostStatus, SyncOverview } from '../../../activities/training-cluster/types';
import { activities, approve, fact, note, recoveryInput, runRecovery, step, waitFor, type RecoveryInput, type RecoveryResult } from '../../kit';
import { TRAINING_CLUSTER_SYNC_HOST_CRITICAL } from '../../scenarios';

export type SyncHostCriticalInput = RecoveryInput<Partial<SyncHostCriticalParams>>;

export async function legacySyncHostCritical(input: SyncHostCriticalInput): Promise<RecoveryResult> {
  return runRecovery(TRAINING_CLUSTER_SYNC_HOST_CRITICAL, input, syncHostCritical);
}

const describeOverview = ((o: SyncOverview) =>
  o.reachable
    ? `${Object.entries(o.counts).map(([k, v]) => `${k}=${v}`).join(' ') || 'no ringrift_sync_hosts series'}; critical: ${o.hosts.filter(isCritical).map((h) => `${h.host} (last_sync ${h.lastSync ?? 'never'})`).join(', ') || 'none'}`
    : `coordinator unreachable: ${o.error ?? ''}`) as never;

function isCritical(h: SyncHostStatus): boolean {
  return h.state === 'critical';
}

async function syncHostCritical(): Promise<string> {
  const input = recoveryInput<Partial<SyncHostCriticalParams>>();
  const cluster = input.cluster.name;
  const all = input.cluster.nodes.map((n) => n.name);
  const { syncHosts, sshCheck, notify } = activities();
  const coordinator = input.params.coordinator ?? input.cluster.nodes.find((n) => n.roles.includes('coordinator'))?.name;
  if (!coordinator || !all.includes(coordinator)) {
    throw ApplicationFailure.nonRetryable('no coordinator: give the inventory node the "coordinator" role or pass --set coordinator=NODE', 'InvalidArgument');
  }

  // Diagnosis 1: which hosts are critical.
  const overview = await step('Identify critical hosts: ringrift_sync_hosts metrics and host statuses', () => syncHosts({ cluster, node: coordinator }), { describe: describeOverview });
  if (!overview.reachable) {
    throw ApplicationFailure.nonRetryable(`the sync coordinator on ${coordinator} does not answer (${overview.error ?? ''}): bring it back first`, 'CoordinatorUnreachable');
  }
  const critical = overview.hosts.filter((h) => isCritical(h) && (!input.params.host || h.host === input.params.host));
  const unknown = critical.filter((h) => !all.includes(h.host)).map((h) => h.host);
  if (unknown.length) note(`critical hosts not in the inventory (recover them by hand): ${unknown.join(', ')}`);
  const targets = critical.filter((h) => all.includes(h.host));
  if (targets.length === 0) {
    fact('root cause', 'none found: no host is in the critical sync state');
    return `No critical sync host${input.params.host ? ` (${input.params.host})` : ''}: nothing to recover.`;
  }
  fact('impact', `${targets.length} host(s) critical (${targets.map((h) => h.host).join(', ')}): their selfplay games are not collected and may be lost`);

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
        text: `Critical: ${targets.map((h) => `${h.host} (last_sync ${h.lastSync ?? 'never'}, ~${h.pendingGames ?? '?'} games pending)`).join('; ')}. Check the cloud providers (Vast.ai, Lambda) and consider pausing selfplay on the affected hosts.`,
      }),
    );
    fact('for humans: escalation', `check cloud provider status (Vast.ai, Lambda...); consider pausing selfplay on ${targets.map((h) => h.host).join(', ')}`);
  }

  const results: string[] = [];
  for (const h of targets) results.push(await recoverHost(cluster, coordinator, h));
  fact('resolution', results.join('; '));
  return `Sync hosts recovered: ${results.join('; ')}`;
}

/** The seed's diagnosis and options 1-5 for one critical host; returns one line for the outcome. */
async function recoverHost(cluster: string, coordinator: string, h: SyncHostStatus): Promise<string> {
  const host = h.host;
  const { sshCheck, syncHostStorage, syncProcess, syncLogTail, syncHosts, syncForce, syncAgentRestart, syncRecoverData, syncImport, syncUnretire, syncRetireHost } = activities();

  // Diagnosis 2-4 on the host.
  const ssh = await step(`${host}: check connectivity (ssh ... "echo OK")`, () => sshCheck({ cluster, node: host }), {
    describe: ((r: SshCheckResult) => (r.reachable ? `OK (${r.latencyMs ?? '?'} ms)` : `unreachable: ${r.error ?? ''}`)) as never,
  });
  let games = h.pendingGames;
  let range = `since last sync ${h.lastSync ?? 'never'}${h.lastSeen ? `, agent last seen ${h.lastSeen}` : ''}`;
  if (ssh.reachable) {
    const storage = await step(`${host}: check local storage (ls -la /data/selfplay/, du -sh)`, () => syncHostStorage({ cluster, node: host }), {
      describe: ((s: { size?: string; files?: number; oldest?: string; newest?: string; error?: string }) => (s.error ? `unreadable: ${s.error}` : `${s.files ?? 0} file(s), ${s.size ?? '?'}, ${s.oldest ?? '-'} .. ${s.newest ?? '-'}`)) as never,
    });
    if (storage.newest) range = `${h.lastSync ?? 'never synced'} .. ${storage.newest} (files on the host: ${storage.files ?? 0}, ${storage.size ?? '?'})`;
    await step(`${host}: check the sync process (ps aux | grep sync)`, () => syncProcess({ cluster, node: host }), {
      describe: ((p: { running: boolean; lines: string[] }) => (p.running ? `running: ${p.lines.join(' | ')}` : 'no sync agent process')) as never,
    });
    await step(`${host}: check its sync log (tail -100 /var/log/ringrift/sync.log)`, () => syncLogTail({ cluster, node: host }), {
      describe: ((l: { errors: number; lastError?: string; error?: string }) => l.error ?? `${l.errors} error line(s)${l.lastError ? `; last: ${l.lastError}` : ''}`) as never,
    });
  } else {
    note(`${host} is unreachable over SSH: its storage, process and log cannot be read; check the provider (vast show instances)`);
  }
  await step(`${host}: the coordinator's sync log about it (grep ${host} sync.log | tail -50)`, () => syncLogTail({ cluster, node: coordinator, match: host }), {
    onFailure: 'continue',
    describe: ((l: { errors: number; lastError?: string; error?: string }) => l.error ?? `${l.errors} error line(s)${l.lastError ? `; last: ${l.lastError}` : ''}`) as never,
  });
  fact(`${host}: diagnosis`, `ssh ${ssh.reachable ? 'OK' : 'unreachable'}; last_sync ${h.lastSync ?? 'never'}; ${h.retired ? 'retired by the coordinator; ' : ''}~${games ?? '?'} games pending`);

  /** The coordinator no longer reports the host critical (bounded durable poll; in a dry run: not yet, so every option is planned). */
  const recovered = async (title: string, within: string): Promise<boolean> => {
    const r = await step(
      title,
      () =>
        waitFor(
          `${host} no longer critical`,
          async () => {
            const o = await syncHosts({ cluster, node: coordinator });
            const now = o.hosts.find((x) => x.host === host);
            if (now?.pendingGames !== undefined) games = now.pendingGames;
            return { done: !!now && !isCritical(now) && !now.retired, detail: now ? `${host}: ${now.state}, last_sync ${now.lastSync ?? 'never'}` : `${host} not listed` };
          },
          { every: '10s', within },
        ),
      { onFailure: 'continue', describe: ((r: { detail: string }) => r.detail) as never },
    );
    return r?.done === true;
  };

  // Option 4 first when it applies: a retired host is skipped by every sync.
  if (h.retired && ssh.reachable) {
    await step(`${host}: Option 4: unretire it (it is available again) and let auto-sync pick it up`, () => syncUnretire({ cluster, node: coordinator, host }), { onFailure: 'continue' });
    if (await recovered(`${host}: wait for the auto-sync after unretiring`, '3m')) return `${host}: unretired and re-synced`;
  }

  // Option 1: manual sync.
  const forced = await step(`${host}: Option 1: trigger a manual sync (force)`, () => syncForce({ cluster, node: coordinator, host }), {
    onFailure: 'continue',
    describe: ((r: { detail: string }) => r.detail) as never,
  });
  if (forced?.synced && (await recovered(`${host}: verify the forced sync`, '2m'))) return `${host}: manual sync forced`;

  // Option 2: restart the sync agent.
  if (ssh.reachable) {
    const restart = await step(`${host}: Option 2: restart the sync agent (systemctl restart ringrift-sync-agent)`, () => syncAgentRestart({ cluster, node: host }), {
      onFailure: 'continue',
      describe: ((r: { detail: string }) => r.detail) as never,
    });
    if (restart?.active && (await recovered(`${host}: wait for the restarted agent to sync`, '3m'))) return `${host}: sync agent restarted`;

    // Option 3: copy the data by hand and import it.
    const copy = await step(`${host}: Option 3: rsync its /data/selfplay/ to the coordinator's recovery directory`, () => syncRecoverData({ cluster, node: coordinator, host }), {
      onFailure: 'continue',
      describe: ((r: { recoveredDir: string; files: number }) => `${r.files} file(s) copied to ${r.recoveredDir}`) as never,
    });
    if (copy) {
      const imported = await step(`${host}: Option 3: import the recovered databases and trigger a sync`, () => syncImport({ cluster, node: coordinator, host, dataDir: copy.recoveredDir }), {
        onFailure: 'continue',
        describe: ((r: { imported: number }) => `${r.imported} database(s) imported`) as never,
      });
      if (imported && (await recovered(`${host}: verify the imported data is collected`, '2m'))) {
        if (!restart?.active) fact(`${host}: follow-up`, 'the sync agent is still failing: fix it on the host, or the host turns critical again');
        return `${host}: data recovered by rsync and imported (${imported.imported} database(s))`;
      }
    }
  } else {
    note(`${host}: options 2 and 3 need SSH to the host: skipped`);
  }

  // Option 5: the last resort.
  const lost = `${games ?? 'unknown number of'} game(s), ${range}`;
  note(`${host}: every recovery option failed; retiring it loses ${lost}`);
  const a = await approve('retire-host', {
    skippable: true, // a skip after a timeout leaves the gated action undone (checked below)
    title: `Retire ${host} permanently and acknowledge the loss of its unsynced data`,
    evidence: {
      host,
      'data lost (game count)': String(games ?? 'unknown'),
      'data lost (time range)': range,
      'reachable over SSH': ssh.reachable ? 'yes' : 'no',
      tried: `force sync${ssh.reachable ? ', agent restart, rsync + import' : ''}${h.retired ? ', unretire' : ''}`,
      checklist: 'host accessible? /data/selfplay checked? rsync attempted? loss documented (above)? update the training logs afterwards',
    },
  });
  if (!a.approved) {
    fact(`${host}: outcome`, `not retired (${a.reason}); still critical, ${lost} at risk`);
    return `${host}: still critical, NOT retired (${a.reason})`;
  }
  await step(`${host}: Option 5: retire the host, acknowledging data loss`, () => syncRetireHost({ cluster, node: coordinator, host, reason: 'data_loss' }), { onFailure: 'ask' });
  fact(`${host}: data loss`, `${lost}; retirement approved by ${a.by}: ${a.reason}`);
  fact('for humans: training logs', `record the data loss of ${host} (${lost}) in the training logs`);
  return `${host}: retired, data loss acknowledged by ${a.by} (${lost})`;
}
