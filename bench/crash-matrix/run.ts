/**
 * The crash matrix: every case of test/helpers/crash.ts (each scenario × each
 * wait kind it contains: worker SIGKILLed mid-activity, mid-timer, parked on
 * an approval, parked on a decision; dev server restarted), one at a time on
 * its own stack, recorded in bench/results/crash-matrix.json.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/crash-matrix/run.js            # all cases
 *   node dist/bench/crash-matrix/run.js ledger.quorum-loss@approval            # one case
 *   node dist/bench/crash-matrix/run.js gossip. @server                        # cases whose id contains a filter
 *   CRASH_MATRIX_JOBS=2 node dist/bench/crash-matrix/run.js                    # two stacks at a time
 *   CRASH_MATRIX_MERGE=1 node dist/bench/crash-matrix/run.js gossip.partition  # re-run cases into the recorded matrix
 *
 * Order: every scenario's activity case first (the non-idempotent effects),
 * then approvals, timers, server restarts, decisions; each case bounded
 * (CRASH_MATRIX_CASE_TIMEOUT_MS, default 240 s). The JSON is rewritten after
 * every case, so an interrupted run still records exactly what ran.
 *
 * Exit 0 when every case completed with the lab healthy, no non-idempotent
 * effect repeated, and resumed within RESUME_BOUND_MS (heartbeat timeout +
 * 2 s); 1 otherwise (the JSON says which).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import * as path from 'node:path';
import { CRASH_CASES, runCrashCase, type CrashResult } from '../../test/helpers/crash';
import { PROJECT_ROOT } from '../../src/tools';

const KIND_ORDER = ['activity', 'approval', 'timer', 'server', 'decision'];

/** The resume bound (issue 6): the EFFECT policy's heartbeat timeout (20 s) + 2 s. */
export const RESUME_BOUND_MS = 22_000;

/**
 * The gap a case is held to: for a killed activity, SIGKILL → its retried
 * attempt running (or, when it had completed, → the next move); for a timer or
 * a poll's sleep, how late it fired; for an approval or decision, answer →
 * the next move.
 */
function boundedGap(r: CrashResult): number {
  return r.kind === 'activity' && r.retryGapMs !== undefined && r.retryGapMs >= 0 ? r.retryGapMs : r.resumeGapMs;
}

/** A recorded result without the fields `write` adds (they are recomputed). */
function unrecorded(r: CrashResult | { id: string; error: string }): CrashResult | { id: string; error: string } {
  const { passed: _p, boundedGapMs: _g, ...rest } = r as typeof r & { passed?: boolean; boundedGapMs?: number };
  return rest;
}

