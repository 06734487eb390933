/**
 * The lab's ledger on its simulation backend (lab/ledger/sim), driven as
 * Lifeboat drives it: real SSH into the lab's hosts with the shims, gRPC on
 * Lifeboat's own ledger proto, and Lifeboat's activities. The shared cases
 * (test/helpers/lab-ledger-cases.ts) also run against real inferadb-ledger
 * processes in test/conformance/lab-ledger-real.test.ts; the tests below
 * them cover what only the simulation can show quickly or at all.
 */
import { describe, test } from 'node:test';
import * as cases from '../helpers/lab-ledger-cases';
import { startLedgerLab, type LedgerLab } from '../helpers/lab-ledger';

const T = { timeout: 120_000 };

describe('lab ledger (sim): the cases shared with the real server', () => {
  const one = (name: string, fn: (l: LedgerLab) => Promise<void>, families: Parameters<typeof startLedgerLab>[1] = ['ledger']): void => {
    test(name, T, async () => {
      const l = await startLedgerLab('sim', families);
      try {
        await fn(l);
      } finally {
        await l.stop();
      }
    });
  };
  one('forms, seeds, and answers like the real server', cases.formedAndSeeded);
  one('ledger.node-failure, then Lifeboat\'s replacement of the node', cases.nodeFailure);
  one('ledger.quorum-loss, then Lifeboat\'s new cluster from the survivor\'s export', cases.quorumLoss);
  one('ledger.full-restore, then Lifeboat\'s restore from the archive', cases.fullRestore);
  one('ledger.vault-divergence heals by itself', cases.vaultDivergence);
  one('ledger.regional-failover, then Lifeboat\'s failover to the DR region', cases.regionalFailover, ['ledger', 'ledger-dr']);
});
