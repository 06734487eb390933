/**
 * The context of the ledger's activities: the shared plumbing, the ledger's
 * per-cluster settings with their defaults, and its gRPC calls (one pool of
 * `ledger.v1` channels per worker, closed with it), including the routing
 * the real server needs: a write, a vault tip or a membership change is
 * served by one leader only, and a follower answers UNAVAILABLE with that
 * leader's address in the call's ErrorDetails. {@link LedgerContext.onLeader}
 * follows those hints; {@link LedgerContext.globalLeader} finds the leader of
 * the control-plane (GLOBAL) group.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import { clusterOf } from '../../inventory/load';
import type { ClusterSpec } from '../../inventory/schema';
import type { NodeRef } from '../common/types';
import { systemContext, type ActivityContext, type SystemContext } from '../context';
import { TransportError } from '../transport/errors';
import { GrpcPool } from '../transport/grpc';
import { decodeErrorDetails, ledgerPackage, type LedgerService } from './wire';

/** Per-cluster settings of a ledger cluster, with their defaults. */
export const LEDGER_DEFAULTS = {
  /** The systemd unit that runs `inferadb-ledger --listen ... --data ... [--join ...]` on each node. */
  service: 'ledger',
  /** The ledger's binary on the nodes (for `inferadb-ledger --version`). */
  binary: 'inferadb-ledger',
  /** The node's `--data` directory. */
  dataDir: '/data',
  /** Where exports are written on a node (outside the data directory, which a recovery may move aside). */
  exportDir: '/var/backups/lifeboat-ledger',
  /** How long a started node has to answer GetNodeInfo. */
  startTimeoutSeconds: 60,
  /** Run the host commands with `sudo -n`. */
  sudo: false,
  /** The recovery admin user an import registers (organizations need an admin caller). */
  recoveryEmail: 'lifeboat-recovery@example.com',
  /** The archived export a full restore starts from. */
  backupSource: 's3://ledger-backups/latest/ledger-export.jsonl',
  // Regional failover (seed 002): set on the primary cluster ...
  /** The inventory cluster of the DR region; empty: none configured. */
  drCluster: '',
  // ... and on the DR cluster.
  /** The primary's export, replicated to the DR region. */
  replicaSource: 's3://ledger-primary-backups/latest/ledger-export.jsonl',
  /** The ledger endpoint the engine is switched to. */
  drEndpoint: 'ledger.dr-region.internal:50051',
  /** The engine's ConfigMap, the key holding the ledger endpoint, and the Deployment restarted to pick it up. */
  engineConfigMap: 'ledger-config',
  endpointKey: 'LEDGER_ENDPOINT',
  engineDeployment: 'engine',
  /** Kubernetes namespace of the engine (`kubectl -n`); empty: kubectl's current context default. */
  engineNamespace: '',
  /** How long `kubectl rollout status` waits. */
  rolloutTimeoutSeconds: 180,
};

/** Deadline of a gRPC read (cluster info, health). */
const GRPC_READ_MS = 3_000;
/** Leader hints followed before giving up (a leader that moves twice during one call is an election). */
const MAX_HOPS = 3;

/** Where a call was answered: the inventory node, when the address is one. */
export interface Answered<T> {
  res: T;
  address: string;
  node?: string;
}

/** The leader of the GLOBAL group, found and confirmed alive. */
export interface GlobalLeader {
  nodeId: string;
  address: string;
  node?: string;
}

/** What the ledger's activities work with. */
export type LedgerContext = SystemContext<typeof LEDGER_DEFAULTS> & {
  /** The node's gRPC address and whether it speaks TLS; a node without one fails as BadInventory. */
  grpcAddress(ref: NodeRef): { address: string; tls: boolean };
  /** One unary `ledger.v1` call to an inventory node. */
  grpcCall<T>(ref: NodeRef, service: LedgerService, method: string, req: object, deadlineMs?: number): Promise<T>;
  /** One unary call to an address of the cluster (a leader hint), with the cluster's TLS setting. */
  callAt<T>(cluster: string, address: string, service: LedgerService, method: string, req: object, deadlineMs?: number): Promise<T>;
  /** The inventory node of the cluster whose gRPC address is `address` (`http://` prefixes ignored). */
  nodeAt(cluster: string, address: string): string | undefined;
  /**
   * A call that only a leader serves (writes, tips, vault creation): tried on
   * `nodes` in order; a follower's UNAVAILABLE with a leader hint is followed.
   */
  onLeader<T>(cluster: string, nodes: string[], service: LedgerService, method: string, req: object, deadlineMs?: number): Promise<Answered<T>>;
  /** The GLOBAL leader, as the reachable nodes name it, confirmed by asking it. */
  globalLeader(cluster: string): Promise<GlobalLeader>;
};

/** `http://127.0.0.1:50051` or `127.0.0.1:50051` -> `127.0.0.1:50051`. */
export function bareAddress(endpoint: string): string {
  return endpoint.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
}

