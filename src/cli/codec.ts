/**
 * `lifeboat codec-server`: the HTTP codec server the Temporal Web UI (set
 * `TEMPORAL_CODEC_ENDPOINT`) and `temporal workflow show --codec-endpoint`
 * use to show encrypted recoveries in clear. It needs the same keys as the
 * workers (`LIFEBOAT_CODEC_KEY_REF`, `LIFEBOAT_CODEC_PREVIOUS_KEY_REFS`);
 * `LIFEBOAT_CODEC_AUTH_REF` (a secret reference) makes it demand
 * `Authorization: Bearer <token>`.
 *
 * @module
 */
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { UsageError } from '../client';
import { ConfigError } from '../config';
import { loadCodec } from '../codec';
import { createCodecServer } from '../codec/server';
import type { Context } from './context';

interface CodecFlags {
  port: string;
  host: string;
  corsOrigin?: string[];
  authRef?: string;
  keyIds?: boolean;
}

export function register(program: Command, ctx: Context): void {
  program
    .command('codec-server')
    .description('serve POST /encode and /decode so the Web UI can show encrypted recoveries (needs LIFEBOAT_CODEC_KEY_REF)')
    .option('--port <port>', 'TCP port', '8888')
    .option('--host <address>', 'address to listen on (0.0.0.0 in a container)', '127.0.0.1')
    .option('--cors-origin <origin...>', "origins allowed to call it (default: LIFEBOAT_UI_URL's origin)")
    .option('--auth-ref <ref>', 'require Authorization: Bearer <token>, the token by reference (default LIFEBOAT_CODEC_AUTH_REF)')
    .option('--key-ids', 'print the ids of the configured keys and exit')
    .action(async (flags: CodecFlags) => {
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new UsageError(`--port ${flags.port}: not a TCP port`, 'use e.g. --port 8888', '--port');
      }
      const config = ctx.config();
      if (!config.codec) {
        throw new ConfigError(
          'the codec server needs the payload codec key, and LIFEBOAT_CODEC_KEY_REF is not set',
          'set LIFEBOAT_CODEC_KEY_REF=env:NAME or file:/path to the key the workers use (and LIFEBOAT_CODEC_PREVIOUS_KEY_REFS to older ones)',
        );
      }
      const codec = (await loadCodec(config))!;
      if (flags.keyIds) {
        ctx.line(`current key: ${codec.current.id}`);
        for (const id of codec.keyIds.slice(1)) ctx.line(`previous key: ${id}`);
        return;
      }
      const authRef = flags.authRef ?? (ctx.io.env.LIFEBOAT_CODEC_AUTH_REF?.trim() || undefined);
      let authToken: string | undefined;
      if (authRef) {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { resolveSecret } = require('../activities/transport/secrets') as { resolveSecret(ref: string): Promise<string> };
        try {
          authToken = (await resolveSecret(authRef)).trim();
        } catch (err) {
          throw new ConfigError(`cannot resolve the codec server's auth token: ${(err as Error).message}`, 'set --auth-ref / LIFEBOAT_CODEC_AUTH_REF to env:NAME or file:/path of the token');
        }
      }
      const corsOrigins = flags.corsOrigin?.length ? flags.corsOrigin : [new URL(config.uiUrl).origin];
      const server = createCodecServer({ codec, corsOrigins, authToken, log: (l) => ctx.io.err(`codec-server: ${l}\n`) });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) =>
          reject(err.code === 'EADDRINUSE' ? new UsageError(`--port ${port}: already in use on ${flags.host}`, 'pick another --port, or stop what listens there', '--port') : err),
        );
        server.listen(port, flags.host, () => resolve());
      });
      const addr = server.address() as AddressInfo;
      ctx.line(`codec server on http://${addr.address}:${addr.port} (POST /encode, /decode), key ${codec.current.id}${codec.keyIds.length > 1 ? ` (+${codec.keyIds.length - 1} previous)` : ''}`);
      ctx.line(`  CORS origins: ${corsOrigins.join(', ')}   auth: ${authToken ? 'bearer token required' : 'none (keep it on loopback)'}`);
      ctx.line(`  Web UI: TEMPORAL_CODEC_ENDPOINT=http://${addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address}:${addr.port}`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.removeListener('SIGINT', stop);
          process.removeListener('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    });
}
