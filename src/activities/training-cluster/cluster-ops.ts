/**
 * Cluster-wide scripts of the outage procedure (seed 000 §5): the full data
 * sync and launching the daemons.
 *
 * @module
 */
import type { Effectful, EffectResult, NodeRef } from '../common/types';
import type { TrainingClusterContext } from './context';
import { script } from './host';

/** `python scripts/sync_cluster_data.py --full` in the coordinator's workdir. */
export async function clusterFullSync(ctx: TrainingClusterContext, input: NodeRef & Effectful): Promise<EffectResult> {
  return ctx.run(() => script(ctx, input, 'fullSyncCommand', 'the full cluster sync'));
}

/** `python scripts/launch_daemons.py --all` in the coordinator's workdir. */
export async function clusterLaunchDaemons(ctx: TrainingClusterContext, input: NodeRef & Effectful): Promise<EffectResult> {
  return ctx.run(() => script(ctx, input, 'launchDaemonsCommand', 'launching the daemons'));
}
