import type { DataSource } from 'typeorm';
import { BLOB_DATA_SOURCE, BLOB_DRIVER, BlobModule, BlobServerModule } from '@wharf/blob';
import { ConfigError, type WharfConfig } from '@wharf/config';
import { FilesystemDriver, S3Driver, parseS3Endpoint, type BlobDriver } from '@wharf/storage';
import { HealthModule, startInternalService, type RunningService } from '@wharf/transport';

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
export function startBlob(config: WharfConfig): Promise<RunningService> {
  return startInternalService('blob', config, ({ cluster, databaseUrl, logger, lifecycle, internal }) => {
    const driver = storageDriver(config, (msg) => logger.warn({ context: 'storage' }, msg));
    return {
      imports: [
        BlobModule.register({
          databaseUrl,
          poolSize: config.databasePoolSize,
          timeoutMs: config.databaseTimeoutMs,
          uploadTtlMs: config.uploadTtlMs,
          driver,
          // Other replicas may hold live leases: never release them at start.
          soleWriter: false,
          redirect: config.cluster.storage.driver === 's3' && config.cluster.storage.redirect,
        }),
        BlobServerModule.register({ prefix: cluster.natsPrefix, internal }),
        HealthModule.register({
          lifecycle,
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
      announce: { storage: driver.name },
    };
  });
}
