/**
 * The incident record of a recovery, as Markdown in the shape of the
 * runbooks' template (seed 003, "Recovery Runbook Template"): timeline,
 * impact, root cause, resolution, prevention, monitoring improvements, plus
 * what Lifeboat knows better than a human scribe: who approved what, and the
 * RTO target against the actual recovery time.
 *
 * @module
 */
import type { GateRecord, Progress, StepRecord, TimelineEntry } from './workflows/kit/defs';

/**
 * Renders a recovery's progress as an incident record. Pure: the same
 * progress gives the same text.
 *
 * Facts the workflow recorded feed the free-text sections: `description`,
 * `root cause` (else `diagnosis`), `nodes affected`, `messages affected`,
 * `impact`, `prevention`, `monitoring` — keys match whatever their case and
 * separators (`rootCause`, `root cause`, `root_cause`); several lines or
 * "; "-separated items become bullets. Other facts are listed under
 * "Findings".
 *
 * @param p the answer of the recovery's `progress` query
 * @returns Markdown text ending with a newline
 */
export function renderReport(p: Progress): string {
  const out: string[] = [];
  const facts = knownFacts(p.facts ?? {});
  out.push(`## Incident: ${facts.description ?? facts.incident ?? `${p.title} (${p.cluster})`}`);
  out.push('');
  if (p.dryRun) {
    out.push('> **DRY RUN** — nothing was changed on any system. The steps below record the exact commands and calls');
    out.push('> that a real recovery would have made.');
    out.push('');
  }
  out.push(`- Scenario: \`${p.scenario}\` — ${p.title} (seed ${p.seed})`);
  out.push(`- Cluster: \`${p.cluster}\``);
  out.push(`- Started by: ${p.startedBy}${p.startedByKey ? ` (key ${p.startedByKey})` : ''} at ${p.startedAt}`);
  out.push(`- Identities: ${identityText(p)}`);
  out.push(`- Status: **${p.status}**${p.outcome ? ` — ${p.outcome}` : ''}`);
  out.push('');

  out.push('### Timeline');
  out.push(`All times UTC. Started ${p.startedAt}${p.endedAt ? `, ended ${p.endedAt}` : ' (still running)'}.`);
  out.push('');
  for (const e of p.timeline) out.push(`- ${hhmm(e.at)} - ${timelineText(e)}`);
  if (p.timeline.length === 0) out.push('- (no events recorded)');
  out.push('');

  out.push('### Impact');
  out.push(`- Duration: ${durationText(durationMs(p))}${p.endedAt ? '' : ' so far'}`);
  if (facts.messagesAffected) out.push(`- Messages affected: ${facts.messagesAffected}`);
  out.push(`- Nodes affected: ${facts.nodesAffected ?? 'not recorded by the recovery'}`);
  if (facts.impact) out.push(...bullets(facts.impact));
  out.push('');

  out.push('### Root Cause');
  out.push(facts.rootCause ?? facts.diagnosis ?? 'Not determined by the recovery; to be completed in the post-incident review.');
  out.push('');

  out.push('### Resolution');
  if (p.steps.length === 0) out.push('No steps ran.');
  p.steps.forEach((s, i) => out.push(`${i + 1}. ${stepLine(s)}`));
  if (p.pendingDecision) {
    out.push('');
    out.push(`Waiting for an operator decision on "${p.pendingDecision.step}" since ${p.pendingDecision.since}: ${p.pendingDecision.error}`);
  }
  out.push('');

  out.push('### Approvals');
  if (p.gates.length === 0) {
    out.push('No human gates were requested.');
  } else {
    out.push('| Gate | Decision | By | When (UTC) | Reason | Confirmation |');
    out.push('|---|---|---|---|---|---|');
    for (const g of p.gates) out.push(gateRow(g, p.cluster));
  }
  out.push('');

  out.push('### RTO');
  out.push(rtoText(p));
  out.push('');

  const findings = Object.entries(p.facts ?? {}).filter(([k]) => !REPORTED_FACTS.has(normalizeKey(k)));
  if (findings.length) {
    out.push('### Findings');
    for (const [k, v] of findings) out.push(`- ${k}: ${cell(v, false)}`);
    out.push('');
  }

  out.push('### Prevention');
  out.push(...(facts.prevention ? bullets(facts.prevention) : ['- [To be completed in the post-incident review]']));
  out.push('');
  out.push('### Monitoring Improvements');
  out.push(...(facts.monitoring ? bullets(facts.monitoring) : ['- [To be completed in the post-incident review]']));
  out.push('');
  return out.join('\n');
}

/** The facts with a section of their own, by normalized key. */
const SECTION_FACTS = {
  description: 'description',
  incident: 'incident',
  rootcause: 'rootCause',
  diagnosis: 'diagnosis',
  nodesaffected: 'nodesAffected',
  messagesaffected: 'messagesAffected',
  impact: 'impact',
  prevention: 'prevention',
  monitoring: 'monitoring',
  monitoringimprovements: 'monitoring',
} as const;
type SectionFact = (typeof SECTION_FACTS)[keyof typeof SECTION_FACTS];
const REPORTED_FACTS = new Set(Object.keys(SECTION_FACTS));

/** "root cause", "root-cause", "rootCause" and "root_cause" are the same fact. */
function normalizeKey(k: string): string {
  return k.toLowerCase().replace(/[\s_-]+/g, '');
}

