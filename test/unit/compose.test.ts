/**
 * The deployment files (docker-compose.yml, Dockerfile, deploy/) checked
 * without Docker: the compose file is parsed as YAML and its wiring asserted,
 * so the stack users start cannot drift from what the code expects (search
 * attributes, worker environment, secret references). `docker compose config`
 * is not needed here; scripts can run it where Docker is installed.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseAllowedSigners } from '../../src/approvals';
import { parse } from 'yaml';
import { SearchAttributeType } from '@temporalio/common';
import { SA_AWAITING_APPROVAL, SA_CLUSTER, SA_SCENARIO, SA_STEP } from '../../src/workflows/kit/defs';
import { Inventory } from '../../src/inventory/schema';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../../src/tools';
import { DEPLOY_TEMPORAL, DYNAMIC_CONFIG, SERVER_CONFIG, TEMPORAL_SERVER_VERSION } from '../helpers/temporal-server';

const ROOT = path.resolve(__dirname, '..', '..', '..');

interface Service {
  image?: string;
  build?: { context?: string; dockerfile?: string } | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  volumes?: string[];
  ports?: string[];
  secrets?: (string | { source: string })[];
  depends_on?: Record<string, { condition: string }> | string[];
  command?: string[] | string;
  entrypoint?: string[] | string;
}

interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file?: string }>;
}

function loadCompose(): Compose {
  // merge: true for the `<<: *anchor` keys, which Compose supports.
  return parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as Compose;
}

function service(c: Compose, name: string): Service {
  const s = c.services[name];
  assert.ok(s, `docker-compose.yml has no service "${name}"`);
  return s;
}

function env(s: Service): Record<string, string> {
  const e = s.environment ?? {};
  if (Array.isArray(e)) {
    return Object.fromEntries(e.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]));
}

/** The host file mounted at `target` by a short-syntax volume ("src:target[:mode]"). */
function mountSource(s: Service, target: string): string | undefined {
  for (const v of s.volumes ?? []) {
    const [src, dst] = v.split(':');
    if (dst === target) return src;
  }
  return undefined;
}

test('the stack has PostgreSQL, Temporal, its one-shot jobs, the UI and a Lifeboat worker', () => {
  const c = loadCompose();
  assert.deepEqual(Object.keys(c.services).sort(), [
    'lifeboat-codec',
    'lifeboat-worker',
    'postgresql',
    'temporal',
    'temporal-bootstrap',
    'temporal-schema',
    'temporal-ui',
  ]);
});

test('every image tag is pinned to a version', () => {
  const c = loadCompose();
  for (const [name, s] of Object.entries(c.services)) {
    if (!s.image) continue;
    const tag = s.image.split(':')[1];
    assert.ok(tag && /\d/.test(tag) && tag !== 'latest', `${name}: image ${s.image} is not pinned to a version`);
  }
  // Server and admin tools must come from the same Temporal release.
  const server = service(c, 'temporal').image?.split(':')[1];
  assert.equal(service(c, 'temporal-schema').image?.split(':')[1], server);
  assert.equal(service(c, 'temporal-bootstrap').image?.split(':')[1], server);
});

test('Temporal persists to PostgreSQL on a named volume', () => {
  const c = loadCompose();
  const pg = service(c, 'postgresql');
  assert.match(pg.image ?? '', /^postgres:/);
  const data = mountSource(pg, '/var/lib/postgresql/data');
  assert.ok(data && !data.startsWith('.') && !data.startsWith('/'), 'PostgreSQL data must be on a named volume');
  assert.ok(c.volumes && data in c.volumes, `volume ${data} is not declared under volumes:`);

  const t = env(service(c, 'temporal'));
  assert.equal(t.POSTGRES_SEEDS, 'postgresql');
  assert.match(service(c, 'temporal').image ?? '', /^temporalio\/(server|auto-setup):/);
  assert.deepEqual(service(c, 'temporal').depends_on, { 'temporal-schema': { condition: 'service_completed_successfully' } });

  const schema = service(c, 'temporal-schema');
  assert.equal(env(schema).DB, 'postgres12');
  const script = mountSource(schema, '/scripts/setup-postgres.sh');
  assert.ok(script, 'temporal-schema mounts no setup script');
  const text = readFileSync(path.join(ROOT, script), 'utf8');
  for (const db of ['temporal', 'temporal_visibility']) assert.ok(text.includes(db), `schema script does not set up ${db}`);
  assert.match(text, /update-schema/);
});

