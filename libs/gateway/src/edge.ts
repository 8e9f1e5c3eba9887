import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { RegistryDispatcher } from './registry.dispatcher';

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Options of the Fastify instance under Nest. It creates the server and serves the few service
 * routes beside the API; no registry request reaches it, so it needs no parsing or routing options.
 */
export const FASTIFY_OPTIONS = {
  // Applies to the whole server: large chunked uploads take a while; Node's own timeouts still
  // bound idle sockets.
  requestTimeout: 0,
  logger: false,
} as const;

/**
 * The gateway's port belongs to the registry. Nest keeps dependency injection, the lifecycle and the
 * service routes its controllers declare (/healthz, /readyz, /auth/*): a request goes to Fastify
 * only when one of those takes its method and path. Every other request, the whole /v2 API and any
 * path that is no route at all, goes to the RegistryDispatcher over Node's request and response as
 * Node parsed them, so no framework turns a registry request away first (a content type it cannot
 * parse, a method it does not know, a URL it cannot decode). See docs/adr/0017-registry-edge.md.
 *
 * Call once the app is created and before the server listens (and before `observe`, which then
 * counts every request of both kinds).
 */
export function installRegistryEdge(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  // The token endpoint reads its own form body; Fastify would refuse a type it has no parser for.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
  const serviceRoutes = new ServiceRoutes();
  fastify.addHook('onRoute', (route) => serviceRoutes.add(route.method, route.url));

  const server = app.getHttpServer() as Server;
  const framework = server.listeners('request') as Listener[];
  server.removeAllListeners('request');
  const dispatcher = app.get(RegistryDispatcher);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (serviceRoutes.has(req.method, req.url)) {
      for (const listener of framework) listener.call(server, req, res);
    } else if (!server.listening) {
      // Closing: as Fastify does for its routes, a request that still arrives on a kept-alive
      // connection is refused, and the connection closes, rather than served during the drain.
      dispatcher.refuse(req, res);
    } else {
      void dispatcher.dispatch(req, res);
    }
  });
}

/** The methods and paths of the routes Nest registers with Fastify, matched as Fastify would. */
class ServiceRoutes {
  private readonly byPath = new Map<string, Set<string>>();

  add(method: string | string[], url: string): void {
    // A parametric route would need Fastify's router to match it; the service routes have none.
    if (/[:*]/.test(url)) throw new Error(`the gateway's service routes have fixed paths, not ${url}`);
    const methods = this.byPath.get(url) ?? new Set<string>();
    for (const m of Array.isArray(method) ? method : [method]) methods.add(m);
    this.byPath.set(url, methods);
  }

  has(method: string | undefined, url: string | undefined): boolean {
    const path = pathOf(url ?? '/');
    return path !== undefined && (this.byPath.get(path)?.has(method ?? '') ?? false);
  }
}

/**
 * The path as Fastify's router sees it: without query or fragment, escapes decoded except those of
 * reserved characters (`decodeURI`). Undefined for an escape that does not decode.
 */
function pathOf(url: string): string | undefined {
  const end = url.search(/[?#]/);
  const path = end < 0 ? url : url.slice(0, end);
  if (!path.includes('%')) return path;
  try {
    return decodeURI(path);
  } catch {
    return undefined;
  }
}
