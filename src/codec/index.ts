/**
 * The payload codec as configured: {@link loadCodec} resolves the key
 * references of the configuration's `codec` (`LIFEBOAT_CODEC_KEY_REF`) into an {@link AesGcmCodec};
 * {@link dataConverterFor} turns it into the `dataConverter` the client and
 * the worker use, and the bundler option that encodes workflow failures. No
 * key configured, no codec: the embedded default stays zero-config.
 *
 * @module
 */
import * as path from 'node:path';
import type { DataConverter } from '@temporalio/common';
import { ConfigError } from '../config-error';
import { AesGcmCodec, CodecError, parseKey, type CodecKey } from './codec';

export { AesGcmCodec, CodecError, keyId, parseKey, type CodecKey } from './codec';

/** Payload encryption keys, as references (never the keys). */
export interface CodecConfig {
  /** Key new payloads are encrypted with. */
  keyRef: string;
  /** Older keys, accepted for decryption only. */
  previousKeyRefs: string[];
}

/** The part of the configuration the codec reads. */
export interface CodecSettings {
  /** The keys by reference; absent: payloads are stored in clear. */
  codec?: CodecConfig;
}

/** The module exporting `failureConverter` (compiled), for `failureConverterPath`. */
export const FAILURE_CONVERTER_PATH = path.resolve(__dirname, 'failure-converter.js');

/**
 * Resolves the codec keys of the configuration.
 *
 * @returns the codec, or `undefined` when no key is configured
 * @throws {@link ConfigError} when a reference cannot be resolved or a key is malformed (never shows the key)
 */
export async function loadCodec(config: CodecSettings): Promise<AesGcmCodec | undefined> {
  if (!config.codec) return undefined;
  const current = await resolveKey(config.codec.keyRef, 'LIFEBOAT_CODEC_KEY_REF');
  const previous: CodecKey[] = [];
  for (const ref of config.codec.previousKeyRefs) previous.push(await resolveKey(ref, 'LIFEBOAT_CODEC_PREVIOUS_KEY_REFS'));
  return new AesGcmCodec(current, previous);
}

/**
 * The data converter for a client or worker: the codec plus the failure
 * converter that encodes messages and stack traces.
 *
 * @returns `undefined` when the codec is off (the SDK's default converter)
 */
export async function dataConverterFor(config: CodecSettings): Promise<DataConverter | undefined> {
  const codec = await loadCodec(config);
  return codec ? { payloadCodecs: [codec], failureConverterPath: FAILURE_CONVERTER_PATH } : undefined;
}

async function resolveKey(ref: string, variable: string): Promise<CodecKey> {
  // Lazy, as in config.ts: the CLI loads the secret resolver only when it needs it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { resolveSecret } = require('../activities/transport/secrets') as { resolveSecret(ref: string): Promise<string> };
  let text: string;
  try {
    text = await resolveSecret(ref);
  } catch (err) {
    throw new ConfigError(
      `cannot resolve ${variable} (${ref}): ${err instanceof Error ? err.message : String(err)}`,
      'make the referenced environment variable or file available to this process (the CLI, every worker and the codec server need the same keys)',
    );
  }
  try {
    return parseKey(text, `${variable}=${ref}`);
  } catch (err) {
    if (err instanceof CodecError) throw new ConfigError(err.message.replace(/; fix: .*$/, ''), err.fix);
    throw err;
  }
}