test('the shipped dynamic config sets what the dev server gets (one workflow\'s steps are not paced at 50 ms on either)', () => {
  const dc = parse(readFileSync(DYNAMIC_CONFIG, 'utf8')) as Record<string, Array<{ value: unknown; constraints?: unknown }>>;
  for (const [k, v] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG)) {
    const entries = dc[k];
    assert.ok(Array.isArray(entries) && entries.length === 1, `deploy/temporal/dynamicconfig.yaml sets ${k} once (lifeboat dev passes ${k}=${JSON.stringify(v)})`);
    assert.deepEqual(entries[0], { value: v, constraints: {} }, `deploy/temporal/dynamicconfig.yaml: ${k} is ${JSON.stringify(v)}, as for lifeboat dev`);
  }
});

test('the Temporal server runs the config files the stack test ran (deploy/temporal/), at the release it ran', () => {
  const c = loadCompose();
  const t = service(c, 'temporal');
  const e = env(t);
  // The same release as the stack test's server (scripts/setup-temporal-server.sh pins it too).
  assert.equal(t.image, `temporalio/server:${TEMPORAL_SERVER_VERSION}`);
  const pinned = /^TEMPORAL_SERVER_VERSION=v(\S+)$/m.exec(readFileSync(path.join(ROOT, 'scripts/setup-temporal-server.sh'), 'utf8'))?.[1];
  assert.equal(pinned, TEMPORAL_SERVER_VERSION, 'setup builds the release the compose stack runs');
  // The server config and the dynamic config: mounted where the environment points the server, from the files the test used.
  const configAt = e.TEMPORAL_SERVER_CONFIG_FILE_PATH;
  const dynamicAt = e.DYNAMIC_CONFIG_FILE_PATH;
  assert.ok(configAt && dynamicAt, 'the server is pointed at a config file and a dynamic config file');
  assert.equal(path.resolve(ROOT, mountSource(t, configAt) ?? '(none)'), SERVER_CONFIG, `${configAt} is not deploy/temporal/config.yaml`);
  assert.equal(path.resolve(ROOT, mountSource(t, dynamicAt) ?? '(none)'), DYNAMIC_CONFIG, `${dynamicAt} is not deploy/temporal/dynamicconfig.yaml`);
  for (const v of t.volumes ?? []) if (v.startsWith('./deploy/temporal/')) assert.ok(v.endsWith(':ro'), `${v} is mounted read-only`);
  // The config is a template of the environment: what it requires, the service sets.
  const text = readFileSync(SERVER_CONFIG, 'utf8');
  assert.match(text.slice(0, 1024), /^# enable-template$/m, 'the server renders the config as a template only with this comment in its first 1 KB');
  const required = /range list ((?:"[A-Z_]+" ?)+)/.exec(text)?.[1]?.match(/[A-Z_]+/g) ?? [];
  assert.deepEqual(required.sort(), ['POSTGRES_PWD', 'POSTGRES_SEEDS', 'POSTGRES_USER']);
  for (const v of required) assert.ok(e[v], `the temporal service does not set ${v}, which deploy/temporal/config.yaml requires`);
  assert.match(text, /pluginName: postgres12/);
  // Every variable the config reads is documented in its header.
  const header = text.split('\n').filter((l) => l.startsWith('#')).join('\n');
  for (const [, v] of text.matchAll(/env "([A-Z_]+)"/g)) assert.ok(header.includes(v!.replace(/^(HISTORY|MATCHING|WORKER|FRONTEND)_MEMBERSHIP_PORT$/, '_MEMBERSHIP_PORT')), `config.yaml reads ${v} without saying so in its header`);
  // The schema and bootstrap jobs run the scripts the test ran.
  assert.equal(path.resolve(ROOT, mountSource(service(c, 'temporal-schema'), '/scripts/setup-postgres.sh') ?? ''), path.join(DEPLOY_TEMPORAL, 'setup-postgres.sh'));
  assert.equal(path.resolve(ROOT, mountSource(service(c, 'temporal-bootstrap'), '/scripts/bootstrap.sh') ?? ''), path.join(DEPLOY_TEMPORAL, 'bootstrap.sh'));
});

test('the bootstrap job registers exactly the search attributes the workflows set', () => {
  const c = loadCompose();
  const boot = service(c, 'temporal-bootstrap');
  assert.equal(env(boot).TEMPORAL_ADDRESS, 'temporal:7233');
  assert.deepEqual(boot.depends_on, { temporal: { condition: 'service_healthy' } });
  const script = mountSource(boot, '/scripts/bootstrap.sh');
  assert.ok(script, 'temporal-bootstrap mounts no script');
  const text = readFileSync(path.join(ROOT, script), 'utf8');
  assert.match(text, /temporal operator search-attribute create --address "\$ADDRESS"/);

  const cliType: Record<string, string> = {
    [SearchAttributeType.KEYWORD]: 'Keyword',
    [SearchAttributeType.TEXT]: 'Text',
    [SearchAttributeType.BOOL]: 'Bool',
  };
  const expected = [SA_SCENARIO, SA_CLUSTER, SA_STEP, SA_AWAITING_APPROVAL].map((k) => `${k.name}:${cliType[k.type]}`);
  const pairs = /for pair in ([^;]+);/.exec(text)?.[1]?.trim().split(/\s+/);
  assert.deepEqual(pairs?.sort(), expected.sort());
  assert.deepEqual(expected.sort(), [
    'LifeboatAwaitingApproval:Bool',
    'LifeboatCluster:Keyword',
    'LifeboatScenario:Keyword',
    'LifeboatStep:Text',
  ]);
});

test('the UI is on port 8080 and talks to the Temporal frontend', () => {
  const ui = service(loadCompose(), 'temporal-ui');
  assert.ok(ui.ports?.some((p) => p.endsWith(':8080')), 'temporal-ui does not publish port 8080');
  assert.equal(env(ui).TEMPORAL_ADDRESS, 'temporal:7233');
});

test('the worker is built from the Dockerfile and configured for the stack', () => {
  const c = loadCompose();
  const w = service(c, 'lifeboat-worker');
  const build = typeof w.build === 'string' ? { context: w.build } : w.build;
  assert.equal(build?.context, '.');
  const e = env(w);
  assert.equal(e.TEMPORAL_ADDRESS, 'temporal:7233');
  assert.equal(e.LIFEBOAT_INVENTORY, '/etc/lifeboat/clusters.yaml');
  assert.ok(
    w.volumes?.includes('./deploy/clusters.yaml:/etc/lifeboat/clusters.yaml:ro'),
    'the clusters file must be mounted read-only at /etc/lifeboat/clusters.yaml',
  );
  assert.deepEqual(w.depends_on, { 'temporal-bootstrap': { condition: 'service_completed_successfully' } });
  // Secrets arrive as files and are declared with a source under deploy/secrets/.
  const names = (w.secrets ?? []).map((s) => (typeof s === 'string' ? s : s.source));
  assert.ok(names.length > 0, 'the worker mounts no secrets');
  for (const n of names) {
    const file = c.secrets?.[n]?.file;
    assert.ok(file?.startsWith('./deploy/secrets/'), `secret ${n} must be a file under ./deploy/secrets/`);
  }
});

test('no secret value is written into the compose file', () => {
  const c = loadCompose();
  for (const [name, s] of Object.entries(c.services)) {
    for (const [k, v] of Object.entries(env(s))) {
      if (/PASSWORD|PWD|TOKEN|SECRET|API_KEY/.test(k)) {
        assert.match(v, /^\$\{[A-Z_]+:\?[^}]*\}$/, `${name}.${k} must come from the environment (\${VAR:?message}), not the file`);
      }
    }
  }
});

