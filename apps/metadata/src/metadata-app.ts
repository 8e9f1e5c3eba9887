import { hostname } from 'node:os';
import { Module, type DynamicModule } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { DataSource } from 'typeorm';
import { ConfigError, PinoNestLogger, createLogger, requireCluster, type WharfConfig } from '@wharf/config';
import { QUEUE_GROUPS } from '@wharf/contracts';
import { METADATA_DATA_SOURCE, MetadataModule, MetadataServerModule } from '@wharf/metadata';
import {
  ClusterClients,
  ClusterClientsModule,
  configureInternalPort,
  DrainingNatsServer,
  HealthModule,
  INTERNAL_FASTIFY_OPTIONS,
  InFlight,
  JetStreamEventPublisher,
  Lifecycle,
  natsConnectionOptions,
  startService,
  type RunningService,
} from '@wharf/transport';

/**
 * The metadata service: MetadataModule answering `<prefix>.metadata.*` in the "metadata" queue
 * group, with its internal data port for manifests too large for a message. It calls the blob
 * service (image configs, the schema1 empty layer) through a remote BLOB_API.
 */
export async function startMetadata(config: WharfConfig): Promise<RunningService> {
  const cluster = requireCluster(config.cluster, 'metadata');
  const databaseUrl = config.databaseUrl;
  if (!databaseUrl) throw new ConfigError('WHARF_DATABASE_URL', 'is required by the metadata service');
  const logger = createLogger(config.logLevel, 'wharf-metadata');
  const clients = await ClusterClients.connect(
    { ...cluster, metadataUrls: undefined },
    'wharf-metadata-client',
  );
  const lifecycle = new Lifecycle();
  const inflight = new InFlight();

  @Module({})
  class MetadataAppModule {
    static register(): DynamicModule {
      return {
        module: MetadataAppModule,
        imports: [
          ClusterClientsModule.register(clients),
          // No data directory here: every replica signs schema1 with WHARF_SCHEMA1_SIGNING_KEY.
          MetadataModule.register({
            databaseUrl: databaseUrl!,
            poolSize: config.databasePoolSize,
            timeoutMs: config.databaseTimeoutMs,
            schema1: { ...config.schema1 },
            // Events go to JetStream (<prefix>.events.<action>) and to webhooks from Postgres (ADR 0010).
            events: {
              ...config.events,
              sourceAddr: `${hostname()}:${config.http.port}`,
              publisher: config.events.jetstream
                ? new JetStreamEventPublisher(clients.nats, cluster.natsPrefix)
                : undefined,
            },
            gc: config.gc,
          }),
          MetadataServerModule.register({
            prefix: cluster.natsPrefix,
            internal: { token: cluster.internalToken, inflight },
          }),
          HealthModule.register({
            lifecycle,
            healthz: true,
            inject: [METADATA_DATA_SOURCE, ClusterClients],
            checks: (ds: DataSource, c: ClusterClients) => [
              async () => {
                await ds.query('SELECT 1');
                return { postgres: 'ok', nats: c.nats.isClosed() ? 'closed' : 'ok' };
              },
            ],
          }),
        ],
      };
    }
  }

  try {
    const service = await startService({
      module: MetadataAppModule.register(),
      http: config.http,
      adapter: new FastifyAdapter(INTERNAL_FASTIFY_OPTIONS),
      logger: new PinoNestLogger(logger),
      observe: {
        service: 'wharf-metadata',
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
          { ...natsConnectionOptions(cluster, 'wharf-metadata'), queue: QUEUE_GROUPS.metadata },
          inflight,
          cluster.shutdownTimeoutMs,
        ),
      },
    });
    logger.info({ url: service.url, prefix: cluster.natsPrefix }, 'wharf metadata service listening');
    return service;
  } catch (e) {
    await clients.close();
    throw e;
  }
}
