/**
 * Lifeboat's gossip activities against a node that does not speak the
 * control API (docs/gossip-contract.md): an application serving its own
 * `/health` and `/debug/sync`, a proxy answering HTML. Lifeboat fails with
 * `BadResponse` naming the route and the version it speaks, instead of
 * taking a foreign answer for a healthy (or an unhealthy) node; a node that
 * does not answer at all stays a finding, not a failure.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { inspect } from 'node:util';
import { ApplicationFailure, type Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type ActivitySet } from '../../src/activities';

const QUIET: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const dir = mkdtempSync(join(tmpdir(), 'lb-gossip-contract-'));
let server: Server;
let acts: ActivitySet;
const seen: string[] = [];

before(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ ok: true, uptime: 12 }));
    }
    if (req.url === '/debug/sync') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ syncing: 'yes' }));
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html>a proxy</html>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  process.env.LB_GOSSIP_CONTRACT_TOKEN = 'contract-test-token-0123456789';
  const inventory = join(dir, 'clusters.yaml');
  writeFileSync(
    inventory,
    `clusters:
  foreign:
    system: gossip
    nodes:
      - name: app1
        roles: [seed]
        http: { baseUrl: "http://127.0.0.1:${port}", authToken: "env:LB_GOSSIP_CONTRACT_TOKEN" }
      - name: app2
        roles: [member]
        http: { baseUrl: "http://127.0.0.1:1", authToken: "env:LB_GOSSIP_CONTRACT_TOKEN" }
`,
  );
  acts = createActivities({ inventoryPath: inventory });
});

after(async () => {
  await acts?.close();
  await new Promise((r) => server?.close(r));
  rmSync(dir, { recursive: true, force: true });
  delete process.env.LB_GOSSIP_CONTRACT_TOKEN;
});

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${inspect(err)}`);
  return err;
}
const run = <I, O>(fn: (i: I) => Promise<O>, input: I): Promise<O> => new MockActivityEnvironment({ activityId: 'a1' }, { logger: QUIET }).run(fn, input) as Promise<O>;

test('a /health without the library\'s status is BadResponse naming the route and the contract', async () => {
  const err = await failure(run(acts.activities.gossipHealth, { cluster: 'foreign', node: 'app1' }));
  assert.equal(err.type, 'BadResponse');
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, /^app1: GET \/health answered 200 without a health status; Lifeboat speaks plumtree-control 0\.1\.0 on memberlist-plumtree 0\.1\.6: check that the application mounts plumtree_control::router/);
});

test('a /debug/sync without enabled and rootHash is BadResponse', async () => {
  const err = await failure(run(acts.activities.gossipSync, { cluster: 'foreign', node: 'app1' }));
  assert.equal(err.type, 'BadResponse');
  assert.match(err.message, /GET \/debug\/sync answered without enabled\/rootHash; .*plumtree_control::router/);
});

test('an HTML answer is refused as well; a node that does not answer is a finding', async () => {
  const peers = await failure(run(acts.activities.gossipPeers, { cluster: 'foreign', node: 'app1' }));
  assert.equal(peers.type, 'BadResponse');
  const down = await run(acts.activities.gossipHealth, { cluster: 'foreign', node: 'app2' });
  assert.deepEqual([down.reachable, down.status], [false, 'down']);
  assert.ok(seen.every((s) => s.startsWith('GET ')), `only reads were sent: ${seen.join(', ')}`);
});
