/**
 * The canonical model (seed 000 §6): checksums against the manifest, restore
 * from backup, fetch from a healthy node, swap, checkpoints and resumed
 * training; which models a node can read.
 *
 * @module
 */
import type { ClusterSpec } from '../../inventory/schema';
import type { EffectResult, NodeRef } from '../common/types';
import { lastLines } from '../context';
import { TransportError } from '../transport/errors';
import type { TrainingClusterContext } from './context';
import { loadSnippet } from './games';
import { READ_MS, sh, tryExec, where, words } from './host';
import type { ModelCheck } from './types';

async function checkModel(ctx: TrainingClusterContext, ref: NodeRef, cluster: ClusterSpec, cwd: string | undefined, path: string): Promise<ModelCheck> {
  const model = ctx.setting(cluster, 'model');
  const base: ModelCheck = { node: ref.node, reachable: true, path, exists: false, loads: false, checksumOk: false };
  if ((await sh(ctx, ref, cwd, ['test', '-f', path])).exitCode !== 0) return { ...base, loadError: `${path} does not exist` };
  const load = await sh(ctx, ref, cwd, ['python', '-c', loadSnippet(path)], 120_000);
  const out = load.stdout + load.stderr;
  const loads = load.exitCode === 0 && /^Model OK$/m.test(out);
  const keys = /^Model keys: \[(.*)\]$/m.exec(out)?.[1]?.split(',').map((k) => k.trim().replace(/^'|'$/g, '')).filter(Boolean);
  const sum = await sh(ctx, ref, cwd, ['sha256sum', path]);
  const sha256 = sum.exitCode === 0 ? sum.stdout.trim().split(/\s+/)[0] : undefined;
  // The canonical model's checksum: its `<model>.sha256` sidecar (`<sha256>  <name>`, RingRift's
  // app/utils/torch_utils.py), whichever copy is checked; the seed's manifest only when there is no sidecar.
  const sidecar = await sh(ctx, ref, cwd, ['cat', `${model}.sha256`]);
  let expectedSha256 = sidecar.exitCode === 0 ? sidecar.stdout.trim().split(/\s+/)[0] : undefined;
  if (!expectedSha256) {
    const manifest = await sh(ctx, ref, cwd, ['cat', ctx.setting(cluster, 'modelManifest')]);
    const name = model.slice(model.lastIndexOf('/') + 1);
    const line = manifest.exitCode === 0 ? manifest.stdout.split('\n').find((l) => l.trim().split(/\s+/)[1]?.replace(/^\*/, '').endsWith(name)) : undefined;
    expectedSha256 = line?.trim().split(/\s+/)[0];
  }
  return {
    ...base,
    exists: true,
    loads,
    keys,
    loadError: loads ? undefined : lastLines(/Model CORRUPTED: .*/.exec(out)?.[0] ?? out, 3),
    sha256,
    expectedSha256,
    checksumOk: !!sha256 && sha256 === expectedSha256,
  };
}

function backupModel(ctx: TrainingClusterContext, cluster: ClusterSpec): string {
  const model = ctx.setting(cluster, 'model');
  return `${ctx.setting(cluster, 'modelBackupDir').replace(/\/$/, '')}/${model.slice(model.lastIndexOf('/') + 1)}`;
};

