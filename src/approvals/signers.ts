/**
 * Allowed signers in OpenSSH's own format (ssh-keygen(1), "ALLOWED SIGNERS"):
 * one `principals [options] keytype base64-key [comment]` per line, the file
 * `ssh-keygen -Y verify -f` reads. Parsed here without Node so that the
 * workflow can match a signing key to the principals it may sign as.
 *
 * Options: `namespaces="..."`, `valid-after="YYYYMMDD[HHMM[SS]]Z"`,
 * `valid-before=...` (Lifeboat needs the trailing `Z`: a time without a zone
 * would mean each verifying host's local time). `cert-authority` lines are
 * refused: Lifeboat checks plain keys, not certificates.
 *
 * @module
 */
import { publicKeyOf, type SignatureError, type SshPublicKey } from './sshsig';

/** One allowed signer: the principals a key may sign as, where, and when. */
export interface AllowedSigner {
  /** Principal patterns (`*`, `?`, `!negated`), as in ssh_config's PATTERNS. */
  principals: string[];
  key: SshPublicKey;
  /** Namespaces the key may sign in; absent means any. */
  namespaces?: string[];
  /** ISO times bounding the key's validity. */
  validAfter?: string;
  validBefore?: string;
  /** Line number in the file, for messages. */
  line: number;
}

/** A line of the allowed-signers file that cannot be used, with its number. */
export class SignersFileError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
    this.name = 'SignersFileError';
  }
}

const KEY_TYPE = /^(ssh-ed25519|sk-ssh-ed25519@openssh\.com|ecdsa-sha2-nistp(256|384|521)|sk-ecdsa-sha2-nistp256@openssh\.com|ssh-rsa|ssh-dss|rsa-sha2-(256|512)|[a-z0-9-]+-cert-v01@openssh\.com)$/;

/**
 * Parses an allowed-signers file.
 *
 * @param text the file's content
 * @param source the file's name, for messages
 * @throws {@link SignersFileError} naming the line and what is wrong
 */
export function parseAllowedSigners(text: string, source: string): AllowedSigner[] {
  const out: AllowedSigner[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (!raw || raw.startsWith('#')) continue;
    const at = (what: string): SignersFileError => new SignersFileError(`${source}:${i + 1}: ${what}`, i + 1);
    const words = tokens(raw);
    if (words.length < 3) throw at('expected `principals [options] keytype base64-key`');
    const principals = unquote(words[0]!)
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    if (!principals.length) throw at('no principal');
    let k = 1;
    let options: string | undefined;
    if (!KEY_TYPE.test(words[1]!)) {
      options = words[1]!;
      k = 2;
    }
    const type = words[k];
    const base64 = words[k + 1];
    if (!type || !base64) throw at('expected a key type and its base64 after the principals');
    if (!KEY_TYPE.test(type)) throw at(`unknown key type ${type}`);
    if (type.endsWith('-cert-v01@openssh.com')) throw at('certificates are not supported: list the signer\'s own key');
    let key: SshPublicKey;
    try {
      key = publicKeyOf(type, base64);
    } catch (err) {
      throw at((err as SignatureError).message);
    }
    const signer: AllowedSigner = { principals, key, line: i + 1 };
    for (const opt of options ? splitOptions(options) : []) {
      const m = /^([a-z-]+)(?:=(.*))?$/i.exec(opt);
      const name = m?.[1]?.toLowerCase();
      const value = m?.[2] !== undefined ? unquote(m[2]) : undefined;
      if (name === 'cert-authority') throw at('cert-authority lines are not supported: list each signer\'s own key');
      else if (name === 'namespaces' && value !== undefined) signer.namespaces = value.split(',').map((s) => s.trim()).filter(Boolean);
      else if ((name === 'valid-after' || name === 'valid-before') && value !== undefined) {
        const iso = timestamp(value);
        if (!iso) throw at(`${name}="${value}" is not YYYYMMDD[HHMM[SS]]Z (Lifeboat needs the Z: UTC)`);
        if (name === 'valid-after') signer.validAfter = iso;
        else signer.validBefore = iso;
      } else throw at(`unsupported option ${opt}`);
    }
    out.push(signer);
  }
  return out;
}

/**
 * Whether `principal` may sign with `key` in `namespace` at time `at`: the
 * signer entries that list this key and whose principal patterns match.
 *
 * @returns the matching entries (empty: not allowed)
 */
export function signersFor(signers: AllowedSigner[], key: SshPublicKey, principal: string, namespace: string, atIso: string): AllowedSigner[] {
  return signers.filter(
    (s) =>
      s.key.base64 === key.base64 &&
      matchesPatternList(principal, s.principals) &&
      (!s.namespaces || s.namespaces.some((n) => matchesPattern(namespace, n))) &&
      (!s.validAfter || atIso >= s.validAfter) &&
      (!s.validBefore || atIso < s.validBefore),
  );
}

/** The principals a key is listed for (patterns as written), for "sign as one of ..." messages. */
export function principalsOf(signers: AllowedSigner[], key: SshPublicKey): string[] {
  return [...new Set(signers.filter((s) => s.key.base64 === key.base64).flatMap((s) => s.principals))];
}

/** ssh_config pattern-list: some positive pattern matches and no negated one does. */
export function matchesPatternList(value: string, patterns: string[]): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (matchesPattern(value, p.slice(1))) return false;
    } else if (matchesPattern(value, p)) matched = true;
  }
  return matched;
}

function matchesPattern(value: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(value);
}

function tokens(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && /\s/.test(ch)) {
      if (cur) out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

function splitOptions(options: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of options) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

function unquote(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

/** `YYYYMMDD[HHMM[SS]]Z` as an ISO time, or undefined. */
function timestamp(v: string): string | undefined {
  const m = /^(\d{4})(\d\d)(\d\d)(?:(\d\d)(\d\d)(\d\d)?)?Z$/.exec(v);
  if (!m) return undefined;
  return `${m[1]}-${m[2]}-${m[3]}T${m[4] ?? '00'}:${m[5] ?? '00'}:${m[6] ?? '00'}.000Z`;
}
