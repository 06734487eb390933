/**
 * The catalogue's promises that span its parts: every scenario can be
 * rehearsed (the lab has a fault named after it), is exported to the worker,
 * and states its seed, RTO and dangerous gates.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LAB_FAULTS } from '../../lab/index';
import { SCENARIOS } from '../../src/catalog';
import * as workflows from '../../src/workflows';
import { SCENARIO_METAS } from '../../src/workflows/scenarios';

describe('the scenario catalogue', () => {
  test('has the 23 scenarios of the design, once each, with schemas for the same metadata', () => {
    const ids = SCENARIOS.map((s) => s.id);
    assert.equal(new Set(ids).size, ids.length, 'a scenario id is listed twice');
    assert.equal(ids.length, 23);
    assert.deepEqual([...ids].sort(), SCENARIO_METAS.map((m) => m.id).sort());
  });

  test('every scenario has a lab fault named after it, so it can be rehearsed end to end', () => {
    const missing = SCENARIOS.map((s) => s.id).filter((id) => !LAB_FAULTS.includes(id));
    assert.deepEqual(missing, []);
  });

  test('every scenario names an exported workflow, a seed section and a sane RTO', () => {
    for (const s of SCENARIOS) {
      assert.equal(typeof (workflows as Record<string, unknown>)[s.workflowType], 'function', `${s.id}: workflow ${s.workflowType} is not exported by src/workflows`);
      assert.ok(s.id.startsWith(`${s.system}.`), `${s.id} is filed under system ${s.system}`);
      assert.match(s.seed, /^00[0-4]\b/, `${s.id}: seed reference`);
      assert.ok(s.rto.maxMinutes > 0 && s.rto.targetMinutes <= s.rto.maxMinutes, `${s.id}: RTO ${JSON.stringify(s.rto)}`);
      for (const g of s.dangerousGates) assert.match(g, /^[a-z][a-z0-9-]*$/, `${s.id}: gate name ${g}`);
    }
  });
});