/** The leader a follower named in its refusal, if it did. */
export function leaderHint(err: unknown): { endpoint: string; leaderId?: string } | undefined {
  if (!(err instanceof TransportError) || !err.trailer) return undefined;
  const d = decodeErrorDetails(err.trailer);
  const endpoint = d?.context.leader_endpoint;
  return endpoint ? { endpoint: bareAddress(endpoint), leaderId: d.context.leader_id } : undefined;
}

/** Narrows the worker's context to the ledger. */
export function ledgerContext(base: ActivityContext): LedgerContext {
  const ctx = systemContext(base, LEDGER_DEFAULTS);
  const pool = base.resource('grpc:ledger.v1', () => new GrpcPool(ledgerPackage));
  const signal = (): AbortSignal => Context.current().cancellationSignal;

  function grpcAddress(ref: NodeRef): { address: string; tls: boolean } {
    const { node } = base.lookup(ref);
    if (!node.grpc) throw base.missing(ref, 'grpc address', 'grpc: {address: "host:50051"}');
    return { address: node.grpc.address, tls: node.grpc.tls };
  }

  function grpcCall<T>(ref: NodeRef, service: LedgerService, method: string, req: object, deadlineMs = GRPC_READ_MS): Promise<T> {
    const { address, tls } = grpcAddress(ref);
    return pool.call<T>(address, service, method, req, { deadlineMs, tls, signal: signal() });
  }

  function clusterSpec(cluster: string): ClusterSpec {
    return clusterOf(base.inventory(), cluster);
  }

  function nodeAt(cluster: string, address: string): string | undefined {
    const want = bareAddress(address);
    return clusterSpec(cluster).nodes.find((n) => n.grpc && bareAddress(n.grpc.address) === want)?.name;
  }

  function callAt<T>(cluster: string, address: string, service: LedgerService, method: string, req: object, deadlineMs = GRPC_READ_MS): Promise<T> {
    const node = nodeAt(cluster, address);
    const tls = node ? grpcAddress({ cluster, node }).tls : clusterSpec(cluster).nodes.some((n) => n.grpc?.tls);
    return pool.call<T>(bareAddress(address), service, method, req, { deadlineMs, tls, signal: signal() });
  }

  async function onLeader<T>(cluster: string, nodes: string[], service: LedgerService, method: string, req: object, deadlineMs = 15_000): Promise<Answered<T>> {
    let last: unknown;
    for (const first of nodes) {
      let address = grpcAddress({ cluster, node: first }).address;
      for (let hop = 0; hop <= MAX_HOPS; hop++) {
        try {
          const res = await callAt<T>(cluster, address, service, method, req, deadlineMs);
          return { res, address, node: nodeAt(cluster, address) };
        } catch (err) {
          last = err;
          const hint = leaderHint(err);
          if (!hint || bareAddress(hint.endpoint) === bareAddress(address)) break;
          address = hint.endpoint;
        }
      }
      if (last instanceof TransportError && !last.retryable) throw last;
    }
    throw last instanceof Error ? last : new TransportError('Unavailable', `no node of ${cluster} served ${service}/${method}`, true);
  }

  async function globalLeader(cluster: string): Promise<GlobalLeader> {
    type Info = { leader_id?: string; members?: Array<{ node_id?: string; address?: string }> };
    const names = clusterSpec(cluster).nodes.filter((n) => n.grpc).map((n) => n.name);
    const seen: string[] = [];
    for (const node of names) {
      let info: Info;
      try {
        info = await grpcCall<Info>({ cluster, node }, 'AdminService', 'GetClusterInfo', {});
      } catch (err) {
        if (base.isUnreachable(err)) {
          seen.push(`${node}: unreachable`);
          continue;
        }
        throw err;
      }
      const leaderId = info.leader_id && info.leader_id !== '0' ? info.leader_id : undefined;
      const member = leaderId ? info.members?.find((m) => m.node_id === leaderId) : undefined;
      if (!leaderId || !member?.address) {
        seen.push(`${node}: no leader`);
        continue;
      }
      // A node keeps naming a dead leader for a while after it fails: ask the leader itself.
      try {
        const self = await callAt<{ node_id?: string }>(cluster, member.address, 'AdminService', 'GetNodeInfo', {});
        if (self.node_id === leaderId) return { nodeId: leaderId, address: bareAddress(member.address), node: nodeAt(cluster, member.address) };
        seen.push(`${node}: names ${leaderId} at ${member.address}, which answers as ${self.node_id ?? '?'}`);
      } catch (err) {
        if (!base.isUnreachable(err)) throw err;
        seen.push(`${node}: names ${leaderId} at ${member.address}, which does not answer`);
      }
    }
    throw new TransportError('NoLeader', `cluster ${cluster} has no reachable GLOBAL leader (${seen.join('; ')}); an election may be under way (it can take minutes on inferadb-ledger 0.1.0), or quorum is lost`, true);
  }

  return { ...ctx, grpcAddress, grpcCall, callAt, nodeAt, onLeader, globalLeader };
}
