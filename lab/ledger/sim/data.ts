/**
 * The simulated node's data plane, as the real server serves it: Write on
 * the region leader only (followers answer UNAVAILABLE with the leader in
 * ErrorDetails), 16-byte idempotency keys (the same key and content answer
 * the first result again, other content IDEMPOTENCY_KEY_REUSED inside a
 * gRPC OK), one block per write; Read, VerifiedRead, ListEntities and
 * ListRelationships on any node from its own replica (a stale replica
 * answers stale data; a diverged vault refuses reads); GetTip on the region
 * leader only.
 *
 * @module
 */
import * as grpc from '@grpc/grpc-js';
import type { SimCluster, SimNode } from './cluster';
import { applyBlock, payloadDigest, vaultKey, type Op, type OrgRec, type VaultRec } from './model';
import { invalid, notFound, notLeader, proposalTimeout, RpcError, slugOf, unary, type CallCtx } from './rpc';

type Slug = { slug?: string } | null | undefined;
type VaultReq = { organization?: Slug; vault?: Slug };

/** The vault a request names, from this node's replica; NOT_FOUND otherwise. */
export function needVault(n: SimNode, req: VaultReq): { org: OrgRec; v: VaultRec; organization: string; vault: string } {
  const organization = slugOf(req.organization);
  const vault = slugOf(req.vault);
  if (!organization) throw invalid('organization is required');
  if (!vault) throw new RpcError(grpc.status.UNIMPLEMENTED, 'lab: organization-level entities are not simulated; name a vault');
  const org = n.r.orgs[organization];
  const v = n.r.vaults[vaultKey(organization, vault)];
  if (!org || !v) throw notFound(`Vault with slug ${vault} not found`);
  return { org, v, organization, vault };
}

/** Region-leader-only calls: a node that does not lead the organization's region refuses with a hint. */
export function onRegionLeader(sim: SimCluster, n: SimNode, region: string, message: string, shard = '0'): void {
  const cid = n.r.clusterId;
  const leader = sim.regionLeaderId(cid, region);
  // A stale node never leads, unless only stale nodes run: then their leader takes the call and cannot commit it.
  if ((n.stale && sim.group(cid).writable) || leader !== n.nodeId) throw notLeader(sim, cid, leader, message, shard);
}

/** Diverged replicas refuse reads (RECOVERING ones serve). */
function readable(org: OrgRec, v: VaultRec): void {
  if (v.health.state === 'diverged') {
    throw new RpcError(grpc.status.UNAVAILABLE, `Vault org:${org.internalId}:vault:${v.internalId} has diverged at height ${v.health.divergedAt ?? v.height}`);
  }
}

const hash = (hex: string): { value: Buffer } => ({ value: Buffer.from(hex, 'hex') });
const expired = (expiresAt: string | undefined): boolean => !!expiresAt && Number(expiresAt) > 0 && Number(expiresAt) * 1000 <= Date.now();
let nsCounter = 0n;

type WriteReq = VaultReq & {
  client_id?: { id?: string } | null;
  idempotency_key?: Buffer;
  operations?: Array<{
    set_entity?: { key?: string; value?: Buffer; expires_at?: string | null } | null;
    create_relationship?: { resource?: string; relation?: string; subject?: string } | null;
  }>;
};

async function write(sim: SimCluster, n: SimNode, req: WriteReq, ctx: CallCtx): Promise<object> {
  const key = req.idempotency_key ?? Buffer.alloc(0);
  if (key.length !== 16) throw invalid('idempotency_key must be exactly 16 bytes');
  const { org, v, organization, vault } = needVault(n, req);
  onRegionLeader(sim, n, org.region, 'Not the leader for this region', String(org.internalId));
  const ops: Op[] = (req.operations ?? []).map((op) => {
    if (op.set_entity) {
      const e = op.set_entity;
      if (!e.key) throw invalid('set_entity.key is required');
      const exp = e.expires_at && e.expires_at !== '0' ? String(e.expires_at) : undefined;
      return { set: { key: e.key, value: Buffer.from(e.value ?? Buffer.alloc(0)).toString('base64'), ...(exp ? { expiresAt: exp } : {}) } };
    }
    if (op.create_relationship) {
      const r = op.create_relationship;
      if (!r.resource || !r.relation || !r.subject) throw invalid('create_relationship needs resource, relation and subject');
      return { rel: { resource: r.resource, relation: r.relation, subject: r.subject } };
    }
    throw invalid('operation has no op set');
  });
  if (ops.length === 0) throw invalid('operations must not be empty');
  const client = req.client_id?.id ?? '';
  const digest = payloadDigest({ organization, vault, ops });
  const prior = v.idempotency[`${client}\u0000${key.toString('hex')}`];
  if (prior) {
    if (prior.payload === digest) return { success: { block_height: String(prior.height) } };
    return { error: { code: 'WRITE_ERROR_CODE_IDEMPOTENCY_KEY_REUSED', message: 'Idempotency key was already used with a different request payload' } };
  }
  const cid = n.r.clusterId;
  if (!sim.canCommit(cid)) return proposalTimeout(sim);
  const ns = (BigInt(Date.now()) * 1_000_000n + (nsCounter++ % 1_000_000n)).toString();
  sim.commit(cid, (r) => applyBlock(r.vaults[vaultKey(organization, vault)]!, ops, { ns, client, key: key.toString('hex'), digest }));
  const height = n.r.vaults[vaultKey(organization, vault)]!.height;
  if (!ctx.lab) sim.record(n.name, 'ledger.write', { organization, vault, height, leader: n.nodeId, operations: ops.length });
  return { success: { block_height: String(height) } };
}

