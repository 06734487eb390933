/**
 * The error every configuration problem raises: what is wrong, and what the
 * operator should do. Apart from `config.ts` so that the modules it loads
 * (the codec) can raise it without importing it back.
 *
 * @module
 */

/** The configuration is unusable (a TLS file is missing, a reference cannot be resolved). Exit code 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    /** What the operator should do next. */
    readonly fix: string,
  ) {
    super(message);
  }
}
