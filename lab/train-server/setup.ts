/**
 * The train server's OS side as its checkout writes it: `root/train-server/`
 * with `config.sh` (and `config.sh.example`), the setup scripts under the
 * names and in the order of the repository's HEAD (ptrkhh/on-prem-training
 * fc7610c: `00-validate-config.sh` … `11-run-tests.sh`), `docker/`, the
 * users' homes and workspaces, and what each setup script changes when it
 * runs (`lab-setup`).
 *
 * The scripts are stand-ins written for the lab, not copies: bash with
 * `set -euo pipefail`, reading `config.sh`, asking the same questions at the
 * same points with `read -p` (including the y/n loops that spin forever when
 * stdin is closed, as the real ones do), and leaving the same files behind
 * (the paths Lifeboat checks after a script ran by hand). `01-setup-storage.sh`
 * drives the host's storage tools itself (wipefs, make-bcache -B,
 * mkfs.btrfs, mount), which act on the simulated or the real devices.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ShimResult } from '../family';
import { err, MOUNT, ok, PASSWORD_FILE, REPO_DIR, TRAIN_USERS, type TrainHost } from './host';

/** The setup scripts at the repository's HEAD, in order. */
export const SETUP_SCRIPTS = [
  '00-validate-config',
  '01-setup-storage',
  '02-setup-gdrive-shared',
  '03-setup-shared-caches',
  '04-setup-users',
  '05-setup-docker',
  '06-setup-cloudflare-tunnel',
  '07-setup-firewall',
  '08-setup-monitoring',
  '09-setup-backups',
  '10-setup-data-pipeline',
  '11-run-tests',
];

/** What each script leaves behind when it completed (the real scripts' files, under the host root). */
export const SCRIPT_FILES: Record<string, string[]> = {
  '02-setup-gdrive-shared': ['/etc/systemd/system/gdrive-shared.service'],
  '03-setup-shared-caches': ['/opt/cache-env.sh'],
  '04-setup-users': ['/etc/ssh/sshd_config.d/ml-train-server.conf', '/etc/cron.daily/check-user-quotas'],
  '05-setup-docker': ['/etc/docker/daemon.json'],
  '06-setup-cloudflare-tunnel': ['/root/.cloudflared/config.yml'],
  '07-setup-firewall': ['/etc/fail2ban/jail.local'],
  '08-setup-monitoring': ['/etc/cron.d/ml-monitoring'],
  '09-setup-backups': ['/etc/cron.d/restic-backup'],
  '10-setup-data-pipeline': ['/etc/cron.d/customer-data-sync'],
};

/**
 * Answers for the scripts' questions, as the lab's inventory gives them
 * (`settings.setupAnswers`): everything but the two browser logins (rclone's
 * Google OAuth in 02, `cloudflared tunnel login` in 06), which stay human
 * steps. 01's destructive confirmation is never given here: Lifeboat answers
 * it only after its dangerous gate.
 */
export const LAB_SETUP_ANSWERS: Record<string, Record<string, string>> = {
  '04-setup-users.sh': { 'Continue anyway?': 'yes' },
  '05-setup-docker.sh': { 'Configure GPU time-slicing for shared access?': 'y', 'Reboot now?': 'n' },
  '07-setup-firewall.sh': { 'Continue with UFW reset?': 'yes', 'Allow local network access?': 'n', 'Install auditd for security auditing?': 'n' },
  '08-setup-monitoring.sh': { 'Do you want to configure Telegram alerts?': 'n', 'Do you have a UPS connected via USB?': 'n' },
  '09-setup-backups.sh': { 'Do you want to set up healthchecks.io monitoring?': 'n', 'Run initial backup test now?': 'n' },
  '10-setup-data-pipeline.sh': { 'Have you already configured rclone?': 'y', 'Also create systemd service/timer?': 'n', 'Set up healthchecks.io for data sync monitoring?': 'n', 'Run test sync now?': 'n' },
};

