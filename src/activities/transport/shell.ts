/**
 * Remote shell commands as data. A runbook step is an argv array (plus an
 * optional working directory and environment); this module renders it into
 * one POSIX `sh` script in which every word is single-quoted, so nothing an
 * operator or an inventory supplies (`; rm -rf /`, `$(id)`, backticks,
 * newlines, globs) is ever interpreted by the remote shell.
 *
 * @example
 * ```ts
 * renderScript([
 *   { argv: ['systemctl', 'stop', 'ledger'], ignoreExit: true },
 *   { argv: ['rm', '-rf', '--', '/var/lib/ledger/raft'], cwd: '/var/lib/ledger' },
 * ]);
 * // { ( 'systemctl' 'stop' 'ledger' ) || true; } && ( cd '/var/lib/ledger' && 'rm' '-rf' '--' '/var/lib/ledger/raft' )
 * ```
 * @module
 */
import { TransportError } from './errors';

/** One command to run on a remote host. */
export interface RemoteCommand {
  /** Program and arguments, passed literally (each word is quoted). Must not be empty. */
  argv: string[];
  /** Directory to `cd` into first; the command does not run if the `cd` fails. */
  cwd?: string;
  /** Extra environment for this command only. Keys must match `/^[A-Za-z_][A-Za-z0-9_]*$/`. */
  env?: Record<string, string>;
  /** Carry on (and count the step as succeeded) when this command exits non-zero. */
  ignoreExit?: boolean;
  /**
   * Start the command in the background with `nohup`, stdout and stderr to
   * `logFile`, stdin from `/dev/null`, so it outlives the SSH session. The
   * step succeeds as soon as the command is launched.
   */
  detach?: { logFile: string };
}

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Quotes one word for a POSIX shell: wraps it in single quotes and writes each
 * embedded `'` as `'\''`. Inside single quotes no character is special, so the
 * result is safe for any byte sequence, newlines included.
 *
 * @param s - the literal word; the empty string becomes `''`.
 * @returns the quoted word.
 * @throws TransportError `InvalidArgument` (non-retryable) if `s` contains a NUL
 *   byte, which no argv entry can carry.
 */
export function quoteShellArg(s: string): string {
  if (typeof s !== 'string') {
    throw new TransportError('InvalidArgument', `a shell argument must be a string, got ${typeof s}`, false);
  }
  if (s.includes('\0')) {
    throw new TransportError(
      'InvalidArgument',
      'a shell argument contains a NUL byte, which no remote command can receive; remove it from the input',
      false,
    );
  }
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Quotes every word of an argv and joins them with spaces.
 *
 * @throws TransportError `InvalidArgument` on an empty argv or a NUL byte.
 */
export function quoteArgv(argv: string[]): string {
  if (!Array.isArray(argv) || argv.length === 0) {
    throw new TransportError('InvalidArgument', 'a remote command needs at least a program name (argv is empty)', false);
  }
  return argv.map(quoteShellArg).join(' ');
}

/** Renders one command as a subshell (so `cd` and env never leak into the next one). */
function renderOne(cmd: RemoteCommand): string {
  const parts: string[] = [];
  if (cmd.cwd !== undefined) parts.push(`cd ${quoteShellArg(cmd.cwd)}`);

  const assignments: string[] = [];
  for (const [key, value] of Object.entries(cmd.env ?? {})) {
    if (!ENV_KEY.test(key)) {
      throw new TransportError(
        'InvalidArgument',
        `environment variable name ${JSON.stringify(key)} is not valid for a POSIX shell (letters, digits and "_", not starting with a digit)`,
        false,
      );
    }
    assignments.push(`${key}=${quoteShellArg(value)}`);
  }
  const prefix = assignments.length > 0 ? `${assignments.join(' ')} ` : '';
  const argv = quoteArgv(cmd.argv);

  if (cmd.detach) {
    // The braces scope `&` to the launch alone: a failing `cd` still fails
    // the step synchronously instead of vanishing into the background job.
    const log = quoteShellArg(cmd.detach.logFile);
    parts.push(`{ ${prefix}nohup ${argv} > ${log} 2>&1 < /dev/null & }`);
    return `( ${parts.join(' && ')} )`;
  }
  parts.push(`${prefix}${argv}`);
  const sub = `( ${parts.join(' && ')} )`;
  // Braces keep `|| true` scoped to this command: in `a && b || true && c`
  // a failing `a` would otherwise fall through to `c`.
  return cmd.ignoreExit ? `{ ${sub} || true; }` : sub;
}

/**
 * Renders commands into one POSIX `sh` script that stops at the first
 * failing command (unless it is marked `ignoreExit`). Each command runs in its
 * own subshell `( cd 'dir' && VAR='v' 'prog' 'arg'... )`; the commands are
 * joined with ` && `.
 *
 * @param cmds - one command or a sequence.
 * @returns the script text; every word in it is quoted.
 * @throws TransportError `InvalidArgument` on an empty list, an empty argv, a NUL
 *   byte or an invalid environment variable name.
 */
export function renderScript(cmds: RemoteCommand | RemoteCommand[]): string {
  const list = Array.isArray(cmds) ? cmds : [cmds];
  if (list.length === 0) {
    throw new TransportError('InvalidArgument', 'no remote command to run (empty command list)', false);
  }
  return list.map(renderOne).join(' && ');
}
