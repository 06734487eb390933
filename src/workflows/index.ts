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
// The child workflows of large fan-outs (kit/fanout.ts) and long waits (kit/long-wait.ts); not recoveries.
export { lifeboatFanOutBatch } from './kit/fanout';
export { lifeboatLongWait } from './kit/long-wait';
