/**
 * The ledger's two shimmed tools on each node, as the runbook writes them:
 * `systemctl {start|stop|restart|is-active|status} ledger` and
 * `inferadb-ledger [--single] [--data DIR]` with its INFERADB__LEDGER__*
 * environment.
 *
 * @module
 */
import { isAbsolute, join, resolve, sep } from 'node:path';
import type { ShimCall, ShimResult } from '../family';
import { fail, usage, type LaunchConfig, type LedgerCluster, type NodeRuntime } from './cluster';
import { launch } from './lifecycle';
import { hasData, loadState } from './state';

/** The systemd unit the ledger runs as. */
export const SERVICE_UNIT = 'ledger';
const SYSTEMCTL_FLAGS = new Set(['--no-pager', '--quiet', '-q', '--no-block', '--full', '-l', '--system', '--no-ask-password']);

const LEDGER_USAGE = `usage: inferadb-ledger [--single] [--data DIR]
  --single      start a NEW single-node cluster from this node's data (new cluster identity)
  --data DIR    data directory (default: $INFERADB__LEDGER__DATA or /data)
environment:
  INFERADB__LEDGER__DATA     data directory
  INFERADB__LEDGER__CLUSTER  expected cluster size (cluster mode)
  INFERADB__LEDGER__PEERS    comma-separated peers: node names or host:port
  INFERADB__LEDGER__JOIN     "true": join the cluster of the first reachable peer
  INFERADB__LEDGER__LISTEN   listen address (the lab binds its own loopback port)
`;

const SYSTEMCTL_USAGE = `usage: systemctl [--no-pager] [--quiet] {start|stop|restart|is-active|status} ledger
(lab: only the "ledger" unit exists on this host)
`;

/** `systemctl {start|stop|restart|is-active|status} ledger[.service]` (is-active/status exit 3 when stopped). */
export async function systemctl(sim: LedgerCluster, rt: NodeRuntime, argv: string[]): Promise<ShimResult> {
  const words = argv.filter((a) => !SYSTEMCTL_FLAGS.has(a));
  const bad = words.find((a) => a.startsWith('-'));
  if (bad) return usage(`systemctl: unrecognized option '${bad}'\n${SYSTEMCTL_USAGE}`);
  const [verb, ...units] = words;
  if (!verb) return usage(SYSTEMCTL_USAGE);
  if (!['start', 'stop', 'restart', 'is-active', 'status'].includes(verb)) return usage(`Unknown command verb ${verb}.\n${SYSTEMCTL_USAGE}`);
  if (units.length !== 1) return usage(`systemctl ${verb}: name exactly one unit.\n${SYSTEMCTL_USAGE}`);
  const unit = units[0]!;
  if (unit !== SERVICE_UNIT && unit !== `${SERVICE_UNIT}.service`) {
    return usage(`Unit ${unit.endsWith('.service') ? unit : `${unit}.service`} not loaded.\n${SYSTEMCTL_USAGE}`);
  }
  const quiet = argv.includes('-q') || argv.includes('--quiet');
  switch (verb) {
    case 'is-active':
      return { stdout: quiet ? '' : rt.running ? 'active\n' : 'inactive\n', exitCode: rt.running ? 0 : 3 };
    case 'status':
      return { stdout: statusText(sim, rt), exitCode: rt.running ? 0 : 3 };
    case 'stop':
      return sim.serial(rt, async () => {
        if (rt.running) await stopService(sim, rt, 'systemctl');
        return { stdout: '', exitCode: 0 };
      });
    case 'start':
      return sim.serial(rt, async () => (rt.running ? { stdout: '', exitCode: 0 } : systemdStart(sim, rt)));
    default: // restart
      return sim.serial(rt, async () => {
        if (rt.running) await stopService(sim, rt, 'systemctl');
        return systemdStart(sim, rt);
      });
  }
}

/** `systemctl start`: reruns the configured command; a failure reads like systemd's. */
async function systemdStart(sim: LedgerCluster, rt: NodeRuntime): Promise<ShimResult> {
  const r = await launch(sim, rt, rt.config, 'systemctl', false);
  if (r.exitCode === 0) return { stdout: '', exitCode: 0 };
  return {
    stdout: '',
    stderr: `Job for ledger.service failed because the control process exited with error code.\n${r.stderr ?? ''}`,
    exitCode: 1,
  };
}

