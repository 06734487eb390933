/**
 * The train server's bcache devices over the SSD: their sysfs files
 * (`sys/block/bcache<N>/bcache/{state,cache_mode,attach,detach,writeback_running}`),
 * written by the lab and polled every 50 ms for a shell's writes, as the
 * kernel would pick them up.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BcacheDev, TrainHost } from './host';

/** What `sys/block/<dev>/bcache/state` reads: `no cache` when detached, `inconsistent` while the SSD has failed. */
export function bcacheState(host: TrainHost, b: BcacheDev): string {
  if (!b.attached) return 'no cache';
  if (host.s.ssd === 'failed') return 'inconsistent';
  return b.dirty ? 'dirty' : 'clean';
}

/** Writes every bcache device's sysfs files from the state (and remembers them, so the poll sees only a shell's writes). */
export function writeSysfs(host: TrainHost): void {
  for (const b of host.s.bcache) {
    const dir = host.p(`/sys/block/${b.name}/bcache`);
    mkdirSync(dir, { recursive: true });
    putSys(host, b, 'state', bcacheState(host, b));
    putSys(host, b, 'cache_mode', modeLine(b.mode));
    putSys(host, b, 'attach', '');
    putSys(host, b, 'detach', '');
    putSys(host, b, 'writeback_running', b.writebackRunning ? '1' : '0');
    writeFileSync(join(dir, 'backing_dev_name'), `${b.backing.replace('/dev/', '')}\n`);
  }
}

function putSys(host: TrainHost, b: BcacheDev, file: string, value: string): void {
  const path = host.p(`/sys/block/${b.name}/bcache/${file}`);
  const text = value === '' ? '' : `${value}\n`;
  writeFileSync(path, text);
  host.seen.set(path, text);
}

/** Applies a shell's writes to the sysfs files (detach, attach, cache_mode, writeback_running), recording each real change. */
export function pollSysfs(host: TrainHost): void {
  for (const b of host.s.bcache) {
    const base = `/sys/block/${b.name}/bcache`;
    const detach = host.changed(host.p(`${base}/detach`));
    if (detach !== undefined && detach.trim() === '1') {
      if (b.attached) {
        b.attached = false;
        b.dirty = false;
        host.record('bcache.detached', { device: b.name });
      }
      putSys(host, b, 'detach', '');
    }
    const attach = host.changed(host.p(`${base}/attach`));
    if (attach !== undefined && attach.trim() !== '') {
      const uuid = attach.trim();
      if (!b.attached && host.s.ssd === 'ok' && uuid === host.s.csetUuid) {
        b.attached = true;
        b.dirty = false;
        host.record('bcache.attached', { device: b.name, cset: uuid });
      }
      putSys(host, b, 'attach', '');
    }
    const mode = host.changed(host.p(`${base}/cache_mode`));
    if (mode !== undefined) {
      const want = mode.trim();
      if (['writethrough', 'writeback', 'writearound', 'none'].includes(want) && want !== b.mode) {
        b.mode = want;
        host.record('bcache.cache-mode', { device: b.name, mode: want });
      }
      putSys(host, b, 'cache_mode', modeLine(b.mode));
    }
    const wb = host.changed(host.p(`${base}/writeback_running`));
    if (wb !== undefined) {
      const on = wb.trim() === '1';
      if (on && !b.writebackRunning) {
        b.writebackRunning = true;
        host.record('bcache.writeback-resumed', { device: b.name });
      }
      if (on && b.dirty) b.dirty = false; // the dirty data is written back
      putSys(host, b, 'writeback_running', b.writebackRunning ? '1' : '0');
    }
    const state = bcacheState(host, b);
    const statePath = host.p(`${base}/state`);
    if (host.seen.get(statePath) !== `${state}\n`) putSys(host, b, 'state', state);
  }
}

function modeLine(mode: string): string {
  return ['writethrough', 'writeback', 'writearound', 'none'].map((m) => (m === mode ? `[${m}]` : m)).join(' ');
}
