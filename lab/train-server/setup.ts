/**
 * The train server's OS side as its checkout writes it: `root/train-server/`
 * (config.sh, the numbered setup scripts, `docker/`), the users' homes and
 * workspaces, and what each setup script does when it runs (`lab-setup`).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ShimResult } from '../family';
import { createArray, fstabLine } from './btrfs';
import { DISKS, err, MOUNT, ok, REPO_DIR, SSD, TRAIN_USERS, type TrainHost } from './host';

const SCRIPTS = [
  '01-setup-storage',
  '01b-setup-gdrive-shared',
  '02-setup-users',
  '03-setup-docker',
  '04-setup-cloudflare-tunnel',
  '05-setup-firewall',
  '06-setup-monitoring',
  '07-setup-backups',
  '08-setup-data-pipeline',
  '09-run-tests',
];

/** Writes the OS side: checkout, config.sh, scripts, docker dir, fstab. */
export function installOs(host: TrainHost, withConfig: boolean): void {
  const repo = host.p(REPO_DIR);
  mkdirSync(join(repo, 'scripts'), { recursive: true });
  mkdirSync(join(repo, 'docker'), { recursive: true });
  writeFileSync(join(repo, 'config.sh.example'), 'USERS="alice bob"\nSTORAGE_DEVICES="/dev/sdb /dev/sdc /dev/sdd"\n');
  if (withConfig) writeFileSync(join(repo, 'config.sh'), configText());
  for (const name of SCRIPTS) {
    writeFileSync(
      join(repo, 'scripts', `${name}.sh`),
      [
        '#!/bin/sh',
        `# ${name}: train-server setup (Lifeboat lab)`,
        'set -e',
        'here="$(cd "$(dirname "$0")/.." && pwd)"',
        '[ -f "$here/config.sh" ] || { echo "config.sh not found in $here: copy it from the backup or config.sh.example" >&2; exit 1; }',
        '. "$here/config.sh"',
        `exec lab-setup ${name} "$@"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
  }
  writeFileSync(
    join(repo, 'docker', 'generate-compose.sh'),
    '#!/bin/sh\nset -e\ncd "$(dirname "$0")"\n. ../config.sh\n{ echo "services:"; for u in $USERS; do echo "  $u-workspace:"; echo "    build: ."; echo "    volumes: [\\"/mnt/storage/homes/$u:/home/$u\\"]"; done; } > docker-compose.yml\n',
    { mode: 0o755 },
  );
  writeFileSync(join(repo, 'docker', 'docker-compose.yml'), 'services: {}\n');
}

function configText(): string {
  return `# train-server configuration\nUSERS="${TRAIN_USERS.join(' ')}"\nSTORAGE_DEVICES="${DISKS.join(' ')}"\nCACHE_DEVICE="${SSD}"\nRESTIC_REPOSITORY="gdrive:backups/ml-train-server"\n`;
}

/** Each user's home (with `homeBytes` of weights) and workspace. */
export function writeHomes(host: TrainHost): void {
  for (const u of TRAIN_USERS) {
    const home = host.p(`${MOUNT}/homes/${u}`);
    mkdirSync(join(home, 'projects'), { recursive: true });
    writeFileSync(join(home, '.bashrc'), `# ${u}'s shell\nexport PATH=$HOME/bin:$PATH\n`);
    writeFileSync(join(home, 'projects', 'train.py'), `print("training for ${u}")\n`);
    writeFileSync(join(home, 'projects', 'weights.bin'), randomBytes(host.homeBytes));
    const ws = host.p(`${MOUNT}/workspaces/${u}`);
    mkdirSync(ws, { recursive: true });
    writeFileSync(join(ws, 'dataset.tar'), randomBytes(1024));
  }
}

/** What a setup script does when it runs (`lab-setup <name>`): 01 makes a new array, 02 the homes, 09 checks. */
export function setupScript(host: TrainHost, name: string): ShimResult {
  if (!SCRIPTS.includes(name)) return err(`lab-setup: unknown script ${name}`, 1);
  host.record('setup-script.run', { script: `${name}.sh` });
  switch (name) {
    case '01-setup-storage': {
      // Creates a NEW array on the HDDs (whatever was there is gone), mounts it and adds it to fstab.
      createArray(host, DISKS);
      mkdirSync(host.p(`${MOUNT}/homes`), { recursive: true });
      mkdirSync(host.p(`${MOUNT}/workspaces`), { recursive: true });
      host.s.mounted = { options: 'rw,noatime,compress=zstd:3' };
      const fstab = host.p('/etc/fstab');
      writeFileSync(fstab, readFileSync(fstab, 'utf8') + fstabLine(host) + '\n');
      return ok(`storage: created btrfs raid1 on ${DISKS.join(' ')} (UUID ${host.s.arrayUuid}), mounted at ${MOUNT}\n`);
    }
    case '02-setup-users':
      if (!host.s.mounted) return err(`02-setup-users: ${MOUNT} is not mounted; run 01-setup-storage.sh or mount the array`, 1);
      for (const u of TRAIN_USERS) {
        mkdirSync(host.p(`${MOUNT}/homes/${u}`), { recursive: true });
        mkdirSync(host.p(`${MOUNT}/workspaces/${u}`), { recursive: true });
        if (host.s.owners[u] === 'missing') host.s.owners[u] = 'root';
      }
      return ok(`users: ${TRAIN_USERS.join(' ')}\n`);
    case '09-run-tests': {
      const fails: string[] = [];
      if (!host.s.mounted) fails.push(`${MOUNT} not mounted`);
      if (Object.values(host.s.containers).some((x) => !x)) fails.push('containers not running');
      return fails.length ? err(`tests FAILED: ${fails.join('; ')}`, 1) : ok('tests: storage ok, docker ok, gpu ok (10/10 passed)\n');
    }
    default:
      return ok(`${name}: done\n`);
  }
}
