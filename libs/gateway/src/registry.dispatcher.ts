import type { IncomingMessage, ServerResponse } from 'node:http';
import { Injectable, Logger } from '@nestjs/common';
import type { RequestAccess } from '@wharf/auth';
import { setRouteLabel } from '@wharf/observability';
import { RegistryError, methodNotAllowed, noSuchRoute } from '@wharf/oci';
import { AccessGuard } from './auth/access-guard';
import { Exchange } from './http/exchange';
import { BlobsHandler } from './handlers/blobs.handler';
import { ListingsHandler } from './handlers/listings.handler';
import { ManifestsHandler } from './handlers/manifests.handler';
import { requireName } from './handlers/names';
import { UploadsHandler } from './handlers/uploads.handler';
import { matchRoute, type Route } from './router';

/**
 * Routes every request the edge does not give Nest (edge.ts) to its /v2 resource handler, and turns
 * every failure, a path that is no route included, into the spec's envelope.
 */
@Injectable()
export class RegistryDispatcher {
  private readonly log = new Logger('Registry');

  constructor(
    private readonly blobs: BlobsHandler,
    private readonly uploads: UploadsHandler,
    private readonly manifests: ManifestsHandler,
    private readonly listings: ListingsHandler,
    private readonly guard: AccessGuard,
  ) {}

  async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const x = new Exchange(req, res);
    try {
      const route = matchRoute(x.path);
      if (!route) throw noSuchRoute(x.method, x.path);
      setRouteLabel(req, route.kind);
      // Authentication and authorisation for every route happen here, before any handler runs.
      const access = await this.guard.check(x, route);
      if (!access) return;
      x.actor = access.actor;
      await this.route(x, route, access);
    } catch (e) {
      x.error(e, (err) =>
        this.log.error(`${x.method} ${x.path} failed: ${(err as Error)?.stack ?? String(err)}`),
      );
    }
  }

  /** A request that arrives while the server closes: 503, and the connection closes after it. */
  refuse(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('Connection', 'close');
    new Exchange(req, res).error(new RegistryError('UNAVAILABLE', 'shutting down'), () => undefined);
  }

  private route(x: Exchange, route: Route, access: RequestAccess): Promise<void> | void {
    switch (route.kind) {
      case 'base':
        if (x.method !== 'GET' && x.method !== 'HEAD') throw methodNotAllowed(x.method);
        return x.json(200, {});
      case 'catalog':
        return this.listings.catalog(x, access);
      case 'tags':
        return this.listings.tags(x, requireName(route.name));
      case 'manifest':
        return this.manifests.handle(x, requireName(route.name), route.reference);
      case 'blob':
        return this.blobs.handle(x, requireName(route.name), route.digest);
      case 'uploads':
        return this.uploads.start(x, requireName(route.name), access);
      case 'upload':
        return this.uploads.handle(x, requireName(route.name), route.id);
      case 'referrers':
        return this.listings.referrers(x, requireName(route.name), route.digest);
    }
  }
}
