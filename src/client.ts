/**
 * The typed client of Lifeboat: start, list, watch, approve, decide and
 * cancel recoveries. These are plain service functions over a Temporal
 * {@link Client}; they know nothing of command-line flags, so the CLI, tests
 * and scripts share them.
 *
 * Everything a caller can get wrong is checked before the first network call
 * and reported as a {@link UsageError} naming the field and the fix.
 *
 * @example
 * ```ts
 * const config = loadConfig();
 * const inventory = loadInventory(config.inventoryPath);
 * const client = await connectClient(config);
 * const { workflowId } = await startRecovery(client, inventory, {
 *   scenario: 'ledger.quorum-loss', cluster: 'ledger-prod', set: { survivor: 'node1' }, startedBy: 'alice',
 * });
 * ```
 * @module
 */
import { randomUUID } from 'node:crypto';
import {
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import { z } from 'zod';
import type { History } from '@temporalio/common/lib/proto-utils';
import { SCENARIOS, findScenario, type ScenarioSpec } from './catalog';
import { clusterOf, topologyOf, type Inventory } from './inventory/load';
import {
  SA_AWAITING_APPROVAL,
  SA_CLUSTER,
  SA_SCENARIO,
  SA_STEP,
  approvalPolicyQuery,
  approveUpdate,
  decideUpdate,
  progressQuery,
  rejectUpdate,
  type ApprovalPolicy,
  type ApproveArgs,
  type DecideArgs,
  type GateRecord,
  type PendingDecision,
  type Progress,
  type RecoveryInput,
  type RecoveryOptions,
  type RejectArgs,
  type RecoveryStatus,
} from './workflows/kit/defs';
import { approvalCommands, MEMO_KEY, type RecoveryMemo } from './workflows/kit/memo';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { decodeOptionalSinglePayload } from '@temporalio/common/lib/internal-non-workflow/codec-helpers';

// ------------------------------------------------------------------ errors ----

/** The request is wrong (unknown scenario, bad parameter, refused by a validator). Exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    /** What the operator should do next. */
    readonly fix: string,
    /** The input at fault (`scenario`, `cluster`, `set.survivor`, `--as`...). */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** The cluster already has a recovery running. Exit code 3. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
  constructor(
    message: string,
    readonly fix: string,
    readonly workflowId: string,
    readonly runId?: string,
  ) {
    super(message);
  }
}

