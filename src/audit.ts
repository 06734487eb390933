/**
 * `lifeboat audit`: re-verifies, from a recovery's history alone, every
 * decision that moved it: its start and each accepted approval, rejection
 * and decision. A second implementation on purpose: the signatures are
 * checked by OpenSSH's own `ssh-keygen -Y verify` (not the workflow's
 * JavaScript verifier), against the allowed-signers file the operator names
 * (or, failing that, the public keys the recovery was started with), at the
 * time each statement says it was signed. Each statement must also be the
 * one for what the history says happened: the same recovery and run, the
 * same gate or decision, answer, reason, choice and person.
 *
 * One line per decision: `OK` (signature good, statement matches),
 * `FAIL` (the reason), or `UNSIGNED` (named only: the recovery's cluster
 * declared unsigned approvals, or the recovery predates signed approvals).
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { defaultPayloadConverter, type PayloadCodec } from '@temporalio/common';
import type { History } from '@temporalio/common/lib/proto-utils';
import { digestOf, parseStatement, SIGNING_NAMESPACE, type ApprovalPolicy, type SignedStatement, type Statement } from './approvals';
import type { ApproveArgs, DecideArgs, RecoveryInput, RejectArgs } from './workflows/kit/defs';

type HistoryEvent = NonNullable<History['events']>[number];
type Payload = NonNullable<NonNullable<NonNullable<HistoryEvent['workflowExecutionStartedEventAttributes']>['input']>['payloads']>[number];

/** One decision of the recovery, as audited. */
export interface AuditLine {
  verdict: 'OK' | 'FAIL' | 'UNSIGNED';
  kind: 'start' | 'approve' | 'reject' | 'decide';
  /** When the history recorded it (event time). */
  at: string;
  /** Who it names (the update's `by`, the start's `startedBy`). */
  by: string;
  /** The gate, the decision, or the scenario started. */
  what: string;
  /** `SHA256:...` of the key that signed (OK). */
  keyFingerprint?: string;
  /** Why it failed, or why it is unsigned. */
  note?: string;
  eventId: string;
}

export interface AuditResult {
  workflowId?: string;
  runId?: string;
  scenario?: string;
  cluster?: string;
  mode: 'signed' | 'unsigned' | 'before signed approvals';
  /** Where the keys came from: the file named, or the recovery's own input. */
  keysFrom: string;
  /** Set when the file named differs from the one the recovery was started with. */
  keysNote?: string;
  lines: AuditLine[];
}

export interface AuditOptions {
  /** The team's allowed-signers file for the recovery's cluster (text and where it is); default: the keys in the recovery's input. */
  allowedSigners?: (cluster: string) => { text: string; source: string } | undefined;
  /** Payload codecs (the codec key) to read an encrypted history. */
  codecs?: PayloadCodec[];
  /** The recovery's id and namespace as known to the caller (checked against the statements). */
  workflowId?: string;
  namespace?: string;
  /** The ssh-keygen to run (default: from PATH). */
  sshKeygen?: string;
}