const HEADER = (name: string): string[] => [
  '#!/bin/bash',
  `# ${name}.sh: Lifeboat lab stand-in for the on-prem-training setup script of this name (HEAD fc7610c):`,
  '# same name, config.sh, questions and outcome; what it changes is recorded by the lab (lab-setup).',
  'set -euo pipefail',
  'here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
  'cfg="$here/../config.sh"',
  'if [[ ! -f "$cfg" ]]; then echo "ERROR: no config.sh in $(dirname "$here"): copy config.sh.example to config.sh and fill it in" >&2; exit 1; fi',
  'source "$cfg"',
  'R="${LAB_ROOT:-}"',
  'yn() { local a; while true; do read -p "$1 (y/n): " a; case "$a" in y|Y|yes|Yes|YES) return 0;; n|N|no|No|NO) return 1;; *) echo "please answer y or n";; esac; done; }',
  'yesno() { local a; while true; do read -p "$1 (yes/no): " a; case "$a" in yes|Yes|YES) return 0;; no|No|NO) return 1;; *) echo "please answer yes or no";; esac; done; }',
];

const BODIES: Record<string, string[]> = {
  '00-validate-config': [
    'fail=0',
    'for v in USERS MOUNT_POINT HDD_DEVICES BTRFS_RAID_LEVEL BACKUP_REMOTE; do if [[ -z "${!v:-}" ]]; then echo "config.sh: $v is empty" >&2; fail=1; fi; done',
    'case "${BTRFS_RAID_LEVEL:-}" in raid1|raid10|raid0|single) ;; *) echo "config.sh: BTRFS_RAID_LEVEL must be raid1, raid10, raid0 or single" >&2; fail=1;; esac',
    '[[ $fail == 0 ]] || exit 1',
    'echo "config.sh looks valid"',
    'lab-setup 00-validate-config',
  ],
  '01-setup-storage': [
    'echo "Storage setup: BTRFS $BTRFS_RAID_LEVEL on $HDD_DEVICES (bcache: $BCACHE_MODE), mounted at $MOUNT_POINT"',
    'echo "Every byte on these disks will be destroyed."',
    'read -p "Type \'YES\' to continue: " confirm',
    'if [[ "$confirm" != "YES" ]]; then echo "Aborted."; exit 1; fi',
    'devs=()',
    'for hdd in $HDD_DEVICES; do',
    '  wipefs -af "$hdd"',
    '  if [[ "$BCACHE_MODE" != "none" ]]; then make-bcache -B "$hdd" --wipe-bcache >/dev/null; fi',
    '  devs+=("$(lab-setup fs-device "$hdd")")',
    'done',
    'mkfs.btrfs -f -L ml-storage -d "$BTRFS_RAID_LEVEL" -m "$BTRFS_RAID_LEVEL" "${devs[@]}"',
    'mkdir -p "$R$MOUNT_POINT"',
    'opts="compress=${BTRFS_COMPRESSION},space_cache=v2,relatime"',
    'mount -o "$opts" "${devs[0]}" "$R$MOUNT_POINT"',
    'for d in homes workspaces shared shared/tensorboard docker-volumes snapshots cache cache/gdrive; do mkdir -p "$R$MOUNT_POINT/$d"; done',
    'uuid="$(blkid -p -s UUID -o value "${devs[0]}")"',
    'if ! grep -q "$uuid" "$R/etc/fstab"; then printf "\\n# BTRFS %s storage\\nUUID=%s %s btrfs %s 0 0\\n" "$BTRFS_RAID_LEVEL" "$uuid" "$MOUNT_POINT" "$opts" >> "$R/etc/fstab"; fi',
    'lab-setup 01-setup-storage',
  ],
  '02-setup-gdrive-shared': [
    'conf="$R/root/.config/rclone/rclone.conf"',
    'configure=1',
    'if grep -q "^\\[${GDRIVE_SHARED_REMOTE}\\]" "$conf" 2>/dev/null; then',
    '  read -p "Reconfigure? (y/n): " reconfigure',
    '  [[ "$reconfigure" == "y" ]] || configure=0',
    'fi',
    'if [[ $configure == 1 ]]; then',
    '  echo "rclone config opens Google\'s login in a browser: create the remote $GDRIVE_SHARED_REMOTE for the Shared Drive."',
    '  read -p "Press Enter to continue..."',
    '  lab-setup rclone-config',
    'fi',
    'lab-setup 02-setup-gdrive-shared',
  ],
  '03-setup-shared-caches': ['lab-setup 03-setup-shared-caches'],
  '04-setup-users': [
    'lab-setup users',
    'for u in $USERS; do',
    '  if [[ ! -s "$R$MOUNT_POINT/homes/$u/.ssh/authorized_keys" ]]; then',
    '    echo "WARNING: $u has no SSH key in $MOUNT_POINT/homes/$u/.ssh/authorized_keys; password logins are switched off next"',
    '    read -p "Continue anyway? (yes/no): " confirm',
    '    if [[ "$confirm" != "yes" ]]; then echo "Aborted."; exit 1; fi',
    '  fi',
    'done',
    'lab-setup 04-setup-users',
  ],
  '05-setup-docker': [
    'if ! nvidia-smi >/dev/null 2>&1; then echo "NVIDIA driver installed; a reboot is needed."; if yn "Reboot now?"; then echo "rebooting"; fi; exit 1; fi',
    'if yn "Configure GPU time-slicing for shared access?"; then echo "time-slicing: on"; fi',
    'lab-setup 05-setup-docker',
  ],
  '06-setup-cloudflare-tunnel': [
    'echo "cloudflared tunnel login opens a browser; on a headless server run it elsewhere and copy cert.pem to /root/.cloudflared/."',
    'read -p "Press Enter to continue with authentication..."',
    'lab-setup cloudflared-login',
    'if [[ -f "$R/root/.cloudflared/config.yml" ]]; then',
    '  read -p "Do you want to proceed? (yes/no): " OVERWRITE_CONFIG',
    '  if [[ "$OVERWRITE_CONFIG" != "yes" ]]; then echo "keeping the existing config.yml"; fi',
    'fi',
    'lab-setup 06-setup-cloudflare-tunnel',
  ],
  '07-setup-firewall': [
    'if ! yesno "Continue with UFW reset?"; then echo "Aborted."; exit 1; fi',
    'if [[ -z "${LOCAL_NETWORK_CIDR:-}" ]]; then',
    '  if yn "Allow local network access?"; then',
    '    read -p "Enter local network CIDR (e.g., 192.168.1.0/24): " local_cidr',
    '    [[ "$local_cidr" =~ ^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+/[0-9]+$ ]] || { echo "not a CIDR: $local_cidr" >&2; exit 1; }',
    '  fi',
    'fi',
    'if yn "Install auditd for security auditing?"; then echo "auditd: on"; fi',
    'lab-setup 07-setup-firewall',
  ],
  '08-setup-monitoring': [
    'if [[ -z "${TELEGRAM_BOT_TOKEN:-}" || -z "${TELEGRAM_CHAT_ID:-}" ]]; then',
    '  while true; do read -p "Do you want to configure Telegram alerts? (y/n): " t; case "$t" in y|n) break;; *) echo "please answer y or n";; esac; done',
    '  if [[ "$t" == "y" ]]; then read -p "Bot Token: " tok; read -p "Chat ID: " chat; fi',
    'fi',
    'read -p "Do you have a UPS connected via USB? (y/n): " has_ups',
    'lab-setup 08-setup-monitoring',
  ],
  '09-setup-backups': [
    'if [[ -z "${RESTIC_PASSWORD:-}" ]]; then echo "ERROR: RESTIC_PASSWORD is empty in config.sh" >&2; exit 1; fi',
    `mkdir -p "$R$(dirname ${PASSWORD_FILE})"`,
    `(umask 077; printf '%s\\n' "$RESTIC_PASSWORD" > "$R${PASSWORD_FILE}")`,
    'read -p "Do you want to set up healthchecks.io monitoring? (y/n): " hc',
    'if [[ "$hc" == "y" ]]; then read -p "Ping URL: " url; fi',
    'read -p "Run initial backup test now? (y/n): " run_test',
    'lab-setup 09-setup-backups',
  ],
  '10-setup-data-pipeline': [
    'while true; do read -p "Have you already configured rclone? (y/n): " rc; case "$rc" in y) break;; n) echo "configure the gcs and gdrive remotes with rclone config first"; exit 1;; *) echo "please answer y or n";; esac; done',
    'read -p "Also create systemd service/timer? (y/n): " sd',
    'read -p "Set up healthchecks.io for data sync monitoring? (y/n): " hc',
    'if [[ "$hc" == "y" ]]; then read -p "Ping URL: " url; fi',
    'read -p "Run test sync now? (y/n): " run_test',
    'lab-setup 10-setup-data-pipeline',
  ],
  '11-run-tests': ['exec lab-setup 11-run-tests'],
};

