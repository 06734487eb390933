/**
 * The ledger's wire API: the `ledger.v1` protobuf package, where its `.proto`
 * is found, and a server built from the same file (the lab's simulated
 * ledger and the tests use it, so client and server cannot drift).
 *
 * @module
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createGrpcServer, serviceDefinitions, type ProtoPackage } from '../transport/grpc';

/** The services of `ledger.v1` that Lifeboat calls. */
export type LedgerService = 'AdminService' | 'ReadService' | 'WriteService' | 'HealthService';

/** The services, in proto order. */
export const LEDGER_SERVICES: readonly LedgerService[] = ['AdminService', 'ReadService', 'WriteService', 'HealthService'];

const PROTO_RELATIVE = path.join('protos', 'ledger', 'v1', 'ledger.proto');

/**
 * Finds `ledger.proto` on disk. Tries, in order: `$LIFEBOAT_PROTO_DIR`
 * (a directory containing `ledger/v1/ledger.proto`), the source tree seen from
 * the compiled `dist/src/activities/ledger`, a `protos/` directory two levels
 * up from this module (packaged layout, or running from `src/` directly), and
 * `src/protos` under the current working directory.
 *
 * @returns an absolute path to an existing `ledger.proto`
 * @throws Error listing every place looked at, when none has it
 */
export function ledgerProtoPath(): string {
  const candidates: string[] = [];
  const override = process.env.LIFEBOAT_PROTO_DIR;
  if (override) candidates.push(path.resolve(override, 'ledger', 'v1', 'ledger.proto'));
  candidates.push(
    path.resolve(__dirname, '../../../../src', PROTO_RELATIVE), // dist/src/activities/ledger -> <root>/src/protos
    path.resolve(__dirname, '../..', PROTO_RELATIVE), // src/activities/ledger -> src/protos, or <pkg>/protos
    path.resolve(process.cwd(), 'src', PROTO_RELATIVE),
  );
  for (const candidate of candidates) {
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error(
    `ledger.proto not found; looked at: ${candidates.join(', ')}. ` +
      'Ship src/protos with the worker or set LIFEBOAT_PROTO_DIR to the directory holding ledger/v1/ledger.proto.',
  );
}

/** The `ledger.v1` package, as the gRPC transport loads it. */
export const ledgerPackage: ProtoPackage<LedgerService> = {
  name: 'ledger.v1',
  services: LEDGER_SERVICES,
  protoPath: ledgerProtoPath,
  hints: {
    [grpc.status.UNAVAILABLE]: 'the node is down or unreachable; check that the ledger runs there and the address in the inventory',
    [grpc.status.NOT_FOUND]: 'check the organization / vault / node names against the cluster',
    [grpc.status.UNIMPLEMENTED]: "this node's ledger version does not serve the method; check the ledger version against ledger.proto",
  },
};

/** The service definitions of `ledger.v1`, for `server.addService`. */
export function ledgerServiceDefinitions(): Record<LedgerService, grpc.ServiceDefinition> {
  return serviceDefinitions(ledgerPackage);
}

/**
 * Builds a grpc-js server speaking `ledger.v1` from plain handler objects;
 * methods left out answer UNIMPLEMENTED.
 *
 * @example
 * const server = createLedgerServer({ HealthService: { Check: (_call, cb) => cb(null, { status: 'SERVING' }) } });
 */
export function createLedgerServer(impl: { [service: string]: { [method: string]: grpc.UntypedHandleCall } }): grpc.Server {
  return createGrpcServer(ledgerPackage, impl);
}
