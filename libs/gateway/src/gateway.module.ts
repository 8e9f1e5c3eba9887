import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { AuthConfig } from '@wharf/config';
import { AccessGuard } from './auth/access-guard';
import { AUTH_CONFIG, AuthRuntime } from './auth/auth-runtime';
import { AuthController } from './auth/auth.controller';
import { TokenEndpoint } from './auth/token.endpoint';
import { RegistryFallbackFilter } from './http/framework-fallback';
import { BlobsHandler, REDIRECT_BLOBS } from './handlers/blobs.handler';
import { ListingsHandler } from './handlers/listings.handler';
import { ManifestsHandler } from './handlers/manifests.handler';
import { SmallBlobCache } from './handlers/small-blobs';
import { UploadsHandler } from './handlers/uploads.handler';
import { RegistryController } from './registry.controller';
import { RegistryDispatcher } from './registry.dispatcher';

/**
 * The HTTP edge. It needs METADATA_API and BLOB_API from whoever wires it: in-process services in
 * the all-in-one shape, NATS/HTTP clients in the distributed one.
 */
@Module({
  controllers: [RegistryController, AuthController],
  providers: [
    RegistryDispatcher,
    // Loads policy, htpasswd and keys at start: a bad file stops the process there.
    {
      provide: AuthRuntime,
      useFactory: (auth?: AuthConfig) => AuthRuntime.create(auth),
      inject: [{ token: AUTH_CONFIG, optional: true }],
    },
    AccessGuard,
    TokenEndpoint,
    BlobsHandler,
    { provide: SmallBlobCache, useFactory: () => new SmallBlobCache() },
    UploadsHandler,
    ManifestsHandler,
    ListingsHandler,
    // /v2 requests the framework turns away still get the registry's envelope.
    { provide: APP_FILTER, useClass: RegistryFallbackFilter },
  ],
})
export class GatewayModule {
  /**
   * Without register(), or with mode none, access control is off. `redirectBlobs` lets blob GETs
   * answer 307 to the store when the blob service hands out URLs (off unless given).
   */
  static register(options: { auth?: AuthConfig; redirectBlobs?: boolean }): DynamicModule {
    return {
      module: GatewayModule,
      providers: [
        { provide: AUTH_CONFIG, useValue: options.auth },
        { provide: REDIRECT_BLOBS, useValue: options.redirectBlobs ?? false },
      ],
    };
  }
}
