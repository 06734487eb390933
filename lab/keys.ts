/**
 * The lab's SSH keys: one client key (the key Lifeboat's inventory points at)
 * and one ed25519 host key per simulated node. Generated once and kept under
 * `<dir>/keys/`, so that restarting the lab keeps the host-key pins written
 * into the inventory valid.
 *
 * Layout:
 * ```
 * <dir>/keys/id_ed25519          client private key (OpenSSH format, mode 0600)
 * <dir>/keys/id_ed25519.pub      client public key
 * <dir>/keys/hosts/<cluster>/<node>      host private key (mode 0600)
 * <dir>/keys/hosts/<cluster>/<node>.pub  host public key ("ssh-ed25519 AAAA...")
 * <dir>/keys/operators/<name>            an operator's signing key (alice, bob, carol)
 * <dir>/keys/operators/allowed_signers   who may sign (OpenSSH format), named by the inventory
 * ```
 *
 * @module
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { utils } from 'ssh2';

/** A private key (OpenSSH PEM text) and its public half as an OpenSSH line. */
export interface KeyPair {
  /** Path of the private key file. */
  privatePath: string;
  /** OpenSSH private key text. */
  privateKey: string;
  /** "ssh-ed25519 AAAA..." without a comment. */
  publicLine: string;
}

/**
 * Load the key pair stored at `privatePath`, or generate and store a new
 * ed25519 pair there when none exists yet.
 *
 * @param privatePath where the private key lives; the public key goes next to it with `.pub`.
 * @returns the pair; the private key file is (re)set to mode 0600.
 */
export function ensureKeyPair(privatePath: string): KeyPair {
  const pubPath = `${privatePath}.pub`;
  if (existsSync(privatePath) && existsSync(pubPath)) {
    const privateKey = readFileSync(privatePath, 'utf8');
    const publicLine = normalisePublic(readFileSync(pubPath, 'utf8'));
    // Make sure the stored pair still parses; a damaged file is regenerated below.
    if (!(utils.parseKey(privateKey) instanceof Error) && publicLine) {
      chmodSync(privatePath, 0o600);
      return { privatePath, privateKey, publicLine };
    }
  }
  mkdirSync(dirname(privatePath), { recursive: true, mode: 0o700 });
  // ssh2 now and then (about 1 in 250) generates an ed25519 pair it cannot parse back: draw again.
  let pair = utils.generateKeyPairSync('ed25519');
  for (let i = 0; i < 20 && (utils.parseKey(pair.private) instanceof Error || utils.parseKey(pair.public) instanceof Error); i++) {
    pair = utils.generateKeyPairSync('ed25519');
  }
  writeFileSync(privatePath, pair.private, { mode: 0o600 });
  chmodSync(privatePath, 0o600);
  const publicLine = normalisePublic(pair.public);
  writeFileSync(pubPath, `${publicLine} lifeboat-lab\n`);
  return { privatePath, privateKey: pair.private, publicLine };
}

/** The lab client key, `<dir>/keys/id_ed25519`. */
export function clientKey(dir: string): KeyPair {
  return ensureKeyPair(join(dir, 'keys', 'id_ed25519'));
}

/** The host key of one simulated node. */
export function hostKey(dir: string, cluster: string, node: string): KeyPair {
  return ensureKeyPair(join(dir, 'keys', 'hosts', cluster, node));
}

/** The lab's operators: the people who sign starts, approvals and decisions (signed approvals). */
export const LAB_OPERATORS = ['alice', 'bob', 'carol'] as const;

/** An operator's signing key, `<dir>/keys/operators/<name>`. */
export function operatorKey(dir: string, name: string): KeyPair {
  return ensureKeyPair(join(dir, 'keys', 'operators', name));
}

/**
 * Writes `<dir>/keys/operators/allowed_signers`: each lab operator may sign as
 * themselves, in Lifeboat's namespace only.
 *
 * @returns its path and each operator's private key path
 */
export function writeAllowedSigners(dir: string): { path: string; keys: Record<string, string> } {
  const keys: Record<string, string> = {};
  const lines = ['# Written by the Lifeboat lab: who may sign recoveries of the lab clusters (ssh-keygen -Y verify reads it too).'];
  for (const name of LAB_OPERATORS) {
    const k = operatorKey(dir, name);
    keys[name] = k.privatePath;
    lines.push(`${name} namespaces="lifeboat" ${k.publicLine}`);
  }
  const path = join(dir, 'keys', 'operators', 'allowed_signers');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return { path, keys };
}

/** "ssh-ed25519 AAAA... comment\n" -> "ssh-ed25519 AAAA..." */
function normalisePublic(text: string): string {
  const [type, blob] = text.trim().split(/\s+/);
  return type && blob ? `${type} ${blob}` : '';
}
