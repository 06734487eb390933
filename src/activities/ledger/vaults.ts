/**
 * Vaults over gRPC: listing, integrity checks, the post-recovery write check
 * (idempotent: its key derives from the workflow and activity ids), tips,
 * vault recovery (an ACTIVE vault is left alone) and snapshots.
 *
 * @module
 */
import type { EffectResult, NodeRef } from '../common/types';
import { TransportError } from '../transport/errors';
import type { LedgerContext } from './context';
import type { LedgerIntegrity, LedgerVault } from './types';

function vaultRef(input: { organization: string; vault: string }) {
  return { organization_slug: { id: input.organization }, vault: { slug: input.vault } };
}

/** Every vault the node holds, with its organization, status and height. */
export async function ledgerListVaults(ctx: LedgerContext, ref: NodeRef): Promise<LedgerVault[]> {
  return ctx.run(async () => {
    type V = { vault?: { vault?: { slug?: string }; organization_slug?: { id?: string }; status?: string; height?: number } };
    const res = await ctx.grpcCall<{ vaults?: V[] }>(ref, 'AdminService', 'ListVaults', {}, 30_000);
    return (res.vaults ?? []).map((v) => ({
      organization: v.vault?.organization_slug?.id ?? '',
      vault: v.vault?.vault?.slug ?? '',
      status: v.vault?.status ?? '',
      height: Number(v.vault?.height ?? 0),
    }));
  });
}

/** CheckIntegrity of one vault (a full check reads every block; heartbeats meanwhile). */
export async function ledgerCheckIntegrity(ctx: LedgerContext, input: NodeRef & { organization: string; vault: string; fullCheck: boolean }): Promise<LedgerIntegrity> {
  return ctx.run(async () => {
    const res = await ctx.beating(
      ctx.grpcCall<{ ok?: boolean; blocks_checked?: number; problems?: string[] }>(
        input,
        'AdminService',
        'CheckIntegrity',
        { organization_slug: { id: input.organization }, vault: { slug: input.vault }, full_check: input.fullCheck },
        4 * 60_000,
      ),
      { node: input.node, vault: input.vault },
    );
    return { organization: input.organization, vault: input.vault, ok: !!res.ok, blocksChecked: Number(res.blocks_checked ?? 0), problems: res.problems ?? [] };
  });
}

/** A write with an idempotency key then a read of the tip: the checklist's "writes and reads succeed". */
export async function ledgerWriteRead(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean; organization: string; vault: string }): Promise<EffectResult & { height?: number }> {
  return ctx.run(async () => {
    const key = ctx.stableKey('lifeboat-check');
    const plan = `${input.node}: WriteService.Write ${input.organization}/${input.vault} (idempotency key ${key}), then ReadService.GetTip`;
    if (input.dryRun) return { dryRun: true, plan };
    const ref = { organization_slug: { id: input.organization }, vault: { slug: input.vault } };
    const payload = Buffer.from(JSON.stringify({ lifeboat: 'post-recovery write check', key }));
    const w = await ctx.grpcCall<{ height?: number; duplicate?: boolean }>(input, 'WriteService', 'Write', { ...ref, idempotency_key: key, payload }, 15_000);
    const tip = await ctx.grpcCall<{ height?: number; hash?: string }>(input, 'ReadService', 'GetTip', ref, 15_000);
    const height = Number(w.height ?? 0);
    if (Number(tip.height ?? 0) < height) {
      throw new TransportError('ReadBehindWrite', `${input.node} reads height ${tip.height} after a write at ${height}: the node is lagging; it will be retried`, true);
    }
    return { plan, height, alreadyDone: !!w.duplicate, output: `wrote at height ${height}, tip ${tip.height} (${tip.hash ?? ''})` };
  });
}

/** `ReadService/GetTip`: a vault's block height and tip hash. */
export async function ledgerGetTip(ctx: LedgerContext, input: NodeRef & { organization: string; vault: string }): Promise<{ height: number; hash: string }> {
  return ctx.run(async () => {
    const res = await ctx.grpcCall<{ height?: number; hash?: string }>(input, 'ReadService', 'GetTip', vaultRef(input), 15_000);
    return { height: Number(res.height ?? 0), hash: res.hash ?? '' };
  });
}

/** `AdminService/GetVault`: the vault's status (ACTIVE, DIVERGED...) and height on one node. */
export async function ledgerGetVault(ctx: LedgerContext, input: NodeRef & { organization: string; vault: string }): Promise<LedgerVault> {
  return ctx.run(async () => {
    const res = await ctx.grpcCall<{ vault?: { status?: string; height?: number } }>(input, 'AdminService', 'GetVault', vaultRef(input), 15_000);
    return { organization: input.organization, vault: input.vault, status: res.vault?.status ?? '', height: Number(res.vault?.height ?? 0) };
  });
}

/** `AdminService/RecoverVault` on the node holding the diverged vault; an intact vault is left as it is. */
export async function ledgerRecoverVault(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean; organization: string; vault: string }): Promise<EffectResult & { recovered?: boolean; status?: string }> {
  return ctx.run(async () => {
    const { address } = ctx.grpcAddress(input);
    const plan = `grpcurl -plaintext -d '{"organization_slug": {"id": "${input.organization}"}, "vault": {"slug": "${input.vault}"}}' ${address} ledger.v1.AdminService/RecoverVault`;
    if (input.dryRun) return { dryRun: true, plan };
    const before = await ctx.grpcCall<{ vault?: { status?: string } }>(input, 'AdminService', 'GetVault', vaultRef(input), 15_000);
    if (before.vault?.status === 'ACTIVE') return { plan, alreadyDone: true, recovered: true, status: 'ACTIVE', output: `${input.organization}/${input.vault} is already ACTIVE on ${input.node}` };
    const res = await ctx.beating(ctx.grpcCall<{ recovered?: boolean; status?: string }>(input, 'AdminService', 'RecoverVault', vaultRef(input), 4 * 60_000), { node: input.node, vault: input.vault });
    return { plan, recovered: !!res.recovered, status: res.status, output: `recovered ${String(!!res.recovered)}, status ${res.status ?? '?'}` };
  });
}

/** `AdminService/CreateSnapshot` of a vault on a healthy node. */
export async function ledgerCreateSnapshot(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean; organization: string; vault: string }): Promise<EffectResult & { snapshotId?: string; height?: number }> {
  return ctx.run(async () => {
    const { address } = ctx.grpcAddress(input);
    const plan = `grpcurl -plaintext ${address} -d '{"organization_slug": {"id": "${input.organization}"}, "vault": {"slug": "${input.vault}"}}' ledger.v1.AdminService/CreateSnapshot`;
    if (input.dryRun) return { dryRun: true, plan };
    const res = await ctx.beating(ctx.grpcCall<{ snapshot_id?: string; height?: number }>(input, 'AdminService', 'CreateSnapshot', vaultRef(input), 4 * 60_000), { node: input.node, vault: input.vault });
    return { plan, snapshotId: res.snapshot_id, height: Number(res.height ?? 0), output: `snapshot ${res.snapshot_id ?? '?'} at height ${res.height ?? '?'}` };
  });
}
