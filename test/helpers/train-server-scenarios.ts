/**
 * The train-server scenarios as an operator runs them, one case per
 * scenario (and per harder fault): the lab's fault, `lifeboat run` through
 * the CLI, every gate answered from the CLI by someone other than the
 * starter — with the people's hands where the recovery waits for them (the
 * technician swapping the SSD or reconnecting a disk, the operator running a
 * setup script at a terminal or finishing config.sh) —, the outcome, the
 * exact effects the server received, and its state afterwards (healthy, or
 * the data rescued where the seed rescues it).
 *
 * The same cases run on the lab's simulated storage (test/e2e/train-server.test.ts,
 * `npm test`) and on real BTRFS on loop devices
 * (test/conformance/train-server-scenarios.test.ts, `npm run conformance`):
 * what passes on one and fails on the other is a drift of the simulation.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainBackendKind } from '../../lab/train-server';
import type { Progress } from '../../src/workflows/kit/defs';
import { finishedOf, OPEN, progressOf, recordHistory } from './recovery';
import { eventually, startStack, type Stack } from './stack';

export const CLUSTER = 'lab-train';
const ID = `recovery-${CLUSTER}`;

/** Effects the cases count exactly (any other of these kinds must not happen). */
export const COUNTED = [
  'mount',
  'umount',
  'btrfs.scrub-started',
  'btrfs.repair',
  'btrfs.restore',
  'btrfs.created',
  'disk.wiped',
  'ssd.wiped',
  'fstab.appended',
  'bcache.detached',
  'bcache.attached',
  'bcache.cache-mode',
  'bcache.writeback-resumed',
  'bcache.cache-created',
  'restic.restore',
  'restic.restored',
  'chown',
  'docker.build',
  'docker.up',
  'setup-script.run',
  'rsync',
];

/** The operator's answers: gates in order, each with the hands (a lab fault) before the approval. */
export interface Answer {
  gate: string;
  /** The people's hands before the approval: a lab fault (`train-server.swap-ssd`, `train-server.by-hand.config`...). */
  hands?: string;
  /** `--choice`: `first` (the first offered), `password` (a reference to the operator's copy of the restic password). */
  choice?: 'first' | 'password';
}

export interface TrainCase {
  /** A name for the test. */
  name: string;
  scenario: string;
  fault: string;
  flags?: string[];
  answers: Answer[];
  outcome: RegExp;
  effects: Record<string, number>;
  /** Afterwards: the server healthy, or (unrepairable) the data found where the recovery put it. */
  after: { healthy: true } | { rescued: string; dirs: string[] };
  /** Recorded as the scenario's happy path (LIFEBOAT_RECORD_HISTORIES=1). */
  record?: boolean;
}

/** The two logins that need a browser stay human steps; every other question is answered from the lab's inventory. */
const BY_HAND: Answer[] = [
  { gate: 'by-hand-02-setup-gdrive-shared', hands: 'train-server.by-hand.02-setup-gdrive-shared' },
  { gate: 'by-hand-06-setup-cloudflare-tunnel', hands: 'train-server.by-hand.06-setup-cloudflare-tunnel' },
];

