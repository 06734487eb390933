/**
 * Every recovery workflow, for the worker's bundle. One scenario per file,
 * `src/workflows/<system>/<scenario>.ts`, each written in the runbook kit's
 * verbs; each system's `index.ts` lists its own.
 *
 * @module
 */
export * from './gossip';
export * from './ledger';
export * from './train-server';
export * from './training-cluster';
// The child workflow a large fan-out runs its batches in (kit/fanout.ts); not a recovery.
export { lifeboatFanOutBatch } from './kit/fanout';
