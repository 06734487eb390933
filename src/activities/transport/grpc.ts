/**
 * gRPC transport for the ledger's `ledger.v1` services, over @grpc/grpc-js
 * with the committed `.proto` loaded at runtime (no code generation).
 *
 * {@link LedgerGrpcPool} keeps one client (one HTTP/2 channel) per address
 * and service and reuses it across calls, so activities polling a cluster do
 * not reconnect every time. Each call has its own deadline and follows the
 * activity's cancellation signal. gRPC statuses become
 * {@link TransportError}s whose `retryable` flag says whether trying again
 * can help, with a message that names the call, the node and what to do.
 *
 * {@link createLedgerServer} builds a server from the same proto; the lab's
 * simulated ledger and the tests use it, so client and server cannot drift.
 *
 * @module
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { TransportError } from './errors';

/** The four services of `ledger.v1`. */
export type LedgerService = 'AdminService' | 'ReadService' | 'WriteService' | 'HealthService';

/** The services, in proto order. */
export const LEDGER_SERVICES: readonly LedgerService[] = ['AdminService', 'ReadService', 'WriteService', 'HealthService'];

const PROTO_RELATIVE = path.join('protos', 'ledger', 'v1', 'ledger.proto');

/**
 * Finds `ledger.proto` on disk. Tries, in order: `$LIFEBOAT_PROTO_DIR`
 * (a directory containing `ledger/v1/ledger.proto`), the source tree seen from
 * the compiled `dist/src/activities`, a `protos/` directory next to this
 * module's parent (packaged layout, or running from `src/` directly), and
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
    path.resolve(__dirname, '../../../src', PROTO_RELATIVE), // dist/src/activities -> <root>/src/protos
    path.resolve(__dirname, '..', PROTO_RELATIVE), // src/activities -> src/protos, or <pkg>/protos
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

let cachedPackage: grpc.GrpcObject | undefined;

/**
 * Loads `ledger.proto` once (cached) with the options the activities rely on:
 * field names as in the proto (`keepCase`), 64-bit integers as numbers
 * (heights and terms stay far below 2^53), enums as strings, default values
 * filled in, and oneofs named.
 *
 * @returns the gRPC package object (`pkg.ledger.v1.AdminService`, ...)
 */
