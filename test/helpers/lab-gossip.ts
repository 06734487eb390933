/**
 * A lab with the gossip family on either backend, for the lab's gossip
 * tests and the conformance suite: the lab core (real SSH hosts, shims,
 * inventory), Lifeboat's own activities built from its inventory and run in
 * Temporal's MockActivityEnvironment (everything that leaves an activity is
 * kept, to check that no secret does), and plain HTTP to each node's
 * control API.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ApplicationFailure, type Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parse as parseYaml } from 'yaml';
import type { Effect } from '../../lab/effects';
import type { ClusterHealth, NodeHealth } from '../../lab/family';
import { startLab, type Lab } from '../../lab/index';
import type { GossipBackendKind } from '../../lab/gossip';
import { createActivities, type ActivitySet } from '../../src/activities';
import { removeTestDir } from './stack';

export const CLUSTER = 'lab-gossip';
export const NODES = ['gossip1', 'gossip2', 'gossip3', 'gossip4', 'gossip5'];
export const ref = (node: string) => ({ cluster: CLUSTER, node });

type Json = any;

export interface InvNode {
  name: string;
  roles: string[];
  http: { baseUrl: string; authToken: string };
}

export interface GossipLab {
  backend: GossipBackendKind;
  lab: Lab;
  dir: string;
  a: ActivitySet['activities'];
  token: string;
  tokenFile: string;
  nodes: InvNode[];
  settings: Record<string, string | number | boolean>;
  /** A node's control API base URL. */
  url(node: string): string;
  /** GET or POST on a node's API (admin calls with the token unless `token` says otherwise). */
  http(node: string, method: 'GET' | 'POST', path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: Json; text: string }>;
  /** One of Lifeboat's activities, in a MockActivityEnvironment (`activityId` fixed: a retry of the same step). */
  run<I, O>(fn: (input: I) => Promise<O>, input: I, activityId?: string): Promise<O>;
  /** The ApplicationFailure an activity fails with. */
  failure(p: Promise<unknown>): Promise<ApplicationFailure>;
  /** Every value that left an activity (results, heartbeats, errors), inspected. */
  outbound: string[];
  /** Effect names since `from`, as `effect:node`. */
  effectsSince(from: number): string[];
  effectCount(): number;
  healthy(): Promise<boolean>;
  /** Waits (bounded) until the cluster is healthy, saying what it is otherwise. */
  untilHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Real nodes whose running process had a task panic inside memberlist-core:
 * 0.7.0's stale member index can leave such a node deaf for good, and the
 * remedy docs/gossip.md gives is a restart. Any other panic is not this.
 */
export const memberlistPanicked = (h: ClusterHealth | undefined): NodeHealth[] => (h?.nodes ?? []).filter((n) => n.panicked?.startsWith('memberlist-core-'));

/** Effects from index `from` on, as `effect:node`, leaving out those in the `[start, end)` index ranges of `excluded` (restarts made for a memberlist-core panic). */
export function effectsOutside(effects: Effect[], from: number, excluded: ReadonlyArray<[number, number]>): string[] {
  return effects
    .map((e, i) => ({ e, i }))
    .filter(({ i }) => i >= from && !excluded.some(([a, b]) => i >= a && i < b))
    .map(({ e }) => `${e.effect}:${e.node}`);
}

/** Activities that fail on purpose would log a warning each. */
const QUIET: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
let seq = 0;

