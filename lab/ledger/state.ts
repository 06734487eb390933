/**
 * The simulated ledger node's on-disk state: one JSON file in the node's data
 * directory holding its cluster identity, membership, Raft term and commit
 * index, and every vault as a hash-chained list of blocks.
 *
 * The file is the truth a node (re)loads when it starts, so `rm -rf /data/*`
 * over SSH really loses a node's data, and editing a block really breaks the
 * vault's hash chain (which `CheckIntegrity` then finds).
 *
 * @module
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Name of the state file inside a node's data directory. */
export const STATE_FILE = 'ledger-state.json';
export const STATE_FORMAT = 'inferadb-ledger-lab/1';
/** The `prev_hash` of a vault's first block. */
export const GENESIS_PREV = '0'.repeat(64);

export type VaultStatus = 'ACTIVE' | 'DIVERGED' | 'RECOVERING';

export interface Block {
  height: number;
  prev_hash: string;
  hash: string;
  /** Base64 of the written bytes. */
  payload: string;
  idempotency_key?: string;
}

export interface VaultState {
  status: VaultStatus;
  blocks: Block[];
}

export interface OrganizationState {
  name: string;
  vaults: Record<string, VaultState>;
}

/** Where an applied idempotency key landed, so a retried write answers the same height. */
export interface IdempotencyEntry {
  organization: string;
  vault: string;
  height: number;
}

export interface LedgerState {
  format: typeof STATE_FORMAT;
  /** Empty while a node has no cluster (fresh data directory). */
  cluster_id: string;
  mode: 'cluster' | 'single';
  /** Configured voters, by node name. */
  members: string[];
  term: number;
  commit_index: number;
  organizations: Record<string, OrganizationState>;
  idempotency: Record<string, IdempotencyEntry>;
}

/** How many idempotency keys a node remembers (oldest forgotten first). */
const MAX_IDEMPOTENCY_KEYS = 10_000;

/** A node with no data: no cluster, no vaults. */
export function emptyState(): LedgerState {
  return { format: STATE_FORMAT, cluster_id: '', mode: 'cluster', members: [], term: 0, commit_index: 0, organizations: {}, idempotency: {} };
}

/** `true` when the state holds a cluster identity (a node that was ever part of a cluster). */
export function hasData(s: LedgerState): boolean {
  return s.cluster_id !== '';
}

/** A fresh cluster id, uuid-shaped like the real ledger's. */
export function newClusterId(): string {
  return randomUUID();
}

/** The hash of a block: sha256 over its predecessor's hash, its height and its payload. */
export function blockHash(prevHash: string, height: number, payload: string): string {
  return createHash('sha256').update(`${prevHash}:${height}:${payload}`).digest('hex');
}

/** Appends a correctly chained block to a vault and returns it. */
export function appendBlock(vault: VaultState, payload: Buffer, idempotencyKey?: string): Block {
  const prev = vault.blocks[vault.blocks.length - 1];
  const height = (prev?.height ?? 0) + 1;
  const prevHash = prev?.hash ?? GENESIS_PREV;
  const data = payload.toString('base64');
  const block: Block = { height, prev_hash: prevHash, hash: blockHash(prevHash, height, data), payload: data };
  if (idempotencyKey) block.idempotency_key = idempotencyKey;
  vault.blocks.push(block);
  return block;
}

/** Remembers an idempotency key, forgetting the oldest beyond the bound. */
export function rememberKey(s: LedgerState, key: string, entry: IdempotencyEntry): void {
  s.idempotency[key] = entry;
  const keys = Object.keys(s.idempotency);
  for (let i = 0; i < keys.length - MAX_IDEMPOTENCY_KEYS; i++) delete s.idempotency[keys[i]!];
}

/** Height of a vault's tip (0 when empty). */
export function vaultHeight(v: VaultState): number {
  return v.blocks[v.blocks.length - 1]?.height ?? 0;
}

/** Hash of a vault's tip ('' when empty). */
export function vaultTipHash(v: VaultState): string {
  return v.blocks[v.blocks.length - 1]?.hash ?? '';
}

