/**
 * The `lifeboat` command: a thin command table. Each verb group lives in its
 * own file and parses and validates its flags, then calls a typed service
 * function of {@link ../client}; only the entry point (bin/lifeboat.js) exits
 * the process, with the code {@link main} returns.
 *
 * Exit codes:
 *
 * | code | meaning |
 * |---:|---|
 * | 0 | ok (a watched recovery completed) |
 * | 1 | a recovery failed, was rejected or aborted; or an operation failed (no worker answered, endpoint unreachable) |
 * | 2 | usage or input error (bad flag, unknown scenario/cluster/parameter, invalid inventory or configuration, refused by the workflow's validator) |
 * | 3 | conflict (the cluster already has a recovery running) or not found (no such recovery) |
 * | 4 | nothing waiting (approve/reject/decide while no gate or failed step waits) |
 * | 69 | Temporal unavailable |
 * | 70 | internal error (a bug: the stack is printed, please report it) |
 * | 130 | interrupted (Ctrl-C while watching) |
 * | 141 | the output's reader went away (`lifeboat watch ... \| head`): nothing printed, nothing else affected (bin/lifeboat.js) |
 *
 * Expected failures print `error: <what happened>` and `fix: <next step>` on
 * stderr, without a stack.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { ConflictError, NotFoundError, NothingWaitingError, OperationFailedError, UsageError } from '../client';
import { ConfigError, TemporalUnavailableError } from '../config';
import { InventoryError } from '../inventory/load';
import { PROJECT_ROOT } from '../tools';
import * as approvals from './approvals';
import * as audit from './audit';
import * as codec from './codec';
import { Context, processIo, type Io } from './context';
import * as dev from './dev';
import * as inventory from './inventory';
import * as recoveries from './recoveries';
import * as scenarios from './scenarios';
import * as watch from './watch';

/** The exit codes of the table above. */
export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  CONFLICT: 3,
  NOTHING_WAITING: 4,
  UNAVAILABLE: 69,
  INTERNAL: 70,
  INTERRUPTED: 130,
} as const;

/** Builds the command table, wired to a context. */
export function buildProgram(ctx: Context): Command {
  const program = new Command('lifeboat')
    .description('Disaster-recovery runbooks as durable Temporal workflows')
    .version(readVersion(), '--version')
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => ctx.io.out(s), writeErr: (s) => ctx.io.err(s) })
    .exitOverride();
  program.addHelpText(
    'after',
    '\nExamples:\n' +
      '  lifeboat dev                                            Temporal + lab + worker on this machine\n' +
      '  lifeboat run ledger.quorum-loss --cluster lab-ledger --set survivor=node1\n' +
      '  lifeboat watch recovery-lab-ledger\n' +
      '  lifeboat approvals\n' +
      '  lifeboat report recovery-lab-ledger --out incident.md\n' +
      '  lifeboat audit recovery-lab-ledger                      re-verify every signed decision\n' +
      '\nConfiguration: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_*, TEMPORAL_API_KEY_REF, LIFEBOAT_INVENTORY, LIFEBOAT_UI_URL, LIFEBOAT_CODEC_KEY_REF.\n' +
      'Exit codes: 0 ok, 1 failed, 2 usage, 3 conflict/not found, 4 nothing waiting, 69 Temporal unavailable, 70 bug, 141 output pipe closed.\n',
  );
  scenarios.register(program, ctx);
  recoveries.register(program, ctx);
  watch.register(program, ctx);
  approvals.register(program, ctx);
  audit.register(program, ctx);
  inventory.register(program, ctx);
  dev.register(program, ctx);
  codec.register(program, ctx);
  // `lab ...` is routed by bin/lifeboat.js to the lab's own CLI; listed here for --help.
  program.command('lab').description('simulated clusters and fault injection (see `lifeboat lab --help`)').allowUnknownOption().helpOption(false);
  return program;
}

/**
 * Runs the CLI.
 *
 * @param argv the user's arguments, without `node` and the script (e.g. `['run', 'ledger.quorum-loss', '--cluster', 'c']`)
 * @param io where to write and what environment to read (default: this process's)
 * @returns the exit code (see the table above); never exits the process itself
 */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const ctx = new Context(io);
  try {
    const program = buildProgram(ctx);
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT.USAGE;
    }
    if (argv[0] === 'lab') {
      throw new UsageError('`lifeboat lab` is handled by bin/lifeboat.js', 'run it as `lifeboat lab ...` from the installed command', 'lab');
    }
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    return report(err, io);
  } finally {
    await ctx.close();
  }
}

