/**
 * What a simulated ledger node keeps on disk, in its real data directory:
 * `node_id` and `cluster_id` exactly as the real server writes them (decimal
 * Snowflake ids, no newline; `node_id` at the first start, `cluster_id` at
 * init or join), and the node's replica of the cluster's state in
 * `sim-state.json`: the GLOBAL membership, data regions, users and
 * onboarding, organizations, and every vault with its entities,
 * relationships, idempotency keys and health.
 *
 * Ids are strings everywhere (they exceed 2^53).
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const REPLICA_FILE = 'sim-state.json';
export const REPLICA_FORMAT = 'lifeboat-lab-ledger-sim/1';
/** Idempotency keys a vault remembers (oldest forgotten first). */
const MAX_KEYS = 10_000;

export interface Member {
  id: string;
  address: string;
}

export interface UserRec {
  slug: string;
  email: string;
  name: string;
  region: string;
}

export interface OrgRec {
  slug: string;
  name: string;
  region: string;
  /** The internal id ShowVault reports (sequential, like the real one's). */
  internalId: number;
  /** When the organization's saga completes (PROVISIONING before, ACTIVE after), ms since the epoch. */
  activeAt: number;
  admin: string;
  nextVault: number;
}

export type VaultHealthState = 'healthy' | 'diverged' | 'recovering';

export interface EntityRec {
  /** Base64. */
  value: string;
  expiresAt?: string;
  version: number;
}

export interface VaultRec {
  organization: string;
  vault: string;
  internalId: number;
  /** Block height: one block per write. */
  height: number;
  /** Raft index of this replica (creation + one per write): AdminListVaults' last_applied_index. */
  applied: number;
  /** Hex of the tip block's hash and of the state root. */
  tipHash: string;
  stateRoot: string;
  entities: Record<string, EntityRec>;
  /** `resource\u0000relation\u0000subject`, sorted. */
  relationships: string[];
  /** `client\u0000key hex` -> the payload's digest and the height it landed at. */
  idempotency: Record<string, { payload: string; height: number }>;
  health: { state: VaultHealthState; divergedAt?: number; attempt?: number; since?: string };
}

/** A node's replica of its cluster (identical on every member that keeps up). */
export interface Replica {
  format: typeof REPLICA_FORMAT;
  clusterId: string;
  members: Member[];
  /** Ids removed by LeaveCluster (GetDecommissionStatus: removed). */
  removed: string[];
  term: number;
  /** GLOBAL commit index (Health's dep:raft_log_lag). */
  index: number;
  regions: Record<string, { protected: boolean }>;
  users: Record<string, UserRec>;
  /** Pending verification codes, by `region|email`. */
  codes: Record<string, string>;
  /** Onboarding tokens not used yet. */
  tokens: Record<string, { email: string; region: string }>;
  orgs: Record<string, OrgRec>;
  nextOrgId: number;
  /** By `organization/vault`. */
  vaults: Record<string, VaultRec>;
}

export function emptyReplica(): Replica {
  return { format: REPLICA_FORMAT, clusterId: '', members: [], removed: [], term: 1, index: 0, regions: {}, users: {}, codes: {}, tokens: {}, orgs: {}, nextOrgId: 1, vaults: {} };
}

let lastSnowflake = 0n;

/** A fresh Snowflake-like id (ms since 2023-11 in the high bits): a decimal string above 2^53, increasing. */
export function snowflake(): string {
  let id = ((BigInt(Date.now()) - 1_700_000_000_000n) << 22n) | BigInt(randomBytes(2).readUInt16BE(0) << 6);
  if (id <= lastSnowflake) id = lastSnowflake + 1n;
  lastSnowflake = id;
  return id.toString();
}

/** What a node finds in its data directory at start. */
export interface NodeFiles {
  nodeId?: string;
  clusterId?: string;
  replica?: Replica;
}

