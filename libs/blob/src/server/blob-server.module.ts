import { Module, type DynamicModule } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { BLOB_OPS } from '@wharf/contracts';
import { INTERNAL_SERVER, createRpcController, type InternalServer } from '@wharf/transport';
import type { BlobDriver } from '@wharf/storage';
import { BLOB_DATA_SOURCE, BLOB_DRIVER, BlobService } from '../blob.service';
import { BlobDataController } from './blob-data.controller';
import { blobRpcHandlers } from './blob-rpc';
import { DirectReadGrants } from './direct-reads';

const BLOB_RPC_HANDLERS = Symbol('BLOB_RPC_HANDLERS');

/**
 * The blob service on the wire (distributed shape): control operations on `<prefix>.blob.<op>`,
 * bytes on the internal data port. Needs BlobModule from the app.
 */
@Module({})
export class BlobServerModule {
  static register(opts: { prefix: string; internal: InternalServer }): DynamicModule {
    return {
      module: BlobServerModule,
      controllers: [
        createRpcController('blob', opts.prefix, BLOB_OPS, BLOB_RPC_HANDLERS),
        BlobDataController,
      ],
      providers: [
        { provide: INTERNAL_SERVER, useValue: opts.internal },
        {
          provide: BLOB_RPC_HANDLERS,
          inject: [BlobService, BLOB_DATA_SOURCE, BLOB_DRIVER],
          useFactory: async (svc: BlobService, ds: DataSource, driver: BlobDriver) =>
            blobRpcHandlers(
              svc,
              async () => {
                await ds.query('SELECT 1');
              },
              await DirectReadGrants.create(driver),
            ),
        },
      ],
    };
  }
}
