/**
 * The ledger scenarios' `patched()` ids (docs/versioning.md).
 *
 * @module
 */

/**
 * Recoveries started after Lifeboat spoke the real inferadb ledger
 * (21345c4): histories recorded before replay the v1 code in `./legacy/`.
 */
export const REAL_LEDGER_API = 'ledger/real-server-api';
