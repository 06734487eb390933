/**
 * The production stack, run for real: the Temporal server (go.temporal.io/server
 * v1.32.0, built by setup) on PostgreSQL (Debian's), started with the config
 * files docker-compose.yml mounts (deploy/temporal/config.yaml and
 * dynamicconfig.yaml), its schemas applied and its namespace and search
 * attributes registered by the compose stack's own one-shot scripts
 * (deploy/temporal/setup-postgres.sh with temporal-sql-tool, bootstrap.sh),
 * two Lifeboat workers as separate processes, and the lab.
 *
 * gossip.total-loss runs through the CLI on the lab's simulated cluster: it
 * waits at its approval gate (clear-persistent-state), then on a 10 s durable
 * timer (let the seeds form the cluster). While it waits:
 *   - at the gate, the worker holding the workflow is SIGKILLed: the other one
 *     answers the progress query and runs the rest of the recovery;
 *   - at the gate, PostgreSQL is restarted under the running Temporal server;
 *   - on the timer, the Temporal server is SIGKILLed and started again on the
 *     same database: the timer it had persisted fires.
 * The recovery completes, the cluster is healthy, and every non-idempotent
 * effect reached each node once.
 *
 * Every process (workers, lab, Temporal server, PostgreSQL) is stopped in
 * `after`, even on failure; a crashed run's leftovers ($TMPDIR/lb-stack-*)
 * are removed at the next start.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { getProgress } from '../../src/client';
import type { Progress } from '../../src/workflows/kit/defs';
import { eventually, startStack, type Stack, type WorkerProcess } from '../helpers/stack';
import { bootstrapNamespace, removeLeftovers, setupSchemas, stackDir, startPostgres, temporalServer, temporalServerTools, TEMPORAL_SERVER_VERSION, type Postgres, type TemporalServer } from '../helpers/temporal-server';

const CLUSTER = 'lab-gossip';
const SCENARIO = 'gossip.total-loss';
const GATE = 'clear-persistent-state';
const TIMER = /let the seeds form the cluster/;
/** Per node, at most this many times over the whole run (as in the crash matrix). */
const ONCE: Record<string, number> = { 'gossip.state-cleared': 1, 'gossip.start': 1, 'gossip.stop': 0 };

let dir: string | undefined;
let pg: Postgres | undefined;
let server: TemporalServer | undefined;
let stack: Stack | undefined;

