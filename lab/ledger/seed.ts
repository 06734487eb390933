/**
 * How the lab forms its ledger cluster and fills it, on either backend,
 * through the same gRPC calls Lifeboat and the project's own scripts make:
 * start every unit, `inferadb-ledger init` on the first node, wait until the
 * others have joined, then ProvisionRegion (GLOBAL leader), onboard a user
 * by email (region leader, then GLOBAL leader), CreateOrganization and
 * CreateVault with fixed slugs, and a few writes of entities and
 * relationships through the region leader. Every wait is bounded; the real
 * server's slow parts (its registration saga takes seconds, an
 * organization a few more) are waited for.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { LedgerBackend } from './backend';
import { call, callLeader, LedgerCallError, nodeView, retry } from './client';
import type { LedgerUnit } from './units';

/** What the lab seeds into the primary cluster (tests import it from ./index). */
export const LAB_LEDGER_SEED = {
  region: 'us-east-va',
  email: 'ops@lab.example',
  organization: '500000000000000001',
  organizationName: 'acme',
  vault: '600000000000000001',
  /** `doc:1` .. `doc:20`, five per write. */
  entities: 20,
  /** `doc:i viewer user:<name>`, in one write. */
  relationships: 5,
} as const;

/** The value the seed writes under `doc:<i>`. */
export function seedValue(i: number): Buffer {
  return Buffer.from(JSON.stringify({ doc: i, title: `document ${i}`, owner: 'acme' }));
}

/** What the seed made: the user slug it registered and the block height the vault reached. */
export interface SeedResult {
  user: string;
  height: number;
}

const ACTOR = 'seed';
const vaultMsg = { organization: { slug: LAB_LEDGER_SEED.organization }, vault: { slug: LAB_LEDGER_SEED.vault } };

/** Starts every unit, initializes the first node and waits (bounded) until every node is a member of its cluster. */
export async function formCluster(backend: LedgerBackend, units: LedgerUnit[], withinMs: number): Promise<string> {
  for (const u of units) await backend.start(u);
  const first = units[0]!;
  await retry('the first node to answer', () => nodeView(first.listen, ACTOR), 30_000);
  const init = await backend.cli(first.node, ['init', '--host', first.listen]);
  const clusterId = /cluster_id=(\d+)/.exec(init.stdout)?.[1];
  if (init.exitCode !== 0 || !clusterId) throw new Error(`lab ledger: init on ${first.node} failed: ${init.stdout}${init.stderr ?? ''}`);
  await retry(
    `all ${units.length} nodes to join cluster ${clusterId}`,
    async () => {
      const views = await Promise.all(units.map((u) => nodeView(u.listen, ACTOR)));
      const leader = views[0];
      const ok = leader && leader.members.length === units.length && views.every((v) => v?.clusterId === clusterId);
      return ok ? true : undefined;
    },
    withinMs,
    250,
  );
  // Followers refuse proposals for a moment after they join ("Node is starting up"): wait until every node is healthy.
  await retry(
    'every node to report healthy',
    async () => {
      const hs = await Promise.all(units.map((u) => call(u.listen, 'HealthService', 'Check', {}, 2000, ACTOR)));
      return hs.every((h) => h.status === 'HEALTH_STATUS_HEALTHY') ? true : undefined;
    },
    withinMs,
    250,
  );
  return clusterId;
}

/** The GLOBAL leader's address, as a node that answers names it (and confirmed by asking it). */
export async function globalLeaderAddress(units: LedgerUnit[], actor = ACTOR): Promise<string | undefined> {
  for (const u of units) {
    const v = await nodeView(u.listen, actor);
    const m = v && v.leaderId !== '0' ? v.members.find((x) => x.id === v.leaderId) : undefined;
    if (!m) continue;
    const self = await nodeView(m.address, actor);
    if (self?.nodeId === v!.leaderId) return m.address;
  }
  return undefined;
}

const retryable = (e: unknown): boolean =>
  !(e instanceof LedgerCallError) || [14, 4, 13, 9, 5].includes(e.code); // UNAVAILABLE, DEADLINE, INTERNAL, FAILED_PRECONDITION, NOT_FOUND: the cluster is settling

