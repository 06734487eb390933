// ESLint flat config: a few type-aware correctness rules everywhere, and the
// architecture rules of STYLE.md enforced by path:
//   - src/workflows/** runs in Temporal's deterministic sandbox: no Node
//     builtins, no Node-only libraries, activities imported as types only;
//   - src/** never imports the lab (simulated targets live outside the product).
// test/unit/lint.test.ts checks that these rules still fire, so an edit here
// cannot switch them off silently.
import { builtinModules } from 'node:module';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

const TS_FILES = ['src/**/*.ts', 'lab/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'];

// --- workflow sandbox --------------------------------------------------------

const builtins = [...new Set(builtinModules.map((m) => m.replace(/^node:/, '')))].filter((m) => !m.startsWith('_'));

const NO_BUILTINS =
  'Workflow code runs in the deterministic Temporal sandbox, where Node builtins do not exist: ' +
  'do the I/O in an activity (src/activities) and call it through the kit.';

/** Packages that only work in a worker or a client process, never in workflow code. */
const NODE_ONLY_PACKAGES = [
  ['@temporalio/activity', 'Activity context exists only inside activities; workflows call activities through the kit.'],
  ['@temporalio/client', 'Workflows do not talk to the Temporal service as a client; use child workflows, signals or activities.'],
  ['@temporalio/worker', 'The worker bundles workflows; workflow code must not import it.'],
  ['@temporalio/testing', 'Test environments belong in test/, not in workflow code.'],
  ['ssh2', 'SSH is an activity (src/activities); workflows reach it through the kit.'],
  ['@grpc/grpc-js', 'gRPC is an activity (src/activities); workflows reach it through the kit.'],
  ['@grpc/proto-loader', 'gRPC is an activity (src/activities); workflows reach it through the kit.'],
];

/**
 * no-restricted-imports options for a workflow file `depth` directories below
 * src/workflows. The activities rule matches the relative path that actually
 * leaves src/workflows (`../` repeated depth+1 times, then `activities`), so the
 * kit's own `./activities` proxy module is not mistaken for the implementations.
 */
function workflowImportRules(depth) {
  const up = '(\\.\\./)'.repeat(depth + 1);
  return [
    'error',
    {
      paths: [
        ...builtins.map((name) => ({ name, message: NO_BUILTINS })),
        ...NODE_ONLY_PACKAGES.map(([name, message]) => ({ name, message })),
      ],
      patterns: [
        { group: ['node:*'], message: NO_BUILTINS },
        {
          regex: `^${up}activities(/.*)?$`,
          allowTypeImports: true,
          message:
            'Workflows import activities as types only (`import type ...`): activity implementations do I/O and ' +
            'must not enter the workflow bundle. Call them through the kit (src/workflows/kit/activities.ts).',
        },
        {
          regex: `^${up}(\\.\\./)?lab(/.*)?$`,
          message: 'src/ never imports the lab: the simulated targets are a test and demo aid, not part of the product.',
        },
      ],
    },
  ];
}

const SANDBOX_GLOBALS = [
  { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow (or the kit\'s stabilize()): a named, cancellable durable timer.' },
  { name: 'setInterval', message: 'Loop with sleep() from @temporalio/workflow, or the kit\'s waitFor(), bounded in count.' },
  { name: 'setImmediate', message: 'Not available in the workflow sandbox; await a condition() or a timer instead.' },
  { name: 'process', message: 'The workflow sandbox has no process: pass configuration in the workflow input.' },
  { name: 'Buffer', message: 'The workflow sandbox has no Buffer: keep workflow state plain JSON.' },
  { name: 'require', message: 'Use a static import; workflow code is bundled.' },
  { name: '__dirname', message: 'Workflow code has no file system; paths belong in activities.' },
  { name: '__filename', message: 'Workflow code has no file system; paths belong in activities.' },
];

// Date.now() and new Date() are deliberately allowed: in the sandbox they read
// the workflow task's deterministic time, which the kit uses for elapsed times.
const SANDBOX_PROPERTIES = [
  {
    object: 'Math',
    property: 'random',
    message:
      'Randomness in a workflow must come from its input or from uuid4() of @temporalio/workflow, so a replay reads alike.',
  },
];

// --- the config --------------------------------------------------------------

export default defineConfig(
  {
    ignores: ['dist/**', 'node_modules/**', '.tools/**', '.lifeboat/**', 'coverage/**', 'test/fixtures/**'],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  {
    files: TS_FILES,
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: {
        // One program for the whole repository (tsconfig.json includes src,
        // lab, test and bench), built once per lint run.
        project: './tsconfig.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: {
      '@typescript-eslint': tseslint.plugin,
      'import-x': importX,
    },
    settings: {
      // import-x must resolve and parse .ts dependencies itself for no-cycle
      // and no-restricted-paths; without these it silently sees no edges.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/external-module-folders': ['node_modules', 'node_modules/@types'],
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.d.ts', '.js', '.json'] })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's test()/describe() return promises the runner itself
          // tracks; awaiting them at top level is not required. Subtests
          // (t.test) are not listed: those must be awaited.
          allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      // A lazy require() is sometimes right (an optional, heavy dependency);
      // it then carries a disable comment that says why.
      '@typescript-eslint/no-require-imports': 'error',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      // Resolved paths, so any spelling of an import into lab/ is caught.
      'import-x/no-restricted-paths': [
        'error',
        {
          basePath: import.meta.dirname,
          zones: [
            {
              target: './src',
              from: './lab',
              message: 'src/ never imports the lab: the simulated targets are a test and demo aid, not part of the product.',
            },
          ],
        },
      ],
    },
  },
  // One block per directory depth below src/workflows: rule options replace
  // each other between blocks, so each depth carries its complete list.
  ...[0, 1, 2, 3, 4].map((depth) => ({
    files: [`src/workflows/${'*/'.repeat(depth)}*.ts`],
    rules: {
      'no-restricted-imports': workflowImportRules(depth),
      'no-restricted-globals': ['error', ...SANDBOX_GLOBALS],
      'no-restricted-properties': ['error', ...SANDBOX_PROPERTIES],
    },
  })),
);
