/**
 * gRPC transport over @grpc/grpc-js, with a system's committed `.proto`
 * loaded at runtime (no code generation). Knows no target system: a
 * {@link ProtoPackage} names the proto file, the package and the services,
 * and each system describes its own (the ledger's is in `../ledger/wire.ts`).
 *
 * {@link GrpcPool} keeps one client (one HTTP/2 channel) per address and
 * service and reuses it across calls, so activities polling a cluster do not
 * reconnect every time. Each call has its own deadline and follows the
 * activity's cancellation signal. gRPC statuses become
 * {@link TransportError}s whose `retryable` flag says whether trying again
 * can help, with a message that names the call, the node and what to do.
 *
 * {@link createGrpcServer} builds a server from the same proto; simulations
 * and tests use it, so client and server cannot drift.
 *
 * @module
 */
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { TransportError } from './errors';

/** One protobuf package a system speaks: where its `.proto` is and which services it has. */
export interface ProtoPackage<S extends string = string> {
  /** Fully qualified package name, e.g. `ledger.v1`. */
  readonly name: string;
  /** The services, in proto order. */
  readonly services: readonly S[];
  /** Absolute path of the `.proto` file (may throw with where it looked). */
  protoPath(): string;
  /** Loader options over the defaults (e.g. `{ longs: String }` where 64-bit ids exceed 2^53). */
  readonly loader?: protoLoader.Options;
  /** The system's own next step for a status, in its operators' words (replaces the generic hint). */
  readonly hints?: Partial<Record<grpc.status, string>>;
}

const loaded = new Map<string, grpc.GrpcObject>();

/**
 * Loads a package's proto once (cached by path) with the options the
 * activities rely on: field names as in the proto (`keepCase`), 64-bit
 * integers as numbers (unless the package says otherwise), enums as strings,
 * default values filled in, and oneofs named.
 *
 * @returns the gRPC package object
 */
export function loadProto(pkg: ProtoPackage): grpc.GrpcObject {
  const file = pkg.protoPath();
  let root = loaded.get(file);
  if (!root) {
    if (!fs.existsSync(file)) throw new Error(`${pkg.name}: proto file ${file} does not exist`);
    const definition = protoLoader.loadSync(file, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, ...pkg.loader });
    root = grpc.loadPackageDefinition(definition);
    loaded.set(file, root);
  }
  return root;
}

function serviceConstructor(pkg: ProtoPackage, service: string): grpc.ServiceClientConstructor {
  let node: unknown = loadProto(pkg);
  for (const part of pkg.name.split('.')) node = (node as grpc.GrpcObject | undefined)?.[part];
  const ctor = (node as grpc.GrpcObject | undefined)?.[service] as grpc.ServiceClientConstructor | undefined;
  if (!ctor || typeof ctor !== 'function') {
    throw new Error(`the proto has no service ${pkg.name}.${service}; the proto and the code disagree`);
  }
  return ctor;
}

/**
 * The service definitions of a package, for `server.addService`.
 *
 * @returns one `ServiceDefinition` per service name
 */
export function serviceDefinitions<S extends string>(pkg: ProtoPackage<S>): Record<S, grpc.ServiceDefinition> {
  const out = {} as Record<S, grpc.ServiceDefinition>;
  for (const service of pkg.services) out[service] = serviceConstructor(pkg, service).service;
  return out;
}

/**
 * Builds a grpc-js server speaking a package from plain handler objects.
 * Methods left out answer UNIMPLEMENTED (grpc-js default). The caller binds
 * and starts it (`bindAsync`) and shuts it down.
 *
 * @param pkg - the package the server speaks
 * @param impl - handlers by service name, then method name as in the proto
 * @returns an unbound server
 * @throws Error on a service name the package does not define
 * @example
 * const server = createGrpcServer(pkg, {
 *   HealthService: { Check: (_call, cb) => cb(null, { status: 'SERVING' }) },
 * });
 * server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => { ... });
 */
export function createGrpcServer(pkg: ProtoPackage, impl: { [service: string]: { [method: string]: grpc.UntypedHandleCall } }): grpc.Server {
  const definitions = serviceDefinitions(pkg) as Record<string, grpc.ServiceDefinition | undefined>;
  const server = new grpc.Server();
  for (const [service, handlers] of Object.entries(impl)) {
    const definition = definitions[service];
    if (!definition) {
      throw new Error(`${pkg.name} has no service ${service}; expected one of ${pkg.services.join(', ')}`);
    }
    server.addService(definition, handlers);
  }
  return server;
}

