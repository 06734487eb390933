/**
 * The operator's side of signed approvals: the cluster's approval policy
 * (its allowed-signers file, read here and carried in the recovery's input as
 * public keys), the operator's key (`--key` or `LIFEBOAT_SIGNING_KEY`; a
 * `.pub` path signs through the ssh-agent, keys on hardware tokens included)
 * and the principal it may sign as, and the signature itself, made by
 * `ssh-keygen -Y sign` over the canonical statement.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  canonicalStatement,
  matchesPatternList,
  parseAllowedSigners,
  principalsOf,
  publicKeyOf,
  type SignatureError,
  SignedRequestError,
  SIGNING_NAMESPACE,
  SignersFileError,
  STATEMENT_FORMAT,
  verifySignedRequest,
  type ApprovalPolicy,
  type Expected,
  type SignedStatement,
  type SshPublicKey,
  type Statement,
} from '../approvals';
import { UsageError } from '../client';
import type { Inventory } from '../inventory/schema';

/** Where the operator's key is named when `--key` is not given. */
export const SIGNING_KEY_ENV = 'LIFEBOAT_SIGNING_KEY';

/**
 * The approval policy of a cluster, as the workflow receives it: the mode,
 * and in signed mode the allowed signers read from the file the inventory
 * names (public keys only), with the file's path and digest for the record.
 *
 * @throws {@link UsageError} when the inventory says nothing about approvals, or the file cannot be read or parsed
 */
export function approvalPolicy(inv: Inventory, inventoryPath: string, cluster: string): ApprovalPolicy {
  const spec = inv.clusters[cluster]?.approvals ?? inv.approvals;
  if (!spec) {
    throw new UsageError(
      `cluster ${cluster} has no approvals policy: who may approve its recoveries is not said`,
      `name the team's allowed signers in ${inventoryPath} (approvals: { allowedSigners: /etc/lifeboat/allowed_signers }, for every cluster or under clusters.${cluster}); or declare approvals: { mode: unsigned } to approve by name, recorded as "identity not verified"`,
      'approvals',
    );
  }
  const mode = spec.mode ?? (spec.allowedSigners ? 'signed' : 'unsigned');
  const base = { ...(Object.keys(spec.required ?? {}).length ? { required: spec.required } : {}), ...(spec.maxAgeSeconds ? { maxAgeSeconds: spec.maxAgeSeconds } : {}) };
  if (mode === 'unsigned') return { mode, ...base };
  const file = allowedSignersFile(inv, inventoryPath, cluster)!;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read the allowed signers of cluster ${cluster}, ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      `create it (one \`principal keytype base64-key\` line per approver, e.g. from their ~/.ssh/id_ed25519.pub) or fix approvals.allowedSigners in ${inventoryPath}`,
      'approvals',
    );
  }
  let signers;
  try {
    signers = parseAllowedSigners(text, file);
  } catch (err) {
    if (err instanceof SignersFileError) throw new UsageError(err.message, `fix that line of ${file} (format: ssh-keygen(1), ALLOWED SIGNERS)`, 'approvals');
    throw err;
  }
  if (!signers.length) throw new UsageError(`${file} lists no signer`, `add one \`principal keytype base64-key\` line per approver`, 'approvals');
  return { mode: 'signed', signers, source: file, sourceDigest: `sha256:${createHash('sha256').update(text).digest('hex')}`, ...base };
}

/** The allowed-signers file the inventory names for a cluster (its own, else the inventory's), resolved beside the inventory. */
export function allowedSignersFile(inv: Inventory, inventoryPath: string, cluster: string): string | undefined {
  const named = (inv.clusters[cluster]?.approvals ?? inv.approvals)?.allowedSigners;
  return named ? path.resolve(path.dirname(inventoryPath), named) : undefined;
}

/** The operator's key, as named, and the principal it signs as. */
export interface OperatorSigner {
  keyPath: string;
  key: SshPublicKey;
  principal: string;
}

/**
 * The operator's key and principal for a signed request.
 *
 * @param policy the cluster's policy (signed)
 * @param flags `--key` and `--as` as given
 * @param env where {@link SIGNING_KEY_ENV} is read
 * @throws {@link UsageError} naming `--key` or `--as`: no key, an unreadable key, a key not allowed, a principal it may not sign as
 */