export const TRAIN_CASES: TrainCase[] = [
  {
    name: 'os-disk: the password and config.sh were on the lost disk (asked by reference, drafted and finished by hand), the existing array mounted, scripts with their answers or by hand',
    scenario: 'train-server.os-disk',
    fault: 'train-server.os-disk',
    answers: [{ gate: 'restic-password', choice: 'password' }, { gate: 'recreate-config', hands: 'train-server.by-hand.config' }, ...BY_HAND],
    outcome: /^Server back on a new OS disk: array \S+ mounted \(not formatted\), config\.sh recreated from config\.sh\.example \(a person finished it\), setup re-run \(2 by hand\), containers up; 4 checks passed\.$/,
    // 00, 02-10 (02 and 06 by hand), then 11-run-tests.sh in the verification; never formatted.
    effects: { mount: 1, 'fstab.appended': 1, 'setup-script.run': 11, 'docker.build': 1, 'docker.up': 1 },
    after: { healthy: true },
    record: true,
  },
  {
    name: 'total-data-loss: password by reference, the snapshot picked, config.sh drafted (not in the backup), the disks checked before the dangerous gate, a new array, every backed-up directory restored from its recorded path',
    scenario: 'train-server.total-data-loss',
    fault: 'train-server.total-data-loss',
    answers: [
      { gate: 'restic-password', choice: 'password' },
      { gate: 'restore-snapshot', choice: 'first' },
      { gate: 'recreate-config', hands: 'train-server.by-hand.config' },
      { gate: 'new-btrfs-array' },
      ...BY_HAND,
    ],
    outcome: /^Server rebuilt: homes of 5 users restored from snapshot [0-9a-f]{8} \(.+\); workspaces not restored \(not backed up\); users notified\.$/,
    // 01 (the new array: mkfs, mount, fstab) and 00, 02-10; homes, docker-volumes, tensorboard restored.
    effects: { 'btrfs.created': 1, mount: 1, 'fstab.appended': 1, 'setup-script.run': 11, 'restic.restore': 3, 'restic.restored': 3, chown: 5, 'docker.build': 1, 'docker.up': 1 },
    after: { healthy: true },
    record: true,
  },
  {
    name: 'cache-ssd: detach both, the SSD swapped, the new one checked and shown to the dangerous gate, wiped, a new cache, reattached, clean',
    scenario: 'train-server.cache-ssd',
    fault: 'train-server.cache-ssd',
    answers: [{ gate: 'ssd-replaced', hands: 'train-server.swap-ssd' }, { gate: 'wipe-new-ssd' }],
    outcome: /^Cache restored: new cache set [0-9a-f-]{36} on \/dev\/\S+; bcache0: clean, writeback; bcache1: clean, writeback\.$/,
    effects: { 'bcache.detached': 2, 'ssd.wiped': 1, 'bcache.cache-created': 1, 'bcache.attached': 2 },
    after: { healthy: true },
    record: true,
  },
  {
    name: 'power-outage: blocks overwritten on one mirror; device stats and dmesg show it; the scrub repairs the rest from the other mirror',
    scenario: 'train-server.power-outage',
    fault: 'train-server.power-outage',
    flags: ['--time-scale', '0.02'],
    answers: [],
    outcome: /^Back after the power outage: scrubbed; writeback resumed on bcache0, bcache1; 5 container\(s\) restarted; users notified\.$/,
    effects: { 'btrfs.scrub-started': 1, 'bcache.writeback-resumed': 2, 'docker.up': 1 },
    after: { healthy: true },
  },
  {
    name: 'btrfs-corruption: the tree root damaged on both mirrors: no mount, the readonly check fails, the repair (dangerous gate, device checked) fails, usebackuproot mounts, the data rescued',
    scenario: 'train-server.btrfs-corruption',
    fault: 'train-server.btrfs-corruption',
    answers: [{ gate: 'btrfs-check-repair' }],
    outcome: /^The filesystem cannot be repaired: mounted ro,usebackuproot, homes and workspaces rescued to \/mnt\/external-backup\. Restore from backups next: lifeboat run train-server\.total-data-loss\.$/,
    effects: { 'btrfs.repair': 1, mount: 1, rsync: 2 },
    after: { rescued: '/mnt/external-backup', dirs: ['homes'] },
    record: true,
  },
  {
    name: 'btrfs-corruption (severe): every backup root damaged too: no recovery mount works; btrfs restore reads an older tree root',
    scenario: 'train-server.btrfs-corruption',
    fault: 'train-server.btrfs-corruption.severe',
    answers: [{ gate: 'btrfs-check-repair' }],
    // On real BTRFS the current root is usually unreadable and an older one is used; once in a full
    // conformance run (after the repair attempt) btrfs restore read the current one: both rescue the data,
    // which `after` checks file by file.
    outcome: /^The filesystem cannot be repaired or mounted: btrfs restore copied what it could read to \/mnt\/recovery-output( \(restored from the older root \d+ \(generation \d+\): later changes are lost\))?\. Restore from backups next/,
    effects: { 'btrfs.repair': 1, 'btrfs.restore': 1 },
    after: { rescued: '/mnt/recovery-output', dirs: ['homes'] },
  },
  {
    name: 'btrfs-corruption (degraded): a disk detached: only ro,degraded mounts, the data rescued, the disk reconnected, read-write again',
    scenario: 'train-server.btrfs-corruption',
    fault: 'train-server.btrfs-corruption.degraded',
    answers: [{ gate: 'reconnect-disk', hands: 'train-server.reattach-disk' }],
    outcome: /^Array complete again: \/dev\/\S+ reconnected, \/mnt\/storage mounted read-write; data rescued to \/mnt\/external-backup first\.$/,
    effects: { mount: 2, umount: 1, rsync: 2, 'docker.up': 1 },
    after: { healthy: true },
  },
];

/** The stack of the cases: the dev server, a worker, and the lab's train server on `backend`. */
export function trainStack(backend: TrainBackendKind): Promise<Stack> {
  return startStack({ families: ['train-server'], trainBackend: backend });
}

