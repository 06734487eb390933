/**
 * The ledger activities of Lifeboat's v1 scenarios, written from seed 002's
 * text before Lifeboat spoke the real inferadb ledger (string slugs,
 * `--single`, `CLUSTER`/`PEERS` variables, a `DIVERGED` vault status). No
 * real server ever served them. Their names stay registered because recorded
 * histories hold them: a recovery started by that version and still running
 * meets this refusal at its next ledger step, which says what to do.
 *
 * @module
 */
import { ApplicationFailure } from '@temporalio/common';
import type { LegacyLedgerActivities } from './legacy-types';
import { LEDGER_SERVER_VERSION } from './wire';

/** The activity names of the v1 scenarios. */
export const LEGACY_LEDGER_ACTIVITIES: ReadonlyArray<keyof LegacyLedgerActivities> = [
  'ledgerNodeInfo',
  'ledgerStop',
  'ledgerStart',
  'ledgerLeaveCluster',
  'ledgerClearData',
  'ledgerListVaults',
  'ledgerCheckIntegrity',
  'ledgerWriteRead',
  'ledgerMetricsFlowing',
  'ledgerBackupInfo',
  'ledgerFetchBackup',
  'ledgerGetTip',
  'ledgerDeterminismBugs',
  'ledgerGetVault',
  'ledgerRecoverVault',
  'ledgerCreateSnapshot',
  'ledgerReplicaInfo',
  'ledgerDrSync',
];

/** Activities that refuse, non-retryably, with the way out. */
export function legacyLedgerActivities(): LegacyLedgerActivities {
  const refuse = (name: string) => (): Promise<never> =>
    Promise.reject(
      ApplicationFailure.create({
        type: 'LegacyLedgerApi',
        nonRetryable: true,
        message:
          `${name} belongs to a ledger recovery started by an older Lifeboat, written from the runbook's text rather than the server's API; ` +
          `this Lifeboat speaks inferadb-ledger ${LEDGER_SERVER_VERSION.version} (${LEDGER_SERVER_VERSION.commit.slice(0, 7)}). ` +
          'Abort this recovery (`lifeboat decide <id> abort`, or `lifeboat cancel <id>`) and start the scenario again; nothing was done by this step.',
      }),
    );
  return Object.fromEntries(LEGACY_LEDGER_ACTIVITIES.map((name) => [name, refuse(name)])) as unknown as LegacyLedgerActivities;
}