export function operatorSigner(policy: ApprovalPolicy, cluster: string, flags: { key?: string; as?: string }, env: NodeJS.ProcessEnv, cwd: string): OperatorSigner {
  const named = flags.key ?? env[SIGNING_KEY_ENV];
  if (!named) {
    throw new UsageError(
      `cluster ${cluster} requires signed approvals: which SSH key signs is not said`,
      `pass --key ~/.ssh/id_ed25519 (or a .pub path: the ssh-agent signs, hardware tokens included), or set ${SIGNING_KEY_ENV}`,
      '--key',
    );
  }
  const keyPath = path.resolve(cwd, named.replace(/^~(?=\/)/, env.HOME ?? '~'));
  const key = readPublicKey(keyPath);
  const may = principalsOf(policy.signers ?? [], key);
  if (!may.length) {
    throw new UsageError(
      `key ${key.fingerprint} (${keyPath}) is not an allowed signer of cluster ${cluster} (${policy.source ?? 'its allowed signers'})`,
      'sign with a key listed there, or have yours added to that file',
      '--key',
    );
  }
  const as = flags.as?.trim();
  if (as) {
    if (!matchesPatternList(as, may)) throw new UsageError(`key ${key.fingerprint} may sign as ${may.join(', ')}, not as ${as}`, `drop --as or use one of: ${may.join(', ')}`, '--as');
    return { keyPath, key, principal: as };
  }
  const literal = may.filter((p) => !/[*?!]/.test(p));
  if (literal.length !== 1) throw new UsageError(`key ${key.fingerprint} may sign as ${may.join(', ')}: which one is not said`, 'pass --as with one of them', '--as');
  return { keyPath, key, principal: literal[0]! };
}

/**
 * The public half of a key: `<path>` if it is a `.pub`, else `<path>.pub`
 * beside it, else derived with `ssh-keygen -y` (which asks for a passphrase
 * on the terminal when the key has one).
 */
export function readPublicKey(keyPath: string): SshPublicKey {
  let line: string;
  if (keyPath.endsWith('.pub') || existsSync(`${keyPath}.pub`)) {
    const pub = keyPath.endsWith('.pub') ? keyPath : `${keyPath}.pub`;
    try {
      line = readFileSync(pub, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read the public key ${pub} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, 'check --key: the path of your SSH key (or its .pub)', '--key');
    }
  } else {
    if (!existsSync(keyPath)) throw new UsageError(`no SSH key at ${keyPath}`, 'check --key: the path of your SSH key (or its .pub)', '--key');
    const r = spawnSync('ssh-keygen', ['-y', '-f', keyPath], { encoding: 'utf8', timeout: 120_000, stdio: ['inherit', 'pipe', 'pipe'] });
    if (r.status !== 0) throw new UsageError(`ssh-keygen -y -f ${keyPath} failed: ${(r.stderr || r.error?.message || '').trim()}`, 'check --key, or put the key\'s .pub beside it', '--key');
    line = r.stdout;
  }
  const [type, b64] = line.trim().split(/\s+/);
  try {
    return publicKeyOf(type ?? '', b64 ?? '');
  } catch (err) {
    throw new UsageError(`${keyPath}: not an OpenSSH public key (${(err as SignatureError).message})`, 'check --key: the path of your SSH key (or its .pub)', '--key');
  }
}

/** A statement to sign, with the time and a nonce filled in. */
export function newStatement(fields: Omit<Statement, 'format' | 'signedAt' | 'nonce'>): Statement {
  return { format: STATEMENT_FORMAT, ...fields, signedAt: new Date().toISOString(), nonce: randomBytes(12).toString('hex') };
}

/**
 * Signs a statement with `ssh-keygen -Y sign -n lifeboat`, then checks the
 * result exactly as the workflow will (so a refusal shows here, before
 * anything is sent).
 *
 * @throws {@link UsageError} when ssh-keygen fails or the signed request would be refused
 */
export function signStatement(policy: ApprovalPolicy, signer: OperatorSigner, statement: Statement, expect: Expected): SignedStatement {
  const text = canonicalStatement(statement);
  const r = spawnSync('ssh-keygen', ['-Y', 'sign', '-n', SIGNING_NAMESPACE, '-f', signer.keyPath], { input: text, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0 || !r.stdout.includes('BEGIN SSH SIGNATURE')) {
    const why = (r.stderr || r.error?.message || `exit ${String(r.status)}`).trim().split('\n').filter((l) => !/^Signing data on standard input/.test(l)).join('; ');
    throw new UsageError(`ssh-keygen could not sign with ${signer.keyPath}: ${why}`, 'check the key (and its passphrase, or that the ssh-agent holds it)', '--key');
  }
  const signed = { statement: text, signature: r.stdout.trim() };
  try {
    verifySignedRequest(policy, signed, expect, new Date().toISOString());
  } catch (err) {
    if (err instanceof SignedRequestError) throw new UsageError(`the signed request would be refused: ${err.message}`, 'fix what the message says, then run the command again', '--key');
    throw err;
  }
  return signed;
}
