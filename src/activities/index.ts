/**
 * The activities recovery workflows call, built on the transports of this
 * directory. {@link createActivities} returns one object per worker; its
 * functions resolve the cluster and node of each call from the inventory file
 * (re-read when it changes, so an operator can fix an address without
 * restarting the worker), resolve secrets only here, stream remote output
 * into heartbeats, honour cancellation, and map every failure to an
 * `ApplicationFailure` that is non-retryable when retrying cannot help.
 *
 * Idempotency, per activity:
 * - reads (`*Status`, `*Info`, `ListVaults`, `CheckIntegrity`) have no effect;
 * - `ledgerStop`/`ledgerStart`/`ledgerClearData` check the node first and
 *   report `alreadyDone` when the effect is already in place;
 * - `ledgerWriteRead` writes with an idempotency key derived from the
 *   workflow and activity ids, so a retry never writes twice;
 * - `p2pRestart` leaves a marker in the node's workdir once the restart is
 *   launched; a retried attempt of the same activity finds it and only
 *   verifies, so a node is restarted once per step even across worker crashes.
 *
 * @module
 */
import { statSync } from 'node:fs';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { clusterOf, InventoryError, loadInventory, nodeOf, type Inventory } from '../inventory/load';
import type { ClusterSpec, NodeSpec } from '../inventory/schema';
import { toFailure, TransportError } from './errors';
import { LedgerGrpcPool } from './grpc';
import { httpJson, httpText, parsePrometheus } from './http';
import { redact, resolveSecret } from './secrets';
import { quoteArgv, renderScript, type RemoteCommand } from './shell';
import { SshPool, type ExecResult, type SshConnectOptions } from './ssh';
import type {
  EffectResult,
  LedgerBackupInfo,
  LedgerDeterminismBugs,
  LedgerIntegrity,
  LedgerNodeInfo,
  LedgerStartMode,
  LedgerVault,
  LifeboatActivities,
  NodeRef,
  NotifyInput,
  P2pStatus,
  SshCheckResult,
} from './types';

export type { LifeboatActivities } from './types';

/** What the activities need from their worker. */
export interface ActivityDeps {
  /** The clusters file. */
  inventoryPath: string;
  /** Optional webhook that receives every notification as JSON (`LIFEBOAT_NOTIFY_URL`). */
  notifyUrl?: string;
  /** Shared pools (tests pass their own to count connections). */
  ssh?: SshPool;
  grpc?: LedgerGrpcPool;
}

/** The activities plus the pools behind them, to close on worker shutdown. */
export interface ActivitySet {
  activities: LifeboatActivities;
  close(): Promise<void>;
}

/** How often a long activity heartbeats when its transport is silent. */
const HEARTBEAT_EVERY_MS = 5_000;
/** The runbook's `timeout 5 ssh host "echo OK"`. */
const SSH_CHECK_MS = 5_000;
const GRPC_READ_MS = 3_000;
const HTTP_READ_MS = 5_000;

/** Per-cluster settings with their defaults (the runbooks' values). */
const DEFAULTS = {
  service: 'ledger',
  binary: 'inferadb-ledger',
  dataDir: '/data',
  startLog: 'ledger-start.log',
  startTimeoutSeconds: 60,
  sudo: false,
  processPattern: 'p2p_orchestrator',
  p2pStart: 'python -m app.p2p.orchestrator',
  p2pLog: 'logs/p2p.log',
  localP2pPort: 8770,
  restartTimeoutSeconds: 60,
} as const;

type SettingKey = keyof typeof DEFAULTS;

/**
 * Builds the activities of one worker.
 *
 * @example
 * const { activities, close } = createActivities({ inventoryPath: 'clusters.yaml' });
 * const worker = await Worker.create({ ..., activities });
 */
