/**
 * The gRPC transport (with the ledger's package) against a real grpc-js server built from ledger.proto,
 * listening on 127.0.0.1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { TransportError } from '../../src/activities/transport/errors';
import { leaderHint } from '../../src/activities/ledger/context';
import { createLedgerServer, encodeErrorDetails, ledgerPackage, ledgerProtoPath, ledgerServiceDefinitions } from '../../src/activities/ledger/wire';
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

/** A follower's refusal: UNAVAILABLE with the leader in a bare ErrorDetails trailer, as the ledger sends it. */
const notLeader = (endpoint: string) => (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
  const md = new grpc.Metadata();
  md.set('grpc-status-details-bin', encodeErrorDetails({ errorCode: '2000', retryable: true, context: { leader_id: '387995586552948736', leader_endpoint: endpoint, leader_term: '3' } }));
  cb({ code: grpc.status.UNAVAILABLE, details: 'Not the leader for this region', name: 'Error', message: 'Not the leader for this region', metadata: md });
};

before(async () => {
  server = createLedgerServer({
    AdminService: {
      GetClusterInfo: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        peers.push(call.getPeer());
        cb(null, {
          members: [
            { node_id: '387995586469514240', address: '10.0.0.1:50051', role: 'CLUSTER_MEMBER_ROLE_VOTER', is_leader: true },
            { node_id: '387995586552948736', address: '10.0.0.2:50051', role: 'CLUSTER_MEMBER_ROLE_LEARNER', is_leader: false },
          ],
          leader_id: '387995586469514240',
          term: '12',
        });
      },
      LeaveCluster: fail(grpc.status.UNAUTHENTICATED, 'missing admin credentials'),
      RecoverVault: fail(grpc.status.FAILED_PRECONDITION, 'not the leader'),
      ListBackups: fail(grpc.status.RESOURCE_EXHAUSTED, 'too many requests'),
      // Never answers; notes when the client gives up on it.
      CheckIntegrity: (call: grpc.ServerUnaryCall<unknown, unknown>) => {
        call.on('cancelled', () => hangCancelled++);
      },
    },
    VaultService: {
      ListVaults: (call: grpc.ServerUnaryCall<{ organization?: { slug?: string } }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        const org = call.request.organization?.slug ?? '0';
        cb(null, {
          vaults: [
            { organization: { slug: org }, vault: { slug: '600000000000000001' }, status: 'VAULT_STATUS_ACTIVE', height: '0' },
            { organization: { slug: org }, vault: { slug: '600000000000000002' } },
          ],
        });
      },
      GetVault: fail(grpc.status.NOT_FOUND, 'Vault with slug 1 not found'),
    },
    HealthService: {
      Check: (call: grpc.ServerUnaryCall<{ vault?: { slug?: string } }, unknown>, cb: grpc.sendUnaryData<unknown>) =>
        cb(null, call.request.vault ? { status: 'HEALTH_STATUS_UNAVAILABLE', message: 'Vault has diverged state', details: { health_status: 'diverged' } } : { status: 'HEALTH_STATUS_HEALTHY', message: 'Node is healthy and has a leader' }),
    },
    WriteService: { Write: notLeader('http://10.0.0.3:50051') },
    // ReadService left out: grpc-js answers UNIMPLEMENTED.
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

test('proto is found and defines the services Lifeboat calls', () => {
  assert.match(ledgerProtoPath(), /src[\\/]protos[\\/]ledger[\\/]v1[\\/]ledger\.proto$/);
  assert.deepEqual(Object.keys(ledgerServiceDefinitions()), ['AdminService', 'HealthService', 'SystemDiscoveryService', 'OrganizationService', 'VaultService', 'UserService', 'ReadService', 'WriteService']);
  assert.throws(() => createLedgerServer({ NoSuchService: {} }), /no service NoSuchService/);
});

test('GetClusterInfo: proto field names, 64-bit ids exact as decimal strings, enums as names', async () => {
  const info = await pool.call(address, 'AdminService', 'GetClusterInfo', {}, { deadlineMs: 2_000 });
  assert.deepEqual(info, {
    members: [
      { node_id: '387995586469514240', address: '10.0.0.1:50051', role: 'CLUSTER_MEMBER_ROLE_VOTER', is_leader: true },
      { node_id: '387995586552948736', address: '10.0.0.2:50051', role: 'CLUSTER_MEMBER_ROLE_LEARNER', is_leader: false },
    ],
    leader_id: '387995586469514240',
    term: '12',
  });
  // 2^53 would have rounded them: they are strings, digit for digit.
  assert.notEqual(String(Number('387995586552948736')), '387995586552948736');
});

test('ListVaults: request fields reach the server, defaults filled in', async () => {
  const res = await pool.call<{ vaults: Array<{ vault: { slug: string }; status: string; height: string }> }>(
    address,
    'VaultService',
    'ListVaults',
    { organization: { slug: '500000000000000001' } },
    { deadlineMs: 2_000 },
  );
  assert.equal(res.vaults.length, 2);
  assert.equal(res.vaults[0]?.vault.slug, '600000000000000001');
  assert.equal(res.vaults[1]?.status, 'VAULT_STATUS_UNSPECIFIED'); // default, not undefined
  assert.equal(res.vaults[1]?.height, '0');
});

test('HealthService.Check: the node, or one vault', async () => {
  assert.deepEqual(await pool.call(address, 'HealthService', 'Check', {}, { deadlineMs: 2_000 }), { status: 'HEALTH_STATUS_HEALTHY', message: 'Node is healthy and has a leader', details: {} });
  const vault = await pool.call<{ status: string; details: Record<string, string> }>(address, 'HealthService', 'Check', { organization: { slug: '5' }, vault: { slug: '6' } }, { deadlineMs: 2_000 });
  assert.equal(vault.status, 'HEALTH_STATUS_UNAVAILABLE');
  assert.equal(vault.details.health_status, 'diverged');
});

test("a follower's refusal carries the leader: the trailer reaches the caller and decodes", async () => {
  const err = await failure(() => pool.call(address, 'WriteService', 'Write', {}, { deadlineMs: 2_000 }));
  assert.equal(err.type, 'Unavailable');
  assert.equal(err.retryable, true);
  assert.deepEqual(leaderHint(err), { endpoint: '10.0.0.3:50051', leaderId: '387995586552948736' });
  assert.equal(JSON.stringify(err.details).includes('leader_endpoint'), false, 'the trailer is not in the failure details');
});

test('non-retryable statuses map to named types with an actionable message', async () => {
  const notFound = await failure(() => pool.call(address, 'VaultService', 'GetVault', { organization: { slug: '1' }, vault: { slug: '1' } }, { deadlineMs: 2_000 }));
  assert.equal(notFound.type, 'NotFound');
  assert.equal(notFound.retryable, false);
  assert.equal(
    notFound.message,
    `ledger.v1.VaultService/GetVault on ${address}: NOT_FOUND: Vault with slug 1 not found; check the organization and vault slugs (64-bit numbers, \`lifeboat inventory\`) against the cluster`,
  );

  const unauth = await failure(() => pool.call(address, 'AdminService', 'LeaveCluster', { node_id: '3' }, { deadlineMs: 2_000 }));
  assert.equal(unauth.type, 'AuthFailed');
  assert.equal(unauth.retryable, false);

  const precondition = await failure(() => pool.call(address, 'AdminService', 'RecoverVault', {}, { deadlineMs: 2_000 }));
  assert.equal(precondition.type, 'FailedPrecondition');
  assert.equal(precondition.retryable, false);
  assert.match(precondition.message, /FAILED_PRECONDITION: not the leader/);

  const unimplemented = await failure(() => pool.call(address, 'ReadService', 'GetTip', {}, { deadlineMs: 2_000 }));
  assert.equal(unimplemented.type, 'Unimplemented');
  assert.equal(unimplemented.retryable, false);
  assert.match(unimplemented.message, /Lifeboat speaks inferadb-ledger 0\.1\.0 \(commit 21345c4\); check the node's version \(inferadb-ledger --version\)/);

  const badMethod = await failure(() => pool.call(address, 'AdminService', 'DropEverything', {}, { deadlineMs: 2_000 }));
  assert.equal(badMethod.type, 'InvalidArgument');
  assert.match(badMethod.message, /defines no method DropEverything/);
});

test('retryable statuses: RESOURCE_EXHAUSTED, and UNAVAILABLE from a port nobody listens on', async () => {
  const exhausted = await failure(() => pool.call(address, 'AdminService', 'ListBackups', {}, { deadlineMs: 2_000 }));
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

test('a node that was down answers again within seconds of coming back (no minutes-long reconnect backoff)', async () => {
  // A port that is free, then nobody listens on it for 20 s of polling (the backoff would grow far past 2 s).
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const where = `127.0.0.1:${port}`;
  const local = new GrpcPool(ledgerPackage);
  const back = createLedgerServer({ AdminService: { GetNodeInfo: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { node_id: '7', cluster_id: '9' }) } });
  try {
    const downUntil = Date.now() + 20_000;
    let refused = 0;
    while (Date.now() < downUntil) {
      const err = await failure(() => local.call(where, 'AdminService', 'GetNodeInfo', {}, { deadlineMs: 1_000 }));
      assert.ok(['Unavailable', 'Timeout'].includes(err.type), err.message);
      refused++;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(refused >= 10, `polled ${refused} times while down`);
    await new Promise<void>((resolve, reject) => back.bindAsync(where, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
    const cameBack = Date.now();
    let answered: number | undefined;
    for (let i = 0; i < 40 && answered === undefined; i++) {
      try {
        await local.call(where, 'AdminService', 'GetNodeInfo', {}, { deadlineMs: 1_000 });
        answered = Date.now() - cameBack;
      } catch {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    assert.ok(answered !== undefined && answered <= 4_000, `answered ${String(answered)} ms after the node came back`);
  } finally {
    local.close();
    back.forceShutdown();
  }
});