async function stopService(sim: LedgerCluster, rt: NodeRuntime, via: string): Promise<void> {
  const mode = rt.state.mode;
  await sim.halt(rt, `stopped by ${via}`);
  sim.record(rt.name, 'ledger.stop', { mode, via });
}

function statusText(sim: LedgerCluster, rt: NodeRuntime): string {
  const leader = rt.running ? sim.leaderOf(rt) : undefined;
  const lines = [
    `● ledger.service - InferaDB Ledger`,
    `     Loaded: loaded (/etc/systemd/system/ledger.service; enabled)`,
    rt.running
      ? `     Active: active (running) since ${rt.since?.toISOString() ?? '?'}`
      : `     Active: inactive (dead)`,
  ];
  if (rt.running) {
    lines.push(
      `   Main PID: ${4000 + rt.index} (inferadb-ledger)`,
      `    Cluster: ${rt.state.cluster_id || '(none yet)'} mode=${rt.state.mode} leader=${leader ?? 'none'} term=${sim.termOf(rt)} commit=${rt.state.commit_index}`,
      `     Listen: 127.0.0.1:${rt.grpcPort} (grpc), 127.0.0.1:${rt.metricsPort} (metrics)`,
      `       Data: ${sim.hostPath(rt, rt.config.dataDir)}`,
    );
  }
  lines.push('', ...rt.log.slice(-10));
  return lines.join('\n') + '\n';
}

