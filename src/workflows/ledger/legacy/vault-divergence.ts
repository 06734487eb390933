/**
 * v1 (before Lifeboat spoke the real inferadb ledger; kept for the histories
 * that recorded it, see ../index.ts). Seed 002, "Data Corruption Recovery — Vault State Divergence", when
 * `ledger_determinism_bug_total > 0`:
 * 1. identify the affected vault(s) from every node's metrics;
 * 2. check the vault's status with GetVault (DIVERGED);
 * 3. attempt automatic recovery with RecoverVault;
 * 4. if that fails: CheckIntegrity on every node to find a healthy replica,
 *    CreateSnapshot there, then (gate `resync-corrupted-node`) remove the
 *    corrupted node and let it resync: LeaveCluster, stop, clear its data,
 *    rejoin through the healthy node;
 * then every node serves the vault ACTIVE with an intact chain, and seed
 * 002's post-recovery checklist. RTO 30 min target, 60 min max.
 *
 * The determinism counter is cumulative: a vault that is ACTIVE again on
 * every node is reported, not "recovered" twice.
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { LedgerVaultDivergenceParams } from './params';
import type { LedgerDeterminismBugs, LedgerVault } from '../../../activities/types';
import { activities, approve, fact, fanOut, note, recoveryInput, runRecovery, step, waitFor, type RecoveryInput, type RecoveryResult } from '../../kit';
import { LEDGER_VAULT_DIVERGENCE } from './meta';
import { ledgerPostRecoveryChecklist } from './checklist';

export type VaultDivergenceInput = RecoveryInput<Partial<LedgerVaultDivergenceParams>>;

/** The v1 scenario, replayed by histories recorded before Lifeboat spoke the real ledger. */
export async function legacyVaultDivergence(input: VaultDivergenceInput): Promise<RecoveryResult> {
  return runRecovery(LEDGER_VAULT_DIVERGENCE, input, vaultDivergence);
}

interface Affected {
  node: string;
  organization: string;
  vault: string;
}

async function vaultDivergence(): Promise<string> {
  const input = recoveryInput<Partial<LedgerVaultDivergenceParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const organization = input.params.organization ?? '1';
  const { ledgerDeterminismBugs, ledgerGetVault, ledgerRecoverVault } = activities();

  // 1. Identify affected vaults.
  const metrics = await step(
    'Identify affected vaults: ledger_determinism_bug_total on every node',
    () => Promise.all(nodes.map((node) => ledgerDeterminismBugs({ cluster, node }))),
    { describe: ((m: LedgerDeterminismBugs[]) => m.map((x) => `${x.node}: ${!x.reachable ? 'no metrics' : x.bugs.length ? x.bugs.map((b) => `${b.organization}/${b.vault}=${b.count}`).join(' ') : '0'}`).join(', ')) as never },
  );
  const suspects: Affected[] = metrics.flatMap((m) =>
    m.bugs.filter((b) => !input.params.vault || b.vault === input.params.vault).map((b) => ({ node: m.node, organization: b.organization, vault: b.vault })),
  );
  if (suspects.length === 0) {
    fact('root cause', 'no determinism bug reported by any node');
    return 'No vault divergence: ledger_determinism_bug_total is 0 on every node that answered.';
  }

  // 2. Check vault status: the counter is cumulative, DIVERGED is the current truth.
  const statuses = await step(
    'Check vault status (GetVault) where divergence was counted',
    () => Promise.all(suspects.map((a) => ledgerGetVault({ cluster, node: a.node, organization: a.organization, vault: a.vault }))),
    { describe: ((v: LedgerVault[]) => v.map((x, i) => `${suspects[i]!.node} ${x.organization}/${x.vault}: ${x.status}@${x.height}`).join(', ')) as never },
  );
  const affected = suspects.filter((_, i) => statuses[i]!.status === 'DIVERGED');
  for (const [i, a] of suspects.entries()) {
    if (statuses[i]!.status !== 'DIVERGED') note(`${a.node} ${a.organization}/${a.vault} counted a past divergence but is ${statuses[i]!.status} now`);
  }
  if (affected.length === 0) {
    fact('root cause', 'determinism bugs were counted, but no vault is DIVERGED now');
    return 'No vault is DIVERGED now: the counted divergences were already resolved.';
  }
  fact('nodes affected', affected.map((a) => `${a.node} (${a.organization}/${a.vault})`).join(', '));
  fact('root cause', 'vault state divergence: the state root differs from the leader (non-deterministic apply)');
  fact('impact', 'reads of the diverged vault on the affected node may be wrong until it is recovered');

  const resolved: string[] = [];
  for (const a of affected) {
    const label = `${a.organization}/${a.vault} on ${a.node}`;
    // 3. Automatic recovery.
    const r = await step(`Attempt automatic recovery: RecoverVault ${label}`, () => ledgerRecoverVault({ cluster, ...a }), { onFailure: 'continue' });
    const after = r ? await ledgerGetVault({ cluster, ...a }) : undefined;
    if (r?.recovered && (after?.status === 'ACTIVE' || r.dryRun)) {
      resolved.push(`${label}: RecoverVault`);
      continue;
    }
    note(`RecoverVault did not repair ${label}${after ? ` (status ${after.status})` : ''}: restoring from a healthy replica`);
    // 4. Restore from a healthy replica.
    await resyncFromReplica(cluster, nodes, a);
    resolved.push(`${label}: resynced from a healthy replica`);
  }

  await step(
    'Verify: the vault is ACTIVE on every node with an intact chain',
    () =>
      waitFor(
        'every affected vault ACTIVE everywhere',
        async () => {
          const views = await Promise.all(
            affected.flatMap((a) => nodes.map((node) => ledgerGetVault({ cluster, node, organization: a.organization, vault: a.vault }).then((v) => `${node} ${a.vault}:${v.status}`))),
          );
          const bad = views.filter((v) => !v.endsWith(':ACTIVE'));
          return { done: bad.length === 0, detail: bad.length ? `not active: ${bad.join(', ')}` : `${views.length} replica(s) ACTIVE` };
        },
        { every: '5s', within: '2m' },
      ),
    { onFailure: 'ask', describe: ((x: { detail: string }) => x.detail) as never },
  );
  await fanOut(
    'Verify: CheckIntegrity (full) of the recovered vaults on the affected nodes',
    affected.map((a) => `${a.node}:${a.vault}`),
    async (key) => {
      const a = affected.find((x) => `${x.node}:${x.vault}` === key)!;
      const res = await activities().ledgerCheckIntegrity({ cluster, node: a.node, organization: a.organization, vault: a.vault, fullCheck: true });
      if (!res.ok) throw ApplicationFailure.nonRetryable(`integrity of ${a.vault} on ${a.node} still fails: ${res.problems.join('; ')}`, 'IntegrityFailed');
      return res.blocksChecked;
    },
    { concurrency: 2, onFailure: 'ask' },
  );

  await ledgerPostRecoveryChecklist(cluster, nodes, organization);
  fact('resolution', resolved.join('; '));
  return `Vault divergence resolved: ${resolved.join('; ')}`;
}

