/**
 * The `ledger.v1` proto, as the lab's ledger nodes load it: its path from the
 * compiled `dist/lab/ledger/`, the loader options every ledger client and
 * server in the project uses, and the loaded package.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Where the `ledger.v1` proto lives, seen from the compiled `dist/lab/ledger/proto.js`. */
export const LEDGER_PROTO_PATH = resolve(__dirname, '../../../src/protos/ledger/v1/ledger.proto');

/** Proto-loader options every ledger client and server in the project uses. */
export const LEDGER_PROTO_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

/** The `ledger.v1` package (AdminService, ReadService, WriteService, HealthService constructors). */
export function loadLedgerPackage(protoPath: string = LEDGER_PROTO_PATH): grpc.GrpcObject {
  if (!existsSync(protoPath)) {
    throw new Error(`lab ledger: proto file ${protoPath} not found; run the lab from the built checkout (dist/lab/ledger) so ../../../src/protos is present`);
  }
  const def = protoLoader.loadSync(protoPath, LEDGER_PROTO_OPTIONS);
  const root = grpc.loadPackageDefinition(def);
  return (root.ledger as grpc.GrpcObject).v1 as grpc.GrpcObject;
}
