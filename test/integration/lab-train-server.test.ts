/**
 * The lab's train server (lab/train-server/, simulated storage) over real
 * SSH, driven with the runbook's own shell commands (seed 004) as they read
 * on the repository's HEAD layout (the filesystem on /dev/bcache0, the cache
 * on /dev/nvme0n1p3, the scripts renumbered, the restic password on the OS
 * disk, config.sh not in the backup): each fault shows the seed's symptoms,
 * the runbook's remedy heals it, and the effect log records each effect.
 * Paths are the runbook's, under the host root ($LAB_ROOT).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'ssh2';
import { startLab, type Lab } from '../../lab/index';

const CLUSTER = 'lab-train';
let lab: Lab;
let dir: string;

function sh(command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    const timer = setTimeout(() => {
      c.end();
      reject(new Error(`ssh train1 "${command}" timed out`));
    }, 30_000);
    c.once('ready', () => {
      c.exec(command, (err, stream) => {
        if (err) return reject(err);
        const r = { code: null as number | null, stdout: '', stderr: '' };
        stream.on('data', (d: Buffer) => (r.stdout += d.toString()));
        stream.stderr.on('data', (d: Buffer) => (r.stderr += d.toString()));
        stream.on('exit', (code: number | null) => (r.code = code));
        stream.on('close', () => {
          clearTimeout(timer);
          c.end();
          resolve(r);
        });
      });
    });
    c.on('error', (err) => {
      clearTimeout(timer);
      c.end();
      reject(err);
    });
    c.connect({ host: '127.0.0.1', port: lab.host(CLUSTER, 'train1').port, username: 'lifeboat', privateKey: readFileSync(join(lab.dir, 'keys', 'id_ed25519')), readyTimeout: 5000 });
  });
}

async function ok(command: string): Promise<string> {
  const r = await sh(command);
  assert.equal(r.code, 0, `${command}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function health(): Promise<{ healthy: boolean; summary: string }> {
  return (await lab.health()).find((h) => h.cluster === CLUSTER)!;
}

async function until(what: string, probe: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out: ${what}`);
}

const R = '$LAB_ROOT';
/** restic with the operator's copy of the password (the server's is on its OS disk). */
const RESTIC = `RESTIC_PASSWORD_FILE=${'$PWFILE'} ${R}/usr/local/bin/restic -r ${'$REPO'}`;
let env = '';
let config = '';
const count = (effect: string) => lab.effects.count({ cluster: CLUSTER, effect });
const hostPath = (p: string) => join(lab.host(CLUSTER, 'train1').root, p);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-lab-train-'));
  lab = await startLab({ dir, families: ['train-server'] });
  const inv = readFileSync(lab.inventoryPath, 'utf8');
  const repo = /resticRepository: (\S+)/.exec(inv)![1]!;
  assert.match(inv, /resticPassword: host:\/root\/\.restic-password/, 'the lab keeps the password where the setup scripts do');
  env = `export REPO='${repo}' PWFILE='${join(lab.dir, 'secrets', `${CLUSTER}-restic-password`)}'; `;
  config = readFileSync(hostPath('root/train-server/config.sh'), 'utf8');
});
after(async () => {
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The latest snapshot's path of a backed-up directory (`homes`...): HEAD backs up from a read-only snapshot of the array. */
async function snapshotPath(what: string): Promise<{ id: string; path: string; paths: string[] }> {
  const snaps = JSON.parse((await ok(`${env}${RESTIC} snapshots --json`)).split('\n').find((l) => l.startsWith('['))!) as Array<{ id: string; paths: string[] }>;
  const last = snaps.at(-1)!;
  return { id: last.id, path: last.paths.find((p) => p.endsWith(`/${what}`))!, paths: last.paths };
}

describe('lab: the train server', () => {
  it('starts healthy: the array on bcache0/bcache1 mounted and in fstab, device stats zero, bcache clean/writeback, containers up, two restic snapshots, HEAD\'s scripts', async () => {
    assert.ok((await health()).healthy, (await health()).summary);
    assert.match(await ok('mount'), /\/dev\/bcache0 on .*\/mnt\/storage type btrfs/);
    const stats = await ok('btrfs device stats /mnt/storage');
    assert.match(stats, /\[\/dev\/bcache1\]\.corruption_errs/);
    assert.ok(stats.split('\n').filter(Boolean).every((l) => / 0$/.test(l)), stats);
    assert.equal((await ok(`cat ${R}/sys/block/bcache0/bcache/state`)).trim(), 'clean');
    assert.match(await ok(`cat ${R}/sys/block/bcache1/bcache/cache_mode`), /\[writeback\]/);
    assert.match(await ok('blkid /dev/sdb'), /TYPE="bcache"/, 'the HDD is a bcache backing device');
    const uuid = (await ok('blkid /dev/bcache0 -s UUID -o value')).trim();
    assert.match(await ok(`cat ${R}/etc/fstab`), new RegExp(`UUID=${uuid} /mnt/storage btrfs`));
    assert.match(await ok('docker compose ps'), /alice-workspace .*running/);
    assert.match(await ok('nvidia-smi'), /RTX A6000/);
    assert.match(await ok(`ls ${R}/root/train-server/scripts`), /00-validate-config\.sh\n01-setup-storage\.sh\n02-setup-gdrive-shared\.sh\n03-setup-shared-caches\.sh\n04-setup-users\.sh[\s\S]*11-run-tests\.sh/);
    const latest = await snapshotPath('homes');
    assert.deepEqual(latest.paths.map((p) => p.replace(/.*\/mnt\/storage\//, '')).sort(), ['docker-volumes', 'homes', 'shared/tensorboard'].map((d) => `snapshots/${/backup_\d{8}_\d{6}/.exec(latest.path)![0]}/${d}`).sort());
    assert.equal((await sh(`${env}${RESTIC} ls latest | grep config.sh`)).code, 1, 'config.sh is not in the backup');
    assert.equal(lab.effects.count({ cluster: CLUSTER }), 0);
  });

  it('power-outage: dmesg errors, corruption counters, dirty bcache, stopped containers; scrub + writeback + up -d heal it', async () => {
    await lab.break('train-server.power-outage');
    assert.match(await ok('dmesg | grep -i error'), /BTRFS error \(device bcache0\)/);
    assert.match(await ok('btrfs device stats /mnt/storage'), /\[\/dev\/bcache0\]\.corruption_errs\s+[1-9]/);
    assert.equal((await ok(`cat ${R}/sys/block/bcache0/bcache/state`)).trim(), 'dirty');
    assert.match(await ok('docker compose ps'), /exited/);
    assert.equal((await health()).healthy, false);
    assert.match(await ok('btrfs scrub start /mnt/storage'), /scrub started/);
    await until('the scrub to finish', async () => /Status:\s+finished/.test(await ok('btrfs scrub status /mnt/storage')), 15_000);
    assert.match(await ok('btrfs scrub status /mnt/storage'), /Corrected:\s+[1-9]\d*\n\s+Uncorrectable:\s+0/);
    await ok(`for d in ${R}/sys/block/bcache*/bcache; do sh -c "echo 1 > $d/writeback_running"; done`);
    await until('bcache clean', async () => (await ok(`cat ${R}/sys/block/bcache*/bcache/state`)).trim().split('\n').every((x) => x === 'clean'));
    await ok('docker compose up -d');
    assert.equal(count('btrfs.scrub-started'), 1);
    assert.equal(count('bcache.writeback-resumed'), 2);
    assert.equal(count('docker.up'), 1);
    await until('healthy', async () => (await health()).healthy);
  });

  it('cache-ssd: the SSD (p3) fails; detach, swap, wipefs, make-bcache -C, attach by cset.uuid heal it', async () => {
    await lab.break('train-server.cache-ssd');
    const bad = await sh('bcache-super-show /dev/nvme0n1p3');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Input\/output error/);
    assert.match(await ok('dmesg | grep -i error'), /nvme0n1: I\/O error/);
    await ok(`echo 1 > ${R}/sys/block/bcache0/bcache/detach; echo 1 > ${R}/sys/block/bcache1/bcache/detach`);
    await until('detached', async () => (await ok(`cat ${R}/sys/block/bcache*/bcache/state`)).trim().split('\n').every((x) => x === 'no cache'));
    assert.equal(count('bcache.detached'), 2);
    assert.equal((await sh('make-bcache -C /dev/nvme0n1p3')).code, 1, 'the failed SSD takes nothing');
    await lab.break('train-server.swap-ssd');
    assert.match(await ok('wipefs /dev/nvme0n1p3'), /bcache/, 'wipefs without -a only lists the stale signature');
    assert.match((await sh('make-bcache -C /dev/nvme0n1p3')).stderr, /already has a non-bcache superblock|Already a bcache device/, 'the new SSD needs a wipe first');
    await ok('wipefs -a /dev/nvme0n1p3');
    await ok('make-bcache -C /dev/nvme0n1p3');
    await ok(`CACHE_SET_UUID=$(bcache-super-show /dev/nvme0n1p3 | grep 'cset.uuid' | awk '{print $2}'); for bcache_dev in ${R}/sys/block/bcache*/bcache; do echo $CACHE_SET_UUID | tee $bcache_dev/attach; done`);
    await ok(`for bcache_dev in ${R}/sys/block/bcache*/bcache; do echo writeback | tee $bcache_dev/cache_mode; done`);
    await until('clean', async () => (await ok(`cat ${R}/sys/block/bcache0/bcache/state`)).trim() === 'clean');
    assert.equal(count('ssd.wiped'), 1);
    assert.equal(count('bcache.cache-created'), 1);
    assert.equal(count('bcache.attached'), 2);
    assert.equal(count('bcache.cache-mode'), 0, 'writeback already: no change');
    await until('healthy', async () => (await health()).healthy);
  });

  it('btrfs-corruption (repairable): the array will not mount rw; ro,degraded does; check --readonly finds errors; --repair fixes them', async () => {
    await lab.break('train-server.btrfs-corruption.repairable');
    await sh('umount /mnt/storage');
    assert.notEqual((await sh('mount /dev/bcache0 /mnt/storage')).code, 0);
    await ok('mount -o ro,degraded /dev/bcache0 /mnt/storage');
    await ok(`mkdir -p ${R}/mnt/external-backup && rsync -av ${R}/mnt/storage/homes/ ${R}/mnt/external-backup/homes/`);
    assert.match(await ok(`cat ${R}/mnt/external-backup/homes/alice/projects/train.py`), /alice/);
    const check = await sh('btrfs check --readonly /dev/bcache0');
    assert.equal(check.code, 1);
    assert.match(check.stdout + check.stderr, /errors found/);
    assert.notEqual((await sh('btrfs check --repair /dev/bcache0')).code, 0, 'no repair while mounted');
    await ok('umount /mnt/storage');
    assert.match(await ok('btrfs check --repair /dev/bcache0'), /fixed 2 errors/);
    await ok('mount /dev/bcache0 /mnt/storage');
    await ok('docker compose up -d');
    assert.equal(count('btrfs.repair'), 1);
    assert.equal(count('rsync'), 1);
    await until('healthy', async () => (await health()).healthy);
  });

  it('os-disk: a fresh OS, no config.sh nor restic password, nothing mounted, fstab without the array (which is intact); the runbook as at HEAD brings it back', async () => {
    await lab.break('train-server.os-disk');
    assert.notEqual((await sh(`test -f ${R}/root/train-server/config.sh`)).code, 0);
    assert.notEqual((await sh(`test -f ${R}/root/.restic-password`)).code, 0, 'the password was on the OS disk');
    assert.doesNotMatch(await ok('mount'), /mnt\/storage/);
    const uuid = (await ok('blkid /dev/bcache0 -s UUID -o value')).trim();
    assert.match(uuid, /^[0-9a-f-]{36}$/, 'the array survived');
    assert.match((await sh(`${R}/root/train-server/scripts/04-setup-users.sh`)).stderr, /no config\.sh/, 'setup scripts need config.sh');
    // config.sh is not in the backup: recreated by a person from the example.
    assert.equal((await sh(`${env}${RESTIC} ls latest | grep config.sh`)).code, 1);
    // The person writes what they know (the disks, the users...) and the password from their own copy.
    writeFileSync(hostPath('root/train-server/config.sh.lifeboat-draft'), config.replace(/^RESTIC_PASSWORD=.*$/m, 'RESTIC_PASSWORD="changeme_restic_password"'));
    await lab.break('train-server.by-hand.config');
    assert.equal(readFileSync(hostPath('root/train-server/config.sh'), 'utf8'), config);
    await ok('mount /dev/bcache0 /mnt/storage');
    await ok(`echo "UUID=${uuid} /mnt/storage btrfs defaults,noatime,compress=zstd:3 0 0" | tee -a ${R}/etc/fstab`);
    await ok(`cd ${R}/root/train-server && ./scripts/00-validate-config.sh && ./scripts/03-setup-shared-caches.sh && cd docker && ./generate-compose.sh && docker compose build && docker compose up -d`);
    assert.match(await ok(`cd ${R}/root/train-server && ./scripts/11-run-tests.sh`), /passed/);
    await until('fstab.appended', async () => count('fstab.appended') === 1);
    assert.equal(count('btrfs.created'), 0);
    await until('healthy', async () => (await health()).healthy);
  });

  it('total-data-loss: blank disks, homes gone; config.sh, the storage script (confirmed), restic restore of the homes from the snapshot\'s path, chown per user, containers heal it', async () => {
    await lab.break('train-server.total-data-loss');
    assert.notEqual((await sh('blkid /dev/bcache0 -s UUID -o value')).code, 0);
    assert.notEqual((await sh(`test -d ${R}/mnt/storage/homes/alice`)).code, 0);
    assert.match((await health()).summary, /no btrfs array/);
    writeFileSync(hostPath('root/train-server/config.sh'), config);
    // Without an answer the storage script stops at its confirmation (stdin closed): nothing is wiped.
    assert.notEqual((await sh(`cd ${R}/root/train-server && ./scripts/01-setup-storage.sh < /dev/null`)).code, 0);
    assert.equal(count('btrfs.created'), 0);
    await ok(`cd ${R}/root/train-server && printf 'YES\\n' | ./scripts/01-setup-storage.sh`);
    // Every backed-up directory, from the path the snapshot recorded (under the array's backup_<ts> snapshot).
    for (const what of ['homes', 'docker-volumes', 'shared/tensorboard']) {
      const { id, path } = await snapshotPath(what);
      await ok(`${env}${RESTIC} restore '${id}:${path}' --target ${R}/mnt/storage/${what}`);
    }
    await ok(`for user in alice bob charlie dave eve; do chown -R \${user}:\${user} /mnt/storage/homes/\${user}; done`);
    await ok(`cd ${R}/root/train-server/docker && docker compose build && docker compose up -d`);
    assert.equal(count('btrfs.created'), 1);
    assert.equal(count('restic.restored'), 3);
    assert.equal(count('restic.restored'), count('restic.restore'), 'every restore started also completed');
    assert.equal(count('chown'), 5);
    await until('healthy', async () => (await health()).healthy, 5_000);
  });
});