/** No recovery with this id. Exit code 3. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

/** An approve/reject/decide found nothing waiting for it. Exit code 4. */
export class NothingWaitingError extends Error {
  override readonly name = 'NothingWaitingError';
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

/** A recovery's live state could not be read (no worker answers queries). Exit code 1. */
export class OperationFailedError extends Error {
  override readonly name = 'OperationFailedError';
  constructor(
    message: string,
    readonly fix: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ------------------------------------------------------------------ limits ----

/** Longest `--set` value accepted (paths, URLs and names are far shorter; a huge value is a mistake). */
export const MAX_PARAM_LENGTH = 1024;
/** Longest `--reason` accepted (it goes into history, the report and notifications). */
export const MAX_REASON_LENGTH = 2000;
/** Longest identity (`--as`) accepted. */
export const MAX_IDENTITY_LENGTH = 128;

/** How a value typed by the operator is echoed in an error: quoted, escaped, truncated. */
export function shown(value: string, max = 60): string {
  const v = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(v);
}

/**
 * Refuses text that could not be meant: control characters (newline, NUL,
 * escape...) and oversized values. Pure; no network.
 *
 * @throws {@link UsageError} naming the field, its limit and the fix
 */
export function checkText(value: string, field: string, max: number, what: string): void {
  if (value.length > max) {
    throw new UsageError(
      `${field} is ${value.length} characters long; the limit is ${max}`,
      `shorten ${what} (put long text in a ticket and reference it)`,
      field,
    );
  }
  const bad = /[\u0000-\u001f\u007f]/.exec(value);
  if (bad) {
    const name = bad[0] === '\n' ? 'a newline' : bad[0] === '\r' ? 'a carriage return' : bad[0] === '\t' ? 'a tab' : `control character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`;
    throw new UsageError(`${field} contains ${name} (at position ${bad.index}): ${shown(value)}`, `write ${what} on one line, without control characters`, field);
  }
}

// ------------------------------------------------------------------- start ----

/** What the operator asks for: `lifeboat run <scenario> --cluster C --set k=v`. */
export interface StartRequest {
  scenario: string;
  cluster: string;
  /** `--set` values as typed (strings); coerced to the schema's types. */
  set: Record<string, string>;
  dryRun?: boolean;
  /** Who starts the recovery (recorded in history and the report). */
  startedBy: string;
  options?: RecoveryOptions;
}

/** A validated start: everything needed to start the workflow, built without any network call. */
export interface PlannedRecovery {
  spec: ScenarioSpec;
  workflowId: string;
  taskQueue: string;
  input: RecoveryInput;
}

export interface StartedRecovery {
  workflowId: string;
  runId: string;
  taskQueue: string;
  input: RecoveryInput;
}

/** The workflow id of a cluster's recovery: one recovery per cluster at a time. */
export function recoveryWorkflowId(cluster: string): string {
  return `recovery-${cluster}`;
}

/**
 * A scenario of the catalogue.
 *
 * @throws {@link UsageError} `unknown scenario "x"; known: ...`
 */
export function scenarioSpec(id: string): ScenarioSpec {
  const spec = findScenario(id);
  if (!spec) {
    throw new UsageError(
      `unknown scenario ${shown(id)}; known: ${SCENARIOS.map((s) => s.id).join(', ')}`,
      'pick one of the scenarios above (`lifeboat scenarios` describes them)',
      'scenario',
    );
  }
  return spec;
}

/**
 * Validates a start request and builds the workflow input. Pure: no network.
 *
 * @throws {@link UsageError} naming the field at fault: unknown scenario (lists the known ones),
 * unknown cluster, cluster of another system, unknown or invalid parameter, node not in the cluster
 */
export function planRecovery(inventory: Inventory, req: StartRequest): PlannedRecovery {
  const spec = scenarioSpec(req.scenario);
  const known = Object.keys(inventory.clusters);
  const cluster = Object.prototype.hasOwnProperty.call(inventory.clusters, req.cluster) ? clusterOf(inventory, req.cluster) : undefined;
  if (!cluster) {
    throw new UsageError(
      `unknown cluster ${shown(req.cluster)}; known: ${known.length ? known.join(', ') : '(none: the inventory is empty)'}`,
      known.length ? `use --cluster with one of: ${known.join(', ')}` : 'add the cluster to the inventory',
      'cluster',
    );
  }
  if (cluster.system !== spec.system) {
    const fitting = known.filter((k) => inventory.clusters[k]?.system === spec.system);
    throw new UsageError(
      `cluster "${req.cluster}" is a ${cluster.system} cluster, but ${spec.id} recovers ${spec.system} clusters`,
      fitting.length
        ? `use a ${spec.system} cluster (${fitting.join(', ')}) or a ${cluster.system} scenario`
        : `pick a ${cluster.system} scenario (\`lifeboat scenarios\`)`,
      'cluster',
    );
  }
  const nodes = cluster.nodes.map((n) => n.name);
  const params = parseParams(spec, req.set, nodes, req.cluster);
  if (!req.startedBy || !req.startedBy.trim()) {
    throw new UsageError('who starts the recovery is unknown', 'pass --as NAME (or set $USER)', 'as');
  }
  checkText(req.startedBy.trim(), '--as', MAX_IDENTITY_LENGTH, 'the name');
  const input: RecoveryInput = {
    scenario: spec.id,
    cluster: topologyOf(inventory, req.cluster),
    params,
    startedBy: req.startedBy.trim(),
    dryRun: req.dryRun === true,
  };
  if (req.options && Object.values(req.options).some((v) => v !== undefined)) input.options = { ...req.options };
  return { spec, workflowId: recoveryWorkflowId(req.cluster), taskQueue: cluster.taskQueue, input };
}

/**
 * Starts a recovery: validates ({@link planRecovery}) before any network
 * call, then starts the scenario's workflow as `recovery-<cluster>` on the
 * cluster's task queue, with search attributes, a summary and details for the
 * Web UI.
 *
 * @returns workflow id, run id, task queue and the exact input recorded in history
 * @throws {@link UsageError} bad request; {@link ConflictError} when the cluster already has a recovery running
 */
export async function startRecovery(client: Client, inventory: Inventory, req: StartRequest): Promise<StartedRecovery> {
  return startPlanned(client, planRecovery(inventory, req));
}

/**
 * Starts a planned recovery ({@link planRecovery}), e.g. after the CLI added
 * the approval policy and the signed start statement to its input.
 *
 * @throws {@link ConflictError} when the cluster already has a recovery running
 */
export async function startPlanned(client: Client, plan: PlannedRecovery): Promise<StartedRecovery> {
  const { spec, workflowId, taskQueue, input } = plan;
  const req = { cluster: input.cluster.name };
  try {
    const handle = await client.workflow.start(spec.workflowType, {
      workflowId,
      taskQueue,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      // A cluster can be recovered again once its previous recovery closed, whatever its outcome.
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: SA_SCENARIO, value: spec.id },
        { key: SA_CLUSTER, value: req.cluster },
        { key: SA_AWAITING_APPROVAL, value: false },
        { key: SA_STEP, value: 'starting' },
      ],
      staticSummary: `${input.dryRun ? '[dry run] ' : ''}${spec.title} — ${req.cluster} (started by ${input.startedBy})`,
      staticDetails: staticDetails(plan),
    });
    return { workflowId, runId: handle.firstExecutionRunId, taskQueue, input };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) throw await describeConflict(client, req.cluster, workflowId);
    throw err;
  }
}

