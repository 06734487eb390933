/**
 * The ledger's scenario faults, made the same way on both backends: the
 * roles are read over gRPC (GLOBAL leader from GetClusterInfo, the seeded
 * vault's leader from AdminListVaults), processes are killed with SIGKILL
 * and data directories deleted for real. A fault's kills and wipes are
 * recorded as `fault.kill` / `fault.wipe`, apart from Lifeboat's effects.
 *
 * - `ledger.node-failure`: kill -9 one node that leads neither GLOBAL nor the
 *   seeded vault (its data stays);
 * - `ledger.quorum-loss`: kill -9 all but a minority (2 of 3), keeping the
 *   survivors whose vaults applied the most;
 * - `ledger.full-restore`: archive an export of the data to
 *   `s3://ledger-backups/latest/ledger-export.jsonl`, then kill -9 every node
 *   and delete every data directory;
 * - `ledger.vault-divergence`: SimulateDivergence of the seeded vault, after
 *   TransferLeadership so that the GLOBAL leader also leads the vault's
 *   region (the real server ignores it otherwise); it heals by itself;
 * - `ledger.vault-divergence-stuck` (simulation only): the same, never healing.
 *
 * @module
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LedgerBackend } from './backend';
import { readExport, writeExport } from './archive';
import { call, nodeView, retry } from './client';
import { ARCHIVE_KEY, BACKUP_BUCKET } from './s3';
import { globalLeaderAddress, LAB_LEDGER_SEED } from './seed';
import type { LedgerUnit } from './units';

export const LEDGER_FAULTS = ['ledger.quorum-loss', 'ledger.node-failure', 'ledger.vault-divergence', 'ledger.vault-divergence-stuck', 'ledger.full-restore'] as const;

const ACTOR = 'fault';
const seedVault = { organization: { slug: LAB_LEDGER_SEED.organization }, vault: { slug: LAB_LEDGER_SEED.vault } };

/** What a fault acts on. */
export interface FaultCtx {
  backend: LedgerBackend;
  units: LedgerUnit[];
  /** `<lab>/s3`. */
  s3Root: string;
  record(node: string, effect: string, detail: Record<string, unknown>): void;
  /** Runs a node's lifecycle change after the ones under way (shared with the shims' starts and stops). */
  serial<T>(node: string, fn: () => Promise<T>): Promise<T>;
  /** Simulation only: keeps the seeded vault diverged. */
  pinDivergence?(organization: string, vault: string): boolean;
}

const running = (c: FaultCtx): LedgerUnit[] => c.units.filter((u) => c.backend.running(u.node));
const byAddress = (c: FaultCtx, address: string): LedgerUnit | undefined => c.units.find((u) => u.listen === address);

/** The seeded vault's leader (AdminListVaults' leader_node_id, as a running node reports it) and its address. */
async function vaultLeader(c: FaultCtx): Promise<{ id: string; unit?: LedgerUnit }> {
  for (const u of running(c)) {
    const v = await nodeView(u.listen, ACTOR);
    if (!v) continue;
    const list = await call(u.listen, 'AdminService', 'AdminListVaults', { organization: seedVault.organization }, 5000, ACTOR).catch(() => undefined);
    const id = String(list?.vaults?.find((x: { slug?: { slug?: string } }) => String(x.slug?.slug) === LAB_LEDGER_SEED.vault)?.leader_node_id ?? '0');
    const m = v.members.find((x) => x.id === id);
    if (id !== '0') return { id, unit: m ? byAddress(c, m.address) : undefined };
  }
  return { id: '0' };
}

/** kill -9 of a node's process, recorded as the fault's. */
export async function kill(c: FaultCtx, node: string, fault: string): Promise<void> {
  await c.serial(node, async () => {
    if (!c.backend.running(node)) return;
    await c.backend.stop(node, 'SIGKILL');
    c.record(node, 'fault.kill', { fault, signal: 'SIGKILL' });
  });
}

/** Writes an export of a running node's data (the vault leader's if it runs) to `path`. */
export async function archive(c: FaultCtx, path: string, cluster: string): Promise<number> {
  const up = running(c);
  if (up.length === 0) throw new Error('lab ledger: no node runs; nothing to archive');
  const leader = (await vaultLeader(c)).unit;
  const from = leader && c.backend.running(leader.node) ? leader : up[0]!;
  const lines = await readExport(from.listen, { cluster, node: from.node });
  writeExport(path, lines);
  return lines.length;
}