after(async () => {
  // Workers first (they would only retry against a server going away), then the server, then its database.
  await stack?.stop().catch(() => undefined);
  await server?.stop().catch(() => undefined);
  await pg?.stop().catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function log(msg: string): void {
  console.log(`# stack: ${msg}`);
}

/** Identity of the worker that completed the workflow's last workflow task (`<n>@<host>:<pid>` style, ends with the pid). */
async function lastWorkflowTaskIdentity(handle: WorkflowHandle): Promise<string> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.filter((e) => e.workflowTaskCompletedEventAttributes).at(-1)?.workflowTaskCompletedEventAttributes?.identity ?? '';
}

function ranOn(identity: string, w: WorkerProcess): boolean {
  return identity.endsWith(`:${w.proc.pid}`);
}

test(`${SCENARIO} on Temporal server ${TEMPORAL_SERVER_VERSION} + PostgreSQL with two workers: a worker SIGKILLed, PostgreSQL restarted, the server SIGKILLed; completes, effects once`, { timeout: 420_000 }, async () => {
  const began = Date.now();
  const since = (): string => `${((Date.now() - began) / 1000).toFixed(1)} s`;
  temporalServerTools(); // fails first, saying how to build them
  const stale = removeLeftovers();
  if (stale.length) log(`removed a crashed run's leftovers: ${stale.join(', ')}`);

  dir = stackDir();
  pg = await startPostgres(dir);
  log(`PostgreSQL on 127.0.0.1:${pg.port} (${since()})`);
  const schema = await setupSchemas(pg);
  assert.match(schema, /Temporal schemas are up to date/);
  assert.deepEqual(
    (await pg.query('postgres', "select datname from pg_database where datname like 'temporal%' order by 1")).trim().split('\n'),
    ['temporal', 'temporal_visibility'],
  );
  server = await temporalServer(dir, pg);
  await server.start();
  log(`temporal-server at ${server.address} (${since()})`);
  const boot = await bootstrapNamespace(server.address);
  for (const sa of ['LifeboatScenario', 'LifeboatCluster', 'LifeboatStep', 'LifeboatAwaitingApproval']) assert.match(boot, new RegExp(`search attribute ${sa}`), boot);

  stack = await startStack({ families: ['gossip'], worker: false, temporalAddress: server.address });
  const s = stack;
  const workers = [s.startWorker(), s.startWorker()];
  await Promise.all(workers.map((w) => w.ready));
  log(`lab and two workers (pids ${workers.map((w) => w.proc.pid).join(', ')}) ready (${since()})`);

  const workflowId = `recovery-${CLUSTER}`;
  const handle = s.client.workflow.getHandle(workflowId);
  const progress = (): Promise<Progress> => getProgress(s.client, workflowId, undefined, { timeoutMs: 5_000 });
  await s.lab.break(SCENARIO);
  const run = await s.cli(['run', SCENARIO, '--cluster', CLUSTER, '--as', 'bob']);
  assert.equal(run.code, 0, `lifeboat run failed:\n${run.stdout}${run.stderr}`);

  // 1. At the gate: SIGKILL the worker that holds the workflow; the other one answers for it.
  await eventually('the recovery to wait at its approval gate', async () => (await progress()).status === 'waiting-approval', 120_000, 500);
  const holder = await lastWorkflowTaskIdentity(handle);
  const victim = workers.find((w) => ranOn(holder, w));
  assert.ok(victim, `the last workflow task ran on one of the two workers (${holder})`);
  const survivor = workers.find((w) => w !== victim)!;
  await victim.kill();
  assert.equal(victim.proc.signalCode, 'SIGKILL');
  log(`SIGKILLed worker ${victim.proc.pid}, which held the workflow (${since()})`);
  const atGate = await eventually('the surviving worker to answer the progress query', async () => {
    const p = await progress();
    return p.status === 'waiting-approval' ? p : undefined;
  }, 60_000, 500);
  const gate = atGate.gates.find((g) => g.status === 'waiting');
  assert.equal(gate?.gate, GATE);

  // 2. Still at the gate: PostgreSQL restarted under the running server.
  await pg.restart();
  log(`PostgreSQL restarted (${since()})`);
  await eventually('the recovery to be readable again after the PostgreSQL restart', async () => (await progress()).status === 'waiting-approval', 60_000, 500);

  const approve = await s.cli(['approve', workflowId, GATE, '--as', 'alice', '--reason', 'stack test', ...(gate?.dangerous ? ['--confirm', CLUSTER] : [])]);
  assert.equal(approve.code, 0, `lifeboat approve failed:\n${approve.stdout}${approve.stderr}`);

  // 3. On the timer: the Temporal server SIGKILLed, then started again on the same database.
  const onTimer = await eventually('the recovery to wait on its timer', async () => {
    const p = await progress();
    assert.ok(['running', 'waiting-approval'].includes(p.status), `the recovery ended before its timer: ${p.status} ${p.outcome ?? ''}`);
    return p.wait?.kind === 'timer' && TIMER.test(p.wait.title) ? p : undefined;
  }, 120_000, 200);
  const timerEnd = Date.parse(onTimer.wait?.until ?? '');
  assert.ok(!Number.isNaN(timerEnd), `the timer has an end: ${JSON.stringify(onTimer.wait)}`);
  const killedAt = Date.now();
  await server.kill();
  assert.equal(server.proc()?.signalCode, 'SIGKILL');
  log(`SIGKILLed temporal-server ${timerEnd - killedAt} ms before the timer's end (${since()})`);
  await server.start();
  log(`temporal-server back after ${Date.now() - killedAt} ms (${since()})`);

  const done = await eventually('the recovery to complete', async () => {
    const p = await progress();
    return p.status === 'running' ? undefined : p;
  }, 180_000, 1_000);
  log(`recovery ${done.status} (${since()}): ${done.outcome ?? ''}`);
  assert.equal(done.status, 'completed', `${done.status}: ${done.outcome ?? ''}`);

  // The timer fired after the server came back (it was persisted in PostgreSQL before the kill).
  const fired = done.steps.find((st) => /Start .* \(systemctl start plumtree\)/.test(st.title) && !/seed/.test(st.title));
  assert.ok(fired && Date.parse(fired.startedAt) >= timerEnd, `the nodes after the seeds started after the timer's end: ${JSON.stringify(fired)}`);
  // The surviving worker carried the recovery on: every workflow task since the kill is its.
  assert.ok(ranOn(await lastWorkflowTaskIdentity(handle), survivor), 'the surviving worker completed the recovery');
  assert.equal(survivor.proc.exitCode, null, 'the surviving worker is still running');

  // Effects once.
  const counts: Record<string, Record<string, number>> = {};
  for (const e of s.lab.effects.list({ cluster: CLUSTER })) (counts[e.effect] ??= {})[e.node] = (counts[e.effect]?.[e.node] ?? 0) + 1;
  const repeated = Object.entries(ONCE).flatMap(([effect, max]) => Object.entries(counts[effect] ?? {}).filter(([, n]) => n > max).map(([node, n]) => `${effect} on ${node}: ${n}`));
  assert.deepEqual(repeated, [], `no effect twice: ${JSON.stringify(counts)}`);
  assert.ok(Object.keys(counts['gossip.start'] ?? {}).length >= 3, `every node was started: ${JSON.stringify(counts)}`);
  const health = await eventually('the lab cluster to be healthy', async () => (await s.lab.health()).find((h) => h.cluster === CLUSTER && h.healthy), 20_000, 500);
  assert.ok(health.healthy);

  // The history lives in PostgreSQL (not a dev server's SQLite).
  const rows = (await pg.query('temporal', `select count(*) from current_executions where workflow_id = '${workflowId}'`)).trim();
  assert.equal(rows, '1', 'the recovery is in the temporal database');
  log(`done in ${since()}`);
});