function staticDetails({ spec, input }: PlannedRecovery): string {
  const params = Object.entries(input.params);
  const lines = [
    `**${spec.title}**`,
    '',
    `- Scenario: \`${spec.id}\` (seed ${spec.seed})`,
    `- Cluster: \`${input.cluster.name}\` (${input.cluster.system}, ${input.cluster.nodes.length} nodes)`,
    `- Started by: ${input.startedBy}`,
    `- Dry run: ${input.dryRun ? 'yes — nothing will be changed' : 'no'}`,
    `- RTO: target ${spec.rto.targetMinutes === 0 ? 'automatic' : `${spec.rto.targetMinutes} min`}, max ${spec.rto.maxMinutes} min`,
    `- Parameters: ${params.length ? params.map(([k, v]) => `\`${k}=${String(v)}\``).join(', ') : '(defaults)'}`,
  ];
  if (spec.dangerousGates.length) lines.push(`- Dangerous gates (cluster name typed back): ${spec.dangerousGates.map((g) => `\`${g}\``).join(', ')}`);
  return lines.join('\n');
}

async function describeConflict(client: Client, cluster: string, workflowId: string): Promise<ConflictError> {
  const next = `Watch it: \`lifeboat watch ${workflowId}\`; stop it: \`lifeboat cancel ${workflowId}\``;
  const fix = 'one recovery per cluster at a time: let the running one finish, or cancel it before starting another';
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    const scenario = d.typedSearchAttributes.get(SA_SCENARIO) ?? d.type;
    const step = d.typedSearchAttributes.get(SA_STEP) ?? 'unknown';
    let who = 'unknown';
    try {
      who = (await getProgress(client, workflowId, d.runId, { timeoutMs: 3000 })).startedBy;
    } catch {
      // No worker to answer the query: the rest of the description still helps.
    }
    return new ConflictError(
      `cluster ${cluster} already has a recovery running: ${scenario} (workflow ${workflowId}, run ${d.runId}) ` +
        `started by ${who} at ${d.startTime.toISOString()}, now at step ${step}. ${next}`,
      fix,
      workflowId,
      d.runId,
    );
  } catch {
    return new ConflictError(`cluster ${cluster} already has a recovery running (workflow ${workflowId}). ${next}`, fix, workflowId);
  }
}

// ---------------------------------------------------------------- params ----

/** The node-name pattern of the catalogue: a string param constrained to it names a node. */
const NODE_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]*$';

interface ZodInternals {
  _zod: { def: { type: string; innerType?: unknown; element?: unknown; checks?: Array<{ _zod: { def: { format?: string; pattern?: RegExp } } }> } };
}

/** Strips optional/default/nullable wrappers. */
function unwrap(schema: unknown): ZodInternals {
  let s = schema as ZodInternals;
  for (let i = 0; i < 10 && s._zod.def.innerType; i++) s = s._zod.def.innerType as ZodInternals;
  return s;
}

function isNodeParam(schema: unknown): boolean {
  const meta = z.globalRegistry.get(schema as z.ZodType) as { kind?: unknown } | undefined;
  if (meta?.kind === 'node') return true;
  const base = unwrap(schema);
  return (
    base._zod.def.type === 'string' &&
    (base._zod.def.checks ?? []).some((c) => c._zod.def.format === 'regex' && c._zod.def.pattern?.source === NODE_NAME_PATTERN)
  );
}