export async function breakFault(c: FaultCtx, fault: string, cluster: string): Promise<void> {
  switch (fault) {
    case 'ledger.node-failure': {
      const gl = await globalLeaderAddress(c.units, ACTOR);
      const vl = (await vaultLeader(c)).unit?.listen;
      const victim = running(c)
        .filter((u) => u.listen !== gl && u.listen !== vl)
        .pop();
      if (!victim) throw new Error(`lab ledger: no running node that is neither the GLOBAL leader (${gl ?? 'none'}) nor the vault leader (${vl ?? 'none'})`);
      return kill(c, victim.node, fault);
    }
    case 'ledger.quorum-loss': {
      const up = running(c);
      const keep = Math.floor(c.units.length / 2); // a majority minus one
      if (up.length <= keep) throw new Error(`lab ledger: only ${up.length} node(s) run; quorum is already lost`);
      // The survivors are those whose replicas applied the most (ties: node order).
      const applied = await Promise.all(
        up.map(async (u) => {
          const list = await call(u.listen, 'AdminService', 'AdminListVaults', { organization: seedVault.organization }, 5000, ACTOR).catch(() => ({ vaults: [] }));
          return (list.vaults as Array<{ last_applied_index?: string }>).reduce((n, v) => n + Number(v.last_applied_index ?? 0), 0);
        }),
      );
      const order = up.map((u, i) => ({ u, a: applied[i]!, i })).sort((x, y) => y.a - x.a || x.i - y.i);
      for (const { u } of order.slice(keep)) await kill(c, u.node, fault);
      return;
    }
    case 'ledger.full-restore': {
      const lines = await archive(c, join(c.s3Root, BACKUP_BUCKET, ARCHIVE_KEY), cluster);
      for (const u of c.units) await kill(c, u.node, fault);
      for (const u of c.units) {
        rmSync(u.data, { recursive: true, force: true });
        mkdirSync(u.data, { recursive: true });
        c.record(u.node, 'fault.wipe', { fault, data: u.data, archivedLines: lines });
      }
      return;
    }
    case 'ledger.vault-divergence':
    case 'ledger.vault-divergence-stuck':
      return divergence(c, fault);
    default:
      throw new Error(`lab ledger: unknown fault "${fault}"; known: ${LEDGER_FAULTS.join(', ')}`);
  }
}

async function divergence(c: FaultCtx, fault: string): Promise<void> {
  const stuck = fault === 'ledger.vault-divergence-stuck';
  if (stuck && !c.pinDivergence) throw new Error('lab ledger: ledger.vault-divergence-stuck exists in the simulation only (the real server always heals a simulated divergence)');
  const vl = await vaultLeader(c);
  if (!vl.unit || !c.backend.running(vl.unit.node)) throw new Error(`lab ledger: the leader of vault ${LAB_LEDGER_SEED.vault} (${vl.id}) does not run`);
  const target = vl.unit;
  const gl = await retry('a GLOBAL leader', () => globalLeaderAddress(c.units, ACTOR), 30_000);
  if (gl !== target.listen) {
    // SimulateDivergence only takes effect on a node that leads both GLOBAL and the vault's region.
    await call(gl, 'AdminService', 'TransferLeadership', { target_node_id: vl.id, timeout_ms: 10_000 }, 15_000, ACTOR);
    await retry(`${target.node} to lead GLOBAL`, async () => ((await nodeView(target.listen, ACTOR))?.leaderId === vl.id ? true : undefined), 60_000, 250);
  }
  await call(target.listen, 'AdminService', 'SimulateDivergence', { ...seedVault }, 10_000, ACTOR);
  await retry(
    `vault ${LAB_LEDGER_SEED.vault} to be diverged on ${target.node}`,
    async () => ((await call(target.listen, 'HealthService', 'Check', seedVault, 3000, ACTOR)).details?.health_status === 'diverged' ? true : undefined),
    15_000,
    200,
  );
  if (stuck && !c.pinDivergence!(LAB_LEDGER_SEED.organization, LAB_LEDGER_SEED.vault)) throw new Error('lab ledger: the divergence healed before it could be pinned');
}
