/**
 * Secret references, resolved on the worker. The inventory and workflow
 * inputs carry only references (`env:NAME`, `file:/abs/path`); the value is
 * read here, at the moment a transport needs it, and never travels back into
 * workflow history, logs or error messages. {@link redact} scrubs values out
 * of any text (command lines, response excerpts) before it leaves an activity.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { TransportError } from './errors';

/** Values shorter than this are not redacted: they would shred ordinary text. */
const MIN_REDACT_LENGTH = 4;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Reads the value a secret reference points to.
 *
 * - `env:NAME` reads `process.env.NAME` of the worker; unset or empty fails.
 * - `file:/abs/path` reads the file as UTF-8 and drops ONE trailing newline
 *   (`\n` or `\r\n`), as editors and `echo >` leave one behind.
 *
 * Failures are non-retryable `SecretUnavailable` errors naming the reference
 * and the fix; they never contain the value (nor, for a string that is not a
 * reference at all, the string itself, since it may be a pasted secret).
 *
 * @param ref - a reference such as `env:CLUSTER_AUTH_TOKEN` or `file:/etc/lifeboat/token`
 * @returns the secret value
 * @throws TransportError `SecretUnavailable`
 * @example
 * const token = await resolveSecret('env:CLUSTER_AUTH_TOKEN');
 */
export async function resolveSecret(ref: string): Promise<string> {
  if (typeof ref === 'string' && ref.startsWith('env:')) {
    const name = ref.slice(4);
    if (!ENV_NAME.test(name)) {
      throw new TransportError(
        'SecretUnavailable',
        // The name is not echoed: a malformed reference may be a pasted secret.
        'secret reference env:<…> is not a valid environment variable name; write it as env:NAME (letters, digits, underscores) in the inventory',
        false,
      );
    }
    const value = process.env[name];
    if (value === undefined || value === '') {
      throw new TransportError(
        'SecretUnavailable',
        `secret env:${name} is not set on this worker; export it in the worker's environment and restart the worker`,
        false,
        { ref },
      );
    }
    return value;
  }
  if (typeof ref === 'string' && ref.startsWith('file:')) {
    const file = ref.slice(5);
    if (!path.isAbsolute(file)) {
      throw new TransportError(
        'SecretUnavailable',
        `secret reference file:${file} is not an absolute path; write it as file:/absolute/path in the inventory`,
        false,
        { ref },
      );
    }
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
      const fix =
        code === 'ENOENT'
          ? 'create it on this worker or fix the path in the inventory'
          : code === 'EACCES' || code === 'EPERM'
            ? "make it readable by the worker's user (e.g. chmod 0400 and chown to that user)"
            : code === 'EISDIR'
              ? 'point the reference at a file, not a directory'
              : 'check the file on this worker';
      throw new TransportError('SecretUnavailable', `secret file ${file} cannot be read (${code}); ${fix}`, false, {
        ref,
        code,
      });
    }
    // Exactly one trailing newline: a secret may legitimately end in whitespace.
    const value = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
    if (value === '') {
      throw new TransportError(
        'SecretUnavailable',
        `secret file ${file} is empty; write the secret into it on this worker`,
        false,
        { ref },
      );
    }
    return value;
  }
  throw new TransportError(
    'SecretUnavailable',
    'not a secret reference: expected "env:VAR_NAME" or "file:/absolute/path" (the value given is not shown, in case it is the secret itself)',
    false,
  );
}

/**
 * Replaces every occurrence of each secret in `text` with `[redacted]`.
 * Secrets shorter than 4 characters are ignored (they would mangle ordinary
 * words and are too short to be real credentials). Longer secrets are
 * replaced first so that a secret containing another is removed whole.
 *
 * @param text - any text about to leave the worker (message, plan, output)
 * @param secrets - resolved secret values; empty or undefined entries are skipped
 * @returns the text with no secret value left in it
 */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  const usable = secrets
    .filter((s): s is string => typeof s === 'string' && s.length >= MIN_REDACT_LENGTH)
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const s of usable) out = out.split(s).join('[redacted]');
  return out;
}