function readId(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const s = readFileSync(file, 'utf8').trim();
  return /^\d+$/.test(s) && s !== '0' ? s : undefined;
}

export function readNodeFiles(dataDir: string): NodeFiles {
  const out: NodeFiles = { nodeId: readId(join(dataDir, 'node_id')), clusterId: readId(join(dataDir, 'cluster_id')) };
  const file = join(dataDir, REPLICA_FILE);
  if (existsSync(file)) {
    try {
      const r = JSON.parse(readFileSync(file, 'utf8')) as Replica;
      if (r.format === REPLICA_FORMAT) out.replica = { ...emptyReplica(), ...r };
    } catch {
      // An unreadable replica is an empty one: the node has lost its state, as after a bad disk.
    }
  }
  return out;
}

/** Writes `node_id` / `cluster_id` as the real server does (decimal, no newline). */
export function writeIdFile(dataDir: string, name: 'node_id' | 'cluster_id', id: string): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, name), id);
}

/** Writes the replica atomically (temporary file, then rename). */
export function saveReplica(dataDir: string, r: Replica): void {
  mkdirSync(dataDir, { recursive: true });
  const tmp = join(dataDir, `.${REPLICA_FILE}.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(r));
  renameSync(tmp, join(dataDir, REPLICA_FILE));
}

export function cloneReplica(r: Replica): Replica {
  return structuredClone(r);
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Digest of a write's content (its operations), for idempotency. */
export function payloadDigest(ops: unknown): string {
  return sha(JSON.stringify(ops));
}

/** A new empty vault record (height 0, the genesis hashes). */
export function newVault(organization: string, vault: string, internalId: number): VaultRec {
  return {
    organization,
    vault,
    internalId,
    height: 0,
    applied: 1,
    tipHash: '0'.repeat(64),
    stateRoot: sha(`genesis:${organization}/${vault}`),
    entities: {},
    relationships: [],
    idempotency: {},
    health: { state: 'healthy' },
  };
}

/** One applied operation of a write. */
export type Op =
  | { set: { key: string; value: string; expiresAt?: string } }
  | { rel: { resource: string; relation: string; subject: string } };

/** Applies one block to a vault replica: the operations, the server's own audit key, the new hashes and height. */
export function applyBlock(v: VaultRec, ops: Op[], at: { ns: string; client: string; key: string; digest: string }): number {
  for (const op of ops) {
    if ('set' in op) {
      const prev = v.entities[op.set.key];
      v.entities[op.set.key] = { value: op.set.value, ...(op.set.expiresAt ? { expiresAt: op.set.expiresAt } : {}), version: (prev?.version ?? 0) + 1 };
    } else {
      const r = `${op.rel.resource}\u0000${op.rel.relation}\u0000${op.rel.subject}`;
      if (!v.relationships.includes(r)) v.relationships = [...v.relationships, r].sort();
    }
  }
  // The real server records every write under `_audit:vault:0:write:<ns>` in the vault itself.
  const audit = Buffer.from(`write org:${v.organization}:vault:${v.vault} operations_count=${ops.length}`).toString('base64');
  v.entities[`_audit:vault:0:write:${at.ns}`] = { value: audit, version: 1 };
  v.height += 1;
  v.applied += 1;
  v.stateRoot = sha(JSON.stringify(Object.entries(v.entities).sort(([a], [b]) => (a < b ? -1 : 1))) + v.relationships.join('\n'));
  v.tipHash = sha(`${v.tipHash}:${v.height}:${at.digest}:${v.stateRoot}`);
  v.idempotency[`${at.client}\u0000${at.key}`] = { payload: at.digest, height: v.height };
  const keys = Object.keys(v.idempotency);
  for (let i = 0; i < keys.length - MAX_KEYS; i++) delete v.idempotency[keys[i]!];
  return v.height;
}

/** A vault's key in {@link Replica.vaults}. */
export const vaultKey = (organization: string, vault: string): string => `${organization}/${vault}`;
