/**
 * Organizations and vaults: what a node holds (discovery, ListVaults,
 * AdminListVaults), a vault's health and integrity, the height its replica
 * answers at, RecoverVault, and the post-recovery write check (through the
 * vault's leader, idempotent across retries, read back on every node).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { clusterOf } from '../../inventory/load';
import type { EffectResult, NodeRef } from '../common/types';
import { TransportError } from '../transport/errors';
import type { LedgerContext } from './context';
import { id } from './wire';
import type { LedgerIntegrityReport, LedgerReplicaTip, LedgerVaultHealth, LedgerVaultInfo, LedgerVaultRef, LedgerVaults, LedgerWriteCheck } from './types';

/** A vault as the request messages name it. */
export function vaultMsg(v: LedgerVaultRef): { organization: { slug: string }; vault: { slug: string } } {
  return { organization: { slug: v.organization }, vault: { slug: v.vault } };
}

/** Checks a slug is a 64-bit id in decimal; the inventory or an operator may have typed a name. */
export function checkSlugs(v: LedgerVaultRef): void {
  for (const [what, value] of [['organization', v.organization], ['vault', v.vault]] as const) {
    if (!/^[1-9]\d{0,19}$/.test(value)) {
      throw new TransportError('InvalidArgument', `${what} must be a slug, the 64-bit number the ledger shows (e.g. 387995942322654209), got ${JSON.stringify(value)}`, false);
    }
  }
}

const hex = (h: { value?: Buffer | Uint8Array } | null | undefined): string | undefined => (h?.value && h.value.length ? Buffer.from(h.value).toString('hex') : undefined);

/** Organizations (SystemDiscoveryService.GetSystemState) and vaults (ListVaults, AdminListVaults, the height ListEntities answers at) on one node. */
export async function ledgerVaults(ctx: LedgerContext, ref: NodeRef): Promise<LedgerVaults> {
  return ctx.run(async () => {
    type State = { organizations?: Array<{ slug?: { slug?: string }; name?: string; region?: string; status?: string }> };
    type Vault = { organization?: { slug?: string }; vault?: { slug?: string }; status?: string };
    type Admin = { vaults?: Array<{ slug?: { slug?: string }; leader_node_id?: string; last_applied_index?: string }> };
    try {
      const state = await ctx.grpcCall<State>(ref, 'SystemDiscoveryService', 'GetSystemState', {}, 10_000);
      const organizations = (state.organizations ?? [])
        .filter((o) => id(o.slug?.slug))
        .map((o) => ({ slug: o.slug!.slug!, name: o.name ?? '', region: o.region ?? '', status: (o.status ?? '').replace(/^ORGANIZATION_STATUS_/, '') }));
      const vaults: LedgerVaultInfo[] = [];
      let pageToken: Buffer | undefined;
      for (let page = 0; page < 100; page++) {
        const res = await ctx.grpcCall<{ vaults?: Vault[]; next_page_token?: Buffer }>(ref, 'VaultService', 'ListVaults', { page_size: 500, ...(pageToken ? { page_token: pageToken } : {}) }, 10_000);
        for (const v of res.vaults ?? []) {
          const organization = id(v.organization?.slug);
          const vault = id(v.vault?.slug);
          if (organization && vault) vaults.push({ organization, vault, status: (v.status ?? '').replace(/^VAULT_STATUS_/, '') });
        }
        pageToken = res.next_page_token && res.next_page_token.length ? res.next_page_token : undefined;
        if (!pageToken) break;
      }
      for (const org of new Set(vaults.map((v) => v.organization))) {
        const admin = await ctx.grpcCall<Admin>(ref, 'AdminService', 'AdminListVaults', { organization: { slug: org } }, 10_000);
        for (const a of admin.vaults ?? []) {
          const v = vaults.find((x) => x.organization === org && x.vault === a.slug?.slug);
          if (!v) continue; // the server lists a bogus slug 0 after restarts
          v.lastAppliedIndex = Number(a.last_applied_index ?? 0);
          v.leaderNodeId = id(a.leader_node_id);
        }
      }
      // The height each replica answers at: unlike the applied index, it does not start over when the node restarts.
      for (const v of vaults) {
        if (v.status === 'DELETED') continue;
        const res = await ctx.grpcCall<{ block_height?: string }>(
          ref,
          'ReadService',
          'ListEntities',
          { organization: { slug: v.organization }, vault: { slug: v.vault }, consistency: 'READ_CONSISTENCY_EVENTUAL', limit: 1, page_token: '' },
          10_000,
        );
        v.height = Number(res.block_height ?? 0);
      }
      return { node: ref.node, reachable: true, organizations, vaults };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message, organizations: [], vaults: [] };
      throw err;
    }
  });
}