/** Runs `fn` until it succeeds or fails for good (a bounded retry of the cluster's transient refusals). */
async function settle<T>(what: string, fn: () => Promise<T>, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (let i = 0; i < 10_000; i++) {
    try {
      return await fn();
    } catch (e) {
      if (!retryable(e) || Date.now() >= deadline) throw new Error(`lab ledger: ${what} failed: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error(`lab ledger: ${what} did not succeed`);
}

/** Fills a formed cluster with {@link LAB_LEDGER_SEED}. */
export async function seedData(units: LedgerUnit[], withinMs: number): Promise<SeedResult> {
  const any = units[0]!.listen;
  const s = LAB_LEDGER_SEED;
  const leader = await retry('a GLOBAL leader', () => globalLeaderAddress(units), withinMs);
  await settle('ProvisionRegion', () => call(leader, 'AdminService', 'ProvisionRegion', { name: s.region, protected: false, requires_residency: false, retention_days: 90 }, 20_000, ACTOR), withinMs);

  const code = await settle('InitiateEmailVerification', async () => (await callLeader(any, 'UserService', 'InitiateEmailVerification', { email: s.email, region: s.region }, 10_000, ACTOR)).res.code as string, withinMs);
  const verified = await settle('VerifyEmailCode', async () => (await callLeader(any, 'UserService', 'VerifyEmailCode', { email: s.email, code, region: s.region }, 10_000, ACTOR)).res, withinMs);
  let user = verified.existing_user?.user?.slug as string | undefined;
  if (!user) {
    const done = await settle(
      'CompleteRegistration',
      () => call(leader, 'UserService', 'CompleteRegistration', { onboarding_token: verified.new_user.onboarding_token, email: s.email, region: s.region, name: 'Lab Operator', organization_name: 'lab-default' }, 60_000, ACTOR),
      withinMs,
    );
    user = String(done.user.slug.slug);
  }
  const caller = { slug: user };
  await settle('CreateOrganization', () => call(any, 'OrganizationService', 'CreateOrganization', { name: s.organizationName, region: s.region, caller, slug: { slug: s.organization } }, 30_000, ACTOR), withinMs);
  await retry(
    `organization ${s.organization} to become ACTIVE`,
    async () => ((await call(any, 'OrganizationService', 'GetOrganization', { slug: { slug: s.organization }, caller }, 5000, ACTOR)).status === 'ORGANIZATION_STATUS_ACTIVE' ? true : undefined),
    withinMs,
    500,
  );
  await settle('CreateVault', () => callLeader(any, 'VaultService', 'CreateVault', { ...vaultMsg, caller, slug: { slug: s.vault } }, 30_000, ACTOR), withinMs);

  let height = 0;
  const per = 5;
  for (let w = 0; w * per < s.entities; w++) {
    const operations = Array.from({ length: Math.min(per, s.entities - w * per) }, (_, j) => {
      const i = w * per + j + 1;
      return { set_entity: { key: `doc:${i}`, value: seedValue(i) } };
    });
    height = await seedWrite(any, `entities-${w}`, operations, withinMs);
  }
  const names = ['alice', 'bob', 'carol', 'dave', 'erin'];
  const rels = Array.from({ length: s.relationships }, (_, i) => ({ create_relationship: { resource: `doc:${i + 1}`, relation: 'viewer', subject: `user:${names[i % names.length]}` } }));
  height = await seedWrite(any, 'relationships', rels, withinMs);

  // Every replica has applied the seed before the lab says it is up.
  await retry(
    'every node to read the seed',
    async () => {
      const rs = await Promise.all(units.map((u) => call(u.listen, 'ReadService', 'Read', { ...vaultMsg, key: `doc:${s.entities}` }, 3000, ACTOR)));
      return rs.every((r) => Number(r.block_height) >= height && r.value) ? true : undefined;
    },
    withinMs,
    250,
  );
  return { user, height };
}

async function seedWrite(any: string, tag: string, operations: object[], withinMs: number): Promise<number> {
  const key = createHash('sha256').update(`lab-ledger-seed:${tag}`).digest().subarray(0, 16);
  const { res } = await settle(`the seed write ${tag}`, () => callLeader(any, 'WriteService', 'Write', { ...vaultMsg, client_id: { id: 'lab-seed' }, idempotency_key: key, operations }, 30_000, ACTOR), withinMs);
  if (!res.success) throw new Error(`lab ledger: the seed write ${tag} was refused: ${JSON.stringify(res.error)}`);
  return Number(res.success.block_height);
}
