/**
 * Seed 000 §6, "Model Corruption": inference produces garbage, gauntlet
 * tests fail, training produces NaN values.
 *
 * Diagnosis: does `models/canonical_hex8_2p.pth` load (`torch.load`), and
 * does its sha256 match the models manifest. Recovery, safest first:
 * 1. restore `models/backup/canonical_hex8_2p.pth`, when that copy loads and
 *    matches the manifest (a known-good local copy);
 * 2. pull from the cluster: the first other node whose copy loads and matches
 *    the manifest; the copy is staged beside the model and verified, then
 *    swapped in behind the dangerous gate `replace-canonical-model`;
 * 3. resume training from the latest checkpoint that loads
 *    (`python -m app.training.train --resume ...`, long, heartbeating).
 * Verification: the canonical model loads and matches the manifest.
 * RTO 30 min target, 60 min max.
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/workflow';
import type { ModelCorruptionParams } from '../../catalog';
import type { ModelCheck } from '../../activities/training-cluster/types';
import { activities, approve, fact, note, recoveryInput, runRecovery, skipped, step, type RecoveryInput, type RecoveryResult } from '../kit';
import { TRAINING_CLUSTER_MODEL_CORRUPTION } from '../scenarios';

export type ModelCorruptionInput = RecoveryInput<Partial<ModelCorruptionParams>>;

export async function trainingClusterModelCorruption(input: ModelCorruptionInput): Promise<RecoveryResult> {
  return runRecovery(TRAINING_CLUSTER_MODEL_CORRUPTION, input, modelCorruption);
}

async function modelCorruption(): Promise<string> {
  const input = recoveryInput<Partial<ModelCorruptionParams>>();
  const cluster = input.cluster.name;
  const all = input.cluster.nodes.map((n) => n.name);
  const node = input.params.node ?? input.cluster.nodes.find((n) => n.roles.includes('coordinator'))?.name ?? all[0]!;
  if (!all.includes(node)) throw ApplicationFailure.nonRetryable(`${node} is not a node of ${cluster} (nodes: ${all.join(', ')})`, 'InvalidArgument');
  const { modelCheck, modelRestoreBackup, modelFetch, modelSwap, modelCheckpoints, modelResumeTraining } = activities();
  const describe = ((m: ModelCheck) => describeModel(m)) as never;

  const diag = await step(`Diagnose: does ${node}'s canonical model load, does its checksum match the manifest`, () => modelCheck({ cluster, node }), { describe });
  if (!diag.reachable) throw ApplicationFailure.nonRetryable(`${node} does not answer over SSH (${diag.error ?? 'unreachable'}); bring it back first or pass --set node=NODE`, 'NodeUnreachable');
  if (diag.loads && diag.checksumOk) {
    fact('root cause', `none found: ${describeModel(diag)}`);
    return `Model intact on ${node}: ${describeModel(diag)}. Nothing changed.`;
  }
  fact('root cause', `${node}: ${describeModel(diag)}`);
  fact('impact', 'the production model is corrupted: inference, gauntlet and training use a bad model');
  const expected = diag.expectedSha256;

  let how = '';
  // Option 1: the local backup copy, if it is the manifest's model.
  const backup = await step(`Check the backup copy models/backup/ on ${node}`, () => modelCheck({ cluster, node, backup: true }), { describe });
  if (backup.loads && backup.checksumOk) {
    await step(`Option 1: restore ${node}'s model from models/backup/`, () => modelRestoreBackup({ cluster, node }), { onFailure: 'ask' });
    how = 'restored from models/backup/';
  } else {
    note(`the backup copy is not usable (${describeModel(backup)}): looking for a healthy copy on the cluster`);
    // Option 2: the first healthy node, in the inventory's order (the runbook's `for host ... && break`).
    const healthy = await step('Option 2: find a healthy model copy on the cluster (loads, checksum matches the manifest)', async () => {
      const seen: string[] = [];
      for (const peer of all.filter((n) => n !== node)) {
        const m = await modelCheck({ cluster, node: peer });
        seen.push(describeModel(m));
        if (m.reachable && m.loads && m.checksumOk && (!expected || m.sha256 === expected)) return { node: peer, check: m, seen };
      }
      return { node: undefined, check: undefined, seen };
    }, { describe: ((r: { node?: string; seen: string[] }) => (r.node ? `healthy copy on ${r.node}` : `none: ${r.seen.join('; ')}`)) as never });
    if (healthy.node) {
      const from = healthy.node;
      const staged = await step(`Copy the model from ${from} to ${node} (staged beside it, verified before any swap)`, () => modelFetch({ cluster, node, from }), {
        onFailure: 'ask',
        describe: ((r: { plan: string; check?: ModelCheck }) => (r.check ? `${r.plan}: ${describeModel(r.check)}` : r.plan)) as never,
      });
      const verified = !!staged?.check && staged.check.loads && staged.check.checksumOk;
      if (!verified && staged?.check) note(`the copy from ${from} does not verify on ${node} (${describeModel(staged.check)}): not swapped in`);
      if (verified || !staged?.check) {
        const a = await approve('replace-canonical-model', {
          skippable: true, // a skip after a timeout is handled below (approved: false)
          title: `Replace ${node}'s canonical model with the verified copy from ${from}`,
          evidence: {
            'corrupted model': describeModel(diag),
            'copy from': `${from}: ${describeModel(healthy.check!)}`,
            'staged copy': staged?.check ? describeModel(staged.check) : 'dry run',
            'manifest sha256': expected ?? 'none',
          },
        });
        if (a.approved) {
          await step(`Swap the verified copy into place on ${node}`, () => modelSwap({ cluster, node }), { onFailure: 'ask' });
          how = `pulled the verified copy from ${from} (approved by ${a.by})`;
        } else {
          note('the swap was not approved in time and the operator skipped it: resuming training instead');
        }
      }
    } else {
      note('no node holds a healthy copy: resuming training from a checkpoint');
    }
  }

  if (!how) {
    // Option 3: retrain from the latest valid checkpoint.
    const ckpt = await step(`Find the latest valid checkpoint on ${node} (ls models/checkpoints | grep hex8_2p; it must load)`, async () => {
      const { checkpoints } = await modelCheckpoints({ cluster, node });
      for (const c of checkpoints) {
        const m = await modelCheck({ cluster, node, path: c.path });
        if (m.loads) return c;
      }
      throw ApplicationFailure.nonRetryable(`no checkpoint on ${node} loads (${checkpoints.map((c) => c.path).join(', ') || 'none found'}): the model must be rebuilt from scratch`, 'NoValidCheckpoint');
    }, { describe: ((c: { path: string; epoch: number }) => `${c.path} (epoch ${c.epoch})`) as never });
    await step(`Option 3: resume training on ${node} from ${ckpt.path}`, () => modelResumeTraining({ cluster, node, checkpoint: ckpt.path }), { onFailure: 'ask' });
    how = `retrained from ${ckpt.path}`;
  }

  const final = await step(
    `Verify: ${node}'s canonical model loads and matches the manifest`,
    async () => {
      const m = await modelCheck({ cluster, node });
      if (!m.loads || !m.checksumOk) throw ApplicationFailure.retryable(`the model on ${node} is still bad: ${describeModel(m)}`, 'NotRecovered');
      return m;
    },
    { onFailure: 'ask', describe },
  );
  fact('resolution', `${how}; ${final ? describeModel(final) : skipped('verification')}`);
  return `Model on ${node} recovered: ${how}; ${final ? describeModel(final) : `not verified (${skipped('verification')})`}.`;
}

function describeModel(m: ModelCheck): string {
  if (!m.reachable) return `${m.node}: unreachable`;
  if (!m.exists) return `${m.path} missing`;
  if (!m.loads) return `${m.path} does not load (${m.loadError ?? '?'})`;
  return `${m.path} loads, sha256 ${m.sha256?.slice(0, 12) ?? '?'} ${m.checksumOk ? 'matches the manifest' : `does not match the manifest (${m.expectedSha256?.slice(0, 12) ?? 'no entry'})`}`;
}
