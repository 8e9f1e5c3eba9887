import { Module, type DynamicModule } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { ConfigError, exposureWarning, requireCluster, startupLine, type WharfConfig } from '@wharf/config';
import { FASTIFY_OPTIONS, GatewayModule, httpsOptions, installRegistryEdge, watchTls } from '@wharf/gateway';
import { PinoNestLogger, createLogger } from '@wharf/observability';
import {
  ClusterClients,
  ClusterClientsModule,
  HealthModule,
  Lifecycle,
  startService,
  type RunningService,
} from '@wharf/transport';

@Module({})
class GatewayAppModule {
  static register(config: WharfConfig, clients: ClusterClients, lifecycle: Lifecycle): DynamicModule {
    return {
      module: GatewayAppModule,
      imports: [
        ClusterClientsModule.register(clients),
        GatewayModule.register({
          auth: config.auth,
          redirectBlobs: config.cluster.redirectBlobs,
          proxyConfigFile: config.proxyConfigFile,
        }),
        HealthModule.register({
          lifecycle,
          inject: [ClusterClients],
          checks: (c: ClusterClients) => [() => c.check()],
        }),
      ],
    };
  }
}

/**
 * The gateway service: the same GatewayModule as the all-in-one, with METADATA_API and BLOB_API
 * bound to the remote services. It keeps no state a restart loses: its cache of pulls is coherent
 * with every write (ADR 24), so a 201 on one replica is visible on every other at once.
 */
export async function startGateway(config: WharfConfig): Promise<RunningService> {
  const cluster = requireCluster(config.cluster, 'gateway');
  if (config.auth.mode === 'token' && config.auth.tokenKeyGenerated)
    throw new ConfigError(
      'WHARF_AUTH_TOKEN_KEY',
      'is required by the gateway service: every replica must sign with one key',
    );
  const logger = createLogger(config.logLevel, 'wharf-gateway');
  // Blob GETs read the store itself when it can (the same filesystem root as the blob services, or
  // URLs on their S3 endpoint), and the blob services' data port otherwise (ADR 23).
  const cacheBytes = config.cluster.gatewayCacheBytes;
  const clients = await ClusterClients.connect(
    cluster,
    'wharf-gateway',
    { storageRoot: config.storageRoot },
    cacheBytes > 0
      ? { maxEntries: 100_000, maxBytes: cacheBytes, pullFlushMs: config.events.pullFlushMs }
      : undefined,
  );
  const lifecycle = new Lifecycle();
  try {
    const service = await startService({
      module: GatewayAppModule.register(config, clients, lifecycle),
      http: config.http,
      adapter: new FastifyAdapter({ ...FASTIFY_OPTIONS, ...httpsOptions(config.tls) }),
      logger: new PinoNestLogger(logger),
      observe: {
        service: 'wharf-gateway',
        edge: true,
        context: true,
        metricsAddr: config.metricsAddr,
        log: logger,
      },
      lifecycle,
      shutdownTimeoutMs: cluster.shutdownTimeoutMs,
      configure: installRegistryEdge,
      tls: config.tls !== undefined,
    });
    const stopWatchingTls = config.tls ? watchTls(service.app.getHttpServer(), config.tls) : undefined;
    const announced = startupLine('wharf gateway', service.url, { auth: config.auth.mode });
    logger.info(announced.fields, announced.msg);
    const exposed = exposureWarning(config);
    if (exposed) logger.warn(exposed);
    return {
      ...service,
      close: async () => {
        stopWatchingTls?.();
        await service.close();
      },
    };
  } catch (e) {
    await clients.close();
    throw e;
  }
}
