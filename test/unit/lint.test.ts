/**
 * The lint rules that hold the architecture together (STYLE.md) still fire.
 * A scratch project gets the real eslint.config.mjs and tsconfig.json, the
 * repository's node_modules, and the small files of test/fixtures/lint/ laid
 * out as src/ and lab/; ESLint's Node API then lints it and each rule is
 * asserted by id. A config edit that silently disabled a rule fails here.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ESLint } from 'eslint';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'lint');

let project = '';
/** Lint messages per fixture path relative to the scratch project ("src/x.ts"). */
const byFile = new Map<string, ESLint.LintResult>();

/** Renames every `*.ts.txt` under dir to `*.ts`. */
function activate(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) activate(p);
    else if (entry.name.endsWith('.ts.txt')) renameSync(p, p.slice(0, -'.txt'.length));
  }
}

before(async () => {
  project = mkdtempSync(path.join(tmpdir(), 'lifeboat-lint-'));
  cpSync(path.join(ROOT, 'eslint.config.mjs'), path.join(project, 'eslint.config.mjs'));
  cpSync(path.join(ROOT, 'tsconfig.json'), path.join(project, 'tsconfig.json'));
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'lint-fixture', private: true, type: 'commonjs' }));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(project, 'node_modules'), 'dir');
  for (const top of ['src', 'lab']) cpSync(path.join(FIXTURES, top), path.join(project, top), { recursive: true });
  activate(project);

  const eslint = new ESLint({ cwd: project, overrideConfigFile: path.join(project, 'eslint.config.mjs') });
  for (const r of await eslint.lintFiles(['src', 'lab'])) {
    byFile.set(path.relative(project, r.filePath).split(path.sep).join('/'), r);
  }
});

after(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

/** The rule ids reported for one fixture, failing on parse errors (ruleId null). */
function rules(file: string): string[] {
  const r = byFile.get(file);
  assert.ok(r, `ESLint did not lint ${file}; linted: ${[...byFile.keys()].join(', ')}`);
  const fatal = r.messages.filter((m) => m.fatal || m.ruleId === null);
  assert.deepEqual(fatal, [], `${file} did not parse`);
  return r.messages.map((m) => m.ruleId as string);
}

function messages(file: string, ruleId: string): string[] {
  return (byFile.get(file)?.messages ?? []).filter((m) => m.ruleId === ruleId).map((m) => m.message);
}

test('a workflow importing Node builtins is refused', () => {
  const file = 'src/workflows/kit/imports-node-fs.ts';
  assert.deepEqual(rules(file), ['no-restricted-imports', 'no-restricted-imports']);
  const msgs = messages(file, 'no-restricted-imports');
  assert.match(msgs[0] ?? '', /'node:fs'.*deterministic Temporal sandbox/);
  assert.match(msgs[1] ?? '', /'path'.*deterministic Temporal sandbox/);
});

test('a workflow importing an activity implementation or the activity runtime is refused', () => {
  const file = 'src/workflows/kit/imports-activity-value.ts';
  assert.deepEqual(rules(file), ['no-restricted-imports', 'no-restricted-imports']);
  const msgs = messages(file, 'no-restricted-imports');
  assert.match(msgs[0] ?? '', /'\.\.\/\.\.\/activities\/impl'.*as types only/);
  assert.match(msgs[1] ?? '', /'@temporalio\/activity'/);
});

test('workflows may import activity types, and the kit module named "activities"', () => {
  assert.deepEqual(rules('src/workflows/kit/allowed.ts'), []);
  assert.deepEqual(rules('src/workflows/kit/activities.ts'), []);
});

test('non-deterministic or absent globals are refused in workflows, workflow time is not', () => {
  const file = 'src/workflows/kit/sandbox-globals.ts';
  assert.deepEqual(rules(file).sort(), ['no-restricted-globals', 'no-restricted-globals', 'no-restricted-properties']);
  assert.match(messages(file, 'no-restricted-properties')[0] ?? '', /Math\.random/);
  const globals = messages(file, 'no-restricted-globals').join('\n');
  assert.match(globals, /'process'/);
  assert.match(globals, /'setTimeout'/);
});

test('src/ importing the lab is refused', () => {
  const file = 'src/imports-lab.ts';
  assert.deepEqual(rules(file), ['import-x/no-restricted-paths']);
  assert.match(messages(file, 'import-x/no-restricted-paths')[0] ?? '', /src\/ never imports the lab/);
  // The lab itself is free to exist and to be imported by tests.
  assert.deepEqual(rules('lab/sim.ts'), []);
});

test('an import cycle is found (import-x resolves and parses .ts files)', () => {
  assert.deepEqual(rules('src/cycle/a.ts'), ['import-x/no-cycle']);
  assert.deepEqual(rules('src/cycle/b.ts'), ['import-x/no-cycle']);
});

test('the type-aware rules run (a floating promise is reported)', () => {
  assert.deepEqual(rules('src/floating.ts'), ['@typescript-eslint/no-floating-promises']);
});

test('the real config ignores build output, tools and these fixtures', async () => {
  const eslint = new ESLint({ cwd: ROOT });
  for (const p of ['dist/src/x.js', 'node_modules/x/index.js', '.tools/venv/x.js', 'test/fixtures/lint/src/imports-lab.ts']) {
    assert.equal(await eslint.isPathIgnored(path.join(ROOT, p)), true, `${p} should be ignored`);
  }
  assert.equal(await eslint.isPathIgnored(path.join(ROOT, 'src/workflows/index.ts')), false);
});
