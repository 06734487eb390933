/**
 * The incident record: every section of the seed 003 template is filled from
 * a recovery's progress, plus approvals, RTO and the dry-run banner.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderReport } from '../../src/report';
import type { Progress } from '../../src/workflows/kit/defs';

function fixture(overrides: Partial<Progress> = {}): Progress {
  return {
    scenario: 'ledger.quorum-loss',
    title: 'Ledger quorum loss: rebuild the cluster from the surviving minority',
    seed: '002 Quorum Recovery',
    cluster: 'ledger-prod',
    startedBy: 'alice',
    startedAt: '2024-05-01T14:03:27.120Z',
    endedAt: '2024-05-01T14:15:32.120Z',
    dryRun: false,
    status: 'completed',
    steps: [
      { id: 1, title: 'Assess membership', status: 'succeeded', startedAt: '2024-05-01T14:03:27.200Z', endedAt: '2024-05-01T14:03:29.200Z', attempts: 1, detail: 'node1: up, node2: down, node3: down' },
      {
        id: 2,
        title: 'Join replacement nodes',
        status: 'succeeded',
        startedAt: '2024-05-01T14:10:00.000Z',
        endedAt: '2024-05-01T14:12:05.000Z',
        attempts: 3,
        error: 'node3: connection refused',
        targets: { node2: 'succeeded', node3: 'succeeded' },
      },
      { id: 3, title: 'Verify metrics', status: 'skipped', startedAt: '2024-05-01T14:12:05.000Z', endedAt: '2024-05-01T14:12:06.000Z', attempts: 1, error: 'metrics endpoint down' },
    ],
    gates: [
      {
        gate: 'single-node-bootstrap',
        title: 'Start node1 with --single | new identity',
        dangerous: true,
        status: 'approved',
        requestedAt: '2024-05-01T14:04:00.000Z',
        deadline: '2024-05-01T14:34:00.000Z',
        evidence: { survivor: 'node1' },
        decidedAt: '2024-05-01T14:06:10.000Z',
        by: 'bob',
        reason: 'old cluster is gone for good',
        escalations: 0,
      },
      {
        gate: 'dns-switch',
        title: 'Switch DNS',
        dangerous: false,
        status: 'rejected',
        requestedAt: '2024-05-01T14:13:00.000Z',
        deadline: '2024-05-01T14:43:00.000Z',
        evidence: {},
        decidedAt: '2024-05-01T14:14:00.000Z',
        by: 'carol',
        reason: 'not needed',
        escalations: 1,
      },
    ],
    rto: { targetMinutes: 10, maxMinutes: 15, targetCrossedAt: '2024-05-01T14:13:27.120Z' },
    elapsedMs: 725_000,
    timeline: [
      { at: '2024-05-01T14:03:27.120Z', kind: 'started', text: 'Recovery ledger.quorum-loss on ledger-prod started by alice' },
      { at: '2024-05-01T14:06:10.000Z', kind: 'gate-approved', text: 'bob approved "single-node-bootstrap"' },
      { at: '2024-05-01T14:13:27.120Z', kind: 'rto-target-crossed', text: 'Recovery has run 10 min: RTO target crossed' },
      { at: '2024-05-01T14:15:32.120Z', kind: 'finished', text: 'Recovery completed' },
    ],
    facts: {
      'root cause': 'quorum lost: 1 of 3 nodes survive',
      'nodes affected': '2 of 3 lost (node2, node3)',
      prevention: 'spread voters over three zones; alert on voter loss',
      'new cluster id': 'c2',
    },
    outcome: 'cluster rebuilt from node1',
    ...overrides,
  };
}

describe('renderReport', () => {
  const text = renderReport(fixture());

  it('has every section of the template, in order', () => {
    const sections = ['## Incident: ', '### Timeline', '### Impact', '### Root Cause', '### Resolution', '### Approvals', '### RTO', '### Prevention', '### Monitoring Improvements'];
    let from = 0;
    for (const s of sections) {
      const at = text.indexOf(s, from);
      assert.ok(at >= 0, `missing or out of order: ${s}\n${text}`);
      from = at;
    }
    assert.ok(text.endsWith('\n'));
  });

  it('writes the timeline as HH:MM with the full UTC date', () => {
    assert.match(text, /^- 14:03 \(2024-05-01T14:03:27\.120Z\) - Recovery ledger\.quorum-loss on ledger-prod started by alice$/m);
    assert.match(text, /^- 14:15 \(2024-05-01T14:15:32\.120Z\) - Recovery completed$/m);
  });

  it('fills impact and root cause from the facts', () => {
    assert.match(text, /- Duration: 12 min 5 s\n/);
    assert.match(text, /- Nodes affected: 2 of 3 lost \(node2, node3\)/);
    assert.match(text, /### Root Cause\nquorum lost: 1 of 3 nodes survive\n/);
    assert.match(text, /### Prevention\n- spread voters over three zones\n- alert on voter loss\n/);
    assert.match(text, /### Monitoring Improvements\n- \[To be completed/);
    assert.match(text, /### Findings\n- new cluster id: c2\n/);
  });

  it('numbers the resolution steps with outcome, duration and attempts', () => {
    assert.match(text, /^1\. Assess membership — \*\*succeeded\*\*, 2 s: node1: up, node2: down, node3: down$/m);
    assert.match(text, /^2\. Join replacement nodes — \*\*succeeded\*\*, 2 min 5 s, 3 attempts \[2 targets\]$/m);
    assert.match(text, /^3\. Verify metrics — \*\*skipped\*\*, 1 s \(error: metrics endpoint down\)$/m);
  });

  it('tables who approved what, with the confirmation of dangerous gates', () => {
    assert.match(text, /\| Gate \| Decision \| By \| When \(UTC\) \| Reason \| Confirmation \|/);
    assert.match(
      text,
      /\| `single-node-bootstrap` Start node1 with --single \\\| new identity \| approved \| bob \| 14:06 \(2024-05-01T14:06:10\.000Z\) \| old cluster is gone for good \| dangerous: cluster name "ledger-prod" typed back \|/,
    );
    assert.match(text, /\| `dns-switch` Switch DNS \(escalated 1×\) \| rejected \| carol \| 14:14 .* \| not needed \| — \|/);
  });

  it('compares the RTO target with the actual time and says when it was crossed', () => {
    assert.match(text, /- Target: 10 min; maximum: 15 min/);
    assert.match(text, /- Actual: 12 min 5 s\n/);
    assert.match(text, /- Verdict: \*\*target missed\*\* \(within the maximum\)/);
    assert.match(text, /- Target crossed at 14:13 \(2024-05-01T14:13:27\.120Z\)/);
    assert.doesNotMatch(text, /DRY RUN/);
  });

  it('flags the maximum being exceeded', () => {
    const t = renderReport(fixture({ endedAt: '2024-05-01T14:20:00.000Z', rto: { targetMinutes: 10, maxMinutes: 15, targetCrossedAt: '2024-05-01T14:13:27.120Z', maxCrossedAt: '2024-05-01T14:18:27.120Z' } }));
    assert.match(t, /- Verdict: \*\*MAXIMUM exceeded\*\*/);
    assert.match(t, /- Maximum crossed at 14:18 /);
  });

  it('says when the target was met', () => {
    const t = renderReport(fixture({ endedAt: '2024-05-01T14:08:27.120Z', rto: { targetMinutes: 10, maxMinutes: 15 } }));
    assert.match(t, /- Verdict: target met/);
    assert.match(t, /- Actual: 5 min 0 s/);
  });

  it('opens a dry run with a banner', () => {
    const t = renderReport(fixture({ dryRun: true }));
    const banner = t.indexOf('**DRY RUN**');
    assert.ok(banner > 0 && banner < t.indexOf('### Timeline'), t);
  });

  it('renders a running recovery with no steps, gates or facts', () => {
    const t = renderReport(
      fixture({ endedAt: undefined, status: 'running', steps: [], gates: [], facts: {}, timeline: [], outcome: undefined, elapsedMs: 30_000, rto: { targetMinutes: 0, maxMinutes: 5 } }),
    );
    assert.match(t, /## Incident: Ledger quorum loss: rebuild the cluster from the surviving minority \(ledger-prod\)/);
    assert.match(t, /No human gates were requested/);
    assert.match(t, /- Duration: 30 s so far/);
    assert.match(t, /- Target: automatic \(no manual target\); maximum: 5 min/);
    assert.match(t, /- Verdict: within target so far/);
    assert.match(t, /Not determined by the recovery/);
    assert.match(t, /- Nodes affected: not recorded/);
  });
});
