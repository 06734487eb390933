/**
 * Loads the clusters file (YAML, validated by {@link ./schema}) and looks
 * clusters and nodes up by name. Validation reports every problem at once,
 * each with its field path, so an operator fixes the file in one pass.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import type { ClusterTopology } from '../workflows/kit/defs';
import { Inventory, type ClusterSpec, type NodeSpec } from './schema';

export type { Inventory } from './schema';

/** The inventory is missing, unreadable or invalid, or names something it does not hold. Exit code 2. */
export class InventoryError extends Error {
  override readonly name = 'InventoryError';
  constructor(
    message: string,
    /** What the operator should do next. */
    readonly fix: string,
    /** Every problem found, as `field.path: message` (empty for lookups). */
    readonly problems: string[] = [],
    /** The CLI argument at fault, for lookups (`cluster`, `node`). */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** The environment variable that raises the bound on YAML alias expansions. */
export const ALIAS_LIMIT_ENV = 'LIFEBOAT_INVENTORY_MAX_ALIASES';
/** The YAML library's own default bound on alias expansions. */
export const DEFAULT_MAX_ALIASES = 100;

/** The bound on alias expansions: {@link ALIAS_LIMIT_ENV}, else {@link DEFAULT_MAX_ALIASES}. */
function aliasLimit(env: NodeJS.ProcessEnv): number {
  const raw = env[ALIAS_LIMIT_ENV];
  if (raw === undefined || raw === '') return DEFAULT_MAX_ALIASES;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new InventoryError(`${ALIAS_LIMIT_ENV}=${JSON.stringify(raw)} is not a positive whole number`, `set ${ALIAS_LIMIT_ENV} to a count such as 1000, or unset it for the default (${DEFAULT_MAX_ALIASES})`);
  }
  return n;
}

/**
 * Reads and validates a clusters file.
 *
 * @param file path of the YAML file
 * @param env where {@link ALIAS_LIMIT_ENV} is read (default: this process's environment)
 * @returns the inventory with schema defaults filled in
 * @throws {@link InventoryError} listing every problem as `clusters.<name>.nodes[0].ssh.hostKeys: <message>`
 */
export function loadInventory(file: string, env: NodeJS.ProcessEnv = process.env): Inventory {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new InventoryError(
        `no inventory at ${file}: run \`lifeboat lab up\` for the lab, or write clusters.yaml (see README)`,
        'start the lab (`lifeboat lab up` or `lifeboat dev`), write ./clusters.yaml, or set LIFEBOAT_INVENTORY to your clusters file',
      );
    }
    throw new InventoryError(`cannot read inventory ${file} (${code ?? String(err)})`, 'make the file readable by this user');
  }
  return parseInventory(text, file, env);
}

/**
 * Validates inventory text (the part of {@link loadInventory} after reading).
 *
 * @param text YAML text
 * @param source file name used in messages
 * @param env where {@link ALIAS_LIMIT_ENV} is read (default: this process's environment)
 */
export function parseInventory(text: string, source: string, env: NodeJS.ProcessEnv = process.env): Inventory {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => e.message.split('\n')[0] ?? e.message);
    throw new InventoryError(
      `inventory ${source} is not valid YAML:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      `fix the YAML syntax in ${source}, then run \`lifeboat inventory check\``,
      problems,
    );
  }
  const maxAliases = aliasLimit(env);
  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: maxAliases });
  } catch (err) {
    // The YAML library refuses a document whose aliases expand past a bound (a "billion laughs" guard).
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw new InventoryError(
        `inventory ${source} expands its YAML aliases (*name) more than ${maxAliases} times; the parser stops there so that a small file cannot expand into gigabytes`,
        `write the repeated parts out in ${source} instead of referring to one anchor (&name) so often, or raise the bound: ${ALIAS_LIMIT_ENV}=<count> (default ${DEFAULT_MAX_ALIASES}) for the CLI and the worker`,
      );
    }
    throw err;
  }
  const parsed = Inventory.safeParse(js ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${formatPath(i.path)}: ${issueMessage(i)}`);
    const secretHint = parsed.error.issues.some((i) => isSecretField(i.path))
      ? '; secrets go in by reference only: "env:VAR_NAME" or "file:/absolute/path", never the key or token itself'
      : '';
    throw new InventoryError(
      `inventory ${source} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      `edit ${source} at the fields listed${secretHint}, then run \`lifeboat inventory check\``,
      problems,
    );
  }
  return parsed.data;
}

/**
 * One cluster of the inventory.
 *
 * @throws {@link InventoryError} `unknown cluster X; known: a, b`
 */
export function clusterOf(inv: Inventory, name: string): ClusterSpec {
  const cluster = Object.prototype.hasOwnProperty.call(inv.clusters, name) ? inv.clusters[name] : undefined;
  if (!cluster) {
    const known = Object.keys(inv.clusters);
    throw new InventoryError(
      `unknown cluster ${name}; known: ${known.length ? known.join(', ') : '(none)'}`,
      known.length ? `use one of: ${known.join(', ')} (--cluster)` : 'add the cluster to the inventory',
      [],
      'cluster',
    );
  }
  return cluster;
}

/**
 * One node of one cluster.
 *
 * @throws {@link InventoryError} when the cluster or the node is unknown
 */
export function nodeOf(inv: Inventory, cluster: string, node: string): NodeSpec {
  const c = clusterOf(inv, cluster);
  const n = c.nodes.find((x) => x.name === node);
  if (!n) {
    const known = c.nodes.map((x) => x.name);
    throw new InventoryError(
      `unknown node ${node} in cluster ${cluster}; nodes: ${known.join(', ')}`,
      `use one of: ${known.join(', ')}`,
      [],
      'node',
    );
  }
  return n;
}

/**
 * The cluster as a workflow may see it: names and roles only. It enters the
 * workflow history, so addresses, users and secret references stay out.
 */
export function topologyOf(inv: Inventory, name: string): ClusterTopology {
  const c = clusterOf(inv, name);
  return {
    name,
    system: c.system,
    nodes: c.nodes.map((n) => ({ name: n.name, roles: [...n.roles] })),
  };
}

/** `clusters.ledger-prod.nodes[0].ssh.hostKeys` */
function formatPath(p: ReadonlyArray<PropertyKey>): string {
  if (p.length === 0) return '(file)';
  let out = '';
  for (const seg of p) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

function isSecretField(p: ReadonlyArray<PropertyKey>): boolean {
  const last = p[p.length - 1];
  return last === 'privateKey' || last === 'passphrase' || last === 'authToken';
}

/** Zod's messages, made specific where the default says too little. */
function issueMessage(i: z.core.$ZodIssue): string {
  if (i.code === 'invalid_type' && i.input === undefined) return `required (${i.expected})`;
  if (i.code === 'invalid_key') return `bad name: ${i.issues.map((x) => x.message).join('; ')}`;
  if (i.code === 'unrecognized_keys') return `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`;
  return i.message;
}
