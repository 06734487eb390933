/**
 * Writes the lab's `inventory.yaml`: the clusters file Lifeboat reads
 * (shape: src/inventory/schema.ts), pointing at the lab's hosts on loopback.
 * Secrets only by reference: the client key and every token are files under
 * the lab directory, referenced as `file:/abs/path`.
 *
 * @module
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Document } from 'yaml';
import type { LabFamily } from './family';

/** One lab host as the inventory needs it. */
export interface InventoryHost {
  port: number;
  /** "ssh-ed25519 AAAA..." */
  hostKey: string;
  /** Absolute working directory of the node's service, if the family has one. */
  workdir?: string;
}

export interface InventoryCluster {
  family: LabFamily;
  hosts: Map<string, InventoryHost>;
}

export interface InventoryWriteOptions {
  path: string;
  clusters: InventoryCluster[];
  /** Absolute path of the lab client's private key. */
  clientKeyPath: string;
  /** SSH user name written for every node. */
  user: string;
  /** Where tokens a family hands over in clear are stored. */
  secretsDir: string;
  /** The inventory's `approvals` (every lab cluster's). */
  approvals?: Record<string, unknown>;
}

const SECRET_REF = /^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/.+)$/;

/**
 * Build and write the inventory file.
 *
 * @returns the plain object written (handy for tests and for the CLI's table).
 */
export function writeInventory(o: InventoryWriteOptions): { clusters: Record<string, unknown> } {
  const clusters: Record<string, unknown> = {};
  for (const { family, hosts } of o.clusters) {
    const nodes = family.endpoints().map((ep) => {
      const host = hosts.get(ep.name);
      if (!host) throw new Error(`lab: ${family.cluster} endpoint ${ep.name} has no SSH host`);
      const node: Record<string, unknown> = {
        name: ep.name,
        roles: ep.roles,
        ssh: {
          host: '127.0.0.1',
          port: host.port,
          user: o.user,
          privateKey: `file:${o.clientKeyPath}`,
          hostKeys: [host.hostKey],
          ...(host.workdir ? { workdir: host.workdir } : {}),
        },
      };
      if (ep.grpc) node.grpc = { address: ep.grpc.address };
      if (ep.http) {
        const authToken = ep.http.authToken === undefined ? undefined : asSecretRef(o.secretsDir, `${family.cluster}-${ep.name}-http-token`, ep.http.authToken);
        node.http = { baseUrl: ep.http.baseUrl, ...(authToken ? { authToken } : {}) };
      }
      if (ep.metricsUrl) node.metricsUrl = ep.metricsUrl;
      return node;
    });
    clusters[family.cluster] = {
      system: family.system,
      description: `Lifeboat lab: simulated ${family.system} (${nodes.length} nodes on loopback)`,
      nodes,
      settings: family.settings(),
    };
  }
  const doc = new Document(o.approvals ? { approvals: o.approvals, clusters } : { clusters });
  doc.commentBefore =
    ' Written by the Lifeboat lab (lab/index.ts) at every lab start; edits are overwritten.\n' +
    ' Secrets are file references under the lab directory.';
  mkdirSync(join(o.path, '..'), { recursive: true });
  writeFileSync(o.path, doc.toString({ lineWidth: 0 }));
  return { clusters };
}

/** Keep a reference as is; store a clear value in a 0600 file and reference that. */
function asSecretRef(secretsDir: string, name: string, value: string): string {
  if (SECRET_REF.test(value)) return value;
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  const path = join(secretsDir, name);
  writeFileSync(path, value + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  return `file:${path}`;
}
