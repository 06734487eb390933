/**
 * The lab's train server on real BTRFS leaves nothing behind: a lab killed
 * with SIGKILL (its loop devices attached, the array mounted) is cleaned by
 * the next start — its mounts, loop devices and `lb-ts-<pid>-*` directory —
 * and a lab stopped normally detaches and unmounts everything it made.
 * Without root the lab refuses at once, saying so. Needs root, loop devices
 * and btrfs-progs (scripts/setup.sh); without them it fails saying what is
 * missing.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { startLab, type Lab } from '../../lab/index';
import { cleanLeftovers, LOOP_PREFIX } from '../../lab/train-server';

const dirs: string[] = [];
let lab: Lab | undefined;
after(async () => {
  await lab?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Loops whose backing files sit in a directory of process `pid`. */
function loopsOf(pid: number): string[] {
  const r = spawnSync('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter((l) => l.includes(`/${LOOP_PREFIX}${pid}-`));
}
function mountsUnder(dir: string): string[] {
  return spawnSync('findmnt', ['--list', '--noheadings', '--output', 'TARGET'], { encoding: 'utf8' }).stdout.split('\n').filter((t) => t.startsWith(dir));
}

describe('lab train server on real BTRFS: nothing left behind', () => {
  test('a lab killed with SIGKILL is cleaned by the sweep every start runs (cleanLeftovers): its mounts, loop devices and directory', { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-lab-ts-crash-'));
    dirs.push(dir);
    const index = resolve(__dirname, '../../lab/index.js');
    const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(index)}).startLab({ dir: ${JSON.stringify(dir)}, families: ['train-server'], trainBackend: 'real' }).then(() => console.log('LAB-UP'), (e) => { console.error(e.message); process.exit(3); })`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const up = await new Promise<boolean>((res) => {
      const t = setTimeout(() => res(false), 120_000);
      child.stdout.on('data', () => {
        if (out.includes('LAB-UP')) {
          clearTimeout(t);
          res(true);
        }
      });
      child.on('exit', () => {
        clearTimeout(t);
        res(false);
      });
    });
    assert.ok(up, `the child lab did not come up: ${out}`);
    const pid = child.pid!;
    assert.equal(loopsOf(pid).length, 3, 'two HDDs and the cache device attached');
    assert.equal(mountsUnder(dir).length, 1, 'the array mounted');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal(loopsOf(pid).length, 3, 'a killed lab leaves its loops attached');

    const cleaned = cleanLeftovers();
    assert.deepEqual(loopsOf(pid), [], `detached: ${cleaned.join('; ')}`);
    assert.deepEqual(mountsUnder(dir), [], 'unmounted');
    assert.ok(cleaned.some((c) => c.startsWith('unmounted ')), cleaned.join('; '));
    assert.deepEqual(readdirSync(tmpdir()).filter((e) => e.startsWith(`${LOOP_PREFIX}${pid}-`)), [], 'its backing files removed');
  });

  test('without root the lab refuses at once, saying why and what to do (it never falls back quietly)', { timeout: 120_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-lab-ts-noroot-'));
    dirs.push(dir);
    chmodSync(dir, 0o777);
    const index = resolve(__dirname, '../../lab/index.js');
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', `require(${JSON.stringify(index)}).startLab({ dir: ${JSON.stringify(dir)}, families: ['train-server'], trainBackend: 'real' }).then(() => process.exit(0), (e) => { console.error(e.message); process.exit(3); })`], { encoding: 'utf8', timeout: 90_000 });
    assert.equal(r.error, undefined, `setpriv (util-linux) is needed to run as nobody: ${String(r.error)}`);
    assert.equal(r.status, 3, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /needs root \(losetup, mkfs\.btrfs and mount on loop devices\); run the lab \(or the conformance suite\) as root, or use the simulation \(--train-backend sim\)/);
  });

  test('a lab stopped normally detaches and unmounts everything it made', { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-lab-ts-stop-'));
    dirs.push(dir);
    lab = await startLab({ dir, families: ['train-server'], trainBackend: 'real' });
    assert.equal(loopsOf(process.pid).length, 3);
    assert.ok((await lab.health())[0]!.healthy, JSON.stringify(await lab.health()));
    await lab.break('train-server.btrfs-corruption.degraded');
    await lab.stop();
    lab = undefined;
    assert.deepEqual(loopsOf(process.pid), [], 'no loop device left attached (also the detached disk)');
    assert.deepEqual(mountsUnder(dir), [], 'nothing left mounted');
    assert.deepEqual(readdirSync(tmpdir()).filter((e) => e.startsWith(`${LOOP_PREFIX}${process.pid}-`)), [], 'its backing files removed');
  });
});