/** `--set` values are text: turn them into what the schema expects. */
function coerce(schema: unknown, raw: string): unknown {
  const base = unwrap(schema);
  switch (base._zod.def.type) {
    case 'boolean':
      if (/^(true|yes|1)$/i.test(raw)) return true;
      if (/^(false|no|0)$/i.test(raw)) return false;
      return raw;
    case 'number':
    case 'int':
    case 'bigint':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    case 'array':
      return raw === '' ? [] : raw.split(',').map((x) => coerce(base._zod.def.element, x.trim()));
    default:
      return raw;
  }
}

function parseParams(spec: ScenarioSpec, set: Record<string, string>, nodes: string[], cluster: string): Record<string, unknown> {
  const shape = spec.params.shape as Record<string, unknown>;
  const knownKeys = Object.keys(shape);
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(set)) {
    if (!Object.prototype.hasOwnProperty.call(shape, key)) {
      throw new UsageError(
        `${spec.id} has no parameter ${shown(key)}; parameters: ${knownKeys.length ? knownKeys.join(', ') : '(none)'}`,
        knownKeys.length ? `use --set with one of: ${knownKeys.map((k) => `${k}=...`).join(', ')}` : 'drop --set',
        `set.${key}`,
      );
    }
    // Every value may end up in a remote command (quoted) or a request: refuse what cannot be meant.
    checkText(value, `--set ${key}`, MAX_PARAM_LENGTH, `the value of ${key}`);
    raw[key] = coerce(shape[key], value);
  }
  const parsed = spec.params.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.path.map(String).join('.') ?? '';
    const help = spec.paramHelp[key.split('.')[0] ?? ''];
    throw new UsageError(
      `--set ${key}: ${issue?.message ?? 'invalid value'}${parsed.error.issues.length > 1 ? ` (and ${parsed.error.issues.length - 1} more)` : ''}`,
      help ? `${key}: ${help}` : `see \`lifeboat scenarios\` for ${spec.id}'s parameters`,
      `set.${key}`,
    );
  }
  const params = parsed.data as Record<string, unknown>;
  for (const key of knownKeys) {
    if (!isNodeParam(shape[key])) continue;
    const values = ([] as unknown[]).concat(params[key] ?? []);
    for (const v of values) {
      if (typeof v === 'string' && !nodes.includes(v)) {
        throw new UsageError(
          `--set ${key}=${v}: ${v} is not a node of cluster ${cluster}; nodes: ${nodes.join(', ')}`,
          `use one of: ${nodes.join(', ')}`,
          `set.${key}`,
        );
      }
    }
  }
  return params;
}

// ------------------------------------------------------------------- read ----

/** One recovery as listed by `lifeboat list`. */
export interface RecoveryRow {
  workflowId: string;
  runId: string;
  scenario: string;
  cluster: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT... */
  status: string;
  startTime: string;
  closeTime?: string;
  step?: string;
  awaitingApproval: boolean;
  /** Who started it (from the recovery's memo; absent on recoveries started before the memo). */
  startedBy?: string;
  /** Lifeboat's own status (running, waiting-approval, waiting-decision, completed...), from the memo. */
  state?: RecoveryStatus;
}

/** Visibility query over Lifeboat's search attributes. Values are quoted for the query language. */
export function recoveriesQuery(opts: { open?: boolean; cluster?: string; awaitingApproval?: boolean }): string {
  const clauses = ['LifeboatScenario IS NOT NULL'];
  if (opts.cluster) clauses.push(`LifeboatCluster = ${quote(opts.cluster)}`);
  if (opts.open) clauses.push(`ExecutionStatus = 'Running'`);
  if (opts.awaitingApproval) clauses.push('LifeboatAwaitingApproval = true');
  return clauses.join(' AND ');
}

function quote(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function rowOf(info: Pick<WorkflowExecutionInfo, 'workflowId' | 'runId' | 'typedSearchAttributes' | 'type' | 'status' | 'startTime' | 'closeTime'>, memo?: RecoveryMemo): RecoveryRow {
  const sa = info.typedSearchAttributes;
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    scenario: sa.get(SA_SCENARIO) ?? info.type,
    cluster: sa.get(SA_CLUSTER) ?? '',
    status: info.status.name,
    startTime: info.startTime.toISOString(),
    closeTime: info.closeTime?.toISOString(),
    step: sa.get(SA_STEP),
    awaitingApproval: sa.get(SA_AWAITING_APPROVAL) === true,
    ...(memo ? { startedBy: memo.startedBy, state: memo.status } : {}),
  };
}