/** Replaces the canonical model with `from` (a path on the node) once `from` loads and matches the manifest. */
async function replaceModel(ctx: TrainingClusterContext, input: NodeRef, cluster: ClusterSpec, cwd: string | undefined, from: string, verb: 'cp' | 'mv', plan: string): Promise<EffectResult> {
  const model = ctx.setting(cluster, 'model');
  const now = await checkModel(ctx, input, cluster, cwd, model);
  if (now.loads && now.checksumOk) return { plan, alreadyDone: true, output: `${model} already matches the manifest (sha256 ${now.sha256?.slice(0, 12)})` };
  const src = await checkModel(ctx, input, cluster, cwd, from);
  if (!src.loads || !src.checksumOk) {
    throw new TransportError(
      'ModelUnverified',
      `refusing to put ${from} in place of ${model} on ${input.node}: ${!src.exists ? 'it does not exist' : !src.loads ? `it does not load (${src.loadError ?? '?'})` : `its sha256 ${src.sha256?.slice(0, 12)} does not match the manifest's ${src.expectedSha256?.slice(0, 12) ?? '(none)'}`}`,
      false,
    );
  }
  ctx.check(input, await sh(ctx, input, cwd, [verb, '-f', from, model]), `${verb} ${from} ${model}`, `check the permissions of models/ on ${input.node}`);
  const after = await checkModel(ctx, input, cluster, cwd, model);
  if (!after.checksumOk) throw new TransportError('ModelUnverified', `${model} on ${input.node} does not match the manifest after the copy; retry the step`, true);
  return { plan, output: `${model} replaced; loads, sha256 ${after.sha256?.slice(0, 12)} matches the manifest` };
}

/** Seed §6 diagnosis of one model file (the canonical model, its models/backup copy, or `path`): loads, and its checksum against the manifest. */
export async function modelCheck(ctx: TrainingClusterContext, input: NodeRef & { path?: string; backup?: boolean }): Promise<ModelCheck> {
  return ctx.run(async () => {
    const { cluster, cwd } = where(ctx, input);
    const path = input.path ?? (input.backup ? backupModel(ctx, cluster) : ctx.setting(cluster, 'model'));
    try {
      return await checkModel(ctx, input, cluster, cwd, path);
    } catch (err) {
      if (ctx.isUnreachable(err)) return { node: input.node, reachable: false, error: (err as Error).message, path, exists: false, loads: false, checksumOk: false };
      throw err;
    }
  });
}

/** Seed §6 option 1: `cp models/backup/<model> models/<model>`, refused unless the backup matches the manifest. */
export async function modelRestoreBackup(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster, cwd } = where(ctx, input);
    const model = ctx.setting(cluster, 'model');
    const backup = backupModel(ctx, cluster);
    const plan = `${input.node}: cp ${backup} ${model}`;
    if (input.dryRun) return { dryRun: true, plan };
    return replaceModel(ctx, input, cluster, cwd, backup, 'cp', plan);
  });
}

/** Seed §6 option 2, staging: `scp <from>:<workdir>/models/<model> models/<model>.incoming`, then checks the copy. */
export async function modelFetch(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean; from: string }): Promise<EffectResult & { check?: ModelCheck }> {
  return ctx.run(async () => {
    const { cluster, cwd } = where(ctx, input);
    const src = where(ctx, { cluster: input.cluster, node: input.from });
    const model = ctx.setting(cluster, 'model');
    const remote = `${input.from}:${model.startsWith('/') ? model : `${src.workdir.replace(/\/$/, '')}/${model}`}`;
    const incoming = `${model}.incoming`;
    const plan = `${input.node}: scp ${remote} ${incoming}`;
    if (input.dryRun) return { dryRun: true, plan };
    // Check first: a staged copy that verifies (an earlier attempt's) is not pulled again; nor is
    // anything when the canonical model already verifies. A partial or bad copy is pulled over.
    const staged = await checkModel(ctx, input, cluster, cwd, incoming);
    if (staged.loads && staged.checksumOk) return { plan, alreadyDone: true, output: `${incoming} is already staged and verified (sha256 ${staged.sha256?.slice(0, 12)})`, check: staged };
    const now = await checkModel(ctx, input, cluster, cwd, model);
    if (now.loads && now.checksumOk) return { plan, alreadyDone: true, output: `${model} already loads and matches the manifest: nothing to fetch`, check: now };
    const out = ctx.check(input, await ctx.exec(input, [{ argv: ['scp', remote, incoming], cwd }], 30 * 60_000), `copying the model from ${input.from}`, `check that ${input.node} reaches ${input.from} over SSH, or choose another node`);
    return { plan, output: out || `copied to ${incoming}`, check: await checkModel(ctx, input, cluster, cwd, incoming) };
  });
}

