import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { onShutdownSignal } from '../lib/shutdown';
import { EncryptionCodec } from '../lib/temporal/codec';
import { createTokenVerifier } from './auth';
import { createCodecServer } from './codec-server';

/** Codec server process (CODEC_SERVER_HOST:CODEC_SERVER_PORT): lets operators read encrypted Temporal payloads. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('rte-codec-server', config.logLevel);
  const server = createCodecServer({
    codec: new EncryptionCodec(config.codec.keys),
    logger,
    corsOrigins: config.codec.corsOrigins,
    verifyToken: config.codec.serverAuth === 'jwt' ? createTokenVerifier(config.auth) : undefined,
  });
  await new Promise<void>((resolve) => server.listen(config.codec.serverPort, config.codec.serverHost, resolve));
  logger.info({ host: config.codec.serverHost, port: config.codec.serverPort, auth: config.codec.serverAuth }, 'codec server listening');
  onShutdownSignal(logger, 5_000, async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
}

main().catch((err: unknown) => {
  createLogger('rte-codec-server').fatal({ err }, 'codec server failed to start');
  process.exit(1);
});