function passed(r: CrashResult | { id: string; error: string }): boolean {
  if (!('completed' in r)) return false;
  const gap = boundedGap(r);
  return r.completed && r.labHealthy && r.repeated.length === 0 && !r.killedAt.startsWith('never') && gap >= 0 && gap <= RESUME_BOUND_MS;
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const exact = only.length > 0 && only.every((f) => CRASH_CASES.some((c) => c.id === f));
  const chosen = only.length ? CRASH_CASES.filter((c) => (exact ? only.includes(c.id) : only.some((f) => c.id.includes(f)))) : CRASH_CASES;
  if (only.length && !chosen.length) {
    process.stderr.write(`no case matches ${only.join(' ')}; known: ${CRASH_CASES.map((c) => c.id).join(', ')}\n`);
    return 2;
  }
  const cases = [...chosen].sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
  const jobs = Math.max(1, Number(process.env.CRASH_MATRIX_JOBS ?? 1));
  const caseTimeout = Number(process.env.CRASH_MATRIX_CASE_TIMEOUT_MS ?? 240_000);
  const out = process.env.CRASH_MATRIX_OUT ?? path.join(PROJECT_ROOT, 'bench', 'results', 'crash-matrix.json');
  mkdirSync(path.dirname(out), { recursive: true });
  const startedAt = new Date().toISOString();
  const results: Array<CrashResult | { id: string; error: string }> = [];
  // CRASH_MATRIX_MERGE=1: re-run some cases into the recorded matrix (the others keep their last result).
  type Recorded = { results?: Array<CrashResult | { id: string; error: string }>; runs?: Array<Record<string, unknown>> };
  let kept: Recorded = {};
  if (process.env.CRASH_MATRIX_MERGE === '1' && existsSync(out)) {
    kept = JSON.parse(readFileSync(out, 'utf8')) as Recorded;
    kept.results = (kept.results ?? []).filter((r) => !cases.some((c) => c.id === r.id) && CRASH_CASES.some((c) => c.id === r.id));
  }
  const runs = [...(kept.runs ?? []), { startedAt, command: `${jobs > 1 ? `CRASH_MATRIX_JOBS=${jobs} ` : ''}node dist/bench/crash-matrix/run.js${only.length ? ` ${only.join(' ')}` : ''}`, cases: cases.length }];
  const write = (done: boolean): void => {
    const all = [...(kept.results ?? []).map(unrecorded), ...results];
    const ok = done && results.length === cases.length && all.every(passed);
    writeFileSync(
      out,
      `${JSON.stringify(
        {
          recordedAt: new Date().toISOString(),
          startedAt,
          command: `${jobs > 1 ? `CRASH_MATRIX_JOBS=${jobs} ` : ''}node dist/bench/crash-matrix/run.js${only.length ? ` ${only.join(' ')}` : ''}`,
          machine: { cpus: cpus().length, node: process.version },
          note: `resumeGapMs: to the next move of the recovery (timeline entry, step start/end, new probe) on the new worker/server, from the SIGKILL (activity, poll), from the end the killed timer or poll sleep was scheduled for (timer, server restart during a timer: how late it fired), or from the operator answer sent to the new worker (approval, decision). retryGapMs (activity): SIGKILL to the retried attempt of the killed activity running on the new worker (EFFECT policy: heartbeatTimeout 20 s, retry initialInterval 1 s). An activity case without a step pattern kills the worker as soon as the lab records its first non-idempotent effect. A case passes when the recovery completed, the lab is healthy, no bounded effect exceeded its count, and the bounded gap (activity: retryGapMs when the killed attempt was retried, else resumeGapMs) is at most ${RESUME_BOUND_MS} ms.`,
          finished: done,
          runs,
          planned: kept.results ? all.length - results.length + cases.length : cases.length,
          ran: all.length,
          passed: all.filter(passed).length,
          allPassed: ok,
          notRun: (kept.results ? CRASH_CASES : cases).filter((c) => !all.some((r) => r.id === c.id)).map((c) => c.id),
          results: [...all]
            .sort((a, b) => CRASH_CASES.findIndex((c) => c.id === a.id) - CRASH_CASES.findIndex((c) => c.id === b.id))
            .map((r) => ('completed' in r ? { passed: passed(r), boundedGapMs: boundedGap(r), ...r } : { passed: false, ...r })),
        },
        null,
        2,
      )}\n`,
    );
  };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < cases.length) {
      const c = cases[next++]!;
      process.stderr.write(`crash-matrix: ${c.id} ...\n`);
      try {
        const r = await runCrashCase({ ...c, timeoutMs: c.timeoutMs ?? caseTimeout });
        results.push(r);
        process.stderr.write(
          `  ${c.id} ${passed(r) ? 'ok' : 'FAILED'}: ${r.status}, bounded gap ${boundedGap(r)} ms (at most ${RESUME_BOUND_MS}), healthy ${r.labHealthy}, repeated [${r.repeated.join('; ')}], killed at ${r.killedAt}, resume gap ${r.resumeGapMs} ms (from the ${r.gapFrom})${r.retryGapMs !== undefined ? `, retry gap ${r.retryGapMs} ms` : ''}, ${Math.round(r.durationMs / 1000)} s\n`,
        );
      } catch (err) {
        results.push({ id: c.id, error: err instanceof Error ? err.message : String(err) });
        process.stderr.write(`  ${c.id} ERROR: ${err instanceof Error ? err.message : String(err)}\n`);
      }
      write(false);
    }
  };
  await Promise.all(Array.from({ length: jobs }, () => lane()));
  write(true);
  const ok = results.every(passed);
  process.stderr.write(`crash-matrix: ${results.filter(passed).length}/${results.length} passed; written to ${out}\n`);
  return ok ? 0 : 1;
}

void main().then((code) => process.exit(code));
