/**
 * The lab's fleet (lab/fleet/) at the size bench/fanout uses: 200 hosts form
 * in one lab process, each pinned in the known_hosts file the lab writes; the
 * real OpenSSH client (BatchMode, StrictHostKeyChecking=yes, the lab's key)
 * restarts a few of them and each records exactly one restart effect; a host
 * presenting another key than its pin is refused before any command runs;
 * Lifeboat's SSH transport restarts a host with the pin and refuses another
 * host's key; after stop no host listens any more.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FleetManifest } from '../../lab/fleet';
import { TransportError } from '../../src/activities/transport/errors';
import { SshPool } from '../../src/activities/transport/ssh';
import { startLab, type Lab } from '../../lab/index';

const HOSTS = 200;
const TMP_PREFIX = 'lb-fleet-';
let lab: Lab | undefined;
let dir: string;
let fleet: FleetManifest;

/** The real OpenSSH client against one fleet host, never asking anything, the key checked against `knownHosts`. */
function ssh(port: number, knownHosts: string, argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return sshRaw([
    '-F', '/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'ConnectTimeout=20',
    '-i', fleet.privateKey,
    '-p', String(port),
    `${fleet.user}@127.0.0.1`,
    '--',
    ...argv,
  ]);
}

/** `ssh <args>`, asynchronously (the lab answers in this very process). */
function sshRaw(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const r = { code: null as number | null, stdout: '', stderr: '' };
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.stdout.on('data', (d: Buffer) => (r.stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (r.stderr += d.toString()));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      r.code = code;
      resolve(r);
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.setTimeout(5000, () => {
      s.destroy();
      resolve(true); // accepted but silent is still a listener
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('lab fleet: 200 hosts over real SSH', { timeout: 120_000 }, () => {
  before(async () => {
    if (spawnSync('ssh', ['-V'], { stdio: 'ignore' }).error) {
      throw new Error('the OpenSSH client (ssh) is missing: run `npm run setup` (it installs openssh-client), or apt-get install openssh-client');
    }
    // Leftovers of a crashed run (an hour old: a run beside this one, another checkout's, keeps its own).
    for (const d of readdirSync(tmpdir())) {
      const full = join(tmpdir(), d);
      if (d.startsWith(TMP_PREFIX) && Date.now() - statSync(full).mtimeMs > 3_600_000) rmSync(full, { recursive: true, force: true });
    }
    dir = mkdtempSync(join(tmpdir(), TMP_PREFIX));
    const t0 = Date.now();
    lab = await startLab({ dir, families: ['fleet'], fleetHosts: HOSTS });
    console.log(`fleet of ${HOSTS} hosts formed in ${Date.now() - t0} ms`);
    fleet = JSON.parse(readFileSync(join(dir, 'fleet', 'fleet.json'), 'utf8')) as FleetManifest;
  });

  after(async () => {
    await lab?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('forms: every host on its own port, pinned in an OpenSSH known_hosts, and not in Lifeboat\'s inventory', () => {
    assert.equal(fleet.hosts.length, HOSTS);
    assert.equal(new Set(fleet.hosts.map((h) => h.port)).size, HOSTS);
    assert.equal(fleet.hosts[0]!.name, 'host0001');
    assert.equal(fleet.hosts[HOSTS - 1]!.name, 'host0200');
    const lines = readFileSync(fleet.knownHosts, 'utf8').trim().split('\n');
    assert.equal(lines.length, HOSTS);
    assert.match(lines[0]!, /^\[127\.0\.0\.1\]:\d+ ssh-ed25519 [A-Za-z0-9+/=]+$/);
    assert.deepEqual(lab!.clusters, ['lab-fleet']);
    assert.doesNotMatch(readFileSync(lab!.inventoryPath, 'utf8'), /lab-fleet/);
  });

  it('the real ssh client restarts a few hosts; each records exactly one restart effect', async () => {
    const picked = [fleet.hosts[0]!, fleet.hosts[99]!, fleet.hosts[199]!];
    for (const h of picked) {
      const r = await ssh(h.port, fleet.knownHosts, fleet.restart);
      assert.equal(r.code, 0, `ssh ${h.name} ${fleet.restart.join(' ')}: ${r.stderr}`);
    }
    const effects = lab!.effects.list({ cluster: 'lab-fleet', effect: fleet.restartEffect });
    assert.deepEqual(effects.map((e) => e.node).sort(), picked.map((h) => h.name));
    // The log on disk, as another process reads it.
    const onDisk = readFileSync(join(dir, 'effects.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { node: string; effect: string });
    assert.equal(onDisk.filter((e) => e.effect === fleet.restartEffect).length, picked.length);
    // By name, through the ssh_config the lab writes (as the seed's loop does: `ssh $host ...`).
    const byName = await sshRaw(['-F', fleet.sshConfig, fleet.hosts[1]!.name, '--', ...fleet.restart]);
    assert.equal(byName.code, 0, byName.stderr);
    picked.push(fleet.hosts[1]!);
    picked.sort((a, b) => a.name.localeCompare(b.name));
    // Another unit does not exist there, as systemd says.
    const other = await ssh(picked[0]!.port, fleet.knownHosts, ['systemctl', 'restart', 'nginx']);
    assert.equal(other.code, 5);
    assert.match(other.stderr, /Unit nginx\.service not found/);
    assert.equal(lab!.effects.count({ cluster: 'lab-fleet' }), picked.length);
  });

  it('a host whose key is not its pin is refused before any command runs', async () => {
    const victim = fleet.hosts[3]!;
    const impostorKey = fleet.hosts[4]!.hostKey; // another host's key pinned for this one
    const wrong = join(dir, 'fleet', 'known_hosts.wrong');
    writeFileSync(wrong, `[127.0.0.1]:${victim.port} ${impostorKey}\n`);
    const r = await ssh(victim.port, wrong, fleet.restart);
    assert.equal(r.code, 255, r.stderr);
    assert.match(r.stderr, /Host key verification failed/);
    assert.match(r.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED/);
    // And an unpinned host is not trusted on first use either.
    writeFileSync(wrong, '');
    const unknown = await ssh(victim.port, wrong, fleet.restart);
    assert.equal(unknown.code, 255);
    assert.match(unknown.stderr, /Host key verification failed/);
    assert.equal(lab!.effects.count({ cluster: 'lab-fleet', node: victim.name }), 0);
  });

  it("Lifeboat's SSH transport restarts a host with its key pinned, and refuses another host's key", async () => {
    const pool = new SshPool({ idleMs: 1000 });
    try {
      const h = fleet.hosts[50]!;
      const privateKey = readFileSync(fleet.privateKey, 'utf8');
      const target = { host: h.host, port: h.port, user: fleet.user, privateKey: `file:${fleet.privateKey}` };
      const ok = await pool.exec({ target: { ...target, hostKeys: [h.hostKey] }, privateKey }, { argv: fleet.restart }, { timeoutMs: 30_000 });
      assert.equal(ok.exitCode, 0, ok.stderr);
      assert.equal(lab!.effects.count({ cluster: 'lab-fleet', node: h.name, effect: fleet.restartEffect }), 1);
      const other = fleet.hosts[51]!;
      await assert.rejects(
        pool.exec({ target: { ...target, port: other.port, hostKeys: [h.hostKey] }, privateKey }, { argv: fleet.restart }, { timeoutMs: 30_000 }),
        (err: unknown) => err instanceof TransportError && err.type === 'HostKeyMismatch' && !err.retryable,
      );
      assert.equal(lab!.effects.count({ cluster: 'lab-fleet', node: other.name }), 0);
    } finally {
      await pool.closeAll();
    }
  });

  it('stops cleanly: no host listens any more', async () => {
    // The port of the fleet's own server, as a host's systemctl shim names it.
    const shim = readFileSync(join(dir, 'bin', 'lab-fleet', 'host0001', 'systemctl'), 'utf8');
    const serverPort = Number(/\/dev\/tcp\/127\.0\.0\.1\/(\d+)/.exec(shim)?.[1]);
    assert.ok(serverPort > 0, shim);
    await lab!.stop();
    const still: number[] = [];
    for (const port of [...fleet.hosts.map((h) => h.port), serverPort]) if (await listening(port)) still.push(port);
    assert.deepEqual(still, []);
  });
});
