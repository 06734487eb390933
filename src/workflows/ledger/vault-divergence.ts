/**
 * Seed 002, "Data Corruption Recovery — Vault State Divergence", on the real
 * inferadb ledger.
 *
 * 1. Identify the affected vault: `ledger_determinism_bug_total` on every
 *    node, and each vault's health on every node (HealthService with the
 *    vault: diverged, recovering or healthy; the server has no DIVERGED vault
 *    status at 21345c4);
 * 2. check the vault's status on each node;
 * 3. attempt automatic recovery: RecoverVault (the seed's call; at 21345c4
 *    it reads another state and answers "already healthy", see
 *    docs/ledger.md), then give the server's own auto-recovery, which
 *    replays the vault within a minute or two, the time to heal it;
 * 4. if it does not heal: restore from a healthy replica, behind a gate: the
 *    diverged node is removed and rejoins empty, so it copies the vault back
 *    from the healthy members (the seed's "remove corrupted node, let it
 *    resync"; no snapshot is taken: at 21345c4 CreateSnapshot compacts the
 *    log and a joining node then cannot catch up);
 * 5. the post-recovery checklist. RTO 30 min target, 60 min max.
 *
 * @module
 */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import type { LedgerVaultHealth, LedgerVaultRef } from '../../activities/types';
import type { LedgerVaultDivergenceParams } from '../../catalog';
import { activities, approve, errorMessage, fact, fanOut, note, recoveryInput, runRecovery, step, waitFor, type RecoveryInput, type RecoveryResult } from '../kit';
import { LEDGER_VAULT_DIVERGENCE } from '../scenarios';
import { assessStep, ledgerChecklist, memberIdOf, rejoinEmpty, vaultsOf, waitForLeader, wrongScenario } from './cluster';
import { legacyVaultDivergence } from './legacy/vault-divergence';
import { REAL_LEDGER_API } from './versions';

export type VaultDivergenceInput = RecoveryInput<Partial<LedgerVaultDivergenceParams>>;

export async function ledgerVaultDivergence(input: VaultDivergenceInput): Promise<RecoveryResult> {
  if (!patched(REAL_LEDGER_API)) return legacyVaultDivergence(input as never);
  return runRecovery(LEDGER_VAULT_DIVERGENCE, input, vaultDivergence);
}

const key = (v: LedgerVaultRef): string => `${v.organization}/${v.vault}`;

