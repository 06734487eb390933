/**
 * The ledger's shimmed tools on each node, for either backend:
 * `systemctl {start|stop|restart|is-active|status} ledger[.service]` runs
 * the node's unit (./units) through the backend, recording
 * `ledger.service.start` / `ledger.service.stop` only when it changed
 * something; `inferadb-ledger` answers `--version`, `init --host H:P`
 * (recording `ledger.init` when it initialized a cluster) and, on the real
 * backend, any other CLI subcommand. Running the server by hand is refused:
 * on these hosts it runs as the unit.
 *
 * @module
 */
import type { ShimResult } from '../family';
import type { LedgerBackend } from './backend';
import { execStart, SERVICE_UNIT, type LedgerUnit } from './units';

const SYSTEMCTL_FLAGS = new Set(['--no-pager', '--quiet', '-q', '--no-block', '--full', '-l', '--system', '--no-ask-password']);
const SYSTEMCTL_USAGE = 'usage: systemctl [--no-pager] [--quiet] {start|stop|restart|is-active|status} ledger\n(lab: only the "ledger" unit exists on this host)\n';
const usage = (m: string): ShimResult => ({ stdout: '', stderr: m.endsWith('\n') ? m : m + '\n', exitCode: 2 });

/** What the shims act on for one node. */
export interface ShimTarget {
  backend: LedgerBackend;
  unit: LedgerUnit;
  /** Serializes the node's starts and stops (shims may arrive concurrently). */
  serial<T>(fn: () => Promise<T>): Promise<T>;
  record(effect: string, detail: Record<string, unknown>): void;
}

export async function systemctl(t: ShimTarget, argv: string[]): Promise<ShimResult> {
  const words = argv.filter((a) => !SYSTEMCTL_FLAGS.has(a));
  const bad = words.find((a) => a.startsWith('-'));
  if (bad) return usage(`systemctl: unrecognized option '${bad}'\n${SYSTEMCTL_USAGE}`);
  const [verb, ...units] = words;
  if (!verb) return usage(SYSTEMCTL_USAGE);
  if (!['start', 'stop', 'restart', 'is-active', 'status'].includes(verb)) return usage(`Unknown command verb ${verb}.\n${SYSTEMCTL_USAGE}`);
  if (units.length !== 1) return usage(`systemctl ${verb}: name exactly one unit.\n${SYSTEMCTL_USAGE}`);
  const unit = units[0]!;
  if (unit !== SERVICE_UNIT && unit !== `${SERVICE_UNIT}.service`) {
    return usage(`Unit ${unit.endsWith('.service') ? unit : `${unit}.service`} not loaded.\n${SYSTEMCTL_USAGE}`);
  }
  const quiet = argv.includes('-q') || argv.includes('--quiet');
  const running = (): boolean => t.backend.running(t.unit.node);
  switch (verb) {
    case 'is-active':
      return { stdout: quiet ? '' : running() ? 'active\n' : t.backend.describe(t.unit.node).exited ? 'failed\n' : 'inactive\n', exitCode: running() ? 0 : 3 };
    case 'status':
      return { stdout: statusText(t), exitCode: running() ? 0 : 3 };
    case 'stop':
      return t.serial(async () => {
        if (running()) await stop(t);
        return { stdout: '', exitCode: 0 };
      });
    case 'start':
      return t.serial(async () => (running() ? { stdout: '', exitCode: 0 } : start(t)));
    default: // restart
      return t.serial(async () => {
        if (running()) await stop(t);
        return start(t);
      });
  }
}

async function start(t: ShimTarget): Promise<ShimResult> {
  try {
    await t.backend.start(t.unit);
  } catch (e) {
    return { stdout: '', stderr: `Job for ledger.service failed because the control process exited with error code.\n${(e as Error).message}\n`, exitCode: 1 };
  }
  t.record('ledger.service.start', { via: 'systemctl', data: t.unit.data });
  return { stdout: '', exitCode: 0 };
}

async function stop(t: ShimTarget): Promise<void> {
  await t.backend.stop(t.unit.node, 'SIGTERM');
  t.record('ledger.service.stop', { via: 'systemctl' });
}

function statusText(t: ShimTarget): string {
  const p = t.backend.describe(t.unit.node);
  const on = t.backend.running(t.unit.node);
  const lines = [
    '● ledger.service - InferaDB Ledger',
    '     Loaded: loaded (/etc/systemd/system/ledger.service; enabled)',
    on
      ? `     Active: active (running) since ${p.since?.toISOString() ?? '?'}`
      : p.exited
        ? `     Active: failed (Result: ${p.exited}) since ${p.since?.toISOString() ?? '?'}`
        : '     Active: inactive (dead)',
  ];
  if (on && p.pid) lines.push(`   Main PID: ${p.pid} (inferadb-ledger)`);
  lines.push(`  ExecStart: ${execStart(t.unit)}`, '', ...p.log.slice(-10));
  return lines.join('\n') + '\n';
}

const LEDGER_HELP = `Usage: inferadb-ledger [OPTIONS] [COMMAND]
(lab) On this host the server runs as the systemd unit "ledger" (systemctl start ledger).
Commands: init --host <HOST>   initialize a new cluster on the node at HOST
Options:  --version            print the version
`;

/** `inferadb-ledger ...` on a node. */
export async function inferadbLedger(t: ShimTarget, argv: string[]): Promise<ShimResult> {
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') return { stdout: LEDGER_HELP, exitCode: 0 };
  if (first.startsWith('-') && first !== '--version' && first !== '-V') {
    return usage(`inferadb-ledger: on this host the server runs as the systemd unit "ledger": use \`systemctl start ledger\` (its unit: ${execStart(t.unit)})`);
  }
  const r = await t.backend.cli(t.unit.node, argv);
  if (first === 'init' && r.exitCode === 0 && /^Cluster initialized\. cluster_id=(\d+)/m.test(r.stdout)) {
    const host = argv.find((a, i) => argv[i - 1] === '--host') ?? argv.find((a) => a.startsWith('--host='))?.slice('--host='.length);
    t.record('ledger.init', { host, clusterId: /cluster_id=(\d+)/.exec(r.stdout)?.[1] });
  }
  return r;
}
