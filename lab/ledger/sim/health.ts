/**
 * The simulated node's health and metrics, and the vault divergence the
 * real server can be told to simulate: HealthService.Check (the node's
 * view: leader, term, peers; or a vault's: healthy, diverged, recovering),
 * SimulateDivergence with the real one's precondition (it only takes effect
 * on a node that leads both GLOBAL and the vault's region) and its
 * auto-recovery (recovering after `recoverAfterMs`, healthy after
 * `healAfterMs`, `ledger_determinism_bug_total` +1), and the Prometheus
 * text on `/metrics`.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import type { SimCluster, SimNode } from './cluster';
import { needVault } from './data';
import { vaultKey, type VaultHealthState } from './model';
import { RpcError, slugOf, unary } from './rpc';

const ROOT_1 = `[${Array(32).fill(1).join(', ')}]`;
const ROOT_2 = `[${Array(32).fill(2).join(', ')}]`;

function nodeCheck(sim: SimCluster, n: SimNode): object {
  const base = { liveness: 'true', 'dep:disk_writable': 'ok: disk is writable' };
  const cid = n.r.clusterId;
  if (!cid) {
    return {
      status: 'HEALTH_STATUS_DEGRADED',
      message: 'Node is starting up',
      details: {
        ...base,
        leader_id: n.nodeId,
        current_term: '1',
        member_count: '1',
        phase: 'starting',
        startup: 'false',
        readiness: 'false',
        'dep:peer_reachable': 'ok: single-node cluster, no peers to check',
        'dep:raft_log_lag': 'ok: raft log lag: 0 (max: 1000, commit_index: 1)',
      },
    };
  }
  const members = n.r.members.map((m) => m.id);
  const others = members.filter((id) => id !== n.nodeId);
  const reach = others.filter((id) => sim.alive(id, cid)).length;
  const ok = reach + 1 >= Math.floor(members.length / 2) + 1;
  const peers =
    others.length === 0
      ? 'ok: single-node cluster, no peers to check'
      : `${ok ? 'ok' : 'FAIL'}: ${reach}/${others.length} peers reachable (${others.length - reach} unreachable, self counts toward ${members.length}-node quorum)`;
  const view = sim.leaderView(n);
  n.metrics.quorumStatus = view ? 1 : 0;
  const term = n.stale ? n.r.term : sim.group(cid).term;
  return {
    status: ok && view ? 'HEALTH_STATUS_HEALTHY' : 'HEALTH_STATUS_DEGRADED',
    message: !ok ? 'Dependencies unhealthy' : !view ? 'No leader elected' : 'Node is healthy and has a leader',
    details: {
      ...base,
      ...(view ? { leader_id: view } : {}),
      current_term: String(term),
      member_count: String(members.length),
      phase: 'ready',
      startup: 'true',
      readiness: 'true',
      'dep:peer_reachable': peers,
      'dep:raft_log_lag': `ok: raft log lag: 0 (max: 1000, commit_index: ${n.r.index})`,
    },
  };
}

type CheckReq = { organization?: { slug?: string } | null; vault?: { slug?: string } | null };

function check(sim: SimCluster, n: SimNode, req: CheckReq): object {
  if (!slugOf(req.organization) || !slugOf(req.vault)) return nodeCheck(sim, n);
  const { v } = needVault(n, req);
  const h = v.health;
  if (h.state === 'diverged') {
    return {
      status: 'HEALTH_STATUS_UNAVAILABLE',
      message: 'Vault has diverged state',
      details: { health_status: 'diverged', diverged_at_height: String(h.divergedAt ?? 0), expected_root: ROOT_1, computed_root: ROOT_2 },
    };
  }
  if (h.state === 'recovering') {
    return {
      status: 'HEALTH_STATUS_DEGRADED',
      message: 'Vault is recovering from divergence',
      details: { health_status: 'recovering', recovery_attempt: String(h.attempt ?? 1), recovery_started_at: h.since ?? '' },
    };
  }
  return { status: 'HEALTH_STATUS_HEALTHY', message: 'Vault is healthy', details: { health_status: 'healthy', block_height: '0', has_entities: 'false' } };
}

export function healthService(sim: SimCluster, n: SimNode): Record<string, grpc.UntypedHandleCall> {
  return { Check: unary(sim, n, 'HealthService', 'Check', (r) => check(sim, n, r as CheckReq), false) };
}

/**
 * SimulateDivergence: on a GLOBAL follower INTERNAL "storage error"; on the
 * GLOBAL leader that does not also lead the vault's region, success and no
 * effect (both as the real server at 21345c4); otherwise every replica
 * marks the vault diverged and the auto-recovery is scheduled.
 */
