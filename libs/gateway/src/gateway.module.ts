import { Module, type DynamicModule } from '@nestjs/common';
import { AUTH_CONFIG, AuthRuntime } from '@wharf/auth';
import type { AuthConfig } from '@wharf/config';
import { BLOB_API, METADATA_API, type BlobApi, type MetadataApi } from '@wharf/contracts';
import { PULL_THROUGH, PullThrough, loadProxyConfig } from '@wharf/proxy';
import { AccessGuard } from './auth/access-guard';
import { AuthController } from './auth/auth.controller';
import { TokenEndpoint } from './auth/token.endpoint';
import { BlobsHandler, REDIRECT_BLOBS } from './handlers/blobs.handler';
import { ListingsHandler } from './handlers/listings.handler';
import { ManifestsHandler } from './handlers/manifests.handler';
import { SmallBlobCache } from './handlers/small-blobs';
import { UploadsHandler } from './handlers/uploads.handler';
import { RegistryDispatcher } from './registry.dispatcher';

/**
 * The HTTP edge: the /v2 API (served by the RegistryDispatcher once installRegistryEdge has put it
 * in front of the framework) and the token service. It needs METADATA_API and BLOB_API from whoever
 * wires it: in-process services in the all-in-one shape, NATS/HTTP clients in the distributed one.
 */
@Module({
  controllers: [AuthController],
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
  ],
})
export class GatewayModule {
  /**
   * Without register(), or with mode none, access control is off. `redirectBlobs` lets blob GETs
   * answer 307 to the store when the blob service hands out URLs (off unless given).
   */
  static register(options: {
    auth?: AuthConfig;
    redirectBlobs?: boolean;
    /** WHARF_PROXY_CONFIG: mirrored upstreams; a bad file stops the start here. */
    proxyConfigFile?: string;
  }): DynamicModule {
    const proxy = options.proxyConfigFile ? loadProxyConfig(options.proxyConfigFile) : undefined;
    return {
      module: GatewayModule,
      providers: [
        { provide: AUTH_CONFIG, useValue: options.auth },
        { provide: REDIRECT_BLOBS, useValue: options.redirectBlobs ?? false },
        {
          provide: PULL_THROUGH,
          useFactory: (metadata: MetadataApi, blobs: BlobApi) =>
            proxy ? new PullThrough(proxy, metadata, blobs) : null,
          inject: [METADATA_API, BLOB_API],
        },
      ],
    };
  }
}
