import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ArgumentsHost, Catch, Injectable } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { noSuchRoute } from '@wharf/oci';
import { RegistryDispatcher } from '../registry.dispatcher';

/**
 * Fastify and Nest turn some requests away before the /v2 controller runs: a Content-Type they
 * cannot parse (415), a method no route is registered for (404), a path with an undecodable
 * `%`-escape (400). Each answered outside the registry's error envelope, and with the wrong status
 * (a manifest PUT with a bad Content-Type is a 400 MANIFEST_INVALID, PROPFIND is a 405). The
 * dispatcher routes on the raw URL and reads the raw request, so such /v2 requests are simply
 * handed to it: it answers them as any other. Any other path that is not a route (`/`, `/v3/`,
 * `/%zz`) answers 404 UNSUPPORTED in the same envelope, from Nest's not-found handler.
 */
export function isRegistryPath(url: string | undefined): boolean {
  return /^\/v2(?:[/?#]|$)/.test(url ?? '');
}

type Dispatch = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** One dispatcher per Fastify instance, registered by configureFastify once the app exists. */
const dispatchers = new WeakMap<object, Dispatch>();

export function registerFallbackDispatch(fastify: object, dispatch: Dispatch): void {
  dispatchers.set(fastify, dispatch);
}

/** Hands the request to the dispatcher; false when it is not the registry's to answer. */
function fallBack(request: FastifyRequest, reply: FastifyReply, dispatch: Dispatch | undefined): boolean {
  if (!dispatch || !isRegistryPath(request.raw.url) || reply.raw.headersSent) return false;
  reply.hijack();
  void dispatch(request.raw, reply.raw);
  return true;
}

/** Fastify's `frameworkErrors` option: errors raised before routing (an undecodable URL). */
export function frameworkErrors(
  error: Error & { statusCode?: number },
  request: FastifyRequest,
  reply: FastifyReply,
) {
  if (fallBack(request, reply, dispatchers.get(request.server))) return;
  // A URL that cannot be decoded names no route either.
  if ((error as { code?: string }).code === 'FST_ERR_BAD_URL') return answerNoSuchRoute(request, reply);
  reply.code(error.statusCode ?? 400).send(error);
}

function answerNoSuchRoute(request: FastifyRequest, reply: FastifyReply): void {
  const url = request.raw.url ?? '/';
  const q = url.indexOf('?');
  const err = noSuchRoute(request.raw.method ?? 'GET', q < 0 ? url : url.slice(0, q));
  void reply
    .code(err.status)
    .type('application/json')
    .send(JSON.stringify({ errors: err.errors }));
}

/**
 * Catches what Nest's not-found and error handlers would answer for a /v2 request, and Nest's
 * not-found answer for every other path (Fastify marks a request its 404 handler runs for).
 */
@Catch()
@Injectable()
export class RegistryFallbackFilter extends BaseExceptionFilter {
  constructor(private readonly dispatcher: RegistryDispatcher) {
    super();
  }

  override catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const dispatch = (req: IncomingMessage, res: ServerResponse) => this.dispatcher.dispatch(req, res);
    if (request?.raw && reply?.raw && fallBack(request, reply, dispatch)) return;
    if (request?.is404 && !reply.sent) return answerNoSuchRoute(request, reply);
    super.catch(exception, host);
  }
}