/** `{ effect: n }` of the counted effects since `from`. */
function counted(stack: Stack, from: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of stack.lab.effects.list({ cluster: CLUSTER }).slice(from)) if (COUNTED.includes(e.effect)) out[e.effect] = (out[e.effect] ?? 0) + 1;
  return out;
}

/** Backed-up files (paths under the mount) missing or different under `dir` of the host, for the given top directories. */
function missingUnder(stack: Stack, dir: string, dirs: string[]): string[] {
  const manifest = JSON.parse(readFileSync(join(stack.lab.dir, `${CLUSTER}-manifest.json`), 'utf8')) as Record<string, string>;
  const base = join(stack.lab.host(CLUSTER, 'train1').root, dir);
  return Object.entries(manifest)
    .filter(([rel]) => dirs.some((d) => rel.startsWith(`${d}/`)))
    .filter(([rel, sha]) => !existsSync(join(base, rel)) || createHash('sha256').update(readFileSync(join(base, rel))).digest('hex') !== sha)
    .map(([rel]) => rel);
}

/** Runs one case on a started stack: break, run, answer, verify. */
export async function runTrainCase(stack: Stack, c: TrainCase, opts: { timeoutMs: number }): Promise<Progress> {
  await stack.lab.break(c.fault);
  const before = stack.lab.effects.list({ cluster: CLUSTER }).length;
  const run = await stack.cli(['run', c.scenario, '--cluster', CLUSTER, '--as', 'bob', ...(c.flags ?? [])]);
  assert.equal(run.code, 0, `lifeboat run: ${run.stderr}`);
  for (const ans of c.answers) {
    const p = await eventually(`${c.scenario} to wait on ${ans.gate}`, async () => {
      const q = await progressOf(stack, ID);
      if (!OPEN.includes(q.status)) throw new Error(`${c.scenario} ended (${q.status}) before ${ans.gate}: ${q.outcome ?? ''}\n${q.steps.map((s) => `${s.status} ${s.title}: ${s.detail ?? s.error ?? ''}`).join('\n')}`);
      if (q.pendingDecision) throw new Error(`${c.scenario} asks a decision before ${ans.gate}: ${q.pendingDecision.step}: ${q.pendingDecision.error}`);
      const waiting = q.gates.find((g) => g.status === 'waiting');
      if (waiting && waiting.gate !== ans.gate) throw new Error(`${c.scenario} waits on ${waiting.gate}, not ${ans.gate}`);
      return waiting ? q : undefined;
    }, opts.timeoutMs, 300);
    const gate = p.gates.find((g) => g.gate === ans.gate)!;
    if (ans.hands) await stack.lab.break(ans.hands);
    const choice = ans.choice === 'password' ? `file:${join(stack.lab.dir, 'secrets', `${CLUSTER}-restic-password`)}` : ans.choice === 'first' ? gate.choices?.[0] : undefined;
    const ok = await stack.cli(['approve', ID, ans.gate, '--as', 'alice', '--reason', 'checked on site', ...(gate.dangerous ? ['--confirm', CLUSTER] : []), ...(choice ? ['--choice', choice] : [])]);
    assert.equal(ok.code, 0, `approve ${ans.gate}: ${ok.stdout}${ok.stderr}`);
  }
  const p = await finishedOf(stack, ID, opts.timeoutMs, { stopOnDecision: true });
  const trail = p.steps.map((s) => `${s.status} ${s.title}: ${s.detail ?? s.error ?? ''}`).join('\n');
  assert.equal(p.pendingDecision, undefined, `the recovery asks: ${p.pendingDecision?.step}: ${p.pendingDecision?.error}\n${trail}`);
  assert.equal(p.status, 'completed', `${c.scenario}: ${p.status}: ${p.outcome ?? ''}\n${trail}`);
  assert.match(p.outcome ?? '', c.outcome, trail);
  assert.deepEqual(counted(stack, before), c.effects, 'what the server received, each exactly so often');
  if ('healthy' in c.after) {
    const h = (await stack.lab.health()).find((x) => x.cluster === CLUSTER);
    assert.ok(h?.healthy, `healthy afterwards: ${h?.summary}`);
  } else {
    assert.deepEqual(missingUnder(stack, c.after.rescued, c.after.dirs), [], `every backed-up file of ${c.after.dirs.join(', ')} found in ${c.after.rescued}`);
  }
  if (c.record) recordHistory(stack, ID, c.scenario);
  return p;
}
