/**
 * What `lifeboat approvals` and `lifeboat list` show, kept in the recovery's
 * memo (key {@link MEMO_KEY}) as the recovery moves, so both commands are one
 * visibility call and need no worker: the recovery's scenario, cluster,
 * status and starter (its current step is the `LifeboatStep` search
 * attribute: kept out of the memo, which then changes only when the status,
 * a gate or a decision does, a few times per recovery, not at every step),
 * and for each gate that waits for a human
 * what the approver needs to decide (title, dangerous or not, requested and
 * escalation times, the evidence and its digest, approvals so far and
 * required, the exact commands). `watch`, `report` and the full evidence keep
 * reading the `progress` query and the history.
 *
 * Bounded: the memo is stored in every visibility record and, at each change,
 * in the history; long evidence is shortened with a note naming the command
 * that shows it whole. Nothing here is secret: it is what the progress query
 * already shows any operator (evidence is written for approvers, and activity
 * results that feed it never carry secrets).
 *
 * Pure and deterministic: used by the workflow (kit/state.ts) and by the
 * client.
 *
 * @module
 */
import type { GateRecord, Progress, RecoveryStatus } from './defs';

/** The memo key Lifeboat writes; other memo keys are left alone. */
export const MEMO_KEY = 'lifeboat';

/** Bounds of the memo (characters). */
export const MEMO_LIMITS = {
  /** A title, a step, an error. */
  text: 300,
  /** One evidence value. */
  evidenceValue: 400,
  /** One evidence key. */
  evidenceKey: 80,
  /** Evidence entries kept per gate. */
  evidenceEntries: 16,
  /** Every evidence key and value of one gate together. */
  evidenceTotal: 3000,
  /** Waiting gates kept (a recovery waits on one gate at a time; a few at most). */
  gates: 4,
} as const;

/** One gate waiting for a human, as the memo carries it. */
export interface MemoGate {
  gate: string;
  title: string;
  dangerous: boolean;
  requestedAt: string;
  /** When the gate escalates if nobody answers. */
  deadline: string;
  /** What the approver is shown (bounded; see {@link evidenceNote}). */
  evidence: Record<string, string>;
  /** Set when the evidence was shortened for the listing: says so and where the whole of it is. */
  evidenceNote?: string;
  /** `sha256:...` of the full evidence (what a signed answer names). */
  evidenceDigest?: string;
  choices?: string[];
  attempt?: number;
  /** Distinct approvals the gate needs, and who approved so far. */
  required: number;
  approvedBy: string[];
  escalations: number;
  /** The exact commands (fill in NAME and TEXT). */
  approve: string;
  reject: string;
}

/** The memo of a recovery (version 1). */
export interface RecoveryMemo {
  v: 1;
  scenario: string;
  title: string;
  cluster: string;
  startedBy: string;
  startedAt: string;
  dryRun: boolean;
  status: RecoveryStatus;
  approvalMode?: 'signed' | 'unsigned';
  gates: MemoGate[];
  /** A failed step waiting for `retry | skip | abort`. */
  decision?: { step: string; error: string; since: string; choices: string[]; command: string };
}

/** The commands that approve or reject a gate, with the confirmation and choice it needs. */
export function approvalCommands(workflowId: string, cluster: string, gate: Pick<GateRecord, 'gate' | 'dangerous' | 'choices'>): { approve: string; reject: string } {
  const extra = `${gate.dangerous ? ` --confirm ${cluster}` : ''}${gate.choices?.length ? ` --choice ${gate.choices.join('|')}` : ''}`;
  return {
    approve: `lifeboat approve ${workflowId} ${gate.gate} --as NAME --reason "TEXT"${extra}`,
    reject: `lifeboat reject ${workflowId} ${gate.gate} --as NAME --reason "TEXT"`,
  };
}

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** Evidence within {@link MEMO_LIMITS}, and a note when anything was cut. */
export function boundedEvidence(evidence: Record<string, string>, watchCommand: string): { evidence: Record<string, string>; note?: string } {
  const out: Record<string, string> = {};
  const entries = Object.entries(evidence);
  let total = 0;
  let shortened = 0;
  let dropped = 0;
  for (const [k, v] of entries) {
    const key = cut(k, MEMO_LIMITS.evidenceKey);
    let value = cut(String(v), MEMO_LIMITS.evidenceValue);
    if (Object.keys(out).length >= MEMO_LIMITS.evidenceEntries || total + key.length >= MEMO_LIMITS.evidenceTotal) {
      dropped++;
      continue;
    }
    const room = MEMO_LIMITS.evidenceTotal - total - key.length;
    if (value.length > room) value = cut(value, Math.max(room, 2));
    if (value.length < String(v).length || key.length < k.length) shortened++;
    out[key] = value;
    total += key.length + value.length;
  }
  if (!shortened && !dropped) return { evidence: out };
  const parts = [shortened ? `${shortened} value(s) shortened` : '', dropped ? `${dropped} of ${entries.length} entries left out` : ''].filter(Boolean);
  return { evidence: out, note: `evidence shortened for the listing (${parts.join(', ')}); the whole of it: ${watchCommand}` };
}

/**
 * The memo for a recovery's current progress. Deterministic: the same
 * progress gives the same memo (the workflow compares it to the last one it
 * wrote, and writes only a change).
 */
export function recoveryMemo(progress: Progress, workflowId: string): RecoveryMemo {
  const watch = `lifeboat watch ${workflowId} --once`;
  const gates = progress.gates
    .filter((g) => g.status === 'waiting')
    .slice(-MEMO_LIMITS.gates)
    .map((g): MemoGate => {
      const ev = boundedEvidence(g.evidence, watch);
      const cmds = approvalCommands(workflowId, progress.cluster, g);
      return {
        gate: g.gate,
        title: cut(g.title, MEMO_LIMITS.text),
        dangerous: g.dangerous,
        requestedAt: g.requestedAt,
        deadline: g.deadline,
        evidence: ev.evidence,
        ...(ev.note ? { evidenceNote: ev.note } : {}),
        ...(g.evidenceDigest ? { evidenceDigest: g.evidenceDigest } : {}),
        ...(g.choices?.length ? { choices: g.choices.slice(0, 20).map((c) => cut(c, MEMO_LIMITS.evidenceKey)) } : {}),
        ...(g.attempt !== undefined ? { attempt: g.attempt } : {}),
        required: g.required ?? 1,
        approvedBy: (g.approvals ?? []).map((a) => a.by),
        escalations: g.escalations,
        approve: cmds.approve,
        reject: cmds.reject,
      };
    });
  const d = progress.pendingDecision;
  const choices = d?.choices ?? ['retry', 'skip', 'abort'];
  return {
    v: 1,
    scenario: progress.scenario,
    title: cut(progress.title, MEMO_LIMITS.text),
    cluster: progress.cluster,
    startedBy: progress.startedBy,
    startedAt: progress.startedAt,
    dryRun: progress.dryRun,
    status: progress.status,
    ...(progress.approvalMode ? { approvalMode: progress.approvalMode } : {}),
    gates,
    ...(d
      ? {
          decision: {
            step: cut(d.step, MEMO_LIMITS.text),
            error: cut(d.error, MEMO_LIMITS.text),
            since: d.since,
            choices,
            command: `lifeboat decide ${workflowId} ${choices.join('|')} --as NAME`,
          },
        }
      : {}),
  };
}
