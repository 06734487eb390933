/**
 * How the simulated node answers a gRPC call: a handler wrapper that counts
 * the call in `ledger_grpc_requests_total`, refuses mutating calls while
 * the host has `host.refuse-api`, and turns thrown {@link RpcError}s into
 * gRPC statuses; and the errors the real server sends, the not-leader one
 * with its `ErrorDetails` trailer (`leader_endpoint`).
 *
 * @module
 */
import * as grpc from '@grpc/grpc-js';
import { encodeErrorDetails } from '../../../src/activities/ledger/wire';
import type { SimCluster, SimNode } from './cluster';

/** The metadata key the lab's own client sets (seed, faults): such calls record no effect and ignore host faults. */
export const LAB_ACTOR_HEADER = 'x-lifeboat-lab';

/** A gRPC failure with its status code and, optionally, the ErrorDetails trailer. */
export class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
    readonly trailer?: Buffer,
  ) {
    super(message);
  }
}

/** What a handler knows about the call. */
export interface CallCtx {
  /** True for the lab's own calls (seed, faults). */
  lab: boolean;
}

export type Handler = (req: any, ctx: CallCtx) => object | Promise<object>;  

/** snake_case, as the real server labels methods in its metrics. */
function snake(method: string): string {
  return method.replace(/[A-Z]/g, (c, i: number) => (i ? '_' : '') + c.toLowerCase());
}

const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k])) as Record<number, string>;

/**
 * Wraps a handler: a stopped node fails (its server is gone anyway), a
 * mutating call on a host with `host.refuse-api` answers UNAUTHENTICATED
 * (not the lab's own calls), and every call is counted.
 */
export function unary(sim: SimCluster, n: SimNode, service: string, method: string, fn: Handler, mutating: boolean): grpc.handleUnaryCall<object, object> {
  return (call, cb) => {
    const lab = call.metadata.get(LAB_ACTOR_HEADER).length > 0;
    const count = (code: grpc.status): void => {
      const key = `service="${service}",method="${snake(method)}",status="${code === grpc.status.OK ? 'OK' : (CODE_NAMES[code] ?? 'UNKNOWN')}"`;
      n.metrics.requests.set(key, (n.metrics.requests.get(key) ?? 0) + 1);
    };
    const fail = (e: unknown): void => {
      const err = e instanceof RpcError ? e : new RpcError(grpc.status.INTERNAL, (e as Error).message);
      count(err.code);
      const metadata = new grpc.Metadata();
      if (err.trailer) metadata.set('grpc-status-details-bin', err.trailer);
      cb({ code: err.code, details: err.message, metadata, name: 'RpcError', message: err.message });
    };
    // Every answer of the real server carries its API version.
    const headers = new grpc.Metadata();
    headers.set('x-ledger-api-version', '1');
    call.sendMetadata(headers);
    try {
      if (!n.running) throw new RpcError(grpc.status.UNAVAILABLE, 'Node is shutting down');
      if (mutating && !lab && sim.hostCtl?.apiRefused(n.name)) throw new RpcError(grpc.status.UNAUTHENTICATED, 'invalid credentials');
      Promise.resolve(fn(call.request, { lab })).then(
        (res) => {
          count(grpc.status.OK);
          cb(null, res);
        },
        fail,
      );
    } catch (e) {
      fail(e);
    }
  };
}

/** UNAVAILABLE from a node that does not lead, naming the one that does (as the real server: ErrorDetails code 2000). */
export function notLeader(sim: SimCluster, cid: string, leaderId: string, message: string, shard = '0'): RpcError {
  const ctx: Record<string, string> = {};
  if (leaderId) {
    ctx.leader_id = leaderId;
    ctx.leader_endpoint = `http://${sim.address(cid, leaderId)}`;
    ctx.leader_term = String(sim.group(cid).term);
    ctx.leader_shard = shard;
  }
  return new RpcError(grpc.status.UNAVAILABLE, message, encodeErrorDetails({ errorCode: '2000', retryable: true, context: ctx }));
}

export const invalid = (m: string): RpcError => new RpcError(grpc.status.INVALID_ARGUMENT, m);
export const notFound = (m: string): RpcError => new RpcError(grpc.status.NOT_FOUND, m);
export const precondition = (m: string): RpcError => new RpcError(grpc.status.FAILED_PRECONDITION, m);

/** A proposal that cannot commit: the real server waits for its proposal timeout, then gives up. */
export async function proposalTimeout(sim: SimCluster, code: grpc.status = grpc.status.DEADLINE_EXCEEDED, message?: string): Promise<never> {
  await new Promise((r) => setTimeout(r, sim.t.proposalTimeoutMs));
  throw new RpcError(code, message ?? `Raft proposal timed out after ${sim.t.proposalTimeoutMs}ms`);
}

/** A slug from a request message (`{slug: "123"}`), '' when absent or zero. */
export function slugOf(m: { slug?: string | number } | null | undefined): string {
  const s = m?.slug === undefined ? '' : String(m.slug);
  return s === '0' ? '' : s;
}
