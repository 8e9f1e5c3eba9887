import 'reflect-metadata';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { BLOB_DATA_SOURCE, BlobModule } from '@wharf/blob';
import {
  ConfigError,
  assertWritableDir,
  exposureWarning,
  startupLine,
  type WharfConfig,
} from '@wharf/config';
import { pingDatabase } from '@wharf/database';
import {
  DataDirInUseError,
  lockDataDir,
  startEmbeddedPostgres,
  type DataDirLock,
  type EmbeddedPostgres,
} from '@wharf/embedded-postgres';
import { FASTIFY_OPTIONS, GatewayModule, httpsOptions, installRegistryEdge, watchTls } from '@wharf/gateway';
import { METADATA_DATA_SOURCE, MetadataModule } from '@wharf/metadata';
import { PinoNestLogger, createLogger, observe, type Observability } from '@wharf/observability';
import { FilesystemDriver } from '@wharf/storage';
import { HealthModule, Lifecycle, acceptBursts } from '@wharf/transport';
import type { DataSource } from 'typeorm';

export interface RunningRegistry {
  app: NestFastifyApplication;
  /** http://host:port the registry listens on. */
  url: string;
  close(): Promise<void>;
}

@Module({})
class RegistryModule {
  static register(
    config: WharfConfig,
    databaseUrl: string,
    soleWriter: boolean,
    lifecycle: Lifecycle,
  ): DynamicModule {
    const db = {
      databaseUrl,
      poolSize: config.databasePoolSize,
      timeoutMs: config.databaseTimeoutMs,
      // Its own Postgres (soleWriter): nobody else's connections to leave room for.
      warmPool: soleWriter,
    };
    return {
      module: RegistryModule,
      imports: [
        // The all-in-one keeps a generated schema1 key in its data directory unless one is given.
        MetadataModule.register({
          ...db,
          schema1: { ...config.schema1, keyDir: join(config.dataDir, 'keys') },
          // This process makes every metadata write, so pulls can read through an in-process cache.
          readCache: { maxEntries: 50_000, maxBytes: 64 << 20 },
          gc: config.gc,
          rules: config.rules,
          // Without NATS the relay delivers webhooks straight from the outbox (docs/adr/0010).
          events: { ...config.events, sourceAddr: `${hostname()}:${config.http.port}` },
        }),
        BlobModule.register({
          ...db,
          uploadTtlMs: config.uploadTtlMs,
          driver: new FilesystemDriver(config.storageRoot),
          soleWriter,
        }),
        GatewayModule.register({ auth: config.auth, proxyConfigFile: config.proxyConfigFile }),
        // The same /healthz and /readyz as the distributed services.
        HealthModule.register({
          lifecycle,
          inject: [METADATA_DATA_SOURCE, BLOB_DATA_SOURCE],
          checks: (metadata: DataSource, blob: DataSource) => [
            async () => ({
              'postgres.metadata': await pingDatabase(metadata),
              'postgres.blob': await pingDatabase(blob),
            }),
          ],
        }),
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
  // An unwritable store or data directory is refused now, naming its key, not at the first push.
  assertWritableDir('WHARF_DATA_DIR', config.dataDir);
  assertWritableDir('WHARF_STORAGE_ROOT', config.storageRoot);
  const lock = lockOwnDataDir(config.dataDir, (msg) => logger.warn(msg));
  let pg: EmbeddedPostgres | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    try {
      pg = await startEmbeddedPostgres({
        dataDir: join(config.dataDir, 'postgres'),
        log: (level, msg) => logger[level]({ context: 'postgres' }, msg),
      });
    } catch (e) {
      lock.release();
      throw e;
    }
    databaseUrl = pg.url;
  }
  const lifecycle = new Lifecycle();
  let observability: Observability | undefined;
  let app: NestFastifyApplication | undefined;
  try {
    app = await NestFactory.create<NestFastifyApplication>(
      RegistryModule.register(config, databaseUrl, pg !== undefined, lifecycle),
      new FastifyAdapter({ ...FASTIFY_OPTIONS, ...httpsOptions(config.tls) }),
      { bodyParser: false, logger: new PinoNestLogger(logger), abortOnError: false },
    );
    installRegistryEdge(app);
    const server = app.getHttpServer();
    observability = await observe(server, {
      service: 'wharf',
      edge: true,
      // Nothing to propagate to in one process; see InstrumentOptions.context for the cost.
      context: false,
      metricsAddr: config.metricsAddr,
      log: logger,
    });
    acceptBursts(app, (e) => logger.warn(`extra accept descriptors unavailable: ${e.message}`));
    await app.listen(config.http.port, config.http.host);
    const stopWatchingTls = config.tls ? watchTls(server, config.tls) : undefined;
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const scheme = config.tls ? 'https' : 'http';
    const url = `${scheme}://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
    const announced = startupLine('wharf registry', url, {
      dataDir: config.dataDir,
      auth: config.auth.mode,
      storage: `filesystem ${config.storageRoot}`,
      database: pg ? `embedded ${join(config.dataDir, 'postgres')}` : 'external (WHARF_DATABASE_URL)',
    });
    logger.info(announced.fields, announced.msg);
    const exposed = exposureWarning(config);
    if (exposed) logger.warn(exposed);
    const started = app;
    return {
      app: started,
      url,
      close: async () => {
        lifecycle.draining = true;
        stopWatchingTls?.();
        await started.close();
        await observability?.close();
        await pg?.stop();
        lock.release();
      },
    };
  } catch (e) {
    // A failed listen (the port taken) comes after the providers opened their pools and started
    // their workers: close them, or an embedding process keeps running on a registry it never got.
    await app?.close().catch((err: unknown) => logger.warn({ err }, 'closing after a failed start'));
    await observability?.close();
    await pg?.stop();
    lock.release();
    throw e;
  }
}

/**
 * One registry per data directory: a second one would share the first's database and files
 * (docs/adr/0016-data-directory-lock.md). A lock left by a registry that was killed is taken over.
 */
function lockOwnDataDir(dir: string, warn: (msg: string) => void): DataDirLock {
  try {
    return lockDataDir(dir, 'registry', warn);
  } catch (e) {
    if (!(e instanceof DataDirInUseError)) throw e;
    throw new ConfigError('WHARF_DATA_DIR', `${e.message}; each registry needs a data directory of its own`);
  }
}
