/**
 * An export re-created in a (new) cluster: its data regions provisioned, a
 * recovery admin user registered (organizations need an admin caller, and
 * the server makes users only through email onboarding, whose code it
 * returns in the response when it runs with --email-blinding-key), the
 * organizations and vaults created with their original slugs, then each data
 * line of the export written as one write through the vault's leader. Every
 * step is idempotent on the server: a slug or an idempotency key used again
 * answers the first result, so a retried import after a worker crash
 * converges without writing anything twice.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { EffectResult, NodeRef } from '../common/types';
import { TransportError } from '../transport/errors';
import type { LedgerContext } from './context';
import { readExport, type ExportLine } from './export';
import type { LedgerFileRef } from './types';

/**
 * How long a new organization may take to become ACTIVE. The server's saga usually
 * takes seconds, but its orchestrator polls every 30 s (SAGA_POLL_INTERVAL at
 * 21345c4) and backs a failed saga off 1 s, 2 s, 4 s ... (up to 5 min): a saga whose
 * first steps met the new region's group still electing can need minutes. A clean-clone
 * CI run saw an organization not found for 90 s on each of the import's attempts.
 */
const ORG_ACTIVE_MS = 300_000;

type Counts = { organizations: number; vaults: number; entities: number; relationships: number };

/**
 * Recreates an export in the cluster `node` belongs to: data regions, a
 * recovery admin user, organizations and vaults with their slugs, then the
 * data in batches whose idempotency keys derive from the export id; finally
 * counts what landed.
 */
export async function ledgerImport(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean; from: LedgerFileRef }): Promise<EffectResult & Counts> {
  return ctx.run(async () => {
    const plan = `re-create ${input.from.node}:${input.from.path} in the cluster of ${input.node}: ProvisionRegion, onboarding of the recovery admin, CreateOrganization and CreateVault with the exported slugs, then one Write per data line`;
    const none = { organizations: 0, vaults: 0, entities: 0, relationships: 0 };
    if (input.dryRun) return { dryRun: true, plan, ...none };
    const lines = await readExport(ctx, input.cluster, input.from);
    const head = lines[0] as Extract<ExportLine, { kind: 'lifeboat-ledger-export' }>;
    const orgs = lines.filter((l): l is Extract<ExportLine, { kind: 'organization' }> => l.kind === 'organization');
    const { cluster } = ctx.lookup(input);
    const nodes = cluster.nodes.filter((n) => n.grpc).map((n) => n.name);
    // A write can wait out an election (tens of seconds on the real server): the progress heartbeats on a clock.
    return ctx.progress(async (report) => {
      const beat = (what: string, extra: Record<string, unknown> = {}): void => report({ importing: what, ...extra });

      const regions = [...new Set(orgs.map((o) => o.region).filter((r) => r && r !== 'global'))];
      if (orgs.some((o) => !o.region || o.region === 'global')) {
        throw new TransportError('BadExport', `the export names an organization without a data region (${orgs.filter((o) => !o.region || o.region === 'global').map((o) => o.slug).join(', ')}); it cannot be re-created`, false);
      }
      const leader = await ctx.globalLeader(input.cluster);
      for (const name of regions) {
        beat(`region ${name}`);
        await ctx.callAt(input.cluster, leader.address, 'AdminService', 'ProvisionRegion', { name, protected: false, requires_residency: false, retention_days: 90 }, 30_000);
      }
      const caller = regions.length ? await recoveryAdmin(ctx, input.cluster, nodes, leader.address, regions[0]!, ctx.setting(cluster, 'recoveryEmail')) : undefined;

      const done: Counts = { ...none };
      const unnamed = orgs.filter((o) => !o.name);
      for (const org of orgs) {
        beat(`organization ${org.slug}`);
        await ctx.callAt(input.cluster, leader.address, 'OrganizationService', 'CreateOrganization', { name: org.name || `org-${org.slug}`, region: org.region, caller: { slug: caller }, slug: { slug: org.slug } }, 30_000);
        await untilActive(ctx, input.cluster, leader.address, org.slug, caller!);
        done.organizations++;
      }
      for (const [i, line] of lines.entries()) {
        if (line.kind === 'vault') {
          beat(`vault ${line.organization}/${line.vault}`);
          await ctx.onLeader(input.cluster, nodes, 'VaultService', 'CreateVault', { organization: { slug: line.organization }, caller: { slug: caller }, slug: { slug: line.vault } }, 30_000);
          done.vaults++;
        } else if (line.kind === 'entities' || line.kind === 'relationships') {
          beat(`line ${i + 1} of ${lines.length}`, { vault: `${line.organization}/${line.vault}` });
          await writeLine(ctx, input.cluster, nodes, head.exportId, i, line);
          if (line.kind === 'entities') done.entities += line.items.length;
          else done.relationships += line.items.length;
        }
      }
      // What landed: every exported key must read back in its vault.
      for (const v of lines.filter((l): l is Extract<ExportLine, { kind: 'vault' }> => l.kind === 'vault')) {
        const want = lines.filter((l) => l.kind === 'entities' && l.organization === v.organization && l.vault === v.vault).reduce((n, l) => n + (l as { items: unknown[] }).items.length, 0);
        let have = 0;
        // A replica applies the last writes a moment after the leader.
        for (let round = 0; round < 15; round++) {
          have = await countEntities(ctx, input.cluster, leader.address, v.organization, v.vault);
          if (have >= want) break;
          await ctx.sleep(1_000);
        }
        if (have < want) {
          throw new TransportError('ImportIncomplete', `vault ${v.organization}/${v.vault} holds ${have} of the ${want} exported entities after the import; it will be retried`, true);
        }
      }
      return {
        plan,
        ...done,
        output:
          `re-created ${done.organizations} organization(s), ${done.vaults} vault(s), ${done.entities} entities, ${done.relationships} relationships from export ${head.exportId} (source ${head.source.cluster}/${head.source.node}, cluster ${head.source.clusterId ?? '?'})` +
          (unnamed.length ? `; named ${unnamed.map((o) => `org-${o.slug}`).join(', ')} (the server keeps names for members only): rename them and re-add their members` : '; re-add each organization\'s members'),
      };
    }, { importing: 'the export' });
  });
}

