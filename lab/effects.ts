/**
 * The lab's effect log: every effect a simulated target receives (restart,
 * stop, set-leader, RecoverVault, restore, wipe...), with its time and node,
 * so tests can assert "exactly once" and "never". Kept in memory and appended
 * to a JSONL file so a separate process (the CLI, a test) can read it.
 *
 * @module
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

export interface Effect {
  at: string;
  cluster: string;
  node: string;
  /** Dotted effect name, e.g. "orchestrator.restart", "ledger.start". */
  effect: string;
  detail?: Record<string, unknown>;
}

export type EffectFilter = Partial<Pick<Effect, 'cluster' | 'node' | 'effect'>>;

export class EffectLog {
  private entries: Effect[] = [];

  /** @param file optional JSONL file the log is appended to (and loaded from). */
  constructor(private readonly file?: string) {
    if (file && existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line.trim()) this.entries.push(JSON.parse(line) as Effect);
      }
    }
  }

  record(e: Omit<Effect, 'at'>): Effect {
    const entry: Effect = { at: new Date().toISOString(), ...e };
    this.entries.push(entry);
    if (this.file) appendFileSync(this.file, JSON.stringify(entry) + '\n');
    return entry;
  }

  list(filter: EffectFilter = {}): Effect[] {
    return this.entries.filter(
      (e) =>
        (filter.cluster === undefined || e.cluster === filter.cluster) &&
        (filter.node === undefined || e.node === filter.node) &&
        (filter.effect === undefined || e.effect === filter.effect),
    );
  }

  count(filter: EffectFilter = {}): number {
    return this.list(filter).length;
  }

  /** Forget every entry (the file is truncated too). */
  clear(): void {
    this.entries = [];
    if (this.file) appendFileSync(this.file, '', { flag: 'w' });
  }
}
