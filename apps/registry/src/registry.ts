import 'reflect-metadata';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { BlobModule } from '@wharf/blob';
import { PinoNestLogger, createLogger, type WharfConfig } from '@wharf/config';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '@wharf/embedded-postgres';
import { FASTIFY_OPTIONS, GatewayModule, configureFastify } from '@wharf/gateway';
import { MetadataModule } from '@wharf/metadata';
import { FilesystemDriver } from '@wharf/storage';

export interface RunningRegistry {
  app: NestFastifyApplication;
  /** http://host:port the registry listens on. */
  url: string;
  close(): Promise<void>;
}

@Module({})
class RegistryModule {
  static register(config: WharfConfig, databaseUrl: string, soleWriter: boolean): DynamicModule {
    const db = { databaseUrl, poolSize: config.databasePoolSize, timeoutMs: config.databaseTimeoutMs };
    return {
      module: RegistryModule,
      imports: [
        MetadataModule.register(db),
        BlobModule.register({
          ...db,
          uploadTtlMs: config.uploadTtlMs,
          driver: new FilesystemDriver(config.storageRoot),
          soleWriter,
        }),
        GatewayModule,
      ],
    };
  }
}

/**
 * The all-in-one shape: gateway, metadata and blob modules in one process, bound in-process, over
 * a Postgres the registry runs itself (unless WHARF_DATABASE_URL names one) and the filesystem.
 */
export async function startRegistry(config: WharfConfig): Promise<RunningRegistry> {
  const logger = createLogger(config.logLevel);
  let pg: EmbeddedPostgres | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    pg = await startEmbeddedPostgres({
      dataDir: join(config.dataDir, 'postgres'),
      log: (level, msg) => logger[level]({ context: 'postgres' }, msg),
    });
    databaseUrl = pg.url;
  }
  try {
    const app = await NestFactory.create<NestFastifyApplication>(
      RegistryModule.register(config, databaseUrl, pg !== undefined),
      new FastifyAdapter(FASTIFY_OPTIONS),
      { bodyParser: false, logger: new PinoNestLogger(logger), abortOnError: false },
    );
    configureFastify(app);
    await app.listen(config.http.port, config.http.host);
    const address = app.getHttpServer().address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
    logger.info({ url, dataDir: config.dataDir }, 'wharf registry listening');
    return {
      app,
      url,
      close: async () => {
        await app.close();
        await pg?.stop();
      },
    };
  } catch (e) {
    await pg?.stop();
    throw e;
  }
}
