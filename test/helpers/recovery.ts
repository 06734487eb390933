/**
 * What every end-to-end test asks of a recovery running on a {@link Stack}:
 * its progress, its end, and (with LIFEBOAT_RECORD_HISTORIES=1) its history
 * saved for the replay test.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT, temporalCliPath } from '../../src/tools';
import { progressQuery, type Progress } from '../../src/workflows/kit/defs';
import { eventually, type Stack } from './stack';

/** Statuses of a recovery that has not ended. */
export const OPEN: readonly string[] = ['running', 'waiting-approval', 'waiting-decision'];

/** The recovery's `progress` query. */
export function progressOf(stack: Stack, workflowId: string): Promise<Progress> {
  return stack.client.workflow.getHandle(workflowId).query(progressQuery);
}

/**
 * Waits until the recovery ended (bounded) and returns its progress.
 * With `stopOnDecision`, a step waiting for an operator's decision returns too,
 * so that the assertions show it instead of a time-out.
 */
export function finishedOf(stack: Stack, workflowId: string, timeoutMs: number, opts: { stopOnDecision?: boolean; everyMs?: number } = {}): Promise<Progress> {
  return eventually(
    `${workflowId} to finish`,
    async () => {
      const p = await progressOf(stack, workflowId);
      if (opts.stopOnDecision && p.pendingDecision) return p;
      return OPEN.includes(p.status) ? undefined : p;
    },
    timeoutMs,
    opts.everyMs ?? 500,
  );
}

/**
 * With LIFEBOAT_RECORD_HISTORIES=1, saves the recovery's history as
 * `temporal workflow show --output json` writes it (what the replay API
 * reads) to test/replay/histories/<scenario>.json, the scenario's happy path,
 * or with `branch` to histories/<scenario>/<branch>.json.
 */
export function recordHistory(stack: Stack, workflowId: string, scenario: string, branch?: string): void {
  if (process.env.LIFEBOAT_RECORD_HISTORIES !== '1') return;
  const dir = path.join(PROJECT_ROOT, 'test', 'replay', 'histories');
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(temporalCliPath(), ['workflow', 'show', '--workflow-id', workflowId, '--address', stack.address, '--output', 'json'], {
    encoding: 'utf8',
    timeout: 30_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.status, 0, r.stderr);
  // A case of another fault than the scenario's own is a branch of it: histories/<scenario>/<branch>.json.
  if (branch) mkdirSync(path.join(dir, scenario), { recursive: true });
  writeFileSync(branch ? path.join(dir, scenario, `${branch}.json`) : path.join(dir, `${scenario}.json`), r.stdout);
}
