import { hostname } from 'node:os';
import type { DataSource } from 'typeorm';
import type { WharfConfig } from '@wharf/config';
import { METADATA_DATA_SOURCE, MetadataModule, MetadataServerModule } from '@wharf/metadata';
import {
  ClusterClients,
  ClusterClientsModule,
  HealthModule,
  JetStreamEventPublisher,
  publishInvalidation,
  startInternalService,
  type RunningService,
} from '@wharf/transport';

/** A gateway that has not acknowledged by then is revoked, and the write waits out its lease. */
const INVALIDATION_ACK_MS = 1000;

/**
 * The metadata service: MetadataModule answering `<prefix>.metadata.*` in the "metadata" queue
 * group, with its internal data port for manifests too large for a message. It calls the blob
 * service (image configs, the schema1 empty layer) through a remote BLOB_API.
 */
export function startMetadata(config: WharfConfig): Promise<RunningService> {
  return startInternalService('metadata', config, async ({ cluster, databaseUrl, lifecycle, internal }) => {
    const clients = await ClusterClients.connect(
      { ...cluster, metadataUrls: undefined },
      'wharf-metadata-client',
    );
    return {
      imports: [
        ClusterClientsModule.register(clients),
        // No data directory here: every replica signs schema1 with WHARF_SCHEMA1_SIGNING_KEY.
        MetadataModule.register({
          databaseUrl,
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
          rules: config.rules,
          // Every write waits until each gateway has dropped what it changed (ADR 24).
          coherence: {
            notify: (changes, waitFor) =>
              publishInvalidation(clients.nats, cluster.natsPrefix, changes, waitFor, INVALIDATION_ACK_MS),
          },
        }),
        MetadataServerModule.register({ prefix: cluster.natsPrefix, internal }),
        HealthModule.register({
          lifecycle,
          inject: [METADATA_DATA_SOURCE, ClusterClients],
          checks: (ds: DataSource, c: ClusterClients) => [
            async () => {
              await ds.query('SELECT 1');
              return { postgres: 'ok', nats: c.nats.isClosed() ? 'closed' : 'ok' };
            },
          ],
        }),
      ],
      release: () => clients.close(),
    };
  });
}
