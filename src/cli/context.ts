/**
 * What every command gets: where to write, the environment, and lazily the
 * configuration, the inventory and a connected client. Lazy so that a
 * command validates its flags before anything is read or dialled, and so that
 * tests can run commands with a captured output and a fake environment.
 *
 * @module
 */
import { userInfo } from 'node:os';
import type { Client } from '@temporalio/client';
import Table from 'cli-table3';
import { connectClient, loadConfig, type LifeboatConfig } from '../config';
import { loadInventory, type Inventory } from '../inventory/load';
import { UsageError } from '../client';

/** Where a command writes, and what it may read of the process. */
export interface Io {
  /** Writes to standard output (text as given; add your own newline). */
  out(text: string): void;
  /** Writes to standard error. */
  err(text: string): void;
  /** Whether stdout is an interactive terminal (live redraw) or a pipe/file (print changes only). */
  isTTY: boolean;
  /** Terminal width, when a terminal (to count wrapped lines when redrawing). */
  columns?: number;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** The process's own streams. */
export function processIo(): Io {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    isTTY: process.stdout.isTTY === true,
    columns: process.stdout.isTTY ? process.stdout.columns : undefined,
    env: process.env,
    cwd: process.cwd(),
  };
}

/** Per-invocation state shared by the commands. */
export class Context {
  private cfg?: LifeboatConfig;
  private inv?: Inventory;
  private clientPromise?: Promise<Client>;
  /** Set by a command: the process exit code (see the table in main.ts). */
  exitCode = 0;

  constructor(readonly io: Io) {}

  /** The configuration, from the environment. */
  config(): LifeboatConfig {
    this.cfg ??= loadConfig(this.io.env, this.io.cwd);
    return this.cfg;
  }

  /** The inventory (validated). */
  inventory(): Inventory {
    this.inv ??= loadInventory(this.config().inventoryPath, this.io.env);
    return this.inv;
  }

  /** A connected client; connects on first use. */
  client(): Promise<Client> {
    this.clientPromise ??= connectClient(this.config());
    return this.clientPromise;
  }

  /** Closes the connection if one was opened. */
  async close(): Promise<void> {
    if (!this.clientPromise) return;
    try {
      const c = await this.clientPromise;
      await c.connection.close();
    } catch {
      // Connecting failed; nothing to close.
    }
  }

  /** Writes one line to stdout. */
  line(text = ''): void {
    this.io.out(`${text}\n`);
  }

  /** Writes a value as pretty JSON to stdout (for `--json`). */
  json(value: unknown): void {
    this.io.out(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** The Web UI page of a recovery. */
  uiLink(workflowId: string, runId?: string): string {
    const c = this.config();
    const base = `${c.uiUrl}/namespaces/${encodeURIComponent(c.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
    return runId ? `${base}/${encodeURIComponent(runId)}` : base;
  }

  /** Who is at the keyboard: `--as`, else $USER / $LOGNAME, else the login name. */
  who(as: string | undefined): string | undefined {
    let v = as ?? this.io.env.USER ?? this.io.env.LOGNAME;
    if (v === undefined) {
      try {
        v = userInfo().username;
      } catch {
        // No passwd entry (some containers): the caller asks for --as.
      }
    }
    return v && v.trim() ? v.trim() : undefined;
  }
}

/** Requires a non-empty identity flag; an error names the flag. */
export function requireFlag(value: string | undefined, flag: string, why: string): string {
  if (value === undefined || !value.trim()) {
    throw new UsageError(`${flag} is required: ${why}`, `add ${flag} ${flag === '--as' ? 'NAME' : '"TEXT"'}`, flag);
  }
  return value.trim();
}

/** Accepts "90s", "30m", "2h", "30 minutes" (the kit's duration syntax). */
export function parseDuration(value: string, flag: string): string {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)\s*$/.exec(value);
  if (!m || Number(m[1]) <= 0) {
    throw new UsageError(`${flag} ${value}: not a duration`, `use e.g. ${flag} 90s, ${flag} 30m or ${flag} 2h`, flag);
  }
  return value.trim();
}

/**
 * A table for the terminal; plain (no colour codes) when stdout is not a
 * terminal, so piped output stays greppable.
 */
export function table(ctx: Context, head?: string[], opts: { colWidths?: number[] } = {}): InstanceType<typeof Table> {
  const plain = !ctx.io.isTTY;
  return new Table({
    ...(head ? { head } : {}),
    ...(opts.colWidths ? { colWidths: opts.colWidths } : {}),
    wordWrap: true,
    style: plain ? { head: [], border: [] } : {},
  });
}
