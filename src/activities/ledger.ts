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
import { clusterOf } from '../inventory/load';
import type { ClusterSpec } from '../inventory/schema';
import { HTTP_READ_MS, lastLines, type ActivityContext } from './context';
import { TransportError } from './errors';
import { httpText, parsePrometheus } from './http';
import { quoteArgv, renderScript, type RemoteCommand } from './shell';
import type {
  EffectResult,
  LedgerActivities,
  LedgerBackupInfo,
  LedgerDeterminismBugs,
  LedgerDrTopology,
  LedgerEngineRollout,
  LedgerIntegrity,
  LedgerNodeInfo,
  LedgerReplicaInfo,
  LedgerStartMode,
  LedgerVault,
  NodeRef,
} from './types';

/** Per-cluster settings of a ledger cluster, with their defaults (the runbook's values). */
export const LEDGER_DEFAULTS = {
  service: 'ledger',
  binary: 'inferadb-ledger',
  dataDir: '/data',
  startLog: 'ledger-start.log',
  startTimeoutSeconds: 60,
  sudo: false,
  // Regional failover (seed 002): set on the primary cluster ...
  /** The inventory cluster of the DR region; empty: none configured. */
  drCluster: '',
  // ... and on the DR cluster.
  /** The replicated snapshots the DR voters sync (`aws s3 sync <replicaSource> ./data/`). */
  replicaSource: 's3://ledger-primary-backups/latest/',
  /** The ledger endpoint the engine is switched to. */
  drEndpoint: 'ledger.dr-region.internal:50051',
  /** The engine's ConfigMap, the key holding the ledger endpoint, and the Deployment restarted to pick it up. */
  engineConfigMap: 'ledger-config',
  endpointKey: 'LEDGER_ENDPOINT',
  engineDeployment: 'engine',
  /** Kubernetes namespace of the engine (`kubectl -n`); empty: kubectl's current context default. */
  engineNamespace: '',
  /** How long `kubectl rollout status` waits. */
  rolloutTimeoutSeconds: 180,
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
    // The node's ssh.workdir is where the runbook `cd`s (the DR region's /dr-region): relative data dirs start there.
    const cwd = lookup(ref).node.ssh?.workdir;
    return { argv: root(argv, setting(cluster, 'sudo')), env, detach: { logFile: setting(cluster, 'startLog') }, ...(cwd ? { cwd } : {}) };
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
      const log = await exec(input, [{ argv: ['tail', '-n', '20', setting(cluster, 'startLog')], cwd: cmd.cwd, ignoreExit: true }], 15_000).catch(() => undefined);
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

  // ------------------------------------------------------ regional failover --

  async function ledgerDrTopology(input: { cluster: string; drCluster?: string }): Promise<LedgerDrTopology> {
    return run(async () => {
      const inv = ctx.inventory();
      const primary = clusterOf(inv, input.cluster);
      const name = input.drCluster ?? setting(primary, 'drCluster');
      if (!name) {
        throw new TransportError('BadInventory', `cluster ${input.cluster} names no DR region: add settings.drCluster: <the DR cluster's name> to it in the inventory (or --set drCluster=NAME)`, false);
      }
      if (name === input.cluster) throw new TransportError('BadInventory', `settings.drCluster of ${input.cluster} names the cluster itself; name the DR region's cluster`, false);
      const dr = clusterOf(inv, name);
      if (dr.system !== 'ledger') throw new TransportError('BadInventory', `DR cluster ${name} is a ${dr.system} cluster, not a ledger one`, false);
      const bastion = dr.nodes.find((n) => n.roles.includes('bastion'));
      if (!bastion) throw new TransportError('BadInventory', `DR cluster ${name} has no node with roles [bastion] (where kubectl runs); add one with its ssh block`, false);
      const voters = dr.nodes.filter((n) => n !== bastion && (n.roles.includes('voter') || !n.roles.length)).map((n) => n.name);
      if (voters.length === 0) throw new TransportError('BadInventory', `DR cluster ${name} has no ledger voters (nodes with roles [voter])`, false);
      const source = setting(dr, 'replicaSource');
      parseS3Prefix(source);
      return {
        primaryCluster: input.cluster,
        drCluster: name,
        voters,
        bastion: bastion.name,
        replicaSource: source,
        endpoint: setting(dr, 'drEndpoint'),
        configMap: setting(dr, 'engineConfigMap'),
        endpointKey: setting(dr, 'endpointKey'),
        deployment: setting(dr, 'engineDeployment'),
        dataDir: setting(dr, 'dataDir'),
        workdir: dr.nodes.find((n) => n.name === voters[0])?.ssh?.workdir,
      };
    });
  }

  async function ledgerReplicaInfo(input: NodeRef & { source: string }): Promise<LedgerReplicaInfo> {
    return run(async () => {
      parseS3Prefix(input.source);
      const res = await exec(input, [{ argv: ['aws', 's3', 'ls', input.source] }], 60_000);
      if (res.exitCode !== 0 && /NoSuchBucket|AccessDenied|InvalidAccessKeyId|credentials/i.test(res.stderr)) {
        check(input, res, `aws s3 ls ${input.source}`, `check the bucket name and ${input.node}'s AWS credentials`);
      }
      // `aws s3 ls` object lines: "2026-11-22 02:00:00       2048 ledger-state.json" ("PRE dir/" lines are prefixes).
      const objects = res.stdout
        .split('\n')
        .map((l) => /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\s+(\d+)\s+(.+)$/.exec(l.trim()))
        .filter((m): m is RegExpExecArray => !!m);
      if (objects.length === 0) return { source: input.source, exists: false, objects: 0, sizeBytes: 0 };
      const times = objects.map((m) => `${m[1]}T${m[2]}Z`).sort();
      return { source: input.source, exists: true, objects: objects.length, sizeBytes: objects.reduce((n, m) => n + Number(m[3]), 0), lastModified: times[times.length - 1] };
    });
  }

  async function ledgerDrSync(input: NodeRef & { dryRun?: boolean; source: string }): Promise<EffectResult & { files?: number }> {
    return run(async () => {
      const { cluster, node } = lookup(input);
      parseS3Prefix(input.source);
      const cwd = node.ssh?.workdir;
      const dest = `${setting(cluster, 'dataDir').replace(/\/+$/, '')}/`;
      const argv = root(['aws', 's3', 'sync', input.source, dest], setting(cluster, 'sudo'));
      const plan = `${input.node}: ${renderScript({ argv, ...(cwd ? { cwd } : {}) })}`;
      if (input.dryRun) return { dryRun: true, plan };
      // A retry after the DR ledger started: never sync under a running ledger's data.
      if (await serviceActive(input, cluster)) {
        const info = await ledgerNodeInfo(input);
        if (info.reachable) return { plan, alreadyDone: true, files: 0, output: `the ledger already runs on ${input.node} (cluster ${info.clusterId ?? '?'}); not syncing under it` };
      }
      const res = await exec(input, [{ argv, ...(cwd ? { cwd } : {}) }], 55 * 60_000);
      const output = check(input, res, `aws s3 sync ${input.source}`, `check ${input.node}'s AWS credentials, the bucket replication and free space in ${dest}`);
      const files = res.stdout.split('\n').filter((l) => l.startsWith('download:')).length;
      return { plan, files, alreadyDone: files === 0, output: files ? output : `${dest} already holds the latest snapshots` };
    });
  }

  function kubectlArgv(cluster: ClusterSpec, args: string[]): string[] {
    const ns = setting(cluster, 'engineNamespace');
    return ['kubectl', ...(ns ? ['-n', ns] : []), ...args];
  }

  async function readConfigMap(ref: NodeRef, cluster: ClusterSpec): Promise<Record<string, string>> {
    const cm = setting(cluster, 'engineConfigMap');
    const argv = kubectlArgv(cluster, ['get', 'configmap', cm, '-o', 'json']);
    const res = await exec(ref, [{ argv }], 60_000);
    const out = check(ref, res, quoteArgv(argv), `check that configmap ${cm} exists and the bastion's kube context (settings.engineNamespace)`);
    try {
      return ((JSON.parse(res.stdout) as { data?: Record<string, string> }).data ?? {}) as Record<string, string>;
    } catch {
      throw new TransportError('CommandFailed', `kubectl get configmap ${cm} -o json on ${ref.node} printed no JSON: ${lastLines(out, 3)}`, false);
    }
  }

  async function ledgerEngineEndpoint(ref: NodeRef): Promise<{ configMap: string; key: string; endpoint?: string }> {
    return run(async () => {
      const { cluster } = lookup(ref);
      const data = await readConfigMap(ref, cluster);
      const key = setting(cluster, 'endpointKey');
      return { configMap: setting(cluster, 'engineConfigMap'), key, endpoint: data[key] };
    });
  }

  async function ledgerSwitchEndpoint(input: NodeRef & { dryRun?: boolean; endpoint: string }): Promise<EffectResult & { previous?: string }> {
    return run(async () => {
      const { cluster } = lookup(input);
      if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(input.endpoint)) {
        throw new TransportError('InvalidArgument', `endpoint must be host:port like ledger.dr-region.internal:50051, got ${JSON.stringify(input.endpoint)}`, false);
      }
      const cm = setting(cluster, 'engineConfigMap');
      const key = setting(cluster, 'endpointKey');
      const argv = kubectlArgv(cluster, ['patch', 'configmap', cm, '-p', JSON.stringify({ data: { [key]: input.endpoint } })]);
      const plan = `${input.node}: ${quoteArgv(argv)}`;
      if (input.dryRun) return { dryRun: true, plan };
      const before = (await readConfigMap(input, cluster))[key];
      if (before === input.endpoint) return { plan, alreadyDone: true, previous: before, output: `${cm} already has ${key}=${input.endpoint}` };
      const res = await exec(input, [{ argv }], 60_000);
      check(input, res, `kubectl patch configmap ${cm}`, `check the bastion's kube context and RBAC (patch configmaps)`);
      const after = (await readConfigMap(input, cluster))[key];
      if (after !== input.endpoint) throw new TransportError('PatchNotApplied', `${cm} shows ${key}=${after ?? '(unset)'} after the patch; it will be retried`, true);
      return { plan, previous: before, output: `${key}: ${before ?? '(unset)'} -> ${after}` };
    });
  }

  async function ledgerRestartEngine(input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
    return run(async () => {
      const { cluster } = lookup(input);
      const deployment = setting(cluster, 'engineDeployment');
      const argv = kubectlArgv(cluster, ['rollout', 'restart', `deployment/${deployment}`]);
      const plan = `${input.node}: ${quoteArgv(argv)}`;
      if (input.dryRun) return { dryRun: true, plan };
      // Once per step: a marker on the bastion keyed by workflow, run and activity id (stable across retries).
      const marker = `.lifeboat/restarts/${stableKey('engine-restart')}`;
      const seen = await exec(input, [{ argv: ['test', '-e', marker] }], 30_000);
      if (seen.exitCode === 0) return { plan, alreadyDone: true, output: `deployment/${deployment} was already restarted by this step` };
      const res = await exec(input, [{ argv: ['mkdir', '-p', '.lifeboat/restarts'] }, { argv }, { argv: ['touch', marker] }], 60_000);
      return { plan, output: check(input, res, `kubectl rollout restart deployment/${deployment}`, `check the bastion's kube context and RBAC (patch deployments)`) };
    });
  }

  async function ledgerEngineRollout(input: NodeRef & { timeoutSeconds?: number }): Promise<LedgerEngineRollout> {
    return run(async () => {
      const { cluster } = lookup(input);
      const deployment = setting(cluster, 'engineDeployment');
      const seconds = input.timeoutSeconds ?? setting(cluster, 'rolloutTimeoutSeconds');
      const argv = kubectlArgv(cluster, ['rollout', 'status', `deployment/${deployment}`, `--timeout=${seconds}s`]);
      const res = await exec(input, [{ argv }], (seconds + 30) * 1000);
      const out = `${res.stdout}${res.stderr}`;
      if (res.exitCode !== 0 && !/timed out waiting/i.test(out)) check(input, res, quoteArgv(argv), `check deployment/${deployment} and the bastion's kube context`);
      return { deployment, complete: res.exitCode === 0, detail: lastLines(out, 3) };
    });
  }

  return {
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
    ledgerBackupInfo,
    ledgerFetchBackup,
    ledgerGetTip,
    ledgerGetVault,
    ledgerRecoverVault,
    ledgerCreateSnapshot,
    ledgerDrTopology,
    ledgerReplicaInfo,
    ledgerDrSync,
    ledgerEngineEndpoint,
    ledgerSwitchEndpoint,
    ledgerRestartEngine,
    ledgerEngineRollout,
  };
}

/** `s3://bucket/prefix/` (a prefix, ending in "/") or refused with the expected shape. */
function parseS3Prefix(source: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,62})\/(.*\/)?$/.exec(source);
  if (!m) throw new TransportError('InvalidArgument', `replicated snapshots must be an S3 prefix like s3://ledger-primary-backups/latest/, got ${JSON.stringify(source)}`, false);
  return { bucket: m[1]!, prefix: m[2] ?? '' };
}

/** `s3://bucket/key/file.tar.gz` -> its parts; anything else is refused with the expected shape. */
function parseS3(source: string): { bucket: string; key: string; file: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,62})\/(.*[^/])$/.exec(source);
  if (!m) throw new TransportError('InvalidArgument', `backup must be an S3 object URL like s3://ledger-backups/latest/snapshot.tar.gz, got ${JSON.stringify(source)}`, false);
  const key = m[2]!;
  return { bucket: m[1]!, key, file: key.slice(key.lastIndexOf('/') + 1) };
}