/** Alternate addresses tried when the configured address is stuck in a registration an earlier attempt began. */
const ADMIN_ALTERNATES = 5;

/** `ops-lifeboat-2@example.com` for `ops@example.com`, the k-th alternate (not `+2`: the server folds sub-addresses into one user). */
function alternateAddress(email: string, k: number): string {
  const at = email.lastIndexOf('@');
  return at > 0 ? `${email.slice(0, at)}-lifeboat-${k}${email.slice(at)}` : `${email}-lifeboat-${k}`;
}

/**
 * The recovery admin's user slug: registered through email onboarding, or found again on a retry.
 * A registration an earlier attempt began and never finished (a worker killed mid-import) leaves the
 * address stuck: the server then answers every code for it with "Invalid verification code" (it does not
 * say that the user exists but is not active). The next alternate address (`<local>-lifeboat-1@<domain>`, ...) is used then;
 * the same order on every retry, so a finished one is found again.
 */
async function recoveryAdmin(ctx: LedgerContext, cluster: string, nodes: string[], globalLeader: string, region: string, email: string): Promise<string> {
  for (let k = 0; k <= ADMIN_ALTERNATES; k++) {
    const slug = await registerAdmin(ctx, cluster, nodes, globalLeader, region, k === 0 ? email : alternateAddress(email, k));
    if (slug !== undefined) return slug;
  }
  throw new TransportError(
    'OnboardingFailed',
    `the recovery admin ${email} and its ${ADMIN_ALTERNATES} alternate addresses are all stuck in unfinished registrations (the server answers their codes with "Invalid verification code"); set settings.recoveryEmail to a new address, then retry`,
    false,
  );
}

/** One address's registration: the user's slug, or undefined when the address is stuck. */
async function registerAdmin(ctx: LedgerContext, cluster: string, nodes: string[], globalLeader: string, region: string, email: string): Promise<string | undefined> {
  type Verified = { existing_user?: { user?: { slug?: string } } | null; new_user?: { onboarding_token?: string } | null };
  const init = await onboarding<{ code?: string }>(ctx, cluster, nodes, 'InitiateEmailVerification', { email, region });
  if (!init.code) throw new TransportError('OnboardingFailed', `InitiateEmailVerification for ${email} returned no code; the import needs the server to return it (it does at 21345c4)`, false);
  let verified: Verified;
  try {
    verified = await onboarding<Verified>(ctx, cluster, nodes, 'VerifyEmailCode', { email, code: init.code, region });
  } catch (err) {
    if (err instanceof TransportError && err.type === 'PermissionDenied' && /Invalid verification code/.test(err.message)) return undefined;
    throw err;
  }
  const existing = verified.existing_user?.user?.slug;
  if (existing) return existing;
  const token = verified.new_user?.onboarding_token;
  if (!token) throw new TransportError('OnboardingFailed', `VerifyEmailCode for ${email} answered neither an existing user nor an onboarding token`, false);
  const done = await ctx.callAt<{ user?: { slug?: { slug?: string } } }>(
    cluster,
    globalLeader,
    'UserService',
    'CompleteRegistration',
    { onboarding_token: token, email, region, name: 'Lifeboat recovery', organization_name: 'lifeboat-recovery' },
    60_000,
  );
  const slug = done.user?.slug?.slug;
  if (!slug) throw new TransportError('OnboardingFailed', `CompleteRegistration for ${email} returned no user slug`, false);
  return slug;
}