/** Writes the OS side: checkout, config.sh (unless `withConfig` is false), the example, scripts, docker dir. */
export function installOs(host: TrainHost, withConfig: boolean): void {
  const repo = host.p(REPO_DIR);
  mkdirSync(join(repo, 'scripts'), { recursive: true });
  mkdirSync(join(repo, 'docker'), { recursive: true });
  writeFileSync(join(repo, 'config.sh.example'), configText(host, 'example'));
  if (withConfig) writeFileSync(join(repo, 'config.sh'), configText(host, 'lab'));
  for (const name of SETUP_SCRIPTS) {
    writeFileSync(join(repo, 'scripts', `${name}.sh`), [...HEADER(name), ...BODIES[name]!, ''].join('\n'), { mode: 0o755 });
  }
  writeFileSync(
    join(repo, 'docker', 'generate-compose.sh'),
    '#!/bin/sh\nset -e\ncd "$(dirname "$0")"\n. ../config.sh\n{ echo "services:"; for u in $USERS; do echo "  $u-workspace:"; echo "    build: ."; echo "    volumes: [\\"/mnt/storage/homes/$u:/home/$u\\"]"; done; } > docker-compose.yml\n',
    { mode: 0o755 },
  );
  writeFileSync(join(repo, 'docker', 'docker-compose.yml'), 'services: {}\n');
}

