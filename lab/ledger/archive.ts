/**
 * The archived export the lab's faults leave in its "S3" (a full restore and
 * a regional failover start from one): the data of a running node, read
 * over gRPC with eventual consistency exactly as Lifeboat's `ledgerExport`
 * reads it, written in Lifeboat's export format (`lifeboat-ledger-export`
 * version 1: a header, `organization` and `vault` lines, `entities` and
 * `relationships` lines of at most 100 items, an `end` line with the counts).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ExportLine } from '../../src/activities/ledger/export';
import { call } from './client';
import { LEDGER_VERSION } from './units';

const BATCH = 100;
const ACTOR = 'fault';

type Json = any;  

/** Every vault's entities (without the server's `_audit:` keys) and relationships on the node at `address`. */
export async function readExport(address: string, source: { cluster: string; node: string }): Promise<ExportLine[]> {
  const info = await call(address, 'AdminService', 'GetNodeInfo', {}, 5000, ACTOR);
  const lines: ExportLine[] = [
    {
      kind: 'lifeboat-ledger-export',
      version: 1,
      exportId: randomBytes(8).toString('hex'),
      source: { ...source, nodeId: String(info.node_id), clusterId: String(info.cluster_id) },
      server: LEDGER_VERSION,
    },
  ];
  const counts = { organizations: 0, vaults: 0, entities: 0, relationships: 0 };
  const state = await call(address, 'SystemDiscoveryService', 'GetSystemState', {}, 10_000, ACTOR);
  const vaultsOf = new Map<string, string[]>();
  let token: Buffer | undefined;
  for (let page = 0; page < 1000; page++) {
    const res = await call(address, 'VaultService', 'ListVaults', { page_size: 500, ...(token ? { page_token: token } : {}) }, 10_000, ACTOR);
    for (const v of res.vaults as Json[]) {
      const org = String(v.organization?.slug ?? '0');
      if (org !== '0' && v.status !== 'VAULT_STATUS_DELETED') vaultsOf.set(org, [...(vaultsOf.get(org) ?? []), String(v.vault.slug)]);
    }
    token = res.next_page_token?.length ? res.next_page_token : undefined;
    if (!token) break;
  }
  for (const o of state.organizations as Json[]) {
    const slug = String(o.slug?.slug ?? '0');
    const vaults = vaultsOf.get(slug) ?? [];
    if (vaults.length === 0) continue;
    const shown = await call(address, 'AdminService', 'ShowVault', { organization: { slug }, vault: { slug: vaults[0] } }, 10_000, ACTOR);
    lines.push({ kind: 'organization', slug, name: String(o.name ?? ''), region: String(shown.region || o.region || '') });
    counts.organizations++;
    for (const vault of vaults) {
      await copyVault(address, slug, vault, lines, counts);
      counts.vaults++;
    }
  }
  lines.push({ kind: 'end', counts });
  return lines;
}

async function copyVault(address: string, organization: string, vault: string, lines: ExportLine[], counts: { entities: number; relationships: number }): Promise<void> {
  const vaultLine: Extract<ExportLine, { kind: 'vault' }> = { kind: 'vault', organization, vault, height: 0 };
  lines.push(vaultLine);
  const msg = { organization: { slug: organization }, vault: { slug: vault }, consistency: 'READ_CONSISTENCY_EVENTUAL' };
  let items: Extract<ExportLine, { kind: 'entities' }>['items'] = [];
  let token = '';
  for (let page = 0; page < 100_000; page++) {
    const res = await call(address, 'ReadService', 'ListEntities', { ...msg, limit: 500, page_token: token }, 30_000, ACTOR);
    vaultLine.height = Math.max(vaultLine.height, Number(res.block_height ?? 0));
    for (const e of res.entities as Json[]) {
      if (!e.key || String(e.key).startsWith('_audit:')) continue;
      items.push({ key: String(e.key), value: Buffer.from(e.value ?? Buffer.alloc(0)).toString('base64'), ...(e.expires_at && e.expires_at !== '0' ? { expiresAt: String(e.expires_at) } : {}) });
      counts.entities++;
      if (items.length >= BATCH) {
        lines.push({ kind: 'entities', organization, vault, items });
        items = [];
      }
    }
    token = res.next_page_token ?? '';
    if (!token) break;
  }
  if (items.length) lines.push({ kind: 'entities', organization, vault, items });
  let rels: Extract<ExportLine, { kind: 'relationships' }>['items'] = [];
  token = '';
  for (let page = 0; page < 100_000; page++) {
    const res = await call(address, 'ReadService', 'ListRelationships', { ...msg, limit: 500, page_token: token }, 30_000, ACTOR);
    for (const r of res.relationships as Json[]) {
      rels.push({ resource: String(r.resource), relation: String(r.relation), subject: String(r.subject) });
      counts.relationships++;
      if (rels.length >= BATCH) {
        lines.push({ kind: 'relationships', organization, vault, items: rels });
        rels = [];
      }
    }
    token = res.next_page_token ?? '';
    if (!token) break;
  }
  if (rels.length) lines.push({ kind: 'relationships', organization, vault, items: rels });
}

/** Writes an export as JSON lines, atomically (a temporary file, then a rename). */
export function writeExport(path: string, lines: ExportLine[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.partial`;
  writeFileSync(tmp, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  renameSync(tmp, path);
}