/** Temporal's execution status codes (temporal.api.enums.v1.WorkflowExecutionStatus), by name. */
const STATUS_NAMES = ['UNSPECIFIED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'CONTINUED_AS_NEW', 'TIMED_OUT', 'PAUSED'] as const;

/** One recovery as the visibility store returns it: its row and, when it has one, its memo. */
export interface VisibleRecovery {
  row: RecoveryRow;
  /** What `approvals` and `list` show, kept by the recovery (absent on recoveries started before the memo). */
  memo?: RecoveryMemo;
  /** Why the memo could not be read (e.g. encrypted and this CLI has no codec key). */
  memoError?: string;
}

/**
 * Recoveries matching a visibility query, newest first, with their memo: one
 * `ListWorkflowExecutions` call per page of 100 (no worker needed). The memo
 * goes through the client's data converter (the payload codec, when one is
 * configured), one recovery at a time, so one memo that cannot be decoded
 * does not hide the others.
 *
 * @param limit at most this many
 */
export async function visibleRecoveries(client: Client, query: string, limit: number): Promise<VisibleRecovery[]> {
  const out: VisibleRecovery[] = [];
  const namespace = client.options.namespace;
  let nextPageToken: Uint8Array = new Uint8Array();
  for (;;) {
    const page = await client.workflowService.listWorkflowExecutions({ namespace, query, nextPageToken, pageSize: Math.min(Math.max(limit - out.length, 1), 100) });
    for (const raw of page.executions) {
      const workflowId = raw.execution?.workflowId ?? '';
      const typedSearchAttributes = decodeTypedSearchAttributes(raw.searchAttributes?.indexedFields);
      let memo: RecoveryMemo | undefined;
      let memoError: string | undefined;
      const payload = raw.memo?.fields?.[MEMO_KEY];
      if (payload) {
        try {
          const value = await decodeOptionalSinglePayload<RecoveryMemo>(client.options.loadedDataConverter, payload, { type: 'workflow', namespace, workflowId });
          if (value && value.v === 1) memo = value;
          else memoError = 'its memo is of an unknown version';
        } catch (err) {
          memoError = `its memo could not be decoded (${err instanceof Error ? err.message : String(err)})`;
        }
      }
      const info = {
        workflowId,
        runId: raw.execution?.runId ?? '',
        type: raw.type?.name ?? '',
        typedSearchAttributes,
        status: { name: STATUS_NAMES[raw.status ?? 0] ?? 'UNKNOWN' },
        startTime: tsToDate(raw.startTime) ?? new Date(0),
        closeTime: tsToDate(raw.closeTime),
      } as Pick<WorkflowExecutionInfo, 'workflowId' | 'runId' | 'typedSearchAttributes' | 'type' | 'status' | 'startTime' | 'closeTime'>;
      out.push({ row: rowOf(info, memo), ...(memo ? { memo } : {}), ...(memoError ? { memoError } : {}) });
      if (out.length >= limit) return out;
    }
    if (!page.nextPageToken?.length) return out;
    nextPageToken = page.nextPageToken;
  }
}

function tsToDate(ts: { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined): Date | undefined {
  if (!ts) return undefined;
  const seconds = typeof ts.seconds === 'number' ? ts.seconds : (ts.seconds?.toNumber() ?? 0);
  return new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6));
}

/**
 * Lists recoveries, newest first, through the visibility API alone (no worker
 * needed): status and step from the search attributes, who started it and
 * Lifeboat's own status from the memo.
 *
 * @param opts `open` only running ones; `cluster` only that cluster's; `limit` at most this many (default 50)
 */
export async function listRecoveries(
  client: Client,
  opts: { open?: boolean; cluster?: string; limit?: number } = {},
): Promise<RecoveryRow[]> {
  return (await visibleRecoveries(client, recoveriesQuery(opts), opts.limit ?? 50)).map((v) => v.row);
}

/**
 * The live state of a recovery (the `progress` query). Works on closed
 * recoveries too: Temporal answers by replaying the history on a worker, so a
 * worker for the cluster's task queue must be running.
 *
 * @param runId a specific run (default: the latest)
 * @param opts.timeoutMs how long to wait for a worker to answer (default 10 s)
 * @throws {@link NotFoundError} unknown id; {@link OperationFailedError} when no worker answers in time
 */
