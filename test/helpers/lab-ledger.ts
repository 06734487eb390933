/**
 * A lab with the ledger family (and optionally its DR region) on either
 * backend, for the lab's ledger tests and the conformance suite: the lab
 * core (real SSH hosts, shims, inventory), Lifeboat's own activities built
 * from its inventory and run in Temporal's MockActivityEnvironment, and gRPC
 * helpers on Lifeboat's ledger proto.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Client } from 'ssh2';
import { parse as parseYaml } from 'yaml';
import { startLab, type Lab, type LabFamilyName } from '../../lab/index';
import { LAB_LEDGER_SEED, type LedgerBackendKind, type SimTimings } from '../../lab/ledger';
import { call, callLeader, LedgerCallError, nodeView, retry } from '../../lab/ledger/client';
import { createActivities, type ActivitySet } from '../../src/activities';
import type { LedgerService } from '../../src/activities/ledger/wire';

export { call, callLeader, LedgerCallError, nodeView, retry };

export const PRIMARY = 'lab-ledger';
export const DR = 'lab-ledger-dr';
export const NODES = ['node1', 'node2', 'node3'];
export const DR_NODES = ['dr-node1', 'dr-node2', 'dr-node3'];
export const SEED = LAB_LEDGER_SEED;
export const VAULT = { organization: SEED.organization, vault: SEED.vault };
export const vaultMsg = { organization: { slug: SEED.organization }, vault: { slug: SEED.vault } };

type Json = any;  

export interface LedgerLab {
  backend: LedgerBackendKind;
  lab: Lab;
  dir: string;
  a: ActivitySet['activities'];
  /** A node's gRPC address (from the inventory). */
  addr(node: string, cluster?: string): string;
  metricsUrl(node: string, cluster?: string): string;
  /** A node's data directory on its host. */
  dataDir(node: string, cluster?: string): string;
  /** A call as Lifeboat makes it (no lab header: the simulation records its effects). */
  rpc(node: string, service: LedgerService, method: string, req?: object, deadlineMs?: number, cluster?: string): Promise<Json>;
  /** The gRPC error of a call that must fail. */
  rpcError(node: string, service: LedgerService, method: string, req?: object, deadlineMs?: number, cluster?: string): Promise<LedgerCallError>;
  /** One of Lifeboat's activities, in a MockActivityEnvironment. */
  run<I, O>(fn: (input: I) => Promise<O>, input: I): Promise<O>;
  /** A command over real SSH on a lab host (the shims first on PATH, cwd its workdir). */
  sh(node: string, command: string, cluster?: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Effect names recorded since `from`, as "node effect". */
  effectsSince(from: number, cluster?: string): string[];
  stop(): Promise<void>;
}