/** HealthService.Check of one vault on one node: healthy, diverged or recovering. */
export async function ledgerVaultHealth(ctx: LedgerContext, input: NodeRef & LedgerVaultRef): Promise<LedgerVaultHealth> {
  return ctx.run(async () => {
    checkSlugs(input);
    const base = { node: input.node, organization: input.organization, vault: input.vault };
    try {
      const res = await ctx.grpcCall<{ status?: string; message?: string; details?: Record<string, string> }>(input, 'HealthService', 'Check', vaultMsg(input));
      const word = res.details?.health_status;
      const status = word === 'healthy' || word === 'diverged' || word === 'recovering' ? word : res.status === 'HEALTH_STATUS_HEALTHY' ? 'healthy' : 'unknown';
      const num = (k: string): number | undefined => (res.details?.[k] !== undefined ? Number(res.details[k]) : undefined);
      return { ...base, reachable: true, status, message: res.message, divergedAtHeight: num('diverged_at_height'), recoveryAttempt: num('recovery_attempt') };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { ...base, reachable: false, status: 'unknown', error: (err as Error).message };
      if (err instanceof TransportError && err.type === 'NotFound') return { ...base, reachable: true, status: 'unknown', message: `${input.node} does not hold this vault` };
      throw err;
    }
  });
}

/** AdminService.CheckIntegrity of one vault (the seed's integrity check; see docs/ledger.md for what it checks at 21345c4). */
export async function ledgerIntegrity(ctx: LedgerContext, input: NodeRef & LedgerVaultRef & { fullCheck: boolean }): Promise<LedgerIntegrityReport> {
  return ctx.run(async () => {
    checkSlugs(input);
    type Res = { healthy?: boolean; issues?: Array<{ block_height?: string; issue_type?: string; description?: string }> };
    const res = await ctx.beating(
      ctx.grpcCall<Res>(input, 'AdminService', 'CheckIntegrity', { ...vaultMsg(input), full_check: input.fullCheck }, 4 * 60_000),
      { node: input.node, vault: input.vault },
    );
    return {
      node: input.node,
      organization: input.organization,
      vault: input.vault,
      healthy: !!res.healthy,
      issues: (res.issues ?? []).map((i) => `height ${i.block_height ?? '?'}: ${i.issue_type ?? '?'} ${i.description ?? ''}`.trim()),
    };
  });
}

/** ReadService.VerifiedRead on one node: the height and hashes its replica answers at. */
export async function ledgerReplicaTip(ctx: LedgerContext, input: NodeRef & LedgerVaultRef): Promise<LedgerReplicaTip> {
  return ctx.run(async () => {
    checkSlugs(input);
    const base = { node: input.node, organization: input.organization, vault: input.vault };
    type Res = { block_height?: string; block_header?: { height?: string; state_root?: { value?: Buffer }; block_hash?: { value?: Buffer } } | null };
    try {
      // Any key will do: the answer carries the header of the height the replica reads at.
      const res = await ctx.grpcCall<Res>(input, 'ReadService', 'VerifiedRead', { ...vaultMsg(input), key: 'lifeboat/tip' }, 10_000);
      const h = res.block_header;
      return { ...base, reachable: true, height: Number(h?.height ?? res.block_height ?? 0), blockHash: hex(h?.block_hash), stateRoot: hex(h?.state_root) };
    } catch (err) {
      if (ctx.isUnreachable(err)) return { ...base, reachable: false, error: (err as Error).message };
      throw err;
    }
  });
}