/** `inferadb-ledger [--single] [--data DIR]` with INFERADB__LEDGER__* from the caller's environment. */
export async function inferadbLedger(sim: LedgerCluster, rt: NodeRuntime, call: ShimCall): Promise<ShimResult> {
  let single = false;
  let data: string | undefined;
  for (let i = 0; i < call.argv.length; i++) {
    const a = call.argv[i]!;
    if (a === '--single') single = true;
    else if (a === '--data') {
      data = call.argv[++i];
      if (data === undefined || data === '') return usage(`inferadb-ledger: --data needs a directory\n${LEDGER_USAGE}`);
    } else if (a.startsWith('--data=')) data = a.slice('--data='.length);
    else if (a === '--help' || a === '-h') return { stdout: LEDGER_USAGE, exitCode: 0 };
    else if (a === '--version') return { stdout: 'inferadb-ledger 0.9.0 (lifeboat lab simulation)\n', exitCode: 0 };
    else return usage(`inferadb-ledger: unknown argument '${a}'\n${LEDGER_USAGE}`);
  }
  const env = call.env;
  data ??= env.INFERADB__LEDGER__DATA || undefined;
  const joinRaw = (env.INFERADB__LEDGER__JOIN ?? '').toLowerCase();
  if (!['', 'true', 'false', '1', '0'].includes(joinRaw)) return usage(`inferadb-ledger: INFERADB__LEDGER__JOIN must be true or false, got "${env.INFERADB__LEDGER__JOIN}"\n`);
  const joinMode = joinRaw === 'true' || joinRaw === '1';
  const sizeRaw = env.INFERADB__LEDGER__CLUSTER;
  const size = sizeRaw === undefined || sizeRaw === '' ? undefined : Number(sizeRaw);
  if (size !== undefined && (!Number.isInteger(size) || size < 1)) return usage(`inferadb-ledger: INFERADB__LEDGER__CLUSTER must be a positive integer, got "${sizeRaw}"\n`);
  const listen = env.INFERADB__LEDGER__LISTEN || undefined;
  if (listen !== undefined && !/^[^\s:]+:\d{1,5}$/.test(listen)) return usage(`inferadb-ledger: INFERADB__LEDGER__LISTEN must be host:port, got "${listen}"\n`);

  let peers: string[] | undefined;
  if (env.INFERADB__LEDGER__PEERS) {
    peers = [];
    for (const p of env.INFERADB__LEDGER__PEERS.split(',').map((s) => s.trim()).filter(Boolean)) {
      const name = resolvePeer(sim, p);
      if (!name) return fail(2, `inferadb-ledger: unknown peer "${p}" in INFERADB__LEDGER__PEERS (this lab's nodes: ${sim.nodeNames.join(', ')})`);
      if (!peers.includes(name)) peers.push(name);
    }
  }

  if (single && joinMode) return usage(`inferadb-ledger: --single and INFERADB__LEDGER__JOIN=true exclude each other\n`);
  let dataDir: string;
  if (data !== undefined) {
    const d = resolveDataDir(rt, call.cwd, data);
    if (typeof d !== 'string') return d;
    dataDir = d;
  } else dataDir = join(rt.root, 'data'); // the binary's default, /data

  let cfg: LaunchConfig;
  if (single) cfg = { mode: 'single', dataDir, listen };
  else if (joinMode) {
    if (!peers?.length) return usage(`inferadb-ledger: INFERADB__LEDGER__JOIN=true needs INFERADB__LEDGER__PEERS (a running member, e.g. node1:50051)\n`);
    cfg = { mode: 'join', dataDir, peers, listen };
  } else if (size !== undefined || peers) {
    let members = peers;
    if (members && !members.includes(rt.name)) members = [...members, rt.name];
    if (members && size !== undefined && members.length !== size) {
      return usage(`inferadb-ledger: INFERADB__LEDGER__CLUSTER=${size} but INFERADB__LEDGER__PEERS names ${members.length} node(s) (${members.join(', ')})\n`);
    }
    cfg = { mode: 'cluster', dataDir, size: size ?? members?.length, peers: members, listen };
  } else {
    // No mode given: resume whatever the data directory says.
    const loaded = loadState(dataDir);
    if (loaded.kind !== 'ok' || !hasData(loaded.state)) {
      return fail(2, `inferadb-ledger: ${sim.hostPath(rt, dataDir)} holds no cluster; start with --single, INFERADB__LEDGER__CLUSTER + PEERS, or INFERADB__LEDGER__JOIN=true + PEERS`);
    }
    cfg = loaded.state.mode === 'single' ? { mode: 'single', dataDir, listen } : { mode: 'cluster', dataDir, listen };
  }

  return sim.serial(rt, async () => {
    if (rt.running) {
      if (rt.startedAs === cfg.mode && rt.config.dataDir === cfg.dataDir) {
        return { stdout: `inferadb-ledger already running (${cfg.mode} mode, pid ${4000 + rt.index}); nothing to do\n`, exitCode: 0 };
      }
      return fail(1, `inferadb-ledger: cannot listen on 127.0.0.1:${rt.grpcPort}: address already in use (the service runs in ${rt.startedAs} mode; stop it first: systemctl stop ledger)`);
    }
    // The service's configuration becomes this command (what `systemctl start` reruns).
    // Only an explicit --single mints a new identity and only an explicit JOIN asks a peer;
    // a bare `inferadb-ledger` resumes what its data directory holds.
    return launch(sim, rt, cfg, 'inferadb-ledger', single || joinMode);
  });
}

/** Node name for a peer spec: a lab node name, "name:port", or "127.0.0.1:<its gRPC port>". */
function resolvePeer(sim: LedgerCluster, spec: string): string | undefined {
  const m = /^(.*?)(?::(\d+))?$/.exec(spec);
  const host = m?.[1] ?? spec;
  const port = m?.[2] ? Number(m[2]) : undefined;
  // Lab node names resolve to their own node whatever port is written (the runbook's :50051).
  if (sim.nodes.has(host)) return host;
  if ((host === '127.0.0.1' || host === 'localhost') && port) {
    return [...sim.nodes.values()].find((rt) => rt.grpcPort === port)?.name;
  }
  return undefined;
}

/** A data directory inside the host: absolute paths are under the host root, relative ones under the caller's cwd. */
export function resolveDataDir(rt: NodeRuntime, cwd: string, raw: string): string | ShimResult {
  const root = rt.root;
  const inside = (p: string) => p === root || p.startsWith(root + sep);
  const base = inside(resolve(cwd)) ? resolve(cwd) : root;
  const p = isAbsolute(raw) ? resolve(inside(resolve(raw)) ? raw : join(root, raw)) : resolve(base, raw);
  if (!inside(p)) return fail(2, `inferadb-ledger: data directory "${raw}" is outside this host's filesystem`);
  return p;
}
