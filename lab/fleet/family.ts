/**
 * The fleet: N identical application hosts (`host0001`...`hostNNNN`), each
 * its own lab SSH host on loopback (real SSH, its own ed25519 host key), all
 * served by the lab process. One service per host, `app`; the `systemctl`
 * shim restarts it and records one `app.restart` effect for the host. It
 * exists for scale: fan-out tests and bench/fanout (issue 18), not for a
 * recovery scenario, so it has no faults of its own (the core's host faults
 * `host.<kind>:lab-fleet[/hostNNNN]` apply) and is not in Lifeboat's
 * inventory (no system of the catalogue); what a client needs is in
 * `<lab>/fleet/` instead (see {@link writeFleetFiles}).
 *
 * The shim is not the lab's usual Node client (lab/shim-client.ts): starting
 * Node costs ~90 ms of CPU, and with a thousand hosts simulated on a 2-core
 * machine a benchmark would measure the simulator's CPU rather than the
 * orchestration. The fleet's `systemctl` is a few lines of bash that send
 * its arguments over `/dev/tcp` to the family's own line server on
 * loopback (one connection per call: `<node>\t<arg>...\n` in, `<exit code>\n<text>` out),
 * which answers like systemd. A restart holds for `restartMs` (default 0)
 * before it answers, as a real service's stop and start take time on the
 * host, without costing this machine CPU.
 *
 * Opt-in: never among the default families (`startLab({ fleetHosts: N })`,
 * `lab serve --fleet N`), so the usual lab, dev and test stacks do not pay
 * for a thousand listeners.
 *
 * @module
 */
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { EffectLog } from '../effects';
import type { ClusterHealth, LabFamily, LabNodeEndpoint, ShimCall, ShimResult } from '../family';

/** The fleet's one service. */
export const FLEET_SERVICE = 'app';
/** The effect a restart records, once per host and call. */
export const FLEET_RESTART_EFFECT = 'app.restart';
/** Largest fleet a lab accepts (each host is one listener and one host key). */
export const FLEET_MAX_HOSTS = 5000;

export interface FleetOptions {
  cluster?: string;
  /** Number of hosts, 1..{@link FLEET_MAX_HOSTS}. */
  hosts: number;
  /** How long `systemctl restart app` takes on a host (the service's stop and start), ms; default 0. */
  restartMs?: number;
}

/** Host names, zero-padded so that they sort: host0001... */
export function fleetHostNames(n: number): string[] {
  const width = Math.max(4, String(n).length);
  return Array.from({ length: n }, (_, i) => `host${String(i + 1).padStart(width, '0')}`);
}

