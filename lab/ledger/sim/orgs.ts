/**
 * The simulated node's organizations, vaults and users, as the real server
 * makes them: email onboarding (InitiateEmailVerification and
 * VerifyEmailCode on the region leader, the code returned in the response;
 * CompleteRegistration on the GLOBAL leader, creating the user and a first
 * organization), CreateOrganization with a client-chosen slug (idempotent,
 * PROVISIONING then ACTIVE after `orgActiveMs`), CreateVault on the region
 * leader, VaultService listings (height always 0, as the real one reads it),
 * and discovery (GetSystemState lists every organization; ResolveRegionLeader).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { SimCluster, SimNode } from './cluster';
import { needVault, onRegionLeader } from './data';
import { newVault, snowflake, vaultKey, type OrgRec } from './model';
import { invalid, notFound, precondition, proposalTimeout, RpcError, slugOf, unary, type CallCtx } from './rpc';

type Slug = { slug?: string } | null | undefined;

const orgStatus = (o: OrgRec): string => (Date.now() >= o.activeAt ? 'ORGANIZATION_STATUS_ACTIVE' : 'ORGANIZATION_STATUS_PROVISIONING');

function sagaReady(n: SimNode): string {
  if (!n.r.clusterId) throw new RpcError(grpc.status.UNAVAILABLE, 'Saga orchestrator not ready — try again shortly');
  return n.r.clusterId;
}

function createOrganization(sim: SimCluster, n: SimNode, req: { name?: string; region?: string; caller?: Slug; slug?: Slug }, ctx: CallCtx): object {
  const slug = slugOf(req.slug);
  const caller = slugOf(req.caller);
  const region = req.region ?? '';
  if (!slug) throw invalid('CreateOrganizationRequest.slug is required');
  if (!caller) throw invalid('caller is required: every organization must have an admin user');
  if (!req.name) throw invalid('name is required');
  if (region.toLowerCase() === 'global') throw invalid('Organizations cannot be assigned to the GLOBAL control plane region');
  const cid = sagaReady(n);
  const existing = n.r.orgs[slug];
  if (existing) return { slug: { slug }, name: existing.name, region: existing.region, status: orgStatus(existing) };
  if (!n.r.regions[region]) throw precondition(`Data region ${region || '(none)'} is not provisioned`);
  if (!n.r.users[caller]) throw notFound(`Admin user with slug ${caller} not found`);
  // Without quorum the saga is accepted and never completes (as observed on the real server).
  if (sim.canCommit(cid)) {
    const activeAt = Date.now() + sim.t.orgActiveMs;
    sim.commit(cid, (r) => {
      r.orgs[slug] = { slug, name: req.name!, region, internalId: r.nextOrgId, activeAt, admin: caller, nextVault: 1 };
      r.nextOrgId += 1;
      r.index += 1;
    });
    if (!ctx.lab) sim.record(n.name, 'ledger.org', { organization: slug, name: req.name, region });
  }
  return { slug: { slug }, name: req.name, region, status: 'ORGANIZATION_STATUS_PROVISIONING' };
}

function getOrganization(n: SimNode, req: { slug?: Slug; caller?: Slug }): object {
  const slug = slugOf(req.slug);
  if (!slugOf(req.caller)) throw invalid('Missing user');
  const o = n.r.orgs[slug];
  if (!o) throw notFound(`Organization ${slug} not found`);
  return { slug: { slug }, name: o.name, region: o.region, status: orgStatus(o) };
}

async function createVault(sim: SimCluster, n: SimNode, req: { organization?: Slug; slug?: Slug }, ctx: CallCtx): Promise<object> {
  const organization = slugOf(req.organization);
  const vault = slugOf(req.slug);
  if (!vault) throw invalid('CreateVaultRequest.slug is required');
  const o = n.r.orgs[organization];
  if (!o) throw notFound(`Organization ${organization} not found`);
  if (orgStatus(o) !== 'ORGANIZATION_STATUS_ACTIVE') throw precondition(`Organization ${organization} is not active yet (provisioning)`);
  onRegionLeader(sim, n, o.region, `Not the leader for organization org:${o.internalId} in region ${o.region}`, String(o.internalId));
  if (n.r.vaults[vaultKey(organization, vault)]) return { vault: { slug: vault } };
  const cid = n.r.clusterId;
  if (!sim.canCommit(cid)) return proposalTimeout(sim);
  sim.commit(cid, (r) => {
    const org = r.orgs[organization]!;
    r.vaults[vaultKey(organization, vault)] = newVault(organization, vault, org.nextVault);
    org.nextVault += 1;
    r.index += 1;
  });
  if (!ctx.lab) sim.record(n.name, 'ledger.vault', { organization, vault });
  return { vault: { slug: vault } };
}

const vaultMessage = (organization: string, vault: string): object => ({ organization: { slug: organization }, vault: { slug: vault }, height: '0', status: 'VAULT_STATUS_ACTIVE' });

function listVaults(n: SimNode, req: { page_token?: Buffer | null; page_size?: number; organization?: Slug }): object {
  const only = slugOf(req.organization);
  const all = Object.values(n.r.vaults)
    .filter((v) => !only || v.organization === only)
    .sort((a, b) => (vaultKey(a.organization, a.vault) < vaultKey(b.organization, b.vault) ? -1 : 1));
  const from = req.page_token?.length ? Number(req.page_token.toString('utf8')) || 0 : 0;
  const size = Math.min(Math.max(req.page_size || 100, 1), 1000);
  const out = all.slice(from, from + size).map((v) => vaultMessage(v.organization, v.vault));
  return { vaults: out, ...(from + size < all.length ? { next_page_token: Buffer.from(String(from + size)) } : {}) };
}

function onboardingKey(n: SimNode): void {
  if (!n.unit.blindingKey) throw precondition('Onboarding is not enabled: email blinding key not configured');
}

/** The region leader of a data region, for the onboarding calls (regional proposals). */
function regionalLeader(sim: SimCluster, n: SimNode, region: string): string {
  const cid = sagaReady(n);
  if (!n.r.regions[region]) throw precondition(`Data region ${region || '(none)'} is not provisioned`);
  onRegionLeader(sim, n, region, `Not the leader for region ${region}`);
  return cid;
}

