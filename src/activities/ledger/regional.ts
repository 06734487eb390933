/**
 * Regional failover (seed 002): the DR region from the inventory, its
 * replicated snapshots, and syncing them onto the DR voters (never under a
 * running ledger).
 *
 * @module
 */
import { clusterOf } from '../../inventory/load';
import type { EffectResult, NodeRef } from '../common/types';
import { TransportError } from '../transport/errors';
import { renderScript } from '../transport/shell';
import type { LedgerContext } from './context';
import { ledgerNodeInfo } from './nodes';
import { serviceActive } from './service';
import type { LedgerDrTopology, LedgerReplicaInfo } from './types';

/** The DR region of a primary cluster, from the inventory (`settings.drCluster`, or `drCluster` given). */
export async function ledgerDrTopology(ctx: LedgerContext, input: { cluster: string; drCluster?: string }): Promise<LedgerDrTopology> {
  return ctx.run(async () => {
    const inv = ctx.inventory();
    const primary = clusterOf(inv, input.cluster);
    const name = input.drCluster ?? ctx.setting(primary, 'drCluster');
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
    const source = ctx.setting(dr, 'replicaSource');
    parseS3Prefix(source);
    return {
      primaryCluster: input.cluster,
      drCluster: name,
      voters,
      bastion: bastion.name,
      replicaSource: source,
      endpoint: ctx.setting(dr, 'drEndpoint'),
      configMap: ctx.setting(dr, 'engineConfigMap'),
      endpointKey: ctx.setting(dr, 'endpointKey'),
      deployment: ctx.setting(dr, 'engineDeployment'),
      dataDir: ctx.setting(dr, 'dataDir'),
      workdir: dr.nodes.find((n) => n.name === voters[0])?.ssh?.workdir,
    };
  });
}

/** `aws s3 ls <source>` on a DR node: the replicated snapshots, their size and the time of the last replication. */
export async function ledgerReplicaInfo(ctx: LedgerContext, input: NodeRef & { source: string }): Promise<LedgerReplicaInfo> {
  return ctx.run(async () => {
    parseS3Prefix(input.source);
    const res = await ctx.exec(input, [{ argv: ['aws', 's3', 'ls', input.source] }], 60_000);
    if (res.exitCode !== 0 && /NoSuchBucket|AccessDenied|InvalidAccessKeyId|credentials/i.test(res.stderr)) {
      ctx.check(input, res, `aws s3 ls ${input.source}`, `check the bucket name and ${input.node}'s AWS credentials`);
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

/** `cd <workdir> && aws s3 sync <source> <dataDir>/` on a DR node; a node whose ledger already runs on its data counts as done. */
export async function ledgerDrSync(ctx: LedgerContext, input: NodeRef & { dryRun?: boolean; source: string }): Promise<EffectResult & { files?: number }> {
  return ctx.run(async () => {
    const { cluster, node } = ctx.lookup(input);
    parseS3Prefix(input.source);
    const cwd = node.ssh?.workdir;
    const dest = `${ctx.setting(cluster, 'dataDir').replace(/\/+$/, '')}/`;
    const argv = ctx.root(['aws', 's3', 'sync', input.source, dest], ctx.setting(cluster, 'sudo'));
    const plan = `${input.node}: ${renderScript({ argv, ...(cwd ? { cwd } : {}) })}`;
    if (input.dryRun) return { dryRun: true, plan };
    // A retry after the DR ledger started: never sync under a running ledger's data.
    if (await serviceActive(ctx, input, cluster)) {
      const info = await ledgerNodeInfo(ctx, input);
      if (info.reachable) return { plan, alreadyDone: true, files: 0, output: `the ledger already runs on ${input.node} (cluster ${info.clusterId ?? '?'}); not syncing under it` };
    }
    const res = await ctx.exec(input, [{ argv, ...(cwd ? { cwd } : {}) }], 55 * 60_000);
    const output = ctx.check(input, res, `aws s3 sync ${input.source}`, `check ${input.node}'s AWS credentials, the bucket replication and free space in ${dest}`);
    const files = res.stdout.split('\n').filter((l) => l.startsWith('download:')).length;
    return { plan, files, alreadyDone: files === 0, output: files ? output : `${dest} already holds the latest snapshots` };
  });
}

/** `s3://bucket/prefix/` (a prefix, ending in "/") or refused with the expected shape. */
function parseS3Prefix(source: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,62})\/(.*\/)?$/.exec(source);
  if (!m) throw new TransportError('InvalidArgument', `replicated snapshots must be an S3 prefix like s3://ledger-primary-backups/latest/, got ${JSON.stringify(source)}`, false);
  return { bucket: m[1]!, prefix: m[2] ?? '' };
}
