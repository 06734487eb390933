/**
 * Records the history of every branch in ./branches.ts on the time-skipping
 * server with stub activities, into test/replay/histories/<scenario-id>/<branch>.json.
 * Each run is checked before its history is written: the operator's answers
 * were all used at the point they were meant for, and the recovery ended as
 * the branch says (an outcome, or a failure type) — a recording of the wrong
 * branch is refused.
 *
 * Run by hand after a deliberate workflow change (not a test; CI only replays):
 *   npx tsc -p tsconfig.json && node dist/test/replay/record-branches.js [FILTER]
 * FILTER (optional) keeps the branches whose `<scenario-id>/<branch>` contains it.
 */
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import type { RecoveryResult } from '../../src/workflows/kit';
import { approveUpdate, decideUpdate, progressQuery, rejectUpdate, type Progress } from '../../src/workflows/kit/defs';
import { historyName, writeHistory } from '../helpers/history';
import { bundle, taskQueue, timeSkippingEnv, WORKFLOWS_PATH } from '../helpers/temporal';
import { BRANCHES, type Answer, type Branch } from './branches';

Runtime.install({ logger: new DefaultLogger('ERROR') });

const ENDED = ['completed', 'failed', 'aborted'];

/** Gives the operator's answers in order, skipping workflow time while the workflow waits for something else. */
async function drive(env: TestWorkflowEnvironment, h: WorkflowHandle, answers: Answer[], cluster: string): Promise<void> {
  const todo = [...answers];
  for (let i = 0; todo.length > 0; i++) {
    if (i >= 2000) throw new Error(`gave up waiting for the point of ${JSON.stringify(todo[0])}`);
    const p: Progress = await h.query(progressQuery);
    const next = todo[0]!;
    if (ENDED.includes(p.status)) throw new Error(`the recovery ended (${p.status}: ${p.outcome ?? ''}) before ${JSON.stringify(next)}`);
    const waiting = p.gates.find((g) => g.status === 'waiting');
    if ('decide' in next) {
      if (p.pendingDecision) {
        await h.executeUpdate(decideUpdate, { args: [{ decision: next.decide, by: 'carol', reason: 'recorded branch' }] });
        todo.shift();
        continue;
      }
      // A waiting gate before a decision: let its approval time out (escalation "ask").
      await env.sleep(waiting ? '1 minute' : '5 seconds');
      continue;
    }
    const gate = 'approve' in next ? next.approve : next.reject;
    if (waiting?.gate === gate) {
      if ('approve' in next) {
        await h.executeUpdate(approveUpdate, { args: [{ gate, by: 'alice', reason: 'recorded branch', confirm: cluster, choice: next.choice }] });
      } else {
        await h.executeUpdate(rejectUpdate, { args: [{ gate, by: 'alice', reason: 'recorded branch' }] });
      }
      todo.shift();
      continue;
    }
    if (waiting || p.pendingDecision) throw new Error(`waiting for ${waiting ? `gate ${waiting.gate}` : `a decision on ${p.pendingDecision!.step}`}, expected gate ${gate}`);
    // Durable waits (polls, stabilize) pass only while something skips time.
    await env.sleep('5 seconds');
  }
}

async function recordOne(env: TestWorkflowEnvironment, b: Branch, n: number): Promise<string> {
  const { activities, input } = b.make();
  const tq = taskQueue('record');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: tq, workflowBundle: await bundle(WORKFLOWS_PATH), activities });
  return worker.runUntil(async () => {
    const h = await env.client.workflow.start(b.workflowType, { taskQueue: tq, workflowId: `record-${b.scenario}-${b.branch}-${n}`, args: [input] });
    await drive(env, h, b.answers, input.cluster.name);
    let result: RecoveryResult | undefined;
    let failure: string | undefined;
    try {
      result = (await h.result()) as RecoveryResult;
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
      failure = `${(err.cause as { type?: string } | undefined)?.type ?? '?'}: ${err.cause?.message ?? err.message}`;
    }
    const name = historyName(b.scenario, b.branch);
    if ('failure' in b.expect) {
      if (!failure?.startsWith(`${b.expect.failure}:`)) throw new Error(`${name}: expected failure ${b.expect.failure}, got ${failure ?? `outcome ${result?.outcome}`}`);
    } else {
      if (!result) throw new Error(`${name}: expected an outcome matching ${String(b.expect.outcome)}, got failure ${failure}`);
      if (!b.expect.outcome.test(result.outcome)) throw new Error(`${name}: outcome ${JSON.stringify(result.outcome)} does not match ${String(b.expect.outcome)}`);
      if (input.dryRun && result.dryRun !== true) throw new Error(`${name}: a dry run whose result is not marked dryRun`);
    }
    const file = writeHistory(b.scenario, b.branch, await h.fetchHistory());
    return `${name}: ${failure ?? result!.outcome} -> ${file}`;
  });
}

async function main(): Promise<void> {
  const filter = process.argv[2];
  const todo = BRANCHES.filter((b) => !filter || historyName(b.scenario, b.branch).includes(filter));
  if (todo.length === 0) throw new Error(`no branch matches ${filter}`);
  const env = await timeSkippingEnv();
  const errors: string[] = [];
  try {
    await bundle(WORKFLOWS_PATH);
    let n = 0;
    for (const b of todo) {
      n += 1;
      try {
        console.log(await recordOne(env, b, n));
      } catch (err) {
        errors.push(`${historyName(b.scenario, b.branch)}: ${(err as Error).message}`);
        console.error(`FAILED ${errors.at(-1)}`);
      }
    }
  } finally {
    await env.teardown();
  }
  if (errors.length) {
    console.error(`\n${errors.length} of ${todo.length} branch(es) not recorded:\n${errors.join('\n')}`);
    process.exit(1);
  }
  console.log(`\n${todo.length} branch history(ies) recorded`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
