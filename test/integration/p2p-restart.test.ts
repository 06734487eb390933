/**
 * p2pRestart's once-per-step guarantee against the lab's real SSH hosts: a
 * retried attempt (same workflow, run and activity ids) never restarts the
 * orchestrator again, including when the earlier attempt died between its
 * kill and its done-marker; a different step restarts again. And its refusals:
 * a wrong `p2pRestartVia`, a missing env file of the unit, before anything is killed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parse, stringify } from 'yaml';
import { createActivities, type ActivitySet } from '../../src/activities';
import { startLab, type Lab } from '../../lab/index';

let lab: Lab;
let acts: ActivitySet;
const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-p2p-'));

before(async () => {
  lab = await startLab({ dir, families: ['training-cluster'], bootMs: 300 });
  acts = createActivities({ inventoryPath: lab.inventoryPath });
});
after(async () => {
  await acts?.close();
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const NODE = { cluster: 'lab-training', node: 'tc-node2' };
function env(activityId: string): MockActivityEnvironment {
  return new MockActivityEnvironment({ activityId, workflowExecution: { workflowId: 'recovery-lab-training', runId: 'run-1' } });
}
type Restart = Awaited<ReturnType<ActivitySet['activities']['p2pRestart']>>;
type Status = Awaited<ReturnType<ActivitySet['activities']['p2pDaemonStatus']>>;
const restart = (activityId: string, dryRun = false): Promise<Restart> => env(activityId).run(acts.activities.p2pRestart, { ...NODE, dryRun }) as Promise<Restart>;
const restarts = () => lab.effects.count({ node: NODE.node, effect: 'orchestrator.restart' });
const markers = () => path.join(lab.host(NODE.cluster, NODE.node).root, 'ai-service', '.lifeboat', 'restarts');

describe('p2pRestart once per step', () => {
  test('a retried attempt of the same step finds its marker and does not restart again', async () => {
    const first = await restart('5');
    assert.equal(first.alreadyDone, false);
    assert.equal(restarts(), 1);
    const retry = await restart('5');
    assert.equal(retry.alreadyDone, true);
    assert.equal(restarts(), 1);
  });

  test('another step (activity id) restarts again', async () => {
    const r = await restart('9');
    assert.equal(r.alreadyDone, false);
    assert.equal(restarts(), 2);
  });

  test('an attempt that died after its kill, before its done-marker: the retry sees the old process gone and does not restart', async () => {
    // What the dead attempt left: its intent marker naming a process that no longer runs.
    mkdirSync(markers(), { recursive: true });
    writeFileSync(path.join(markers(), 'p2p-recovery-lab-training-run-1-12.from-999999'), '');
    const r = await restart('12');
    assert.equal(r.alreadyDone, true);
    assert.equal(restarts(), 2);
    assert.ok(readdirSync(markers()).includes('p2p-recovery-lab-training-run-1-12'), 'the done-marker is written');
  });

  test('an attempt that died before its kill (the old process still runs): the retry restarts', async () => {
    const pid = ((await env('x').run(acts.activities.p2pDaemonStatus, NODE)) as Status).detail.match(/pid (\d+)/)?.[1];
    assert.ok(pid, 'the orchestrator runs');
    writeFileSync(path.join(markers(), `p2p-recovery-lab-training-run-1-13.from-${pid}`), '');
    const r = await restart('13');
    assert.equal(r.alreadyDone, false);
    assert.equal(restarts(), 3);
  });

  test('dry run describes the restart and touches nothing', async () => {
    const r = await restart('20', true);
    assert.equal(r.dryRun, true);
    // No unit in the lab: the unit's ExecStart from its env file, as a node without systemd runs it (RingRift 2aa9f89b5).
    assert.match(r.plan, /pkill -f scripts\/p2p_orchestrator\.py; nohup sh -c '.*scripts\/p2p_orchestrator\.py --node-id "\$RINGRIFT_NODE_ID".*' p2p-start config\/p2p_orchestrator\.env venv\/bin\/python > logs\/p2p\.log/);
    assert.doesNotMatch(r.plan, /app\.p2p\.orchestrator|systemctl/, 'neither the seed\'s module (it never existed) nor an empty unit');
    assert.equal(restarts(), 3);
  });
});

/** The lab's inventory with some of lab-training's settings replaced, and activities reading it. */
function withSettings(settings: Record<string, string>): ActivitySet {
  const inv = parse(readFileSync(lab.inventoryPath, 'utf8')) as { clusters: Record<string, { settings?: Record<string, unknown> }> };
  const c = inv.clusters['lab-training']!;
  c.settings = { ...c.settings, ...settings };
  const p = path.join(dir, `inventory-${Object.keys(settings).join('-')}.yaml`);
  writeFileSync(p, stringify(inv));
  return createActivities({ inventoryPath: p });
}

describe('p2pRestart refuses a wrong setting before it touches the node', () => {
  test('settings.p2pRestartVia not one of auto, systemd, script, admin: refused naming the setting and the fix, also in a dry run', async () => {
    const other = withSettings({ p2pRestartVia: 'ssh' });
    try {
      const before = restarts();
      for (const dryRun of [false, true]) {
        await assert.rejects(
          env('30').run(other.activities.p2pRestart, { ...NODE, dryRun }),
          (err: Error) => /settings\.p2pRestartVia of cluster lab-training must be auto, systemd, script or admin \(got "ssh"\): set one of them in the inventory/.test(err.message),
        );
      }
      assert.equal(restarts(), before, 'nothing restarted');
    } finally {
      await other.close();
    }
  });

  test('the unit\'s env file is missing on the node: refused naming it and what to do, the running orchestrator is not killed', async () => {
    const other = withSettings({ p2pEnvFile: 'config/no-such.env' });
    try {
      const before = restarts();
      const pid = ((await env('y').run(acts.activities.p2pDaemonStatus, NODE)) as Status).detail.match(/pid (\d+)/)?.[1];
      assert.ok(pid, 'the orchestrator runs');
      await assert.rejects(env('31').run(other.activities.p2pRestart, NODE), (err: Error) =>
        /create config\/no-such\.env on tc-node2 as the unit's EnvironmentFile, or set settings\.p2pEnvFile/.test(err.message),
      );
      const after = ((await env('z').run(acts.activities.p2pDaemonStatus, NODE)) as Status).detail.match(/pid (\d+)/)?.[1];
      assert.equal(after, pid, 'the same orchestrator still runs');
      assert.equal(restarts(), before);
      assert.deepEqual(readdirSync(markers()).filter((m) => m.startsWith('p2p-recovery-lab-training-run-1-31')), [], 'no restart marker written');
    } finally {
      await other.close();
    }
  });
});
