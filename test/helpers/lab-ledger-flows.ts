/**
 * Lifeboat's ledger procedures, step by step as the v2 scenarios run them
 * (src/workflows/ledger/cluster.ts), but calling the activities directly:
 * so the lab's tests can drive each fault's recovery on either backend and
 * check that the activities and the target agree, without a Temporal server.
 */
import assert from 'node:assert/strict';
import type { LedgerNodeState } from '../../src/activities/ledger/types';
import { retry, SEED, VAULT, type LedgerLab } from './lab-ledger';

/** Every node's state, as the scenarios read it. */
export function readStates(l: LedgerLab, cluster: string, nodes: string[]): Promise<LedgerNodeState[]> {
  return Promise.all(nodes.map((node) => l.run(l.a.ledgerNodeState, { cluster, node })));
}

/** The node that answers and names itself the GLOBAL leader. */
export function leaderOf(states: LedgerNodeState[]): LedgerNodeState | undefined {
  return states.find((s) => s.reachable && s.nodeId && s.leaderId === s.nodeId);
}

const within = (l: LedgerLab, simMs: number, realMs: number): number => (l.backend === 'real' ? realMs : simMs);

/** Waits until `node`'s current id is a voter in the leader's view (the scenarios' "Verify: ... is a voter"). */
export async function untilVoter(l: LedgerLab, cluster: string, nodes: string[], node: string, clusterId?: string): Promise<string> {
  return retry(
    `${cluster}/${node} to be a voter`,
    async () => {
      const states = await readStates(l, cluster, nodes);
      const me = states.find((s) => s.node === node);
      const leader = leaderOf(states);
      const m = leader?.members?.find((x) => x.nodeId === me?.nodeId);
      return m?.role === 'voter' && me?.clusterId && (!clusterId || me.clusterId === clusterId) ? me.nodeId : undefined;
    },
    within(l, 20_000, 180_000),
    within(l, 200, 2000),
  );
}

/** rejoinEmpty: LeaveCluster of the old id, stop, set the data aside, start empty, verify it is a voter again. */
export async function rejoinEmpty(l: LedgerLab, cluster: string, nodes: string[], node: string, oldId: string | undefined): Promise<string> {
  if (oldId) {
    const removed = await l.run(l.a.ledgerRemoveMember, { cluster, nodeId: oldId });
    assert.match(removed.output ?? '', /removed through/);
    console.log(`# ${l.backend}: ledgerRemoveMember: ${removed.output ?? ''}`);
  }
  await l.run(l.a.ledgerServiceStop, { cluster, node });
  const aside = await l.run(l.a.ledgerSetAside, { cluster, node, reason: 'test' });
  assert.ok(aside.movedTo || aside.alreadyDone, JSON.stringify(aside));
  const started = await l.run(l.a.ledgerServiceStart, { cluster, node });
  assert.ok(started.nodeId && started.nodeId !== oldId, `${node} starts with a new id (was ${oldId}, now ${started.nodeId})`);
  return untilVoter(l, cluster, nodes, node);
}

/** formFromExport: start `seed` empty, init, import the export, then the others join one at a time. */
export async function formFromExport(l: LedgerLab, cluster: string, seed: string, others: string[], file: { node: string; path: string }): Promise<string> {
  await l.run(l.a.ledgerServiceStart, { cluster, node: seed });
  const init = await l.run(l.a.ledgerInit, { cluster, node: seed });
  assert.ok(init.clusterId, JSON.stringify(init));
  const imported = await l.run(l.a.ledgerImport, { cluster, node: seed, from: file });
  assert.ok(imported.vaults >= 1 && imported.entities >= SEED.entities, JSON.stringify(imported));
  const joined = [seed];
  for (const node of others) {
    await l.run(l.a.ledgerServiceStart, { cluster, node });
    await untilVoter(l, cluster, [...joined, node], node, init.clusterId);
    joined.push(node);
  }
  return init.clusterId!;
}

/** The post-recovery checklist: nodes healthy in one cluster with a leader, vault everywhere, integrity, a write read back everywhere, metrics. */
export async function checklist(l: LedgerLab, cluster: string, nodes: string[]): Promise<void> {
  const states = await retry(
    `${cluster}: every node healthy with a leader`,
    async () => {
      const s = await readStates(l, cluster, nodes);
      const ok = s.every((x) => x.reachable && x.health === 'healthy' && x.peersOk !== false) && new Set(s.map((x) => x.clusterId)).size === 1 && leaderOf(s);
      return ok ? s : undefined;
    },
    within(l, 20_000, 180_000),
    within(l, 200, 2000),
  );
  const leader = leaderOf(states)!.node;
  for (const node of nodes) {
    // A node that just joined lists the vault a moment after it is a voter.
    const v = await retry(
      `${cluster}/${node} to list the seeded vault`,
      async () => {
        const held = await l.run(l.a.ledgerVaults, { cluster, node });
        return held.vaults.some((x) => x.organization === VAULT.organization && x.vault === VAULT.vault) ? held : undefined;
      },
      within(l, 10_000, 60_000),
      within(l, 200, 1000),
    );
    assert.ok(v.vaults.some((x) => x.organization === VAULT.organization && x.vault === VAULT.vault), `${cluster}/${node} lists the seeded vault: ${JSON.stringify(v.vaults)}`);
  }
  const integrity = await l.run(l.a.ledgerIntegrity, { cluster, node: leader, ...VAULT, fullCheck: true });
  assert.equal(integrity.healthy, true);
  const w = await retry(
    `${cluster}: the write check reads back everywhere`,
    async () => {
      const r = await l.run(l.a.ledgerWriteCheck, { cluster, ...VAULT });
      return r.missing.length === 0 ? r : undefined;
    },
    within(l, 20_000, 120_000),
    within(l, 200, 3000),
  );
  assert.deepEqual([...w.readBack].sort(), [...nodes].sort());
  for (const node of nodes) assert.equal((await l.run(l.a.ledgerMetrics, { cluster, node })).flowing, true, `${node} metrics`);
}
