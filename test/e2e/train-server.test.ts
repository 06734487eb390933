/**
 * The train-server scenarios end to end, as an operator drives them: the
 * `lifeboat` CLI against a real Temporal dev server, a worker process, and
 * the lab's train server (real SSH, real restic repository). Each test breaks
 * the lab with its scenario's fault, runs the recovery, approves its gates
 * from the CLI (an approver other than the starter, `--confirm <cluster>` on
 * dangerous gates), and checks completion, a healthy lab and the exact
 * effects the runbook prescribes.
 *
 * With LIFEBOAT_RECORD_HISTORIES=1 each scenario's history is written to
 * test/replay/histories/ for the replay test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Progress } from '../../src/workflows/kit/defs';
import { OPEN, finishedOf, progressOf, recordHistory } from '../helpers/recovery';
import { eventually, startStack, type Stack } from '../helpers/stack';

const CLUSTER = 'lab-train';
const ID = `recovery-${CLUSTER}`;
let stack: Stack;

before(async () => {
  stack = await startStack({ families: ['train-server'] });
});
after(async () => {
  await stack?.stop();
});

async function progress(): Promise<Progress> {
  return progressOf(stack, ID);
}
async function finished(timeoutMs = 180_000): Promise<Progress> {
  return finishedOf(stack, ID, timeoutMs);
}
function record(scenario: string): void {
  recordHistory(stack, ID, scenario);
}

async function gateWaiting(gate: string): Promise<Progress> {
  return eventually(`gate ${gate} to wait`, async () => {
    const p = await progress().catch(() => undefined);
    if (p && !OPEN.includes(p.status)) throw new Error(`recovery ended (${p.status}: ${p.outcome ?? ''}) before gate ${gate}`);
    return p?.gates.some((g) => g.gate === gate && g.status === 'waiting') ? p : undefined;
  }, 120_000, 300);
}

async function approve(gate: string, as: string, extra: string[] = []): Promise<void> {
  const r = await stack.cli(['approve', ID, gate, '--as', as, '--reason', `checked on site (${gate})`, ...extra]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
}

/** Effect names since `from`, counted. */
function counts(from: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of stack.lab.effects.list({ cluster: CLUSTER }).slice(from)) out[e.effect] = (out[e.effect] ?? 0) + 1;
  return out;
}

async function healthy(): Promise<void> {
  const h = (await stack.lab.health()).find((x) => x.cluster === CLUSTER);
  assert.ok(h?.healthy, JSON.stringify(h));
}

