/**
 * The device guard of the train server's destructive steps
 * (src/activities/train-server/guard.ts): for each purpose, a device that
 * must be allowed and the devices that must be refused — the OS partition,
 * a mounted one, a member of the array, a disk that is not the pinned one,
 * an unpinned disk for a new array, a filesystem nobody was shown, a repair
 * aimed at a device without the array — each with its reason; and
 * settings.deviceIds parsed or refused naming the bad entry.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeFacts, guardReasons, parsePins } from '../../src/activities/train-server/guard';
import type { TsDeviceFacts } from '../../src/activities/train-server/types';

const ARRAY = '9c1e4b7a-0d2f-4e55-8a61-3f0c2b9d7e10';
const OLD = '1b2c3d4e-5f60-4718-9a0b-c1d2e3f40516';

function dev(path: string, over: Partial<TsDeviceFacts> = {}): TsDeviceFacts {
  return { path, exists: true, type: 'disk', size: 8 * 1024 ** 4, serial: 'WD-WX11D1234567', signatures: [], mounts: [], os: [], ...over };
}
const ssd = (over: Partial<TsDeviceFacts> = {}): TsDeviceFacts => dev('/dev/nvme0n1p3', { type: 'part', size: 400 * 1024 ** 3, serial: undefined, ...over });

describe('train-server device guard', () => {
  test('a new cache SSD (blank, a stale bcache superblock, or an empty partition table) may be wiped', () => {
    assert.deepEqual(guardReasons('wipe-cache', ssd(), { setting: 'settings.cacheDevice', arrayUuid: ARRAY }), []);
    assert.deepEqual(guardReasons('wipe-cache', ssd({ signatures: [{ type: 'bcache', uuid: 'x' }] }), { setting: 'settings.cacheDevice', arrayUuid: ARRAY }), []);
    assert.deepEqual(guardReasons('wipe-cache', ssd({ signatures: [{ type: 'dos' }] }), { setting: 'settings.cacheDevice', arrayUuid: ARRAY }), []);
  });

  test('the OS partition (the seed\'s /dev/nvme0n1p2 at HEAD) is refused for every purpose', () => {
    const os = dev('/dev/nvme0n1p2', { type: 'part', signatures: [{ type: 'ext4', uuid: 'e1' }], mounts: ['/'], os: ['/'] });
    for (const purpose of ['wipe-cache', 'make-cache', 'new-array', 'repair'] as const) {
      const r = guardReasons(purpose, os, { setting: 'settings.cacheDevice', arrayUuid: ARRAY, pin: { kind: 'serial', value: 'WD-WX11D1234567' } });
      assert.ok(r.some((x) => /holds the operating system \(\/\): never/.test(x)), `${purpose}: ${r.join(' | ')}`);
    }
    assert.match(guardReasons('wipe-cache', os, { setting: 'settings.cacheDevice' }).join(' '), /the NVMe's third partition, not the OS partition/);
  });

  test('wipe-cache: a mounted device, a member of the array, a filesystem with data are refused, each with its reason', () => {
    const c = { setting: 'settings.cacheDevice', arrayUuid: ARRAY };
    assert.match(guardReasons('wipe-cache', ssd({ mounts: ['/data'] }), c).join(' '), /is mounted at \/data: it is in use/);
    assert.match(guardReasons('wipe-cache', ssd({ signatures: [{ type: 'btrfs', uuid: ARRAY }] }), c).join(' '), /member of the storage array \(btrfs 9c1e4b7a.*destroys a mirror/);
    assert.match(guardReasons('wipe-cache', ssd({ signatures: [{ type: 'xfs', uuid: 'u1', label: 'scratch' }] }), c).join(' '), /holds a xfs filesystem \(UUID u1\) labelled "scratch"/);
  });

  test('make-cache: a device still carrying a signature must be wiped first', () => {
    assert.match(guardReasons('make-cache', ssd({ signatures: [{ type: 'bcache' }] }), { setting: 'settings.cacheDevice' }).join(' '), /still carries bcache: wipe it first/);
    assert.deepEqual(guardReasons('make-cache', ssd(), { setting: 'settings.cacheDevice' }), []);
  });

  test('new-array: allowed only on the pinned, unmounted disk carrying nothing but bcache or the old array the approver saw', () => {
    const pin = { kind: 'serial' as const, value: 'WD-WX11D1234567' };
    const c = { setting: 'settings.hddDevices', pin, oldArrayUuid: OLD };
    assert.deepEqual(guardReasons('new-array', dev('/dev/sdb', { signatures: [{ type: 'btrfs', uuid: OLD }] }), c), []);
    assert.deepEqual(guardReasons('new-array', dev('/dev/sdb', { signatures: [{ type: 'bcache' }] }), c), []);
    // Another disk behind the same name.
    assert.match(guardReasons('new-array', dev('/dev/sdb', { serial: 'ST-OTHER' }), c).join(' '), /is not the disk pinned in settings\.deviceIds \(serial WD-WX11D1234567; found ST-OTHER\)/);
    // Unpinned: refused, with the pin to add.
    assert.match(guardReasons('new-array', dev('/dev/sdb'), { setting: 'settings.hddDevices' }).join(' '), /has no identity pinned in settings\.deviceIds.*add \/dev\/sdb=serial:WD-WX11D1234567/);
    // Mounted, or a filesystem nobody was shown.
    assert.match(guardReasons('new-array', dev('/dev/sdb', { mounts: ['/mnt/storage'] }), c).join(' '), /is mounted at \/mnt\/storage: unmount it first/);
    assert.match(guardReasons('new-array', dev('/dev/sdb', { signatures: [{ type: 'ext4', uuid: 'u9', label: 'backup' }] }), c).join(' '), /holds ext4 u9 "backup", which the approver was not shown \(the old array is 1b2c3d4e/);
    // A loop device pinned by its backing file (the lab).
    assert.deepEqual(guardReasons('new-array', dev('/dev/loop7', { type: 'loop', serial: undefined, backingFile: '/tmp/lb-ts-1-x/hdd1.img' }), { setting: 'settings.hddDevices', pin: { kind: 'backing', value: '/tmp/lb-ts-1-x/hdd1.img' } }), []);
  });

  test('repair: only on a device carrying the array\'s filesystem, unmounted', () => {
    const c = { setting: 'settings.storageDevice', arrayUuid: ARRAY };
    assert.deepEqual(guardReasons('repair', dev('/dev/bcache0', { type: 'disk', signatures: [{ type: 'btrfs', uuid: ARRAY }] }), c), []);
    assert.match(guardReasons('repair', dev('/dev/sdb', { signatures: [{ type: 'bcache' }] }), c).join(' '), /does not carry the array's filesystem \(btrfs 9c1e4b7a[^)]*; found bcache\): settings\.storageDevice must name a device of the array/);
    assert.match(guardReasons('repair', dev('/dev/bcache0', { signatures: [{ type: 'btrfs', uuid: ARRAY }], mounts: ['/mnt/storage'] }), c).join(' '), /mounted at \/mnt\/storage: btrfs check --repair needs it unmounted/);
  });

  test('a missing or unreadable device is refused before anything else', () => {
    assert.match(guardReasons('wipe-cache', { path: '/dev/nvme1n1', exists: false, signatures: [], mounts: [], os: [] }, { setting: 'settings.cacheDevice' })[0]!, /does not exist on the host/);
    assert.match(guardReasons('wipe-cache', ssd({ readError: 'Input/output error' }), { setting: 'settings.cacheDevice' })[0]!, /cannot be read \(Input\/output error\): a failed or missing disk/);
  });

  test('what the gate shows: size, serial, signatures, mounts, the OS', () => {
    assert.equal(describeFacts(dev('/dev/sdb', { signatures: [{ type: 'btrfs', uuid: OLD, label: 'ml-storage' }] })), `/dev/sdb: disk, 8.0 TiB, serial WD-WX11D1234567; btrfs "ml-storage" ${OLD}; not mounted`);
    assert.match(describeFacts(dev('/dev/nvme0n1p2', { type: 'part', size: 100 * 1024 ** 3, serial: undefined, mounts: ['/'], os: ['/'] })), /^\/dev\/nvme0n1p2: part, 100 GiB; no signature; mounted at \/; holds the OS \(\/\)$/);
  });

  test('settings.deviceIds: parsed; a bad entry refused naming it and the form', () => {
    const pins = parsePins('/dev/sdb=serial:WD-1, /dev/sdc=wwn:0x5000c500a1b2c3d4,/dev/loop3=backing:/tmp/x.img');
    assert.deepEqual(pins.get('/dev/sdc'), { kind: 'wwn', value: '0x5000c500a1b2c3d4' });
    assert.equal(pins.size, 3);
    assert.throws(() => parsePins('/dev/sdb=label:x'), /settings\.deviceIds: "\/dev\/sdb=label:x" is not <device>=<kind>:<value> with kind one of serial, wwn, size, backing, uuid/);
    assert.throws(() => parsePins('sdb=serial:x'), /"sdb=serial:x" is not <device>=<kind>:<value>/);
  });
});