export function createActivities(deps: ActivityDeps): ActivitySet {
  const ssh = deps.ssh ?? new SshPool();
  const grpcPool = deps.grpc ?? new LedgerGrpcPool();
  let cached: { mtimeMs: number; size: number; inv: Inventory } | undefined;

  // ------------------------------------------------------------ plumbing --

  function inventory(): Inventory {
    let st;
    try {
      st = statSync(deps.inventoryPath);
    } catch {
      st = undefined;
    }
    if (cached && st && st.mtimeMs === cached.mtimeMs && st.size === cached.size) return cached.inv;
    const inv = loadInventory(deps.inventoryPath);
    if (st) cached = { mtimeMs: st.mtimeMs, size: st.size, inv };
    return inv;
  }

  function lookup(ref: NodeRef): { cluster: ClusterSpec; node: NodeSpec } {
    const inv = inventory();
    return { cluster: clusterOf(inv, ref.cluster), node: nodeOf(inv, ref.cluster, ref.node) };
  }

  function setting<K extends SettingKey>(cluster: ClusterSpec, key: K): (typeof DEFAULTS)[K] {
    const v = cluster.settings[key];
    if (v === undefined) return DEFAULTS[key];
    const want = typeof DEFAULTS[key];
    if (typeof v !== want) {
      throw new TransportError(
        'BadInventory',
        `inventory setting ${key} must be a ${want}, got ${JSON.stringify(v)}; fix it under the cluster's settings`,
        false,
      );
    }
    return v as (typeof DEFAULTS)[K];
  }

  function missing(ref: NodeRef, what: string, example: string): TransportError {
    return new TransportError(
      'BadInventory',
      `node ${ref.node} of cluster ${ref.cluster} has no ${what} in the inventory; add ${example} and run \`lifeboat inventory check\``,
      false,
    );
  }

  async function sshOptions(ref: NodeRef, readyTimeoutMs?: number): Promise<{ conn: SshConnectOptions; secrets: string[]; workdir?: string; sudo: boolean }> {
    const { cluster, node } = lookup(ref);
    if (!node.ssh) throw missing(ref, 'ssh block', 'ssh: {host, user, privateKey: "file:/path", hostKeys: [...]}');
    const privateKey = await resolveSecret(node.ssh.privateKey);
    const passphrase = node.ssh.passphrase ? await resolveSecret(node.ssh.passphrase) : undefined;
    return {
      conn: { target: node.ssh, privateKey, passphrase, readyTimeoutMs },
      secrets: [privateKey, ...(passphrase ? [passphrase] : [])],
      workdir: node.ssh.workdir,
      sudo: setting(cluster, 'sudo'),
    };
  }

  /** Runs commands on a node over SSH, heartbeating with the output tail; a non-zero exit is returned. */
  async function exec(ref: NodeRef, cmds: RemoteCommand[], timeoutMs: number, readyTimeoutMs?: number): Promise<ExecResult> {
    const { conn, secrets } = await sshOptions(ref, readyTimeoutMs);
    const ctx = Context.current();
    // Heartbeat with the output tail as it streams, and every few seconds
    // anyway: a command that prints nothing must not look like a dead worker.
    const res = await beating(
      ssh.exec(conn, cmds, {
        timeoutMs,
        signal: ctx.cancellationSignal,
        onOutput: (tail) => ctx.heartbeat({ node: ref.node, tail: redact(tail, secrets) }),
      }),
      { node: ref.node, running: 'remote command' },
    );
    return { ...res, stdout: redact(res.stdout, secrets), stderr: redact(res.stderr, secrets) };
  }

  /** A command that must succeed: a non-zero exit fails non-retryably with the output and the next step. */
  function check(ref: NodeRef, res: ExecResult, what: string, next: string): string {
    const out = `${res.stdout}${res.stderr}`.trim();
    if (res.exitCode !== 0) {
      throw new TransportError(
        'CommandFailed',
        `${what} on ${ref.node} exited with ${res.exitCode ?? `signal ${res.signal ?? '?'}`}${out ? `: ${lastLines(out, 8)}` : ''}; ${next}`,
        false,
        { node: ref.node, exitCode: res.exitCode },
      );
    }
    return lastLines(out, 20);
  }

  function root(argv: string[], sudo: boolean): string[] {
    return sudo ? ['sudo', '-n', '--', ...argv] : argv;
  }

  /** Heartbeats every few seconds while `p` runs (transports that do not stream). */
  async function beating<T>(p: Promise<T>, details?: unknown): Promise<T> {
    const ctx = Context.current();
    const t = setInterval(() => ctx.heartbeat(details), HEARTBEAT_EVERY_MS);
    try {
      return await p;
    } finally {
      clearInterval(t);
    }
  }

  /** Sleeps, failing early with the cancellation reason. */
  function sleep(ms: number): Promise<void> {
    return Context.current().sleep(ms);
  }

  /** Runs an activity body and converts what it throws. Cancellation passes through untouched. */
  async function run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof CancelledFailure) throw err;
      // Transports report an aborted call as their own `Cancelled` error; the worker must see a
      // CancelledFailure, or a cancelled activity is reported as failed (and may be retried).
      const signal = Context.current().cancellationSignal;
      if (signal.aborted) throw signal.reason instanceof CancelledFailure ? signal.reason : new CancelledFailure('activity cancelled', [], err as Error);
      if (err instanceof InventoryError) {
        throw ApplicationFailure.create({ type: 'BadInventory', message: `${err.message}; ${err.fix}`, nonRetryable: true });
      }
      throw toFailure(err);
    }
  }

  function grpcAddress(ref: NodeRef): { address: string; tls: boolean } {
    const { node } = lookup(ref);
    if (!node.grpc) throw missing(ref, 'grpc address', 'grpc: {address: "host:50051"}');
    return { address: node.grpc.address, tls: node.grpc.tls };
  }

  function grpcCall<T>(ref: NodeRef, service: 'AdminService' | 'ReadService' | 'WriteService' | 'HealthService', method: string, req: object, deadlineMs = GRPC_READ_MS): Promise<T> {
    const { address, tls } = grpcAddress(ref);
    return grpcPool.call<T>(address, service, method, req, { deadlineMs, tls, signal: Context.current().cancellationSignal });
  }

  /** Unreachable-type failures: a node that is down is a finding, not an activity failure. */
  function isUnreachable(err: unknown): boolean {
    return err instanceof TransportError && err.retryable;
  }

  function stableKey(prefix: string): string {
    const info = Context.current().info;
    return `${prefix}-${info.workflowExecution?.workflowId ?? 'standalone'}-${info.workflowExecution?.runId ?? ''}-${info.activityId}`.replace(/[^A-Za-z0-9._-]/g, '_');
  }

  // -------------------------------------------------------------- common --

  async function sshCheck(ref: NodeRef): Promise<SshCheckResult> {
    return run(async () => {
      const started = Date.now();
      try {
        const res = await exec(ref, [{ argv: ['echo', 'OK'] }], SSH_CHECK_MS, SSH_CHECK_MS);
        if (res.exitCode === 0 && res.stdout.trim() === 'OK') return { node: ref.node, reachable: true, latencyMs: Date.now() - started };
        return { node: ref.node, reachable: false, error: `echo OK answered ${JSON.stringify(lastLines(res.stdout + res.stderr, 2))} (exit ${res.exitCode})` };
      } catch (err) {
        if (err instanceof CancelledFailure || err instanceof InventoryError) throw err; // an unknown node is not an unreachable one
        if (err instanceof TransportError && (err.type === 'BadInventory' || err.type === 'SecretUnavailable')) throw err;
        return { node: ref.node, reachable: false, error: err instanceof Error ? err.message : String(err) };
      }
    });
  }

  async function notify(n: NotifyInput): Promise<void> {
    return run(async () => {
      const ctx = Context.current();
      const wf = ctx.info.workflowExecution?.workflowId;
      const attrs = { cluster: n.cluster, severity: n.severity, workflowId: wf };
      const line = `[${n.severity.toUpperCase()}] ${n.subject}: ${n.text}`;
      if (n.severity === 'critical') ctx.log.error(line, attrs);
      else if (n.severity === 'warning') ctx.log.warn(line, attrs);
      else ctx.log.info(line, attrs);
      if (deps.notifyUrl) {
        await httpJson({
          url: deps.notifyUrl,
          method: 'POST',
          body: { ...n, workflowId: wf },
          timeoutMs: 10_000,
          signal: ctx.cancellationSignal,
        });
      }
    });
  }

  // -------------------------------------------------------------- ledger --

  async function ledgerNodeInfo(ref: NodeRef): Promise<LedgerNodeInfo> {
    return run(async () => {
      type Info = {
        cluster_id?: string;
        leader_id?: { id?: string } | null;
        term?: number;
        mode?: string;
        commit_index?: number;
        members?: Array<{ node_id?: { id?: string } | null; role?: string; reachable?: boolean }>;
      };
      try {
        const [info, health] = await Promise.all([
          grpcCall<Info>(ref, 'AdminService', 'GetClusterInfo', {}),
          grpcCall<{ status?: string }>(ref, 'HealthService', 'Check', { service: '' }),
        ]);
        return {
          node: ref.node,
          reachable: true,
          clusterId: info.cluster_id || undefined,
          leader: info.leader_id?.id || undefined,
          term: info.term,
          mode: info.mode === 'single' ? 'single' : 'cluster',
          commitIndex: info.commit_index,
          members: (info.members ?? []).map((m) => ({ node: m.node_id?.id ?? '?', role: m.role ?? '', reachable: !!m.reachable })),
          serving: health.status === 'SERVING',
        };
      } catch (err) {
        if (isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message };
        throw err;
      }
    });
  }

  function serviceArgv(cluster: ClusterSpec, verb: string): string[] {
    return root(['systemctl', verb, setting(cluster, 'service')], setting(cluster, 'sudo'));
  }

  async function serviceActive(ref: NodeRef, cluster: ClusterSpec): Promise<boolean> {
    const res = await exec(ref, [{ argv: serviceArgv(cluster, 'is-active') }], 30_000);
    return res.exitCode === 0;
  }

  async function ledgerStop(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(async () => {
      const { cluster } = lookup(input);
      const argv = serviceArgv(cluster, 'stop');
      const plan = `${input.node}: ${quoteArgv(argv)}`;
      if (input.dryRun) return { dryRun: true, plan };
      if (!(await serviceActive(input, cluster))) return { alreadyDone: true, plan, output: `${setting(cluster, 'service')} is not active` };
      const res = await exec(input, [{ argv }], 120_000);
      const output = check(input, res, quoteArgv(argv), `check \`systemctl status ${setting(cluster, 'service')}\` on ${input.node}`);
      return { plan, output };
    });
  }

  function peerAddress(ref: NodeRef, peer: string): string {
    const { node } = lookup({ cluster: ref.cluster, node: peer });
    return node.grpc?.address ?? peer;
  }

  function startCommand(ref: NodeRef, cluster: ClusterSpec, start: LedgerStartMode): RemoteCommand {
    const dataDir = (start.mode !== 'join' ? start.dataDir : undefined) ?? setting(cluster, 'dataDir');
    const env: Record<string, string> = { INFERADB__LEDGER__DATA: dataDir };
    if (start.mode === 'cluster') {
      if (!Number.isInteger(start.size) || start.size < 1 || start.peers.length !== start.size) {
        throw new TransportError('InvalidArgument', `cluster start needs size = number of peers (size ${start.size}, peers ${start.peers.join(',')})`, false);
      }
      env.INFERADB__LEDGER__CLUSTER = String(start.size);
      env.INFERADB__LEDGER__PEERS = start.peers.map((p) => peerAddress(ref, p)).join(',');
    } else if (start.mode === 'join') {
      if (start.peers.length === 0) throw new TransportError('InvalidArgument', 'join needs at least one running peer', false);
      env.INFERADB__LEDGER__JOIN = 'true';
      env.INFERADB__LEDGER__PEERS = start.peers.map((p) => peerAddress(ref, p)).join(',');
    }
    const argv = [setting(cluster, 'binary'), ...(start.mode === 'single' ? ['--single'] : []), '--data', dataDir];
    return { argv: root(argv, setting(cluster, 'sudo')), env, detach: { logFile: setting(cluster, 'startLog') } };
  }

  async function ledgerStart(input: NodeRef & { dryRun?: boolean; start: LedgerStartMode }): Promise<EffectResult> {
    return run(async () => {
      const { cluster } = lookup(input);
      const cmd = startCommand(input, cluster, input.start);
      const plan = `${input.node}: ${renderScript(cmd)}`;
      if (input.dryRun) return { dryRun: true, plan };
      const want = input.start.mode === 'single' ? 'single' : 'cluster';
      const before = await ledgerNodeInfo(input);
      if (before.reachable) {
        if (before.mode === want) return { alreadyDone: true, plan, output: `already running in ${want} mode (cluster ${before.clusterId ?? '?'})` };
        throw new TransportError(
          'FailedPrecondition',
          `${input.node} already runs the ledger in ${before.mode ?? '?'} mode, not ${want}; stop it first (systemctl stop ${setting(cluster, 'service')})`,
          false,
        );
      }
      const res = await exec(input, [cmd], 60_000);
      check(input, res, `starting ${setting(cluster, 'binary')}`, `see ${setting(cluster, 'startLog')} on ${input.node}`);
      // The daemon runs detached: confirm it came up (single mode must also lead) before reporting success.
      const deadline = Date.now() + setting(cluster, 'startTimeoutSeconds') * 1000;
      let last: LedgerNodeInfo = before;
      while (Date.now() < deadline) {
        await sleep(1_000);
        last = await ledgerNodeInfo(input);
        Context.current().heartbeat({ node: input.node, waiting: 'ledger to come up', reachable: last.reachable });
        if (last.reachable && last.mode === want && (want === 'cluster' || last.serving)) {
          return { plan, output: `${input.node} up in ${want} mode, cluster ${last.clusterId ?? '?'}, leader ${last.leader ?? 'none yet'}` };
        }
      }
      const log = await exec(input, [{ argv: ['tail', '-n', '20', setting(cluster, 'startLog')], ignoreExit: true }], 15_000).catch(() => undefined);
      throw new TransportError(
        'StartTimeout',
        `${input.node} did not come up in ${want} mode within ${setting(cluster, 'startTimeoutSeconds')} s (last: ${last.reachable ? `mode ${last.mode}, serving ${String(last.serving)}` : last.error ?? 'unreachable'})` +
          `${log ? `; ${setting(cluster, 'startLog')}: ${lastLines(log.stdout + log.stderr, 8)}` : ''}; check \`systemctl status ${setting(cluster, 'service')}\` and the log on ${input.node}`,
        false,
      );
    });
  }

  async function ledgerClearData(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(async () => {
      const { cluster } = lookup(input);
      const dataDir = setting(cluster, 'dataDir').replace(/\/+$/, '');
      const normalized = dataDir.split('/').filter((p) => p && p !== '.');
      if (normalized.length === 0 || normalized.includes('..')) {
        throw new TransportError('BadInventory', `refusing to clear data directory ${JSON.stringify(setting(cluster, 'dataDir'))}: set settings.dataDir of ${input.cluster} to the ledger's own data directory`, false);
      }
      const sudo = setting(cluster, 'sudo');
      const argv = root(['find', dataDir, '-mindepth', '1', '-delete'], sudo);
      const plan = `${input.node}: rm -rf ${dataDir}/* (${quoteArgv(argv)})`;
      if (input.dryRun) return { dryRun: true, plan };
      if (await serviceActive(input, cluster)) {
        throw new TransportError(
          'FailedPrecondition',
          `the ledger still runs on ${input.node}: its data is not cleared while in use; stop it first (systemctl stop ${setting(cluster, 'service')})`,
          false,
        );
      }
      const probe = await exec(input, [{ argv: root(['find', dataDir, '-mindepth', '1', '-maxdepth', '1'], sudo) }], 30_000);
      if (probe.exitCode === 0 && probe.stdout.trim() === '') return { alreadyDone: true, plan, output: `${dataDir} is already empty` };
      const res = await exec(input, [{ argv }], 120_000);
      return { plan, output: check(input, res, `clearing ${dataDir}`, `check permissions on ${dataDir} (settings.sudo) on ${input.node}`) };
    });
  }

  async function ledgerLeaveCluster(input: NodeRef & { dryRun?: boolean; leaving: string }): Promise<EffectResult> {
    return run(async () => {
      if (input.leaving === input.node) {
        throw new TransportError('InvalidArgument', `a node cannot remove itself: send LeaveCluster for ${input.leaving} to another, healthy member`, false);
      }
      lookup({ cluster: input.cluster, node: input.leaving }); // the leaving node must be in the inventory
      const { address } = grpcAddress(input);
      const plan = `grpcurl -plaintext ${address} -d '{"node_id": {"id": "${input.leaving}"}}' ledger.v1.AdminService/LeaveCluster`;
      if (input.dryRun) return { dryRun: true, plan };
      const res = await grpcCall<{ removed?: boolean }>(input, 'AdminService', 'LeaveCluster', { node_id: { id: input.leaving } }, 30_000);
      return res.removed ? { plan, output: `${input.leaving} removed from the cluster via ${input.node}` } : { plan, alreadyDone: true, output: `${input.leaving} is not a member` };
    });
  }

  async function ledgerListVaults(ref: NodeRef): Promise<LedgerVault[]> {
    return run(async () => {
      type V = { vault?: { vault?: { slug?: string }; organization_slug?: { id?: string }; status?: string; height?: number } };
      const res = await grpcCall<{ vaults?: V[] }>(ref, 'AdminService', 'ListVaults', {}, 30_000);
      return (res.vaults ?? []).map((v) => ({
        organization: v.vault?.organization_slug?.id ?? '',
        vault: v.vault?.vault?.slug ?? '',
        status: v.vault?.status ?? '',
        height: Number(v.vault?.height ?? 0),
      }));
    });
  }

  async function ledgerCheckIntegrity(input: NodeRef & { organization: string; vault: string; fullCheck: boolean }): Promise<LedgerIntegrity> {
    return run(async () => {
      const res = await beating(
        grpcCall<{ ok?: boolean; blocks_checked?: number; problems?: string[] }>(
          input,
          'AdminService',
          'CheckIntegrity',
          { organization_slug: { id: input.organization }, vault: { slug: input.vault }, full_check: input.fullCheck },
          4 * 60_000,
        ),
        { node: input.node, vault: input.vault },
      );
      return { organization: input.organization, vault: input.vault, ok: !!res.ok, blocksChecked: Number(res.blocks_checked ?? 0), problems: res.problems ?? [] };
    });
  }

  async function ledgerWriteRead(input: NodeRef & { dryRun?: boolean; organization: string; vault: string }): Promise<EffectResult & { height?: number }> {
    return run(async () => {
      const key = stableKey('lifeboat-check');
      const plan = `${input.node}: WriteService.Write ${input.organization}/${input.vault} (idempotency key ${key}), then ReadService.GetTip`;
      if (input.dryRun) return { dryRun: true, plan };
      const ref = { organization_slug: { id: input.organization }, vault: { slug: input.vault } };
      const payload = Buffer.from(JSON.stringify({ lifeboat: 'post-recovery write check', key }));
      const w = await grpcCall<{ height?: number; duplicate?: boolean }>(input, 'WriteService', 'Write', { ...ref, idempotency_key: key, payload }, 15_000);
      const tip = await grpcCall<{ height?: number; hash?: string }>(input, 'ReadService', 'GetTip', ref, 15_000);
      const height = Number(w.height ?? 0);
      if (Number(tip.height ?? 0) < height) {
        throw new TransportError('ReadBehindWrite', `${input.node} reads height ${tip.height} after a write at ${height}: the node is lagging; it will be retried`, true);
      }
      return { plan, height, alreadyDone: !!w.duplicate, output: `wrote at height ${height}, tip ${tip.height} (${tip.hash ?? ''})` };
    });
  }

  async function ledgerMetricsFlowing(ref: NodeRef): Promise<boolean> {
    return run(async () => {
      const { node } = lookup(ref);
      if (!node.metricsUrl) throw missing(ref, 'metricsUrl', 'metricsUrl: "http://host:9090/metrics"');
      try {
        const res = await httpText({ url: node.metricsUrl, timeoutMs: HTTP_READ_MS, signal: Context.current().cancellationSignal });
        return parsePrometheus(res.body).some((s) => s.name.startsWith('ledger_'));
      } catch (err) {
        if (isUnreachable(err)) return false;
        throw err;
      }
    });
  }

  async function ledgerDeterminismBugs(ref: NodeRef): Promise<LedgerDeterminismBugs> {
    return run(async () => {
      const { node } = lookup(ref);
      if (!node.metricsUrl) throw missing(ref, 'metricsUrl', 'metricsUrl: "http://host:9090/metrics"');
      try {
        const res = await httpText({ url: node.metricsUrl, timeoutMs: HTTP_READ_MS, signal: Context.current().cancellationSignal });
        const bugs = parsePrometheus(res.body)
          .filter((s) => s.name === 'ledger_determinism_bug_total' && s.value > 0)
          .map((s) => ({ organization: s.labels.organization ?? '', vault: s.labels.vault ?? '', count: s.value }));
        return { node: ref.node, reachable: true, bugs };
      } catch (err) {
        if (isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message, bugs: [] };
        throw err;
      }
    });
  }

  async function ledgerBackupInfo(input: NodeRef & { source: string }): Promise<LedgerBackupInfo> {
    return run(async () => {
      const s3 = parseS3(input.source);
      const res = await exec(input, [{ argv: ['aws', 's3', 'ls', input.source] }], 60_000);
      const line = res.stdout.split('\n').find((l) => l.trim().endsWith(` ${s3.file}`));
      if (res.exitCode !== 0 || !line) {
        if (/NoSuchBucket|AccessDenied|InvalidAccessKeyId|credentials/i.test(res.stderr)) {
          check(input, res, `aws s3 ls ${input.source}`, `check the bucket name and the node's AWS credentials`);
        }
        return { source: input.source, exists: false };
      }
      const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\s+(\d+)\s/.exec(line.trim());
      return { source: input.source, exists: true, sizeBytes: m ? Number(m[3]) : undefined, takenAt: m ? `${m[1]}T${m[2]}Z` : undefined };
    });
  }

  async function ledgerFetchBackup(input: NodeRef & { dryRun?: boolean; source: string; restoreDir?: string }): Promise<EffectResult & { restoreDir: string }> {
    return run(async () => {
      const { cluster } = lookup(input);
      const s3 = parseS3(input.source);
      const restoreDir = input.restoreDir ?? `${setting(cluster, 'dataDir').replace(/\/+$/, '')}/restore`;
      const sudo = setting(cluster, 'sudo');
      const archive = `${restoreDir}/${s3.file}`;
      const cmds: RemoteCommand[] = [
        { argv: root(['mkdir', '-p', restoreDir], sudo) },
        { argv: root(['aws', 's3', 'cp', input.source, `${restoreDir}/`], sudo) },
        { argv: root(['tar', '-xzf', archive, '-C', restoreDir], sudo) },
      ];
      const plan = `${input.node}: ${renderScript(cmds)}`;
      if (input.dryRun) return { dryRun: true, plan, restoreDir };
      const res = await exec(input, cmds, 25 * 60_000);
      const output = check(input, res, `fetching ${input.source}`, `check the backup path, the node's AWS credentials and free space in ${restoreDir}`);
      return { plan, output, restoreDir };
    });
  }

  async function ledgerGetTip(input: NodeRef & { organization: string; vault: string }): Promise<{ height: number; hash: string }> {
    return run(async () => {
      const res = await grpcCall<{ height?: number; hash?: string }>(input, 'ReadService', 'GetTip', vaultRef(input), 15_000);
      return { height: Number(res.height ?? 0), hash: res.hash ?? '' };
    });
  }

  function vaultRef(input: { organization: string; vault: string }) {
    return { organization_slug: { id: input.organization }, vault: { slug: input.vault } };
  }

  async function ledgerGetVault(input: NodeRef & { organization: string; vault: string }): Promise<LedgerVault> {
    return run(async () => {
      const res = await grpcCall<{ vault?: { status?: string; height?: number } }>(input, 'AdminService', 'GetVault', vaultRef(input), 15_000);
      return { organization: input.organization, vault: input.vault, status: res.vault?.status ?? '', height: Number(res.vault?.height ?? 0) };
    });
  }

  async function ledgerRecoverVault(input: NodeRef & { dryRun?: boolean; organization: string; vault: string }): Promise<EffectResult & { recovered?: boolean; status?: string }> {
    return run(async () => {
      const { address } = grpcAddress(input);
      const plan = `grpcurl -plaintext -d '{"organization_slug": {"id": "${input.organization}"}, "vault": {"slug": "${input.vault}"}}' ${address} ledger.v1.AdminService/RecoverVault`;
      if (input.dryRun) return { dryRun: true, plan };
      const before = await grpcCall<{ vault?: { status?: string } }>(input, 'AdminService', 'GetVault', vaultRef(input), 15_000);
      if (before.vault?.status === 'ACTIVE') return { plan, alreadyDone: true, recovered: true, status: 'ACTIVE', output: `${input.organization}/${input.vault} is already ACTIVE on ${input.node}` };
      const res = await beating(grpcCall<{ recovered?: boolean; status?: string }>(input, 'AdminService', 'RecoverVault', vaultRef(input), 4 * 60_000), { node: input.node, vault: input.vault });
      return { plan, recovered: !!res.recovered, status: res.status, output: `recovered ${String(!!res.recovered)}, status ${res.status ?? '?'}` };
    });
  }

  async function ledgerCreateSnapshot(input: NodeRef & { dryRun?: boolean; organization: string; vault: string }): Promise<EffectResult & { snapshotId?: string; height?: number }> {
    return run(async () => {
      const { address } = grpcAddress(input);
      const plan = `grpcurl -plaintext ${address} -d '{"organization_slug": {"id": "${input.organization}"}, "vault": {"slug": "${input.vault}"}}' ledger.v1.AdminService/CreateSnapshot`;
      if (input.dryRun) return { dryRun: true, plan };
      const res = await beating(grpcCall<{ snapshot_id?: string; height?: number }>(input, 'AdminService', 'CreateSnapshot', vaultRef(input), 4 * 60_000), { node: input.node, vault: input.vault });
      return { plan, snapshotId: res.snapshot_id, height: Number(res.height ?? 0), output: `snapshot ${res.snapshot_id ?? '?'} at height ${res.height ?? '?'}` };
    });
  }

  // ---------------------------------------------------- training cluster --

  async function p2pStatus(ref: NodeRef): Promise<P2pStatus> {
    return run(async () => {
      const { node } = lookup(ref);
      if (!node.http) throw missing(ref, 'http baseUrl', 'http: {baseUrl: "http://host:8770"}');
      type S = { leader_id?: string | null; alive_peers?: string[]; election_state?: string; voters?: string[] };
      try {
        const bearer = node.http.authToken ? await resolveSecret(node.http.authToken) : undefined;
        const res = await httpJson<S>({
          url: new URL('/status', node.http.baseUrl).toString(),
          bearer,
          authRef: node.http.authToken,
          timeoutMs: HTTP_READ_MS,
          signal: Context.current().cancellationSignal,
        });
        const b = res.body ?? {};
        return { node: ref.node, reachable: true, leaderId: b.leader_id ?? null, alivePeers: b.alive_peers ?? [], electionState: b.election_state, voters: b.voters };
      } catch (err) {
        if (isUnreachable(err)) return { node: ref.node, reachable: false, error: (err as Error).message };
        throw err;
      }
    });
  }

  async function p2pJobs(ref: NodeRef): Promise<{ node: string; reachable: boolean; activeJobs: number; error?: string }> {
    return run(async () => {
      const { node } = lookup(ref);
      if (!node.http) throw missing(ref, 'http baseUrl', 'http: {baseUrl: "http://host:8770"}');
      try {
        const bearer = node.http.authToken ? await resolveSecret(node.http.authToken) : undefined;
        const res = await httpJson<{ active_jobs?: unknown[] }>({
          url: new URL('/jobs', node.http.baseUrl).toString(),
          bearer,
          authRef: node.http.authToken,
          timeoutMs: HTTP_READ_MS,
          signal: Context.current().cancellationSignal,
        });
        return { node: ref.node, reachable: true, activeJobs: Array.isArray(res.body?.active_jobs) ? res.body.active_jobs.length : 0 };
      } catch (err) {
        if (isUnreachable(err)) return { node: ref.node, reachable: false, activeJobs: 0, error: (err as Error).message };
        throw err;
      }
    });
  }

  /** A POST to the orchestrator's admin API with the cluster token. */
  async function p2pAdmin(ref: NodeRef, path: string, body: unknown, dryRun: boolean | undefined, what: string): Promise<EffectResult> {
    const { node } = lookup(ref);
    if (!node.http) throw missing(ref, 'http baseUrl', 'http: {baseUrl: "http://host:8770"}');
    if (!node.http.authToken) throw missing(ref, 'http.authToken', 'http: {authToken: "env:CLUSTER_AUTH_TOKEN"}');
    const url = new URL(path, node.http.baseUrl).toString();
    const plan = `${ref.node}: curl -X POST ${url} -H "Authorization: Bearer $CLUSTER_AUTH_TOKEN"${body === undefined ? '' : ` -d '${JSON.stringify(body)}'`}`;
    if (dryRun) return { dryRun: true, plan };
    const res = await httpJson({
      url,
      method: 'POST',
      body,
      bearer: await resolveSecret(node.http.authToken),
      authRef: node.http.authToken,
      timeoutMs: 15_000,
      signal: Context.current().cancellationSignal,
    });
    return { plan, output: `${what}: ${JSON.stringify(res.body)}` };
  }

  async function p2pElectionReset(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(() => p2pAdmin(input, '/admin/election/reset', undefined, input.dryRun, 'election reset'));
  }

  async function p2pSetLeader(input: NodeRef & { dryRun?: boolean; leader: string }): Promise<EffectResult> {
    return run(async () => {
      lookup({ cluster: input.cluster, node: input.leader }); // the designated leader must be in the inventory
      return p2pAdmin(input, '/admin/set-leader', { node_id: input.leader }, input.dryRun, `leader set to ${input.leader}`);
    });
  }

  async function daemonStatus(ref: NodeRef): Promise<{ node: string; running: boolean; healthy: boolean; detail: string }> {
    const { cluster, node } = lookup(ref);
    const cwd = node.ssh?.workdir;
    const pattern = setting(cluster, 'processPattern');
    const pg = await exec(ref, [{ argv: ['pgrep', '-f', pattern], cwd }], 30_000);
    const running = pg.exitCode === 0;
    const url = `http://localhost:${setting(cluster, 'localP2pPort')}/health`;
    const hc = await exec(ref, [{ argv: ['curl', '-sf', '-m', '5', url], cwd }], 30_000);
    const healthy = hc.exitCode === 0;
    const pids = pg.stdout.trim().split(/\s+/).filter(Boolean).join(',');
    const detail = `${running ? `running (pid ${pids})` : 'not running'}; /health ${healthy ? 'ok' : `failed (curl exit ${hc.exitCode}${hc.stdout.trim() ? `: ${lastLines(hc.stdout, 1)}` : ''})`}`;
    return { node: ref.node, running, healthy, detail };
  }

  async function p2pDaemonStatus(ref: NodeRef): Promise<{ node: string; running: boolean; healthy: boolean; detail: string }> {
    return run(() => daemonStatus(ref));
  }

  async function p2pRestart(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(async () => {
      const { cluster, node } = lookup(input);
      if (!node.ssh) throw missing(input, 'ssh block', 'ssh: {host, user, privateKey, hostKeys, workdir}');
      const cwd = node.ssh.workdir;
      const pattern = setting(cluster, 'processPattern');
      const startArgv = setting(cluster, 'p2pStart').split(/\s+/).filter(Boolean);
      const log = setting(cluster, 'p2pLog');
      const logDir = log.includes('/') ? log.slice(0, log.lastIndexOf('/')) : '.';
      // Once-per-step markers in the node's workdir, keyed by workflow, run and activity id (stable across retries):
      // `<key>.from-<old pids>` before the kill (intent), `<key>` once the new process is launched (done).
      const dir = '.lifeboat/restarts';
      const key = stableKey('p2p');
      const plan = `${input.node}: ${cwd ? `cd ${cwd} && ` : ''}pkill -f ${pattern}; nohup ${startArgv.join(' ')} > ${log} 2>&1 &`;
      if (input.dryRun) return { dryRun: true, plan };

      const pids = async (): Promise<string[]> => {
        const r = await exec(input, [{ argv: ['pgrep', '-f', pattern], cwd }], 30_000);
        return r.exitCode === 0 ? r.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p)).sort() : [];
      };
      const listing = await exec(input, [{ argv: ['ls', '-1', dir], cwd }], 30_000);
      const entries = listing.exitCode === 0 ? listing.stdout.split('\n').map((l) => l.trim()) : [];
      const intent = entries.find((e) => e.startsWith(`${key}.from-`));
      let alreadyDone = entries.includes(key);
      const now = await pids();
      if (!alreadyDone && intent) {
        // An earlier attempt died between its kill and its done-marker: if the processes it meant
        // to replace are gone and others run, the restart happened; do not restart twice.
        const old = intent.slice(`${key}.from-`.length).split('_').filter(Boolean);
        if (now.length > 0 && !now.some((p) => old.includes(p))) {
          alreadyDone = true;
          await exec(input, [{ argv: ['touch', `${dir}/${key}`], cwd }], 30_000);
        }
      }
      if (!alreadyDone) {
        const cmds: RemoteCommand[] = [
          { argv: ['mkdir', '-p', dir, logDir], cwd },
          { argv: ['touch', `${dir}/${key}.from-${now.join('_')}`], cwd },
          { argv: ['pkill', '-f', pattern], cwd, ignoreExit: true },
          { argv: startArgv, cwd, detach: { logFile: log } },
          { argv: ['touch', `${dir}/${key}`], cwd },
        ];
        const res = await exec(input, cmds, 60_000);
        check(input, res, 'restarting the P2P orchestrator', `check ${log} in ${cwd ?? 'the home directory'} on ${input.node}`);
      }
      // Confirm the new process runs (and, within a short grace, answers /health) before the step counts as done.
      const deadline = Date.now() + setting(cluster, 'restartTimeoutSeconds') * 1000;
      let last = await daemonStatus(input);
      const graceEnd = Date.now() + 10_000;
      while ((!last.running || (!last.healthy && Date.now() < graceEnd)) && Date.now() < deadline) {
        Context.current().heartbeat({ node: input.node, waiting: 'orchestrator running', detail: last.detail });
        await sleep(1_000);
        last = await daemonStatus(input);
      }
      if (!last.running) {
        const tail = await exec(input, [{ argv: ['tail', '-n', '20', log], cwd, ignoreExit: true }], 15_000).catch(() => undefined);
        throw new TransportError(
          'RestartFailed',
          `the P2P orchestrator on ${input.node} is not running after the restart${tail ? `; ${log}: ${lastLines(tail.stdout + tail.stderr, 8)}` : ''}; fix the cause on the node, then retry the step`,
          false,
        );
      }
      // Running but not yet healthy is normal in a collapsed mesh: the stabilize wait and the verification decide.
      return { plan, alreadyDone, output: last.detail };
    });
  }

  const activities: LifeboatActivities = {
    sshCheck,
    notify,
    ledgerNodeInfo,
    ledgerStop,
    ledgerStart,
    ledgerClearData,
    ledgerLeaveCluster,
    ledgerListVaults,
    ledgerCheckIntegrity,
    ledgerWriteRead,
    ledgerMetricsFlowing,
    ledgerDeterminismBugs,
    ledgerGetVault,
    ledgerBackupInfo,
    ledgerFetchBackup,
    ledgerGetTip,
    ledgerRecoverVault,
    ledgerCreateSnapshot,
    p2pStatus,
    p2pDaemonStatus,
    p2pRestart,
    p2pJobs,
    p2pElectionReset,
    p2pSetLeader,
  };
  return {
    activities,
    async close() {
      await ssh.closeAll();
      grpcPool.close();
    },
  };
}

/** `s3://bucket/key/file.tar.gz` -> its parts; anything else is refused with the expected shape. */
function parseS3(source: string): { bucket: string; key: string; file: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,62})\/(.*[^/])$/.exec(source);
  if (!m) throw new TransportError('InvalidArgument', `backup must be an S3 object URL like s3://ledger-backups/latest/snapshot.tar.gz, got ${JSON.stringify(source)}`, false);
  const key = m[2]!;
  return { bucket: m[1]!, key, file: key.slice(key.lastIndexOf('/') + 1) };
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}