export async function getProgress(client: Client, workflowId: string, runId?: string, opts: { timeoutMs?: number } = {}): Promise<Progress> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  // A query can fail for a moment while the run's first workflow task is still being handled (a worker
  // just started, a busy machine): asked again within the same deadline, at most a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.withDeadline(deadline, () => client.workflow.getHandle(workflowId, runId).query(progressQuery));
    } catch (err) {
      const transient = err instanceof ServiceError && (err.cause as { code?: number } | undefined)?.code !== 5 && /failed to query workflow/i.test(err.message);
      if (!transient || attempt >= 4 || Date.now() + 1000 >= deadline) throw mapHandleError(err, workflowId, 'read its progress');
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

/** What an operator answers and signs: the recovery's run, its progress, and how its answers are identified. */
export interface AnswerContext {
  runId: string;
  progress: Progress;
  /** The policy the recovery was started with (undefined: started before signed approvals; answers by name). */
  policy?: ApprovalPolicy;
}

/**
 * Reads what an answer to a recovery must name: its current run, its gates
 * or pending decision, and the approval policy in its input.
 *
 * @throws {@link NotFoundError} no such recovery; {@link OperationFailedError} when no worker answers
 */
export async function answerContext(client: Client, workflowId: string): Promise<AnswerContext> {
  let runId: string;
  try {
    runId = (await client.workflow.getHandle(workflowId).describe()).runId;
  } catch (err) {
    throw mapHandleError(err, workflowId, 'describe it');
  }
  const progress = await getProgress(client, workflowId, runId);
  let policy: ApprovalPolicy | undefined;
  try {
    policy = await client.withDeadline(Date.now() + 10_000, () => client.workflow.getHandle(workflowId, runId).query(approvalPolicyQuery));
  } catch (err) {
    // A worker on code from before signed approvals does not know the query: that recovery answers by name.
    if (!/approval-policy/.test((err as Error).message ?? '')) throw mapHandleError(err, workflowId, 'read its approval policy');
  }
  return { runId, progress, policy };
}

/** Describes a recovery (status, times, search attributes) without needing a worker. */
export async function describeRecovery(client: Client, workflowId: string, runId?: string): Promise<RecoveryRow & { taskQueue: string }> {
  try {
    const d = await client.workflow.getHandle(workflowId, runId).describe();
    return { ...rowOf(d), taskQueue: d.taskQueue };
  } catch (err) {
    throw mapHandleError(err, workflowId, 'describe it');
  }
}

/** A gate waiting for a human, with what the approver needs to decide. */
export interface PendingApproval {
  workflowId: string;
  runId: string;
  cluster: string;
  scenario: string;
  /** The recovery's title. */
  recovery: string;
  startedBy: string;
  gate: string;
  title: string;
  dangerous: boolean;
  evidence: Record<string, string>;
  /** Set when the listing shortened the evidence: says so and which command shows the whole of it. */
  evidenceNote?: string;
  /** `sha256:...` of the full evidence (what a signed answer names). */
  evidenceDigest?: string;
  choices?: string[];
  requestedAt: string;
  deadline: string;
  /** Distinct approvals the gate needs, and who approved so far. */
  required: number;
  approvedBy: string[];
  /** The exact command that approves (fill in NAME and TEXT). */
  approveCommand: string;
  rejectCommand: string;
  /** Where it was read: the recovery's memo (visibility, no worker), or its progress query (recoveries started before the memo). */
  source: 'memo' | 'query';
}

export { approvalCommands };

/**
 * Every gate waiting for a human across all open recoveries, from one
 * visibility listing (`LifeboatAwaitingApproval = true`): each recovery's
 * memo carries its waiting gates, so no worker is asked. A recovery started
 * before the memo (none written yet) is asked through its progress query, as
 * before; those that no worker answers are reported in `unreadable`.
 *
 * @returns the waiting gates, oldest request first
 */
export async function listApprovals(client: Client): Promise<{ approvals: PendingApproval[]; unreadable: Array<{ workflowId: string; error: string }> }> {
  const approvals: PendingApproval[] = [];
  const unreadable: Array<{ workflowId: string; error: string }> = [];
  // Bounded: far more than any team has waiting.
  const visible = await visibleRecoveries(client, recoveriesQuery({ open: true, awaitingApproval: true }), 2000);
  for (const { row, memo } of visible) {
    if (!memo) continue;
    for (const g of memo.gates) {
      approvals.push({
        workflowId: row.workflowId,
        runId: row.runId,
        cluster: memo.cluster,
        scenario: memo.scenario,
        recovery: memo.title,
        startedBy: memo.startedBy,
        gate: g.gate,
        title: g.title,
        dangerous: g.dangerous,
        evidence: g.evidence,
        ...(g.evidenceNote ? { evidenceNote: g.evidenceNote } : {}),
        ...(g.evidenceDigest ? { evidenceDigest: g.evidenceDigest } : {}),
        ...(g.choices ? { choices: g.choices } : {}),
        requestedAt: g.requestedAt,
        deadline: g.deadline,
        required: g.required,
        approvedBy: g.approvedBy,
        approveCommand: g.approve,
        rejectCommand: g.reject,
        source: 'memo',
      });
    }
  }
  // Recoveries without a memo (started before it, not moved since): their progress query, as before.
  const older = visible.filter((v) => !v.memo).map((v) => v.row);
  const results = await Promise.allSettled(older.map((r) => getProgress(client, r.workflowId, r.runId, { timeoutMs: 5000 })));
  results.forEach((res, i) => {
    const row = older[i] as RecoveryRow;
    if (res.status === 'rejected') {
      unreadable.push({ workflowId: row.workflowId, error: res.reason instanceof Error ? res.reason.message : String(res.reason) });
      return;
    }
    const p = res.value;
    for (const g of p.gates.filter((x) => x.status === 'waiting')) {
      const cmds = approvalCommands(row.workflowId, p.cluster, g);
      approvals.push({
        workflowId: row.workflowId,
        runId: row.runId,
        cluster: p.cluster,
        scenario: p.scenario,
        recovery: p.title,
        startedBy: p.startedBy,
        gate: g.gate,
        title: g.title,
        dangerous: g.dangerous,
        evidence: g.evidence,
        ...(g.evidenceDigest ? { evidenceDigest: g.evidenceDigest } : {}),
        choices: g.choices,
        requestedAt: g.requestedAt,
        deadline: g.deadline,
        required: g.required ?? 1,
        approvedBy: (g.approvals ?? []).map((x) => x.by),
        approveCommand: cmds.approve,
        rejectCommand: cmds.reject,
        source: 'query',
      });
    }
  });
  approvals.sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
  return { approvals, unreadable };
}

// ------------------------------------------------------------------ write ----

/**
 * Approves a waiting gate. The workflow's validator decides at once; its
 * refusal comes back verbatim.
 *
 * @throws {@link UsageError} refused (missing reason, confirmation, choice...);
 * {@link NothingWaitingError} when the gate is not waiting; {@link NotFoundError} unknown id
 */
export async function approveGate(client: Client, workflowId: string, args: ApproveArgs): Promise<GateRecord> {
  checkAnswer(args);
  await refuseLateApproval(client, workflowId, args.gate);
  return update(client, workflowId, () => client.workflow.getHandle(workflowId).executeUpdate(approveUpdate, { args: [args] }));
}

/** Rejects a waiting gate (the recovery stops before the gated action). Errors as {@link approveGate}. */
export async function rejectGate(client: Client, workflowId: string, args: RejectArgs): Promise<GateRecord> {
  checkAnswer(args);
  await refuseLateApproval(client, workflowId, args.gate);
  return update(client, workflowId, () => client.workflow.getHandle(workflowId).executeUpdate(rejectUpdate, { args: [args] }));
}

/** Answers a failed step that waits for `retry | skip | abort`. Errors as {@link approveGate}. */
export async function decide(client: Client, workflowId: string, args: DecideArgs): Promise<PendingDecision> {
  checkAnswer(args);
  return update(client, workflowId, () => client.workflow.getHandle(workflowId).executeUpdate(decideUpdate, { args: [args] }));
}

/**
 * Identity and reason of an answer: bounded, no control characters. Pure;
 * callers run it before connecting (the service functions run it again).
 *
 * @throws {@link UsageError} naming `--as` or `--reason`
 */
export function checkAnswer(args: { by: string; reason?: string }): void {
  if (typeof args.by === 'string') checkText(args.by, '--as', MAX_IDENTITY_LENGTH, 'the name');
  // A reason may span lines (pasted evidence): newlines and tabs are kept, other control characters refused.
  if (typeof args.reason === 'string') checkText(args.reason.replace(/[\n\t]/g, ' '), '--reason', MAX_REASON_LENGTH, 'the reason');
}

/**
 * A gate whose approval timed out is not waiting for an approval any more:
 * the recovery escalated and asks the operator (retry = wait for the approval
 * again, skip, abort). An approval sent then would be recorded but not acted
 * on, so it is refused with the decision to take. Best effort: when the
 * progress cannot be read, the workflow's own validator decides.
 */
async function refuseLateApproval(client: Client, workflowId: string, gate: string): Promise<void> {
  let p: Progress;
  try {
    p = await getProgress(client, workflowId, undefined, { timeoutMs: 5000 });
  } catch {
    return;
  }
  if (p.pendingDecision && p.pendingDecision.step === `approval of "${gate}" timed out`) {
    const g = p.gates.filter((x) => x.gate === gate).at(-1);
    throw new NothingWaitingError(
      `gate "${gate}" of ${workflowId} timed out${g ? ` at ${g.deadline}` : ''} and escalated: the recovery now waits for an operator's decision, not for an approval`,
      `reopen the gate with \`lifeboat decide ${workflowId} retry --as NAME\`, then approve again; or \`decide ${workflowId} skip|abort\``,
    );
  }
}

async function update<R>(client: Client, workflowId: string, fn: () => Promise<R>): Promise<R> {
  try {
    // Updates need a worker to run the validator; do not hang forever when none polls.
    return await client.withDeadline(Date.now() + 30_000, fn);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const message = (err.cause?.message ?? err.message).trim();
      if (/no gate is waiting|nothing is waiting|no longer waiting/i.test(message)) {
        throw new NothingWaitingError(message, `see what is waiting: \`lifeboat watch ${workflowId} --once\` or \`lifeboat approvals\``);
      }
      throw new UsageError(message, `see the gate: \`lifeboat watch ${workflowId} --once\``);
    }
    throw await closedOr(client, workflowId, mapHandleError(err, workflowId, 'deliver the update'));
  }
}

