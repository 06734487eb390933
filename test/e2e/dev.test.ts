/**
 * `lifeboat dev`, the embedded default, as a user runs it: it starts the
 * Temporal dev server (SQLite under .lifeboat/, Web UI), the lab and a
 * worker; a recovery runs on it; Ctrl-C stops every process it started; and
 * a second `lifeboat dev` finds the recoveries of the first.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { DEV_SERVER_DYNAMIC_CONFIG, PROJECT_ROOT } from '../../src/tools';
import { eventually, freePort } from '../helpers/stack';

const BIN = path.join(PROJECT_ROOT, 'bin', 'lifeboat.js');
const cwd = mkdtempSync(path.join(tmpdir(), 'lifeboat-dev-'));
const running: ChildProcess[] = [];
let env: NodeJS.ProcessEnv;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.once('error', reject);
    p.once('close', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

/** Starts `lifeboat dev` in the foreground and resolves once it says it is ready. */
async function startDev(): Promise<{ proc: ChildProcess; output: () => string; exited: Promise<number | null> }> {
  const proc = spawn(process.execPath, [BIN, 'dev'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(proc);
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  await eventually('lifeboat dev to be ready', async () => {
    if (proc.exitCode !== null) throw new Error(`lifeboat dev exited ${proc.exitCode}:\n${out}`);
    return out.includes('Press Ctrl-C to stop everything.');
  }, 120_000);
  return { proc, output: () => out, exited };
}

function children(): Array<{ name: string; pid: number }> {
  return (JSON.parse(readFileSync(path.join(cwd, '.lifeboat', 'dev.json'), 'utf8')) as { children: Array<{ name: string; pid: number }> }).children;
}

after(async () => {
  for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 3000));
  const state = path.join(cwd, '.lifeboat', 'dev.json');
  if (existsSync(state)) for (const c of children()) if (alive(c.pid)) process.kill(-c.pid, 'SIGKILL');
  rmSync(cwd, { recursive: true, force: true });
});

test('lifeboat dev: server + Web UI + lab + worker; a recovery runs; Ctrl-C stops all; state survives a restart', async () => {
  const port = await freePort();
  const uiPort = await freePort();
  env = {
    ...process.env,
    TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
    LIFEBOAT_UI_URL: `http://127.0.0.1:${uiPort}`,
    LIFEBOAT_LAB_EPHEMERAL: '1',
    LIFEBOAT_INVENTORY: '',
    NO_COLOR: '1',
  };

  const first = await startDev();
  assert.match(first.output(), new RegExp(`Temporal Web UI:  http://127\\.0\\.0\\.1:${uiPort}/namespaces/default/workflows`));
  const kids = children();
  assert.deepEqual(kids.map((c) => c.name).sort(), ['lab', 'temporal', 'worker']);
  for (const c of kids) assert.ok(alive(c.pid), `${c.name} runs`);
  // The server runs with Lifeboat's dynamic config (without it a workflow's steps are paced at ~50 ms: src/tools.ts).
  const temporalArgs = readFileSync(`/proc/${kids.find((c) => c.name === 'temporal')!.pid}/cmdline`, 'utf8').split('\0');
  for (const [k, v] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG)) assert.ok(temporalArgs.includes(`${k}=${JSON.stringify(v)}`), `temporal runs with ${k}=${JSON.stringify(v)}: ${temporalArgs.join(' ')}`);
  assert.ok(existsSync(path.join(cwd, '.lifeboat', 'temporal.db')), 'the database is a file under .lifeboat/');
  const ui = await eventually('the Web UI to answer', async () => (await fetch(`http://127.0.0.1:${uiPort}/`)).ok, 30_000);
  assert.ok(ui);

  // A recovery on the embedded default: a dry run of quorum-loss on the lab's (healthy) ledger.
  // The lab's approvals are signed: bob signs the start with his lab key.
  const bobKey = path.join(cwd, '.lifeboat', 'lab', 'keys', 'operators', 'bob');
  const run = await cli(['run', 'ledger.quorum-loss', '--cluster', 'lab-ledger', '--dry-run', '--as', 'bob', '--key', bobKey, '--watch']);
  assert.match(run.out, /Signed the start as bob with key SHA256:/);
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /status: completed/);

  first.proc.kill('SIGINT');
  assert.equal(await first.exited, 0, first.output());
  for (const c of kids) await eventually(`${c.name} (pid ${c.pid}) to be stopped`, async () => !alive(c.pid), 20_000);
  assert.ok(!existsSync(path.join(cwd, '.lifeboat', 'dev.json')));

  const second = await startDev();
  const list = await cli(['list', '--all', '--json']);
  assert.equal(list.code, 0, list.out);
  const rows = JSON.parse(list.out) as Array<{ workflowId: string; status: string }>;
  assert.ok(
    rows.some((r) => r.workflowId === 'recovery-lab-ledger' && /completed/i.test(r.status)),
    `the first run's recovery is still there: ${list.out}`,
  );
  const kids2 = children();
  second.proc.kill('SIGINT');
  assert.equal(await second.exited, 0, second.output());
  for (const c of kids2) await eventually(`${c.name} (pid ${c.pid}) to be stopped`, async () => !alive(c.pid), 20_000);
});
