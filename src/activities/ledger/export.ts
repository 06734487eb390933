/**
 * The ledger's data as a file: every organization's vaults, their entities
 * and relationships, read with eventual consistency (a node that lost its
 * quorum still answers them), written as JSON lines to a node of the
 * inventory. This is how a recovery carries data into a new cluster: at
 * 21345c4 a cluster whose processes restarted takes no more writes, the
 * server's own backups cannot be enabled, and no membership reset exists
 * (docs/ledger.md), so a new cluster is formed and the data re-created in it.
 *
 * The format (`lifeboat-ledger-export`, version 1), one JSON object a line:
 * a header; `organization` and `vault` lines; `entities` and
 * `relationships` lines of at most {@link BATCH_ITEMS} items, each of which
 * becomes one write of the import, whose idempotency key derives from the
 * export id and the line's number; an `end` line with the counts.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { EffectResult, NodeRef } from '../common/types';
import { TransportError } from '../transport/errors';
import { quoteArgv } from '../transport/shell';
import type { LedgerContext } from './context';
import type { LedgerExportSummary, LedgerFileRef } from './types';
import { id, LEDGER_SERVER_VERSION } from './wire';

/** Items per data line, so one line is one write well under the server's message limit. */
export const BATCH_ITEMS = 100;
/** Bytes of values per data line. */
const BATCH_BYTES = 512 * 1024;
/** The largest export this activity holds in memory (it is read back whole by the import). */
export const MAX_EXPORT_BYTES = 256 * 1024 * 1024;
/** Keys the server writes itself (`_audit:vault:...`): not data to carry over. */
const SERVER_KEY = /^_audit:/;

export const EXPORT_KIND = 'lifeboat-ledger-export';

/** One line of an export. */
export type ExportLine =
  | { kind: typeof EXPORT_KIND; version: 1; exportId: string; source: { cluster: string; node: string; nodeId?: string; clusterId?: string }; server: string }
  | { kind: 'organization'; slug: string; name: string; region: string }
  | { kind: 'vault'; organization: string; vault: string; height: number }
  | { kind: 'entities'; organization: string; vault: string; items: Array<{ key: string; value: string; expiresAt?: string }> }
  | { kind: 'relationships'; organization: string; vault: string; items: Array<{ resource: string; relation: string; subject: string }> }
  | { kind: 'end'; counts: { organizations: number; vaults: number; entities: number; relationships: number } };

/** A file path validated for the remote shell's argv: absolute or home-relative, no `..`, no newline. */
export function checkPath(ref: LedgerFileRef): void {
  if (!ref.path || ref.path.includes('\n') || ref.path.split('/').includes('..') || ref.path.endsWith('/')) {
    throw new TransportError('InvalidArgument', `export path ${JSON.stringify(ref.path)} on ${ref.node} must name a file, without "..": e.g. /var/backups/lifeboat-ledger/export.jsonl`, false);
  }
}

/**
 * Copies every organization's and vault's entities and relationships out of
 * a node (eventual reads: a node without quorum still answers) into a file
 * on a node of the inventory (JSON lines).
 */
export async function ledgerExport(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean; to: { node: string; path?: string } }): Promise<EffectResult & LedgerExportSummary> {
  return ctx.run(async () => {
    const { cluster: target } = ctx.lookup({ cluster: input.cluster, node: input.to.node });
    const exportId = createHash('sha256').update(ctx.stableKey('export')).digest('hex').slice(0, 16);
    const to: LedgerFileRef = { node: input.to.node, path: input.to.path || `${ctx.setting(target, 'exportDir').replace(/\/+$/, '')}/export-${exportId}.jsonl` };
    checkPath(to);
    const plan = `read every vault of ${input.node} (GetSystemState, ListVaults, ListEntities, ListRelationships; eventual) into ${to.node}:${to.path}`;
    const empty = { file: to, exportId, organizations: 0, vaults: 0, entities: 0, relationships: 0, bytes: 0, sha256: '', heights: {} };
    if (input.dryRun) return { dryRun: true, plan, ...empty };
    const lines = await readAll(ctx, input, exportId);
    const text = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_EXPORT_BYTES) {
      throw new TransportError('ExportTooLarge', `the export of ${input.node} is ${bytes} bytes, over the ${MAX_EXPORT_BYTES} Lifeboat carries in one activity; see docs/ledger.md (large ledgers)`, false);
    }
    await writeFile(ctx, input.cluster, to, text);
    const end = lines[lines.length - 1] as Extract<ExportLine, { kind: 'end' }>;
    const heights: Record<string, number> = {};
    for (const l of lines) if (l.kind === 'vault') heights[`${l.organization}/${l.vault}`] = l.height;
    return {
      plan,
      file: to,
      exportId,
      ...end.counts,
      bytes,
      sha256: createHash('sha256').update(text).digest('hex'),
      heights,
      output: `${end.counts.organizations} organization(s), ${end.counts.vaults} vault(s), ${end.counts.entities} entities, ${end.counts.relationships} relationships from ${input.node} into ${to.node}:${to.path} (${bytes} bytes)`,
    };
  });
}