/**
 * `config.sh` as the lab's server was set up (`lab`), or the repository's
 * example with its placeholders (`example`); the variables are the real
 * example's (a subset).
 */
export function configText(host: TrainHost, kind: 'lab' | 'example'): string {
  const lab = kind === 'lab';
  const nvme = host.layout.ssd.replace(/p\d+$/, '');
  const v = {
    SERVER_HOSTNAME: 'ml-train-server',
    MOUNT_POINT: MOUNT,
    USERS: lab ? TRAIN_USERS.join(' ') : 'alice bob charlie dave eve',
    NVME_DEVICE: lab ? nvme : '',
    HDD_DEVICES: lab ? host.layout.hdds.join(' ') : '',
    BTRFS_RAID_LEVEL: lab ? 'raid1' : 'raid10',
    BTRFS_COMPRESSION: 'zstd:3',
    BCACHE_MODE: 'writeback',
    DOMAIN: lab ? 'lab.example' : '',
    LOCAL_NETWORK_CIDR: '',
    BACKUP_REMOTE: 'gdrive:backups/ml-train-server',
    RESTIC_PASSWORD: lab ? host.password : 'changeme_restic_password',
    GDRIVE_SHARED_REMOTE: 'gdrive-shared',
    TELEGRAM_BOT_TOKEN: '',
    TELEGRAM_CHAT_ID: '',
    ENABLE_GPU_TIMESLICING: 'true',
  };
  const head = lab ? '# ML train server configuration (this server)\n' : '# ML train server configuration template: cp config.sh.example config.sh, then edit\n';
  return head + Object.entries(v).map(([k, x]) => `${k}="${x}"`).join('\n') + `\nexport ${Object.keys(v).join(' ')}\n`;
}

/** Each user's home (with `homeBytes` of weights and an SSH key), workspace, docker volume and tensorboard logs. */
export function writeHomes(host: TrainHost): void {
  for (const u of TRAIN_USERS) {
    const home = host.p(`${MOUNT}/homes/${u}`);
    mkdirSync(join(home, 'projects'), { recursive: true });
    mkdirSync(join(home, '.ssh'), { recursive: true });
    writeFileSync(join(home, '.bashrc'), `# ${u}'s shell\nexport PATH=$HOME/bin:$PATH\n`);
    writeFileSync(join(home, '.ssh', 'authorized_keys'), `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${randomBytes(24).toString('base64')} ${u}@laptop\n`);
    writeFileSync(join(home, 'projects', 'train.py'), `print("training for ${u}")\n`);
    writeFileSync(join(home, 'projects', 'weights.bin'), randomBytes(host.homeBytes));
    const ws = host.p(`${MOUNT}/workspaces/${u}`);
    mkdirSync(ws, { recursive: true });
    writeFileSync(join(ws, 'dataset.tar'), randomBytes(1024));
    const vol = host.p(`${MOUNT}/docker-volumes/${u}-workspace`);
    mkdirSync(vol, { recursive: true });
    writeFileSync(join(vol, 'state.json'), JSON.stringify({ user: u, jupyter: { token: 'lab' } }) + '\n');
    const tb = host.p(`${MOUNT}/shared/tensorboard/${u}`);
    mkdirSync(tb, { recursive: true });
    writeFileSync(join(tb, 'events.out.tfevents'), randomBytes(512));
  }
  for (const d of ['snapshots', 'cache/gdrive']) mkdirSync(host.p(`${MOUNT}/${d}`), { recursive: true });
}

