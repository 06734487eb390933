/**
 * The train server's setup scripts, config.sh and device guards through the
 * activities, against the lab's train server (simulated storage) over real
 * SSH: the plan from settings.setupScripts (HEAD's names) and the checkout;
 * scripts answered from the inventory; a question nobody answered ends the
 * script at once as `prompt` with the command a person runs — also the y/n
 * loops that spin forever on a closed stdin —, then the result is checked;
 * the v1 step fails fast instead of hanging; config.sh drafted from the
 * example with what is known and never a secret; bad settings refused naming
 * the field; and the guards refusing the OS partition, an array member and
 * an unpinned disk, with nothing done.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { createActivities, type ActivitySet } from '../../src/activities';
import { startLab, type Lab } from '../../lab/index';

const CLUSTER = 'lab-train';
const ref = { cluster: CLUSTER, node: 'train1' };
const T = { timeout: 120_000 };
let n = 0;

async function run<I, O>(fn: (i: I) => Promise<O>, input: I): Promise<O> {
  return (await new MockActivityEnvironment({ activityId: `setup-${++n}`, workflowExecution: { workflowId: 'wf-setup', runId: 'r1' } }).run(fn, input)) as O;
}
async function refused<I>(fn: (i: I) => Promise<unknown>, input: I): Promise<Error & { type?: string }> {
  return run(fn, input).then(
    (r) => assert.fail(`expected a refusal, got ${inspect(r)}`),
    (e: unknown) => e as Error & { type?: string },
  );
}

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-ts-setup-'));
let lab: Lab;
let acts: ActivitySet;
let root: string;
let original = '';

function setSettings(extra: Record<string, unknown>): void {
  const inv = parseYaml(readFileSync(lab.inventoryPath, 'utf8')) as { clusters: Record<string, { settings: Record<string, unknown> }> };
  Object.assign(inv.clusters[CLUSTER]!.settings, extra);
  writeFileSync(lab.inventoryPath, stringifyYaml(inv));
}

before(async () => {
  lab = await startLab({ dir, families: ['train-server'] });
  acts = createActivities({ inventoryPath: lab.inventoryPath });
  root = lab.host(CLUSTER, 'train1').root;
  original = readFileSync(lab.inventoryPath, 'utf8');
});
after(async () => {
  await acts?.close();
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('train-server setup scripts, config.sh and device guards against the lab', () => {
  test('the plan: HEAD\'s scripts in order, each in the checkout, with its questions and the inventory\'s answers', T, async () => {
    const p = await run(acts.activities.tsSetupPlan, ref);
    assert.deepEqual(
      p.scripts.map((s) => s.name),
      ['00-validate-config.sh', '01-setup-storage.sh', '02-setup-gdrive-shared.sh', '03-setup-shared-caches.sh', '04-setup-users.sh', '05-setup-docker.sh', '06-setup-cloudflare-tunnel.sh', '07-setup-firewall.sh', '08-setup-monitoring.sh', '09-setup-backups.sh', '10-setup-data-pipeline.sh', '11-run-tests.sh'],
    );
    assert.ok(p.scripts.every((s) => s.present));
    assert.deepEqual(p.unlisted, []);
    const by = Object.fromEntries(p.scripts.map((s) => [s.name, s]));
    assert.equal(by['01-setup-storage.sh']!.role, 'storage');
    assert.equal(by['11-run-tests.sh']!.role, 'tests');
    assert.match(by['06-setup-cloudflare-tunnel.sh']!.human ?? '', /browser/);
    assert.deepEqual(by['07-setup-firewall.sh']!.answered, ['Continue with UFW reset?', 'Allow local network access?', 'Install auditd for security auditing?']);
    assert.deepEqual(by['02-setup-gdrive-shared.sh']!.answered, []);
  });

  test('answered questions: the script completes; an unanswered one ends it at once as a prompt (even in a y/n loop), with the command a person runs', T, async () => {
    const a = acts.activities;
    const done = await run(a.tsSetupScript, { ...ref, script: '07-setup-firewall.sh' });
    assert.equal(done.outcome, 'done', inspect(done));
    assert.match(done.output ?? '', /Continue with UFW reset\? \(yes\/no\): yes/);
    // Without answers 07 asks inside `if ! yesno ...`, where a closed stdin loops forever: the guard ends it.
    setSettings({ setupAnswers: '{}' });
    const t0 = Date.now();
    const asked = await run(a.tsSetupScript, { ...ref, script: '07-setup-firewall.sh' });
    assert.equal(asked.outcome, 'prompt');
    assert.equal(asked.prompt, 'Continue with UFW reset? (yes/no):');
    assert.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
    assert.equal(asked.command, `cd '${root}/root/train-server' && ./scripts/07-setup-firewall.sh`);
    // The v1 step fails at once with the question, instead of hanging for its hour.
    const v1 = await refused(a.tsRunSetupScript, { ...ref, script: '08-setup-monitoring.sh' });
    assert.match(v1.message, /08-setup-monitoring\.sh stopped at its question "Do you want to configure Telegram alerts\? \(y\/n\):" .*run it on train1 by hand/);
    writeFileSync(lab.inventoryPath, original);
  });

  test('a human step: 06 stops at its browser login; its result is missing until a person ran it, then checked', T, async () => {
    const a = acts.activities;
    const r = await run(a.tsSetupScript, { ...ref, script: '06-setup-cloudflare-tunnel.sh' });
    assert.equal(r.outcome, 'prompt');
    assert.equal(r.prompt, 'Press Enter to continue with authentication...');
    const before = await run(a.tsSetupVerify, { ...ref, script: '06-setup-cloudflare-tunnel.sh' });
    assert.equal(before.ok, false);
    assert.match(before.checks[0]!.detail, /missing/);
    await lab.break('train-server.by-hand.06-setup-cloudflare-tunnel');
    const afterRun = await run(a.tsSetupVerify, { ...ref, script: '06-setup-cloudflare-tunnel.sh' });
    assert.equal(afterRun.ok, true, inspect(afterRun));
    const tests = await run(a.tsSetupVerify, { ...ref, script: '11-run-tests.sh' });
    assert.equal(tests.ok, true, inspect(tests));
  });

  test('bad settings are refused naming the field and the fix', T, async () => {
    const a = acts.activities;
    setSettings({ setupAnswers: '{"07-setup-firewall.sh": ' });
    assert.match((await refused(a.tsSetupPlan, ref)).message, /settings\.setupAnswers of cluster lab-train is not JSON.*write it as JSON/);
    setSettings({ setupAnswers: '{"firewall": {"x": "y"}}' });
    assert.match((await refused(a.tsSetupScript, { ...ref, script: '07-setup-firewall.sh' })).message, /names "firewall", not a setup script/);
    setSettings({ setupAnswers: '', setupScripts: '01b-setup-gdrive-shared.sh,02-setup-users.sh' });
    const p = await run(a.tsSetupPlan, ref);
    assert.deepEqual(p.scripts.map((s) => s.present), [false, false], 'the 5a02c9d names are not in a HEAD checkout');
    assert.ok(p.unlisted.includes('04-setup-users.sh'));
    setSettings({ setupScripts: '00-validate-config.sh;rm -rf /' });
    assert.match((await refused(a.tsSetupPlan, ref)).message, /settings\.setupScripts of cluster lab-train names "00-validate-config\.sh;rm -rf \/": not a setup script/);
    setSettings({ deviceIds: '/dev/sdb=label:x' });
    assert.match((await refused(a.tsCheckDevices, { ...ref, purpose: 'new-array' as const })).message, /settings\.deviceIds: "\/dev\/sdb=label:x" is not <device>=<kind>:<value>/);
    assert.match((await refused(a.tsResticSnapshots, { ...ref, passwordRef: 'hunter2hunter2' })).message, /passwordRef must be a reference .*never the password itself/);
    writeFileSync(lab.inventoryPath, original);
  });

  test('config.sh drafted from the example with what is known (users on the array, disks, RAID level, remote), never a secret; checked before use', T, async () => {
    const a = acts.activities;
    await lab.break('train-server.os-disk');
    assert.equal((await run(a.tsConfigCheck, ref)).ok, false);
    await run(a.tsMountStorage, ref);
    const d = await run(a.tsConfigDraft, ref);
    assert.equal(d.draft, '/root/train-server/config.sh.lifeboat-draft');
    assert.equal(d.filled.USERS, 'alice bob charlie dave eve');
    assert.equal(d.filled.MOUNT_POINT, '/mnt/storage');
    assert.equal(d.filled.HDD_DEVICES, '/dev/sdb /dev/sdc');
    assert.equal(d.filled.BTRFS_RAID_LEVEL, 'raid1');
    assert.equal(d.filled.NVME_DEVICE, '/dev/nvme0n1');
    assert.ok(d.left.includes('RESTIC_PASSWORD'), d.left.join(' '));
    const text = readFileSync(join(root, 'root/train-server/config.sh.lifeboat-draft'), 'utf8');
    assert.match(text, /^RESTIC_PASSWORD="changeme_restic_password"$/m, 'the password is left for a person');
    const password = readFileSync(join(dir, 'secrets', `${CLUSTER}-restic-password`), 'utf8').trim();
    assert.ok(!text.includes(password));
    // As drafted it is not ready: the password is a placeholder.
    writeFileSync(join(root, 'root/train-server/config.sh'), text);
    const c = await run(a.tsConfigCheck, ref);
    assert.deepEqual(c.checks.filter((x) => !x.ok).map((x) => x.name), ['RESTIC_PASSWORD']);
    await lab.break('train-server.by-hand.config');
    assert.equal((await run(a.tsConfigCheck, ref)).ok, true);
  });

  test('guards: the OS partition, a member of the array and an unpinned disk are refused with the reason, and nothing is done', T, async () => {
    const a = acts.activities;
    const effects = lab.effects.count({ cluster: CLUSTER });
    // The seed's `wipefs -a /dev/nvme0n1p2`: at HEAD that is the OS partition (the cache is p3).
    setSettings({ cacheDevice: '/dev/nvme0n1p2' });
    const os = await run(a.tsCheckDevices, { ...ref, purpose: 'wipe-cache' as const });
    assert.equal(os.ok, false);
    assert.match(os.summary, /\/dev\/nvme0n1p2: part, 100 GiB; ext4 \S+; mounted at \/; holds the OS \(\/\) — REFUSED: \/dev\/nvme0n1p2 holds the operating system \(\/\): never wipe it/);
    const e1 = await refused(a.tsWipeCacheDevice, ref);
    assert.match(e1.message, /^refused to wipe \/dev\/nvme0n1p2 on train1: .*holds the operating system/);
    setSettings({ cacheDevice: '/dev/bcache0' });
    const member = await refused(a.tsMakeCache, ref);
    assert.match(member.message, /is mounted at .*mnt\/storage.*is a member of the storage array \(btrfs /);
    writeFileSync(lab.inventoryPath, original);
    setSettings({ deviceIds: '' });
    const unpinned = await run(a.tsCheckDevices, { ...ref, purpose: 'new-array' as const });
    assert.equal(unpinned.ok, false);
    assert.match(unpinned.devices[0]!.reasons.join(' '), /\/dev\/sdb has no identity pinned in settings\.deviceIds: .*add \/dev\/sdb=serial:WD-WX11D1234567/);
    assert.match(unpinned.devices[0]!.reasons.join(' '), /\/dev\/sdb is mounted at \S+mnt\/storage/);
    // Unmounted, the disks 01-setup-storage.sh would wipe must still be the pinned ones.
    await run(a.tsUnmountStorage, ref);
    const quiet = lab.effects.count({ cluster: CLUSTER });
    setSettings({ deviceIds: '/dev/sdb=serial:WD-OTHER,/dev/sdc=serial:WD-WX21D7654321' });
    const moved = await refused(a.tsSetupScript, { ...ref, script: '01-setup-storage.sh', confirmDestroy: true });
    assert.equal(moved.type ?? (moved as { cause?: { type?: string } }).cause?.type ?? 'DeviceRefused', 'DeviceRefused');
    assert.match(moved.message, /refused to run 01-setup-storage\.sh \(it wipes \/dev\/sdb, \/dev\/sdc\) on train1: \/dev\/sdb is not the disk pinned in settings\.deviceIds \(serial WD-OTHER; found WD-WX11D1234567\)/);
    writeFileSync(lab.inventoryPath, original);
    assert.equal(lab.effects.count({ cluster: CLUSTER }), quiet, 'nothing was done after the unmount');
    assert.equal(lab.effects.count({ cluster: CLUSTER, effect: 'btrfs.created' }), 0);
    assert.deepEqual(lab.effects.list({ cluster: CLUSTER }).slice(effects).map((e) => e.effect), ['umount'], 'nothing was done but the test\'s own unmount');
  });
});