async function initiate(sim: SimCluster, n: SimNode, req: { email?: string; region?: string }): Promise<object> {
  const email = (req.email ?? '').trim().toLowerCase();
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) throw invalid(`invalid email address: ${JSON.stringify(req.email ?? '')}`);
  onboardingKey(n);
  const region = req.region ?? '';
  const cid = regionalLeader(sim, n, region);
  if (!sim.canCommit(cid)) return proposalTimeout(sim);
  const code = Array.from(randomBytes(6), (b) => 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'[b % 32]).join('');
  sim.commit(cid, (r) => {
    r.codes[`${region}|${email}`] = code;
  });
  return { code };
}

async function verify(sim: SimCluster, n: SimNode, req: { email?: string; code?: string; region?: string }): Promise<object> {
  const email = (req.email ?? '').trim().toLowerCase();
  if (!req.code) throw invalid('code is required');
  onboardingKey(n);
  const region = req.region ?? '';
  const cid = regionalLeader(sim, n, region);
  if (n.r.codes[`${region}|${email}`] !== req.code.toUpperCase()) throw new RpcError(grpc.status.PERMISSION_DENIED, 'Invalid verification code');
  if (!sim.canCommit(cid)) return proposalTimeout(sim);
  const user = Object.values(n.r.users).find((u) => u.email === email);
  const token = `ilobt_${randomBytes(24).toString('base64url')}`;
  sim.commit(cid, (r) => {
    delete r.codes[`${region}|${email}`];
    if (!user) r.tokens[token] = { email, region };
  });
  return user ? { existing_user: { user: { slug: user.slug } } } : { new_user: { onboarding_token: token } };
}

