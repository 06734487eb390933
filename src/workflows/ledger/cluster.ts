/**
 * What the ledger scenarios share, in the kit's verbs: reading the cluster's
 * state and judging its quorum, replacing a member, forming a new cluster
 * from an export, and the post-recovery checklist of seed 002.
 *
 * The real server (inferadb-ledger 0.1.0, 21345c4) shapes these, see
 * docs/ledger.md: a node that restarts on its old data does not catch up
 * and a cluster whose processes all restarted takes no more writes, so a
 * member comes back empty (its old data set aside) and rejoins; a cluster
 * that lost its quorum cannot be reset, so a new one is formed and the data
 * re-created in it from an export.
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { LedgerClusterMember, LedgerNodeState, LedgerVaultInfo } from '../../activities/types';
import { activities, fact, fanOut, step, waitFor } from '../kit';

/** The cluster as its nodes describe it. */
export interface Assessment {
  states: LedgerNodeState[];
  reachable: string[];
  down: string[];
  /** Votes needed: a majority of the members the reachable nodes list (or of the inventory). */
  majority: number;
  members: LedgerClusterMember[];
  /** An inventory node that answers and leads the GLOBAL group. */
  leader?: string;
  /**
   * holds: a live leader and a reachable majority; electing: a reachable
   * majority, no live leader yet; lost: some nodes answer, not a majority;
   * none: no node answers.
   */
  quorum: 'holds' | 'electing' | 'lost' | 'none';
}

/** Judges quorum from each node's own view (pure: the workflow's decision, in the history). */
export function assess(states: LedgerNodeState[]): Assessment {
  const reachable = states.filter((s) => s.reachable);
  // The broadest view of the membership among the nodes that answer.
  const members = reachable.map((s) => s.members ?? []).sort((a, b) => b.length - a.length)[0] ?? [];
  const voters = members.filter((m) => m.role !== 'learner').length || states.length;
  const majority = Math.floor(voters / 2) + 1;
  // A node keeps naming a dead leader for a while: the leader must answer and call itself leader.
  const leader = reachable.find((s) => s.nodeId && s.leaderId === s.nodeId)?.node;
  const quorum = reachable.length === 0 ? 'none' : reachable.length < majority ? 'lost' : leader ? 'holds' : 'electing';
  return { states, reachable: reachable.map((s) => s.node), down: states.filter((s) => !s.reachable).map((s) => s.node), majority, members, leader, quorum };
}

/** One line per node, for the report. */
export function describeStates(states: LedgerNodeState[]): string {
  return states
    .map((s) =>
      !s.reachable
        ? `${s.node}: down`
        : `${s.node}: ${s.health ?? '?'}${s.nodeId && s.leaderId === s.nodeId ? ' (leader)' : ''}${s.peersOk === false ? `, peers ${s.peers ?? 'unreachable'}` : ''}`,
    )
    .join(', ');
}

/** Reads every node's state. */
export async function readStates(cluster: string, nodes: string[]): Promise<LedgerNodeState[]> {
  return Promise.all(nodes.map((node) => activities().ledgerNodeState({ cluster, node })));
}

/** The assessment step every scenario opens with. */
export async function assessStep(title: string, cluster: string, nodes: string[]): Promise<Assessment> {
  const states = await step(title, () => readStates(cluster, nodes), { describe: describeStates as never });
  return assess(states);
}

/**
 * Waits for a live GLOBAL leader with a reachable majority: at 21345c4 a new
 * leader can take minutes to be elected after the old one failed.
 */
export async function waitForLeader(cluster: string, nodes: string[], within = '6m'): Promise<Assessment> {
  const r = await step(
    'Wait for a leader to be elected (inferadb-ledger 0.1.0 can take minutes after a leader fails)',
    () =>
      waitFor(
        'a live leader with a reachable majority',
        async () => {
          const a = assess(await readStates(cluster, nodes));
          return { done: a.quorum === 'holds', value: a, detail: `${a.quorum}: ${describeStates(a.states)}` };
        },
        { every: '10s', within, maxProbes: 60 },
      ),
    { onFailure: 'ask', describe: ((x: { detail: string }) => x.detail) as never, hint: 'if most nodes stay down, this is a quorum loss (ledger.quorum-loss)' },
  );
  return r?.value ?? assess([]);
}

/** The member id of an inventory node, from the cluster's own view (never guessed). */
export function memberIdOf(a: Assessment, node: string): string | undefined {
  return a.members.find((m) => m.node === node)?.nodeId;
}

/**
 * Brings a node back as a new, empty member: its old id removed through the
 * GLOBAL leader, its service stopped, its data set aside (kept), the service
 * started again (the unit's `--join` makes it join as a new voter), and its
 * new id confirmed as a voter.
 */
