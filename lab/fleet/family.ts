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
 * Opt-in: never among the default families (`startLab({ fleetHosts: N })`,
 * `lab serve --fleet N`), so the usual lab, dev and test stacks do not pay
 * for a thousand listeners.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
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
  private effects?: EffectLog;
  /** Restarts per host since start (the service's "uptime generation"). */
  private readonly restarts = new Map<string, number>();

  constructor(opts: FleetOptions) {
    if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > FLEET_MAX_HOSTS) {
      throw new Error(`lab: fleet hosts must be an integer from 1 to ${FLEET_MAX_HOSTS} (got ${String(opts.hosts)}); pass e.g. --fleet 200`);
    }
    this.cluster = opts.cluster ?? 'lab-fleet';
    this.nodeNames = fleetHostNames(opts.hosts);
  }

  start(ctx: { effects: EffectLog }): Promise<void> {
    this.effects = ctx.effects;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
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
  restart: string[];
  restartEffect: string;
  hosts: FleetHost[];
}

/**
 * Writes what clients need to reach the fleet, under `<lab>/fleet/`:
 * `known_hosts` (OpenSSH format, `[127.0.0.1]:PORT ssh-ed25519 ...`, for
 * `ssh -o StrictHostKeyChecking=yes -o UserKnownHostsFile=...` and Ansible),
 * `hosts.txt` (`name port`, one a line, for a shell loop) and `fleet.json`
 * ({@link FleetManifest}).
 *
 * @returns the manifest and its path
 */
export function writeFleetFiles(labDir: string, m: Omit<FleetManifest, 'knownHosts' | 'restart' | 'restartEffect'>): { path: string; manifest: FleetManifest } {
  const dir = join(labDir, 'fleet');
  mkdirSync(dir, { recursive: true });
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, m.hosts.map((h) => `[${h.host}]:${h.port} ${h.hostKey}\n`).join(''));
  writeFileSync(join(dir, 'hosts.txt'), m.hosts.map((h) => `${h.name} ${h.port}\n`).join(''));
  const manifest: FleetManifest = { ...m, knownHosts, restart: ['systemctl', 'restart', FLEET_SERVICE], restartEffect: FLEET_RESTART_EFFECT };
  const path = join(dir, 'fleet.json');
  writeFileSync(path, JSON.stringify(manifest, null, 2) + '\n');
  return { path, manifest };
}