function knownFacts(facts: Record<string, string>): Partial<Record<SectionFact, string>> {
  const out: Partial<Record<SectionFact, string>> = {};
  for (const [k, v] of Object.entries(facts)) {
    const name = (SECTION_FACTS as Record<string, SectionFact>)[normalizeKey(k)];
    if (name && out[name] === undefined) out[name] = v;
  }
  return out;
}

/** "14:03 (2024-05-01T14:03:27.120Z)": the template's HH:MM plus the full date. */
function hhmm(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(11, 16)} (${d.toISOString()})`;
}

function timelineText(e: TimelineEntry): string {
  return oneLine(e.text);
}

function durationMs(p: Progress): number {
  if (p.endedAt) {
    const ms = Date.parse(p.endedAt) - Date.parse(p.startedAt);
    if (Number.isFinite(ms)) return ms;
  }
  return p.elapsedMs;
}

/** "12 min 5 s" / "45 s" / "1 h 02 min". */
export function durationText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

function stepLine(s: StepRecord): string {
  const took = s.endedAt ? `, ${durationText(Date.parse(s.endedAt) - Date.parse(s.startedAt))}` : '';
  const attempts = s.attempts > 1 ? `, ${s.attempts} attempts` : '';
  let line = `${oneLine(s.title)} — **${s.status}**${took}${attempts}`;
  if (s.detail) line += `: ${oneLine(s.detail)}`;
  if (s.error && s.status !== 'succeeded') line += ` (error: ${oneLine(s.error)})`;
  if (s.targets) {
    const entries = Object.entries(s.targets);
    const failed = entries.filter(([, v]) => v === 'failed').map(([k]) => k);
    line += ` [${entries.length} targets${failed.length ? `, failed: ${failed.join(', ')}` : ''}]`;
  }
  return line;
}

/** How the people named in this record were identified. */
function identityText(p: Progress): string {
  if (p.approvalMode === 'signed') return 'verified: every start, approval, rejection and decision was signed with the SSH key shown and checked against the cluster\'s allowed signers (re-check: `lifeboat audit`)';
  if (p.approvalMode === 'unsigned') return 'identity not verified: the cluster declares unsigned approvals, so names are as typed';
  return 'identity not verified: this recovery was started before signed approvals, so names are as typed';
}

/** Who answered a gate: each approver with the key that signed, or the name alone. */
function answeredBy(g: GateRecord): string {
  const signed = g.status === 'rejected' ? (g.rejection ? [g.rejection] : []) : (g.approvals ?? []);
  const shown = signed.map((a) => (a.keyFingerprint ? `${a.by} (key ${a.keyFingerprint})` : `${a.by} (identity not verified)`));
  if (shown.length) return `${shown.join(', ')}${g.required && g.required > 1 ? ` [${signed.length} of ${g.required} required]` : ''}`;
  return g.by ?? '—';
}

function gateRow(g: GateRecord, cluster: string): string {
  const decision = g.status === 'waiting' ? 'waiting' : g.status + (g.choice ? ` (${g.choice})` : '');
  const confirmation = g.dangerous ? (g.status === 'approved' ? `dangerous: cluster name "${cluster}" typed back` : 'dangerous') : '—';
  const when = g.decidedAt ? hhmm(g.decidedAt) : `requested ${hhmm(g.requestedAt)}`;
  const title = `\`${g.gate}\` ${g.title}${g.escalations ? ` (escalated ${g.escalations}×)` : ''}`;
  return `| ${cell(title)} | ${cell(decision)} | ${cell(answeredBy(g))} | ${cell(when)} | ${cell(g.reason ?? '—')} | ${cell(confirmation)} |`;
}

function rtoText(p: Progress): string {
  const actual = durationMs(p);
  const { targetMinutes, maxMinutes, targetCrossedAt, maxCrossedAt } = p.rto;
  const lines: string[] = [];
  lines.push(`- Target: ${targetMinutes === 0 ? 'automatic (no manual target)' : `${targetMinutes} min`}; maximum: ${maxMinutes} min`);
  lines.push(`- Actual: ${durationText(actual)}${p.endedAt ? '' : ' (still running)'}`);
  const targetMs = targetMinutes * 60_000;
  const maxMs = maxMinutes * 60_000;
  let verdict: string;
  if (maxCrossedAt || actual > maxMs) verdict = '**MAXIMUM exceeded**';
  else if (targetCrossedAt || (targetMs > 0 && actual > targetMs)) verdict = '**target missed** (within the maximum)';
  else verdict = p.endedAt ? 'target met' : 'within target so far';
  lines.push(`- Verdict: ${verdict}`);
  if (targetCrossedAt) lines.push(`- Target crossed at ${hhmm(targetCrossedAt)}`);
  if (maxCrossedAt) lines.push(`- Maximum crossed at ${hhmm(maxCrossedAt)}`);
  return lines.join('\n');
}

/** Turns "a; b" or multi-line text into Markdown bullets. */
function bullets(text: string): string[] {
  const items = text
    .split(/\n|;\s+/)
    .map((x) => x.replace(/^\s*[-*]\s*/, '').trim())
    .filter(Boolean);
  return items.map((x) => `- ${x}`);
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** Escapes a value for a Markdown table cell. */
function cell(s: string, table = true): string {
  const t = oneLine(s);
  return table ? t.replace(/\|/g, '\\|') : t;
}
