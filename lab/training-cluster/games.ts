/**
 * A training node's games database (`data/games/selfplay.db`, SQLite, table
 * `games`): its schema, the real `sqlite3` CLI that reads and writes it,
 * generated games, the integrity check, and a corrupted header.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export const GAMES_DB = 'data/games/selfplay.db';
export const SCHEMA =
  'CREATE TABLE IF NOT EXISTS games (game_id TEXT PRIMARY KEY, board_type TEXT NOT NULL, num_players INTEGER NOT NULL, ' +
  'winner INTEGER, num_moves INTEGER, created_at TEXT NOT NULL, source_host TEXT NOT NULL);';

/** Runs a script through the real sqlite3 CLI; rejects with its stderr on a non-zero exit. */
export function sqlite(db: string, script: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn('sqlite3', ['-batch', db], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    p.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    p.once('error', reject);
    p.once('close', (code) => (code === 0 && !/^(Error|Parse error)/m.test(err) ? resolvePromise(out) : reject(new Error(err.trim() || `sqlite3 exited ${code}`))));
    p.stdin.end(`.bail on\n${script}\n`);
  });
}

/** INSERTs for `count` games of `host` numbered from `from`, via a recursive CTE (one statement). */
export function generate(host: string, from: number, count: number, at: number): string {
  if (count <= 0) return '';
  const ts = new Date(at).toISOString();
  return (
    `WITH RECURSIVE s(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM s WHERE i < ${from + count - 1}) ` +
    `INSERT OR IGNORE INTO games SELECT ${sqlString(host + '-')} || printf('%06d', i), 'hex8', 2, i % 2, 40 + i % 60, ${sqlString(ts)}, ${sqlString(host)} FROM s;`
  );
}

export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** Whether a games database opens and passes `PRAGMA quick_check`, and how many games it holds. */
export async function readDb(db: string): Promise<{ ok: true; count: number } | { ok: false; error: string; count: 0 }> {
  if (!existsSync(db)) return { ok: false, error: 'missing', count: 0 };
  try {
    const out = await sqlite(db, 'PRAGMA quick_check; SELECT COUNT(*) FROM games;');
    const [check, count] = out.trim().split('\n');
    if (check !== 'ok') return { ok: false, error: `integrity: ${check}`, count: 0 };
    return { ok: true, count: Number(count) };
  } catch (err) {
    return { ok: false, error: (err as Error).message.replace(/^(Error|Parse error)[^:]*: /, '').trim(), count: 0 };
  }
}

/** Overwrites a SQLite file's header: `file is not a database`. */
export function corrupt(path: string): void {
  const b = existsSync(path) ? readFileSync(path) : Buffer.alloc(4096);
  b.fill(0x42, 0, Math.min(100, b.length));
  writeFileSync(path, b);
}