/** A fleet of identical hosts running one service. */
export class FleetFamily implements LabFamily {
  readonly system = 'fleet';
  readonly cluster: string;
  readonly nodeNames: string[];
  readonly tools = ['systemctl'];
  readonly faults: string[] = [];
  readonly restartMs: number;
  private effects?: EffectLog;
  /** Restarts per host since start (the service's "uptime generation"). */
  private readonly restarts = new Map<string, number>();
  private server?: Server;
  private listening?: Promise<number>;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(opts: FleetOptions) {
    if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > FLEET_MAX_HOSTS) {
      throw new Error(`lab: fleet hosts must be an integer from 1 to ${FLEET_MAX_HOSTS} (got ${String(opts.hosts)}); pass e.g. --fleet 200`);
    }
    const restartMs = opts.restartMs ?? 0;
    if (!Number.isInteger(restartMs) || restartMs < 0 || restartMs > 600_000) {
      throw new Error(`lab: fleet restartMs must be a whole number of milliseconds from 0 to 600000 (got ${String(opts.restartMs)})`);
    }
    this.cluster = opts.cluster ?? 'lab-fleet';
    this.nodeNames = fleetHostNames(opts.hosts);
    this.restartMs = restartMs;
  }

  /** Start the line server the shims talk to (idempotent); resolves with its port. */
  listen(): Promise<number> {
    this.listening ??= new Promise<number>((resolve, reject) => {
      const server = createServer((socket) => this.onShim(socket));
      this.server = server;
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
    return this.listening;
  }

  /**
   * (Re)write one host's shim directory: `systemctl` only (bash, see the module docs), stale files removed.
   * Call after {@link listen}.
   */
  async writeShim(binDir: string, node: string): Promise<void> {
    const port = await this.listen();
    mkdirSync(binDir, { recursive: true });
    for (const old of readdirSync(binDir)) if (old !== 'systemctl') rmSync(join(binDir, old), { force: true });
    const path = join(binDir, 'systemctl');
    writeFileSync(
      path,
      [
        '#!/bin/bash',
        `# Lifeboat lab shim for systemctl on ${this.cluster}/${node}: forwards to the fleet's line server (lab/fleet/family.ts).`,
        `exec 3<>/dev/tcp/127.0.0.1/${port} || { echo "lab: the fleet's server on 127.0.0.1:${port} does not answer" >&2; exit 125; }`,
        `IFS=$'\\t'; printf '%s\\n' "${node}"$'\\t'"$*" >&3`,
        'IFS= read -r code <&3 || { echo "lab: no answer from the fleet server" >&2; exit 125; }',
        'if [ "$code" = 0 ]; then cat <&3; else cat <&3 >&2; fi',
        'exit "$code"',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    chmodSync(path, 0o755);
  }

  start(ctx: { effects: EffectLog }): Promise<void> {
    this.effects = ctx.effects;
    return this.listen().then(() => undefined);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** One shim call: a line `<node>\t<arg>\t...`, answered `<code>\n<text>`, then closed. */
  private onShim(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setEncoding('utf8');
    let buf = '';
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > 64 * 1024) socket.destroy();
        return;
      }
      socket.removeAllListeners('data');
      const [node = '', ...argv] = buf.slice(0, nl).split('\t');
      const answer = (r: ShimResult) => socket.end(`${r.exitCode}\n${r.exitCode === 0 ? r.stdout : (r.stderr ?? r.stdout)}`);
      if (!this.nodeNames.includes(node)) return answer({ stdout: '', stderr: `lab: no fleet host "${node}"\n`, exitCode: 125 });
      const words = argv.filter((a) => a !== '' && !a.startsWith('-'));
      // Only a restart of the service takes its time; anything else (another unit included) answers at once.
      const restart = words.length === 2 && words[0] === 'restart' && words[1]!.replace(/\.service$/, '') === FLEET_SERVICE;
      const go = () => void this.shim({ node, tool: 'systemctl', argv: argv.filter((a) => a !== ''), env: {}, cwd: '', root: '' }).then(answer);
      if (!restart || this.restartMs === 0) return go();
      const t = setTimeout(() => {
        this.timers.delete(t);
        go();
      }, this.restartMs);
      this.timers.add(t);
    });
  }

  endpoints(): LabNodeEndpoint[] {
    return this.nodeNames.map((name) => ({ name, roles: [FLEET_SERVICE] }));
  }

  settings(): Record<string, string | number | boolean> {
    return { service: FLEET_SERVICE, hosts: this.nodeNames.length };
  }

  /** `systemctl restart|is-active|status app`, as systemd answers them; any other unit does not exist. */
  shim(call: ShimCall): Promise<ShimResult> {
    const [verb, ...units] = call.argv.filter((a) => !a.startsWith('-'));
    const unit = units[0]?.replace(/\.service$/, '');
    if (verb === undefined || units.length !== 1) {
      return Promise.resolve({ stdout: '', stderr: 'systemctl (lab fleet): expected "systemctl <restart|is-active|status> app"\n', exitCode: 2 });
    }
    if (unit !== FLEET_SERVICE) {
      return Promise.resolve({ stdout: '', stderr: `Failed to ${verb} ${units[0]}.service: Unit ${units[0]}.service not found.\n`, exitCode: 5 });
    }
    switch (verb) {
      case 'restart': {
        this.restarts.set(call.node, (this.restarts.get(call.node) ?? 0) + 1);
        this.effects?.record({ cluster: this.cluster, node: call.node, effect: FLEET_RESTART_EFFECT, detail: { service: FLEET_SERVICE } });
        return Promise.resolve({ stdout: '', exitCode: 0 });
      }
      case 'is-active':
        return Promise.resolve({ stdout: 'active\n', exitCode: 0 });
      case 'status':
        return Promise.resolve({
          stdout: `● ${FLEET_SERVICE}.service - fleet application\n     Active: active (running); restarted ${this.restarts.get(call.node) ?? 0} times\n`,
          exitCode: 0,
        });
      default:
        return Promise.resolve({ stdout: '', stderr: `systemctl (lab fleet): verb "${verb}" is not simulated\n`, exitCode: 2 });
    }
  }

  breakFault(fault: string): Promise<void> {
    return Promise.reject(new Error(`lab: the fleet has no fault "${fault}" (host faults: host.<kind>:${this.cluster}[/<host>])`));
  }

  health(): Promise<ClusterHealth> {
    return Promise.resolve({
      cluster: this.cluster,
      system: this.system,
      healthy: true,
      summary: `${this.nodeNames.length} hosts, ${FLEET_SERVICE} active`,
      nodes: this.nodeNames.map((node) => ({ node, state: 'up' })),
    });
  }
}

