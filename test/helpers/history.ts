/**
 * The layout of the recorded histories the replay test reads, and how they
 * are written.
 *
 * test/replay/histories/
 *   <scenario-id>.json            the happy path, recorded by the e2e tests on a real dev
 *                                 server (`temporal workflow show --output json`)
 *   <scenario-id>/<branch>.json   one branch a gate, an `ask` decision, an option or a dry
 *                                 run creates, recorded by test/replay/record-branches.ts on
 *                                 the time-skipping server (proto JSON, `historyToJSON`)
 *
 * Both are the proto3 JSON form of a History; `Worker.runReplayHistories`
 * reads either (it converts string event ids with `historyFromJSON`).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { PROJECT_ROOT } from '../../src/tools';

export const HISTORIES_DIR = path.join(PROJECT_ROOT, 'test', 'replay', 'histories');

/** The branch name of a top-level `<scenario-id>.json` history. */
export const HAPPY_PATH = 'happy-path';

export interface RecordedHistory {
  scenario: string;
  branch: string;
  /** Relative to HISTORIES_DIR. */
  file: string;
  /** What replay results and failures are named by: `<scenario-id>/<branch>`. */
  name: string;
  history: unknown;
}

export function historyName(scenario: string, branch: string): string {
  return `${scenario}/${branch}`;
}

export function historyFile(scenario: string, branch: string): string {
  return branch === HAPPY_PATH ? `${scenario}.json` : path.join(scenario, `${branch}.json`);
}

/** Every recorded history, sorted by name; a file in neither form fails loudly. */
export function readHistories(dir = HISTORIES_DIR): RecordedHistory[] {
  const out: RecordedHistory[] = [];
  const load = (scenario: string, branch: string, file: string): void => {
    const text = readFileSync(path.join(dir, file), 'utf8');
    let history: unknown;
    try {
      history = JSON.parse(text) as unknown;
    } catch (err) {
      throw new Error(`${file} is not JSON: ${(err as Error).message}`);
    }
    const events = (history as { events?: unknown[] } | null)?.events;
    if (!Array.isArray(events) || events.length === 0) throw new Error(`${file} has no events: not a workflow history`);
    out.push({ scenario, branch, file, name: historyName(scenario, branch), history });
  };
  for (const entry of readdirSync(dir).sort()) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) {
      for (const f of readdirSync(full).sort()) {
        if (!f.endsWith('.json')) throw new Error(`unexpected file ${path.join(entry, f)} in ${dir}: branch histories are <scenario-id>/<branch>.json`);
        load(entry, f.replace(/\.json$/, ''), path.join(entry, f));
      }
    } else if (entry.endsWith('.json')) {
      load(entry.replace(/\.json$/, ''), HAPPY_PATH, entry);
    } else {
      throw new Error(`unexpected file ${entry} in ${dir}: histories are <scenario-id>.json or <scenario-id>/<branch>.json`);
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Writes a fetched history (`await handle.fetchHistory()`) as proto JSON; returns the file written. */
export function writeHistory(scenario: string, branch: string, history: History, dir = HISTORIES_DIR): string {
  const file = path.join(dir, historyFile(scenario, branch));
  mkdirSync(path.dirname(file), { recursive: true });
  // Re-indented so a re-recording diffs line by line.
  writeFileSync(file, `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 2)}\n`);
  return file;
}

export function historyExists(scenario: string, branch: string, dir = HISTORIES_DIR): boolean {
  return existsSync(path.join(dir, historyFile(scenario, branch)));
}
