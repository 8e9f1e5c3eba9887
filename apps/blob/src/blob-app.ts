import { Module, type DynamicModule } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { DataSource } from 'typeorm';
import { BLOB_DATA_SOURCE, BLOB_DRIVER, BlobModule, BlobServerModule } from '@wharf/blob';
import { ConfigError, PinoNestLogger, createLogger, requireCluster, type WharfConfig } from '@wharf/config';
import { QUEUE_GROUPS } from '@wharf/contracts';
import { FilesystemDriver, S3Driver, parseS3Endpoint, type BlobDriver } from '@wharf/storage';
import {
  DrainingNatsServer,
  configureInternalPort,
  HealthModule,
  INTERNAL_FASTIFY_OPTIONS,
  InFlight,
  Lifecycle,
  natsConnectionOptions,
  startService,
  type RunningService,
} from '@wharf/transport';

/** The storage driver: S3 (MinIO) when WHARF_S3_ENDPOINT is set, else the filesystem (shared volume). */
export function storageDriver(config: WharfConfig, warn: (msg: string) => void): BlobDriver {
  const s = config.cluster.storage;
  if (s.driver === 'filesystem') return new FilesystemDriver(config.storageRoot);
  try {
    return new S3Driver({
      ...parseS3Endpoint(s.endpoint),
      region: s.region,
      accessKey: s.accessKey,
      secretKey: s.secretKey,
      bucket: s.bucket,
      pathStyle: s.pathStyle,
      prefix: s.prefix,
      partSize: s.partSize,
      publicEndpoint: s.publicEndpoint ? parseS3Endpoint(s.publicEndpoint) : undefined,
      onWarning: (message) => warn(message),
    });
  } catch (e) {
    throw new ConfigError(
      s.partSize !== undefined ? 'WHARF_S3_PART_SIZE' : 'WHARF_S3_ENDPOINT',
      (e as Error).message,
    );
  }
}

const ABSENT_DIGEST = `sha256:${'0'.repeat(64)}`;

/**
 * The blob service: BlobModule answering `<prefix>.blob.*` in the "blob" queue group, with upload
 * and read bytes on its internal data port. It calls nobody. Upload sessions live in Postgres, so
 * any replica continues any upload.
 */
export async function startBlob(config: WharfConfig): Promise<RunningService> {
  const cluster = requireCluster(config.cluster, 'blob');
  const databaseUrl = config.databaseUrl;
  if (!databaseUrl) throw new ConfigError('WHARF_DATABASE_URL', 'is required by the blob service');
  const logger = createLogger(config.logLevel, 'wharf-blob');
  const driver = storageDriver(config, (msg) => logger.warn({ context: 'storage' }, msg));
  const lifecycle = new Lifecycle();
  const inflight = new InFlight();

  @Module({})
  class BlobAppModule {
    static register(): DynamicModule {
      return {
        module: BlobAppModule,
        imports: [
          BlobModule.register({
            databaseUrl: databaseUrl!,
            poolSize: config.databasePoolSize,
            timeoutMs: config.databaseTimeoutMs,
            uploadTtlMs: config.uploadTtlMs,
            driver,
            // Other replicas may hold live leases: never release them at start.
            soleWriter: false,
            redirect: config.cluster.storage.driver === 's3' && config.cluster.storage.redirect,
          }),
          BlobServerModule.register({
            prefix: cluster.natsPrefix,
            internal: { token: cluster.internalToken, inflight },
          }),
          HealthModule.register({
            lifecycle,
            healthz: true,
            inject: [BLOB_DATA_SOURCE, BLOB_DRIVER],
            checks: (ds: DataSource, d: BlobDriver) => [
              async () => {
                await ds.query('SELECT 1');
                return { postgres: 'ok' };
              },
              async () => {
                await d.stat(ABSENT_DIGEST);
                return { storage: 'ok' };
              },
            ],
          }),
        ],
      };
    }
  }

  const service = await startService({
    module: BlobAppModule.register(),
    http: config.http,
    adapter: new FastifyAdapter(INTERNAL_FASTIFY_OPTIONS),
    logger: new PinoNestLogger(logger),
    observe: {
      service: 'wharf-blob',
      edge: false,
      context: true,
      metricsAddr: config.metricsAddr,
      log: logger,
    },
    lifecycle,
    shutdownTimeoutMs: cluster.shutdownTimeoutMs,
    configure: configureInternalPort,
    microservice: {
      strategy: new DrainingNatsServer(
        { ...natsConnectionOptions(cluster, 'wharf-blob'), queue: QUEUE_GROUPS.blob },
        inflight,
        cluster.shutdownTimeoutMs,
      ),
    },
  });
  logger.info(
    { url: service.url, prefix: cluster.natsPrefix, storage: driver.name },
    'wharf blob service listening',
  );
  return service;
}
