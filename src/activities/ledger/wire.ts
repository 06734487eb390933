/**
 * The ledger's wire API: the `ledger.v1` protobuf package as Lifeboat speaks
 * it (`src/protos/ledger/v1/ledger.proto`, the subset of inferadb-ledger's
 * own proto that Lifeboat uses), where the file is found, a server built from
 * the same file (the lab's simulated ledger and the tests use it, so client
 * and server cannot drift), and the decoding of the `ErrorDetails` a server
 * attaches to a refused call.
 *
 * @module
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createGrpcServer, serviceDefinitions, type ProtoPackage } from '../transport/grpc';

/** The inferadb ledger Lifeboat speaks: the commit of its proto and the version its binary reports. */
export const LEDGER_SERVER_VERSION = { commit: '21345c44769040b857139d2729510401df4994b0', version: '0.1.0' } as const;

/** The services of `ledger.v1` that Lifeboat calls. */
export type LedgerService =
  | 'AdminService'
  | 'HealthService'
  | 'SystemDiscoveryService'
  | 'OrganizationService'
  | 'VaultService'
  | 'UserService'
  | 'ReadService'
  | 'WriteService';

/** The services, in proto order. */
export const LEDGER_SERVICES: readonly LedgerService[] = [
  'AdminService',
  'HealthService',
  'SystemDiscoveryService',
  'OrganizationService',
  'VaultService',
  'UserService',
  'ReadService',
  'WriteService',
];

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

const VERSION_HINT = `Lifeboat speaks inferadb-ledger ${LEDGER_SERVER_VERSION.version} (commit ${LEDGER_SERVER_VERSION.commit.slice(0, 7)}); check the node's version (inferadb-ledger --version) and docs/ledger.md`;

/** The `ledger.v1` package, as the gRPC transport loads it: 64-bit ids stay exact as decimal strings. */
export const ledgerPackage: ProtoPackage<LedgerService> = {
  name: 'ledger.v1',
  services: LEDGER_SERVICES,
  protoPath: ledgerProtoPath,
  loader: { longs: String },
  hints: {
    [grpc.status.UNAVAILABLE]: 'the node is down, unreachable or not the leader; check that the ledger runs there and the address in the inventory',
    [grpc.status.NOT_FOUND]: 'check the organization and vault slugs (64-bit numbers, `lifeboat inventory`) against the cluster',
    [grpc.status.UNIMPLEMENTED]: `this node does not serve the method: ${VERSION_HINT}`,
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
 * const server = createLedgerServer({ HealthService: { Check: (_call, cb) => cb(null, { status: 'HEALTH_STATUS_HEALTHY' }) } });
 */
export function createLedgerServer(impl: { [service: string]: { [method: string]: grpc.UntypedHandleCall } }): grpc.Server {
  return createGrpcServer(ledgerPackage, impl);
}

/** The parts of a `ledger.v1.ErrorDetails` Lifeboat reads. */
export interface LedgerErrorDetails {
  errorCode: string;
  retryable: boolean;
  /** e.g. `leader_id`, `leader_endpoint` (http://host:port), `leader_term`. */
  context: Record<string, string>;
}

/**
 * Decodes the `grpc-status-details-bin` trailer of a refused call, which the
 * ledger fills with a bare `ledger.v1.ErrorDetails` (not a `google.rpc.Status`).
 * A few lines of protobuf wire decoding, for three fields.
 *
 * @returns the details, or `undefined` when the bytes are not one
 */
export function decodeErrorDetails(bytes: Buffer | Uint8Array): LedgerErrorDetails | undefined {
  try {
    const out: LedgerErrorDetails = { errorCode: '', retryable: false, context: {} };
    const r = new WireReader(bytes);
    while (!r.done()) {
      const { field, wire } = r.tag();
      if (field === 1 && wire === 2) out.errorCode = r.string();
      else if (field === 2 && wire === 0) out.retryable = r.varint() !== 0;
      else if (field === 4 && wire === 2) {
        const entry = new WireReader(r.bytes());
        let key = '';
        let value = '';
        while (!entry.done()) {
          const t = entry.tag();
          if (t.field === 1 && t.wire === 2) key = entry.string();
          else if (t.field === 2 && t.wire === 2) value = entry.string();
          else entry.skip(t.wire);
        }
        out.context[key] = value;
      } else r.skip(wire);
    }
    return out;
  } catch {
    return undefined;
  }
}

/** Encodes `ErrorDetails` (the lab's simulated ledger answers like the real one). */
export function encodeErrorDetails(d: LedgerErrorDetails): Buffer {
  const parts: Buffer[] = [];
  const str = (field: number, s: string): void => {
    const b = Buffer.from(s, 'utf8');
    parts.push(Buffer.from([(field << 3) | 2]), varint(b.length), b);
  };
  if (d.errorCode) str(1, d.errorCode);
  if (d.retryable) parts.push(Buffer.from([2 << 3, 1]));
  for (const [k, v] of Object.entries(d.context)) {
    const kb = Buffer.from(k, 'utf8');
    const vb = Buffer.from(v, 'utf8');
    const entry = Buffer.concat([Buffer.from([(1 << 3) | 2]), varint(kb.length), kb, Buffer.from([(2 << 3) | 2]), varint(vb.length), vb]);
    parts.push(Buffer.from([(4 << 3) | 2]), varint(entry.length), entry);
  }
  return Buffer.concat(parts);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

class WireReader {
  private pos = 0;
  constructor(private readonly buf: Buffer | Uint8Array) {}
  done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.buf[this.pos++];
      if (b === undefined) throw new Error('truncated varint');
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new Error('varint too long');
  }
  tag(): { field: number; wire: number } {
    const t = this.varint();
    return { field: Math.floor(t / 8), wire: t & 7 };
  }
  bytes(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.buf.length) throw new Error('truncated field');
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }
  string(): string {
    return Buffer.from(this.bytes()).toString('utf8');
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

/** An id or slug as the server sends it (a decimal string); `0`, the server's "none", as undefined. */
export function id(v: string | undefined): string | undefined {
  return v && v !== '0' ? v : undefined;
}
