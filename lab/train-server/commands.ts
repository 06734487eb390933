/**
 * The train server's shimmed tools, dispatched by name: the storage tools go
 * to the backend (./sim or ./real), docker to ./docker, the small ones
 * inline (`nvidia-smi`, `chown`, `rsync`), the setup scripts' `lab-setup`
 * (./setup) and the restic wrapper's `lab-restic-note`.
 *
 * @module
 */
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import type { ShimCall, ShimResult } from '../family';
import { passthrough } from '../shims';
import { docker } from './docker';
import { err, MOUNT, ok, relFrom, TRAIN_USERS, walk, type TrainHost } from './host';
import { setupScript } from './setup';
import { STORAGE_TOOLS } from './storage';

/** Every tool the train server shims. */
export const TRAIN_TOOLS = [...STORAGE_TOOLS, 'btrfs-find-root', 'make-bcache', 'bcache-super-show', 'dmesg', 'docker', 'nvidia-smi', 'chown', 'rsync', 'lab-setup', 'lab-restic-note'];

/** Every tool the train server shims; anything else runs for real ({@link passthrough}). */
export async function shim(host: TrainHost, call: ShimCall): Promise<ShimResult> {
  const a = call.argv;
  const path = (x: string): string => host.hostPath(x, call.cwd);
  switch (call.tool) {
    case 'btrfs':
    case 'btrfs-find-root':
    case 'mount':
    case 'umount':
    case 'blkid':
    case 'mkfs.btrfs':
    case 'wipefs':
    case 'lsblk':
    case 'findmnt':
    case 'swapon':
    case 'losetup':
    case 'make-bcache':
    case 'bcache-super-show':
    case 'dmesg':
      return host.storage.shim(call.tool, a, call.cwd);
    case 'docker':
      return docker(host, a);
    case 'nvidia-smi':
      return ok(
        '+-----------------------------------------------------------------------------+\n| NVIDIA-SMI 550.54.14    Driver Version: 550.54.14    CUDA Version: 12.4     |\n' +
          '|   0  NVIDIA RTX A6000     On   | 00000000:01:00.0 Off |                  Off |\n|   1  NVIDIA RTX A6000     On   | 00000000:02:00.0 Off |                  Off |\n+-----------------------------------------------------------------------------+\n',
      );
    case 'chown': {
      // The users are simulated (no real accounts): ownership is the lab's state.
      const spec = a.find((x) => !x.startsWith('-'));
      const target = a.filter((x) => !x.startsWith('-')).slice(1)[0];
      if (!spec || !target) return err('chown: missing operand', 1);
      const t = path(target);
      if (!existsSync(t)) return err(`chown: cannot access '${target}': No such file or directory`, 1);
      const user = TRAIN_USERS.find((u) => t === host.p(`${MOUNT}/homes/${u}`));
      if (user) {
        const owner = spec.split(':')[0]!;
        host.s.owners[user] = owner;
        host.record('chown', { path: `${MOUNT}/homes/${user}`, owner: spec, recursive: a.includes('-R') });
      }
      return ok('');
    }
    case 'rsync': {
      const ops = a.filter((x) => !x.startsWith('-'));
      if (ops.length !== 2) return err('rsync: lab supports `rsync -av SRC/ DST/`', 1);
      const src = path(ops[0]!);
      const dst = path(ops[1]!);
      if (src.startsWith(host.p(MOUNT)) && host.storage.mountOptions() === null) return err(`rsync: change_dir "${ops[0]}" failed: No such file or directory (2)`, 23);
      if (!existsSync(src)) return err(`rsync: link_stat "${ops[0]}" failed: No such file or directory (2)`, 23);
      mkdirSync(dst, { recursive: true });
      cpSync(src, dst, { recursive: true });
      const n = walk(dst).length;
      host.record('rsync', { from: relFrom(host.root, src), to: relFrom(host.root, dst), files: n });
      return ok(`sending incremental file list\n\nsent ${n} files\n`);
    }
    case 'lab-setup':
      return setupScript(host, a);
    case 'lab-restic-note': {
      // Called by the host's restic wrapper before it runs the real restic, and with --completed after restic exited 0.
      const i = a.indexOf('restore');
      if (i >= 0) {
        const t = a.indexOf('--target');
        host.record(a[0] === '--completed' ? 'restic.restored' : 'restic.restore', { snapshot: a[i + 1], target: t >= 0 ? relFrom(host.root, path(a[t + 1] ?? '')) : undefined });
      }
      return ok('');
    }
    default:
      return passthrough();
  }
}
