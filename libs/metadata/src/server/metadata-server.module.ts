import { Module, type DynamicModule } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { METADATA_OPS } from '@wharf/contracts';
import { INTERNAL_SERVER, createRpcController, type InternalServer } from '@wharf/transport';
import { CacheHolders } from '../coherence/cache-holders.service';
import { MetadataService } from '../metadata.service';
import { METADATA_DATA_SOURCE } from '../tokens';
import { metadataRpcHandlers } from './metadata-rpc';

const METADATA_RPC_HANDLERS = Symbol('METADATA_RPC_HANDLERS');

/**
 * The metadata service on the wire (distributed shape): its operations on NATS subjects
 * `<prefix>.metadata.<op>` and on the internal HTTP RPC route for what does not fit a message.
 * Needs MetadataModule (and, for the schema1 rewrite, a BLOB_API) from the app.
 */
@Module({})
export class MetadataServerModule {
  static register(opts: { prefix: string; internal: InternalServer }): DynamicModule {
    return {
      module: MetadataServerModule,
      controllers: [createRpcController('metadata', opts.prefix, METADATA_OPS, METADATA_RPC_HANDLERS)],
      providers: [
        { provide: INTERNAL_SERVER, useValue: opts.internal },
        {
          provide: METADATA_RPC_HANDLERS,
          inject: [MetadataService, CacheHolders, METADATA_DATA_SOURCE],
          useFactory: (svc: MetadataService, holders: CacheHolders, ds: DataSource) =>
            metadataRpcHandlers(svc, holders, async () => {
              await ds.query('SELECT 1');
            }),
        },
      ],
    };
  }
}
