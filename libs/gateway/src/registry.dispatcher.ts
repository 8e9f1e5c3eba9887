import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { RequestAccess } from '@wharf/auth';
import { setRouteLabel } from '@wharf/observability';
import { RegistryError, methodNotAllowed, noSuchRoute } from '@wharf/oci';
import { PULL_THROUGH, isUnknown, type PullThrough } from '@wharf/proxy';
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
    @Optional() @Inject(PULL_THROUGH) private readonly proxy: PullThrough | null = null,
  ) {}

  async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const x = new Exchange(req, res);
    try {
      const route = matchRoute(x.path);
      if (!route) throw noSuchRoute(x.method, x.path);
      setRouteLabel(req, route.kind);
      // A mirror's local name is known before the access check: the policy names local repositories.
      if (this.proxy) this.mirror(x, route);
      // Authentication and authorisation for every route happen here, before any handler runs.
      const access = await this.guard.check(x, route);
      if (!access) return;
      x.actor = access.actor;
      try {
        await this.route(x, route, access);
      } catch (e) {
        if (!(await this.fallBack(x, route, e))) throw e;
      }
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

  /** Names the mirror a request is for, with the local name in the route; refuses writes into one. */
  private mirror(x: Exchange, route: Route): void {
    if (!('name' in route) || !this.proxy) return;
    const ns = x.query.get('ns');
    const target = ns ? this.proxy.names.forNamespace(ns, route.name) : this.proxy.names.forLocal(route.name);
    if (!target) return;
    route.name = target.local;
    x.proxy = target;
  }

  /**
   * Docker's daemon-level mirror asks for `library/nginx` with no hint: what no local repository
   * has is served by the upstream marked `default`, under its prefix, with access checked again
   * for that name.
   */
  private async fallBack(x: Exchange, route: Route, e: unknown): Promise<boolean> {
    const fallback = this.proxy?.names.fallback;
    if (!fallback || x.proxy || x.res.headersSent || (x.method !== 'GET' && x.method !== 'HEAD'))
      return false;
    if (route.kind !== 'manifest' && route.kind !== 'blob') return false;
    const unknown = isUnknown(e) || (e instanceof RegistryError && e.errors[0]?.code === 'BLOB_UNKNOWN');
    const target = unknown ? this.proxy!.names.forUnprefixed(route.name) : undefined;
    if (!target) return false;
    const rerouted = { ...route, name: target.local };
    const access = await this.guard.check(x, rerouted);
    if (!access) return true;
    x.proxy = target;
    await this.route(x, rerouted, access);
    return true;
  }

  private route(x: Exchange, route: Route, access: RequestAccess): Promise<void> | void {
    if (x.proxy && writes(x, route)) {
      throw new RegistryError(
        'UNSUPPORTED',
        `${x.proxy.local} is a pull-through cache of ${x.proxy.upstream.url}: pushes and deletes are refused`,
        { repository: x.proxy.local },
      );
    }
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

/** What would change a mirrored repository; its content follows the upstream only. */
function writes(x: Exchange, route: Route): boolean {
  if (route.kind === 'uploads' || route.kind === 'upload') return true;
  if (route.kind === 'manifest' || route.kind === 'blob') return x.method !== 'GET' && x.method !== 'HEAD';
  return false;
}