/** An onboarding call, served by the data region's leader only. */
async function onboarding<T>(ctx: LedgerContext, cluster: string, nodes: string[], method: string, req: object): Promise<T> {
  try {
    return (await ctx.onLeader<T>(cluster, nodes, 'UserService', method, req, 30_000)).res;
  } catch (err) {
    if (err instanceof TransportError && err.type === 'FailedPrecondition') {
      throw new TransportError(
        'OnboardingUnavailable',
        `${method} was refused (${err.message.split('; ')[0]}): the import registers a recovery admin through email onboarding, which needs every node to run with --email-blinding-key (as the project's bootstrap script starts them); add it to the ledger unit and retry`,
        false,
      );
    }
    throw err;
  }
}

async function untilActive(ctx: LedgerContext, cluster: string, address: string, slug: string, caller: string): Promise<void> {
  const deadline = Date.now() + ORG_ACTIVE_MS;
  // What the last read said: the status, or why there was none (e.g. not found while the saga runs).
  let status = 'unread';
  while (Date.now() < deadline) {
    try {
      const org = await ctx.callAt<{ status?: string }>(cluster, address, 'OrganizationService', 'GetOrganization', { slug: { slug }, caller: { slug: caller } }, 10_000);
      status = org.status ?? 'without a status';
      if (status === 'ORGANIZATION_STATUS_ACTIVE') return;
    } catch (err) {
      if (!(err instanceof TransportError) || (err.type !== 'NotFound' && !err.retryable)) throw err;
      status = `unreadable (${err.type}: ${err.message.split('; ')[0]})`;
    }
    Context.current().heartbeat({ importing: `organization ${slug}`, status });
    await ctx.sleep(1_000);
  }
  throw new TransportError('OrganizationNotActive', `organization ${slug} is still ${status} ${ORG_ACTIVE_MS / 1000} s after it was created (the server's organization saga has not finished: see its log for the saga's errors); it will be retried`, true);
}

/** One data line as one write; its idempotency key is the export id and the line's number. */
async function writeLine(
  ctx: LedgerContext,
  cluster: string,
  nodes: string[],
  exportId: string,
  index: number,
  line: Extract<ExportLine, { kind: 'entities' | 'relationships' }>,
): Promise<void> {
  const operations =
    line.kind === 'entities'
      ? line.items.map((e) => ({ set_entity: { key: e.key, value: Buffer.from(e.value, 'base64'), ...(e.expiresAt ? { expires_at: e.expiresAt } : {}) } }))
      : line.items.map((r) => ({ create_relationship: { resource: r.resource, relation: r.relation, subject: r.subject } }));
  const key = createHash('sha256').update(`${exportId}:${index}`).digest().subarray(0, 16);
  type Res = { success?: object | null; error?: { code?: string; message?: string } | null };
  const { res } = await ctx.onLeader<Res>(
    cluster,
    nodes,
    'WriteService',
    'Write',
    { organization: { slug: line.organization }, vault: { slug: line.vault }, client_id: { id: 'lifeboat-import' }, idempotency_key: key, operations },
    30_000,
  );
  if (res.success || res.error?.code === 'WRITE_ERROR_CODE_ALREADY_COMMITTED') return;
  throw new TransportError(
    'ImportWriteRejected',
    `writing line ${index + 1} into ${line.organization}/${line.vault} was refused: ${res.error?.code ?? 'no result'} ${res.error?.message ?? ''}` +
      (res.error?.code === 'WRITE_ERROR_CODE_IDEMPOTENCY_KEY_REUSED' ? '; the export changed since this import began: export again and start the import over' : ''),
    false,
  );
}

/** Entities of a vault, leaving out the server's own `_audit:` keys. */
async function countEntities(ctx: LedgerContext, cluster: string, address: string, organization: string, vault: string): Promise<number> {
  let n = 0;
  let token = '';
  for (let page = 0; page < 100_000; page++) {
    const res = await ctx.callAt<{ entities?: Array<{ key?: string }>; next_page_token?: string }>(
      cluster,
      address,
      'ReadService',
      'ListEntities',
      { organization: { slug: organization }, vault: { slug: vault }, consistency: 'READ_CONSISTENCY_EVENTUAL', limit: 500, page_token: token },
      30_000,
    );
    n += (res.entities ?? []).filter((e) => e.key && !e.key.startsWith('_audit:')).length;
    token = res.next_page_token ?? '';
    if (!token) break;
  }
  return n;
}