function put(host: TrainHost, path: string, text: string): void {
  const p = host.p(path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
}

/** What a setup script does when it runs (`lab-setup <name>`), and the helpers its bash calls. */
export function setupScript(host: TrainHost, argv: string[]): ShimResult {
  const [name = '', arg] = argv;
  switch (name) {
    case 'fs-device': {
      const i = host.layout.hdds.indexOf(arg ?? '');
      return i < 0 ? err(`lab-setup: ${arg ?? '(none)'} is not one of this server's HDDs (${host.layout.hdds.join(' ')})`, 1) : ok(`${host.layout.fs[i]}\n`);
    }
    case 'rclone-config':
      put(host, '/root/.config/rclone/rclone.conf', '[gdrive-shared]\ntype = drive\nscope = drive\nteam_drive = 0AB_lab\n\n[gdrive]\ntype = drive\nscope = drive\n');
      return ok('rclone: remote gdrive-shared configured\n');
    case 'cloudflared-login':
      put(host, '/root/.cloudflared/cert.pem', '-----BEGIN ARGO TUNNEL TOKEN-----\nlab\n-----END ARGO TUNNEL TOKEN-----\n');
      return ok('cloudflared: logged in\n');
    case 'users': {
      if (host.storage.mountOptions() === null) return err(`04-setup-users: ${MOUNT} is not mounted; run 01-setup-storage.sh or mount the array`, 1);
      for (const u of TRAIN_USERS) {
        mkdirSync(host.p(`${MOUNT}/homes/${u}`), { recursive: true });
        mkdirSync(host.p(`${MOUNT}/workspaces/${u}`), { recursive: true });
        if (host.s.owners[u] === 'missing') host.s.owners[u] = 'root';
      }
      return ok(`users: ${TRAIN_USERS.join(' ')}\n`);
    }
  }
  if (!SETUP_SCRIPTS.includes(name)) return err(`lab-setup: unknown script ${name}`, 1);
  if (name === '11-run-tests') {
    const fails: string[] = [];
    const opts = host.storage.mountOptions();
    if (opts === null) fails.push(`${MOUNT} not mounted`);
    else if (opts.split(',').includes('ro')) fails.push(`${MOUNT} read-only`);
    if (Object.values(host.s.containers).some((x) => !x)) fails.push('containers not running');
    host.record('setup-script.run', { script: `${name}.sh` });
    return fails.length ? err(`tests FAILED: ${fails.join('; ')}`, 1) : ok('tests: storage ok, docker ok, gpu ok (12/12 passed)\n');
  }
  host.record('setup-script.run', { script: `${name}.sh` });
  for (const f of SCRIPT_FILES[name] ?? []) put(host, f, `# written by ${name}.sh (Lifeboat lab)\n`);
  return ok(`${name}: done\n`);
}

/**
 * The operator's hands on a human step: the script run at a terminal with
 * the answers a person gives (the browser logins done), or config.sh
 * recreated from Lifeboat's draft with what the operator knows filled in.
 */
export function byHand(host: TrainHost, what: string): void {
  if (what === 'config') {
    const draft = host.p(`${REPO_DIR}/config.sh.lifeboat-draft`);
    if (!existsSync(draft)) throw new Error(`lab: there is no ${REPO_DIR}/config.sh.lifeboat-draft to start from`);
    const text = readFileSync(draft, 'utf8').replace(/^RESTIC_PASSWORD=.*$/m, `RESTIC_PASSWORD="${host.password}"`);
    writeFileSync(host.p(`${REPO_DIR}/config.sh`), text);
    return;
  }
  if (what === '02-setup-gdrive-shared') setupScript(host, ['rclone-config']);
  else if (what === '06-setup-cloudflare-tunnel') setupScript(host, ['cloudflared-login']);
  else throw new Error(`lab: nothing to do by hand for ${what}`);
  setupScript(host, [what]);
}