/** Seed §6 option 2, the swap: `mv models/<model>.incoming models/<model>`, refused unless the copy matches the manifest. */
export async function modelSwap(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster, cwd } = where(ctx, input);
    const model = ctx.setting(cluster, 'model');
    const plan = `${input.node}: mv ${model}.incoming ${model}`;
    if (input.dryRun) return { dryRun: true, plan };
    return replaceModel(ctx, input, cluster, cwd, `${model}.incoming`, 'mv', plan);
  });
}

/** `ls -la models/checkpoints/ | grep hex8_2p`: checkpoint paths, latest epoch first. */
export async function modelCheckpoints(ctx: TrainingClusterContext, input: NodeRef): Promise<{ node: string; checkpoints: Array<{ path: string; epoch: number }> }> {
  return ctx.run(async () => {
    const { cluster, cwd } = where(ctx, input);
    const dir = ctx.setting(cluster, 'checkpointsDir').replace(/\/$/, '');
    const prefix = ctx.setting(cluster, 'checkpointPrefix');
    const ls = await sh(ctx, input, cwd, ['ls', '-1', dir]);
    const checkpoints = (ls.exitCode === 0 ? ls.stdout.split('\n') : [])
      .map((l) => l.trim())
      .filter((l) => l.includes(prefix))
      .map((name) => ({ path: `${dir}/${name}`, epoch: Number(/epoch_(\d+)/.exec(name)?.[1] ?? -1) }))
      .filter((c) => c.epoch >= 0)
      .sort((a, b) => b.epoch - a.epoch);
    return { node: input.node, checkpoints };
  });
}

/** Seed §6 option 3: `python -m app.training.train --board-type hex8 --num-players 2 --resume <checkpoint>` (long, heartbeating; once per step). */
export async function modelResumeTraining(ctx: TrainingClusterContext, input: NodeRef & { dryRun?: boolean; checkpoint: string }): Promise<EffectResult> {
  return ctx.run(async () => {
    const { cluster, cwd } = where(ctx, input);
    const argv = ['python', '-m', 'app.training.train', ...words(ctx.setting(cluster, 'trainArgs')), '--resume', input.checkpoint];
    const plan = `${input.node}: ${argv.join(' ')}`;
    if (input.dryRun) return { dryRun: true, plan };
    const dir = '.lifeboat/training';
    const marker = `${dir}/${ctx.stableKey('train')}`;
    if ((await sh(ctx, input, cwd, ['test', '-f', marker])).exitCode === 0) return { plan, alreadyDone: true, output: 'this step already resumed the training' };
    const res = await ctx.exec(input, [{ argv, cwd }], ctx.setting(cluster, 'trainTimeoutSeconds') * 1000);
    const out = ctx.check(input, res, 'resuming the training', `read the training log on ${input.node}; pick an earlier checkpoint if this one is bad`);
    await ctx.exec(input, [{ argv: ['mkdir', '-p', dir], cwd }, { argv: ['touch', marker], cwd }], READ_MS);
    return { plan, output: lastLines(out, 4) };
  });
}

/** `ls -la models/canonical_*.pth` in the node's workdir. */
export async function modelsAccessible(ctx: TrainingClusterContext, ref: NodeRef): Promise<{ node: string; reachable: boolean; models: Array<{ name: string; bytes: number }>; error?: string }> {
  return ctx.run(async () => {
    const { cluster, node } = ctx.lookup(ref);
    const dir = ctx.setting(cluster, 'modelsDir');
    const { res, error } = await tryExec(ctx, ref, [{ argv: ['ls', '-la', dir], cwd: node.ssh?.workdir, ignoreExit: true }]);
    if (!res) return { node: ref.node, reachable: false, models: [], error };
    const models = res.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 9 && /^canonical_.*\.pth$/.test(f.at(-1)!))
      .map((f) => ({ name: f.at(-1)!, bytes: Number(f[4]) }));
    return { node: ref.node, reachable: true, models };
  });
}
