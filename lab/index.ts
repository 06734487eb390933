/**
 * The Lifeboat lab: simulated target clusters on loopback that recovery
 * workflows act on for real (real SSH, real HTTP/gRPC), recording every effect.
 *
 * {@link startLab} brings up, under one directory:
 * ```
 * <dir>/inventory.yaml               the clusters file for Lifeboat (rewritten at each start)
 * <dir>/effects.jsonl                every effect a simulated target received (truncated at each start)
 * <dir>/keys/id_ed25519              the lab client key (the inventory's ssh.privateKey)
 * <dir>/keys/hosts/<cluster>/<node>  host keys, kept across restarts so the pins stay valid
 * <dir>/secrets/                     tokens, referenced from the inventory as file:
 * <dir>/hosts/<cluster>/<node>/      each host's root: cwd and HOME of SSH commands
 * <dir>/bin/<cluster>/<node>/        each host's shims, first on its PATH
 * <dir>/fleet/                       with the opt-in fleet (lab/fleet/): known_hosts, ssh_config, hosts.txt, fleet.json
 * ```
 * and per node an SSH server, plus the families' own servers and a control
 * API ({@link ./control}). The lab lives outside `src/` and is never imported
 * by it: Lifeboat only spawns it (`lifeboat lab up`).
 *
 * Ports: ephemeral by default. With `fixedPorts` (what `lab serve` uses):
 * SSH 2220 + i over all hosts in family order (ledger first; the opt-in fleet's hosts always ephemeral), training-cluster
 * HTTP 8770 + i (and its sync coordinator 8870), ledger gRPC 50051 + i, gossip HTTP 8790 + i
 * and seed TCP 7946 + i, the ledger's DR region (`lab-ledger-dr`, after every other family)
 * gRPC 50061 + i, control API 8760. The train server (`lab-train`, one host `train1`) has no
 * port but its SSH one.
 *
 * The ledger runs on its simulation by default, or as real `inferadb-ledger`
 * processes with `ledgerBackend: 'real'` (`lab up --ledger-backend real`,
 * `LIFEBOAT_LAB_LEDGER_BACKEND=real`; see lab/ledger/index.ts).
 *
 * Faults ({@link Lab.break}): every family's scenario faults (see {@link LAB_FAULTS}) and
 * per-host faults `host.<hang|drop|slow|refuse-auth|refuse-api|heal>:<cluster>[/<node>][=<ms>]`
 * (`slow` takes a delay, default 3000 ms; `heal` clears a host's faults; without `/<node>`
 * every node of the cluster).
 *
 * @module
 */
