import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { frameworkErrors, registerFallbackDispatch } from './http/framework-fallback';
import { RegistryDispatcher } from './registry.dispatcher';

/**
 * Request bodies are never parsed by the framework: blobs stream straight to storage and manifests
 * must keep their exact bytes. One catch-all parser leaves every body unread for the handlers.
 */
export function configureFastify(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
  // A /v2 URL Fastify cannot decode still gets the registry's answer (see framework-fallback.ts).
  const dispatcher = app.get(RegistryDispatcher);
  registerFallbackDispatch(fastify, (req, res) => dispatcher.dispatch(req, res));
}

export const FASTIFY_OPTIONS = {
  // Repository names with several path segments make long wildcard params.
  routerOptions: { maxParamLength: 4096 },
  // Large chunked uploads take a while; Node's own timeouts still bound idle sockets.
  requestTimeout: 0,
  bodyLimit: Number.MAX_SAFE_INTEGER,
  logger: false,
  frameworkErrors,
} as const;
