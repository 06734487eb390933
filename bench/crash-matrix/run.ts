/**
 * The crash matrix: every case of test/helpers/crash.ts (each scenario × each
 * wait kind it contains: worker SIGKILLed mid-activity, mid-timer, parked on
 * an approval, parked on a decision; dev server restarted), one at a time on
 * its own stack, recorded in bench/results/crash-matrix.json.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/crash-matrix/run.js            # all cases
 *   node dist/bench/crash-matrix/run.js ledger.quorum-loss@approval            # some cases
 *
 * Exit 0 when every case completed with the lab healthy and no
 * non-idempotent effect repeated; 1 otherwise (the JSON says which).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import * as path from 'node:path';
import { CRASH_CASES, runCrashCase, type CrashResult } from '../../test/helpers/crash';
import { PROJECT_ROOT } from '../../src/tools';

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const cases = only.length ? CRASH_CASES.filter((c) => only.includes(c.id)) : CRASH_CASES;
  if (only.length && cases.length !== only.length) {
    process.stderr.write(`unknown case(s); known: ${CRASH_CASES.map((c) => c.id).join(', ')}\n`);
    return 2;
  }
  const results: Array<CrashResult | { id: string; error: string }> = [];
  for (const c of cases) {
    process.stderr.write(`crash-matrix: ${c.id} ...\n`);
    try {
      const r = await runCrashCase(c);
      results.push(r);
      process.stderr.write(`  ${r.completed && r.labHealthy && !r.repeated.length ? 'ok' : 'FAILED'}: killed at ${r.killedAt}, resume gap ${r.resumeGapMs} ms (from the ${r.gapFrom}), ${Math.round(r.durationMs / 1000)} s\n`);
    } catch (err) {
      results.push({ id: c.id, error: err instanceof Error ? err.message : String(err) });
      process.stderr.write(`  ERROR: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  const ok = results.every((r) => 'completed' in r && r.completed && r.labHealthy && r.repeated.length === 0 && !r.killedAt.startsWith('never'));
  const out = path.join(PROJECT_ROOT, 'bench', 'results', 'crash-matrix.json');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        recordedAt: new Date().toISOString(),
        command: `node dist/bench/crash-matrix/run.js${only.length ? ` ${only.join(' ')}` : ''}`,
        machine: { cpus: cpus().length, node: process.version },
        note: 'resumeGapMs: to the next timeline entry of the recovery, from the SIGKILL (activity), from the end the killed timer was scheduled for (timer, server restart during a timer: how late it fired), or from the operator answer sent to the new worker (approval, decision). A killed activity is retried after its heartbeat timeout (30 s). Timers are scaled with --time-scale 0.2 for the mesh-collapse cases.',
        allPassed: ok,
        results,
      },
      null,
      2,
    )}\n`,
  );
  process.stderr.write(`crash-matrix: ${ok ? 'all passed' : 'FAILURES'}; written to ${out}\n`);
  return ok ? 0 : 1;
}

void main().then((code) => process.exit(code));