test('the example clusters file is a valid inventory whose secrets are the mounted ones', () => {
  const c = loadCompose();
  const mounted = new Set((service(c, 'lifeboat-worker').secrets ?? []).map((s) => (typeof s === 'string' ? s : s.source)));
  const raw: unknown = parse(readFileSync(path.join(ROOT, 'deploy/clusters.example.yaml'), 'utf8'));
  const inv = Inventory.parse(raw);
  const refs: string[] = [];
  for (const cluster of Object.values(inv.clusters)) {
    for (const node of cluster.nodes) {
      if (node.ssh) refs.push(node.ssh.privateKey, ...(node.ssh.passphrase ? [node.ssh.passphrase] : []));
      if (node.http?.authToken) refs.push(node.http.authToken);
    }
  }
  assert.ok(refs.length > 0);
  // Approvals are signed, by the keys of the allowed-signers file shipped beside it as an example.
  assert.equal(inv.approvals?.allowedSigners, 'allowed_signers');
  const signers = parseAllowedSigners(readFileSync(path.join(ROOT, 'deploy/allowed_signers.example'), 'utf8'), 'deploy/allowed_signers.example');
  assert.ok(signers.length >= 2, 'the example names at least two approvers (four eyes)');
  for (const ref of refs) {
    const m = /^file:\/run\/secrets\/(.+)$/.exec(ref);
    assert.ok(m?.[1] && mounted.has(m[1]), `${ref} is not a compose secret mounted into the worker`);
  }
});

