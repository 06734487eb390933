/**
 * A ledger node's process lifecycle: a start in one of the three modes
 * (`--single`, cluster, join), what each mode does to the node's data and
 * what it refuses, and the loss of a whole machine.
 *
 * @module
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ShimResult } from '../family';
import { fail, type LaunchConfig, type LedgerCluster, type NodeRuntime } from './cluster';
import { bind } from './services';
import { cloneState, emptyState, hasData, loadState, newClusterId, STATE_FILE, type LedgerState } from './state';

/**
 * Starts a node's process: loads its data file, binds its ports, applies the
 * start mode (which may refuse), then joins the simulated Raft. Call under
 * {@link LedgerCluster.serial}.
 *
 * @param fresh true for an explicit `inferadb-ledger` run (`--single` mints a
 *   new identity each time), false for `systemctl start` (resumes).
 */
export async function launch(sim: LedgerCluster, rt: NodeRuntime, cfg: LaunchConfig, via: 'inferadb-ledger' | 'systemctl' | 'lab', fresh: boolean): Promise<ShimResult> {
  const loaded = loadState(cfg.dataDir);
  const shown = sim.hostPath(rt, cfg.dataDir);
  if (loaded.kind === 'corrupt') {
    sim.logLine(rt, `FATAL cannot read ${shown}/${STATE_FILE}: ${loaded.error}`);
    return fail(1, `inferadb-ledger: cannot read ${shown}/${STATE_FILE}: ${loaded.error}; restore the data directory or clear it and rejoin`);
  }
  const state = loaded.kind === 'ok' ? loaded.state : emptyState();
  const vanished = loaded.kind === 'missing' ? rt.knownData.get(cfg.dataDir) : undefined;

  try {
    await bind(sim, rt);
  } catch (e) {
    sim.logLine(rt, `FATAL bind failed: ${(e as Error).message}`);
    return fail(1, `inferadb-ledger: cannot listen on 127.0.0.1:${rt.grpcPort}: ${(e as Error).message}`);
  }
  const applied = applyMode(sim, rt, cfg, state, fresh);
  if (!applied.ok) {
    await sim.unbind(rt);
    sim.logLine(rt, `FATAL ${applied.message}`);
    return fail(1, `inferadb-ledger: ${applied.message}`);
  }
  rt.state = applied.state;
  rt.config = cfg; // what `systemctl start` reruns from now on
  rt.running = true;
  rt.startedAs = cfg.mode;
  rt.since = new Date();
  rt.bugs = new Map(sim.divergedVaults(rt).map((k) => [k, 1]));
  if (hasData(rt.state)) sim.persist(rt);
  for (const l of applied.lines) sim.logLine(rt, l);
  if (vanished !== undefined && via !== 'lab') sim.record(rt.name, 'ledger.data-cleared', { dataDir: shown, previousClusterId: vanished });
  if (via !== 'lab') {
    sim.record(rt.name, 'ledger.start', { mode: cfg.mode, clusterId: rt.state.cluster_id, dataDir: shown, via });
  }
  sim.reconcile();
  const out = [
    `inferadb-ledger: listening on 127.0.0.1:${rt.grpcPort} (grpc), metrics on 127.0.0.1:${rt.metricsPort}${cfg.listen ? ` (requested ${cfg.listen})` : ''}`,
    ...applied.lines.map((l) => `inferadb-ledger: ${l}`),
  ];
  return { stdout: out.join('\n') + '\n', exitCode: 0 };
}

