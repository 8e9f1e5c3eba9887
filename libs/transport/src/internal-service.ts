import { Module, type DynamicModule } from '@nestjs/common';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { Logger } from 'pino';
import { ConfigError, requireCluster, type RequiredCluster, type WharfConfig } from '@wharf/config';
import { QUEUE_GROUPS, type ServiceName } from '@wharf/contracts';
import { PinoNestLogger, createLogger } from '@wharf/observability';
import { Lifecycle } from './health';
import { InFlight } from './inflight';
import { INTERNAL_FASTIFY_OPTIONS, configureInternalPort } from './internal-port';
import { natsConnectionOptions } from './nats-options';
import { DrainingNatsServer } from './nats-server';
import { startService, type RunningService } from './service-runtime';

/** What the bootstrap has made before the service adds its own parts. */
export interface InternalServiceContext {
  cluster: RequiredCluster;
  databaseUrl: string;
  logger: Logger;
  /** For the service's HealthModule. */
  lifecycle: Lifecycle;
  /** For the service's server module: its internal data port checks the token and counts requests. */
  internal: { token: string; inflight: InFlight };
}

/** The parts that make the service what it is. */
export interface InternalServiceParts {
  /** Its feature module, its NATS and data-port server module, its HealthModule. */
  imports: NonNullable<DynamicModule['imports']>;
  /** Fields of the "listening" log line besides url and prefix. */
  announce?: Record<string, unknown>;
  /** Closes what building the parts opened, when the service then fails to start. */
  release?: () => Promise<void>;
}

@Module({})
class InternalServiceModule {}

/**
 * Starts the blob or the metadata service: one HTTP port for health, metrics and the internal data
 * port, and the NATS transport answering `<prefix>.<name>.*` in the service's queue group, draining
 * in-flight requests on close. The service's own modules come from `build`.
 */
export async function startInternalService(
  name: ServiceName,
  config: WharfConfig,
  build: (ctx: InternalServiceContext) => Promise<InternalServiceParts> | InternalServiceParts,
): Promise<RunningService> {
  const cluster = requireCluster(config.cluster, name);
  const databaseUrl = config.databaseUrl;
  if (!databaseUrl) throw new ConfigError('WHARF_DATABASE_URL', `is required by the ${name} service`);
  const serviceName = `wharf-${name}`;
  const logger = createLogger(config.logLevel, serviceName);
  const lifecycle = new Lifecycle();
  const inflight = new InFlight();
  const parts = await build({
    cluster,
    databaseUrl,
    logger,
    lifecycle,
    internal: { token: cluster.internalToken, inflight },
  });
  try {
    const service = await startService({
      module: { module: InternalServiceModule, imports: parts.imports },
      http: config.http,
      adapter: new FastifyAdapter(INTERNAL_FASTIFY_OPTIONS),
      logger: new PinoNestLogger(logger),
      observe: {
        service: serviceName,
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
          { ...natsConnectionOptions(cluster, serviceName), queue: QUEUE_GROUPS[name] },
          inflight,
          cluster.shutdownTimeoutMs,
        ),
      },
    });
    logger.info(
      { url: service.url, prefix: cluster.natsPrefix, ...parts.announce },
      `wharf ${name} service listening`,
    );
    return service;
  } catch (e) {
    await parts.release?.();
    throw e;
  }
}