/** An update to a recovery that has ended is "nothing waiting", not "no such recovery". */
async function closedOr(client: Client, workflowId: string, mapped: Error): Promise<Error> {
  if (!(mapped instanceof NotFoundError)) return mapped;
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    if (d.status.name !== 'RUNNING') {
      return new NothingWaitingError(
        `recovery ${workflowId} has ended (${d.status.name.toLowerCase()} at ${d.closeTime?.toISOString() ?? '?'}): nothing waits for an approval or a decision`,
        `read what happened with \`lifeboat report ${workflowId}\`; start a new recovery with \`lifeboat run\` if the cluster still needs one`,
      );
    }
  } catch {
    // Really unknown: keep the not-found error.
  }
  return mapped;
}

/**
 * Requests cancellation of a recovery; the workflow records it and stops at
 * the current step (its steps' cleanup runs).
 *
 * @param reason recorded in the workflow history
 */
export async function cancelRecovery(client: Client, workflowId: string, reason: string): Promise<void> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    if (d.status.name !== 'RUNNING') {
      throw new NothingWaitingError(`recovery ${workflowId} is not running (it is ${d.status.name.toLowerCase()})`, 'nothing to cancel; `lifeboat list --all` shows past recoveries');
    }
    await client.workflowService.requestCancelWorkflowExecution({
      namespace: client.options.namespace,
      workflowExecution: { workflowId, runId: d.runId },
      identity: client.options.identity,
      requestId: randomUUID(),
      reason,
    });
  } catch (err) {
    if (err instanceof NothingWaitingError) throw err;
    throw mapHandleError(err, workflowId, 'cancel it');
  }
}