/** AdminService.RecoverVault on a node (the seed's "attempt automatic recovery"). */
export async function ledgerVaultRecover(
  ctx: LedgerContext,
  input: NodeRef & LedgerVaultRef & { dryRun?: boolean; force?: boolean },
): Promise<EffectResult & { success?: boolean; health?: string }> {
  return ctx.run(async () => {
    checkSlugs(input);
    const { address } = ctx.grpcAddress(input);
    const plan = `grpcurl -plaintext -d '{"organization": {"slug": ${input.organization}}, "vault": {"slug": ${input.vault}}${input.force ? ', "force": true' : ''}}' ${address} ledger.v1.AdminService/RecoverVault`;
    if (input.dryRun) return { dryRun: true, plan };
    const res = await ctx.beating(
      ctx.grpcCall<{ success?: boolean; message?: string; health_status?: string }>(input, 'AdminService', 'RecoverVault', { ...vaultMsg(input), force: !!input.force }, 4 * 60_000),
      { node: input.node, vault: input.vault },
    );
    const health = (res.health_status ?? '').replace(/^VAULT_HEALTH_PROTO_/, '').toLowerCase();
    return { plan, success: !!res.success, health, output: `RecoverVault on ${input.node}: success=${String(!!res.success)}, ${health || 'no health'}: ${res.message ?? ''}` };
  });
}

/**
 * A write through the vault's leader (found from any node), with an
 * idempotency key stable across retries, then a read of it on every reachable node.
 */
export async function ledgerWriteCheck(ctx: LedgerContext, input: { cluster: string; dryRun?: boolean; nodes?: string[] } & LedgerVaultRef): Promise<LedgerWriteCheck & EffectResult> {
  return ctx.run(async () => {
    checkSlugs(input);
    const stable = ctx.stableKey('lifeboat-check');
    const digest = createHash('sha256').update(stable).digest();
    const key = `lifeboat/check/${digest.subarray(0, 8).toString('hex')}`;
    const plan = `WriteService.Write ${input.organization}/${input.vault} set_entity ${key} on the vault's leader (idempotency key from ${stable}), then ReadService.Read on every node`;
    const all = clusterOf(ctx.inventory(), input.cluster).nodes.filter((n) => n.grpc).map((n) => n.name);
    const nodes = input.nodes?.length ? all.filter((n) => input.nodes!.includes(n)) : all;
    if (input.dryRun) return { dryRun: true, plan, organization: input.organization, vault: input.vault, leader: '', height: 0, key, readBack: [], missing: [] };
    const value = Buffer.from(JSON.stringify({ lifeboat: 'post-recovery write check', key: stable }));
    type Res = { success?: { block_height?: string } | null; error?: { code?: string; message?: string; committed_block_height?: string } | null };
    const { res, node, address } = await ctx.onLeader<Res>(
      input.cluster,
      nodes,
      'WriteService',
      'Write',
      { ...vaultMsg(input), client_id: { id: 'lifeboat' }, idempotency_key: digest.subarray(0, 16), operations: [{ set_entity: { key, value } }] },
      20_000,
    );
    let height: number;
    if (res.success) height = Number(res.success.block_height ?? 0);
    else if (res.error?.code === 'WRITE_ERROR_CODE_ALREADY_COMMITTED') height = Number(res.error.committed_block_height ?? 0);
    else throw new TransportError('WriteRejected', `the write check on ${node ?? address} was refused: ${res.error?.code ?? 'no result'} ${res.error?.message ?? ''}; the vault does not take writes`, false);
    const readBack: string[] = [];
    let missing: string[] = nodes;
    // Followers apply the block a moment after the leader commits it.
    for (let round = 0; round < 10 && missing.length; round++) {
      if (round) await ctx.sleep(1_000);
      const next: string[] = [];
      for (const n of missing) {
        try {
          const r = await ctx.grpcCall<{ value?: Buffer }>({ cluster: input.cluster, node: n }, 'ReadService', 'Read', { ...vaultMsg(input), key, consistency: 'READ_CONSISTENCY_EVENTUAL' });
          if (r.value && Buffer.from(r.value).equals(value)) readBack.push(n);
          else next.push(n);
        } catch (err) {
          if (!ctx.isUnreachable(err)) throw err;
          next.push(n);
        }
      }
      missing = next;
    }
    return {
      plan,
      organization: input.organization,
      vault: input.vault,
      leader: node ?? address,
      height,
      key,
      readBack,
      missing,
      output: `wrote ${key} at height ${height} through ${node ?? address}; read back on ${readBack.join(', ') || 'no node'}${missing.length ? `; not on ${missing.join(', ')}` : ''}`,
    };
  });
}
