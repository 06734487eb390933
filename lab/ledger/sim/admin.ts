/**
 * The simulated node's AdminService, as the real server answers it:
 * identity and the GLOBAL group's view (GetNodeInfo, GetClusterInfo),
 * InitCluster, membership (LeaveCluster and TransferLeadership on the GLOBAL
 * leader only, GetDecommissionStatus), ProvisionRegion (GLOBAL leader, else
 * INTERNAL "raft error"), the operator's view of vaults (AdminListVaults per
 * replica, ShowVault), and the maintenance calls whose real answers are
 * fixed at 21345c4 (CheckIntegrity vacuously healthy, RecoverVault "already
 * healthy", backups not configured).
 *
 * @module
 */
import * as grpc from '@grpc/grpc-js';
import type { SimCluster, SimNode } from './cluster';
import { needVault } from './data';
import { simulateDivergence } from './health';
import { snowflake } from './model';
import { invalid, precondition, proposalTimeout, RpcError, slugOf, unary, type CallCtx } from './rpc';

const VOTER = 'CLUSTER_MEMBER_ROLE_VOTER';
const byId = (a: { id: string }, b: { id: string }): number => (BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0);

function clusterInfo(sim: SimCluster, n: SimNode): object {
  const cid = n.r.clusterId;
  if (!cid) {
    // Uninitialized: the node shows itself as the sole voter and leader (as the real one does).
    return { members: [{ node_id: n.nodeId, address: n.unit.listen, role: VOTER, is_leader: true }], leader_id: n.nodeId, term: '1' };
  }
  const view = sim.leaderView(n);
  return {
    members: [...n.r.members].sort(byId).map((m) => ({ node_id: m.id, address: m.address, role: VOTER, is_leader: m.id === view })),
    leader_id: view || '0',
    term: String(n.stale ? n.r.term : sim.group(cid).term),
  };
}

function nodeInfo(sim: SimCluster, n: SimNode): object {
  const cid = n.r.clusterId;
  return {
    node_id: n.nodeId,
    address: n.unit.listen,
    is_cluster_member: !!cid,
    term: String(cid ? sim.group(cid).term : 1),
    cluster_id: cid || '0',
    state: cid ? 'running' : 'uninitialized',
  };
}

/** InitCluster: a new cluster on a fresh node; an initialized one answers already_initialized. */
export function initCluster(sim: SimCluster, n: SimNode): { initialized: boolean; cluster_id: string; already_initialized: boolean } {
  if (n.r.clusterId) return { initialized: false, cluster_id: n.r.clusterId, already_initialized: true };
  const cid = snowflake();
  sim.initialize(n, cid);
  return { initialized: true, cluster_id: cid, already_initialized: false };
}

async function leaveCluster(sim: SimCluster, n: SimNode, req: { node_id?: string }, ctx: CallCtx): Promise<object> {
  const cid = n.r.clusterId;
  const id = String(req.node_id ?? '0');
  if (cid && sim.liveLeader(cid) !== n) return { success: false, message: 'Not the leader, cannot process leave request' };
  if (!cid || n.r.members.length <= 1) return { success: false, message: 'Cannot remove the last voter from cluster' };
  if (!sim.canCommit(cid)) {
    await new Promise((r) => setTimeout(r, sim.t.proposalTimeoutMs));
    return { success: false, message: 'Failed to mark node as Decommissioning: Proposal timed out after 5s' };
  }
  if (!n.r.members.some((m) => m.id === id)) {
    return { success: false, message: `Failed to remove node from GLOBAL: node ${id} is not a member` };
  }
  const address = sim.address(cid, id);
  sim.commit(cid, (r) => {
    r.members = r.members.filter((m) => m.id !== id);
    r.removed = [...r.removed.filter((x) => x !== id), id];
    r.index += 1;
  });
  sim.removed(cid, id);
  sim.logLine(n, `node ${id} decommissioned and removed from GLOBAL`);
  if (!ctx.lab) sim.record(sim.byAddress(address)?.name ?? id, 'ledger.leave', { nodeId: id, via: n.name });
  // What the real server answers (observed every time for a dead member): its drain monitor removes the node
  // while LeaveCluster's own removal is refused. The node is removed all the same.
  return { success: false, message: 'Failed to remove node from GLOBAL: Consensus error: Membership change already in progress' };
}

function decommissionStatus(n: SimNode, req: { node_id?: string }): object {
  const id = String(req.node_id ?? '0');
  if (n.r.removed.includes(id)) return { status: 'removed', global_removed: true };
  if (n.r.members.some((m) => m.id === id) || id === n.nodeId) return { status: 'active', global_removed: false };
  // What the real server answers for an id it never knew.
  return { status: 'active', global_removed: true };
}