/** Step 4 of the runbook: find a healthy replica, snapshot it, remove the corrupted node and let it resync. */
async function resyncFromReplica(cluster: string, nodes: string[], a: Affected): Promise<void> {
  const { ledgerCheckIntegrity, ledgerCreateSnapshot, ledgerNodeInfo, ledgerLeaveCluster, ledgerStop, ledgerClearData, ledgerStart } = activities();
  const others = nodes.filter((n) => n !== a.node);
  const checks = await step(`Find a healthy replica: CheckIntegrity of ${a.vault} on every other node`, () =>
    Promise.all(
      others.map((node) =>
        ledgerCheckIntegrity({ cluster, node, organization: a.organization, vault: a.vault, fullCheck: true }).then(
          (r) => ({ node, ok: r.ok, detail: r.ok ? `ok (${r.blocksChecked} blocks)` : r.problems.join('; ') }),
          (err: unknown) => ({ node, ok: false, detail: err instanceof Error ? err.message : String(err) }),
        ),
      ),
    ),
  );
  const healthy = checks.find((c) => c.ok)?.node;
  if (!healthy) {
    throw ApplicationFailure.nonRetryable(
      `no healthy replica of ${a.organization}/${a.vault}: ${checks.map((c) => `${c.node}: ${c.detail}`).join('; ')}. Restore from backup (ledger.full-restore)`,
      'NoHealthyReplica',
    );
  }
  fact('healthy replica', healthy);
  const snap = await step(`Snapshot ${a.vault} on the healthy node ${healthy} (CreateSnapshot)`, () => ledgerCreateSnapshot({ cluster, node: healthy, organization: a.organization, vault: a.vault }));
  const info = await ledgerNodeInfo({ cluster, node: healthy });

  await approve('resync-corrupted-node', {
    title: `Remove ${a.node} from the cluster, wipe its data and let it resync from ${healthy}`,
    evidence: {
      'corrupted node': a.node,
      vault: `${a.organization}/${a.vault}`,
      'healthy replica': healthy,
      snapshot: `${snap.snapshotId ?? '(dry run)'} at height ${snap.height ?? '?'}`,
      'cluster while it resyncs': `${(info.members ?? []).filter((m) => m.reachable && m.node !== a.node).length} of ${nodes.length} voters`,
      risk: `${a.node}'s data is deleted; the cluster must keep quorum without it`,
    },
  });
  await step(`Remove ${a.node} from the cluster (LeaveCluster via ${healthy})`, () => ledgerLeaveCluster({ cluster, node: healthy, leaving: a.node }), { onFailure: 'ask' });
  await step(`Stop the ledger on ${a.node}`, () => ledgerStop({ cluster, node: a.node }), { onFailure: 'ask' });
  await step(`Clear the corrupted data on ${a.node}`, () => ledgerClearData({ cluster, node: a.node }), { onFailure: 'ask' });
  await step(`Rejoin ${a.node} through ${healthy} (JOIN=true) to resync`, () => ledgerStart({ cluster, node: a.node, start: { mode: 'join', peers: [healthy] } }), {
    onFailure: 'ask',
  });
}