let activityId = 0;
/** Activities that fail on purpose (a node down) would log a warning each. */
const QUIET: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Short timings for the simulation in tests (elections, sagas, the divergence's auto-recovery). */
export const FAST_SIM: Partial<SimTimings> = { electionMs: 2000, joinPollMs: 200, orgActiveMs: 200, registrationMs: 50, proposalTimeoutMs: 1000, recoverAfterMs: 1500, healAfterMs: 4000 };

/** Starts a lab (ledger, plus its DR region when asked) in a fresh directory; `stop()` removes it all. */
export async function startLedgerLab(backend: LedgerBackendKind, families: LabFamilyName[] = ['ledger'], sim: Partial<SimTimings> = FAST_SIM): Promise<LedgerLab> {
  const dir = mkdtempSync(join(tmpdir(), `lab-ledger-${backend}-`));
  let lab: Lab;
  try {
    lab = await startLab({ dir, families, ledgerBackend: backend, ledgerSim: sim });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const acts = createActivities({ inventoryPath: lab.inventoryPath });
  const inv = parseYaml(readFileSync(lab.inventoryPath, 'utf8')) as { clusters: Record<string, { nodes: Array<{ name: string; grpc?: { address: string }; metricsUrl?: string }> }> };
  const node = (n: string, cluster: string) => {
    const x = inv.clusters[cluster]?.nodes.find((y) => y.name === n);
    assert.ok(x, `no node ${cluster}/${n} in the inventory`);
    return x;
  };
  const addr = (n: string, cluster = PRIMARY) => node(n, cluster).grpc!.address;
  const l: LedgerLab = {
    backend,
    lab,
    dir,
    a: acts.activities,
    addr,
    metricsUrl: (n, cluster = PRIMARY) => node(n, cluster).metricsUrl!,
    dataDir: (n, cluster = PRIMARY) => join(lab.host(cluster, n).root, cluster === DR ? 'dr-region' : '', 'data'),
    rpc: (n, service, method, req = {}, deadlineMs = 10_000, cluster = PRIMARY) => call(addr(n, cluster), service, method, req, deadlineMs, ''),
    async rpcError(n, service, method, req = {}, deadlineMs = 10_000, cluster = PRIMARY) {
      try {
        await call(addr(n, cluster), service, method, req, deadlineMs, '');
      } catch (e) {
        assert.ok(e instanceof LedgerCallError, `expected a gRPC error, got ${String(e)}`);
        return e;
      }
      assert.fail(`${service}/${method} on ${cluster}/${n} succeeded; a failure was expected`);
    },
    async run<I, O>(fn: (input: I) => Promise<O>, input: I): Promise<O> {
      const env = new MockActivityEnvironment({ activityId: `act-${++activityId}`, workflowExecution: { workflowId: 'wf-lab-ledger', runId: 'run-1' } }, { logger: QUIET });
      return (await env.run(fn, input)) as O;
    },
    sh: (n, command, cluster = PRIMARY) => sshExec(lab.host(cluster, n).port, join(dir, 'keys', 'id_ed25519'), command),
    effectsSince: (from, cluster = PRIMARY) =>
      lab.effects
        .list()
        .slice(from)
        .filter((e) => e.cluster === cluster)
        .map((e) => `${e.node} ${e.effect}`),
    async stop() {
      await acts.close();
      await lab.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return l;
}

/** One command over SSH, its output and exit status (bounded to 60 s). */
async function sshExec(port: number, keyPath: string, command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = new Client();
  await new Promise<void>((ok, ko) => {
    c.once('ready', () => ok());
    c.on('error', ko);
    c.connect({ host: '127.0.0.1', port, username: 'lifeboat', privateKey: readFileSync(keyPath), readyTimeout: 5000 });
  });
  try {
    return await new Promise((ok, ko) => {
      const timer = setTimeout(() => ko(new Error(`ssh "${command}" did not finish within 60 s`)), 60_000);
      c.exec(command, (err, stream) => {
        if (err) return ko(err);
        const r = { code: null as number | null, stdout: '', stderr: '' };
        stream.on('data', (d: Buffer) => (r.stdout += d.toString()));
        stream.stderr.on('data', (d: Buffer) => (r.stderr += d.toString()));
        stream.on('exit', (code: number | null) => (r.code = code));
        stream.on('close', () => {
          clearTimeout(timer);
          ok(r);
        });
      });
    });
  } finally {
    c.end();
  }
}

/** `lab.break(fault)`, its duration logged (the conformance report quotes it). */
export async function breakTimed(l: LedgerLab, fault: string): Promise<void> {
  const t0 = Date.now();
  await l.lab.break(fault);
  console.log(`# ${l.backend}: fault ${fault} took ${Date.now() - t0} ms`);
}

/** The seeded vault's leader: its node id, from AdminListVaults on a node that answers. */
export async function vaultLeaderId(l: LedgerLab, nodes = NODES): Promise<string> {
  for (const n of nodes) {
    const r = await l.rpc(n, 'AdminService', 'AdminListVaults', { organization: vaultMsg.organization }).catch(() => undefined);
    const v = r?.vaults?.find((x: Json) => String(x.slug.slug) === SEED.vault);
    if (v && v.leader_node_id !== '0') return String(v.leader_node_id);
  }
  assert.fail('no node names the seeded vault\'s leader');
}

/** Inventory node -> its node id, for the nodes that answer. */
export async function nodeIds(l: LedgerLab, nodes = NODES, cluster = PRIMARY): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const n of nodes) {
    const v = await nodeView(l.addr(n, cluster), '');
    if (v) out.set(n, v.nodeId);
  }
  return out;
}

/** Waits up to `withinMs` (longer on the real server) for `cond`. */
export function waitFor<T>(l: LedgerLab, what: string, cond: () => Promise<T | undefined>, simMs: number, realMs: number): Promise<T> {
  return retry(what, cond, l.backend === 'real' ? realMs : simMs, l.backend === 'real' ? 1000 : 100);
}

/** Every seeded document and relationship reads back on `node`. */
export async function assertSeedOn(l: LedgerLab, node: string, cluster = PRIMARY): Promise<void> {
  const ents = await l.rpc(node, 'ReadService', 'ListEntities', { ...vaultMsg, limit: 1000 }, 10_000, cluster);
  const docs = (ents.entities as Json[]).filter((e) => /^doc:\d+$/.test(e.key));
  assert.equal(docs.length, SEED.entities, `${cluster}/${node} holds ${docs.length} of the ${SEED.entities} seeded documents`);
  const rels = await l.rpc(node, 'ReadService', 'ListRelationships', { ...vaultMsg, limit: 1000 }, 10_000, cluster);
  assert.equal(rels.relationships.length >= SEED.relationships, true, `${cluster}/${node} holds ${rels.relationships.length} relationships`);
}