/** One fleet host as a client reaches it. */
export interface FleetHost {
  name: string;
  /** Always 127.0.0.1. */
  host: string;
  port: number;
  /** "ssh-ed25519 AAAA..." */
  hostKey: string;
}

/** What `<lab>/fleet/fleet.json` holds. */
export interface FleetManifest {
  cluster: string;
  user: string;
  /** The lab client's private key (path). */
  privateKey: string;
  /** OpenSSH known_hosts pinning every host's key. */
  knownHosts: string;
  /** An ssh_config naming every host (`ssh -F <it> host0001 ...`), strict host key checking on, the lab key. */
  sshConfig: string;
  restart: string[];
  restartEffect: string;
  hosts: FleetHost[];
}

/**
 * Writes what clients need to reach the fleet, under `<lab>/fleet/`:
 * `known_hosts` (OpenSSH format, `[127.0.0.1]:PORT ssh-ed25519 ...`, for
 * `ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile=...` and Ansible),
 * `ssh_config` (each host by its name: `ssh -F ssh_config host0001 systemctl restart app`, batch
 * mode, strict host key checking against that known_hosts, the lab key), `hosts.txt` (`name port`,
 * one a line, for a shell loop) and `fleet.json`
 * ({@link FleetManifest}).
 *
 * @returns the manifest and its path
 */
export function writeFleetFiles(labDir: string, m: Omit<FleetManifest, 'knownHosts' | 'sshConfig' | 'restart' | 'restartEffect'>): { path: string; manifest: FleetManifest } {
  const dir = join(labDir, 'fleet');
  mkdirSync(dir, { recursive: true });
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, m.hosts.map((h) => `[${h.host}]:${h.port} ${h.hostKey}\n`).join(''));
  writeFileSync(join(dir, 'hosts.txt'), m.hosts.map((h) => `${h.name} ${h.port}\n`).join(''));
  const sshConfig = join(dir, 'ssh_config');
  const common = [
    `  User ${m.user}`,
    `  IdentityFile ${m.privateKey}`,
    '  IdentitiesOnly yes',
    '  BatchMode yes',
    '  StrictHostKeyChecking yes',
    `  UserKnownHostsFile ${knownHosts}`,
    '  GlobalKnownHostsFile /dev/null',
    '  ConnectTimeout 20',
  ];
  writeFileSync(
    sshConfig,
    ['# Written by the Lifeboat lab (lab/fleet/) at every start: the fleet\'s hosts by name.', ...m.hosts.map((h) => `Host ${h.name}\n  HostName ${h.host}\n  Port ${h.port}`), 'Host *', ...common, ''].join('\n'),
  );
  const manifest: FleetManifest = { ...m, knownHosts, sshConfig, restart: ['systemctl', 'restart', FLEET_SERVICE], restartEffect: FLEET_RESTART_EFFECT };
  const path = join(dir, 'fleet.json');
  writeFileSync(path, JSON.stringify(manifest, null, 2) + '\n');
  return { path, manifest };
}
