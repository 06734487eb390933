/**
 * Seed 002's post-recovery checklist, run at the end of every ledger
 * scenario: all nodes healthy and reporting, a leader elected, every vault
 * accessible, integrity checks pass, a write and a read succeed, metrics
 * flowing. ("Alerts resolved" and "incident documented" are the humans' part:
 * the report lists them.)
 *
 * @module
 */
import { activities, fact, fanOut, step, waitFor } from '../../kit';

/**
 * Verifies a rebuilt or repaired ledger cluster.
 *
 * @param cluster inventory cluster name
 * @param nodes every node expected to be a healthy member
 * @param organization organization whose vaults are checked
 */
export async function ledgerPostRecoveryChecklist(cluster: string, nodes: string[], organization: string): Promise<void> {
  const { ledgerNodeInfo, ledgerListVaults, ledgerCheckIntegrity, ledgerWriteRead, ledgerMetricsFlowing } = activities();
  const first = nodes[0]!;

  await step(
    'Checklist: all nodes healthy and reporting, leader elected',
    () =>
      waitFor(
        'every node serves in one cluster with a leader',
        async () => {
          const infos = await Promise.all(nodes.map((node) => ledgerNodeInfo({ cluster, node })));
          const ids = new Set(infos.map((i) => i.clusterId));
          const leaders = new Set(infos.map((i) => i.leader).filter(Boolean));
          const bad = infos.filter((i) => !i.reachable || !i.serving).map((i) => i.node);
          return {
            done: bad.length === 0 && ids.size === 1 && leaders.size === 1,
            detail: `${nodes.length - bad.length}/${nodes.length} serving, leader ${[...leaders].join('/') || 'none'}, ${ids.size} cluster id(s)${bad.length ? `, not serving: ${bad.join(', ')}` : ''}`,
          };
        },
        { every: '5s', within: '2m' },
      ),
    { onFailure: 'ask', describe: ((r: { detail: string }) => r.detail) as never },
  );

  const vaults = await step(
    'Checklist: all vaults accessible',
    async () => {
      const perNode = await Promise.all(nodes.map((node) => ledgerListVaults({ cluster, node })));
      const expected = perNode[0]!.filter((v) => v.organization === organization);
      perNode.forEach((list, i) => {
        const missing = expected.filter((v) => !list.some((w) => w.vault === v.vault));
        if (missing.length) throw new Error(`${nodes[i]} lacks vault(s) ${missing.map((v) => v.vault).join(', ')}`);
      });
      return expected;
    },
    { onFailure: 'ask', describe: ((v: unknown[]) => `${v.length} vault(s) on every node`) as never },
  );

  await fanOut(
    'Checklist: integrity checks pass',
    (vaults ?? []).map((v) => v.vault),
    async (vault) => {
      const r = await ledgerCheckIntegrity({ cluster, node: first, organization, vault, fullCheck: true });
      if (!r.ok) throw new Error(`vault ${vault}: ${r.problems.join('; ')}`);
      return r.blocksChecked;
    },
    { concurrency: 2, onFailure: 'ask' },
  );

  await step(
    'Checklist: a write and a read succeed',
    () => {
      const vault = vaults?.[0]?.vault;
      if (!vault) throw new Error(`organization ${organization} has no vault to write to`);
      return ledgerWriteRead({ cluster, node: first, organization, vault });
    },
    { onFailure: 'ask', describe: ((r: { plan: string }) => r.plan) as never },
  );

  await step(
    'Checklist: metrics flowing',
    async () => {
      const flowing = await Promise.all(nodes.map((node) => ledgerMetricsFlowing({ cluster, node })));
      const silent = nodes.filter((_, i) => !flowing[i]);
      if (silent.length) throw new Error(`no ledger metrics from ${silent.join(', ')}`);
    },
    { onFailure: 'continue' },
  );
  fact('checklist', 'nodes healthy, leader elected, vaults accessible, integrity ok, write+read ok, metrics checked');
}
