/**
 * The control crate's own Rust tests (`cargo test` in plumtree-control/):
 * the router over a fake node (every route's shape and refusal) and three
 * real memberlist-plumtree 0.1.6 nodes on loopback. Run here so that CI
 * (`npm run conformance`) runs them too, in the target directory setup
 * builds into (LIFEBOAT_CARGO_TARGET_DIR, default
 * ~/.cache/lifeboat/plumtree-target), so the test binaries setup compiled
 * are reused. Without cargo the test fails saying how to get it.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PROJECT_ROOT } from '../../src/tools';

const TARGET = process.env.LIFEBOAT_CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'lifeboat', 'plumtree-target');

test('cargo test of plumtree-control and plumtree-node passes', { timeout: 1_200_000 }, async () => {
  const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' });
  assert.equal(cargo.status, 0, 'cargo is not installed: install Rust >= 1.89 with rustup (https://rustup.rs), then npm run setup');
  const out: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const p = spawn('cargo', ['test', '--release', '--locked', '--workspace', '--manifest-path', join(PROJECT_ROOT, 'plumtree-control', 'Cargo.toml')], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, CARGO_TARGET_DIR: TARGET, CARGO_TERM_COLOR: 'never' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    p.stdout.on('data', (b: Buffer) => out.push(b.toString('utf8')));
    p.stderr.on('data', (b: Buffer) => out.push(b.toString('utf8')));
    p.once('error', reject);
    p.once('exit', resolve);
  });
  const text = out.join('');
  assert.equal(code, 0, `cargo test failed (exit ${code}):\n${text.slice(-6000)}`);
  // Every suite's own summary, so that a suite compiled out (or a filter) cannot pass empty.
  const results = [...text.matchAll(/^test result: ok\. (\d+) passed; (\d+) failed/gm)].map((m) => Number(m[1]));
  const ran = results.reduce((a, b) => a + b, 0);
  assert.ok(ran >= 12, `cargo test ran ${ran} tests (expected the router's, the node's and the real cluster's):\n${text.slice(-3000)}`);
  console.log(`# cargo test: ${ran} Rust tests passed in ${results.length} suites`);
});
