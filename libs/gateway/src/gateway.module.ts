import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { RegistryFallbackFilter } from './http/framework-fallback';
import { BlobsHandler } from './handlers/blobs.handler';
import { ListingsHandler } from './handlers/listings.handler';
import { ManifestsHandler } from './handlers/manifests.handler';
import { UploadsHandler } from './handlers/uploads.handler';
import { RegistryController } from './registry.controller';
import { RegistryDispatcher } from './registry.dispatcher';

/**
 * The HTTP edge. It needs METADATA_API and BLOB_API from whoever wires it: in-process services in
 * the all-in-one shape, NATS/HTTP clients in the distributed one.
 */
@Module({
  controllers: [RegistryController],
  providers: [
    RegistryDispatcher,
    BlobsHandler,
    UploadsHandler,
    ManifestsHandler,
    ListingsHandler,
    // /v2 requests the framework turns away still get the registry's envelope.
    { provide: APP_FILTER, useClass: RegistryFallbackFilter },
  ],
})
export class GatewayModule {}
