/**
 * The train-server scenarios' `patched()` ids (docs/versioning.md).
 *
 * @module
 */

/**
 * Recoveries started after Lifeboat drove the real storage and setup
 * scripts (device guards, HEAD's scripts with their questions, restic paths
 * from the repository, the password by reference, config.sh drafted when the
 * backup lacks it): histories recorded before replay the v1 code in
 * `./legacy/`. power-outage did not change and has no patch.
 */
export const REAL_STORAGE = 'train-server/real-storage';
