/**
 * The lab's own gRPC client of a ledger node, for the seed, the faults and
 * the health summary: Lifeboat's `ledger.v1` proto (64-bit ids as decimal
 * strings), a fresh channel per call (a restarted node never sees a stale
 * channel's backoff), the lab's actor header (the simulation records no
 * effect for these calls and ignores host faults; the real server ignores
 * the header), and the real server's leader hints followed on request.
 *
 * @module
 */
import * as grpc from '@grpc/grpc-js';
import { decodeErrorDetails, ledgerPackage, type LedgerService } from '../../src/activities/ledger/wire';
import { loadProto } from '../../src/activities/transport/grpc';
import { LAB_ACTOR_HEADER } from './sim/rpc';
import { bare } from './units';

/** A failed call: the gRPC status, the server's message, and the leader it named. */
export class LedgerCallError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
    readonly leaderEndpoint?: string,
  ) {
    super(`${grpc.status[code] ?? code}: ${details}`);
  }
}

function ctor(service: LedgerService): grpc.ServiceClientConstructor {
  const v1 = (loadProto(ledgerPackage).ledger as grpc.GrpcObject).v1 as grpc.GrpcObject;
  return v1[service] as grpc.ServiceClientConstructor;
}

type Json = any;  

/**
 * One unary call to `address` (host:port).
 *
 * @param actor the lab's role in the call ("seed", "fault", "health"), sent as {@link LAB_ACTOR_HEADER};
 *   '' sends none (a call as Lifeboat makes it, for tests)
 */
export async function call(address: string, service: LedgerService, method: string, req: object = {}, deadlineMs = 5000, actor = 'lab'): Promise<Json> {
  const Client = ctor(service);
  // Its own subchannel: grpc-js shares subchannels per address across clients, and a shared one keeps the
  // reconnect backoff (up to minutes) another client built up while the node was down.
  const client = new Client(bare(address), grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const md = new grpc.Metadata();
  if (actor) md.set(LAB_ACTOR_HEADER, actor);
  try {
    return await new Promise((ok, ko) => {
      const fn = (client as unknown as Record<string, (...a: unknown[]) => void>)[method];
      if (!fn) return ko(new Error(`ledger.v1.${service} has no method ${method}`));
      fn.call(client, req, md, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: Json) => {
        if (!err) return ok(res);
        const bin = err.metadata?.get('grpc-status-details-bin')[0];
        const hint = Buffer.isBuffer(bin) ? decodeErrorDetails(bin)?.context.leader_endpoint : undefined;
        ko(new LedgerCallError(err.code, err.details, hint ? bare(hint) : undefined));
      });
    });
  } finally {
    client.close();
  }
}

/** A call that only a leader serves: a refusal naming a leader is retried there (at most 3 hops). */
export async function callLeader(address: string, service: LedgerService, method: string, req: object = {}, deadlineMs = 15_000, actor = 'lab'): Promise<{ res: Json; address: string }> {
  let at = bare(address);
  for (let hop = 0; ; hop++) {
    try {
      return { res: await call(at, service, method, req, deadlineMs, actor), address: at };
    } catch (e) {
      if (hop < 3 && e instanceof LedgerCallError && e.leaderEndpoint && e.leaderEndpoint !== at) {
        at = e.leaderEndpoint;
        continue;
      }
      throw e;
    }
  }
}

/** Calls `fn` until it returns a value (not undefined), every `everyMs`, at most `withinMs`; the last error explains a timeout. */
export async function retry<T>(what: string, fn: () => Promise<T | undefined>, withinMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + withinMs;
  let last = '';
  for (let i = 0; i < 100_000; i++) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
      last = 'not yet';
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`lab ledger: timed out after ${withinMs} ms waiting for ${what} (last: ${last})`);
}

/** A node's identity and GLOBAL view in one go; undefined when it does not answer. */
export async function nodeView(address: string, actor = 'lab'): Promise<
  | {
      nodeId: string;
      clusterId: string;
      state: string;
      leaderId: string;
      members: Array<{ id: string; address: string }>;
      term: string;
    }
  | undefined
> {
  try {
    const [info, ci] = await Promise.all([call(address, 'AdminService', 'GetNodeInfo', {}, 2000, actor), call(address, 'AdminService', 'GetClusterInfo', {}, 2000, actor)]);
    return {
      nodeId: String(info.node_id),
      clusterId: String(info.cluster_id),
      state: String(info.state),
      leaderId: String(ci.leader_id),
      members: (ci.members as Json[]).map((m) => ({ id: String(m.node_id), address: String(m.address) })),
      term: String(ci.term),
    };
  } catch {
    return undefined;
  }
}