/** Prints an error the way its kind deserves and returns its exit code. */
export function report(err: unknown, io: Pick<Io, 'err'>): number {
  if (err instanceof CommanderError) {
    // Commander printed its message already; help and version are not errors.
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.OK;
    return EXIT.USAGE;
  }
  const expected = (code: number, e: Error & { fix?: string }): number => {
    io.err(`error: ${e.message}\n`);
    if (e.fix) io.err(`fix: ${e.fix}\n`);
    return code;
  };
  if (err instanceof UsageError || err instanceof InventoryError || err instanceof ConfigError) return expected(EXIT.USAGE, err);
  if (err instanceof ConflictError || err instanceof NotFoundError) return expected(EXIT.CONFLICT, err);
  if (err instanceof NothingWaitingError) return expected(EXIT.NOTHING_WAITING, err);
  if (err instanceof OperationFailedError) return expected(EXIT.FAILED, err);
  if (err instanceof TemporalUnavailableError) return expected(EXIT.UNAVAILABLE, err);
  if (isUnavailable(err)) {
    return expected(EXIT.UNAVAILABLE, Object.assign(new Error(`Temporal is not reachable: ${(err as Error).message}`), {
      fix: 'start it with `lifeboat dev` or set TEMPORAL_ADDRESS; a running recovery resumes when Temporal is back',
    }));
  }
  const codec = codecProblem(err);
  if (codec) return expected(EXIT.USAGE, codec);
  if (isNamespaceNotFound(err)) {
    return expected(EXIT.USAGE, Object.assign(new Error((err as Error).message), { fix: 'set TEMPORAL_NAMESPACE to an existing namespace' }));
  }
  const file = fileProblem(err);
  if (file) return expected(EXIT.USAGE, file);
  const e = err instanceof Error ? err : new Error(String(err));
  io.err(`internal error: ${e.message}\n${e.stack ?? ''}\n`);
  io.err('This is a bug in Lifeboat; please report it with the output above. Running recoveries are not affected.\n');
  return EXIT.INTERNAL;
}

/** What a file the user named (`--out`, LIFEBOAT_INVENTORY, a key file) cannot be, by the system's error code. */
const FILE_FIXES: Record<string, string> = {
  ENOENT: 'check the path: the file or its directory does not exist',
  ENOTDIR: 'check the path: a part of it is a file, not a directory',
  EISDIR: 'name a file, not a directory',
  EACCES: 'check the permissions of the file and its directory for this user',
  EPERM: 'check the permissions of the file and its directory for this user',
  EROFS: 'choose a path on a writable file system',
  ENOSPC: 'free space on that file system or choose another path',
  EEXIST: 'choose another path or remove the existing one',
};

/** A file-system failure on a path (a user's path, not a bug): `cannot write /x/y.md: ENOENT ...`. */
function fileProblem(err: unknown): (Error & { fix: string }) | undefined {
  const e = err as NodeJS.ErrnoException;
  if (!(e instanceof Error) || typeof e.code !== 'string' || typeof e.path !== 'string' || !(e.code in FILE_FIXES)) return undefined;
  const verb = /write|open|mkdir|rename|copy|unlink|rm/.test(e.syscall ?? '') ? (e.syscall === 'open' ? 'open' : 'write') : 'read';
  return Object.assign(new Error(`cannot ${verb} ${e.path}: ${e.code} (${e.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')})`), { fix: FILE_FIXES[e.code]! });
}

/** gRPC UNAVAILABLE from any call after connecting (the server went away mid-command). */
function isUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; cause?: { code?: unknown }; name?: string };
  return e?.code === 14 || e?.cause?.code === 14 || (e?.name === 'ServiceError' && e?.cause?.code === 14);
}

/**
 * A payload this process cannot read: encrypted while it has no codec key, or
 * with a key it does not have (the codec names the key id).
 */
function codecProblem(err: unknown): (Error & { fix: string }) | undefined {
  for (let e = err as { name?: string; message?: string; fix?: string; cause?: unknown } | undefined, i = 0; e && i < 5; e = e.cause as typeof e, i++) {
    if (e.name === 'CodecError' && typeof e.message === 'string') {
      return Object.assign(new Error(e.message.replace(/; fix: [\s\S]*$/, '')), { fix: e.fix ?? 'configure the codec keys the workers use' });
    }
    if (typeof e.message === 'string' && /Unknown encoding: binary\/encrypted/.test(e.message)) {
      return Object.assign(new Error('this recovery\'s data is encrypted by the payload codec (encoding binary/encrypted), and this process has no codec key'), {
        fix: 'set LIFEBOAT_CODEC_KEY_REF (and LIFEBOAT_CODEC_PREVIOUS_KEY_REFS) to the keys the workers use, as env:NAME or file:/path',
      });
    }
  }
  return undefined;
}

function isNamespaceNotFound(err: unknown): boolean {
  return (err as { name?: string })?.name === 'NamespaceNotFoundError';
}

function readVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