async function readAll(ctx: LedgerContext, ref: NodeRef, exportId: string): Promise<ExportLine[]> {
  type State = { organizations?: Array<{ slug?: { slug?: string }; name?: string; region?: string; status?: string }> };
  type Vaults = { vaults?: Array<{ organization?: { slug?: string }; vault?: { slug?: string }; status?: string }>; next_page_token?: Buffer };
  const info = await ctx.grpcCall<{ node_id?: string; cluster_id?: string }>(ref, 'AdminService', 'GetNodeInfo', {});
  const lines: ExportLine[] = [
    { kind: EXPORT_KIND, version: 1, exportId, source: { cluster: ref.cluster, node: ref.node, nodeId: id(info.node_id), clusterId: id(info.cluster_id) }, server: LEDGER_SERVER_VERSION.version },
  ];
  const counts = { organizations: 0, vaults: 0, entities: 0, relationships: 0 };
  const state = await ctx.grpcCall<State>(ref, 'SystemDiscoveryService', 'GetSystemState', {}, 10_000);
  const vaultsOf = new Map<string, string[]>();
  let token: Buffer | undefined;
  for (let page = 0; page < 1000; page++) {
    const res = await ctx.grpcCall<Vaults>(ref, 'VaultService', 'ListVaults', { page_size: 500, ...(token ? { page_token: token } : {}) }, 10_000);
    for (const v of res.vaults ?? []) {
      const org = id(v.organization?.slug);
      const vault = id(v.vault?.slug);
      if (org && vault && v.status !== 'VAULT_STATUS_DELETED') vaultsOf.set(org, [...(vaultsOf.get(org) ?? []), vault]);
    }
    token = res.next_page_token && res.next_page_token.length ? res.next_page_token : undefined;
    if (!token) break;
  }
  for (const o of state.organizations ?? []) {
    const slug = id(o.slug?.slug);
    const vaults = slug ? (vaultsOf.get(slug) ?? []) : [];
    // An organization without vaults holds no data a recovery can carry.
    if (!slug || vaults.length === 0 || o.status === 'ORGANIZATION_STATUS_DELETED') continue;
    const shown = await ctx.grpcCall<{ region?: string }>(ref, 'AdminService', 'ShowVault', { organization: { slug }, vault: { slug: vaults[0] } }, 10_000);
    lines.push({ kind: 'organization', slug, name: o.name ?? '', region: shown.region || o.region || '' });
    counts.organizations++;
    for (const vault of vaults) {
      await copyVault(ctx, ref, slug, vault, lines, counts);
      counts.vaults++;
    }
  }
  lines.push({ kind: 'end', counts });
  return lines;
}