export async function rejoinEmpty(cluster: string, nodes: string[], node: string, oldId: string | undefined, why: string): Promise<string | undefined> {
  const { ledgerRemoveMember, ledgerServiceStop, ledgerSetAside, ledgerServiceStart } = activities();
  if (oldId) {
    await step(`Remove ${node} (member ${oldId}) from the cluster: LeaveCluster on the GLOBAL leader`, () => ledgerRemoveMember({ cluster, nodeId: oldId }), { onFailure: 'ask' });
  }
  await step(`Stop the ledger on ${node} (systemctl stop)`, () => ledgerServiceStop({ cluster, node }), { onFailure: 'ask' });
  await step(`Set ${node}'s data aside (kept for forensics): ${why}`, () => ledgerSetAside({ cluster, node, reason: why }), { onFailure: 'ask' });
  const started = await step(`Start ${node} empty: it joins through the seeds of its unit (systemctl start)`, () => ledgerServiceStart({ cluster, node }), { onFailure: 'ask' });
  const newId = started?.nodeId;
  await step(
    `Verify: ${node} is a voting member again`,
    () =>
      waitFor(
        `${node} listed as a voter by the leader`,
        async () => {
          const a = assess(await readStates(cluster, nodes));
          const me = a.states.find((s) => s.node === node);
          const leaderView = a.states.find((s) => s.node === a.leader);
          const m = leaderView?.members?.find((x) => x.nodeId === me?.nodeId);
          return { done: !!m && m.role === 'voter' && !!me?.clusterId, detail: m ? `${node}: member ${m.nodeId}, ${m.role}` : `${node} (${me?.nodeId ?? 'not answering'}) not a member yet` };
        },
        { every: '3s', within: '3m' },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );
  fact(`${node}`, `rejoined empty${newId ? ` as member ${newId}` : ''}${oldId ? ` (was ${oldId})` : ''}; its old data was set aside`);
  return newId;
}

/**
 * Forms a new cluster on `seed` (empty, started, initialized), re-creates the
 * export in it, then has the other nodes join one at a time (each started
 * empty; its unit's seeds lead it to the new cluster).
 */
export async function formFromExport(cluster: string, seed: string, others: string[], file: { node: string; path: string }): Promise<{ clusterId?: string; joined: string[] }> {
  const { ledgerServiceStart, ledgerInit, ledgerImport } = activities();
  await step(`Start ${seed} empty (systemctl start)`, () => ledgerServiceStart({ cluster, node: seed }), { onFailure: 'ask' });
  const init = await step(`Form the new cluster on ${seed} (inferadb-ledger init --host ${seed})`, () => ledgerInit({ cluster, node: seed }), { onFailure: 'ask' });
  fact('new cluster id', init?.clusterId ?? 'unknown (dry run)');
  await step(
    `Re-create the data in it from ${file.node}:${file.path} (regions, recovery admin, organizations and vaults by slug, entities, relationships)`,
    () => ledgerImport({ cluster, node: seed, from: file }),
    { onFailure: 'ask', describe: ((r: { output?: string; plan: string }) => r.output ?? r.plan) as never },
  );
  const joined: string[] = [seed];
  // One membership change at a time, as Raft wants it.
  for (const node of others) {
    await step(`Start ${node} empty: it joins the new cluster (systemctl start)`, () => ledgerServiceStart({ cluster, node }), { onFailure: 'ask' });
    await step(
      `Verify: ${node} is a voter of the new cluster`,
      () =>
        waitFor(
          `${node} joined`,
          async () => {
            const states = await readStates(cluster, [...joined, node]);
            const me = states.find((s) => s.node === node);
            const leader = states.find((s) => s.nodeId && s.leaderId === s.nodeId);
            const m = leader?.members?.find((x) => x.nodeId === me?.nodeId);
            return { done: !!me?.clusterId && me.clusterId === init?.clusterId && m?.role === 'voter', detail: `${node}: ${me?.reachable ? `member ${me.nodeId ?? '?'} of cluster ${me.clusterId ?? 'none yet'}` : 'not answering'}` };
          },
          { every: '3s', within: '3m' },
        ),
      { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
    );
    joined.push(node);
  }
  return { clusterId: init?.clusterId, joined };
}

/** The vaults a checklist or a write check looks at: one organization's, or all. */
export function vaultsOf(vaults: LedgerVaultInfo[], organization?: string): LedgerVaultInfo[] {
  return vaults.filter((v) => !organization || v.organization === organization);
}

/**
 * Seed 002's post-recovery checklist: all nodes healthy and reporting, a
 * leader elected, every vault accessible on every node, integrity checks
 * pass, a write and a read succeed, metrics flowing. ("Alerts resolved" and
 * "incident documented" are the humans' part: the report lists them.)
 */
export async function ledgerChecklist(cluster: string, nodes: string[], params: { organization?: string; vault?: string }): Promise<void> {
  const { ledgerVaults, ledgerIntegrity, ledgerWriteCheck, ledgerMetrics } = activities();

  const health = await step(
    'Checklist: all nodes healthy and reporting, leader elected',
    () =>
      waitFor(
        'every node answers in one cluster, with a live leader and all peers reachable',
        async () => {
          const a = assess(await readStates(cluster, nodes));
          const ids = new Set(a.states.map((s) => s.clusterId ?? 'none'));
          const bad = a.states.filter((s) => !s.reachable || s.health !== 'healthy' || s.peersOk === false).map((s) => s.node);
          return {
            done: bad.length === 0 && ids.size === 1 && a.quorum === 'holds',
            value: a,
            detail: `${nodes.length - bad.length}/${nodes.length} healthy, leader ${a.leader ?? 'none'}, ${ids.size} cluster id(s)${bad.length ? `; not healthy: ${bad.join(', ')}` : ''}`,
          };
        },
        { every: '5s', within: '3m' },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );
  const leader = health?.value?.leader ?? nodes[0]!;

  const vaults = await step(
    'Checklist: all vaults accessible on every node',
    async () => {
      const perNode = await Promise.all(nodes.map((node) => ledgerVaults({ cluster, node })));
      const expected = vaultsOf(perNode.find((p) => p.node === leader)?.vaults ?? perNode[0]?.vaults ?? [], params.organization);
      perNode.forEach((p) => {
        const missing = expected.filter((v) => !p.vaults.some((w) => w.organization === v.organization && w.vault === v.vault));
        if (!p.reachable || missing.length) throw ApplicationFailure.retryable(`${p.node} ${p.reachable ? `lacks vault(s) ${missing.map((v) => `${v.organization}/${v.vault}`).join(', ')}` : 'does not answer'}`, 'VaultMissing');
      });
      return expected;
    },
    { onFailure: 'ask', describe: ((v: unknown[]) => `${v.length} vault(s) on every node`) as never },
  );

  await fanOut(
    'Checklist: integrity checks pass',
    (vaults ?? []).map((v) => `${v.organization}/${v.vault}`),
    async (target) => {
      const [organization, vault] = target.split('/') as [string, string];
      const r = await ledgerIntegrity({ cluster, node: leader, organization, vault, fullCheck: true });
      if (!r.healthy) throw ApplicationFailure.nonRetryable(`vault ${target}: ${r.issues.join('; ')}`, 'IntegrityFailed');
      return r.issues.length;
    },
    { concurrency: 2, onFailure: 'ask' },
  );

  const target = params.vault ? (vaults ?? []).find((v) => v.vault === params.vault) : vaults?.[0];
  if (target) {
    await step(
      `Checklist: a write and a read succeed (vault ${target.organization}/${target.vault})`,
      async () => {
        const r = await ledgerWriteCheck({ cluster, organization: target.organization, vault: target.vault, nodes });
        if (r.missing.length && !r.dryRun) throw ApplicationFailure.retryable(`the write at height ${r.height} did not read back on ${r.missing.join(', ')}`, 'ReadBackMissing');
        return r;
      },
      { onFailure: 'ask', describe: ((r: { output?: string; plan: string }) => r.output ?? r.plan) as never },
    );
  } else {
    fact('write check', params.vault ? `vault ${params.vault} not found: no write was made` : 'the cluster holds no vault: no write was made');
  }

  await step(
    'Checklist: metrics flowing',
    async () => {
      const m = await Promise.all(nodes.map((node) => ledgerMetrics({ cluster, node })));
      const silent = m.filter((x) => !x.flowing).map((x) => x.node);
      if (silent.length) throw ApplicationFailure.retryable(`no ledger metrics from ${silent.join(', ')}`, 'MetricsSilent');
    },
    { onFailure: 'continue' },
  );
  fact('checklist', 'nodes healthy, leader elected, vaults accessible, integrity checked, write+read ok, metrics checked');
}

/** A workflow fails with an ApplicationFailure (a plain Error would only fail the task and retry forever). */
export function wrongScenario(what: string, next: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`${what}: ${next}`, 'ScenarioMismatch');
}

/** How old a backup is, in words: the data written since is lost. */
export function rpoText(takenAt: string | undefined, now: number): string {
  if (!takenAt) return 'unknown (the archive has no timestamp)';
  const ms = now - Date.parse(takenAt);
  if (!Number.isFinite(ms) || ms < 0) return 'unknown (the archive is newer than this clock)';
  const min = Math.round(ms / 60_000);
  return min < 60 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`;
}