async function complete(sim: SimCluster, n: SimNode, req: { onboarding_token?: string; email?: string; region?: string; name?: string; organization_name?: string }, ctx: CallCtx): Promise<object> {
  onboardingKey(n);
  if (!req.onboarding_token) throw invalid('onboarding_token is required');
  const cid = sagaReady(n);
  const email = (req.email ?? '').trim().toLowerCase();
  const t = n.r.tokens[req.onboarding_token];
  if (!t || t.email !== email) throw invalid('Invalid onboarding token: token not found or expired');
  if (Object.values(n.r.users).some((u) => u.email === email)) throw new RpcError(grpc.status.ALREADY_EXISTS, `A user with email ${email} already exists`);
  if (sim.liveLeader(cid) !== n) throw new RpcError(grpc.status.UNAVAILABLE, 'Not the GLOBAL leader — registration saga must run on the leader');
  if (!sim.canCommit(cid)) return proposalTimeout(sim);
  await new Promise((r) => setTimeout(r, sim.t.registrationMs));
  const slug = snowflake();
  const orgSlug = (BigInt(slug) + 1n).toString();
  const activeAt = Date.now() + sim.t.orgActiveMs;
  const name = req.name || email;
  sim.commit(cid, (r) => {
    delete r.tokens[req.onboarding_token!];
    r.users[slug] = { slug, email, name, region: t.region };
    r.orgs[orgSlug] = { slug: orgSlug, name: req.organization_name || 'default', region: t.region, internalId: r.nextOrgId, activeAt, admin: slug, nextVault: 1 };
    r.nextOrgId += 1;
    r.index += 1;
  });
  if (!ctx.lab) sim.record(n.name, 'ledger.user', { user: slug, email, organization: orgSlug });
  return { user: { name, slug: { slug } }, organization: { slug: orgSlug } };
}

function systemState(n: SimNode): object {
  // The real server (21345c4) lists every organization with an empty name and region "global".
  const orgs = Object.values(n.r.orgs).sort((a, b) => (BigInt(a.slug) < BigInt(b.slug) ? -1 : 1));
  return { version: String(n.r.index), organizations: orgs.map((o) => ({ slug: { slug: o.slug }, name: '', region: 'global', status: orgStatus(o) })) };
}

function resolveRegionLeader(sim: SimCluster, n: SimNode, req: { region?: string }): object {
  const cid = n.r.clusterId;
  const region = req.region ?? '';
  const id = region === 'global' || !cid ? sim.leaderView(n) : n.r.regions[region] ? sim.regionLeaderId(cid, region) : undefined;
  if (id === undefined) throw notFound(`Region ${region} is not provisioned`);
  if (!id) throw new RpcError(grpc.status.UNAVAILABLE, `No leader known for region ${region}`);
  const address = cid ? sim.address(cid, id) : n.unit.listen;
  return { endpoint: `http://${address}`, raft_term: String(cid ? sim.group(cid).term : 1), ttl_seconds: 10 };
}

type U = (m: string, fn: (req: any, ctx: CallCtx) => object | Promise<object>, mutating?: boolean) => grpc.UntypedHandleCall;  

function maker(sim: SimCluster, n: SimNode, service: string): U {
  return (m, fn, mutating = false) => unary(sim, n, service, m, fn, mutating);
}

export function organizationService(sim: SimCluster, n: SimNode): Record<string, grpc.UntypedHandleCall> {
  const u = maker(sim, n, 'OrganizationService');
  return { CreateOrganization: u('CreateOrganization', (r, c) => createOrganization(sim, n, r, c), true), GetOrganization: u('GetOrganization', (r) => getOrganization(n, r)) };
}

export function vaultService(sim: SimCluster, n: SimNode): Record<string, grpc.UntypedHandleCall> {
  const u = maker(sim, n, 'VaultService');
  return {
    CreateVault: u('CreateVault', (r, c) => createVault(sim, n, r, c), true),
    GetVault: u('GetVault', (r) => {
      const { organization, vault } = needVault(n, r);
      return vaultMessage(organization, vault);
    }),
    ListVaults: u('ListVaults', (r) => listVaults(n, r)),
  };
}

export function userService(sim: SimCluster, n: SimNode): Record<string, grpc.UntypedHandleCall> {
  const u = maker(sim, n, 'UserService');
  return {
    InitiateEmailVerification: u('InitiateEmailVerification', (r) => initiate(sim, n, r), true),
    VerifyEmailCode: u('VerifyEmailCode', (r) => verify(sim, n, r), true),
    CompleteRegistration: u('CompleteRegistration', (r, c) => complete(sim, n, r, c), true),
  };
}

export function discoveryService(sim: SimCluster, n: SimNode): Record<string, grpc.UntypedHandleCall> {
  const u = maker(sim, n, 'SystemDiscoveryService');
  return { GetSystemState: u('GetSystemState', () => systemState(n)), ResolveRegionLeader: u('ResolveRegionLeader', (r) => resolveRegionLeader(sim, n, r)) };
}