export function loadLedgerPackage(): grpc.GrpcObject {
  if (!cachedPackage) {
    const definition = protoLoader.loadSync(ledgerProtoPath(), {
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    cachedPackage = grpc.loadPackageDefinition(definition);
  }
  return cachedPackage;
}

function serviceConstructor(service: LedgerService): grpc.ServiceClientConstructor {
  const ledger = loadLedgerPackage().ledger as grpc.GrpcObject | undefined;
  const v1 = ledger?.v1 as grpc.GrpcObject | undefined;
  const ctor = v1?.[service] as grpc.ServiceClientConstructor | undefined;
  if (!ctor || typeof ctor !== 'function') {
    throw new Error(`ledger.proto has no service ledger.v1.${service}; the proto and the code disagree`);
  }
  return ctor;
}

/**
 * The service definitions of `ledger.v1`, for `server.addService`.
 *
 * @returns one `ServiceDefinition` per service name
 */
export function ledgerServiceDefinitions(): Record<LedgerService, grpc.ServiceDefinition> {
  const out = {} as Record<LedgerService, grpc.ServiceDefinition>;
  for (const service of LEDGER_SERVICES) out[service] = serviceConstructor(service).service;
  return out;
}

/**
 * Builds a grpc-js server speaking `ledger.v1` from plain handler objects.
 * Methods left out answer UNIMPLEMENTED (grpc-js default). The caller binds
 * and starts it (`bindAsync`) and shuts it down.
 *
 * @param impl - handlers by service name, then method name as in the proto
 * @returns an unbound server
 * @throws Error on a service name the proto does not define
 * @example
 * const server = createLedgerServer({
 *   HealthService: { Check: (_call, cb) => cb(null, { status: 'SERVING' }) },
 * });
 * server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => { ... });
 */
export function createLedgerServer(impl: { [service: string]: { [method: string]: grpc.UntypedHandleCall } }): grpc.Server {
  const definitions = ledgerServiceDefinitions();
  const server = new grpc.Server();
  for (const [service, handlers] of Object.entries(impl)) {
    const definition = definitions[service as LedgerService];
    if (!definition) {
      throw new Error(`ledger.v1 has no service ${service}; expected one of ${LEDGER_SERVICES.join(', ')}`);
    }
    server.addService(definition, handlers);
  }
  return server;
}

/** Options of one {@link LedgerGrpcPool.call}. */
export interface LedgerCallOptions {
  /** Per-call deadline in milliseconds. */
  deadlineMs: number;
  /** The activity's cancellation signal: aborting it cancels the call. */
  signal?: AbortSignal;
  /** TLS with the system roots (default: plaintext, as the ledger's internal port). */
  tls?: boolean;
}

type Retry = { type: string; retryable: boolean; hint: string };

/** gRPC status -> failure type, retryability and the next step for the operator. */
const STATUS_MAP: Partial<Record<grpc.status, Retry>> = {
  [grpc.status.UNAVAILABLE]: {
    type: 'Unavailable',
    retryable: true,
    hint: 'the node is down or unreachable; check that the ledger runs there and the address in the inventory',
  },
  [grpc.status.DEADLINE_EXCEEDED]: {
    type: 'Timeout',
    retryable: true,
    hint: 'no answer before the deadline; the node may be overloaded, electing, or partitioned',
  },
  [grpc.status.RESOURCE_EXHAUSTED]: { type: 'ResourceExhausted', retryable: true, hint: 'the node is shedding load; it will be retried' },
  [grpc.status.ABORTED]: { type: 'Aborted', retryable: true, hint: 'the operation conflicted with another; it will be retried' },
  [grpc.status.INTERNAL]: { type: 'Internal', retryable: true, hint: "the node failed internally; check the node's logs" },
  [grpc.status.UNKNOWN]: { type: 'Unknown', retryable: true, hint: "the node raised an unexpected error; check the node's logs" },
  [grpc.status.CANCELLED]: { type: 'RemoteCancelled', retryable: true, hint: 'the node cancelled the call; it will be retried' },
  [grpc.status.INVALID_ARGUMENT]: {
    type: 'InvalidArgument',
    retryable: false,
    hint: 'the node rejected the request; check the names and values passed (and the proto version)',
  },
  [grpc.status.NOT_FOUND]: {
    type: 'NotFound',
    retryable: false,
    hint: 'check the organization / vault / node names against the cluster',
  },
  [grpc.status.ALREADY_EXISTS]: { type: 'AlreadyExists', retryable: false, hint: 'the object already exists' },
  [grpc.status.PERMISSION_DENIED]: {
    type: 'PermissionDenied',
    retryable: false,
    hint: "the caller is not allowed to do this; check the worker's credentials for this cluster",
  },
  [grpc.status.UNAUTHENTICATED]: {
    type: 'AuthFailed',
    retryable: false,
    hint: "the node refused the credentials; check the cluster's credential reference in the inventory",
  },
  [grpc.status.FAILED_PRECONDITION]: {
    type: 'FailedPrecondition',
    retryable: false,
    hint: 'the node is not in a state that allows this (e.g. not the leader, or not stopped); check the cluster state first',
  },
  [grpc.status.UNIMPLEMENTED]: {
    type: 'Unimplemented',
    retryable: false,
    hint: "this node's ledger version does not serve the method; check the ledger version against ledger.proto",
  },
  [grpc.status.OUT_OF_RANGE]: { type: 'OutOfRange', retryable: false, hint: 'a value is out of range for the node' },
  [grpc.status.DATA_LOSS]: {
    type: 'DataLoss',
    retryable: false,
    hint: 'the node reports unrecoverable data loss; stop and follow the data-corruption procedure',
  },
};

/**
 * A pool of `ledger.v1` clients, one per address and service (and TLS
 * setting), reused across calls. One pool per worker; {@link close} it on
 * shutdown.
 *
 * @example
 * const pool = new LedgerGrpcPool();
 * const info = await pool.call('10.0.0.5:50051', 'AdminService', 'GetClusterInfo', {}, { deadlineMs: 3_000 });
 */
export class LedgerGrpcPool {
  private readonly clients = new Map<string, grpc.Client>();

  /** Number of clients (channels) currently open; for tests and diagnostics. */
  get size(): number {
    return this.clients.size;
  }

  /**
   * Makes one unary call.
   *
   * @param address - `host:port` of the node
   * @param service - service name in `ledger.v1`
   * @param method - method name as in the proto, e.g. `GetClusterInfo`
   * @param request - request message as a plain object (proto field names)
   * @param opts - deadline, cancellation signal, TLS
   * @returns the response message as a plain object
   * @throws TransportError mapped from the gRPC status (see the module overview)
   */
  call<Res = any>(
    address: string,
    service: LedgerService,
    method: string,
    request: object,
    opts: LedgerCallOptions,
  ): Promise<Res> {
    const name = `ledger.v1.${service}/${method}`;
    const where = `${name} on ${address}`;
    const details = { service, method, address };
    if (!(opts.deadlineMs > 0)) {
      return Promise.reject(new TransportError('InvalidArgument', `${where}: deadlineMs must be a positive number`, false, details));
    }
    if (opts.signal?.aborted) {
      return Promise.reject(new TransportError('Cancelled', `${where} was cancelled before it was sent`, false, details));
    }
    let client: grpc.Client;
    try {
      client = this.client(address, service, opts.tls ?? false);
    } catch (err) {
      return Promise.reject(err);
    }
    const definition = (client.constructor as grpc.ServiceClientConstructor).service;
    const fn = (client as unknown as Record<string, unknown>)[method];
    if (!Object.prototype.hasOwnProperty.call(definition, method) || typeof fn !== 'function') {
      return Promise.reject(
        new TransportError('InvalidArgument', `${where}: ledger.proto defines no method ${method} in ${service}`, false, details),
      );
    }

    return new Promise<Res>((resolve, reject) => {
      let abortedByUs = false;
      const onAbort = (): void => {
        abortedByUs = true;
        call.cancel();
      };
      const call = (fn as (...args: unknown[]) => grpc.ClientUnaryCall).call(
        client,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + opts.deadlineMs },
        (err: grpc.ServiceError | null, res: Res) => {
          opts.signal?.removeEventListener('abort', onAbort);
          if (!err) {
            resolve(res);
            return;
          }
          if (err.code === grpc.status.CANCELLED && abortedByUs) {
            reject(new TransportError('Cancelled', `${where} was cancelled`, false, details));
            return;
          }
          reject(statusError(err, where, opts.deadlineMs, details));
        },
      );
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Closes every channel. Calls in flight fail; later calls open new channels. */
  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private client(address: string, service: LedgerService, tls: boolean): grpc.Client {
    const key = `${tls ? 'tls' : 'plain'}|${address}|${service}`;
    let client = this.clients.get(key);
    if (!client) {
      const Ctor = serviceConstructor(service);
      const credentials = tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
      client = new Ctor(address, credentials);
      this.clients.set(key, client);
    }
    return client;
  }
}

function statusError(err: grpc.ServiceError, where: string, deadlineMs: number, details: Record<string, unknown>): TransportError {
  const statusName = grpc.status[err.code] ?? `status ${err.code}`;
  const known = STATUS_MAP[err.code as grpc.status];
  const mapped = known ?? { type: 'Unknown', retryable: true, hint: 'unexpected status; it will be retried' };
  const said = err.details ? err.details : '(no details)';
  const hint = err.code === grpc.status.DEADLINE_EXCEEDED ? `no answer within ${deadlineMs} ms; ${mapped.hint}` : mapped.hint;
  return new TransportError(mapped.type, `${where}: ${statusName}: ${said}; ${hint}`, mapped.retryable, {
    ...details,
    grpcStatus: statusName,
  });
}