/** Audits a recovery's history; never throws on a bad statement (that is a FAIL line). */
export async function auditHistory(history: History, opts: AuditOptions = {}): Promise<AuditResult> {
  const events = history.events ?? [];
  const first = events[0];
  const started = first?.workflowExecutionStartedEventAttributes;
  if (!started) throw new Error('this is not a workflow history: its first event is not a WorkflowExecutionStarted');
  const input = (await decode(started.input?.payloads?.[0], opts.codecs)) as RecoveryInput | undefined;
  if (!input || typeof input !== 'object' || !input.cluster) throw new Error('the history\'s start is not a Lifeboat recovery\'s (no recovery input)');
  const policy: ApprovalPolicy | undefined = input.approvals;
  const runId = started.originalExecutionRunId ?? undefined;
  const result: AuditResult = {
    workflowId: opts.workflowId,
    runId,
    scenario: input.scenario,
    cluster: input.cluster.name,
    mode: policy ? policy.mode : 'before signed approvals',
    keysFrom: 'none',
    lines: [],
  };

  const work = mkdtempSync(path.join(tmpdir(), 'lifeboat-audit-'));
  try {
    const signersFile = path.join(work, 'allowed_signers');
    const team = policy?.mode === 'signed' ? opts.allowedSigners?.(input.cluster.name) : undefined;
    if (team) {
      writeFileSync(signersFile, team.text);
      result.keysFrom = team.source;
      const digest = `sha256:${createHash('sha256').update(team.text).digest('hex')}`;
      if (policy?.sourceDigest && policy.sourceDigest !== digest) {
        result.keysNote = `${team.source} is not the file this recovery was started with (${policy.source ?? '?'}, ${policy.sourceDigest}): signatures are checked against the file named`;
      }
    } else if (policy?.mode === 'signed') {
      writeFileSync(signersFile, signersText(policy));
      result.keysFrom = `the recovery's own input (${policy.source ?? 'allowed signers'}${policy.sourceDigest ? `, ${policy.sourceDigest}` : ''}); name the team's file with --allowed-signers to check against it`;
    }

    const check = (kind: AuditLine['kind'], at: string, eventId: string, by: string, what: string, signed: SignedStatement | undefined, expect: Partial<Statement>): AuditLine => {
      const base = { kind, at, eventId, by, what };
      if (!policy) return { ...base, verdict: 'UNSIGNED', note: signed ? 'carries a statement, but the recovery predates signed approvals' : 'recorded before signed approvals: identity not verified' };
      if (policy.mode === 'unsigned') return { ...base, verdict: 'UNSIGNED', note: 'the cluster declares unsigned approvals: identity not verified' };
      if (!signed) return { ...base, verdict: 'FAIL', note: 'not signed, but the recovery requires signed approvals: this event was not accepted as recorded' };
      let s: Statement;
      try {
        s = parseStatement(signed.statement);
      } catch (err) {
        return { ...base, verdict: 'FAIL', note: (err as Error).message };
      }
      const mismatch = compare(s, { ...expect, kind, workflowId: opts.workflowId, namespace: opts.namespace, cluster: input.cluster.name, principal: by });
      if (mismatch) return { ...base, verdict: 'FAIL', note: mismatch };
      const v = sshVerify(opts.sshKeygen ?? 'ssh-keygen', work, signersFile, s, signed);
      if (!v.ok) return { ...base, verdict: 'FAIL', note: v.why };
      return { ...base, verdict: 'OK', keyFingerprint: v.fingerprint };
    };

    result.lines.push(
      check('start', iso(first.eventTime), String(first.eventId ?? '1'), input.startedBy, `${input.scenario} on ${input.cluster.name}`, input.startSigned, {
        scenario: input.scenario,
        evidence: digestOf(input.params),
        reason: undefined,
        choice: undefined,
      }),
    );
    for (const e of events) {
      const a = e.workflowExecutionUpdateAcceptedEventAttributes;
      const name = a?.acceptedRequest?.input?.name;
      if (!a || (name !== 'approve' && name !== 'reject' && name !== 'decide')) continue;
      const args = (await decode(a.acceptedRequest?.input?.args?.payloads?.[0], opts.codecs)) as (ApproveArgs & RejectArgs & DecideArgs) | undefined;
      if (!args) continue;
      const at = iso(e.eventTime);
      const id = String(e.eventId ?? '?');
      if (name === 'decide') {
        result.lines.push(check('decide', at, id, args.by, `decision ${args.decision}`, args.signed, { runId, decision: args.decision, reason: args.reason, choice: undefined }));
      } else {
        result.lines.push(
          check(name, at, id, args.by, `gate ${args.gate}${args.choice ? ` choosing ${args.choice}` : ''}`, args.signed, {
            runId,
            target: args.gate,
            decision: name,
            reason: args.reason,
            choice: args.choice,
          }),
        );
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return result;
}

/** True when every line is OK or UNSIGNED. */
export function auditPassed(r: AuditResult): boolean {
  return r.lines.every((l) => l.verdict !== 'FAIL');
}

/** The audit as text, one line per decision, then the count. */
export function renderAudit(r: AuditResult): string {
  const out: string[] = [];
  out.push(`Recovery ${r.workflowId ?? '(from a history file)'}${r.runId ? ` run ${r.runId}` : ''}: ${r.scenario ?? '?'} on ${r.cluster ?? '?'}`);
  out.push(`Approvals: ${r.mode}${r.mode === 'signed' ? `; keys from ${r.keysFrom}` : ''}`);
  if (r.keysNote) out.push(`Note: ${r.keysNote}`);
  for (const l of r.lines) {
    const who = l.keyFingerprint ? `${l.by} (key ${l.keyFingerprint})` : l.by;
    out.push(`${l.verdict.padEnd(8)} ${l.at}  ${l.kind.padEnd(7)} ${l.what}, by ${who}${l.note ? `: ${l.note}` : ''}  [event ${l.eventId}]`);
  }
  const n = (v: AuditLine['verdict']): number => r.lines.filter((l) => l.verdict === v).length;
  out.push(`${r.lines.length} decision(s): ${n('OK')} verified, ${n('FAIL')} failed, ${n('UNSIGNED')} unsigned`);
  return `${out.join('\n')}\n`;
}

/** The first field a statement has that is not what the history says happened. */
function compare(s: Statement, expect: Partial<Statement>): string | undefined {
  for (const k of Object.keys(expect) as Array<keyof Statement>) {
    const want = expect[k];
    if (want === undefined && k !== 'reason' && k !== 'choice') continue;
    if (want === undefined) {
      if (s[k] !== undefined) return `the statement's ${k} is ${JSON.stringify(s[k])}, the event has none`;
      continue;
    }
    if (s[k] !== want) return `the statement's ${k} is ${JSON.stringify(s[k] ?? null)}, the event's is ${JSON.stringify(want)}: the event is not what was signed`;
  }
  return undefined;
}

/** The policy's keys as an allowed-signers file, for ssh-keygen. */
function signersText(policy: ApprovalPolicy): string {
  return (policy.signers ?? [])
    .map((s) => {
      const opts = [
        s.namespaces ? `namespaces="${s.namespaces.join(',')}"` : '',
        s.validAfter ? `valid-after=${sshTime(s.validAfter)}` : '',
        s.validBefore ? `valid-before=${sshTime(s.validBefore)}` : '',
      ].filter(Boolean);
      return `${s.principals.join(',')} ${opts.length ? `${opts.join(',')} ` : ''}${s.key.type} ${s.key.base64}`;
    })
    .join('\n')
    .concat('\n');
}

/** ISO time as ssh-keygen's `YYYYMMDDHHMMSSZ`. */
function sshTime(iso: string): string {
  return `${new Date(iso).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

function sshVerify(bin: string, dir: string, signersFile: string, s: Statement, signed: SignedStatement): { ok: true; fingerprint: string } | { ok: false; why: string } {
  const sig = path.join(dir, 'statement.sig');
  writeFileSync(sig, `${signed.signature.trim()}\n`);
  const r = spawnSync(bin, ['-Y', 'verify', '-f', signersFile, '-I', s.principal, '-n', SIGNING_NAMESPACE, '-s', sig, `-Overify-time=${sshTime(s.signedAt)}`], {
    input: signed.statement,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.error) return { ok: false, why: `could not run ${bin}: ${r.error.message}` };
  const said = `${r.stdout}\n${r.stderr}`;
  const good = /Good "lifeboat" signature for (.+) with (\S+) key (SHA256:\S+)/.exec(said);
  if (r.status === 0 && good) return { ok: true, fingerprint: good[3]! };
  const why = said.split('\n').map((l) => l.trim()).filter(Boolean).join('; ') || `exit ${String(r.status)}`;
  return { ok: false, why: `ssh-keygen -Y verify refuses it: ${why}` };
}

async function decode(p: Payload | undefined | null, codecs: PayloadCodec[] | undefined): Promise<unknown> {
  if (!p) return undefined;
  let payload = p as Parameters<PayloadCodec['decode']>[0][number];
  for (const c of [...(codecs ?? [])].reverse()) {
    const [decoded] = await c.decode([payload]);
    if (!decoded) throw new Error('the payload codec returned nothing for a payload of this history');
    payload = decoded;
  }
  return defaultPayloadConverter.fromPayload(payload);
}

function iso(t: HistoryEvent['eventTime']): string {
  if (!t) return '?';
  const ms = Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
  return new Date(ms).toISOString();
}