async function vaultDivergence(): Promise<string> {
  const input = recoveryInput<Partial<LedgerVaultDivergenceParams>>();
  const cluster = input.cluster.name;
  const nodes = input.cluster.nodes.map((n) => n.name);
  const { ledgerMetrics, ledgerVaults, ledgerVaultHealth, ledgerVaultRecover } = activities();

  let a = await assessStep('Assess membership: the cluster must hold quorum to heal a vault', cluster, nodes);
  if (a.quorum === 'none' || a.quorum === 'lost') throw wrongScenario(`quorum is lost (${a.reachable.length} of ${nodes.length} answer)`, 'recover quorum first (ledger.quorum-loss, or ledger.full-restore)');
  if (a.quorum === 'electing') a = await waitForLeader(cluster, nodes);
  const leader = a.leader ?? a.reachable[0]!;

  // 1. Identify the affected vault.
  const metrics = await step('Identify the affected vault: ledger_determinism_bug_total on every node', () => Promise.all(a.reachable.map((node) => ledgerMetrics({ cluster, node }))), {
    describe: ((m: Array<{ node: string; determinismBugs: number; divergedVaults: number }>) => m.map((x) => `${x.node}: ${x.determinismBugs} determinism bug(s), ${x.divergedVaults} diverged`).join(', ')) as never,
  });
  const held = await step(`List the vaults (on ${leader})`, () => ledgerVaults({ cluster, node: leader }), {
    describe: ((v: { vaults: LedgerVaultRef[] }) => `${v.vaults.length} vault(s)`) as never,
  });
  const candidates = vaultsOf(held.vaults, input.params.organization).filter((v) => !input.params.vault || v.vault === input.params.vault);
  if (input.params.vault && candidates.length === 0) throw wrongScenario(`vault ${input.params.vault} is not on ${leader}`, 'check the slug (lifeboat inventory / VaultService.ListVaults)');
  const healths = await fanOut(
    'Check vault status: HealthService on every node, every vault',
    candidates.flatMap((v) => a.reachable.map((node) => `${node}|${key(v)}`)),
    async (target) => {
      const [node, ref] = target.split('|') as [string, string];
      const [organization, vault] = ref.split('/') as [string, string];
      return ledgerVaultHealth({ cluster, node, organization, vault });
    },
    { concurrency: 4, onFailure: 'ask' },
  );
  const all = Object.values(healths.succeeded);
  const affected = candidates.filter((v) => all.some((h) => key(h) === key(v) && (h.status === 'diverged' || h.status === 'recovering')));
  const bugs = metrics.reduce((n, m) => n + m.determinismBugs, 0);
  if (affected.length === 0) {
    fact('root cause', bugs > 0 ? `no vault is diverged now; ${bugs} determinism bug(s) counted earlier (the server's auto-recovery healed them)` : 'no vault is diverged and no determinism bug is counted');
    return bugs > 0
      ? `No diverged vault: the ${bugs} determinism bug(s) counted were already healed by the server; vaults checked: ${candidates.length}.`
      : `Nothing to recover: no vault is diverged on any node (${candidates.length} vault(s) checked).`;
  }
  for (const v of affected) {
    const on = all.filter((h) => key(h) === key(v) && h.status !== 'healthy' && h.status !== 'unknown');
    fact(`vault ${key(v)}`, on.map((h) => `${h.node}: ${h.status}${h.divergedAtHeight !== undefined ? ` at height ${h.divergedAtHeight}` : ''}`).join(', '));
  }
  fact('root cause', `vault state divergence in ${affected.map(key).join(', ')} (${bugs} determinism bug(s) counted)`);
  fact('impact', `reads of ${affected.map(key).join(', ')} fail on the diverged replicas while they diverge`);

  for (const v of affected) {
    // 3. Attempt automatic recovery.
    await step(`Attempt automatic recovery of ${key(v)}: RecoverVault on ${leader}`, () => ledgerVaultRecover({ cluster, node: leader, organization: v.organization, vault: v.vault }), {
      onFailure: 'continue',
      describe: ((r: { output?: string; plan: string }) => r.output ?? r.plan) as never,
    });
    let healed = false;
    try {
      await step(
        `Wait for ${key(v)} to heal on every node (the server replays a diverged vault on its own)`,
        () =>
          waitFor(
            `${key(v)} healthy on every node`,
            async () => {
              const hs = await Promise.all(a.reachable.map((node) => ledgerVaultHealth({ cluster, node, organization: v.organization, vault: v.vault })));
              const bad = hs.filter((h) => h.status === 'diverged' || h.status === 'recovering');
              return { done: bad.length === 0, detail: hs.map((h) => `${h.node}: ${h.status}${h.recoveryAttempt ? ` (attempt ${h.recoveryAttempt})` : ''}`).join(', ') };
            },
            { every: '10s', within: '5m', maxProbes: 40 },
          ),
        { describe: ((r: { detail: string }) => r.detail) as never },
      );
      healed = true;
    } catch (err) {
      note(`${key(v)} did not heal by itself: ${errorMessage(err)}`);
    }
    if (healed) {
      fact(`vault ${key(v)} recovery`, 'healed by the server\'s automatic recovery');
      continue;
    }

    // 4. Restore from a healthy replica: the diverged node rejoins empty.
    const now = await Promise.all(a.reachable.map((node) => ledgerVaultHealth({ cluster, node, organization: v.organization, vault: v.vault })));
    const bad = now.filter((h) => h.status === 'diverged' || h.status === 'recovering').map((h) => h.node);
    const good = now.filter((h) => h.status === 'healthy').map((h) => h.node);
    if (good.length === 0 || bad.length >= a.majority) {
      throw ApplicationFailure.nonRetryable(
        `${key(v)} is diverged on ${bad.join(', ')} and healthy on ${good.join(', ') || 'no node'}: no healthy majority to copy it back from; restore it from the archived export (ledger.full-restore) or escalate`,
        'NoHealthyReplica',
      );
    }
    for (const node of bad) {
      await approve('resync-corrupted-node', {
        title: `Remove ${node} (diverged ${key(v)}) from the cluster and let it rejoin empty, copying the vault back from ${good.join(', ')}`,
        evidence: {
          vault: key(v),
          'diverged on': bad.join(', '),
          'healthy on': good.join(', '),
          health: now.map((h: LedgerVaultHealth) => `${h.node}: ${h.status}`).join(', '),
          'what happens': `${node} leaves the cluster, its data is set aside (kept), it starts empty and joins again`,
          risk: `the cluster runs on ${nodes.length - 1} nodes while ${node} catches up`,
        },
      });
      await rejoinEmpty(cluster, nodes, node, memberIdOf(a, node), `${key(v)} diverged on it`);
      a = await assessStep('Re-read membership', cluster, nodes);
    }
    fact(`vault ${key(v)} recovery`, `resynced from ${good.join(', ')}: ${bad.join(', ')} rejoined empty`);
  }

  await ledgerChecklist(cluster, nodes, input.params);
  fact('resolution', `vault(s) ${affected.map(key).join(', ')} healthy on every node`);
  return `Vault divergence recovered: ${affected.map(key).join(', ')} healthy on all ${nodes.length} nodes`;
}
