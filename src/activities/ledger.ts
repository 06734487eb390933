/**
 * The ledger's activities (seed 002): membership and health over gRPC
 * (`ledger.v1`), service control and data directories over SSH, backups via
 * the node's `aws s3`, vault recovery and snapshots.
 *
 * Idempotency: reads have no effect; `ledgerStop`/`ledgerStart`/
 * `ledgerClearData` check the node first and report `alreadyDone` when the
 * effect is already in place; `ledgerWriteRead` writes with an idempotency
 * key derived from the workflow and activity ids; `ledgerRecoverVault`
 * leaves an ACTIVE vault alone.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import type { ClusterSpec } from '../inventory/schema';
import { HTTP_READ_MS, lastLines, type ActivityContext } from './context';
import { TransportError } from './errors';
import { httpText, parsePrometheus } from './http';
import { quoteArgv, renderScript, type RemoteCommand } from './shell';
import type { EffectResult, LedgerActivities, LedgerBackupInfo, LedgerDeterminismBugs, LedgerIntegrity, LedgerNodeInfo, LedgerStartMode, LedgerVault, NodeRef } from './types';

/** Per-cluster settings of a ledger cluster, with their defaults (the runbook's values). */
export const LEDGER_DEFAULTS = {
  service: 'ledger',
  binary: 'inferadb-ledger',
  dataDir: '/data',
  startLog: 'ledger-start.log',
  startTimeoutSeconds: 60,
  sudo: false,
};

/** The ledger activities of one worker. */
export function ledgerActivities(ctx: ActivityContext): LedgerActivities {
  const { lookup, missing, exec, check, root, beating, sleep, run, grpcAddress, grpcCall, isUnreachable, stableKey } = ctx;
  const setting = <K extends keyof typeof LEDGER_DEFAULTS>(cluster: ClusterSpec, key: K): (typeof LEDGER_DEFAULTS)[K] =>
    ctx.setting(cluster, key, LEDGER_DEFAULTS[key]);

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

  return { ledgerNodeInfo, ledgerStop, ledgerStart, ledgerClearData, ledgerLeaveCluster, ledgerListVaults, ledgerCheckIntegrity, ledgerWriteRead, ledgerMetricsFlowing, ledgerDeterminismBugs, ledgerBackupInfo, ledgerFetchBackup, ledgerGetTip, ledgerGetVault, ledgerRecoverVault, ledgerCreateSnapshot };
}

/** `s3://bucket/key/file.tar.gz` -> its parts; anything else is refused with the expected shape. */
function parseS3(source: string): { bucket: string; key: string; file: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,62})\/(.*[^/])$/.exec(source);
  if (!m) throw new TransportError('InvalidArgument', `backup must be an S3 object URL like s3://ledger-backups/latest/snapshot.tar.gz, got ${JSON.stringify(source)}`, false);
  const key = m[2]!;
  return { bucket: m[1]!, key, file: key.slice(key.lastIndexOf('/') + 1) };
}
