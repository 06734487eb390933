/**
 * The checkout's `config.sh`, which every setup script sources. At 5a02c9d
 * the backup does not contain it; when no snapshot has it, Lifeboat drafts
 * one from `config.sh.example` with what it knows (the mount point, the users
 * with a home on the array, the disks, the RAID level, the backup remote)
 * and a person finishes it (passwords, tokens, domain): Lifeboat never writes
 * a secret into it.
 *
 * @module
 */
import type { NodeRef } from '../common/types';
import { lastLines } from '../context';
import { TransportError } from '../transport/errors';
import type { TrainServerContext } from './context';
import { env, read, sh } from './host';
import { mountOptions } from './storage';
import type { TsCheckList, TsConfigDraft } from './types';

/** Where the draft goes, next to config.sh. */
export const DRAFT = 'config.sh.lifeboat-draft';

/** Values an example leaves for a person: placeholders and secrets. */
const PLACEHOLDER = /changeme|^$/;

/** Writes config.sh.lifeboat-draft: config.sh.example with what is known filled in. */
export async function tsConfigDraft(ctx: TrainServerContext, input: NodeRef & { dryRun?: boolean }): Promise<TsConfigDraft> {
  return ctx.run(async () => {
    const e = env(ctx, input);
    const draft = `${e.repo}/${DRAFT}`;
    const plan = `${input.node}: write ${draft} from config.sh.example (known values filled in; passwords and tokens left for a person)`;
    if (input.dryRun) return { dryRun: true, plan, draft, filled: {}, left: [] };
    const example = await read(ctx, input, e.as(['cat', `${e.repo}/config.sh.example`]));
    if (example.exitCode !== 0) throw new TransportError('FailedPrecondition', `${ctx.setting(e.cluster, 'repoDir')}/config.sh.example is missing on ${input.node}: clone the repository first (git clone <repo-url> train-server)`, false);
    const mount = ctx.setting(e.cluster, 'storageMount');
    const filled: Record<string, string> = { MOUNT_POINT: mount, HDD_DEVICES: e.hdds.join(' ') };
    const opts = await mountOptions(ctx, input, e);
    let users = e.users;
    if (opts !== undefined) {
      // The array's own view: who has a home, and the RAID level of its data.
      const ls = await read(ctx, input, e.as(['find', `${e.mount}/homes`, '-mindepth', '1', '-maxdepth', '1', '-type', 'd']));
      const onDisk = ls.stdout.split('\n').map((l) => l.trim().split('/').at(-1) ?? '').filter((u) => /^[a-z_][a-z0-9_-]*$/.test(u));
      if (onDisk.length) users = onDisk.sort();
      const df = await read(ctx, input, e.as(['btrfs', 'filesystem', 'df', e.mount]));
      const level = /^Data, (RAID\d+|single|DUP)/im.exec(df.stdout)?.[1];
      if (level) filled.BTRFS_RAID_LEVEL = level.toLowerCase();
    }
    filled.USERS = users.join(' ');
    if (/^\/dev\/nvme\d+n\d+p\d+$/.test(e.ssd)) filled.NVME_DEVICE = e.ssd.replace(/p\d+$/, '');
    const repo = ctx.setting(e.cluster, 'resticRepository');
    if (repo.startsWith('rclone:')) filled.BACKUP_REMOTE = repo.slice('rclone:'.length);
    const left: string[] = [];
    const lines = example.stdout.split('\n').map((line) => {
      const m = /^(\s*)([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
      if (!m) return line;
      const [, indent, name, value] = m as unknown as [string, string, string, string];
      if (name in filled) return `${indent}${name}="${filled[name]}"`;
      const bare = value.replace(/\s+#.*$/, '').replace(/^"(.*)"$/, '$1');
      if (PLACEHOLDER.test(bare) || /PASSWORD|TOKEN|SECRET/.test(name)) left.push(name);
      return line;
    });
    const text = [
      `# Drafted by Lifeboat from config.sh.example for ${input.cluster}: review it, fill in what is left`,
      `# (${left.join(', ') || 'nothing'}), then: mv ${DRAFT} config.sh`,
      ...lines,
    ].join('\n');
    const w = await sh(ctx, input, [{ argv: e.as(['tee', draft]) }], 30_000, text.endsWith('\n') ? text : `${text}\n`, () => undefined);
    ctx.check(input, w, `writing ${DRAFT}`, `check ${ctx.setting(e.cluster, 'repoDir')} is writable`);
    return { plan, draft: `${ctx.setting(e.cluster, 'repoDir')}/${DRAFT}`, filled, left };
  });
}

/** config.sh present, parses, names the mount point and users, and has its restic password set. */
export async function tsConfigCheck(ctx: TrainServerContext, input: NodeRef): Promise<TsCheckList> {
  return ctx.run(async () => {
    const e = env(ctx, input);
    const checks: TsCheckList['checks'] = [];
    const present = await read(ctx, input, e.as(['test', '-f', `${e.repo}/config.sh`]));
    checks.push({ name: 'config.sh present', ok: present.exitCode === 0, detail: present.exitCode === 0 ? `${ctx.setting(e.cluster, 'repoDir')}/config.sh` : `missing in ${ctx.setting(e.cluster, 'repoDir')}` });
    if (present.exitCode !== 0) return { ok: false, checks };
    const syntax = await read(ctx, input, e.as(['bash', '-n', `${e.repo}/config.sh`]));
    checks.push({ name: 'config.sh parses (bash -n)', ok: syntax.exitCode === 0, detail: syntax.exitCode === 0 ? 'ok' : lastLines(syntax.stderr, 2) });
    if (syntax.exitCode !== 0) return { ok: false, checks };
    // Sourced the way the scripts source it; the password itself is never printed.
    const probe = 'set -a; . ./config.sh >/dev/null 2>&1; printf "%s\\n" "${MOUNT_POINT:-}" "${USERS:-}"; case "${RESTIC_PASSWORD:-}" in ""|changeme*) echo placeholder;; *) echo set;; esac';
    const v = await sh(ctx, input, [{ argv: e.as(['bash', '-c', probe]), cwd: e.repo }], 30_000, undefined, () => undefined);
    const [mp = '', users = '', pw = ''] = v.stdout.split('\n');
    const mount = ctx.setting(e.cluster, 'storageMount');
    checks.push({ name: 'MOUNT_POINT', ok: mp === mount, detail: mp === mount ? mp : `"${mp}" (the array is at ${mount})` });
    checks.push({ name: 'USERS', ok: users.trim() !== '', detail: users.trim() || 'empty' });
    checks.push({ name: 'RESTIC_PASSWORD', ok: pw === 'set', detail: pw === 'set' ? 'set' : 'still the placeholder: 09-setup-backups.sh would write it to /root/.restic-password' });
    return { ok: checks.every((c) => c.ok), checks };
  });
}
