/**
 * Many recoveries parked on an approval gate on one worker (issue 18): how
 * long `lifeboat approvals` and `lifeboat list` take from visibility (the
 * recoveries' memo) against the old way (one progress query per recovery,
 * 5 s each, all at once), how many of those queries time out, and the
 * worker's RSS, for each worker cache size given. Then the worker is
 * stopped and the visibility path is timed again.
 *
 * The stack of the e2e tests (real Temporal dev server on a SQLite file, the
 * lab's gossip cluster listed N times, test/helpers/parked.ts), one worker
 * process. Writes bench/results/parked-visibility.json.
 *
 *   npx tsc -p tsconfig.json && nice -n 19 node dist/bench/parked/run.js [--n 500] [--caches 500,200,50]
 *
 * The first cache size is the worker's while the recoveries park; for each
 * size the worker is restarted (cache empty), the old way is run twice (the
 * first round replays every recovery the worker does not hold, the second
 * is the steady state: at most `cache` recoveries held, the rest replayed for
 * each query), then its RSS is read from /proc.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { getProgress, listApprovals, listRecoveries, recoveriesQuery, visibleRecoveries } from '../../src/client';
import { PROJECT_ROOT } from '../../src/tools';
import { startParked, waitParked, writeParkInventory } from '../../test/helpers/parked';
import { startStack, type WorkerProcess } from '../../test/helpers/stack';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
}

function rssMiB(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

/** The old `approvals`: the listing, then one progress query per recovery (5 s each), all at once. */
async function oldApprovals(client: Client, n: number): Promise<{ ms: number; answered: number; timedOut: number; otherErrors: string[] }> {
  const t0 = Date.now();
  const rows = (await visibleRecoveries(client, recoveriesQuery({ open: true, awaitingApproval: true }), n + 50)).map((v) => v.row);
  const results = await Promise.allSettled(rows.map((r) => getProgress(client, r.workflowId, r.runId, { timeoutMs: 5000 })));
  const ms = Date.now() - t0;
  const errors = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => String((r.reason as Error)?.message ?? r.reason));
  const timedOut = errors.filter((e) => /no worker answered|deadline/i.test(e)).length;
  return { ms, answered: results.length - errors.length, timedOut, otherErrors: [...new Set(errors.filter((e) => !/no worker answered|deadline/i.test(e)))].slice(0, 5) };
}

/** `approvals` and `list` through visibility, in process (3 times each, median) and as the CLI an operator runs. */
async function visibility(client: Client, n: number, cli: (args: string[]) => Promise<{ code: number | null; stdout: string; stderr: string }>) {
  const approvalsMs: number[] = [];
  const listMs: number[] = [];
  let gates = 0;
  let unreadable = 0;
  let rows = 0;
  for (let i = 0; i < 3; i++) {
    let t0 = Date.now();
    const a = await listApprovals(client);
    approvalsMs.push(Date.now() - t0);
    gates = a.approvals.length;
    unreadable = a.unreadable.length;
    t0 = Date.now();
    rows = (await listRecoveries(client, { open: true, limit: n + 50 })).length;
    listMs.push(Date.now() - t0);
  }
  let t0 = Date.now();
  const ca = await cli(['approvals', '--json']);
  const cliApprovalsMs = Date.now() - t0;
  const cliGates = ca.code === 0 ? (JSON.parse(ca.stdout) as { approvals: unknown[] }).approvals.length : -1;
  t0 = Date.now();
  const cl = await cli(['list', '--json', '--limit', String(n + 50)]);
  const cliListMs = Date.now() - t0;
  const cliRows = cl.code === 0 ? (JSON.parse(cl.stdout) as unknown[]).length : -1;
  return { gates, unreadable, rows, approvalsMedianMs: median(approvalsMs), listMedianMs: median(listMs), approvalsMs, listMs, cliApprovalsMs, cliGates, cliListMs, cliRows };
}

async function main(): Promise<void> {
  const n = Number(arg('n', '500'));
  const caches = arg('caches', '500,200,50').split(',').map(Number);
  if (!Number.isInteger(n) || n < 1 || caches.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('--n and --caches take positive integers (e.g. --n 500 --caches 500,200,50)');
  const started = new Date().toISOString();
  const stack = await startStack({ families: ['gossip'], bootMs: 300, worker: false });
  const out = path.join(PROJECT_ROOT, 'bench', 'results', 'parked-visibility.json');
  const result: Record<string, unknown> = {
    benchmark: 'parked recoveries: approvals and list from visibility vs one query per recovery (issue 18)',
    recorded: started,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    recoveries: n,
    scenario: 'gossip.total-loss parked on clear-persistent-state (lab gossip cluster listed N times)',
    configs: [] as unknown[],
  };
  const save = () => {
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  };
  let worker: WorkerProcess | undefined;
  try {
    const inventory = writeParkInventory(stack, n);
    const env = { LIFEBOAT_INVENTORY: inventory };
    const cli = (args: string[]) => stack.cli(args, { env });
    await stack.lab.break('gossip.total-loss');
    const startWorker = async (cache: number) => {
      const w = stack.startWorker({ env: { ...env, LIFEBOAT_MAX_CACHED_WORKFLOWS: String(cache) } });
      await w.ready;
      return w;
    };
    worker = await startWorker(caches[0]!);
    let t0 = Date.now();
    await startParked(stack.client, inventory, n);
    const startMs = Date.now() - t0;
    const parkMs = await waitParked(stack.client, n, 40 * 60_000);
    result.park = { startMs, parkedAfterMs: startMs + parkMs, workerRssMiB: rssMiB(worker.proc.pid), cache: caches[0] };
    console.log(`${n} parked in ${Math.round((startMs + parkMs) / 1000)} s; worker RSS ${rssMiB(worker.proc.pid)} MiB (cache ${caches[0]})`);
    save();
    for (const [i, cache] of caches.entries()) {
      if (i > 0) {
        await worker.stop();
        worker = await startWorker(cache);
      }
      const fresh = rssMiB(worker.proc.pid);
      const vis = await visibility(stack.client, n, cli);
      const first = await oldApprovals(stack.client, n);
      const second = await oldApprovals(stack.client, n);
      const rss = rssMiB(worker.proc.pid);
      const entry = { cache, workerRssFreshMiB: fresh, workerRssAfterQueriesMiB: rss, visibility: vis, oldQueryRound1: first, oldQueryRound2: second };
      (result.configs as unknown[]).push(entry);
      save();
      console.log(
        `cache ${cache}: visibility approvals ${vis.approvalsMedianMs} ms (${vis.gates} gates, ${vis.unreadable} unreadable), list ${vis.listMedianMs} ms (${vis.rows} rows), CLI ${vis.cliApprovalsMs}/${vis.cliListMs} ms; ` +
          `old way ${first.ms} ms (${first.timedOut} timed out) then ${second.ms} ms (${second.timedOut} timed out); worker RSS ${fresh} -> ${rss} MiB`,
      );
    }
    await worker.stop();
    t0 = Date.now();
    const noWorker = await visibility(stack.client, n, cli);
    const oldNoWorker = await oldApprovals(stack.client, n);
    result.workerStopped = { visibility: noWorker, oldQuery: oldNoWorker };
    save();
    console.log(`worker stopped: visibility approvals ${noWorker.approvalsMedianMs} ms (${noWorker.gates} gates), list ${noWorker.listMedianMs} ms; old way ${oldNoWorker.answered} answered, ${oldNoWorker.timedOut} timed out`);
    result.finished = new Date().toISOString();
    save();
    console.log(`written ${out}`);
  } finally {
    await worker?.stop().catch(() => undefined);
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
