/**
 * The gRPC transport (with the ledger's package) against a real grpc-js server built from ledger.proto,
 * listening on 127.0.0.1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { TransportError } from '../../src/activities/transport/errors';
import { createLedgerServer, ledgerPackage, ledgerProtoPath, ledgerServiceDefinitions } from '../../src/activities/ledger/wire';
import { GrpcPool } from '../../src/activities/transport/grpc';

let server: grpc.Server;
let address: string;
const pool = new GrpcPool(ledgerPackage);
/** Peers (client ip:port) seen by the server, per method: one connection means one port. */
const peers: string[] = [];
/** Set when the server sees the hanging call cancelled by the client. */
let hangCancelled = 0;

const fail = (code: grpc.status, details: string) => (_call: unknown, cb: grpc.sendUnaryData<unknown>) =>
  cb({ code, details, name: 'Error', message: details, metadata: new grpc.Metadata() });

before(async () => {
  server = createLedgerServer({
    AdminService: {
      GetClusterInfo: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        peers.push(call.getPeer());
        cb(null, {
          cluster_id: 'c-7f3a',
          leader_id: { id: 'n1' },
          term: 12,
          mode: 'cluster',
          commit_index: 9001,
          members: [
            { node_id: { id: 'n1' }, address: '10.0.0.1:50051', role: 'voter', reachable: true },
            { node_id: { id: 'n2' }, address: '10.0.0.2:50051', role: 'voter', reachable: false },
          ],
        });
      },
      ListVaults: (call: grpc.ServerUnaryCall<{ organization_slug?: { id: string } }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const org = call.request.organization_slug?.id ?? '';
        cb(null, {
          vaults: [
            { vault: { vault: { slug: 'payments' }, organization_slug: { id: org }, status: 'ACTIVE', height: 120 } },
            { vault: { vault: { slug: 'audit' }, organization_slug: { id: org }, status: 'DIVERGED' } },
          ],
        });
      },
      GetVault: fail(grpc.status.NOT_FOUND, 'vault acme/nope does not exist'),
      LeaveCluster: fail(grpc.status.UNAUTHENTICATED, 'missing admin credentials'),
      RecoverVault: fail(grpc.status.FAILED_PRECONDITION, 'not the leader'),
      CreateSnapshot: fail(grpc.status.RESOURCE_EXHAUSTED, 'snapshot queue full'),
      // Never answers; notes when the client gives up on it.
      CheckIntegrity: (call: grpc.ServerUnaryCall<unknown, unknown>) => {
        call.on('cancelled', () => hangCancelled++);
      },
    },
    HealthService: {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, cb: grpc.sendUnaryData<unknown>) =>
        cb(null, { status: call.request.service === 'ledger' ? 'SERVING' : 'NOT_SERVING' }),
    },
    // ReadService and WriteService left out: grpc-js answers UNIMPLEMENTED.
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  address = `127.0.0.1:${port}`;
});

after(() => {
  pool.close();
  server.forceShutdown();
});

