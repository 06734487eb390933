/**
 * The train-server scenarios on REAL BTRFS: RAID1 over loop devices, the
 * faults made on the devices (a disk detached, blocks overwritten on one
 * mirror, the tree root and its backups zeroed on both mirrors, the disks
 * wiped, the OS state gone), the real kernel and btrfs-progs answering
 * Lifeboat's mounts, scrubs, checks, repairs and restores. The same cases as
 * test/e2e/train-server.test.ts (test/helpers/train-server-scenarios.ts).
 * Needs root, loop devices and btrfs-progs (scripts/setup.sh installs it):
 * without them each case fails saying so. Nothing stays mounted or attached.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { LOOP_PREFIX } from '../../lab/train-server';
import type { Stack } from '../helpers/stack';
import { runTrainCase, TRAIN_CASES, trainStack } from '../helpers/train-server-scenarios';

let stack: Stack | undefined;
after(async () => {
  await stack?.stop();
});

/** Loops of this process's labs still attached (their backing files name our pid). */
function ourLoops(): string[] {
  const r = spawnSync('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter((l) => l.includes(`/${LOOP_PREFIX}${process.pid}-`));
}

describe('train-server scenarios on real BTRFS (loop devices)', () => {
  for (const c of TRAIN_CASES) {
    test(`${c.name} (real BTRFS)`, async () => {
      stack = await trainStack('real');
      try {
        await runTrainCase(stack, c, { timeoutMs: 240_000 });
      } finally {
        await stack.stop();
        stack = undefined;
      }
      assert.deepEqual(ourLoops(), [], 'no loop device left attached');
      const mounts = spawnSync('findmnt', ['--list', '--noheadings', '--output', 'TARGET'], { encoding: 'utf8' }).stdout.split('\n').filter((t) => t.includes('lifeboat-e2e-'));
      assert.deepEqual(mounts, [], 'nothing left mounted');
    });
  }
});
