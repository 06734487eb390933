/** Wording shared by the training-data scenarios (game counts, ages): plain deterministic helpers. @module */
import type { GamesDbStatus } from '../../activities/training-cluster/types';

/** One node's database in words: "tc-node2: 1,200 games, integrity ok". */
export function describeDb(s: GamesDbStatus): string {
  if (!s.reachable) return `${s.node}: unreachable`;
  if (s.integrity !== 'ok') return `${s.node}: database ${s.integrity}${s.selfplayRunning ? '' : ', selfplay stopped'}`;
  return `${s.node}: ${fmt(s.count ?? 0)} games, integrity ok${s.selfplayRunning ? '' : ', selfplay stopped'}`;
}

/** The median of a list (0 when empty). */
export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : Math.round((s[m - 1]! + s[m]!) / 2);
}

/** 1234 -> "1,234". */
export function fmt(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** An age in hours and minutes. */
export function ageText(ms: number): string {
  const min = Math.max(0, Math.round(ms / 60_000));
  return min >= 60 ? `${Math.floor(min / 60)} h ${min % 60} min` : `${min} min`;
}
