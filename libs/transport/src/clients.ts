import {
  Global,
  Inject,
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { connect, type NatsConnection } from 'nats';
import type { RequiredCluster } from '@wharf/config';
import { BLOB_API, BLOB_OPS, METADATA_API, METADATA_OPS } from '@wharf/contracts';
import { directBlobReads, type DirectReadOptions } from './direct-blob-reads';
import { CoherentMetadataCache, type MetadataCacheOptions } from './coherence/metadata-cache';
import { natsConnectionOptions } from './nats-options';
import { remoteBlobApi, type RemoteBlobApi } from './remote-blob';
import { remoteMetadataApi, type RemoteMetadataApi } from './remote-metadata';
import { RpcClient } from './rpc-client';
import { Upstreams } from './upstreams';

/** The remote services a process talks to, and how to let go of them. */
export class ClusterClients {
  constructor(
    readonly nats: NatsConnection,
    readonly metadata: RemoteMetadataApi | undefined,
    readonly blob: RemoteBlobApi,
    private readonly upstreams: { close(): Promise<void> }[],
    /** The gateway's coherent cache in front of `metadata` (ADR 24). */
    readonly metadataCache?: CoherentMetadataCache,
  ) {}

  static async connect(
    cluster: Pick<
      RequiredCluster,
      | 'natsServers'
      | 'natsUser'
      | 'natsPassword'
      | 'natsToken'
      | 'natsPrefix'
      | 'natsTimeoutMs'
      | 'internalToken'
      | 'blobUrls'
    > & {
      metadataUrls?: string[];
    },
    name: string,
    /** Blob reads in one hop (the gateway): see directBlobReads. */
    directReads?: DirectReadOptions,
    /** A coherent cache of metadata reads (the gateway): see CoherentMetadataCache. */
    metadataCache?: MetadataCacheOptions,
  ): Promise<ClusterClients> {
    const nats = await connect(natsConnectionOptions(cluster, name));
    const t = cluster.natsTimeoutMs;
    const blobHttp = new Upstreams(cluster.blobUrls, cluster.internalToken, 'blob', t);
    const remoteBlob = remoteBlobApi(
      new RpcClient(nats, 'blob', cluster.natsPrefix, BLOB_OPS, blobHttp, t),
      blobHttp,
    );
    const upstreams: { close(): Promise<void> }[] = [blobHttp];
    let blob: RemoteBlobApi = remoteBlob;
    if (directReads) {
      const direct = directBlobReads(remoteBlob, { timeoutMs: t, ...directReads });
      upstreams.push(direct);
      blob = direct;
    }
    let metadata: RemoteMetadataApi | undefined;
    if (cluster.metadataUrls) {
      const metadataHttp = new Upstreams(cluster.metadataUrls, cluster.internalToken, 'metadata', t);
      upstreams.push(metadataHttp);
      metadata = remoteMetadataApi(
        new RpcClient(nats, 'metadata', cluster.natsPrefix, METADATA_OPS, metadataHttp, t),
      );
    }
    const cache =
      metadata && metadataCache
        ? new CoherentMetadataCache(nats, cluster.natsPrefix, metadata, metadataCache)
        : undefined;
    // Not awaited: the lease comes once the metadata service answers; until then reads go through.
    cache?.start().catch(() => undefined);
    return new ClusterClients(nats, metadata, blob, upstreams, cache);
  }

  /** Readiness: NATS connected and every service this process calls answering a ping. */
  async check(): Promise<Record<string, string>> {
    const out: Record<string, string> = { nats: this.nats.isClosed() ? 'closed' : 'ok' };
    const probe = async (key: string, ping: () => Promise<unknown>): Promise<void> => {
      try {
        await ping();
        out[key] = 'ok';
      } catch (e) {
        out[key] = (e as Error).message;
      }
    };
    await Promise.all([
      probe('blob', () => this.blob.ping({})),
      ...(this.metadata ? [probe('metadata', () => this.metadata!.ping({}))] : []),
    ]);
    return out;
  }

  async close(): Promise<void> {
    await this.metadataCache?.stop();
    await Promise.all(this.upstreams.map((u) => u.close()));
    await this.nats.drain().catch(() => this.nats.close());
  }
}

/**
 * Binds METADATA_API / BLOB_API to the remote services for the modules that need them (the
 * gateway's handlers; the metadata service's schema1 rewrite). Closed after the HTTP server and the
 * NATS server have drained, so requests in flight keep their clients until they finish.
 */
@Global()
@Module({})
export class ClusterClientsModule implements OnApplicationShutdown {
  constructor(@Inject(ClusterClients) private readonly clients: ClusterClients) {}

  static register(clients: ClusterClients): DynamicModule {
    const providers = [
      { provide: ClusterClients, useValue: clients },
      { provide: BLOB_API, useValue: clients.blob },
      ...(clients.metadata
        ? [{ provide: METADATA_API, useValue: clients.metadataCache?.api ?? clients.metadata }]
        : []),
    ];
    return {
      module: ClusterClientsModule,
      providers,
      exports: providers.map((p) => p.provide),
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.clients
      .close()
      .catch((e) => new Logger('cluster').warn(`closing clients: ${(e as Error).message}`));
  }
}