async function failure(fn: () => Promise<unknown>): Promise<TransportError> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof TransportError, `expected TransportError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

test('proto is found and defines the four services', () => {
  assert.match(ledgerProtoPath(), /src[\\/]protos[\\/]ledger[\\/]v1[\\/]ledger\.proto$/);
  assert.deepEqual(Object.keys(ledgerServiceDefinitions()), ['AdminService', 'ReadService', 'WriteService', 'HealthService']);
  assert.throws(() => createLedgerServer({ NoSuchService: {} }), /no service NoSuchService/);
});

test('GetClusterInfo: proto field names, longs as numbers', async () => {
  const info = await pool.call(address, 'AdminService', 'GetClusterInfo', {}, { deadlineMs: 2_000 });
  assert.deepEqual(info, {
    cluster_id: 'c-7f3a',
    leader_id: { id: 'n1' },
    term: 12,
    mode: 'cluster',
    commit_index: 9001,
    members: [
      { node_id: { id: 'n1' }, address: '10.0.0.1:50051', role: 'voter', reachable: true },
      { node_id: { id: 'n2' }, address: '10.0.0.2:50051', role: 'voter', reachable: false },
    ],
  });
});

test('ListVaults: request fields reach the server, defaults filled in', async () => {
  const res = await pool.call<{ vaults: Array<{ vault: { vault: { slug: string }; status: string; height: number } }> }>(
    address,
    'AdminService',
    'ListVaults',
    { organization_slug: { id: 'acme' } },
    { deadlineMs: 2_000 },
  );
  assert.equal(res.vaults.length, 2);
  assert.equal(res.vaults[0]?.vault.vault.slug, 'payments');
  assert.equal(res.vaults[0]?.vault.height, 120);
  assert.equal(res.vaults[1]?.vault.status, 'DIVERGED');
  assert.equal(res.vaults[1]?.vault.height, 0); // default, not undefined
});

test('HealthService.Check', async () => {
  assert.deepEqual(await pool.call(address, 'HealthService', 'Check', { service: 'ledger' }, { deadlineMs: 2_000 }), { status: 'SERVING' });
  assert.deepEqual(await pool.call(address, 'HealthService', 'Check', { service: 'x' }, { deadlineMs: 2_000 }), { status: 'NOT_SERVING' });
});

test('non-retryable statuses map to named types with an actionable message', async () => {
  const notFound = await failure(() =>
    pool.call(address, 'AdminService', 'GetVault', { organization_slug: { id: 'acme' }, vault: { slug: 'nope' } }, { deadlineMs: 2_000 }),
  );
  assert.equal(notFound.type, 'NotFound');
  assert.equal(notFound.retryable, false);
  assert.equal(
    notFound.message,
    `ledger.v1.AdminService/GetVault on ${address}: NOT_FOUND: vault acme/nope does not exist; check the organization / vault / node names against the cluster`,
  );

  const unauth = await failure(() => pool.call(address, 'AdminService', 'LeaveCluster', { node_id: { id: 'n3' } }, { deadlineMs: 2_000 }));
  assert.equal(unauth.type, 'AuthFailed');
  assert.equal(unauth.retryable, false);

  const precondition = await failure(() => pool.call(address, 'AdminService', 'RecoverVault', {}, { deadlineMs: 2_000 }));
  assert.equal(precondition.type, 'FailedPrecondition');
  assert.equal(precondition.retryable, false);
  assert.match(precondition.message, /FAILED_PRECONDITION: not the leader/);

  const unimplemented = await failure(() => pool.call(address, 'ReadService', 'GetTip', {}, { deadlineMs: 2_000 }));
  assert.equal(unimplemented.type, 'Unimplemented');
  assert.equal(unimplemented.retryable, false);

  const badMethod = await failure(() => pool.call(address, 'AdminService', 'DropEverything', {}, { deadlineMs: 2_000 }));
  assert.equal(badMethod.type, 'InvalidArgument');
  assert.match(badMethod.message, /defines no method DropEverything/);
});

test('retryable statuses: RESOURCE_EXHAUSTED, and UNAVAILABLE from a port nobody listens on', async () => {
  const exhausted = await failure(() => pool.call(address, 'AdminService', 'CreateSnapshot', {}, { deadlineMs: 2_000 }));
  assert.equal(exhausted.type, 'ResourceExhausted');
  assert.equal(exhausted.retryable, true);

  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const down = await failure(() => pool.call(`127.0.0.1:${port}`, 'HealthService', 'Check', {}, { deadlineMs: 3_000 }));
  assert.equal(down.type, 'Unavailable');
  assert.equal(down.retryable, true);
  assert.match(down.message, new RegExp(`^ledger\\.v1\\.HealthService/Check on 127\\.0\\.0\\.1:${port}: UNAVAILABLE: `));
  assert.match(down.message, /check that the ledger runs there/);
});

test('a call that never answers fails with Timeout at its deadline', async () => {
  const started = Date.now();
  const err = await failure(() => pool.call(address, 'AdminService', 'CheckIntegrity', {}, { deadlineMs: 300 }));
  const elapsed = Date.now() - started;
  assert.equal(err.type, 'Timeout');
  assert.equal(err.retryable, true);
  assert.match(err.message, /DEADLINE_EXCEEDED/);
  assert.ok(elapsed >= 250 && elapsed < 1_500, `took ${elapsed} ms`);
});

test('aborting the signal cancels the call on the wire', async () => {
  const before = hangCancelled;
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const started = Date.now();
  const err = await failure(() =>
    pool.call(address, 'AdminService', 'CheckIntegrity', {}, { deadlineMs: 10_000, signal: controller.signal }),
  );
  assert.equal(err.type, 'Cancelled');
  assert.equal(err.retryable, false);
  assert.ok(Date.now() - started < 2_000);
  // The server learns of it (RST_STREAM), within a bounded wait.
  for (let i = 0; i < 40 && hangCancelled === before; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(hangCancelled, before + 1);

  const early = await failure(() => pool.call(address, 'HealthService', 'Check', {}, { deadlineMs: 1_000, signal: controller.signal }));
  assert.equal(early.type, 'Cancelled');
});

test('the pool reuses one client (one connection) per address and service', async () => {
  const local = new GrpcPool(ledgerPackage);
  try {
    peers.length = 0;
    for (let i = 0; i < 3; i++) await local.call(address, 'AdminService', 'GetClusterInfo', {}, { deadlineMs: 2_000 });
    assert.equal(local.size, 1);
    assert.equal(new Set(peers).size, 1, `expected one client connection, saw ${peers.join(', ')}`);
    await local.call(address, 'HealthService', 'Check', {}, { deadlineMs: 2_000 });
    assert.equal(local.size, 2);
    local.close();
    assert.equal(local.size, 0);
    // A closed pool opens a fresh channel on demand.
    await local.call(address, 'AdminService', 'GetClusterInfo', {}, { deadlineMs: 2_000 });
    assert.equal(local.size, 1);
  } finally {
    local.close();
  }
});
