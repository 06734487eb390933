/**
 * Regional failover (seed 002): the DR region from the inventory (its
 * voters, its bastion, the primary's replicated export and the engine's
 * settings).
 *
 * @module
 */
import { clusterOf } from '../../inventory/load';
import { TransportError } from '../transport/errors';
import { parseS3 } from './archive';
import type { LedgerContext } from './context';
import type { LedgerDrTopology } from './types';

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
    parseS3(source);
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