/** Options of one {@link GrpcPool.call}. */
export interface GrpcCallOptions {
  /** Per-call deadline in milliseconds. */
  deadlineMs: number;
  /** The activity's cancellation signal: aborting it cancels the call. */
  signal?: AbortSignal;
  /** TLS with the system roots (default: plaintext, as most internal cluster ports). */
  tls?: boolean;
}

type Retry = { type: string; retryable: boolean; hint: string };

/** gRPC status -> failure type, retryability and the next step for the operator. */
const STATUS_MAP: Partial<Record<grpc.status, Retry>> = {
  [grpc.status.UNAVAILABLE]: {
    type: 'Unavailable',
    retryable: true,
    hint: 'the node is down or unreachable; check that the service runs there and the address in the inventory',
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
    hint: 'check the names in the request (and the inventory) against the cluster',
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
    hint: "this node's server version does not serve the method; check its version against the proto Lifeboat speaks",
  },
  [grpc.status.OUT_OF_RANGE]: { type: 'OutOfRange', retryable: false, hint: 'a value is out of range for the node' },
  [grpc.status.DATA_LOSS]: {
    type: 'DataLoss',
    retryable: false,
    hint: 'the node reports unrecoverable data loss; stop and follow the data-corruption procedure',
  },
};

/**
 * Channel options. A recovery polls nodes that go down and come back: grpc-js's
 * default reconnect backoff grows to 120 s and is shared by every client of an
 * address (the global subchannel pool), so a node that is back would look down
 * for minutes. Each pool keeps its own subchannels and retries within 2 s.
 */
export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.use_local_subchannel_pool': 1,
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.min_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 2_000,
};

/**
 * A pool of clients of one package, one per address and service (and TLS
 * setting), reused across calls. One pool per package and worker;
 * {@link close} it on shutdown.
 *
 * @example
 * const pool = new GrpcPool(ledgerPackage);
 * const info = await pool.call('10.0.0.5:50051', 'AdminService', 'GetClusterInfo', {}, { deadlineMs: 3_000 });
 */
export class GrpcPool<S extends string = string> {
  private readonly clients = new Map<string, grpc.Client>();

  constructor(readonly pkg: ProtoPackage<S>) {}

  /** Number of clients (channels) currently open; for tests and diagnostics. */
  get size(): number {
    return this.clients.size;
  }

  /**
   * Makes one unary call.
   *
   * @param address - `host:port` of the node
   * @param service - service name in the package
   * @param method - method name as in the proto, e.g. `GetClusterInfo`
   * @param request - request message as a plain object (proto field names)
   * @param opts - deadline, cancellation signal, TLS
   * @returns the response message as a plain object
   * @throws TransportError mapped from the gRPC status (see the module overview)
   */
  call<Res = any>(
    address: string,
    service: S,
    method: string,
    request: object,
    opts: GrpcCallOptions,
  ): Promise<Res> {
    const name = `${this.pkg.name}.${service}/${method}`;
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
        new TransportError('InvalidArgument', `${where}: the proto defines no method ${method} in ${service}`, false, details),
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
          reject(statusError(err, where, opts.deadlineMs, details, this.pkg.hints));
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

  private client(address: string, service: S, tls: boolean): grpc.Client {
    const key = `${tls ? 'tls' : 'plain'}|${address}|${service}`;
    let client = this.clients.get(key);
    if (!client) {
      const Ctor = serviceConstructor(this.pkg, service);
      const credentials = tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
      client = new Ctor(address, credentials, CHANNEL_OPTIONS);
      this.clients.set(key, client);
    }
    return client;
  }
}

function statusError(
  err: grpc.ServiceError,
  where: string,
  deadlineMs: number,
  details: Record<string, unknown>,
  hints: Partial<Record<grpc.status, string>> | undefined,
): TransportError {
  const statusName = grpc.status[err.code] ?? `status ${err.code}`;
  const known = STATUS_MAP[err.code as grpc.status];
  const generic = known ?? { type: 'Unknown', retryable: true, hint: 'unexpected status; it will be retried' };
  const mapped = { ...generic, hint: hints?.[err.code as grpc.status] ?? generic.hint };
  const said = err.details ? err.details : '(no details)';
  const hint = err.code === grpc.status.DEADLINE_EXCEEDED ? `no answer within ${deadlineMs} ms; ${mapped.hint}` : mapped.hint;
  const trailer = err.metadata?.get('grpc-status-details-bin')[0];
  return new TransportError(
    mapped.type,
    `${where}: ${statusName}: ${said}; ${hint}`,
    mapped.retryable,
    { ...details, grpcStatus: statusName },
    Buffer.isBuffer(trailer) ? trailer : undefined,
  );
}