/**
 * The seed data every lab node starts with: organization "1" (acme) with the
 * vaults "payments", "audit" and "identity", each a short valid chain.
 *
 * @param clusterId the cluster's identity
 * @param members the configured voters
 */
export function seedState(clusterId: string, members: string[]): LedgerState {
  const s = emptyState();
  s.cluster_id = clusterId;
  s.members = [...members];
  s.term = 1;
  const vaults: Record<string, VaultState> = {};
  const plan: Array<[string, number]> = [
    ['payments', 6],
    ['audit', 4],
    ['identity', 3],
  ];
  for (const [slug, count] of plan) {
    const v: VaultState = { status: 'ACTIVE', blocks: [] };
    for (let i = 1; i <= count; i++) {
      appendBlock(v, Buffer.from(JSON.stringify({ vault: slug, seq: i, op: 'seed', amount: i * 100 })));
    }
    vaults[slug] = v;
  }
  s.organizations['1'] = { name: 'acme', vaults };
  s.commit_index = plan.reduce((n, [, c]) => n + c, 0);
  return s;
}

/** Path of the state file in a data directory. */
export function statePath(dataDir: string): string {
  return join(dataDir, STATE_FILE);
}

/** Result of reading a data directory. */
export type LoadResult = { kind: 'missing' } | { kind: 'ok'; state: LedgerState } | { kind: 'corrupt'; error: string };

/** Reads a node's state file; a missing file is an empty node, an unparsable one is reported, never guessed at. */
export function loadState(dataDir: string): LoadResult {
  const file = statePath(dataDir);
  if (!existsSync(file)) return { kind: 'missing' };
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<LedgerState>;
    if (parsed.format !== STATE_FORMAT || typeof parsed.cluster_id !== 'string' || typeof parsed.organizations !== 'object') {
      return { kind: 'corrupt', error: `not a ${STATE_FORMAT} state file` };
    }
    return { kind: 'ok', state: { ...emptyState(), ...parsed } as LedgerState };
  } catch (e) {
    return { kind: 'corrupt', error: (e as Error).message };
  }
}

/** Writes the state file atomically (temporary file + rename), creating the data directory if needed. */
export function saveState(dataDir: string, s: LedgerState): void {
  mkdirSync(dataDir, { recursive: true });
  const tmp = join(dataDir, `.${STATE_FILE}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  writeFileSync(tmp, JSON.stringify(s, null, 1) + '\n');
  renameSync(tmp, statePath(dataDir));
}

/** Outcome of verifying a vault's chain. */
export interface IntegrityReport {
  ok: boolean;
  blocksChecked: number;
  problems: string[];
}

/**
 * Verifies a vault's hash chain: consecutive heights from 1, each block's
 * `prev_hash` equal to its predecessor's hash, each block's hash recomputed.
 * A quick check (not `full`) recomputes only the last 8 blocks' hashes.
 */
export function checkChain(v: VaultState, full: boolean): IntegrityReport {
  const problems: string[] = [];
  const from = full ? 0 : Math.max(0, v.blocks.length - 8);
  let checked = 0;
  for (let i = from; i < v.blocks.length; i++) {
    const b = v.blocks[i]!;
    checked++;
    const prevHash = i === 0 ? GENESIS_PREV : v.blocks[i - 1]!.hash;
    if (b.height !== i + 1) problems.push(`block #${i + 1}: height ${b.height}, expected ${i + 1}`);
    if (b.prev_hash !== prevHash) problems.push(`block ${b.height}: prev_hash does not match block ${b.height - 1}'s hash`);
    if (blockHash(b.prev_hash, b.height, b.payload) !== b.hash) problems.push(`block ${b.height}: hash mismatch (content altered)`);
    if (problems.length >= 20) {
      problems.push('... further problems not listed');
      break;
    }
  }
  return { ok: problems.length === 0, blocksChecked: checked, problems };
}

/** Deep copy (the state is plain JSON). */
export function cloneState<T>(s: T): T {
  return structuredClone(s);
}