test('the Dockerfile builds in stages and runs the worker as a non-root user', () => {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const froms = text.split('\n').filter((l) => /^FROM /.test(l));
  assert.ok(froms.length >= 2, 'expected a build stage and a runtime stage');
  assert.match(text, /^ARG NODE_IMAGE=node:20[.\d]*-bookworm-slim$/m);
  assert.match(text, /RUN npm ci/);
  assert.match(text, /tsc -p tsconfig\.json/);
  assert.match(text, /apt-get install[^\n]*openssh-client[^\n]*restic/);
  const user = /^USER (\S+)$/m.exec(text)?.[1];
  assert.ok(user && user !== 'root' && user !== '0', 'the runtime stage must switch to a non-root USER');
  assert.match(text, /^CMD \["node", "bin\/lifeboat\.js", "worker"\]$/m);
  // What the Dockerfile copies must exist in the build context.
  for (const p of ['package.json', 'package-lock.json', 'tsconfig.json', 'src', 'lab', 'bin', 'src/protos']) {
    assert.ok(existsSync(path.join(ROOT, p)), `Dockerfile copies ${p}, which does not exist`);
  }
  const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const p of ['node_modules', 'dist', '.tools', 'deploy/secrets']) assert.ok(ignored.includes(p), `.dockerignore lacks ${p}`);
});

test('payload encryption: the worker and the codec server share the key secret, and the UI decodes through the codec server', () => {
  const c = loadCompose();
  const worker = service(c, 'lifeboat-worker');
  const codec = service(c, 'lifeboat-codec');
  const ui = service(c, 'temporal-ui');
  const names = (s: Service) => (s.secrets ?? []).map((x) => (typeof x === 'string' ? x : x.source));
  assert.equal(env(worker).LIFEBOAT_CODEC_KEY_REF, 'file:/run/secrets/lifeboat_codec_key');
  assert.equal(env(codec).LIFEBOAT_CODEC_KEY_REF, 'file:/run/secrets/lifeboat_codec_key');
  assert.ok(names(worker).includes('lifeboat_codec_key'));
  assert.ok(names(codec).includes('lifeboat_codec_key'));
  assert.equal(c.secrets?.lifeboat_codec_key?.file, './deploy/secrets/codec_key');
  const cmd = Array.isArray(codec.command) ? codec.command : String(codec.command).split(/\s+/);
  assert.deepEqual(cmd.slice(0, 3), ['node', 'bin/lifeboat.js', 'codec-server']);
  const port = cmd[cmd.indexOf('--port') + 1];
  assert.ok(codec.ports?.includes(`127.0.0.1:${port}:${port}`), `the codec server publishes ${port} on loopback`);
  // The browser calls the codec endpoint: it must be the published loopback URL, and allowed by CORS.
  assert.equal(env(ui).TEMPORAL_CODEC_ENDPOINT, `http://127.0.0.1:${port}`);
  const uiPort = ui.ports?.[0]?.split(':')[1];
  assert.ok(cmd.includes(`http://127.0.0.1:${uiPort}`), 'CORS allows the Web UI origin');
});
