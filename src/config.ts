/**
 * Lifeboat's configuration, read from the environment alone, so that the same
 * binary talks to the embedded dev server, a team's Temporal cluster or
 * Temporal Cloud (mTLS or API key) without code changes. The CLI and the
 * worker read the same variables:
 *
 * | variable | meaning | default |
 * |---|---|---|
 * | `TEMPORAL_ADDRESS` | frontend `host:port` | `127.0.0.1:7233` |
 * | `TEMPORAL_NAMESPACE` | namespace | `default` |
 * | `TEMPORAL_TLS_CERT` / `TEMPORAL_TLS_KEY` | client certificate and key files (mTLS) | — |
 * | `TEMPORAL_TLS_CA` | CA bundle of the server, when not publicly trusted | — |
 * | `TEMPORAL_TLS_SERVER_NAME` | SNI / host name override | — |
 * | `TEMPORAL_API_KEY_REF` | API key by reference: `env:VAR` or `file:/path` | — |
 * | `LIFEBOAT_UI_URL` | Temporal Web UI base URL (links printed by the CLI) | `http://127.0.0.1:8233` |
 * | `LIFEBOAT_INVENTORY` | clusters file | `./clusters.yaml` if present, else the lab's |
 * | `LIFEBOAT_CODEC_KEY_REF` | payload codec key by reference (`env:VAR` / `file:/path`, 32 bytes base64 or hex): encrypts every payload | off |
 * | `LIFEBOAT_CODEC_PREVIOUS_KEY_REFS` | comma-separated references of older keys, still accepted for decryption (rotation) | — |
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { dataConverterFor, type CodecConfig } from './codec';
import { ConfigError } from './config-error';

/** Where and how to reach Temporal. Secrets appear only as references. */
export interface TemporalConfig {
  address: string;
  namespace: string;
  /** mTLS client certificate (Temporal Cloud, self-hosted with mTLS). */
  tls?: { certPath: string; keyPath: string; caPath?: string; serverName?: string };
  /** Reference to an API key (`env:TEMPORAL_API_KEY`, `file:/etc/lifeboat/temporal.key`), never the key. */
  apiKey?: string;
}

/** Everything the CLI and the worker need to know about their surroundings. */
export interface LifeboatConfig {
  temporal: TemporalConfig;
  /** Base URL of the Temporal Web UI, for links. */
  uiUrl: string;
  /** Absolute path of the clusters file. */
  inventoryPath: string;
  /** Absolute path of Lifeboat's local state (dev server database, lab, logs). */
  stateDir: string;
  /** The payload codec's keys, by reference; absent = payloads are stored in clear (the embedded default). */
  codec?: CodecConfig;
}


/**
 * Connection options shared by `Connection.connect` (client) and
 * `NativeConnection.connect` (worker): both accept exactly these fields.
 */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | true;
  apiKey?: string;
}

export { ConfigError } from './config-error';

/** Temporal cannot be reached at the configured address. Exit code 69. */
export class TemporalUnavailableError extends Error {
  override readonly name = 'TemporalUnavailableError';
  readonly fix: string;
  constructor(
    readonly address: string,
    cause?: unknown,
    tls = false,
  ) {
    super(`Temporal at ${address} is not reachable: start it with \`lifeboat dev\` or set TEMPORAL_ADDRESS`, { cause });
    this.fix =
      'run `lifeboat dev` (embedded server, lab and worker), or point TEMPORAL_ADDRESS at your Temporal frontend' +
      (tls ? '; TLS is on (TEMPORAL_TLS_* or an API key): check that the server speaks TLS at that address' : '');
  }
}

/** The local state directory, relative to the working directory (like `.git`). */
export const STATE_DIR = '.lifeboat';

