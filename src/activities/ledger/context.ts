/**
 * The context of the ledger's activities: the shared plumbing, the ledger's
 * per-cluster settings with their defaults, and its gRPC calls (one pool of
 * `ledger.v1` channels per worker, closed with it).
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import { systemContext, type ActivityContext, type SystemContext } from '../context';
import type { NodeRef } from '../common/types';
import { GrpcPool } from '../transport/grpc';
import { ledgerPackage, type LedgerService } from './wire';

/** Per-cluster settings of a ledger cluster, with their defaults (the runbook's values). */
export const LEDGER_DEFAULTS = {
  service: 'ledger',
  binary: 'inferadb-ledger',
  dataDir: '/data',
  startLog: 'ledger-start.log',
  startTimeoutSeconds: 60,
  sudo: false,
  // Regional failover (seed 002): set on the primary cluster ...
  /** The inventory cluster of the DR region; empty: none configured. */
  drCluster: '',
  // ... and on the DR cluster.
  /** The replicated snapshots the DR voters sync (`aws s3 sync <replicaSource> ./data/`). */
  replicaSource: 's3://ledger-primary-backups/latest/',
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

/** What the ledger's activities work with. */
export type LedgerContext = SystemContext<typeof LEDGER_DEFAULTS> & {
  /** The node's gRPC address and whether it speaks TLS; a node without one fails as BadInventory. */
  grpcAddress(ref: NodeRef): { address: string; tls: boolean };
  /** One unary `ledger.v1` call to the node, with a deadline, following the activity's cancellation. */
  grpcCall<T>(ref: NodeRef, service: LedgerService, method: string, req: object, deadlineMs?: number): Promise<T>;
};

/** Narrows the worker's context to the ledger. */
export function ledgerContext(base: ActivityContext): LedgerContext {
  const ctx = systemContext(base, LEDGER_DEFAULTS);
  const pool = base.resource('grpc:ledger.v1', () => new GrpcPool(ledgerPackage));
  function grpcAddress(ref: NodeRef): { address: string; tls: boolean } {
    const { node } = base.lookup(ref);
    if (!node.grpc) throw base.missing(ref, 'grpc address', 'grpc: {address: "host:50051"}');
    return { address: node.grpc.address, tls: node.grpc.tls };
  }
  function grpcCall<T>(ref: NodeRef, service: LedgerService, method: string, req: object, deadlineMs = GRPC_READ_MS): Promise<T> {
    const { address, tls } = grpcAddress(ref);
    return pool.call<T>(address, service, method, req, { deadlineMs, tls, signal: Context.current().cancellationSignal });
  }
  return { ...ctx, grpcAddress, grpcCall };
}