/**
 * The full history of a recovery's run (the latest by default), for `lifeboat audit`.
 *
 * @throws {@link NotFoundError} when there is no such recovery or run
 */
export async function fetchRecoveryHistory(client: Client, workflowId: string, runId?: string): Promise<History> {
  try {
    return await client.workflow.getHandle(workflowId, runId).fetchHistory();
  } catch (err) {
    throw mapHandleError(err, workflowId, 'read its history');
  }
}

function mapHandleError(err: unknown, workflowId: string, what: string): Error {
  if (err instanceof WorkflowNotFoundError || (err as { code?: number })?.code === 5) {
    return new NotFoundError(`no recovery ${workflowId}`, 'list recoveries with `lifeboat list --all`');
  }
  const e = err as { code?: number; message?: string; cause?: { code?: number; details?: string; message?: string } };
  const code = e?.code ?? e?.cause?.code;
  const text = [e?.message, e?.cause?.details, e?.cause?.message].filter(Boolean).join(': ');
  // DEADLINE_EXCEEDED, or the server's "no poller seen" answer to a query: no worker for the task queue.
  if (code === 4 || /deadline|no poller|worker may be down/i.test(text)) {
    return new OperationFailedError(
      `could not ${what} for ${workflowId}: no worker answered (${e?.cause?.details ?? e?.message ?? 'timeout'})`,
      'start a worker for the cluster\'s task queue (`lifeboat worker`, or `lifeboat dev`)',
      { cause: err },
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}