/** Appends one vault's lines: the vault (with the height its entities were read at), its entities, its relationships. */
async function copyVault(
  ctx: LedgerContext,
  ref: NodeRef,
  organization: string,
  vault: string,
  lines: ExportLine[],
  counts: { entities: number; relationships: number },
): Promise<void> {
  type Entities = { entities?: Array<{ key?: string; value?: Buffer; expires_at?: string }>; block_height?: string; next_page_token?: string };
  type Rels = { relationships?: Array<{ resource?: string; relation?: string; subject?: string }>; next_page_token?: string };
  const vaultLine: Extract<ExportLine, { kind: 'vault' }> = { kind: 'vault', organization, vault, height: 0 };
  lines.push(vaultLine);
  const msg = { organization: { slug: organization }, vault: { slug: vault }, consistency: 'READ_CONSISTENCY_EVENTUAL' };
  let height = 0;
  let batch: Extract<ExportLine, { kind: 'entities' }>['items'] = [];
  let batchBytes = 0;
  const flush = (): void => {
    if (batch.length) lines.push({ kind: 'entities', organization, vault, items: batch });
    batch = [];
    batchBytes = 0;
  };
  let token = '';
  for (let page = 0; page < 100_000; page++) {
    const res = await ctx.grpcCall<Entities>(ref, 'ReadService', 'ListEntities', { ...msg, limit: 500, page_token: token }, 30_000);
    height = Math.max(height, Number(res.block_height ?? 0));
    for (const e of res.entities ?? []) {
      if (!e.key || SERVER_KEY.test(e.key)) continue;
      const value = Buffer.from(e.value ?? Buffer.alloc(0)).toString('base64');
      if (batch.length >= BATCH_ITEMS || batchBytes + value.length > BATCH_BYTES) flush();
      batch.push({ key: e.key, value, ...(id(e.expires_at) ? { expiresAt: e.expires_at } : {}) });
      batchBytes += value.length;
      counts.entities++;
    }
    token = res.next_page_token ?? '';
    if (!token) break;
  }
  flush();
  let rels: Extract<ExportLine, { kind: 'relationships' }>['items'] = [];
  token = '';
  for (let page = 0; page < 100_000; page++) {
    const res = await ctx.grpcCall<Rels>(ref, 'ReadService', 'ListRelationships', { ...msg, limit: 500, page_token: token }, 30_000);
    for (const r of res.relationships ?? []) {
      if (!r.resource || !r.relation || !r.subject) continue;
      rels.push({ resource: r.resource, relation: r.relation, subject: r.subject });
      counts.relationships++;
      if (rels.length >= BATCH_ITEMS) {
        lines.push({ kind: 'relationships', organization, vault, items: rels });
        rels = [];
      }
    }
    token = res.next_page_token ?? '';
    if (!token) break;
  }
  if (rels.length) lines.push({ kind: 'relationships', organization, vault, items: rels });
  vaultLine.height = height;
}

/** Writes a file on a node atomically (a temporary file, then a rename). */
async function writeFile(ctx: LedgerContext, cluster: string, to: LedgerFileRef, text: string): Promise<void> {
  const ref = { cluster, node: to.node };
  const { cluster: spec } = ctx.lookup(ref);
  const sudo = ctx.setting(spec, 'sudo');
  const dir = to.path.includes('/') ? to.path.slice(0, to.path.lastIndexOf('/')) || '/' : '.';
  const tmp = `${to.path}.partial`;
  // The script is constant; the path reaches it as a positional argument, never as code.
  const cmds = [
    { argv: ctx.root(['mkdir', '-p', dir], sudo) },
    { argv: ctx.root(['sh', '-c', 'cat > "$1"', 'lifeboat-export', tmp], sudo) },
    { argv: ctx.root(['mv', '--', tmp, to.path], sudo) },
  ];
  const res = await ctx.exec(ref, cmds, 30 * 60_000, undefined, { stdin: text });
  ctx.check(ref, res, `writing ${to.path}`, `check free space and permissions of ${dir} on ${to.node} (settings.exportDir, settings.sudo); ${quoteArgv(cmds[1]!.argv)}`);
}

/** Reads an export back from a node and checks its header. */
export async function readExport(ctx: LedgerContext, cluster: string, from: LedgerFileRef): Promise<ExportLine[]> {
  checkPath(from);
  const ref = { cluster, node: from.node };
  const { cluster: spec } = ctx.lookup(ref);
  const res = await ctx.exec(ref, [{ argv: ctx.root(['cat', '--', from.path], ctx.setting(spec, 'sudo')) }], 10 * 60_000, undefined, { tailBytes: MAX_EXPORT_BYTES + 4096 });
  ctx.check(ref, res, `reading ${from.path}`, `check that the export exists on ${from.node} (a full restore fetches it first)`);
  const lines = res.stdout.split('\n').filter((l) => l.trim() !== '');
  const parsed: ExportLine[] = [];
  for (const [i, l] of lines.entries()) {
    try {
      parsed.push(JSON.parse(l) as ExportLine);
    } catch {
      throw new TransportError('BadExport', `${from.node}:${from.path} line ${i + 1} is not JSON: the export is damaged or not a Lifeboat ledger export`, false);
    }
  }
  const head = parsed[0];
  if (!head || head.kind !== EXPORT_KIND || head.version !== 1) {
    throw new TransportError('BadExport', `${from.node}:${from.path} is not a ${EXPORT_KIND} version 1 file (first line: ${lines[0]?.slice(0, 80) ?? 'none'})`, false);
  }
  if (parsed[parsed.length - 1]?.kind !== 'end') {
    throw new TransportError('BadExport', `${from.node}:${from.path} has no end line: the export was cut short; export again`, false);
  }
  return parsed;
}