describe('train-server recoveries end to end through the CLI', () => {
  test('train-server.total-data-loss: snapshot chosen at the gate, new array after the dangerous gate, homes restored, owners fixed, containers up', async () => {
    const { lab, cli } = stack;
    await healthy();
    await lab.break('train-server.total-data-loss');
    assert.equal((await lab.health()).find((x) => x.cluster === CLUSTER)?.healthy, false);
    const from = lab.effects.list({ cluster: CLUSTER }).length;

    const run = await cli(['run', 'train-server.total-data-loss', '--cluster', CLUSTER, '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);
    const p = await gateWaiting('restore-snapshot');
    const choices = p.gates.find((g) => g.gate === 'restore-snapshot')!.choices ?? [];
    assert.equal(choices.length, 2);
    const listed = await cli(['approvals']);
    assert.match(listed.stdout, /restore-snapshot/);
    await approve('restore-snapshot', 'alice', ['--choice', choices[0]!]);

    await gateWaiting('new-btrfs-array');
    assert.equal(counts(from)['setup-script.run'], undefined, 'no setup script before the array gate');
    const unconfirmed = await cli(['approve', ID, 'new-btrfs-array', '--as', 'alice', '--reason', 'new disks']);
    assert.equal(unconfirmed.code, 2, unconfirmed.stdout + unconfirmed.stderr);
    const own = await cli(['approve', ID, 'new-btrfs-array', '--as', 'bob', '--reason', 'new disks', '--confirm', CLUSTER]);
    assert.equal(own.code, 2, own.stdout + own.stderr);
    await approve('new-btrfs-array', 'alice', ['--confirm', CLUSTER]);

    const done = await finished();
    assert.equal(done.status, 'completed', JSON.stringify(done.steps.filter((s) => s.status !== 'succeeded')));
    assert.match(done.outcome ?? '', new RegExp(`homes of 5 users restored from snapshot ${choices[0]}`));
    await healthy();
    assert.deepEqual(counts(from), {
      'restic.restore': 2, // config.sh, then the homes
      'restic.restored': 2, // each completed
      'setup-script.run': 9,
      'btrfs.created': 1,
      'fstab.appended': 1,
      chown: 5,
      'docker.build': 1,
      'docker.up': 1,
    });
    const effects = lab.effects.list({ cluster: CLUSTER }).slice(from);
    const idx = (name: string, detail?: (d: Record<string, unknown>) => boolean) => effects.findIndex((e) => e.effect === name && (!detail || detail(e.detail ?? {})));
    assert.ok(idx('btrfs.created') < idx('restic.restore', (d) => String(d.target).endsWith('/mnt/storage/homes')), 'the homes are restored onto the new array');
    assert.ok(idx('restic.restore', (d) => String(d.target).endsWith('/mnt/storage/homes')) < idx('chown'));
    assert.equal(effects.at(-1)?.effect, 'docker.up');
    const report = await cli(['report', ID]);
    assert.match(report.stdout, /new-btrfs-array/);
    assert.match(report.stdout, /workspaces/);
    await record('train-server.total-data-loss');
  });

  test('train-server.cache-ssd: detach both, the SSD is swapped, dangerous wipe, new cache, reattach, clean', async () => {
    const { lab, cli } = stack;
    await healthy();
    await lab.break('train-server.cache-ssd');
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    const run = await cli(['run', 'train-server.cache-ssd', '--cluster', CLUSTER, '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);
    await gateWaiting('ssd-replaced');
    assert.deepEqual(counts(from), { 'bcache.detached': 2 });
    await lab.break('train-server.swap-ssd'); // the technician's hands
    await approve('ssd-replaced', 'carol');
    await gateWaiting('wipe-new-ssd');
    assert.equal(counts(from)['ssd.wiped'], undefined);
    const unconfirmed = await cli(['approve', ID, 'wipe-new-ssd', '--as', 'alice', '--reason', 'new ssd']);
    assert.equal(unconfirmed.code, 2, unconfirmed.stdout + unconfirmed.stderr);
    await approve('wipe-new-ssd', 'alice', ['--confirm', CLUSTER]);
    const done = await finished();
    assert.equal(done.status, 'completed', JSON.stringify(done.steps.filter((s) => s.status !== 'succeeded')));
    assert.match(done.outcome ?? '', /Cache restored: new cache set/);
    await healthy();
    // The cache mode was writeback already: setting it is a no-op, not an effect.
    assert.deepEqual(counts(from), { 'bcache.detached': 2, 'ssd.wiped': 1, 'bcache.cache-created': 1, 'bcache.attached': 2 });
    await record('train-server.cache-ssd');
  });

  test('train-server.power-outage: dirty filesystem scrubbed (polled until finished), writeback resumed, containers up', async () => {
    const { lab, cli } = stack;
    await healthy();
    await lab.break('train-server.power-outage');
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    const run = await cli(['run', 'train-server.power-outage', '--cluster', CLUSTER, '--as', 'bob', '--time-scale', '0.02']);
    assert.equal(run.code, 0, run.stderr);
    const done = await finished();
    assert.equal(done.status, 'completed', JSON.stringify(done.steps.filter((s) => s.status !== 'succeeded')));
    assert.match(done.outcome ?? '', /scrubbed; writeback resumed on bcache0, bcache1; 5 container\(s\) restarted; users notified/);
    assert.match(done.facts.scrub ?? '', /3 corrected/);
    await healthy();
    assert.deepEqual(counts(from), { 'btrfs.scrub-started': 1, 'bcache.writeback-resumed': 2, 'docker.up': 1 });
    await record('train-server.power-outage');
  });

  test('train-server.os-disk: config.sh from restic, the existing array mounted (not formatted) and in fstab, setup re-run, containers, verified', async () => {
    const { lab, cli } = stack;
    await healthy();
    await lab.break('train-server.os-disk');
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    const run = await cli(['run', 'train-server.os-disk', '--cluster', CLUSTER, '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);
    const done = await finished();
    assert.equal(done.status, 'completed', JSON.stringify(done.steps.filter((s) => s.status !== 'succeeded')));
    assert.match(done.outcome ?? '', /mounted \(not formatted\)/);
    await healthy();
    assert.deepEqual(counts(from), {
      'restic.restore': 1,
      'restic.restored': 1,
      mount: 1,
      'fstab.appended': 1,
      'setup-script.run': 9, // 01b..08, then 09-run-tests.sh in the verification
      'docker.build': 1,
      'docker.up': 1,
    });
    const scripts = lab.effects.list({ cluster: CLUSTER, effect: 'setup-script.run' }).slice(-9).map((e) => String(e.detail?.script));
    assert.ok(!scripts.includes('01-setup-storage.sh'), scripts.join(' '));
    assert.equal(lab.effects.list({ cluster: CLUSTER }).slice(from).filter((e) => e.effect === 'btrfs.created').length, 0, 'never formatted');
    await record('train-server.os-disk');
  });

  test('train-server.btrfs-corruption: ro,degraded mount, data rescued, readonly check, repair after the dangerous gate, rw again', async () => {
    const { lab, cli } = stack;
    await healthy();
    await lab.break('train-server.btrfs-corruption');
    const from = lab.effects.list({ cluster: CLUSTER }).length;
    const run = await cli(['run', 'train-server.btrfs-corruption', '--cluster', CLUSTER, '--as', 'bob']);
    assert.equal(run.code, 0, run.stderr);
    const p = await gateWaiting('btrfs-check-repair');
    assert.match(p.gates.find((g) => g.gate === 'btrfs-check-repair')!.evidence['btrfs check --readonly'] ?? '', /errors found/);
    assert.deepEqual(counts(from), { mount: 1, rsync: 2 }, 'data out before anything risky');
    const unconfirmed = await cli(['approve', ID, 'btrfs-check-repair', '--as', 'alice', '--reason', 'rescued']);
    assert.equal(unconfirmed.code, 2, unconfirmed.stdout + unconfirmed.stderr);
    await approve('btrfs-check-repair', 'alice', ['--confirm', CLUSTER]);
    const done = await finished();
    assert.equal(done.status, 'completed', JSON.stringify(done.steps.filter((s) => s.status !== 'succeeded')));
    assert.match(done.outcome ?? '', /repaired and mounted read-write again/);
    await healthy();
    assert.deepEqual(counts(from), { mount: 2, rsync: 2, umount: 1, 'btrfs.repair': 1, 'docker.up': 1 });
    const mounts = lab.effects.list({ cluster: CLUSTER, effect: 'mount' }).slice(-2).map((e) => String(e.detail?.options));
    assert.deepEqual(mounts, ['ro,degraded', 'rw']);
    await record('train-server.btrfs-corruption');
  });
});