type ReadReq = VaultReq & { key?: string; consistency?: string };

function read(sim: SimCluster, n: SimNode, req: ReadReq): object {
  const { org, v } = needVault(n, req);
  readable(org, v);
  if (req.consistency === 'READ_CONSISTENCY_LINEARIZABLE') {
    const leader = sim.regionLeaderId(n.r.clusterId, org.region);
    if (leader !== n.nodeId && !sim.alive(leader, n.r.clusterId)) {
      throw new RpcError(grpc.status.UNAVAILABLE, 'CommittedIndex RPC failed: tcp connect error: Connection refused (os error 111)');
    }
  }
  const e = req.key ? v.entities[req.key] : undefined;
  return { block_height: String(v.height), ...(e && !expired(e.expiresAt) ? { value: Buffer.from(e.value, 'base64') } : {}) };
}

function verifiedRead(n: SimNode, req: ReadReq): object {
  const { org, v } = needVault(n, req);
  readable(org, v);
  const e = req.key ? v.entities[req.key] : undefined;
  return {
    block_height: String(v.height),
    block_header: { height: String(v.height), state_root: hash(v.stateRoot), block_hash: hash(v.tipHash) },
    ...(e && !expired(e.expiresAt) ? { value: Buffer.from(e.value, 'base64') } : {}),
  };
}

function getTip(sim: SimCluster, n: SimNode, req: VaultReq): object {
  const { org, v } = needVault(n, req);
  onRegionLeader(sim, n, org.region, 'Not the leader for this region', String(org.internalId));
  return { height: String(v.height), block_hash: hash(v.tipHash), state_root: hash(v.stateRoot) };
}

/** A page of sorted items after the token (base64 of the last item's sort key). */
function page<T>(items: T[], keyOf: (t: T) => string, token: string | undefined, limit: number | undefined): { items: T[]; next: string } {
  const after = token ? Buffer.from(token, 'base64url').toString('utf8') : undefined;
  const start = after === undefined ? 0 : items.findIndex((t) => keyOf(t) > after);
  const from = start < 0 ? items.length : start;
  const size = Math.min(Math.max(Number(limit) || 100, 1), 1000);
  const out = items.slice(from, from + size);
  const more = from + size < items.length;
  return { items: out, next: more && out.length ? Buffer.from(keyOf(out[out.length - 1]!)).toString('base64url') : '' };
}

function listEntities(n: SimNode, req: VaultReq & { key_prefix?: string; include_expired?: boolean; limit?: number; page_token?: string }): object {
  const { v } = needVault(n, req);
  const all = Object.entries(v.entities)
    .filter(([k, e]) => k.startsWith(req.key_prefix ?? '') && (req.include_expired || !expired(e.expiresAt)))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const p = page(all, ([k]) => k, req.page_token, req.limit);
  return {
    entities: p.items.map(([key, e]) => ({ key, value: Buffer.from(e.value, 'base64'), version: String(e.version), ...(e.expiresAt ? { expires_at: e.expiresAt } : {}) })),
    block_height: String(v.height),
    next_page_token: p.next,
  };
}

function listRelationships(n: SimNode, req: VaultReq & { limit?: number; page_token?: string }): object {
  const { v } = needVault(n, req);
  const p = page(v.relationships, (r) => r, req.page_token, req.limit);
  return {
    relationships: p.items.map((r) => {
      const [resource, relation, subject] = r.split('\u0000');
      return { resource, relation, subject };
    }),
    block_height: String(v.height),
    next_page_token: p.next,
  };
}

export function readService(sim: SimCluster, n: SimNode): Record<string, grpc.UntypedHandleCall> {
  const u = (m: string, fn: (req: any) => object) => unary(sim, n, 'ReadService', m, fn, false);  
  return {
    Read: u('Read', (r) => read(sim, n, r)),
    VerifiedRead: u('VerifiedRead', (r) => verifiedRead(n, r)),
    GetTip: u('GetTip', (r) => getTip(sim, n, r)),
    ListEntities: u('ListEntities', (r) => listEntities(n, r)),
    ListRelationships: u('ListRelationships', (r) => listRelationships(n, r)),
  };
}

export function writeService(sim: SimCluster, n: SimNode): Record<string, grpc.UntypedHandleCall> {
  return { Write: unary(sim, n, 'WriteService', 'Write', (r, ctx) => write(sim, n, r as WriteReq, ctx), true) };
}