function transferLeadership(sim: SimCluster, n: SimNode, req: { target_node_id?: string }): object {
  const cid = n.r.clusterId;
  if (!cid || sim.liveLeader(cid) !== n) throw precondition('Not the current leader');
  const want = req.target_node_id && req.target_node_id !== '0' ? req.target_node_id : undefined;
  const candidates = sim.reachable(cid).filter((m) => !m.stale);
  const target = want ? candidates.find((m) => m.nodeId === want) : candidates.find((m) => m !== n);
  if (!target) throw new RpcError(grpc.status.DEADLINE_EXCEEDED, `Leadership transfer to ${want ?? 'any voter'} timed out`);
  if (target !== n) sim.transferLeadership(cid, target.nodeId);
  return { success: true, new_leader_id: target.nodeId, message: 'Leadership transferred' };
}

async function provisionRegion(sim: SimCluster, n: SimNode, req: { name?: string; protected?: boolean }, ctx: CallCtx): Promise<object> {
  const name = req.name ?? '';
  if (name.toLowerCase() === 'global') throw invalid('The GLOBAL region cannot be provisioned as a data region');
  if (!/^[a-z][a-z0-9-]{1,62}$/.test(name)) throw invalid(`Invalid region name "${name}": lowercase letters, digits and hyphens`);
  const cid = n.r.clusterId;
  if (!cid || sim.liveLeader(cid) !== n) throw new RpcError(grpc.status.INTERNAL, 'raft error');
  if (n.r.regions[name]) return { created: false, name };
  if (!sim.canCommit(cid)) return proposalTimeout(sim, grpc.status.INTERNAL, 'raft error');
  sim.commit(cid, (r) => {
    r.regions[name] = { protected: !!req.protected };
    r.index += 1;
  });
  sim.provisionRegion(cid, name);
  if (!ctx.lab) sim.record(n.name, 'ledger.region', { region: name });
  return { created: true, name };
}

function adminListVaults(sim: SimCluster, n: SimNode, req: { organization?: { slug?: string } | null }): object {
  const organization = slugOf(req.organization);
  if (!organization) throw invalid('organization is required');
  const org = n.r.orgs[organization];
  const vaults = Object.values(n.r.vaults).filter((v) => v.organization === organization);
  return {
    vaults: vaults.map((v) => ({
      slug: { slug: v.vault },
      status: 'active',
      leader_node_id: (org && sim.regionLeaderId(n.r.clusterId, org.region)) || '0',
      voter_count: String(n.r.members.length),
      learner_count: '0',
      // A restarted replica starts a new in-memory Raft log: the real one reports 0 or 1 here.
      last_applied_index: n.stale ? '1' : String(v.applied),
    })),
  };
}

function showVault(n: SimNode, req: { organization?: { slug?: string } | null; vault?: { slug?: string } | null }): object {
  const { org, v } = needVault(n, req);
  return { region: org.region, organization_id: String(org.internalId), vault_id: String(v.internalId) };
}

function recoverVault(sim: SimCluster, n: SimNode, req: { organization?: { slug?: string } | null; vault?: { slug?: string } | null; force?: boolean }, ctx: CallCtx): object {
  if (!ctx.lab) sim.record(n.name, 'ledger.recover-vault', { organization: slugOf(req.organization), vault: slugOf(req.vault), force: !!req.force });
  // At 21345c4 RecoverVault reads the vault's health from the GLOBAL state, which never shows a divergence.
  return req.force
    ? { success: false, message: 'Vault has no blocks to recover', health_status: 'VAULT_HEALTH_PROTO_HEALTHY', final_height: '0' }
    : { success: false, message: 'Vault is already healthy. Use force=true to recover anyway.', health_status: 'VAULT_HEALTH_PROTO_HEALTHY', final_height: '0' };
}

export function adminService(sim: SimCluster, n: SimNode): Record<string, grpc.UntypedHandleCall> {
  const u = (m: string, fn: (req: any, ctx: CallCtx) => object | Promise<object>, mutating = false) => unary(sim, n, 'AdminService', m, fn, mutating);  
  return {
    GetNodeInfo: u('GetNodeInfo', () => nodeInfo(sim, n)),
    GetClusterInfo: u('GetClusterInfo', () => clusterInfo(sim, n)),
    InitCluster: u('InitCluster', () => initCluster(sim, n), true),
    LeaveCluster: u('LeaveCluster', (r, ctx) => leaveCluster(sim, n, r, ctx), true),
    GetDecommissionStatus: u('GetDecommissionStatus', (r) => decommissionStatus(n, r)),
    TransferLeadership: u('TransferLeadership', (r) => transferLeadership(sim, n, r), true),
    ProvisionRegion: u('ProvisionRegion', (r, ctx) => provisionRegion(sim, n, r, ctx), true),
    AdminListVaults: u('AdminListVaults', (r) => adminListVaults(sim, n, r)),
    ShowVault: u('ShowVault', (r) => showVault(n, r)),
    CheckIntegrity: u('CheckIntegrity', () => ({ healthy: true, issues: [] })),
    RecoverVault: u('RecoverVault', (r, ctx) => recoverVault(sim, n, r, ctx), true),
    SimulateDivergence: u('SimulateDivergence', (r) => simulateDivergence(sim, n, r), true),
    CreateBackup: u('CreateBackup', () => Promise.reject(precondition('Backup is not configured on this node')), true),
    ListBackups: u('ListBackups', () => Promise.reject(precondition('Backup destination directory is not configured on this node'))),
  };
}