export async function startGossipLab(backend: GossipBackendKind): Promise<GossipLab> {
  const dir = mkdtempSync(join(tmpdir(), `lb-gossip-lab-${backend}-`));
  let lab: Lab | undefined;
  let acts: ActivitySet | undefined;
  try {
    lab = await startLab({ dir, families: ['gossip'], gossipBackend: backend, bootMs: 200 });
    acts = createActivities({ inventoryPath: lab.inventoryPath });
  } catch (err) {
    await lab?.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const inv = parseYaml(readFileSync(lab.inventoryPath, 'utf8')) as { clusters: Record<string, { nodes: InvNode[]; settings: Record<string, string | number | boolean> }> };
  const c = inv.clusters[CLUSTER]!;
  const tokenFile = c.nodes[0]!.http.authToken.replace(/^file:/, '');
  const token = readFileSync(tokenFile, 'utf8').trim();
  const outbound: string[] = [];
  /** Effect index ranges of the restarts untilHealthy made for a memberlist-core panic: not the case's own effects. */
  const remedies: Array<[number, number]> = [];
  const the = lab;
  const a = acts.activities;
  const url = (node: string) => c.nodes.find((n) => n.name === node)!.http.baseUrl;
  const self: GossipLab = {
    backend,
    lab: the,
    dir,
    a,
    token,
    tokenFile,
    nodes: c.nodes,
    settings: c.settings,
    url,
    async http(node, method, path, body, tok) {
      const headers: Record<string, string> = {};
      const t = tok === undefined ? token : tok;
      if (t) headers.authorization = `Bearer ${t}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const send = () => fetch(`${url(node)}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
      // A real node whose unit restarts it after a panic (exit 75, docs/gossip.md) refuses for a second or two: ask again, for up to 5 s.
      let res: Response | undefined;
      for (let tries = 0; !res; tries++) {
        try {
          res = await send();
        } catch (err) {
          const refused = (err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
          if (!refused || tries >= 25) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      const text = await res.text();
      let parsed: Json = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* text */
      }
      return { status: res.status, body: parsed, text };
    },
    async run<I, O>(fn: (input: I) => Promise<O>, input: I, activityId = `act-${++seq}`): Promise<O> {
      const env = new MockActivityEnvironment({ activityId, workflowExecution: { workflowId: 'wf-lab-gossip', runId: 'run-1' } }, { logger: QUIET });
      env.on('heartbeat', (d: unknown) => outbound.push(inspect(d, { depth: 8 })));
      try {
        const out = (await env.run(fn, input)) as O;
        outbound.push(inspect(out, { depth: 8 }));
        return out;
      } catch (err) {
        outbound.push(inspect(err, { depth: 8 }));
        throw err;
      }
    },
    async failure(p) {
      const err = await p.then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${inspect(err)}`);
      return err;
    },
    outbound,
    effectsSince: (from) => effectsOutside(the.effects.list({ cluster: CLUSTER }), from, remedies),
    effectCount: () => the.effects.list({ cluster: CLUSTER }).length,
    healthy: async () => (await the.health()).find((x) => x.cluster === CLUSTER)!.healthy,
    async untilHealthy(timeoutMs = 60_000) {
      const poll = async (): Promise<ClusterHealth> => {
        const end = Date.now() + timeoutMs;
        for (;;) {
          const h = (await the.health()).find((x) => x.cluster === CLUSTER)!;
          if (h.healthy || Date.now() > end) return h;
          await new Promise((r) => setTimeout(r, 250));
        }
      };
      const h = await poll();
      if (h.healthy) return;
      // Real nodes: a node a memberlist-core panic left deaf gets the docs' remedy, a restart (what
      // --exit-on-panic and its unit do at once), through Lifeboat's own activity, for that panic only.
      const deaf = backend === 'real' ? memberlistPanicked(h) : [];
      if (deaf.length === 0) assert.fail(`not healthy within ${timeoutMs / 1000} s: ${JSON.stringify(h)}`);
      for (const n of deaf) {
        console.log(`# ${n.node}: ${n.detail}; the cluster is not healthy after ${timeoutMs / 1000} s: restarting ${n.node}, as its unit would with --exit-on-panic`);
        const from = self.effectCount();
        await self.run(a.gossipService, { ...ref(n.node), action: 'restart' as const });
        remedies.push([from, self.effectCount()]);
      }
      const again = await poll();
      if (!again.healthy) assert.fail(`not healthy within ${timeoutMs / 1000} s, nor ${timeoutMs / 1000} s after restarting ${deaf.map((n) => n.node).join(', ')} (a memberlist-core task panic): ${JSON.stringify(again)}; before: ${JSON.stringify(h)}`);
    },
    async stop() {
      await acts?.close();
      await the.stop();
      removeTestDir(dir);
    },
  };
  return self;
}