import { existsSync, mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { startControl, ControlError, type ControlServer, type ShimAnswer, type ShimRequest } from './control';
import { EffectLog } from './effects';
import type { ClusterHealth, LabFamily } from './family';
import { FleetFamily, writeFleetFiles } from './fleet';
import { writeInventory } from './inventory';
import { clientKey, hostKey, writeAllowedSigners } from './keys';
import { GossipFamily, type GossipBackendKind } from './gossip';
import { LedgerDrFamily, LedgerFamily, LEDGER_DR_FAULTS, type LedgerBackendKind, type SimTimings } from './ledger';
import { SshHost, HOST_FAULT_KINDS, type HostFaultKind } from './ssh-host';
import { passthroughOf, writeShims } from './shims';
import { TrainServerFamily, type TrainBackendKind } from './train-server';
import { TrainingClusterFamily } from './training-cluster';
import { RealTrainingClusterFamily } from './training-cluster/real/family';

/** The training cluster's lab backends: the simulation, or real RingRift orchestrators. */
export type TrainingBackendKind = 'sim' | 'real';

export type LabFamilyName = 'ledger' | 'training-cluster' | 'gossip' | 'train-server' | 'ledger-dr' | 'fleet';

/**
 * Every default family name, in start order (`ledger-dr`, the ledger's DR region, needs `ledger`).
 * The fleet (`fleet`, N identical hosts for scale, lab/fleet/) is opt-in: named in `families`, or `fleetHosts`.
 */
export const LAB_FAMILY_NAMES: readonly LabFamilyName[] = ['ledger', 'training-cluster', 'gossip', 'train-server', 'ledger-dr'];

/** Families started only when asked for. */
export const OPT_IN_FAMILY_NAMES: readonly LabFamilyName[] = ['fleet'];

/** Hosts of the fleet when `fleet` is named without `fleetHosts`. */
export const DEFAULT_FLEET_HOSTS = 200;

export interface LabOptions {
  /** The lab directory (created if missing). */
  dir: string;
  /** Which families to run; default all. */
  families?: LabFamilyName[];
  /**
   * Hosts of the fleet (lab/fleet/: `lab-fleet`, hosts host0001..., `systemctl restart app` records `app.restart`);
   * setting it adds the fleet to the families. Default {@link DEFAULT_FLEET_HOSTS} when `families` names `fleet`.
   * Its hosts always take ephemeral ports; `<dir>/fleet/` holds their known_hosts, hosts.txt and fleet.json.
   */
  fleetHosts?: number;
  /** How long the fleet's `systemctl restart app` takes on a host (ms, default 0: answer at once). */
  fleetRestartMs?: number;
  /** Nodes of the training cluster; default 5. */
  trainingNodes?: number;
  /** Mesh/election settle time of the simulated systems; default 2000 ms. */
  bootMs?: number;
  /** Fixed, documented ports (see module docs) instead of ephemeral ones; default false. */
  fixedPorts?: boolean;
  /**
   * The ledger's backend: `sim` (the simulation) or `real` (`inferadb-ledger`
   * processes, see lab/ledger/real.ts); default `$LIFEBOAT_LAB_LEDGER_BACKEND`, else `sim`.
   */
  ledgerBackend?: LedgerBackendKind;
  /** The ledger simulation's timings (elections, sagas, divergence recovery); tests shorten them. */
  ledgerSim?: Partial<SimTimings>;
  /**
   * The training cluster's backend: `sim` (the simulation) or `real` (RingRift's P2P orchestrators
   * in per-node namespaces, see lab/training-cluster/real/); default `$LIFEBOAT_LAB_TRAINING_BACKEND`, else `sim`.
   */
  trainingBackend?: TrainingBackendKind;
  /**
   * The train server's storage: `sim` (simulated) or `real` (BTRFS on loop
   * devices, see lab/train-server/real.ts; needs root); default
   * `$LIFEBOAT_LAB_TRAIN_BACKEND`, else `sim`.
   */
  trainBackend?: TrainBackendKind;
  /**
   * The gossip cluster's backend: `sim` (the simulation) or `real`
   * (`plumtree-node` processes in network namespaces, see lab/gossip/real/);
   * default `$LIFEBOAT_LAB_GOSSIP_BACKEND`, else `sim`.
   */
  gossipBackend?: GossipBackendKind;
}

/** A running lab. */
export interface Lab {
  dir: string;
  inventoryPath: string;
  /** Each lab operator's signing key (private key path), by name: alice, bob, carol. */
  operatorKeys: Record<string, string>;
  /** The allowed-signers file the inventory names. */
  allowedSignersPath: string;
  effects: EffectLog;
  controlUrl: string;
  /** Inventory cluster names, in order. */
  clusters: string[];
  /** Every fault name this lab accepts (families' faults; host faults follow {@link HOST_FAULT_HELP}). */
  faults: string[];
  /** Inject a fault; throws with the list of known faults when the name is unknown. */
  break(fault: string): Promise<void>;
  health(): Promise<ClusterHealth[]>;
  /** The SSH host of one node: its root directory and port. */
  host(cluster: string, node: string): { root: string; port: number };
  /** The argv prefix that runs a command in a node's own namespaces (families of real processes in namespaces); undefined otherwise. */
  nodePrefix(cluster: string, node: string): string[] | undefined;
  /** Stop every server and kill every command still running on the hosts. Idempotent. */
  stop(): Promise<void>;
  /** Resolves once the lab has stopped (by {@link stop} or POST /shutdown). */
  done: Promise<void>;
}

/** How host faults are named. */
export const HOST_FAULT_HELP = 'host.<hang|drop|slow|refuse-auth|refuse-api|heal>:<cluster>[/<node>][=<ms>]';

/** The families' scenario faults, plus the host-fault pattern. */
export const LAB_FAULTS: readonly string[] = [
  ...new LedgerFamily({ cluster: 'lab-ledger', nodes: 3 }).faults,
  ...new TrainingClusterFamily({ cluster: 'lab-training', nodes: 3 }).faults,
  ...new GossipFamily({ cluster: 'lab-gossip' }).faults,
  ...new TrainServerFamily({ cluster: 'lab-train', secretsDir: '' }).faults,
  ...LEDGER_DR_FAULTS,
  HOST_FAULT_HELP,
];

/** Fixed port bases used with `fixedPorts`. */
export const FIXED_PORTS = { control: 8760, ssh: 2220, trainingHttp: 8770, ledgerGrpc: 50051, gossipHttp: 8790, gossipSeed: 7946, ledgerDrGrpc: 50061 } as const;

/**
 * Start the lab.
 *
 * @returns a running {@link Lab}; call `stop()` when done (tests: in `t.after`).
 * @throws when a port is taken (with fixed ports: another lab is probably running) or a family fails to start;
 *   whatever had started is stopped again.
 */
export async function startLab(opts: LabOptions): Promise<Lab> {
  const dir = resolve(opts.dir);
  const wanted = [...(opts.families ?? LAB_FAMILY_NAMES)];
  if (opts.fleetHosts !== undefined && !wanted.includes('fleet')) wanted.push('fleet');
  const bootMs = opts.bootMs ?? 2000;
  const fixed = opts.fixedPorts ?? false;
  const secretsDir = join(dir, 'secrets');
  const inventoryPath = join(dir, 'inventory.yaml');
  const clientPath = join(__dirname, 'shim-client.js');
  if (!existsSync(clientPath)) throw new Error(`lab: ${clientPath} is missing; build first (npx tsc -p .)`);
  mkdirSync(dir, { recursive: true });
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });

  const effects = new EffectLog(join(dir, 'effects.jsonl'));
  effects.clear(); // one lab run, one log

  const families: LabFamily[] = [];
  let ledger: LedgerFamily | undefined;
  if (wanted.includes('ledger')) {
    const backend = opts.ledgerBackend ?? ledgerBackendFromEnv();
    ledger = new LedgerFamily({ cluster: 'lab-ledger', nodes: 3, backend, sim: opts.ledgerSim, ...(fixed ? { basePort: FIXED_PORTS.ledgerGrpc } : {}) });
    families.push(ledger);
  }
  if (wanted.includes('training-cluster') && (opts.trainingBackend ?? trainingBackendFromEnv()) === 'real') {
    families.push(new RealTrainingClusterFamily({ cluster: 'lab-training', labDir: dir, secretsDir }));
  } else if (wanted.includes('training-cluster')) {
    families.push(
      new TrainingClusterFamily({
        cluster: 'lab-training',
        nodes: opts.trainingNodes ?? 5,
        bootMs,
        basePort: fixed ? FIXED_PORTS.trainingHttp : 0,
        secretsDir,
      }),
    );
  }
  if (wanted.includes('gossip')) {
    families.push(
      new GossipFamily({
        cluster: 'lab-gossip',
        nodes: 5,
        basePort: fixed ? FIXED_PORTS.gossipHttp : 0,
        seedBasePort: fixed ? FIXED_PORTS.gossipSeed : 0,
        secretsDir,
        dir,
        backend: opts.gossipBackend ?? gossipBackendFromEnv(),
      }),
    );
  }
  if (wanted.includes('train-server')) {
    families.push(new TrainServerFamily({ cluster: 'lab-train', secretsDir, backend: opts.trainBackend ?? trainBackendFromEnv() }));
  }
  if (wanted.includes('ledger-dr')) {
    // Last, so the other families keep their fixed SSH ports.
    if (!ledger) throw new Error('lab: family ledger-dr (the ledger\'s DR region) needs family ledger');
    families.push(new LedgerDrFamily({ primary: ledger, cluster: 'lab-ledger-dr', ...(fixed ? { basePort: FIXED_PORTS.ledgerDrGrpc } : {}) }));
  }
  if (wanted.includes('fleet')) {
    // Last, so the other families keep their fixed SSH ports; its own hosts take ephemeral ones.
    families.push(new FleetFamily({ cluster: 'lab-fleet', hosts: opts.fleetHosts ?? DEFAULT_FLEET_HOSTS, restartMs: opts.fleetRestartMs }));
  }
  if (families.length === 0) throw new Error(`lab: no families selected (known: ${LAB_FAMILY_NAMES.join(', ')})`);

  const hostRoot = (cluster: string, node: string): string => join(dir, 'hosts', cluster, node);
  const hosts = new Map<string, SshHost>(); // key "cluster/node"
  const started: Array<() => Promise<void>> = [];
  let control: ControlServer | undefined;
  let stopping: Promise<void> | undefined;
  let markDone!: () => void;
  const done = new Promise<void>((r) => (markDone = r));

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const s of started.reverse()) await s().catch(() => undefined);
      markDone();
    })();
    return stopping;
  };

  const breakFault = async (fault: string): Promise<void> => {
    if (fault.startsWith('host.')) return applyHostFault(fault, hosts);
    const family = families.find((f) => f.faults.includes(fault));
    if (!family) {
      throw new ControlError(400, `unknown fault "${fault}"; known: ${[...families.flatMap((f) => f.faults), HOST_FAULT_HELP].join(', ')}`);
    }
    await family.breakFault(fault);
  };

  const health = (): Promise<ClusterHealth[]> => Promise.all(families.map((f) => f.health()));

  const shim = async (req: ShimRequest): Promise<ShimAnswer> => {
    const family = families.find((f) => f.cluster === req.cluster);
    if (!family || !family.nodeNames.includes(req.node)) {
      return { stdout: '', stderr: `lab: no host ${req.cluster}/${req.node}\n`, exitCode: 125 };
    }
    try {
      const r = await family.shim({ node: req.node, tool: req.tool, argv: req.argv, env: req.env, cwd: req.cwd, root: hostRoot(req.cluster, req.node) });
      const pass = passthroughOf(r);
      return pass ? { passthrough: pass } : { stdout: r.stdout, stderr: r.stderr ?? '', exitCode: r.exitCode };
    } catch (err) {
      return { stdout: '', stderr: `lab: ${req.tool} failed in the simulation: ${(err as Error).message}\n`, exitCode: 125 };
    }
  };

  try {
    control = await startControl(
      { shim, health, breakFault, effects, shutdown: () => void stop() },
      fixed ? FIXED_PORTS.control : 0,
      families.some((f) => hasWrap(f)) ? join(dir, 'control.sock') : undefined,
    );
    const ctl = control;
    started.push(() => ctl.close());
    const controlUrl = control.url;

    // Keys and hosts first, so that a family's start already sees its host roots.
    const client = clientKey(dir);
    let sshPort = FIXED_PORTS.ssh;
    for (const family of families) {
      for (const node of family.nodeNames) {
        const root = hostRoot(family.cluster, node);
        const binDir = join(dir, 'bin', family.cluster, node);
        mkdirSync(root, { recursive: true });
        // A family of real processes in namespaces: its hosts' commands run inside them and reach the lab by its unix socket.
        const wrapped = hasWrap(family);
        const shimControl = wrapped && ctl.socketUrl ? ctl.socketUrl : controlUrl;
        // The fleet's shim is bash talking to the family's own server (lab/fleet/family.ts: no Node start per command).
        if (family instanceof FleetFamily) await family.writeShim(binDir, node);
        else writeShims({ binDir, cluster: family.cluster, node, tools: family.tools, controlUrl: shimControl, clientPath });
        const host = new SshHost({
          cluster: family.cluster,
          node,
          root,
          binDir,
          hostKey: hostKey(dir, family.cluster, node).privateKey,
          clientPublicKey: client.publicLine,
          port: fixed && !(family instanceof FleetFamily) ? sshPort++ : 0,
          env: () => ({ LAB_CONTROL: shimControl }),
          ...(wrapped ? { wrap: () => family.hostWrap(node) } : {}),
        });
        await host.start();
        started.push(() => host.stop());
        hosts.set(`${family.cluster}/${node}`, host);
      }
    }
    for (const family of families) {
      const hostControl = {
        setOffline(node: string, offline: boolean): void {
          const h = hosts.get(`${family.cluster}/${node}`);
          if (offline) {
            h?.setFault('drop', true);
            h?.disconnectAll();
          }
          else h?.heal();
        },
        apiRefused(node: string): boolean {
          return hosts.get(`${family.cluster}/${node}`)?.faults.refuseApi ?? false;
        },
      };
      // Stopped on failure too: a family that fails half-way (a node's port taken) has started some of its nodes,
      // whose listeners would keep the process alive (seen in CI: a test file hung for its whole timeout).
      started.push(() => family.stop());
      await family.start({ hostRoot: (node) => hostRoot(family.cluster, node), effects, hosts: hostControl });
    }

    // The fleet is no system of Lifeboat's catalogue: not in the inventory, its hosts and pins in <dir>/fleet/.
    const fleet = families.find((f): f is FleetFamily => f instanceof FleetFamily);
    if (fleet) {
      writeFleetFiles(dir, {
        cluster: fleet.cluster,
        user: currentUser(),
        privateKey: client.privatePath,
        hosts: fleet.nodeNames.map((node) => ({ name: node, host: '127.0.0.1', port: hosts.get(`${fleet.cluster}/${node}`)!.port, hostKey: hostKey(dir, fleet.cluster, node).publicLine })),
      });
    }

    // Signed approvals: the lab's operators (alice, bob, carol) sign with their own keys.
    const signers = writeAllowedSigners(dir);
    writeInventory({
      path: inventoryPath,
      approvals: { allowedSigners: signers.path },
      clientKeyPath: client.privatePath,
      user: currentUser(),
      secretsDir,
      clusters: families.filter((f) => !(f instanceof FleetFamily)).map((family) => ({
        family,
        hosts: new Map(
          family.nodeNames.map((node) => {
            const h = hosts.get(`${family.cluster}/${node}`)!;
            const rel = workdirOf(family, node);
            return [node, { port: h.port, hostKey: hostKey(dir, family.cluster, node).publicLine, workdir: rel ? join(h.root, rel) : undefined }];
          }),
        ),
      })),
    });

    return {
      dir,
      inventoryPath,
      operatorKeys: signers.keys,
      allowedSignersPath: signers.path,
      effects,
      controlUrl,
      clusters: families.map((f) => f.cluster),
      faults: families.flatMap((f) => f.faults),
      break: breakFault,
      health,
      nodePrefix(cluster, node) {
        const f = families.find((x) => x.cluster === cluster);
        return f && hasWrap(f) ? f.hostWrap(node) : undefined;
      },
      host(cluster, node) {
        const h = hosts.get(`${cluster}/${node}`);
        if (!h) throw new Error(`lab: no host ${cluster}/${node}`);
        return { root: h.root, port: h.port };
      },
      stop,
      done,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Optional family extra: where a node's service lives relative to its host root. */
interface WithWorkdir {
  hostWorkdir(node: string): string;
}

/** Optional family extra: an argv prefix that runs a node's commands in the node's namespaces. */
interface WithWrap {
  hostWrap(node: string): string[] | undefined;
}

function hasWrap(family: LabFamily): family is LabFamily & WithWrap {
  return typeof (family as LabFamily & Partial<WithWrap>).hostWrap === 'function';
}

function workdirOf(family: LabFamily, node: string): string | undefined {
  const f = family as LabFamily & Partial<WithWorkdir>;
  if (typeof f.hostWorkdir !== 'function') return undefined;
  return f.hostWorkdir(node) || undefined;
}

function applyHostFault(fault: string, hosts: Map<string, SshHost>): void {
  const m = /^host\.([a-z-]+):([a-z0-9][a-z0-9-]*)(?:\/([A-Za-z0-9][A-Za-z0-9._-]*))?(?:=(\d+))?$/.exec(fault);
  const kind = m?.[1];
  if (!m || !kind || (kind !== 'heal' && !HOST_FAULT_KINDS.includes(kind as HostFaultKind))) {
    throw new ControlError(400, `bad host fault "${fault}"; expected ${HOST_FAULT_HELP}`);
  }
  const [, , cluster, node, ms] = m;
  const targets = [...hosts.values()].filter((h) => h.cluster === cluster && (node === undefined || h.node === node));
  if (targets.length === 0) throw new ControlError(400, `host fault "${fault}": no host ${cluster}${node ? `/${node}` : ''}`);
  for (const h of targets) {
    if (kind === 'heal') h.heal();
    else h.setFault(kind as HostFaultKind, true, ms === undefined ? undefined : Number(ms));
  }
}

function trainingBackendFromEnv(): TrainingBackendKind {
  const v = process.env.LIFEBOAT_LAB_TRAINING_BACKEND;
  if (v === undefined || v === '' || v === 'sim') return 'sim';
  if (v === 'real') return 'real';
  throw new Error(`LIFEBOAT_LAB_TRAINING_BACKEND must be sim or real (got "${v}")`);
}

function gossipBackendFromEnv(): GossipBackendKind {
  const v = process.env.LIFEBOAT_LAB_GOSSIP_BACKEND;
  if (v === undefined || v === '' || v === 'sim') return 'sim';
  if (v === 'real') return 'real';
  throw new Error(`LIFEBOAT_LAB_GOSSIP_BACKEND must be sim or real (got "${v}")`);
}

function ledgerBackendFromEnv(): LedgerBackendKind {
  const v = process.env.LIFEBOAT_LAB_LEDGER_BACKEND;
  if (v === undefined || v === '' || v === 'sim') return 'sim';
  if (v === 'real') return 'real';
  throw new Error(`lab: LIFEBOAT_LAB_LEDGER_BACKEND must be "sim" or "real", got "${v}"`);
}

function trainBackendFromEnv(): TrainBackendKind {
  const v = process.env.LIFEBOAT_LAB_TRAIN_BACKEND;
  if (v === undefined || v === '' || v === 'sim') return 'sim';
  if (v === 'real') return 'real';
  throw new Error(`lab: LIFEBOAT_LAB_TRAIN_BACKEND must be "sim" or "real", got "${v}"`);
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'lab';
  }
}
