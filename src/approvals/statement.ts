/**
 * What an operator signs: one canonical statement per start, approval,
 * rejection or decision, binding the Temporal namespace, the recovery (its
 * workflow and run), the gate or decision point and its attempt, the answer,
 * the reason, a digest of the evidence the operator was shown, who signs and
 * when. The same bytes are signed by the CLI (`ssh-keygen -Y sign`), checked
 * by the workflow's update validator, and checked again by `lifeboat audit`
 * (`ssh-keygen -Y verify`).
 *
 * Pure and deterministic: runs in the workflow sandbox.
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2';
import { toHex, utf8 } from './bytes';

/** The SSHSIG namespace of every Lifeboat signature (`ssh-keygen -Y sign -n lifeboat`). */
export const SIGNING_NAMESPACE = 'lifeboat';
/** The first field of every statement: its format and version. */
export const STATEMENT_FORMAT = 'lifeboat-signed-statement-v1';

export type StatementKind = 'start' | 'approve' | 'reject' | 'decide';

/** A signed request's statement, field by field (canonical order: as listed). */
export interface Statement {
  format: typeof STATEMENT_FORMAT;
  kind: StatementKind;
  /** Temporal namespace of the recovery. */
  namespace: string;
  workflowId: string;
  /** The run answered (absent for a start: the run does not exist yet). */
  runId?: string;
  scenario?: string;
  cluster: string;
  /** The gate's name, or the decision point ("step") being answered. */
  target?: string;
  /** Which opening of that gate or decision point (a reopened gate is a new attempt). */
  attempt?: number;
  /** approve | reject | retry | skip | abort (start: the scenario's parameters digest). */
  decision?: string;
  choice?: string;
  reason?: string;
  /** `sha256:<hex>` of the evidence shown (gate) or of the failure (decision) or of the parameters (start). */
  evidence?: string;
  /** Who signs, as the allowed-signers file names them. */
  principal: string;
  /** ISO time the CLI signed at. */
  signedAt: string;
  /** Random, per statement: two signatures of the same answer differ. */
  nonce: string;
}

/** A statement as signed text, and its armored SSH signature. */
export interface SignedStatement {
  statement: string;
  signature: string;
}

const ORDER: Array<keyof Statement> = ['format', 'kind', 'namespace', 'workflowId', 'runId', 'scenario', 'cluster', 'target', 'attempt', 'decision', 'choice', 'reason', 'evidence', 'principal', 'signedAt', 'nonce'];

/** The exact text signed: JSON with the fields in {@link ORDER}, absent fields left out, no spaces. */
export function canonicalStatement(s: Statement): string {
  const o: Record<string, unknown> = {};
  for (const k of ORDER) if (s[k] !== undefined) o[k] = s[k];
  return JSON.stringify(o);
}

/**
 * Reads a signed statement's text back, refusing anything that is not the
 * canonical form of a statement (extra fields, another order, spaces).
 *
 * @throws Error saying what is wrong
 */
export function parseStatement(text: string): Statement {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error('the signed statement is not JSON');
  }
  const s = v as Statement;
  if (!s || typeof s !== 'object' || s.format !== STATEMENT_FORMAT) throw new Error(`the signed statement is not a ${STATEMENT_FORMAT}`);
  for (const k of Object.keys(s)) if (!ORDER.includes(k as keyof Statement)) throw new Error(`the signed statement has an unknown field "${k}"`);
  if (canonicalStatement(s) !== text) throw new Error('the signed statement is not in canonical form (field order, spacing)');
  for (const k of ['kind', 'namespace', 'workflowId', 'cluster', 'principal', 'signedAt', 'nonce'] as const) {
    if (typeof s[k] !== 'string' || !s[k]) throw new Error(`the signed statement has no ${k}`);
  }
  if (s.attempt !== undefined && !Number.isInteger(s.attempt)) throw new Error('the signed statement\'s attempt is not a whole number');
  if (Number.isNaN(Date.parse(s.signedAt))) throw new Error('the signed statement\'s signedAt is not a time');
  return s;
}

/** `sha256:<hex>` of a value's canonical JSON (object keys sorted at every level). */
export function digestOf(value: unknown): string {
  return `sha256:${toHex(sha256(utf8(stableJson(value))))}`;
}

/** What an approver is shown of a gate, and so what the evidence digest covers. */
export function gateEvidence(g: { gate: string; title: string; dangerous: boolean; evidence: Record<string, string>; choices?: string[] }): unknown {
  return { gate: g.gate, title: g.title, dangerous: g.dangerous, evidence: g.evidence, choices: g.choices ?? [] };
}

/** What an operator is shown of a failed step waiting for a decision. */
export function decisionEvidence(d: { step: string; error: string; choices?: string[] }): unknown {
  return { step: d.step, error: d.error, choices: d.choices ?? ['retry', 'skip', 'abort'] };
}

function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
    .join(',')}}`;
}
