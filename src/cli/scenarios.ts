/**
 * `lifeboat scenarios`: the recovery catalogue, with each scenario's system,
 * RTO, dangerous gates and parameters.
 *
 * @module
 */
import type { Command } from 'commander';
import { SCENARIOS } from '../catalog';
import { table as newTable, type Context } from './context';

/** A scenario as `scenarios --json` prints it. */
export interface ScenarioRow {
  id: string;
  system: string;
  title: string;
  seed: string;
  rto: { targetMinutes: number; maxMinutes: number };
  dangerousGates: string[];
  params: Record<string, string>;
}

/** The catalogue as plain rows (no schemas). */
export function scenarioRows(): ScenarioRow[] {
  return SCENARIOS.map((s) => ({
    id: s.id,
    system: s.system,
    title: s.title,
    seed: s.seed,
    rto: { ...s.rto },
    dangerousGates: [...s.dangerousGates],
    params: { ...s.paramHelp },
  }));
}

export function register(program: Command, ctx: Context): void {
  program
    .command('scenarios')
    .description('list the recovery scenarios and their parameters')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const rows = scenarioRows();
      if (opts.json) return ctx.json(rows);
      const table = newTable(ctx, ['scenario', 'system', 'RTO', 'parameters (--set k=v)', 'dangerous gates'], { colWidths: [44, 18, 16, 50, 24] });
      for (const r of rows) {
        table.push([
          `${r.id}\n${r.title}`,
          r.system,
          `${r.rto.targetMinutes === 0 ? 'auto' : `${r.rto.targetMinutes}m`} / max ${r.rto.maxMinutes}m`,
          Object.entries(r.params).map(([k, v]) => `${k}: ${v}`).join('\n') || '—',
          r.dangerousGates.join('\n') || '—',
        ]);
      }
      ctx.line(table.toString());
      ctx.line(`Start one: lifeboat run ${rows[0]?.id ?? '<scenario>'} --cluster <cluster> [--set k=v] [--dry-run]`);
    });
}
