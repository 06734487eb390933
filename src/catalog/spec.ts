/**
 * What a catalogue entry is, and the schema pieces scenario inputs share.
 *
 * @module
 */
import { z } from 'zod';
import type { ScenarioMeta } from '../workflows/scenarios';

export interface ScenarioSpec extends ScenarioMeta {
  /** Scenario parameters (`--set key=value`). Unknown keys are refused. */
  params: z.ZodObject;
  /** One line per parameter for `lifeboat scenarios`. */
  paramHelp: Record<string, string>;
}

/** A node name as the inventory spells it. */
export const nodeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { message: 'must be a node name from the inventory' });