export function simulateDivergence(sim: SimCluster, n: SimNode, req: CheckReq & { at_height?: string }): object {
  const cid = n.r.clusterId;
  if (!cid || sim.liveLeader(cid) !== n) throw new RpcError(grpc.status.INTERNAL, 'storage error');
  const { org, v, organization, vault } = needVault(n, req);
  const at = req.at_height && req.at_height !== '0' ? Number(req.at_height) : v.height;
  const answer = { success: true, message: `Vault ${org.internalId}:${v.internalId} marked as diverged at height ${at}`, health_status: 'VAULT_HEALTH_PROTO_DIVERGED' };
  if (sim.regionLeaderId(cid, org.region) !== n.nodeId || !sim.canCommit(cid)) return answer;
  setHealth(sim, cid, organization, vault, 'diverged', { divergedAt: at });
  const key = `${cid}/${vaultKey(organization, vault)}`;
  for (const t of sim.recoveries.get(key) ?? []) clearTimeout(t);
  const since = new Date().toISOString();
  // As observed on the real server: attempt 1 reproduces the divergence (a "determinism bug"), attempt 2 heals it.
  const attempt = (n: number): void => {
    const leader = setHealth(sim, cid, organization, vault, 'recovering', { attempt: n, since });
    if (leader && n === 1) {
      leader.metrics.determinismBugs += 1;
      bump(leader.metrics.recoveryAttempts, 'determinism_bug');
    }
  };
  const t1 = setTimeout(() => attempt(1), sim.t.recoverAfterMs);
  const t15 = setTimeout(() => attempt(2), (sim.t.recoverAfterMs + sim.t.healAfterMs) / 2);
  const t2 = setTimeout(() => {
    sim.recoveries.delete(key);
    const leader = setHealth(sim, cid, organization, vault, 'healthy', {});
    if (leader) {
      leader.metrics.recoverySuccess += 1;
      bump(leader.metrics.recoveryAttempts, 'success');
    }
  }, sim.t.healAfterMs);
  for (const t of [t1, t15, t2]) t.unref();
  sim.recoveries.set(key, [t1, t15, t2]);
  return answer;
}

/** Keeps a diverged vault diverged: its auto-recovery never runs (the lab's `ledger.vault-divergence-stuck`). */
export function pinDivergence(sim: SimCluster, cid: string, organization: string, vault: string): boolean {
  const key = `${cid}/${vaultKey(organization, vault)}`;
  const timers = sim.recoveries.get(key);
  for (const t of timers ?? []) clearTimeout(t);
  sim.recoveries.delete(key);
  return !!timers;
}

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

/** Commits a vault's health on every member; returns the region leader that did (undefined: nothing committed). */
function setHealth(sim: SimCluster, cid: string, organization: string, vault: string, state: VaultHealthState, extra: { divergedAt?: number; attempt?: number; since?: string }): SimNode | undefined {
  if (!sim.canCommit(cid)) return undefined;
  const holder = sim.reachable(cid).find((x) => !x.stale && x.r.vaults[vaultKey(organization, vault)]);
  const org = holder?.r.orgs[organization];
  if (!holder || !org) return undefined;
  sim.commit(cid, (r) => {
    const v = r.vaults[vaultKey(organization, vault)];
    if (v) v.health = { state, ...extra };
  });
  // ledger_vault_health{state} on every replica, as the real one exports it: diverged 1, recovering counts the
  // attempts, healthy stays 0; none of them is reset when the vault heals.
  for (const m of sim.reachable(cid)) {
    if (!m.metrics.vaultHealthSeen) m.metrics.vaultHealth = new Map([['healthy', 0], ['diverged', 0], ['recovering', 0]]);
    m.metrics.vaultHealthSeen = true;
    if (state === 'diverged') m.metrics.vaultHealth.set('diverged', 1);
    if (state === 'recovering') m.metrics.vaultHealth.set('recovering', extra.attempt ?? 1);
  }
  return sim.alive(sim.regionLeaderId(cid, org.region), cid);
}

/** `GET /metrics`: the node's `ledger_*` series, in Prometheus text. */
export function serveMetrics(n: SimNode, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n');
    return;
  }
  const m = n.metrics;
  const lines: string[] = ['# TYPE ledger_grpc_requests_total counter'];
  for (const [labels, v] of m.requests) lines.push(`ledger_grpc_requests_total{${labels}} ${v}`);
  lines.push('# TYPE ledger_disk_bytes_used gauge', `ledger_disk_bytes_used ${JSON.stringify(n.r).length}`);
  lines.push('# TYPE ledger_node_connections_active gauge', `ledger_node_connections_active ${Math.max(0, n.r.members.length - 1)}`);
  if (m.quorumStatus !== undefined) lines.push('# TYPE ledger_cluster_quorum_status gauge', `ledger_cluster_quorum_status ${m.quorumStatus}`);
  if (m.vaultHealthSeen) {
    lines.push('# TYPE ledger_vault_health gauge');
    for (const [state, v] of m.vaultHealth) lines.push(`ledger_vault_health{state="${state}"} ${v}`);
  }
  // The recovery's counters appear on the node that ran it (the region leader), once it ran.
  if (m.recoveryAttempts.size) {
    lines.push('# TYPE ledger_determinism_bug_total counter', `ledger_determinism_bug_total ${m.determinismBugs}`);
    lines.push('# TYPE ledger_recovery_success_total counter', `ledger_recovery_success_total ${m.recoverySuccess}`);
    lines.push('# TYPE ledger_divergence_recovery_attempts_total counter');
    for (const [outcome, v] of m.recoveryAttempts) lines.push(`ledger_divergence_recovery_attempts_total{outcome="${outcome}"} ${v}`);
  }
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(lines.join('\n') + '\n');
}