/**
 * Reads the configuration from the environment. Pure apart from one
 * `existsSync` (to pick the default inventory); never connects anywhere.
 *
 * @param env environment to read (default `process.env`)
 * @param cwd directory relative paths are resolved against (default `process.cwd()`)
 * @returns the configuration with every default filled in
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): LifeboatConfig {
  const stateDir = path.resolve(cwd, STATE_DIR);
  const temporal: TemporalConfig = {
    address: nonEmpty(env.TEMPORAL_ADDRESS) ?? '127.0.0.1:7233',
    namespace: nonEmpty(env.TEMPORAL_NAMESPACE) ?? 'default',
  };
  const cert = nonEmpty(env.TEMPORAL_TLS_CERT);
  const key = nonEmpty(env.TEMPORAL_TLS_KEY);
  if (cert || key) {
    if (!cert || !key) {
      throw new ConfigError(
        `mTLS needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (only ${cert ? 'TEMPORAL_TLS_CERT' : 'TEMPORAL_TLS_KEY'} is set)`,
        'set both to the client certificate and key files, or unset both',
      );
    }
    temporal.tls = {
      certPath: path.resolve(cwd, cert),
      keyPath: path.resolve(cwd, key),
      caPath: nonEmpty(env.TEMPORAL_TLS_CA) ? path.resolve(cwd, env.TEMPORAL_TLS_CA as string) : undefined,
      serverName: nonEmpty(env.TEMPORAL_TLS_SERVER_NAME),
    };
  }
  const apiKeyRef = nonEmpty(env.TEMPORAL_API_KEY_REF);
  if (apiKeyRef) {
    if (!/^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/.+)$/.test(apiKeyRef)) {
      // Do not echo the value: someone may have pasted the key itself here.
      throw new ConfigError(
        'TEMPORAL_API_KEY_REF must be a reference ("env:VAR_NAME" or "file:/absolute/path"), not the key itself',
        'put the key in an environment variable (e.g. TEMPORAL_API_KEY) and set TEMPORAL_API_KEY_REF=env:TEMPORAL_API_KEY',
      );
    }
    temporal.apiKey = apiKeyRef;
  }
  const codec = codecConfig(env);
  const explicitInventory = nonEmpty(env.LIFEBOAT_INVENTORY);
  const localInventory = path.resolve(cwd, 'clusters.yaml');
  const inventoryPath = explicitInventory
    ? path.resolve(cwd, explicitInventory)
    : existsSync(localInventory)
      ? localInventory
      : path.join(stateDir, 'lab', 'inventory.yaml');
  return {
    temporal,
    uiUrl: (nonEmpty(env.LIFEBOAT_UI_URL) ?? 'http://127.0.0.1:8233').replace(/\/+$/, ''),
    inventoryPath,
    stateDir,
    ...(codec ? { codec } : {}),
  };
}

const SECRET_REF = /^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/.+)$/;

function codecConfig(env: NodeJS.ProcessEnv): CodecConfig | undefined {
  const keyRef = nonEmpty(env.LIFEBOAT_CODEC_KEY_REF);
  const previous = (nonEmpty(env.LIFEBOAT_CODEC_PREVIOUS_KEY_REFS) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!keyRef) {
    if (previous.length) {
      throw new ConfigError(
        'LIFEBOAT_CODEC_PREVIOUS_KEY_REFS is set but LIFEBOAT_CODEC_KEY_REF is not: the codec needs a current key to encrypt with',
        'set LIFEBOAT_CODEC_KEY_REF to the current key (env:NAME or file:/path), or unset both to store payloads in clear',
      );
    }
    return undefined;
  }
  for (const [variable, ref] of [['LIFEBOAT_CODEC_KEY_REF', keyRef], ...previous.map((r) => ['LIFEBOAT_CODEC_PREVIOUS_KEY_REFS', r])] as const) {
    if (!SECRET_REF.test(ref)) {
      // Do not echo the value: someone may have pasted the key itself here.
      throw new ConfigError(
        `${variable} must hold references ("env:VAR_NAME" or "file:/absolute/path"), not the key itself`,
        `put the key in an environment variable (e.g. LIFEBOAT_CODEC_KEY) or a file and set ${variable}=env:LIFEBOAT_CODEC_KEY`,
      );
    }
  }
  return { keyRef, previousKeyRefs: previous };
}

/**
 * Turns the configuration into connection options: reads the TLS files and
 * resolves the API key reference. The result is accepted by both
 * `Connection.connect` and `NativeConnection.connect`; it holds the API key,
 * so never log it.
 *
 * @throws {@link ConfigError} when a file cannot be read or the key cannot be resolved
 */
export async function connectionOptions(config: LifeboatConfig): Promise<TemporalConnectionOptions> {
  const t = config.temporal;
  const opts: TemporalConnectionOptions = { address: t.address };
  if (t.tls) {
    const tls: TLSConfig = {
      clientCertPair: { crt: readTlsFile(t.tls.certPath, 'TEMPORAL_TLS_CERT'), key: readTlsFile(t.tls.keyPath, 'TEMPORAL_TLS_KEY') },
    };
    if (t.tls.caPath) tls.serverRootCACertificate = readTlsFile(t.tls.caPath, 'TEMPORAL_TLS_CA');
    if (t.tls.serverName) tls.serverNameOverride = t.tls.serverName;
    opts.tls = tls;
  }
  if (t.apiKey) {
    // Lazy: resolving secrets is the only part of the activity code the CLI
    // needs, and only when an API key is configured.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { resolveSecret } = require('./activities/transport/secrets') as { resolveSecret(ref: string): Promise<string> };
    try {
      opts.apiKey = (await resolveSecret(t.apiKey)).trim();
    } catch (err) {
      throw new ConfigError(
        `cannot resolve TEMPORAL_API_KEY_REF=${t.apiKey}: ${err instanceof Error ? err.message : String(err)}`,
        'make the referenced environment variable or file available to this process',
      );
    }
    // Temporal Cloud only accepts API keys over TLS.
    if (!opts.tls) opts.tls = true;
  }
  return opts;
}

/**
 * Connects a client, failing fast (5 s) with an actionable error when the
 * server is down.
 *
 * @throws {@link TemporalUnavailableError} when nothing answers at the address
 */
export async function connectClient(config: LifeboatConfig): Promise<Client> {
  const opts = await connectionOptions(config);
  // The codec's keys are resolved before dialling: a wrong key fails at once, not halfway through a command.
  const dataConverter = await dataConverterFor(config);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...opts, connectTimeout: '5s' });
  } catch (err) {
    if (isUnreachable(err)) throw new TemporalUnavailableError(config.temporal.address, err, opts.tls !== undefined);
    // The server answered but refused us (auth, TLS): a configuration problem, not an outage.
    throw new ConfigError(
      `Temporal at ${config.temporal.address} refused the connection: ${err instanceof Error ? err.message : String(err)}`,
      'check TEMPORAL_TLS_* / TEMPORAL_API_KEY_REF and the namespace (TEMPORAL_NAMESPACE)',
    );
  }
  return new Client({ connection, namespace: config.temporal.namespace, ...(dataConverter ? { dataConverter } : {}) });
}

/** gRPC UNAVAILABLE (14) / DEADLINE_EXCEEDED (4), or the SDK's connect deadline. */
function isUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
  const code = typeof e?.code === 'number' ? e.code : e?.cause?.code;
  if (code === 14 || code === 4) return true;
  return typeof e?.message === 'string' && /deadline|ECONNREFUSED|UNAVAILABLE|No connection established/i.test(e.message);
}

function readTlsFile(file: string, variable: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`cannot read ${variable} file ${file} (${code})`, `fix the path in ${variable} or make the file readable`);
  }
}

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== '' ? v.trim() : undefined;
}
