/**
 * Where the project-local tools live: the Temporal CLI (dev server) and the
 * time-skipping test server, installed by scripts/setup.sh under `.tools/`.
 * Environment overrides let an operator point at binaries of their own.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** The repository root (this file compiles to dist/src/tools.js). */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

function toolPath(envVar: string, candidates: string[], what: string): string {
  const override = process.env[envVar];
  if (override) {
    if (!existsSync(override)) throw new Error(`${envVar}=${override} does not exist; unset it or point it at ${what}`);
    return override;
  }
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`${what} is not installed (looked in ${candidates.join(', ')}); run \`npm run setup\` or set ${envVar}`);
}

/** Path of the `temporal` CLI (dev server). */
export function temporalCliPath(): string {
  return toolPath(
    'LIFEBOAT_TEMPORAL_CLI',
    [path.join(PROJECT_ROOT, '.tools/venv/bin/temporal'), path.join(PROJECT_ROOT, '.tools/go/bin/temporal')],
    'the Temporal CLI',
  );
}

/** Path of the time-skipping test server. */
export function testServerPath(): string {
  return toolPath(
    'LIFEBOAT_TEST_SERVER',
    [path.join(PROJECT_ROOT, '.tools/venv/bin/temporal-test-server')],
    'the Temporal time-skipping test server',
  );
}

/**
 * Path of the pinned restic (>= 0.16, for `restore --json` progress), built by
 * scripts/setup.sh into `.tools/go/bin`; `LIFEBOAT_RESTIC` overrides it.
 */
export function resticPath(): string {
  return toolPath('LIFEBOAT_RESTIC', [path.join(PROJECT_ROOT, '.tools/go/bin/restic')], 'restic (>= 0.16)');
}