/** The start mode's effect on a node's loaded state; refuses what a real ledger refuses. */
function applyMode(
  sim: LedgerCluster,
  rt: NodeRuntime,
  cfg: LaunchConfig,
  loaded: LedgerState,
  fresh: boolean,
): { ok: true; state: LedgerState; lines: string[] } | { ok: false; message: string } {
  const s = cloneState(loaded);
  const shown = sim.hostPath(rt, cfg.dataDir);
  if (cfg.mode === 'single') {
    if (!fresh && hasData(s) && s.mode === 'single') {
      return { ok: true, state: s, lines: [`resuming single-node cluster ${s.cluster_id} from ${shown}`] };
    }
    const old = s.cluster_id;
    s.cluster_id = newClusterId();
    s.mode = 'single';
    s.members = [rt.name];
    return {
      ok: true,
      state: s,
      lines: [
        `WARNING forming a NEW single-node cluster ${s.cluster_id} from ${shown} (commit index ${s.commit_index})` +
          (old ? `; previous cluster identity ${old} abandoned` : '; no previous data'),
      ],
    };
  }

  if (cfg.mode === 'join' && (fresh || !hasData(s))) return applyJoin(sim, rt, cfg, s);

  // Cluster mode (or a restart of a node that joined earlier): keep our identity if we have one.
  let members = cfg.mode === 'join' ? undefined : cfg.peers;
  if (!members) {
    if (s.members.length && (cfg.size === undefined || cfg.mode === 'join' || s.members.length === cfg.size)) members = s.members;
    else if (cfg.size === undefined) members = [rt.name];
    else return { ok: false, message: `INFERADB__LEDGER__CLUSTER=${cfg.size} but no INFERADB__LEDGER__PEERS and ${shown} lists ${s.members.length} member(s); name the peers` };
  }
  s.mode = 'cluster';
  s.members = [...members];
  const lines = hasData(s)
    ? [`starting in cluster mode: cluster ${s.cluster_id}, voters ${members.join(', ')}, commit index ${s.commit_index}`]
    : [`starting in cluster mode with no local data in ${shown}: waiting for peers ${members.filter((m) => m !== rt.name).join(', ')} to share their cluster`];
  return { ok: true, state: s, lines };
}

function applyJoin(sim: LedgerCluster, rt: NodeRuntime, cfg: LaunchConfig, s: LedgerState): { ok: true; state: LedgerState; lines: string[] } | { ok: false; message: string } {
  const candidates = (cfg.peers ?? []).filter((p) => p !== rt.name);
  const target = candidates.map((p) => sim.nodes.get(p)).find((p): p is NodeRuntime => !!p?.running);
  if (!target) return { ok: false, message: `cannot reach any peer (${candidates.join(', ') || 'none'}): connection refused; start a member first` };
  if (target.state.mode === 'single') {
    return { ok: false, message: `peer ${target.name} runs a single-node cluster (--single), which accepts no members; restart it in cluster mode (INFERADB__LEDGER__CLUSTER=N, PEERS=...) first` };
  }
  const cid = target.state.cluster_id;
  if (!cid) return { ok: false, message: `peer ${target.name} has no cluster yet (it is waiting for its own peers)` };
  if (hasData(s) && s.cluster_id !== cid) {
    sim.record(rt.name, 'ledger.split-brain-refused', { ownClusterId: s.cluster_id, peerClusterId: cid, peer: target.name });
    return {
      ok: false,
      message:
        `refusing to join: ${sim.hostPath(rt, cfg.dataDir)} holds data of cluster ${s.cluster_id} but peer ${target.name} is cluster ${cid} ` +
        `(split-brain protection); if this node's data is to be abandoned, clear it (rm -rf ${sim.hostPath(rt, cfg.dataDir)}/*) and join again`,
    };
  }
  const rec = sim.leaders.get(cid);
  const isMember = target.state.members.includes(rt.name);
  if (!rec && !isMember) {
    return { ok: false, message: `cluster ${cid} has no leader to commit the membership change (no quorum), and ${rt.name} is not one of its configured voters` };
  }
  const source = (rec && sim.nodes.get(rec.leader)) || target;
  const members = source.state.members.includes(rt.name) ? [...source.state.members] : [...source.state.members, rt.name];
  if (!isMember || !source.state.members.includes(rt.name)) {
    // The leader commits the new configuration; every running member applies it.
    for (const m of sim.nodes.values()) {
      if (m.running && m.state.cluster_id === cid) {
        m.state.members = [...members];
        sim.persist(m);
        sim.logLine(m, `membership: ${rt.name} added as voter (voters ${members.join(', ')})`);
      }
    }
  }
  const joined = sim.replicaOf(source.state);
  joined.members = members;
  return {
    ok: true,
    state: joined,
    lines: [`joined cluster ${cid} via ${target.name} as voter; replicated ${sim.vaultCount(joined)} vault(s) up to commit index ${joined.commit_index}`],
  };
}

/** The machine is lost: process gone, data directory emptied (the host stays reachable as a replacement). */
export async function loseMachine(sim: LedgerCluster, rt: NodeRuntime): Promise<void> {
  await sim.halt(rt, 'machine lost (lab fault)');
  emptyDir(rt.config.dataDir);
  rt.knownData.delete(rt.config.dataDir); // a fault's wipe is not an effect the recovery made
  rt.state = emptyState();
  rt.log = [];
}

/** `rm -rf dir/*` (and dot files): the directory stays, its content goes. */
export function emptyDir(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir)) rmSync(join(dir, e), { recursive: true, force: true });
}
