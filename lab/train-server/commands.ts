/**
 * The train server's shimmed tools, dispatched by name: the storage and
 * cache tools (./btrfs, ./bcache), docker (./docker), the small ones inline
 * (`umount`, `blkid`, `mkfs.btrfs`, `wipefs`, `make-bcache`,
 * `bcache-super-show`, `nvidia-smi`, `dmesg`, `chown`, `rsync`), the setup
 * scripts' `lab-setup` (./setup) and the restic wrapper's `lab-restic-note`.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import type { ShimCall, ShimResult } from '../family';
import { passthrough } from '../shims';
import { writeSysfs } from './bcache';
import { btrfs, createArray, mount } from './btrfs';
import { docker } from './docker';
import { DISKS, err, MOUNT, ok, relFrom, SSD, TRAIN_USERS, walk, type TrainHost } from './host';
import { setupScript } from './setup';

/** Every tool the train server shims; anything else runs for real ({@link passthrough}). */
export async function shim(host: TrainHost, call: ShimCall): Promise<ShimResult> {
  const a = call.argv;
  const path = (x: string): string => host.hostPath(x, call.cwd);
  switch (call.tool) {
    case 'btrfs':
      return btrfs(host, a, path);
    case 'mount':
      return mount(host, a, path);
    case 'umount': {
      const target = a.find((x) => !x.startsWith('-'));
      if (!target || (path(target) !== host.p(MOUNT) && !DISKS.includes(target))) return err(`umount: ${target ?? ''}: not mounted.`, 32);
      if (!host.s.mounted) return err(`umount: ${MOUNT}: not mounted.`, 32);
      host.s.mounted = null;
      host.record('umount', { target: MOUNT });
      return ok('');
    }
    case 'blkid': {
      const dev = a.find((x) => x.startsWith('/dev/'));
      if (!dev || !DISKS.includes(dev) || !host.s.arrayUuid) return { stdout: '', exitCode: 2 };
      if (a.includes('-o') && a[a.indexOf('-o') + 1] === 'value') return ok(`${host.s.arrayUuid}\n`);
      return ok(`${dev}: UUID="${host.s.arrayUuid}" UUID_SUB="${randomUUID()}" BLOCK_SIZE="4096" TYPE="btrfs"\n`);
    }
    case 'mkfs.btrfs': {
      const devs = a.filter((x) => x.startsWith('/dev/'));
      if (host.s.arrayUuid && !a.includes('-f')) return err(`ERROR: ${devs[0] ?? '/dev/sdb'} appears to contain an existing filesystem (btrfs); use -f to force`, 1);
      createArray(host, devs);
      return ok(`btrfs-progs v6.6.3\nLabel: (null)\nUUID: ${host.s.arrayUuid}\nDevices: ${devs.join(' ')}\n`);
    }
    case 'wipefs': {
      const dev = a.find((x) => x.startsWith('/dev/'));
      if (dev !== SSD) return err(`wipefs: lab refuses to wipe ${dev ?? '(nothing)'} (only ${SSD} is simulated)`, 1);
      if (host.s.ssd === 'failed') return err(`wipefs: error: ${SSD}: probing initialization failed: Input/output error`, 1);
      if (host.s.ssd === 'new-stale-signature') {
        host.s.ssd = 'blank';
        host.record('ssd.wiped', { device: SSD });
        return ok(`${SSD}: 16 bytes were erased at offset 0x00001018 (bcache): c6 85 73 f6 4e 1a 45 ca 82 65 f5 7f 48 ba 6d 81\n`);
      }
      return ok('');
    }
    case 'make-bcache': {
      const dev = a.find((x) => x.startsWith('/dev/'));
      if (!a.includes('-C') || dev !== SSD) return err(`make-bcache: only -C ${SSD} is simulated`, 1);
      if (host.s.ssd === 'failed') return err(`make-bcache: cannot open ${SSD}: Input/output error`, 1);
      if (host.s.ssd === 'new-stale-signature') return err(`Already a bcache device on ${SSD}, overwrite with --wipe-bcache`, 1);
      if (host.s.ssd === 'blank') {
        host.s.ssd = 'ok';
        host.s.csetUuid = randomUUID();
        host.record('bcache.cache-created', { device: SSD, cset: host.s.csetUuid });
        writeSysfs(host);
      }
      return ok(`UUID:\t\t\t${randomUUID()}\nSet UUID:\t\t${host.s.csetUuid}\nversion:\t\t0\nnbuckets:\t\t953869\n`);
    }
    case 'bcache-super-show': {
      const dev = a.find((x) => x.startsWith('/dev/'));
      if (dev === SSD) {
        if (host.s.ssd === 'failed') return err(`${SSD}: Input/output error`, 1);
        if (host.s.ssd === 'blank') return err(`${SSD}: bad magic (not a bcache device)`, 1);
        const cset = host.s.ssd === 'ok' ? host.s.csetUuid : '00000000-stale-0000-0000-000000000000';
        return ok(`sb.magic\t\tok\nsb.version\t\t3 [cache device]\ndev.uuid\t\t${randomUUID()}\ncset.uuid\t\t${cset}\n`);
      }
      return err(`${dev ?? ''}: not simulated`, 1);
    }
    case 'docker':
      return docker(host, a);
    case 'nvidia-smi':
      return ok(
        '+-----------------------------------------------------------------------------+\n| NVIDIA-SMI 550.54.14    Driver Version: 550.54.14    CUDA Version: 12.4     |\n' +
          '|   0  NVIDIA RTX A6000     On   | 00000000:01:00.0 Off |                  Off |\n|   1  NVIDIA RTX A6000     On   | 00000000:02:00.0 Off |                  Off |\n+-----------------------------------------------------------------------------+\n',
      );
    case 'dmesg':
      return ok(host.s.dmesg.join('\n') + '\n');
    case 'chown': {
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
      if (src.startsWith(host.p(MOUNT)) && !host.s.mounted) return err(`rsync: change_dir "${ops[0]}" failed: No such file or directory (2)`, 23);
      if (!existsSync(src)) return err(`rsync: link_stat "${ops[0]}" failed: No such file or directory (2)`, 23);
      mkdirSync(dst, { recursive: true });
      cpSync(src, dst, { recursive: true });
      const n = walk(dst).length;
      host.record('rsync', { from: relFrom(host.root, src), to: relFrom(host.root, dst), files: n });
      return ok(`sending incremental file list\n\nsent ${n} files\n`);
    }
    case 'lab-setup':
      return setupScript(host, a[0] ?? '');
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
