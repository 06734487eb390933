/**
 * The clusters file: which clusters exist, how to reach their nodes, and
 * where their secrets live. Secrets appear only as references
 * (`env:NAME`, `file:/path`), resolved on the worker by {@link ../secrets}.
 *
 * @example
 * ```yaml
 * clusters:
 *   ledger-prod:
 *     system: ledger
 *     taskQueue: lifeboat-eu-west      # workers outside the failing region
 *     nodes:
 *       - name: node1
 *         roles: [voter]
 *         ssh: { host: 10.0.0.11, user: ops, privateKey: "file:/etc/lifeboat/ssh/id_ed25519",
 *                hostKeys: ["ssh-ed25519 AAAAC3..."] }
 *         grpc: { address: "10.0.0.11:50051" }
 *         metricsUrl: "http://10.0.0.11:9090/metrics"
 * ```
 * @module
 */
import { z } from 'zod';

export const SYSTEMS = ['ledger', 'gossip', 'training-cluster', 'train-server'] as const;
export type System = (typeof SYSTEMS)[number];

/** `env:NAME` or `file:/absolute/path`. The value itself never appears in the inventory. */
export const SecretRef = z
  .string()
  .regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/.+)$/, {
    message: 'must be a secret reference: "env:VAR_NAME" or "file:/absolute/path" (never the secret itself)',
  });
export type SecretRef = z.infer<typeof SecretRef>;

/** One OpenSSH public host key, as in a known_hosts line without the host: "ssh-ed25519 AAAA...". */
const HostKey = z
  .string()
  .regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/, {
    message: 'must be an OpenSSH public key line such as "ssh-ed25519 AAAAC3Nza..." (see `ssh-keyscan -t ed25519 HOST`)',
  });

export const SshTarget = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().min(1),
  privateKey: SecretRef,
  passphrase: SecretRef.optional(),
  /** Pinned host keys; a connection presenting any other key is refused. */
  hostKeys: z.array(HostKey).min(1, { message: 'pin at least one host key (ssh-keyscan output)' }),
  /** Working directory of the service on this host (the runbook's `cd ...`). */
  workdir: z.string().optional(),
});
export type SshTarget = z.infer<typeof SshTarget>;

export const NodeSpec = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { message: 'node names are letters, digits, ".", "_" and "-"' }),
  roles: z.array(z.string()).default([]),
  ssh: SshTarget.optional(),
  /** gRPC endpoint "host:port" (ledger). */
  grpc: z.object({ address: z.string().min(1), tls: z.boolean().default(false) }).optional(),
  /** HTTP API base URL (P2P orchestrator, gossip debug API). */
  http: z.object({ baseUrl: z.url(), authToken: SecretRef.optional() }).optional(),
  metricsUrl: z.url().optional(),
});
export type NodeSpec = z.infer<typeof NodeSpec>;

/**
 * How a cluster's recoveries are approved. `signed` (the default once
 * `allowedSigners` is named): every start, approval, rejection and decision is
 * signed with the operator's SSH key and verified by the workflow against the
 * allowed signers. `unsigned`: names only, recorded as "identity not verified".
 */
export const ApprovalsSpec = z
  .object({
    mode: z.enum(['signed', 'unsigned']).optional(),
    /** OpenSSH allowed-signers file (public keys only): absolute, or relative to the inventory file. */
    allowedSigners: z.string().min(1).optional(),
    /** Gates that need more than one approver (distinct keys), e.g. `new-cluster-identity: 2`. */
    required: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: 'gate names are lowercase letters, digits and "-"' }), z.number().int().min(1).max(9)).default({}),
    /** How old a signed statement may be when it reaches the workflow (default 600). */
    maxAgeSeconds: z.number().int().min(30).max(86_400).optional(),
  })
  .superRefine((a, ctx) => {
    if (a.mode === 'signed' && !a.allowedSigners) {
      ctx.addIssue({ code: 'custom', path: ['allowedSigners'], message: 'signed approvals need an allowedSigners file (OpenSSH format: `principal keytype base64-key` per line)' });
    }
    if (a.mode === 'unsigned' && a.allowedSigners) {
      ctx.addIssue({ code: 'custom', path: ['mode'], message: 'mode is unsigned but allowedSigners is named: drop one of them' });
    }
  });
export type ApprovalsSpec = z.infer<typeof ApprovalsSpec>;

export const ClusterSpec = z
  .object({
    system: z.enum(SYSTEMS),
    description: z.string().optional(),
    /** Task queue whose workers run this cluster's recoveries (keep them outside the cluster's failure domain). */
    taskQueue: z.string().min(1).default('lifeboat'),
    nodes: z.array(NodeSpec).min(1),
    /** System-specific settings (service names, admin URLs, data directories). Secret values only by reference. */
    settings: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    /** How this cluster's recoveries are approved (overrides the inventory's `approvals`). */
    approvals: ApprovalsSpec.optional(),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.nodes.forEach((n, i) => {
      if (seen.has(n.name)) {
        ctx.addIssue({ code: 'custom', path: ['nodes', i, 'name'], message: `duplicate node name "${n.name}"` });
      }
      seen.add(n.name);
    });
  });
export type ClusterSpec = z.infer<typeof ClusterSpec>;

export const Inventory = z.object({
  /** How recoveries are approved, for every cluster that does not say otherwise. */
  approvals: ApprovalsSpec.optional(),
  clusters: z.record(
    z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: 'cluster names are lowercase letters, digits and "-"' }),
    ClusterSpec,
  ),
});
export type Inventory = z.infer<typeof Inventory>;
